"""`prep inspect` and `prep verify`: look into a dataset, prove it is whole."""

from __future__ import annotations

import contextlib
import sys

import click

from prep.core.wording import plural


@click.command()
@click.argument("dataset")
@click.option("--samples", type=click.IntRange(min=0), default=3, show_default=True, help="Records to show.")
@click.option("--sheet", metavar="FILE.png",
              help="Also write a contact sheet: a grid of sample images per class, decoded from the shards.")
@click.option("--per-class", type=click.IntRange(min=1, max=100), default=8, show_default=True,
              help="Samples per class on the contact sheet (the first in shard order).")
def inspect(dataset, samples, sheet, per_class):
    """Show a dataset: schema, splits, classes, image or text stats, rejected inputs, sample records."""
    from prep.inspection.inspect_dataset import describe
    from prep.jobs.terminal import quiet_tensorflow

    quiet_tensorflow()

    made = None
    if sheet:
        from prep.inspection.contact_sheet import SheetError, make_sheet, write_file

        try:
            made = make_sheet(dataset.rstrip("/"), per_class)
        except SheetError as e:
            raise click.BadParameter(str(e), param_hint="--sheet") from None
        try:
            write_file(sheet, made.png)
        except OSError as e:
            raise click.ClickException(f"cannot write {sheet}: {e.strerror or e}") from None
    for line in describe(dataset.rstrip("/"), samples=samples):
        click.echo(line)
    if made:
        click.echo(f"\nwrote contact sheet {sheet}: {made.holds}, "
                   f"{made.size[0]:,}x{made.size[1]:,} px ({made.records_read:,} records read)")


@click.command()
@click.argument("dataset")
@click.option("--no-parse", is_flag=True, help="Check framing, CRCs and counts only, not that records parse.")
@click.option("--write-indexes", is_flag=True,
              help="Give each uncompressed shard without a record index one (datasets written before prep wrote "
                   "them, foreign shards) and list them in schema.json, so readers slice records out of the shards.")
def verify(dataset, no_parse, write_indexes):
    """Read every shard end to end: CRCs, record counts against schema.json, every record parses.

    Exits non-zero naming each bad file.
    """
    from prep.inspection.verify import verify_dataset
    from prep.jobs.display import Display, display_mode
    from prep.jobs.hold import hold_output
    from prep.jobs.progress import RECORDS_CHECKED, SHARDS_CHECKED, STAGES, Counts
    from prep.jobs.terminal import quiet_tensorflow
    from prep.text.tokenizer_files import tokenizer_findings
    from schemas import load_schema

    quiet_tensorflow()
    root = dataset.rstrip("/")
    shards = [shard for split in load_schema(root).splits for shard in split.shards]
    display = Display(STAGES["verify"], sys.stdout, display_mode(sys.stdout))
    done = {SHARDS_CHECKED: 0, RECORDS_CHECKED: 0}
    totals = {SHARDS_CHECKED: len(shards)}

    def report(finding):
        """Each file's line (on a terminal only the bad ones: the live line counts the rest), and the counts."""
        if finding.problem:
            display.say(f"BAD  {finding.file}: {finding.problem}")
        elif not display.live:
            display.say(f"ok   {finding.file}: {plural(finding.records, finding.unit[:-1])}")
        if finding.unit == "records":
            done[SHARDS_CHECKED] += 1
            done[RECORDS_CHECKED] += finding.records or 0
            display.update(Counts(dict(done), totals))

    # --write-indexes writes into the dataset: it holds it as a job writing one does (prep.jobs.hold)
    try:
        with hold_output(root, "prep verify --write-indexes", create=False) if write_indexes else contextlib.nullcontext():
            schema, findings = verify_dataset(root, parse=not no_parse, progress=report, write_indexes=write_indexes,
                                              checks=(tokenizer_findings,))
    finally:
        display.close()
    bad = [f for f in findings if f.problem]
    if bad:
        unlisted = " (no record index was listed in schema.json)" if write_indexes else ""
        raise click.ClickException(f"{len(bad)} of {len(findings)} files are bad: {', '.join(f.file for f in bad)}"
                                   + unlisted)
    records = sum(f.records or 0 for f in findings if f.unit == "records")
    click.echo(f"verified {records:,} records in {sum(len(s.shards) for s in schema.splits)} shards")
    if write_indexes:
        added = sum(1 for f in findings if f.index_written)
        click.echo(f"wrote {added:,} record indexes, listed in schema.json" if added else
                   "every uncompressed shard has its record index already (compressed shards take none)")


COMMANDS = (inspect, verify,)  # what prep.cli.main adds to `prep`
