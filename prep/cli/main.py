"""The `prep` command line: parses flags into job options, runs the job, reports. Nothing else.

A user's mistake is one line on stderr and exit code 2; a failed job is one line and exit code 1.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys

import click

from prep.errors import USER_ERRORS
from prep.launch import JobFailed


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="tfrecord-prep", prog_name="prep")
def cli() -> None:
    """Raw image folders and text corpora to sharded TFRecords, with schemas and generated readers."""


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def _register() -> None:
    from prep import cli_images, cli_dataset, cli_reader, cli_report, cli_schema, cli_text  # noqa: F401  (each module adds its commands to `cli`)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `prep` console script."""
    # Beam warns about optional Google Cloud clients when imported without them, and TensorFlow about
    # CPU instructions: not the user's business.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _register()
    args = sys.argv[1:] if argv is None else argv
    prog = "prep" + (f" {args[0]}" if args and not args[0].startswith("-") else "")
    try:
        cli.main(args=args, prog_name="prep", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        click.echo(f"{prog}: aborted", err=True)
        return 1
    except click.UsageError as e:
        click.echo(f"{prog}: error: {e.format_message()} (see '{prog} --help')", err=True)
        return 2
    except click.ClickException as e:
        click.echo(f"{prog}: error: {e.format_message()}", err=True)
        return e.exit_code
    except USER_ERRORS as e:
        click.echo(f"{prog}: error: {e}", err=True)
        return 2
    except JobFailed as e:
        click.echo(f"{prog}: the job failed: {e}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
