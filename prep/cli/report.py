"""`prep report DATASET -o page.html`: one self-contained HTML page about a dataset, to read before training."""

from __future__ import annotations

import click


@click.command()
@click.argument("dataset")
@click.option("-o", "--output", required=True, metavar="FILE.html", help="The page to write (replaced if it exists).")
@click.option("--per-class", type=click.IntRange(min=1, max=100), default=8, show_default=True,
              help="Sample images per class (the first in shard order).")
def report(dataset, output, per_class):
    """Write an HTML report of DATASET: samples, class balance, sizes, formats, rejected inputs, duplicates
    (leakage across splits first), shards and features.

    Every chart and image is inline: the page opens with no network. Reads stats.json and only the
    records it shows. Needs the report extra: pip install 'tfrecord-prep[report]'.
    """
    from prep.core.wording import byte_size
    from prep.inspection.contact_sheet import write_file
    from prep.inspection.report.charts import MissingExtraError
    from prep.inspection.report.options import ReportOptions
    from prep.inspection.report.page import build_report

    try:
        page = build_report(dataset.rstrip("/"), ReportOptions(per_class=per_class))
    except MissingExtraError as e:
        raise click.ClickException(str(e)) from None
    try:
        write_file(output, page.encode("utf-8"))
    except OSError as e:
        raise click.ClickException(f"cannot write {output}: {e.strerror or e}") from None
    click.echo(f"wrote {output} ({byte_size(len(page.encode('utf-8')))}): open it in a browser")


COMMANDS = (report,)  # what prep.cli.main adds to `prep`
