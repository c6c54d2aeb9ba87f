"""The sections of an image dataset: samples of each class, image sizes, encoded sizes, formats and
channels, then the sections every dataset gets, with the duplicates' images."""

from __future__ import annotations

from typing import Mapping

from prep.core.wording import amount, byte_size, plural
from prep.inspection import contact_sheet as sheets
from prep.inspection.contact_sheet import ImageSample
from prep.inspection.report import charts
from prep.inspection.report.duplicates import duplicate_paths, duplicates_section, find_images
from prep.inspection.report.markup import Section, chart_figure, escape, tile
from prep.inspection.report.options import ReportOptions
from prep.inspection.report.sections import class_balance_section, rejected_section
from schemas import DatasetSchema


def sheet_section(schema: DatasetSchema, stats: Mapping, sample: ImageSample, options: ReportOptions) -> Section:
    section = Section("samples", "Samples")
    splits = stats.get("splits") or {}
    section.add(f"<p>The first {options.per_class} records of each class in shard order (shards are ordered by a "
                f"hash of each file's path, so this is a fair, repeatable draw); {sample.records_read:,} records "
                f"read. Hover a tile for its full path.</p>")
    if len(sample.rows) < sample.classes:
        section.add(f"<p class='note'>The first {len(sample.rows):,} of {sample.classes:,} classes.</p>")
    for class_name, samples in sample.rows:
        per_split = ", ".join(f"{splits[s]['classes'].get(class_name, 0):,} {s}"
                              for s in schema.split_names if "classes" in splits.get(s, {}))  # none: regression
        tiles = "".join(tile(s, [class_name, s.filename.rsplit("/", 1)[-1]], f"{s.filename} ({s.split}, "
                               f"{s.width}\u00d7{s.height} {s.format or ''})") for s in samples)
        if not samples:
            tiles = '<p class="note">no records</p>'
        section.add(f'<div class="class"><h3>{escape(class_name)} <small>{escape(per_split)}</small></h3>'
                    f'<div class="tiles">{tiles}</div></div>')
    return section


def _distribution_line(name: str, d: Mapping | None, unit: str) -> str:
    if not d or not d.get("count"):
        return ""
    fmt = byte_size if unit == "B" else (lambda v: f"{amount(v)} px")
    return f"<li>{name}: min {fmt(d.get('min'))}, mean {fmt(d.get('mean'))}, max {fmt(d.get('max'))}</li>"


def sizes_section(stats: Mapping, sample: ImageSample) -> Section | None:
    images = stats.get("images") or {}
    width, height = images.get("width"), images.get("height")
    if not sample.sizes and not width:
        return None
    section = Section("sizes", "Image sizes")
    if sample.sizes:
        section.add(chart_figure(charts.size_scatter(sample.sizes, f"width \u00d7 height of the {len(sample.sizes):,} "
                                                             "records read for the samples"),
                           "One dot per size, larger where more images share it; the dotted line marks square "
                           "images. The histograms below count every record (stats.json)."))
    panels = [(d["histogram"], f"image {name} (every record)", f"{name} (pixels)")
              for name, d in (("width", width), ("height", height)) if d and d.get("histogram")]
    if panels:
        section.add(chart_figure(charts.histograms(panels)))
    facts = _distribution_line("width", width, "px") + _distribution_line("height", height, "px")
    if facts:
        section.add(f"<ul>{facts}</ul>")
    return section


def bytes_section(stats: Mapping) -> Section | None:
    d = (stats.get("images") or {}).get("bytes")
    if not d or not d.get("histogram"):
        return None
    section = Section("bytes", "Encoded size")
    section.add(chart_figure(charts.histogram(d["histogram"], "encoded image size (every record)", "bytes per image",
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
        counts[f"decode to {plural(channels, 'channel')} ({_MODES.get(channels, '?')})"] = stats["records"]
    if counts:
        section.add(chart_figure(charts.counts_bars(counts, "formats of the source files and of the stored bytes", "images"),
                           "Original bytes are kept where TensorFlow decodes them as they are; other formats, CMYK "
                           "JPEGs, 16-bit PNGs, rotated JPEGs and animations are re-encoded."))
    if channels is not None:
        section.add(f"<p>Every image decodes to {channels} channel{'s' if channels != 1 else ''} "
                    f"({escape(_MODES.get(channels, '?'))}), as the schema tells readers "
                    f"(<code>tf.io.decode_image(channels={channels})</code>).</p>")
    return section


def objects_section(stats: Mapping) -> Section | None:
    """A detection dataset's boxes: how many per image, how large, and which were changed or left out."""
    objects = stats.get("objects")
    if not objects:
        return None
    section = Section("objects", "Objects")
    panels = [(d["histogram"], f"boxes per image ({split})", "boxes") for split, d in objects["boxes_per_image"].items()
              if d and d.get("histogram")]
    side = objects.get("box_side")
    if side and side.get("histogram"):
        panels.append((side["histogram"], "box size (every box)", "square root of the area (pixels)"))
    if panels:
        section.add(chart_figure(charts.histograms(panels), "Objects per class are in the class balance above. COCO "
                                 "calls a box small below 32 px and large from 96 px."))
    empty = objects.get("images_without_boxes") or {}
    facts = "".join(f"<li>{n:,} images of {escape(split)} have no box (kept, as COCO keeps them)</li>"
                    for split, n in empty.items() if n)
    facts += _distribution_line("box size", side, "px")
    changed = objects.get("boxes_changed_or_dropped") or {}
    if changed:
        facts += "<li>boxes changed or left out: " + ", ".join(
            f"{escape(fate)} {n:,}" for fate, n in sorted(changed.items())) + " (stats.json)</li>"
    if facts:
        section.add(f"<ul>{facts}</ul>")
    return section


def _segmentation(stats: Mapping) -> bool:
    """Whether stats.json counts the pixels of each class (a segmentation dataset's) rather than records."""
    return any("pixels" in split for split in (stats.get("splits") or {}).values())


def image_sections(root: str, schema: DatasetSchema, stats: Mapping, options: ReportOptions) -> list[Section]:
    wanted, splits_of = duplicate_paths(stats, options.duplicate_examples)
    sample = sheets.sample_images(root, schema, options.per_class, stats=stats, max_records=options.max_records,
                                  wanted=set(wanted))
    found = dict(sample.found)
    missing = [p for p in wanted if p not in found]
    if missing:
        found.update(find_images(root, schema, missing, options.extra_bytes, splits_of))
    names = sheets.label_names(root, schema)
    sections = [
        sheet_section(schema, stats, sample, options),
        class_balance_section(schema, stats, names, "pixels", "pixels") if _segmentation(stats)
        else class_balance_section(schema, stats, names, "images"),
        objects_section(stats),
        sizes_section(stats, sample),
        bytes_section(stats),
        formats_section(schema, stats),
        rejected_section(root, stats, options),
        duplicates_section(schema, stats, found, options),
    ]
    return [s for s in sections if s is not None]
