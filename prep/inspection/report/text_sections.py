"""`prep report`: one self-contained HTML page about a dataset, to read before training on it.

Everything comes from what the job already wrote (schema.json, stats.json, rejected.jsonl, the
vocabularies) plus the few records the page shows: the samples of each class (see
`prep.inspection.contact_sheet`: the first in shard order), the images of the duplicates stats.json lists when
they are cheap to find, or a few documents of a text dataset. So a report of millions of records
reads a few hundred. Charts are inline SVG (matplotlib, the `report` extra), images inline data URIs;
the page loads nothing from anywhere, so it can be mailed or opened on a cluster with no network.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, Sequence

from prep.inspection import contact_sheet as sheets
from prep.inspection import report_charts as charts
from prep.inspection.contact_sheet import ImageSample, SampledImage
from schemas import DatasetSchema, Vocabulary, load_schema

if TYPE_CHECKING:
    from PIL import Image

THUMBNAIL = 128        # pixels: the side of the square each sample is fitted into
_SHARD_NAME = re.compile(r"-(\d{5})-of-(\d{5})\.tfrecord")


@dataclass(frozen=True)
class ReportOptions:
    """What a report shows and how much it may read."""

    per_class: int = sheets.PER_CLASS        # samples per class
    max_records: int = sheets.MAX_RECORDS    # records read at most for the samples
    rejected_paths: int = 20                 # paths listed per rejection reason
    duplicate_examples: int = 10             # groups (and near pairs) of each kind shown with their images
    extra_bytes: int = 128 * 2**20          # bytes of shards read beyond the samples' to find those images
    documents: int = 4                       # text: documents rendered back from their token ids, per split
    text_sample: int = 500                   # text: documents read per split when stats.json lacks a figure


@dataclass
class Section:
    id: str
    title: str
    body: list[str] = field(default_factory=list)

    def add(self, *parts: str) -> "Section":
        self.body.extend(parts)
        return self


@dataclass(frozen=True)
class Finding:
    """One line of the "what stands out" list at the top; `level` is "leak", "warn" or "ok"."""

    level: str
    text: str
    anchor: str = ""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _n(value) -> str:
    return "?" if value is None else f"{value:,}"


def _size(n: float | None) -> str:
    if n is None:
        return "?"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,.0f} B"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def _chart(svg: str, caption: str = "") -> str:
    note = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure class="chart">{svg}{note}</figure>'


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table; cells are HTML already (escape text with _e)."""
    header = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def image_data_uri(image: "Image.Image") -> str:
    """A Pillow image as a data: URI: PNG when that is small (drawings, digits), else JPEG (photos)."""
    png = io.BytesIO()
    image.save(png, "PNG")
    data, mime = png.getvalue(), "image/png"
    if len(data) > 12_000:
        jpeg = io.BytesIO()
        image.save(jpeg, "JPEG", quality=85)
        if len(jpeg.getvalue()) < len(data):
            data, mime = jpeg.getvalue(), "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _thumb(sample: SampledImage | None, caption_lines: Sequence[str], title: str = "") -> str:
    if sample is None:
        picture = '<div class="missing">not read</div>'
    else:
        image = sheets.thumbnail(sample.data, THUMBNAIL)
        picture = ('<div class="missing">undecodable</div>' if image is None else
                   f'<img src="{image_data_uri(image)}" width="{image.width}" height="{image.height}" alt="{_e(title)}">')
    caption = "".join(f"<span>{_e(line)}</span>" for line in caption_lines)
    return f'<figure class="tile" title="{_e(title)}"><div class="frame">{picture}</div><figcaption>{caption}</figcaption></figure>'


# ---- reading what the job wrote ------------------------------------------------------------------

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


# ---- findings at the top -------------------------------------------------------------------------

def findings(schema: DatasetSchema, stats: Mapping) -> list[Finding]:
    """What stands out, leakage first."""
    out: list[Finding] = []
    dup = stats.get("duplicates") or {}
    exact = dup.get("exact") or {}
    across = exact.get("groups_across_splits") or 0
    thing, job = ("documents", "text") if schema.kind == "text" else ("images", "images")
    if across:
        out.append(Finding("leak", (
            f"Leakage: {_plural(across, 'group')} of identical {thing} {'spans' if across == 1 else 'span'} splits. A test {thing[:-1]} the model "
            f"trained on inflates test accuracy; drop the copies (prep {job} --dedupe) or move them to one split."),
            "duplicates"))
    within = exact.get("groups_within_a_split") or 0
    if within:
        out.append(Finding("warn", f"{_plural(within, 'group')} of identical {thing} within a split "
                                   f"({_plural(exact.get('extra_copies', 0), 'extra copy', 'extra copies')} in all).",
                           "duplicates"))
    near = (dup.get("near") or {}).get("pairs") or 0
    if near:
        out.append(Finding("warn", f"{_plural(near, 'pair')} of near-duplicate {thing} (re-encoded, resized or "
                                   f"recompressed copies).", "duplicates"))
    rejected = stats.get("rejected") or 0
    if rejected:
        reasons = ", ".join(f"{r} {n:,}" for r, n in (stats.get("rejected_by_reason") or {}).items())
        out.append(Finding("warn", f"{_plural(rejected, 'input')} rejected ({reasons}).", "rejected"))
    totals = sheets.class_totals(stats)
    if totals:
        empty = [c for c, n in totals.items() if n == 0]
        if empty:
            out.append(Finding("warn", f"{_plural(len(empty), 'class', 'classes')} without records: "
                                       f"{', '.join(empty[:8])}{' ...' if len(empty) > 8 else ''}.", "classes"))
        counted = [n for n in totals.values() if n]
        if len(counted) > 1 and max(counted) >= 10 * min(counted):
            out.append(Finding("warn", f"Classes are imbalanced: the largest has {max(counted) / min(counted):,.0f} "
                                       f"times the records of the smallest.", "classes"))
    for split in schema.splits:
        counts = [s.num_records for s in split.shards]
        if len(counts) > 1 and None not in counts and sum(counts):
            mean = sum(counts) / len(counts)
            if any(charts.is_skewed(n, mean) for n in counts):
                out.append(Finding("warn", f"Split {split.name}: shards hold {min(counts):,} to {max(counts):,} "
                                           f"records (mean {mean:,.1f}); readers of small shards sit idle.", "shards"))
    if not out:
        checked = (["no duplicates"] if "duplicates" in stats else []) + (
            ["no rejected inputs"] if "rejected" in stats else []) + ["even shards"]
        out.append(Finding("ok", f"Nothing stands out: {', '.join(checked)}."))
    return out


def _findings_html(items: list[Finding]) -> str:
    rows = []
    for f in items:
        link = f' <a href="#{f.anchor}">details</a>' if f.anchor else ""
        rows.append(f'<li class="{f.level}">{_e(f.text)}{link}</li>')
    return f'<ul class="findings">{"".join(rows)}</ul>'


# ---- sections shared by every kind of dataset ----------------------------------------------------

def class_balance_section(schema: DatasetSchema, stats: Mapping, names: list[str] | None, unit: str) -> Section | None:
    splits = stats.get("splits") or {}
    order = [s for s in schema.split_names if s in splits] + [s for s in splits if s not in schema.split_names]
    classes = list(names or [])
    for split in order:
        classes += [c for c in (splits[split].get("classes") or {}) if c not in classes]
    if not classes:
        return None
    series = {s: [(splits[s].get("classes") or {}).get(c, 0) for c in classes] for s in order}
    section = Section("classes", f"{unit.capitalize()} per class and split")
    section.add(_chart(charts.stacked_bars(classes, series, f"{unit} per class, stacked by split", unit)))
    head = ["class"] + [_e(s) for s in order] + ["total"]
    rows = [[_e(c)] + [_n(series[s][i]) for s in order] + [_n(sum(series[s][i] for s in order))]
            for i, c in enumerate(classes)]
    section.add(f"<details><summary>as a table</summary>{_table(head, rows, 'numbers')}</details>")
    return section


def rejected_section(root: str, stats: Mapping, options: ReportOptions) -> Section:
    section = Section("rejected", "Rejected inputs")
    by_reason = stats.get("rejected_by_reason") or {}
    inputs, records, rejected = stats.get("inputs"), stats.get("records"), stats.get("rejected", 0)
    if inputs is not None:
        section.add(f"<p>{_n(inputs)} inputs = {_n(records)} records + {_n(rejected)} rejected. "
                    f"Every input left out is in <code>rejected.jsonl</code> with its reason.</p>")
    if not rejected:
        return section.add("<p>No input was rejected.</p>")
    section.add(_chart(charts.counts_bars(dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
                                          "rejected inputs by reason", "inputs", highlight=list(by_reason))))
    rows = rejected_by_reason(root, options.rejected_paths, by_reason)
    for reason, n in sorted(by_reason.items(), key=lambda kv: -kv[1]):
        listed = rows.get(reason, [])
        more = f" (the first {len(listed):,} listed)" if len(listed) < n else ""
        table = _table(["path", "why"], ([f"<code>{_e(r.get('path', '?'))}</code>", _e(r.get("detail", ""))]
                                           for r in listed))
        section.add(f"<h3>{_e(reason)}: {_n(n)}{more}</h3>{table}")
    return section


def shards_section(schema: DatasetSchema) -> Section:
    section = Section("shards", "Records per shard")
    counts = {s.name: [sh.num_records for sh in s.shards] for s in schema.splits}
    known = {k: v for k, v in counts.items() if v and None not in v}
    if known:
        section.add(_chart(charts.shard_bars(known, "records per shard (red: empty, or far off the mean)"),
                           "From schema.json. Even shards keep every reader of a split busy."))
    rows = []
    for s in schema.splits:
        sizes = [sh.num_bytes for sh in s.shards if sh.num_bytes is not None]
        rows.append([_e(s.name), _n(len(s.shards)), _n(s.num_records), _size(s.num_bytes),
                     _size(min(sizes)) + " \u2013 " + _size(max(sizes)) if sizes else "?"])
    section.add(_table(["split", "shards", "records", "bytes", "bytes per shard"], rows, "numbers"))
    section.add(f"<p>Compression: {_e(schema.compression)}.</p>")
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
        rows.append([f"<code>{_e(f.name)}</code>", _e(f.dtype), _e(shape), _e(f.encoding), _e(extra),
                     "?" if presence is None else f"{presence:.0%}", _e(f.description)])
    section.add(_chart(charts.value_ranges(ranges, "values per record of each feature (from schema.json)"),
                       "A fixed shape has one count; a variable-length feature shows its (min\u2013max) range when "
                       "the schema records it. Presence: share of records with the key (required keys: 100%)."))
    section.add(_table(["key", "dtype", "shape", "encoding", "", "present", "description"], rows))
    return section


def _split_badges(splits: Sequence[str]) -> str:
    return " ".join(f'<span class="badge">{_e(s)}</span>' for s in splits)


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
        **({"near-duplicate pairs": near.get("pairs", 0)} if "near" in dup else {}),  # text: not looked for
        "dropped by --dedupe": exact.get("dropped_by_dedupe", 0),
    }
    section.add(_chart(charts.counts_bars(counts, "duplicates found during conversion", "count",
                                          highlight=["groups across splits (leakage)"] if counts[
                                              "groups across splits (leakage)"] else ())))
    examples = exact.get("examples") or []
    across = [g for g in examples if len(set(g.get("splits") or [])) > 1]
    within = [g for g in examples if len(set(g.get("splits") or [])) <= 1]
    kind = "documents" if schema.kind == "text" else "images"

    def group_rows(groups: list[dict]) -> Iterator[list[str]]:
        for g in groups[:options.duplicate_examples]:
            paths, splits = g.get("paths") or [], g.get("splits") or []
            pictures = "".join(_thumb(images.get(p), [p.rsplit('/', 1)[-1], s], p)
                               for p, s in zip(paths, splits)) if images is not None else ""
            listing = "<br>".join(f"<code>{_e(p)}</code> {_split_badges([s])}" for p, s in zip(paths, splits))
            yield ([f'<div class="tiles">{pictures}</div>'] if images is not None else []) + [listing]

    head = (["images"] if images is not None else []) + ["copies"]
    if across:
        section.add(f'<div class="leak"><h3>Across splits: {_plural(exact.get("groups_across_splits", len(across)), "group")}'
                    f' (leakage)</h3><p>The same {kind[:-1]} in more than one split: the model is tested on what it '
                    f'trained on.</p>{_table(head, group_rows(across), "dups")}</div>')
    elif exact:
        section.add("<h3>Across splits: none</h3><p>No identical copies span splits.</p>")
    if within:
        section.add(f'<h3>Within a split: {_plural(exact.get("groups_within_a_split", len(within)), "group")}</h3>'
                    + _table(head, group_rows(within), "dups"))
    pairs = near.get("examples") or []
    if pairs:
        bits = near.get("threshold_bits", "?")
        rows = []
        for pair in pairs[:options.duplicate_examples]:
            a, b = (pair.get("paths") or ["?", "?"])[:2]
            pictures = ("".join(_thumb(images.get(p), [p.rsplit('/', 1)[-1]], p) for p in (a, b))
                        if images is not None else "")
            rows.append(([f'<div class="tiles">{pictures}</div>'] if images is not None else [])
                        + [f"<code>{_e(a)}</code><br><code>{_e(b)}</code>", _n(pair.get("differing_bits"))])
        section.add(f"<h3>Near duplicates: {_plural(near.get('pairs', len(pairs)), 'pair')}</h3>"
                    f"<p>Different files whose perceptual hashes (a 64-bit difference hash of a 9\u00d78 greyscale "
                    f"thumbnail) differ in at most {_e(bits)} bits: the same picture re-encoded, recompressed or "
                    f"resized.</p>" + _table(head + ["bits apart"], rows, "dups"))
    shown = min(len(across), options.duplicate_examples) + min(len(within), options.duplicate_examples)
    total = exact.get("groups", len(examples))
    if total > shown:
        section.add(f"<p class='note'>{shown:,} of {total:,} groups shown; stats.json lists the first "
                    f"{len(examples):,}, groups across splits first.</p>")
    if images is not None:
        section.add("<p class='note'>Images are read from the shards the job put them in; one shown as "
                    "\u201cnot read\u201d sits in a shard beyond the report's reading budget.</p>")
    return section


# ---- images --------------------------------------------------------------------------------------

def sheet_section(schema: DatasetSchema, stats: Mapping, sample: ImageSample, options: ReportOptions) -> Section:
    section = Section("samples", "Samples")
    splits = stats.get("splits") or {}
    section.add(f"<p>The first {options.per_class} records of each class in shard order (shards are ordered by a "
                f"hash of each file's path, so this is a fair, repeatable draw); {sample.records_read:,} records "
                f"read. Hover a tile for its full path.</p>")
    if len(sample.rows) < sample.classes:
        section.add(f"<p class='note'>The first {len(sample.rows):,} of {sample.classes:,} classes.</p>")
    for class_name, samples in sample.rows:
        per_split = ", ".join(f"{(splits[s].get('classes') or {}).get(class_name, 0):,} {s}"
                              for s in schema.split_names if s in splits)
        tiles = "".join(_thumb(s, [class_name, s.filename.rsplit("/", 1)[-1]], f"{s.filename} ({s.split}, "
                               f"{s.width}\u00d7{s.height} {s.format or ''})") for s in samples)
        if not samples:
            tiles = '<p class="note">no records</p>'
        section.add(f'<div class="class"><h3>{_e(class_name)} <small>{_e(per_split)}</small></h3>'
                    f'<div class="tiles">{tiles}</div></div>')
    return section


def _distribution_line(name: str, d: Mapping | None, unit: str) -> str:
    if not d or not d.get("count"):
        return ""
    fmt = _size if unit == "B" else (lambda v: f"{v:,} px" if v is not None else "?")
    return f"<li>{name}: min {fmt(d.get('min'))}, mean {fmt(d.get('mean'))}, max {fmt(d.get('max'))}</li>"


def sizes_section(stats: Mapping, sample: ImageSample) -> Section | None:
    images = stats.get("images") or {}
    width, height = images.get("width"), images.get("height")
    if not sample.sizes and not width:
        return None
    section = Section("sizes", "Image sizes")
    if sample.sizes:
        section.add(_chart(charts.size_scatter(sample.sizes, f"width \u00d7 height of the {len(sample.sizes):,} "
                                                             "records read for the samples"),
                           "One dot per size, larger where more images share it; the dotted line marks square "
                           "images. The histograms below count every record (stats.json)."))
    panels = [(d["histogram"], f"image {name} (every record)", f"{name} (pixels)")
              for name, d in (("width", width), ("height", height)) if d and d.get("histogram")]
    if panels:
        section.add(_chart(charts.histograms(panels)))
    facts = _distribution_line("width", width, "px") + _distribution_line("height", height, "px")
    if facts:
        section.add(f"<ul>{facts}</ul>")
    return section


def bytes_section(stats: Mapping) -> Section | None:
    d = (stats.get("images") or {}).get("bytes")
    if not d or not d.get("histogram"):
        return None
    section = Section("bytes", "Encoded size")
    section.add(_chart(charts.histogram(d["histogram"], "encoded image size (every record)", "bytes per image",
                                        unit="B")))
    return section.add(f"<ul>{_distribution_line('encoded size', d, 'B')}</ul>")


_MODES = {1: "greyscale", 3: "RGB", 4: "RGBA"}


def formats_section(schema: DatasetSchema, stats: Mapping) -> Section | None:
    images = stats.get("images") or {}
    feature = next((f for f in schema.features if f.encoding == "image"), None)
    if not images and feature is None:
        return None
    section = Section("formats", "Formats and channels")
    counts: dict[str, int] = {}
    for fmt, n in sorted((images.get("source_formats") or {}).items(), key=lambda kv: -kv[1]):
        counts[f"source file: {fmt}"] = n
    for fmt, n in sorted((images.get("formats") or {}).items(), key=lambda kv: -kv[1]):
        counts[f"stored as {fmt}"] = n
    reencoded = images.get("reencoded")
    if reencoded is not None:
        counts["re-encoded"] = reencoded
    channels = feature.image.channels if feature is not None and feature.image else None
    if channels is not None and stats.get("records") is not None:
        counts[f"decode to {_plural(channels, 'channel')} ({_MODES.get(channels, '?')})"] = stats["records"]
    if counts:
        section.add(_chart(charts.counts_bars(counts, "formats of the source files and of the stored bytes", "images"),
                           "Original bytes are kept where TensorFlow decodes them as they are; other formats, CMYK "
                           "JPEGs, 16-bit PNGs, rotated JPEGs and animations are re-encoded."))
    if channels is not None:
        section.add(f"<p>Every image decodes to {channels} channel{'s' if channels != 1 else ''} "
                    f"({_e(_MODES.get(channels, '?'))}), as the schema tells readers "
                    f"(<code>tf.io.decode_image(channels={channels})</code>).</p>")
    return section


def _duplicate_paths(stats: Mapping, limit: int) -> tuple[list[str], dict[str, list[str]]]:
    """The image paths the duplicates section shows, and the split of each where stats.json says."""
    dup = stats.get("duplicates") or {}
    examples = (dup.get("exact") or {}).get("examples") or []
    across = [g for g in examples if len(set(g.get("splits") or [])) > 1][:limit]
    within = [g for g in examples if len(set(g.get("splits") or [])) <= 1][:limit]
    paths: list[str] = []
    splits: dict[str, list[str]] = {}
    for g in across + within:
        for p, s in zip(g.get("paths") or [], g.get("splits") or []):
            paths.append(p)
            splits.setdefault(p, []).append(s)
    for pair in ((dup.get("near") or {}).get("examples") or [])[:limit]:
        paths += (pair.get("paths") or [])[:2]
    return list(dict.fromkeys(paths)), splits


def image_sections(root: str, schema: DatasetSchema, stats: Mapping, options: ReportOptions) -> list[Section]:
    wanted, splits_of = _duplicate_paths(stats, options.duplicate_examples)
    sample = sheets.sample_images(root, schema, options.per_class, stats=stats, max_records=options.max_records,
                                  wanted=set(wanted))
    found = dict(sample.found)
    missing = [p for p in wanted if p not in found]
    if missing:
        found.update(find_images(root, schema, missing, options.extra_bytes, splits_of))
    names = sheets.label_names(root, schema)
    sections = [
        sheet_section(schema, stats, sample, options),
        class_balance_section(schema, stats, names, "images"),
        sizes_section(stats, sample),
        bytes_section(stats),
        formats_section(schema, stats),
        rejected_section(root, stats, options),
        duplicates_section(schema, stats, found, options),
    ]
    return [s for s in sections if s is not None]


# ---- text ----------------------------------------------------------------------------------------

def _walk(value, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    yield path, value
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _walk(inner, path + (str(key),))


def _find_stat(stats: Mapping, *words: str, shape: str) -> tuple[tuple[str, ...], object] | None:
    """The first value in stats.json whose key path names all `words` and has the `shape` asked for:
    "distribution" (has a histogram), "ranking" (token -> count), "number". The text job's keys may
    change; the report reads what is there and leaves a chart out when nothing fits."""
    for path, value in _walk(stats):
        joined = "/".join(path).lower()
        if not path or not all(w in joined for w in words):
            continue
        if shape == "distribution" and isinstance(value, Mapping) and isinstance(value.get("histogram"), list):
            return path, value
        if shape == "ranking" and _ranking(value):
            return path, value
        if shape == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return path, value
    return None


def _ranking(value) -> list[tuple[str, int]]:
    """[(token, count)] from {token: count}, [[token, count]] or [{"token": t, "count": n}]; [] otherwise."""
    try:
        if isinstance(value, Mapping) and value and all(isinstance(v, int) for v in value.values()):
            return [(str(k), int(v)) for k, v in value.items()]
        if isinstance(value, list) and value:
            if all(isinstance(v, (list, tuple)) and len(v) == 2 for v in value):
                return [(str(t), int(n)) for t, n in value]
            if all(isinstance(v, Mapping) for v in value):
                return [(str(v["token"]), int(v["count"])) for v in value]
    except (KeyError, TypeError, ValueError):
        pass
    return []


@dataclass
class Document:
    split: str
    label: str | None
    source: str
    text: str | None
    ids: list[int]


def _token_feature(schema: DatasetSchema):
    return next((f for f in schema.features if f.encoding == "token_ids"), None)


def read_documents(root: str, schema: DatasetSchema, per_split: int, names: list[str] | None) -> list[Document]:
    """The first `per_split` records of each split, in shard order."""
    token = _token_feature(schema)
    text_key = next((f.name for f in schema.features if f.encoding == "text" and f.name == "text"), None)
    names_set = {f.name for f in schema.features}
    source_key = next((k for k in ("text/filename", "filename") if k in names_set), None)
    docs: list[Document] = []
    for split in schema.splits:
        shards = [(split.name, s.file) for s in split.shards if s.num_records != 0]
        records = sheets.scan_records(root, schema, shards)
        try:
            for record in records:
                f = record.features
                label = None
                if schema.label_key and f.get(schema.label_key):
                    i = f[schema.label_key][0]
                    label = names[i] if names and 0 <= i < len(names) else str(i)
                line = f.get("text/line")
                source = (f[source_key][0].decode("utf-8", "replace") if source_key and f.get(source_key) else "")
                source += f":{line[0]}" if line and line[0] else ""
                text = f[text_key][0].decode("utf-8", "replace") if text_key and f.get(text_key) else None
                docs.append(Document(split.name, label, source, text, list(f.get(token.name, [])) if token else []))
                if sum(d.split == split.name for d in docs) >= per_split:
                    break
        finally:
            records.close()
    return docs


def _vocabulary(root: str, schema: DatasetSchema):
    """(tokens in file order, the schema's vocabulary entry) of the token feature, or (None, None)."""
    token = _token_feature(schema)
    if token is None or not token.vocabulary:
        return None, None
    try:
        vocabulary = schema.vocabulary(token.vocabulary)
    except Exception:  # noqa: BLE001 - a foreign schema may name a vocabulary it does not list
        return None, None
    text = sheets.read_text(root, vocabulary.file)
    if text is None:
        return None, vocabulary
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines], vocabulary


def render_tokens(ids: Sequence[int], tokens: Sequence[str] | None, first_id: int, reserved: Mapping[int, str],
                  oov_id: int | None, limit: int = 200) -> str:
    """HTML of a document's token ids read back as tokens; out-of-vocabulary ids are marked."""
    parts = []
    for i in ids[:limit]:
        if i == oov_id:
            parts.append('<mark class="oov" title="out of vocabulary">[UNK]</mark>')
        elif i in reserved:
            parts.append(f'<span class="tok reserved">{_e(reserved[i] or "[pad]")}</span>')
        elif tokens is not None and 0 <= i - first_id < len(tokens):
            parts.append(f'<span class="tok">{_e(tokens[i - first_id])}</span>')
        else:
            parts.append(f'<span class="tok reserved">#{i}</span>')
    if len(ids) > limit:
        parts.append(f'<span class="note"> \u2026 and {len(ids) - limit:,} more tokens</span>')
    return " ".join(parts)


def _head_lines(root: str, relative: str, count: int) -> list[str] | None:
    """The first `count` lines of a dataset file (without reading the rest), or None if it is absent."""
    from apache_beam.io.filesystems import FileSystems

    path = FileSystems.join(root, relative)
    if not FileSystems.exists(path):
        return None
    lines = []
    with FileSystems.open(path, compression_type="uncompressed") as f:
        for raw in f:
            if len(lines) >= count:
                break
            lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
    return lines


def top_tokens(root: str, stats: Mapping, vocabulary: Vocabulary | None, count: int = 30
               ) -> tuple[list[tuple[str, int]], str]:
    """The most frequent tokens with their counts, and where they come from: the counts file written
    beside the vocabulary (`<count>\\t<token>` lines, most frequent first), or a ranking in stats.json."""
    if vocabulary is not None and vocabulary.file.endswith(".txt"):
        counts_file = vocabulary.file[:-4] + ".counts.tsv"
        lines = _head_lines(root, counts_file, count)
        if lines:
            pairs = [(token, int(n)) for n, _, token in (line.partition("\t") for line in lines) if n.isdigit()]
            if pairs:
                return pairs, counts_file
    found = _find_stat(stats, "top", shape="ranking") or _find_stat(stats, "token", shape="ranking")
    if found is not None:
        return _ranking(found[1])[:count], "stats.json " + ".".join(found[0])
    return [], ""


def _lengths(stats: Mapping) -> tuple[Mapping, str] | None:
    d = (stats.get("text") or {}).get("tokens_per_document")
    if isinstance(d, Mapping) and d.get("histogram"):
        return d, "stats.json, every document"
    found = _find_stat(stats, "token", shape="distribution")
    return (found[1], f"stats.json {'.'.join(found[0])}") if found else None


def text_sections(root: str, schema: DatasetSchema, stats: Mapping, options: ReportOptions) -> list[Section]:
    """Documents per class, tokens per document, top tokens, out-of-vocabulary rates, documents read back.
    Figures come from stats.json when it has them, else from the documents read (and say so)."""
    names = sheets.label_names(root, schema)
    sections: list[Section | None] = [class_balance_section(schema, stats, names, "documents")]
    tokens, vocabulary = _vocabulary(root, schema)
    first_id = vocabulary.first_id if vocabulary else 2
    reserved = dict(vocabulary.reserved) if vocabulary else {0: "", 1: "[UNK]"}
    oov_id = vocabulary.oov_id if vocabulary else 1
    token = _token_feature(schema)
    max_length = (schema.text.max_length if schema.text else None) or (token.max_length if token else None)
    lengths = _lengths(stats)
    oov = _oov_rates(stats, schema)
    sampled = token is not None and (lengths is None or not oov)
    docs = read_documents(root, schema, options.text_sample if sampled else options.documents, names)
    sample_note = f"the first {options.text_sample:,} documents of each split (stats.json has no figure)"

    section = Section("lengths", "Tokens per document")
    if lengths is None and docs and token is not None:
        from prep.core.statistics import Distribution

        counted = Distribution()
        for doc in docs:
            counted.add(len(doc.ids))
        lengths = counted.to_dict(), sample_note
    if lengths is not None:
        d, source = lengths
        cut = f"--max-length {max_length}" if max_length else ""
        section.add(_chart(charts.histogram(d["histogram"], "tokens per document (before --max-length)", "tokens",
                                            mark=max_length, mark_label=cut), f"From {source}."))
        mean = d.get("mean")
        facts = (f"min {_n(d.get('min'))}, mean {'?' if mean is None else f'{mean:,.1f}'}, "
                 f"max {_n(d.get('max'))} tokens")
        truncated = (stats.get("text") or {}).get("truncated")
        if max_length:
            facts += (f"; documents longer than {max_length:,} tokens are cut at the dashed line"
                      + (f" ({truncated:,} of {_n(stats.get('records'))} documents)" if truncated is not None else ""))
        section.add(f"<p>{facts}.</p>")
        sections.append(section)

    section = Section("tokens", "Top tokens")
    top, source = top_tokens(root, stats, vocabulary)
    if top:
        section.add(_chart(charts.counts_bars(dict(top), f"the {len(top)} most frequent tokens", "occurrences"),
                           f"From {source}."))
    elif tokens:
        section.add("<p>No token counts were written; the vocabulary file lists tokens most frequent first:</p>",
                    "<p>" + " ".join(f'<span class="tok">{_e(t)}</span>' for t in tokens[:50]) + "</p>")
    v = stats.get("vocabulary") or {}
    if tokens is not None or v:
        file = f" in <code>{_e(vocabulary.file)}</code>" if vocabulary else ""
        facts = [f"{_n(v.get('size', len(tokens or [])))} tokens{file} (line i is id i + {first_id}; "
                 f"id {oov_id} is out of vocabulary)"]
        if v.get("source"):
            facts.append(_e(v["source"]))
        if v.get("occurrences_covered") is not None:
            facts.append(f"covers {v['occurrences_covered']:.1%} of the corpus' token occurrences")
        if v.get("coverage") is not None:
            facts.append(f"{v['coverage']:.1%} of its tokens occur in the records")
        left_out = v.get("left_out") or {}
        if any(left_out.values()):
            facts.append("left out: " + ", ".join(f"{_n(n)} {_e(k.replace('_', ' '))}" for k, n in left_out.items() if n))
        section.add("<ul>" + "".join(f"<li>{f}</li>" for f in facts) + "</ul>")
    if section.body:
        sections.append(section)

    section = Section("oov", "Out-of-vocabulary rate per split")
    source = "stats.json"
    if not oov and docs and token is not None:
        source = sample_note
        for split in schema.split_names:
            ids = [i for d in docs if d.split == split for i in d.ids]
            if ids:
                oov[split] = sum(i == oov_id for i in ids) / len(ids)
    if oov:
        section.add(_chart(charts.counts_bars(oov, "share of tokens out of the vocabulary ([UNK])", "tokens",
                                              percent=True), f"From {source}."))
        sections.append(section)

    section = Section("documents", "Documents read back from their token ids")
    shown = [d for split in schema.split_names for d in [x for x in docs if x.split == split][:options.documents]]
    rows = []
    for doc in shown:
        cut = "\u2026" if doc.text is not None and len(doc.text) > 600 else ""
        raw = "" if doc.text is None else f'<div class="raw">{_e(doc.text[:600])}{cut}</div>'
        rows.append([_split_badges([doc.split]) + (f"<br>{_e(doc.label)}" if doc.label else ""),
                     f"<code>{_e(doc.source)}</code>" if doc.source else "",
                     raw + f'<div class="ids">{render_tokens(doc.ids, tokens, first_id, reserved, oov_id)}</div>'])
    if rows:
        section.add(f"<p>The first {options.documents} documents of each split in shard order, their token ids mapped "
                    "back through the vocabulary file; <mark class='oov'>[UNK]</mark> marks a token out of the "
                    "vocabulary. The raw text, when the records keep it, is above in grey.</p>",
                    _table(["split / class", "source", "document"], rows, "docs"))
        sections.append(section)
    sections += [rejected_section(root, stats, options), duplicates_section(schema, stats, None, options)]
    return [s for s in sections if s is not None]


def _oov_rates(stats: Mapping, schema: DatasetSchema) -> dict[str, float]:
    """Out-of-vocabulary share of tokens per split, from whatever stats.json holds (a rate, or counts)."""
    rates: dict[str, float] = {}
    splits = stats.get("splits") or {}
    for split in schema.split_names:
        s = splits.get(split) or {}
        if isinstance(s.get("oov_rate"), (int, float)):
            rates[split] = float(s["oov_rate"])
            continue
        rate = _find_stat(s, "oov", "rate", shape="number") or _find_stat(s, "out_of_vocabulary", "rate", shape="number")
        if rate is not None:
            rates[split] = float(rate[1])
            continue
        count = _find_stat(s, "oov", shape="number") or _find_stat(s, "out_of_vocabulary", shape="number")
        total = _find_stat(s, "tokens", shape="number")
        if count is not None and total is not None and total[1] and count[0] != total[0]:
            rates[split] = count[1] / total[1]
    if not rates:
        found = _find_stat(stats, "oov", shape="ranking")
        if found is not None:
            rates = {k: float(v) for k, v in _ranking(found[1])}
    return rates


# ---- the page ------------------------------------------------------------------------------------

_CSS = """
:root { --ink: #222; --muted: #666; --line: #ddd; --leak: #b3261e; --leak-bg: #fdecea; --warn-bg: #fff6e0;
        --ok-bg: #eaf6ec; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0; background: #fafafa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 40px 0 12px; padding-top: 12px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 8px; }
h3 small { font-weight: normal; color: var(--muted); }
code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
nav { margin: 12px 0; display: flex; flex-wrap: wrap; gap: 4px 18px; }
nav a { white-space: nowrap; }
.meta { color: var(--muted); margin: 0 0 8px; }
.facts td { padding: 2px 16px 2px 0; }
.findings { list-style: none; padding: 0; margin: 16px 0; }
.findings li { padding: 10px 14px; margin: 6px 0; border-radius: 6px; border-left: 6px solid #e0a800;
               background: var(--warn-bg); }
.findings li.leak { border-left-color: var(--leak); background: var(--leak-bg); font-weight: 600; font-size: 17px; }
.findings li.ok { border-left-color: #2e7d32; background: var(--ok-bg); }
.leak { border: 2px solid var(--leak); background: var(--leak-bg); border-radius: 8px; padding: 4px 16px 12px;
        margin: 12px 0; }
.leak h3 { color: var(--leak); }
figure { margin: 0; }
figure.chart { margin: 12px 0 20px; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figure.chart figcaption, .note { color: var(--muted); font-size: 13px; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; }
.tile { width: 128px; }
.tile .frame { width: 128px; height: 128px; background: #ececec; display: flex; align-items: center;
               justify-content: center; }
.tile img { display: block; }
.tile figcaption { font-size: 12px; line-height: 1.35; margin-top: 3px; }
.tile figcaption span { display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.tile figcaption span + span { color: var(--muted); }
.missing { color: var(--muted); font-size: 12px; }
.class h3 { margin: 18px 0 6px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 6px 12px 6px 0; border-bottom: 1px solid var(--line); }
th { font-weight: 600; border-bottom: 2px solid var(--line); }
table.numbers td:not(:first-child), table.numbers th:not(:first-child) { text-align: right; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; background: #e8eef7; color: #1f4e8c;
         font-size: 12px; }
.tok { display: inline-block; padding: 0 3px; margin: 1px 0; border-radius: 3px; background: #f1f1f1; }
.tok.reserved { color: var(--muted); }
mark.oov { background: #ffd54f; color: #000; padding: 0 3px; border-radius: 3px; font-weight: 600; }
.raw { color: var(--muted); margin-bottom: 6px; white-space: pre-wrap; }
details summary { cursor: pointer; color: var(--muted); }
"""


def _header(schema: DatasetSchema, stats: Mapping, root: str) -> str:
    p = schema.provenance
    made = f"made by {_e(p.tool)} {_e(p.version)} (<code>prep {_e(p.command)}</code>) from <code>{_e(p.source)}</code> " \
           f"at {_e(p.created)}" if p else ""
    facts = [["directory", f"<code>{_e(root)}</code>"], ["kind", _e(schema.kind)],
             ["records", _n(schema.num_records)]]
    if stats.get("inputs") is not None:
        facts.append(["inputs", f"{_n(stats['inputs'])} ({_n(stats.get('records'))} records + "
                                f"{_n(stats.get('rejected', 0))} rejected)"])
    facts.append(["splits", ", ".join(f"{_e(s.name)} {_n(s.num_records)}" for s in schema.splits)])
    totals = sheets.class_totals(stats)
    if totals:
        facts.append(["classes", _n(len(totals))])
    sizes = [s.num_bytes for s in schema.splits]
    facts.append(["size", "?" if None in sizes else _size(sum(sizes))])
    rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in facts)
    return f"<h1>{_e(schema.name)}</h1><p class='meta'>{made}</p><table class='facts'>{rows}</table>"


def render_page(schema: DatasetSchema, stats: Mapping, root: str, sections: list[Section],
                found: list[Finding]) -> str:
    """The HTML page: header, what stands out (leakage first), contents, then each section."""
    nav = "".join(f'<a href="#{s.id}">{_e(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{s.id}"><h2>{_e(s.title)}</h2>{"".join(s.body)}</section>' for s in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(schema.name)}: prep report</title><style>{_CSS}</style></head><body><main>"
        f"{_header(schema, stats, root)}<h2 id=\"findings\">What stands out</h2>{_findings_html(found)}"
        f"<nav>{nav}</nav>{body}"
        "<p class='note'>Made by <code>prep report</code> from schema.json, stats.json, rejected.jsonl, the "
        "vocabularies and the records shown. Self-contained: it loads nothing from the network.</p>"
        "</main></body></html>\n"
    )


def build_report(root: str, options: ReportOptions = ReportOptions()) -> str:
    """The report of the dataset at `root` as one HTML page (a str)."""
    charts.require_matplotlib()
    schema = load_schema(root)
    stats = sheets.read_stats(root)
    if any(f.encoding == "image" for f in schema.features):
        sections = image_sections(root, schema, stats, options)
    elif schema.kind == "text" or _token_feature(schema) is not None:
        sections = text_sections(root, schema, stats, options)
    else:
        sections = [rejected_section(root, stats, options)] if stats else []
    sections += [shards_section(schema), features_section(schema)]
    found = findings(schema, stats)
    if found[0].level == "leak":  # leakage invalidates every test figure: show it before anything else
        sections.sort(key=lambda s: s.id != "duplicates")
    return render_page(schema, stats, root, sections, found)
