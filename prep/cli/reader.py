"""`prep reader DATASET -o FILE`: writes the dataset's input function as a standalone Python module."""

from __future__ import annotations

import click


@click.command()
@click.argument("dataset")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The module to write, e.g. flowers_input.py (replaced if it exists).")
@click.option("--data-dir", metavar="DIR",
              help="Where the module reads the dataset by default, e.g. its gs:// copy (default: DATASET).")
@click.option("--version", "version", type=click.IntRange(min=1), metavar="N",
              help="Read version N of a dataset that grows (default: its current version).")
def reader(dataset, output, data_dir, version):
    """Write make_input_fn and FEATURE_SPEC for DATASET as a module that imports only TensorFlow.

    The module yields the same batches as readers.make_input_fn and works where prep is not installed.
    """
    from prep.jobs.terminal import quiet_tensorflow

    quiet_tensorflow()  # readers.codegen imports it: its start-up lines are not the user's business
    from readers.codegen import CodegenError, write_module

    try:
        data_dir = write_module(dataset.rstrip("/"), output, data_dir, version)
    except CodegenError as e:
        raise click.ClickException(f"{dataset}: {e}") from None
    except OSError as e:
        raise click.ClickException(f"cannot write {output}: {e.strerror or e}") from None
    click.echo(f"wrote {output}: make_input_fn(split, batch_size, ...) reading {data_dir} by default")


COMMANDS = (reader,)  # what prep.cli.main adds to `prep`
