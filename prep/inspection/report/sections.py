"""The sections every kind of dataset gets: records per class and split, rejected inputs (with the first
rows of rejected.jsonl for each reason), records per shard, and the features of schema.json."""

from __future__ import annotations

import io
import json
import math
from typing import Mapping

from prep.core.failures import CONVERSION_ERROR, REPORT_HINT
from prep.core.wording import byte_size
from prep.inspection.report import charts
from prep.inspection.report.markup import Section, chart_figure, escape, html_table, number
from prep.inspection.report.options import ReportOptions
from schemas import DatasetSchema


def class_balance_section(schema: DatasetSchema, stats: Mapping, names: list[str] | None, unit: str,
                          key: str = "classes") -> Section | None:
    """Each class's `unit` per split, from stats.json's per-split counts under `key` (a segmentation
    dataset's: its pixels)."""
    splits = stats.get("splits") or {}
    order = [s for s in schema.split_names if s in splits] + [s for s in splits if s not in schema.split_names]
    classes = list(names or [])
    for split in order:
        classes += [c for c in (splits[split].get(key) or {}) if c not in classes]
    if not classes:
        return None
    series = {s: [(splits[s].get(key) or {}).get(c, 0) for c in classes] for s in order}
    section = Section("classes", f"{unit.capitalize()} per class and split")
    section.add(chart_figure(charts.stacked_bars(classes, series, f"{unit} per class, stacked by split", unit)))
    head = ["class"] + [escape(s) for s in order] + ["total"]
    rows = [[escape(c)] + [number(series[s][i]) for s in order] + [number(sum(series[s][i] for s in order))]
            for i, c in enumerate(classes)]
    section.add(f"<details><summary>as a table</summary>{html_table(head, rows, 'numbers')}</details>")
    return section


def rejected_by_reason(root: str, limit: int, expected: Mapping[str, int] | None = None
                       ) -> dict[str, list[dict]]:
    """The first `limit` rows of rejected.jsonl for each reason, read only until every reason in
    `expected` (stats.json's counts) has them."""
    from apache_beam.io.filesystems import FileSystems

    path = FileSystems.join(root, "rejected.jsonl")
    rows: dict[str, list[dict]] = {}
    if not FileSystems.exists(path):
        return rows
    wanted = {reason: min(limit, n) for reason, n in (expected or {}).items()}
    with FileSystems.open(path, compression_type="uncompressed") as f:
        for line in io.TextIOWrapper(f, encoding="utf-8", errors="replace"):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            kept = rows.setdefault(str(row.get("reason", "?")), [])
            if len(kept) < limit:
                kept.append(row)
            if expected and all(len(rows.get(r, ())) >= n for r, n in wanted.items()):
                break
    return rows


def rejected_section(root: str, stats: Mapping, options: ReportOptions) -> Section:
    section = Section("rejected", "Rejected inputs")
    by_reason = stats.get("rejected_by_reason") or {}
    inputs, records, rejected = stats.get("inputs"), stats.get("records"), stats.get("rejected", 0)
    if inputs is not None:
        section.add(f"<p>{number(inputs)} inputs = {number(records)} records + {number(rejected)} rejected. "
                    f"Every input left out is in <code>rejected.jsonl</code> with its reason.</p>")
    if not rejected:
        return section.add("<p>No input was rejected.</p>")
    section.add(chart_figure(charts.counts_bars(dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
                                          "rejected inputs by reason", "inputs", highlight=list(by_reason))))
    rows = rejected_by_reason(root, options.rejected_paths, by_reason)
    # conversion errors first: they may be bugs worth reporting, not problems of the data
    for reason, n in sorted(by_reason.items(), key=lambda kv: (kv[0] != CONVERSION_ERROR, -kv[1])):
        listed = rows.get(reason, [])
        more = f" (the first {len(listed):,} listed)" if len(listed) < n else ""
        table = html_table(["path", "why"], ([f"<code>{escape(r.get('path', '?'))}</code>", escape(r.get("detail", ""))]
                                           for r in listed))
        hint = f" <small>({escape(REPORT_HINT)})</small>" if reason == CONVERSION_ERROR else ""
        section.add(f"<h3>{escape(reason)}: {number(n)}{more}{hint}</h3>{table}")
    return section


def shards_section(schema: DatasetSchema) -> Section:
    section = Section("shards", "Records per shard")
    counts = {s.name: [sh.num_records for sh in s.shards] for s in schema.splits}
    known = {k: v for k, v in counts.items() if v and None not in v}
    if known:
        section.add(chart_figure(charts.shard_bars(known, "records per shard (red: empty, or far off the mean)"),
                           "From schema.json. Even shards keep every reader of a split busy."))
    rows = []
    for s in schema.splits:
        sizes = [sh.num_bytes for sh in s.shards if sh.num_bytes is not None]
        rows.append([escape(s.name), number(len(s.shards)), number(s.num_records), byte_size(s.num_bytes),
                     byte_size(min(sizes)) + " \u2013 " + byte_size(max(sizes)) if sizes else "?"])
    section.add(html_table(["split", "shards", "records", "bytes", "bytes per shard"], rows, "numbers"))
    section.add(f"<p>Compression: {escape(schema.compression)}.</p>")
    return section


def _values_per_record(feature) -> tuple[int | None, int | None]:
    if feature.value_count is not None:
        return feature.value_count[0], feature.value_count[1]
    if feature.shape is not None:
        return (math.prod(feature.shape),) * 2
    return None, None


def features_section(schema: DatasetSchema) -> Section:
    section = Section("features", "Features")
    ranges = []
    rows = []
    for f in schema.features:
        lo, hi = _values_per_record(f)
        presence = f.presence if f.presence is not None else (1.0 if f.shape is not None and f.default is None else None)
        ranges.append((f.name, lo, hi, presence))
        shape = "variable" if f.shape is None else str(list(f.shape))
        extra = f.image and f"{f.image.format}, {f.image.channels} channels" or (f.vocabulary and f"vocabulary {f.vocabulary}") or ""
        rows.append([f"<code>{escape(f.name)}</code>", escape(f.dtype), escape(shape), escape(f.encoding), escape(extra),
                     "?" if presence is None else f"{presence:.0%}", escape(f.description)])
    section.add(chart_figure(charts.value_ranges(ranges, "values per record of each feature (from schema.json)"),
                       "A fixed shape has one count; a variable-length feature shows its (min\u2013max) range when "
                       "the schema records it. Presence: share of records with the key (required keys: 100%)."))
    section.add(html_table(["key", "dtype", "shape", "encoding", "", "present", "description"], rows))
    return section
