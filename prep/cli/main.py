"""The `prep` command line: parses flags into job options, runs the job, reports. Nothing else.

A user's mistake is one line on stderr and exit code 2; a failed job is one line and exit code 1.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from prep.cli.errors import USER_ERRORS
from prep.jobs.launch import Interrupted, JobFailed


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="tfrecord-prep", prog_name="prep")
def cli() -> None:
    """Raw image folders and text corpora to sharded TFRecords, with schemas and generated readers."""


def _register() -> None:
    """Adds every command to `cli`: the one place that knows them all (no command module imports this one)."""
    from prep.cli import dataset, images, reader, report, schema, text, versions

    for module in (dataset, images, reader, report, schema, text, versions):
        for command in module.COMMANDS:
            cli.add_command(command)


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
    except Interrupted as e:
        click.echo(f"{prog}: {e}", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
