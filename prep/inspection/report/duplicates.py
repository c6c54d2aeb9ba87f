"""The duplicates section: the copies stats.json lists, exact groups across splits (leakage) first, then
within a split, then groups of near copies in the same order, each with its images when they are cheap to find. The job put each record in a shard
chosen by a hash of its path, so an image is looked for only in the shard it can be in."""

from __future__ import annotations

import re
from typing import Iterable, Iterator, Mapping, Sequence

from prep.core.duplicates import leaks
from prep.core.wording import plural
from prep.inspection import contact_sheet as sheets
from prep.inspection.contact_sheet import SampledImage
from prep.inspection.report import charts
from prep.inspection.report.markup import Section, chart_figure, escape, html_table, number, split_badges, tile
from prep.inspection.report.options import ReportOptions
from schemas import DatasetSchema

_SHARD_NAME = re.compile(r"-(\d{5})-of-(\d{5})\.tfrecord")


def duplicates_section(schema: DatasetSchema, stats: Mapping, images: Mapping[str, SampledImage] | None,
                       options: ReportOptions) -> Section | None:
    dup = stats.get("duplicates")
    if not dup:
        return None
    exact, near = dup.get("exact") or {}, dup.get("near") or {}
    section = Section("duplicates", "Duplicates")
    counts = {
        "groups across splits (leakage)": exact.get("groups_across_splits", 0),
        "groups within a split": exact.get("groups_within_a_split", 0),
        "extra copies": exact.get("extra_copies", 0),
        **({"near groups across splits (leakage)": near.get("groups_across_splits", 0),
            "near groups within a split": near.get("groups_within_a_split", 0)} if "near" in dup else {}),  # text: not looked for
        "dropped by --dedupe": exact.get("dropped_by_dedupe", 0),
        **({"dropped by --dedupe-near": near.get("dropped_by_dedupe_near", 0)} if "near" in dup else {}),
    }
    found = leaks(dup)
    highlight = [name for name, kind in (("groups across splits (leakage)", "exact"),
                                         ("near groups across splits (leakage)", "near"))
                 if kind in found and found[kind].left]
    section.add(chart_figure(charts.counts_bars(counts, "duplicates found during conversion", "count", highlight=highlight)))
    examples = exact.get("examples") or []
    across, within = across_and_within(examples)
    kind = "documents" if schema.kind == "text" else "images"

    def group_rows(groups: list[dict]) -> Iterator[list[str]]:
        for g in groups[:options.duplicate_examples]:
            paths, splits = g.get("paths") or [], g.get("splits") or []
            pictures = "".join(tile(images.get(p), [p.rsplit('/', 1)[-1], s], p)
                               for p, s in zip(paths, splits)) if images is not None else ""
            listing = "<br>".join(f"<code>{escape(p)}</code> {split_badges([s])}" for p, s in zip(paths, splits))
            yield ([f'<div class="tiles">{pictures}</div>'] if images is not None else []) + [listing]

    head = (["images"] if images is not None else []) + ["copies"]
    if across and found["exact"].dropped:
        section.add(f'<h3>Across splits: {plural(found["exact"].across, "group")} (dropped by --dedupe)</h3><p>The same '
                    f'{kind[:-1]} was in more than one split; the dataset keeps one copy of each (train first).</p>'
                    f'{html_table(head, group_rows(across), "dups")}')
    elif across:
        section.add(f'<div class="leak"><h3>Across splits: {plural(exact.get("groups_across_splits", len(across)), "group")}'
                    f' (leakage)</h3><p>The same {kind[:-1]} in more than one split: the model is tested on what it '
                    f'trained on.</p>{html_table(head, group_rows(across), "dups")}</div>')
    elif exact:
        section.add("<h3>Across splits: none</h3><p>No identical copies span splits.</p>")
    if within:
        section.add(f'<h3>Within a split: {plural(exact.get("groups_within_a_split", len(within)), "group")}</h3>'
                    + html_table(head, group_rows(within), "dups"))
    near_across, near_within = across_and_within(near.get("examples") or [])
    bits = near.get("threshold_bits", "?")
    what = (f"<p>Different files whose perceptual hashes (a 64-bit pHash: the 8\u00d78 lowest frequencies of the "
            f"picture's cosine transform) differ in at most {escape(bits)} bits and whose small colour pictures are "
            f"alike, joined into groups (each image is a near copy of another in its group): the same picture "
            f"re-encoded, recompressed, resized, cropped a little or made brighter or darker.</p>")
    near_head = head + ["largest distance (bits)"]

    def near_rows(groups: list[dict]) -> Iterator[list[str]]:
        for row, g in zip(group_rows(groups), groups):
            yield row + [number(g.get("max_differing_bits"))]

    if near_across and found["near"].dropped:
        section.add(f'<h3>Near copies across splits: {plural(found["near"].across, "group")} (dropped by --dedupe-near)'
                    f'</h3><p>The same picture, re-saved or resized, was in more than one split; the dataset keeps each '
                    f'group\'s copies in its first split (train first).</p>{what}'
                    f'{html_table(near_head, near_rows(near_across), "dups")}')
    elif near_across:
        section.add(f'<div class="leak"><h3>Near copies across splits: '
                    f'{plural(near.get("groups_across_splits", len(near_across)), "group")} (leakage)</h3>'
                    f'<p>The same picture, re-saved or resized, in more than one split: the commonest leak of all '
                    f'(prep images --dedupe-near drops the copies outside the training split).</p>{what}'
                    f'{html_table(near_head, near_rows(near_across), "dups")}</div>')
    elif near:
        section.add("<h3>Near copies across splits: none</h3><p>No near copies span splits.</p>")
    if near_within:
        section.add(f"<h3>Near copies within a split: {plural(near.get('groups_within_a_split', len(near_within)), 'group')}"
                    "</h3>" + (what if not near_across else "")
                    + html_table(near_head, near_rows(near_within), "dups"))
    shown = min(len(across), options.duplicate_examples) + min(len(within), options.duplicate_examples)
    total = exact.get("groups", len(examples))
    if total > shown:
        section.add(f"<p class='note'>{shown:,} of {total:,} groups shown; stats.json lists the first "
                    f"{len(examples):,}, groups across splits first.</p>")
    if images is not None:
        section.add("<p class='note'>Images are read from the shards the job put them in; one shown as "
                    "\u201cnot read\u201d sits in a shard beyond the report's reading budget.</p>")
    return section


def across_and_within(groups: list[dict]) -> tuple[list[dict], list[dict]]:
    """stats.json's example groups (exact or near) that span splits, and those within one split."""
    across = [g for g in groups if len(set(g.get("splits") or [])) > 1]
    return across, [g for g in groups if len(set(g.get("splits") or [])) <= 1]


def duplicate_paths(stats: Mapping, limit: int) -> tuple[list[str], dict[str, list[str]]]:
    """The image paths the duplicates section shows (exact groups, then near ones), and the split of
    each where stats.json says."""
    dup = stats.get("duplicates") or {}
    paths: list[str] = []
    splits: dict[str, list[str]] = {}
    for kind in ("exact", "near"):
        across, within = across_and_within((dup.get(kind) or {}).get("examples") or [])
        for g in across[:limit] + within[:limit]:
            for p, s in zip(g.get("paths") or [], g.get("splits") or []):
                paths.append(p)
                splits.setdefault(p, []).append(s)
    return list(dict.fromkeys(paths)), splits


def _split_of_shards(schema: DatasetSchema) -> dict[str, list[tuple[int, int, str]]]:
    """Per split, (index, count, file) of each shard whose name says its place (<split>-NNNNN-of-NNNNN)."""
    out: dict[str, list[tuple[int, int, str]]] = {}
    for split in schema.splits:
        for shard in split.shards:
            match = _SHARD_NAME.search(shard.file)
            if match:
                out.setdefault(split.name, []).append((int(match.group(1)), int(match.group(2)), shard.file))
    return out


def find_images(root: str, schema: DatasetSchema, paths: Iterable[str], max_bytes: int,
                splits_of: Mapping[str, Sequence[str]] | None = None) -> dict[str, SampledImage]:
    """The records of `paths` (image file names), reading shards of at most `max_bytes` in all (at
    least one shard).

    The job puts a record in shard `prep.core.sharding.shard_index(path, shards)` of its split, so each
    path has one candidate shard per split (or per split in `splits_of[path]`, when known); the
    shards holding the most wanted paths are read first, each only until its paths are found."""
    from prep.core.sharding import shard_index

    keys = sheets.ImageKeys.of(schema)
    names = sheets.label_names(root, schema)
    layout = _split_of_shards(schema)
    sizes = {shard.file: shard.num_bytes or 0 for split in schema.splits for shard in split.shards}
    candidates: dict[tuple[str, str], set[str]] = {}
    for path in paths:
        for split in (splits_of or {}).get(path) or layout:
            shards = layout.get(split) or []
            for index, total, file in shards:
                if index == shard_index(path, total):
                    candidates.setdefault((split, file), set()).add(path)
    found: dict[str, SampledImage] = {}
    order = sorted(candidates, key=lambda k: (-len(candidates[k]), k))
    spent = 0
    for split, file in order:
        missing = candidates[(split, file)] - found.keys()
        if not missing:
            continue
        if spent and spent + sizes.get(file, 0) > max_bytes:
            continue
        spent += sizes.get(file, 0)
        needles = [path.encode("utf-8", "surrogateescape") for path in missing]
        records = sheets.scan_records(root, schema, [(split, file)],
                                      prefilter=lambda data: any(n in data for n in needles))
        try:
            for record in records:
                image = sheets.sampled_image(record, keys, names)
                if image.filename in missing:
                    found[image.filename] = image
                    missing.discard(image.filename)
                    if not missing:
                        break
        finally:
            records.close()
    return found
