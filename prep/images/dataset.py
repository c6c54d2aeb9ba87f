"""What an image job concludes from its results: stats.json, vocab/labels.txt and the schema.

Pure functions of the job's options and the facts the pipeline gathered, so they are tested
without Beam and the pipeline stays a sentence of transforms.
"""

from __future__ import annotations

import prep
from prep.core.duplicates import from_summary as duplicates_from_summary
from prep.core.layout import Layout
from prep.core.statistics import Summary
from prep.core.vocab_files import vocabulary_bytes
from prep.images.inventory import HeldImage
from prep.images.masks import MaskSpec
from prep.images.options import ImageJobOptions
from prep.images.records import FIRST_OBJECT_ID, LABEL_KEYS, LABELS_VOCABULARY, PendingImage, image_features, label_map
from prep.jobs import results as job_results
from prep.jobs.results import (
    LABELS_FILE,
    REJECTED_FILE,
    STATS_FILE,
    add_shared_fact,
    check_accounted,
    json_bytes,
    rejected_jsonl,
    rejected_rows,
    same_as_before,
    splits_from_results,
    version_files,
)
from schemas import DatasetSchema, Provenance, Vocabulary

LABEL_MAP_FILE = "vocab/label_map.pbtxt"  # a detection dataset's label map, for the Object Detection API

# A fact about one input, gathered by the pipeline for stats.json:
#   INPUT_FACT for each input file found (INPUT_FACT + (n,) for n at once), record_fact(image) for each record written,
#   ("rejected", rejected.jsonl row) for each input left out, and the facts of duplicate detection
INPUT_FACT = ("input", "files")
UNLISTED = "unlisted"  # a file under SRC that no row of the manifest names
UNLISTED_SHOWN = 1000  # of them, stats.json lists the first by path
UNMATCHED_MASK = "unmatched_mask"  # (UNMATCHED_MASK, path): a mask under MASKS that no image has (listed as UNLISTED are)


def record_fact(image: PendingImage | HeldImage, label_kind: str = "class") -> tuple:
    """What stats.json needs of a written image: a few fields, not the image (re-encoded bytes would
    otherwise travel to the summary too). Its classes as a tuple of names; regression targets apart.
    A record an update keeps: the fact its inventory line keeps."""
    if isinstance(image, HeldImage):
        return image.fact
    names = image.class_name if isinstance(image.class_name, tuple) else (image.class_name,)
    targets = image.label if label_kind == "regression" else ()
    sides = tuple(round(box.area ** 0.5, 1) for box in image.objects) if label_kind == "detection" else None
    return ("record", image.split, names, image.format, image.source_format, image.data is not None,
            image.width, image.height, image.size, targets, sides, image.mask_pixels)


BOX_FATES = "box_fates"  # (BOX_FATES, {fate: boxes}): boxes of an image (or annotation file) clipped or left out


def add_box_fates(summary: Summary, fates: dict) -> None:
    for fate, n in fates.items():
        summary.count(BOX_FATES, fate, n)


def add_image_fact(summary: Summary, fact: tuple) -> None:
    if add_shared_fact(summary, fact):
        return
    if fact[:2] == INPUT_FACT:  # one input, or (an update's held inputs) INPUT_FACT + (n,)
        summary.count(*fact)
        return
    if fact[0] in (UNLISTED, UNMATCHED_MASK):
        summary.count(fact[0], "files")
        summary.collect(fact[0], fact[1])
        return
    if fact[0] == BOX_FATES:
        add_box_fates(summary, fact[1])
        return
    _, split, names, fmt, source_format, reencoded, width, height, size, targets, sides, *pixels = fact
    summary.count("records", split)
    for value, n in pixels[0] if pixels else ():  # a mask's pixels by value (facts kept before masks have none)
        summary.count(f"pixels/{split}", str(value), n)
    for name in names:
        summary.count(f"classes/{split}", name)
    if sides is not None:
        summary.observe(f"boxes_per_image/{split}", len(sides))
        summary.count("images_without_boxes", split, 0 if sides else 1)
        for side in sides:
            summary.observe("box_side", side)
    for i, value in enumerate(targets):
        summary.observe(f"targets/{split}/{i}", value)
        summary.observe(f"targets/{i}", value)
    summary.count("formats", fmt)
    summary.count("source_formats", source_format)
    summary.count("reencoded", "yes" if reencoded else "no")
    summary.observe("width", width)
    summary.observe("height", height)
    summary.observe("bytes", size)


def split_names(options: ImageJobOptions, layout: Layout) -> list[str]:
    """Every split the dataset has, records or not. A manifest's: the splits its rows name (in
    `layout.splits`), and --split's (or train) when some rows name none (`layout.split_folders`
    False then)."""
    kept = list(options.update.splits) if options.update else []  # an update keeps every split, emptied or not
    if options.manifest is None:
        return kept + [n for n in job_results.split_names(options.split_fractions, layout) if n not in kept]
    hashed = [] if layout.split_folders else list(options.split_fractions.names) if options.split_fractions else ["train"]
    names = hashed + [name for name in layout.splits if name not in hashed]
    return kept + [n for n in names if n not in kept]


def _target_stats(summary: dict, prefix: str, targets: tuple[str, ...]) -> dict:
    """count, min, max and mean of each target (their histogram of powers of two does not fit values
    that may be negative)."""
    out = {}
    for i, name in enumerate(targets):
        found = summary.get(f"{prefix}{i}") or {"count": 0, "min": None, "max": None, "mean": None}
        out[name] = {k: found[k] for k in ("count", "min", "max", "mean")}
    return out


def _labels_of(options: ImageJobOptions, summary: dict, split: str, layout: Layout) -> dict:
    if options.label_kind == "regression":
        return {"targets": _target_stats(summary, f"targets/{split}/", options.manifest.targets)}
    if options.label_kind == "segmentation":
        found = summary.get(f"pixels/{split}", {})
        ignore = options.masks.ignore
        return {"pixels": {c: found.get(str(i), 0) for i, c in enumerate(layout.classes)},
                "ignored_pixels": found.get(str(ignore), 0)}
    return {"classes": {c: summary.get(f"classes/{split}", {}).get(c, 0) for c in layout.classes}}


def image_stats(options: ImageJobOptions, summary: dict, layout: Layout, inputs: int, duplicates: dict | None) -> dict:
    """stats.json of an image dataset, from the summaries the pipeline combined (no "duplicates"
    when the job did not look for them: --no-duplicate-check). A manifest job's also has what its
    rows' labels are and which files under SRC no row names."""
    records = summary.get("records", {})
    rejected = summary.get("rejected", {})
    manifest = {}
    if options.manifest is not None:
        unlisted = sorted(summary.get(UNLISTED, []))
        manifest = {"manifest": {
            "file": options.manifest.path,
            "label_kind": options.label_kind,
            "unlisted_files": len(unlisted),
            "unlisted": unlisted[:UNLISTED_SHOWN],
        } | ({"targets": _target_stats(summary, "targets/", options.manifest.targets)}
             if options.label_kind == "regression" else {})}
    if options.masks is not None and options.masks.folder:
        unmatched = sorted(summary.get(UNMATCHED_MASK, []))
        manifest["masks"] = {"folder": options.masks.folder, "unmatched_masks": len(unmatched),
                             "unmatched": unmatched[:UNLISTED_SHOWN]}
    if options.label_kind == "detection":
        manifest["objects"] = {
            "boxes_per_image": {split: summary.get(f"boxes_per_image/{split}") for split in records},
            "images_without_boxes": summary.get("images_without_boxes", {}),
            "box_side": summary.get("box_side"),  # the square root of each box's area, in pixels
            "boxes_changed_or_dropped": summary.get(BOX_FATES, {}),
        }
    return manifest | {
        "inputs": inputs,
        "records": sum(records.values()),
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
        "splits": {split: {"records": n} | _labels_of(options, summary, split, layout) for split, n in records.items()},
        "images": {
            "formats": summary.get("formats", {}),
            "source_formats": summary.get("source_formats", {}),
            "reencoded": summary.get("reencoded", {}).get("yes", 0),
            "width": summary.get("width"),
            "height": summary.get("height"),
            "bytes": summary.get("bytes"),
        },
    } | ({"duplicates": duplicates} if duplicates is not None else {})


def common_size(stats: dict) -> tuple[int, int] | None:
    """(height, width) in pixels when every written image has that size, else None."""
    height, width = stats["images"]["height"], stats["images"]["width"]
    if not height or not width or not height.get("count"):
        return None
    if height["min"] != height["max"] or width["min"] != width["max"]:
        return None
    return int(height["min"]), int(width["min"])


def mask_classes(layout: Layout, summary: dict, spec: MaskSpec) -> Layout:
    """The layout of a segmentation dataset with its classes: those --mask-classes (or VOC) names, else
    the values its masks hold, 0 to the highest but the ignore value, each named by its number."""
    if spec.classes:
        return Layout(layout.split_folders, spec.classes, layout.splits)
    values = {int(v) for name, found in summary.items() if name.startswith("pixels/") for v in found} - {spec.ignore}
    return Layout(layout.split_folders, tuple(str(i) for i in range(max(values, default=0) + 1)), layout.splits)


def finish_images(options: ImageJobOptions, results: list[dict], layout: Layout,
                  summary: dict) -> tuple[DatasetSchema, dict[str, bytes]] | None:
    """The schema and the files (labels, stats) of a finished image job; refuses to lose inputs. None
    for an update that found nothing to change (nothing to commit)."""
    inputs = summary.get(INPUT_FACT[0], {}).get(INPUT_FACT[1], 0)
    rejected = rejected_rows(summary)
    if options.masks is not None:
        layout = mask_classes(layout, summary, options.masks)
    check_accounted(inputs, sum(r["num_records"] for r in results), len(rejected))
    splits = splits_from_results(results, split_names(options, layout))
    found = (duplicates_from_summary(summary, near=True, dedupe=options.dedupe, dedupe_near=options.dedupe_near)
             if options.check_duplicates else None)
    stats = image_stats(options, summary, layout, inputs, found)
    kind = options.label_kind
    regression = kind == "regression"
    first_id = FIRST_OBJECT_ID if kind == "detection" else 0
    schema = DatasetSchema(
        name=options.out.rstrip("/").rsplit("/", 1)[-1],
        kind="images",
        features=image_features(options.image, set(stats["images"]["formats"]) or {"jpeg"}, common_size(stats),
                                kind, options.manifest.targets if regression else (),
                                options.masks.ignore if options.masks else None,
                                bool(options.manifest and options.manifest.instance_masks)),
        splits=splits,
        compression=options.sharding.compression,
        label_key=LABEL_KEYS[kind],
        vocabularies=() if regression else (
            Vocabulary(LABELS_VOCABULARY, LABELS_FILE, "labels", len(layout.classes), first_id,
                       ((0, "background"),) if first_id else ()),),
        provenance=Provenance("prep", prep.__version__, options.created, options.src, "images", options.to_dict()),
        version=options.update.version if options.update else 1,
    )
    files = {
        STATS_FILE: json_bytes(stats),
        REJECTED_FILE: rejected_jsonl(rejected),
    } | ({} if regression else {LABELS_FILE: vocabulary_bytes(layout.classes)}) | (
        {LABEL_MAP_FILE: label_map(layout.classes)} if kind == "detection" else {})
    if options.update:
        if same_as_before(options.out, results, files, options.update.version - 1, (s.file for s in options.update.shards)):
            return None
        files |= version_files(options.out, schema, files)
    return schema, files
