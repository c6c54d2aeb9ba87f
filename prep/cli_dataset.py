"""`prep inspect` and `prep verify`: look into a dataset, prove it is whole."""

from __future__ import annotations

import click

from prep.cli import cli


@cli.command()
@click.argument("dataset")
@click.option("--samples", type=click.IntRange(min=0), default=3, show_default=True, help="Records to show.")
def inspect(dataset, samples):
    """Show a dataset: schema, splits, classes, image or text stats, rejected inputs, sample records."""
    from prep.inspect_dataset import describe

    for line in describe(dataset.rstrip("/"), samples=samples):
        click.echo(line)


@cli.command()
@click.argument("dataset")
@click.option("--no-parse", is_flag=True, help="Check framing, CRCs and counts only, not that records parse.")
def verify(dataset, no_parse):
    """Read every shard end to end: CRCs, record counts against schema.json, every record parses.

    Exits non-zero naming each bad file.
    """
    from prep.verify import verify_dataset

    def report(finding):
        if finding.problem:
            click.echo(f"BAD  {finding.file}: {finding.problem}")
        else:
            click.echo(f"ok   {finding.file}: {finding.records:,} {finding.unit}")

    schema, findings = verify_dataset(dataset.rstrip("/"), parse=not no_parse, progress=report)
    bad = [f for f in findings if f.problem]
    if bad:
        raise click.ClickException(f"{len(bad)} of {len(findings)} files are bad: {', '.join(f.file for f in bad)}")
    click.echo(f"verified {schema.num_records:,} records in {sum(len(s.shards) for s in schema.splits)} shards")
