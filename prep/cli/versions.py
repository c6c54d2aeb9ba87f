"""`prep diff` and `prep versions`: how the versions of a dataset that grows differ, and keeping them."""

from __future__ import annotations

import json

import click

from prep.core.splits import split_rank
from prep.core.wording import plural


def _split_line(split: str, records: dict, changes: dict) -> str:
    parts = [f"{sum(changes.get(kind, {}).values()):,} {kind}" for kind in ("added", "replaced", "removed")
             if changes.get(kind)]
    return f"  {split}: {records['old']:,} -> {records['new']:,} records" + (f" ({', '.join(parts)})" if parts else "")


def diff_lines(found: dict) -> list[str]:
    """`prep diff`'s report, for people."""
    a, b = found["from"], found["to"]
    same = a["dataset"] == b["dataset"]
    title = (f"{b['dataset']}: version {a['version']} -> {b['version']}" if same else
             f"{a['dataset']} (version {a['version']}) -> {b['dataset']} (version {b['version']})")
    records, drift = found["records"], found["drift"]
    lines = [title, f"records: {drift['records']['old']:,} -> {drift['records']['new']:,}: "
             f"{records['added']:,} added, {records['replaced']:,} replaced, {records['removed']:,} removed, "
             f"{records['unchanged']:,} unchanged"]
    for split in sorted(drift["splits"], key=split_rank):
        lines.append(_split_line(split, drift["splits"][split]["records"], records["by_split"].get(split, {})))
    classes = drift.get("classes")
    if classes:
        if classes["appeared"]:
            lines.append(f"classes appeared: {', '.join(classes['appeared'])}")
        if classes["vanished"]:
            lines.append(f"classes vanished (no record left): {', '.join(classes['vanished'])}")
        per_split = ", ".join(f"{split} {drift['splits'][split]['classes']['linf']}"
                              for split in sorted(drift["splits"], key=split_rank) if drift["splits"][split].get("classes"))
        lines.append(f"class balance moved (L-infinity, 0 to 1): all splits {classes['linf']}"
                     + (f"; {per_split}" if per_split else ""))
    if drift["histograms"]:
        lines.append("histograms moved (Jensen-Shannon divergence, 0 to 1): " + ", ".join(
            f"{name.split('.', 1)[-1]} {h['js_divergence']}" for name, h in drift["histograms"].items()))
    rejected = drift["rejected"]
    if rejected["old"] or rejected["new"]:
        new_reasons = ", ".join(f"{reason} {n:,}" for reason, n in rejected["new_reasons"].items())
        lines.append(f"rejected inputs: {rejected['old']:,} -> {rejected['new']:,}"
                     + (f" (new reasons: {new_reasons})" if new_reasons else ""))
    vocabulary = found.get("vocabulary")
    if vocabulary and not vocabulary["same"]:
        a_vocab, b_vocab = vocabulary["from"], vocabulary["to"]
        lines.append(f"vocabulary: {a_vocab['file']} ({a_vocab['size']:,} tokens) -> {b_vocab['file']} "
                     f"({b_vocab['size']:,} tokens): {vocabulary['tokens_added']:,} tokens added, "
                     f"{vocabulary['tokens_removed']:,} removed, {vocabulary['ids_moved']:,} under other ids"
                     + ("; the token ids of the two do not compare" if vocabulary["ids_moved"] or vocabulary["tokens_removed"] else ""))
    for kind, leak in found["leakage"].items():
        if leak["new"] or leak["old"]:
            lines.append(f"leakage: {plural(leak['new'], 'group')} of {kind} copies span splits "
                         f"(was {leak['old'] if leak['old'] is not None else 'not measured'})")
    return lines


@click.command()
@click.argument("dataset")
@click.argument("other", required=False)
@click.option("--from", "from_version", type=click.IntRange(min=1), metavar="N",
              help="The version to compare from (default: the one before --to; with OTHER, DATASET's current one).")
@click.option("--to", "to_version", type=click.IntRange(min=1), metavar="N",
              help="The version to compare (default: the current one, of OTHER when given).")
@click.option("--max-class-drift", type=click.FloatRange(0, 1), metavar="X",
              help="Exit 1 when the class balance of a split, or of all, moved more than X (L-infinity distance).")
@click.option("--max-histogram-drift", type=click.FloatRange(0, 1), metavar="X",
              help="Exit 1 when a histogram (image sizes, bytes, tokens per document) moved more than X "
                   "(Jensen-Shannon divergence).")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def diff(dataset, other, from_version, to_version, max_class_drift, max_histogram_drift, as_json):
    """How a version of DATASET differs from another (by default: its current version from the one
    before), or OTHER from DATASET: records added, replaced and removed per split and class, and how
    its class balance and histograms drifted, as TFDV measures drift."""
    from prep.inspection.drift import over_thresholds
    from prep.inspection.versions import diff as compare

    a = dataset.rstrip("/")
    b = other.rstrip("/") if other else a
    try:
        found = compare(a, from_version, b, to_version)
    except ValueError as e:
        if type(e) is not ValueError:
            raise
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        for line in diff_lines(found):
            click.echo(line)
    over = over_thresholds(found["drift"], max_linf=max_class_drift, max_js=max_histogram_drift)
    if over:
        raise click.ClickException("drift over the thresholds: " + "; ".join(over))


@click.command()
@click.argument("dataset")
@click.option("--keep", type=click.IntRange(min=1), metavar="N",
              help="Remove every version but the newest N, and the shards only they use.")
def versions(dataset, keep):
    """List the versions DATASET keeps (prep images --update makes them); --keep N removes the older ones."""
    from prep.inspection.versions import remove_versions, versions_table
    from prep.jobs.hold import hold_output

    root = dataset.rstrip("/")
    if keep:
        with hold_output(root, "prep versions --keep", create=False):
            gone, files = remove_versions(root, keep)
        click.echo(f"removed {plural(len(gone), 'version')} ({', '.join(map(str, gone))}) and {plural(files, 'file')}"
                   if gone else f"{root} keeps {keep} or fewer versions: nothing removed")
    for row in versions_table(root):
        mark = "  (current)" if row["current"] else ""
        changes = row["changes"]
        changed = "" if changes is None else (f"; {changes['added']:,} added, {changes['replaced']:,} replaced, "
                                              f"{changes['removed']:,} removed")
        click.echo(f"version {row['version']}: {row['records']:,} records in {plural(row['shards'], 'shard')}, "
                   f"made {row['created']} from {row['source']}{changed}{mark}")


COMMANDS = (diff, versions)  # what prep.cli.main adds to `prep`
