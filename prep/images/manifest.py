"""Labels in a file: the rows of an image manifest (CSV, TSV or JSON Lines), each naming one image
and its label, labels or regression targets, and perhaps its split.

Shapes read:
- A CSV/TSV with a header row, or JSON Lines: columns found by name (case-insensitive), or named
  by flags: the image (`PATH_COLUMNS`), the label (`LABEL_COLUMNS`), the split (`SPLIT_COLUMNS`).
  Kaggle's `train_labels.csv` (`id,label`), labelling tools' exports, TFRecorder's
  `split,image_uri,label`.
- A CSV without a header, as Google Cloud AutoML Vision documents it and TFRecorder reads it:
  `[set,]image_path[,label,...]`, `set` one of TRAIN, VALIDATION, TEST, UNASSIGNED; more than one
  label is a multi-label row. A first field that reads as a misspelt set (`TRIAN,a.png,cat`) is
  rejected as bad_split, not taken for the image's path (`_misspelt_set`).

What the launching machine reads is the manifest's first record (`describe_manifest`), to fix the
columns once and fail early, in one line, when they cannot be found. The rows themselves are read
inside the job (`manifest_items`), a JSON Lines manifest in byte ranges.

A row's image is found (`candidate_keys`) by its path relative to the manifest's folder or to SRC
(the first that names a file under SRC), an absolute path or a URI (gs://...), or, for an id
without an extension (Kaggle's `id` columns), the one file under SRC with that path and any
extension. A file outside SRC is read only where `may_read_outside` allows it: in a manifest's own
folder, or anywhere with --allow-outside-src. Annotation files come from the internet, and a row
must not put the user's other files into a dataset. Paths are compared as written, `..` resolved,
links not: a link under SRC is the folder owner's and is followed, as in class folders.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import posixpath
from dataclasses import dataclass
from typing import Iterator, NamedTuple

from prep.core import row_files
from prep.core.duplicates import content_digest
from prep.core.failures import CONVERSION_ERROR, unforeseen
from prep.core.row_files import Rejection

_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
# Column names that mean "the image", "its label", "its split", in the order they are preferred.
PATH_COLUMNS = ("path", "image_path", "image_uri", "filepath", "file_path", "filename", "file_name", "file",
                "image", "image_name", "image_id", "img", "uri", "id")
LABEL_COLUMNS = ("label", "labels", "class", "category", "tags", "target")
SPLIT_COLUMNS = ("split", "set", "subset")
# Split column values (any case) and the split each means; None: no split given (--split assigns one).
SPLIT_VALUES = {
    "train": "train", "training": "train",
    "validation": "validation", "valid": "validation", "val": "validation", "dev": "validation",
    "test": "test", "testing": "test",
    "unassigned": None, "": None,
}
AUTOML_SETS = ("TRAIN", "VALIDATION", "TEST", "UNASSIGNED")
# What counts as an image file under SRC that no row names (stats.json's unlisted files): not the
# annotations, split lists and notes beside the images.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib", ".webp", ".tif", ".tiff",
                              ".mpo", ".ppm", ".pgm", ".pbm", ".pnm", ".ico", ".tga", ".jp2", ".heic"})


def is_image_name(path: str) -> bool:
    return posixpath.splitext(path)[1].lower() in IMAGE_EXTENSIONS

REASONS = row_files.REASONS | {
    "empty_row": "the row is blank",
    "missing_path": "the row names no image",
    "missing_label": "the row has no label (or it is null or empty)",
    "bad_label": "the label is not a name or a list of names, or holds a line break",
    "missing_target": "the row has no value for a target column",
    "bad_target": "a target is not a finite number",
    "bad_split": "the split column (AutoML's set) holds none of train, validation, test, unassigned",
    "missing_file": "no file under SRC (or at the path) is the image the row names",
    "ambiguous_path": "the row's image id names several files (the same name with different extensions)",
    "duplicate_row": "an earlier row names the same image with the same labels",
    "conflicting_labels": "several rows name the same image with different labels",
    "label_not_in_labels": "the label is not in the --labels list",
    "outside_src": "the row names a file outside SRC (and outside the manifest's folder): never opened; "
                   "--allow-outside-src reads it",
}


class ManifestError(ValueError):
    """A manifest that cannot be read as asked: one line that names the file, the column and the flag."""


@dataclass(frozen=True)
class ManifestSpec:
    """How to read a manifest's rows, fixed once on the launching machine from its first record.

    `header` False: a headerless CSV in AutoML Vision's `[set,]path[,label,...]` shape (fields by
    position). `kind` is a key of prep.images.records.LABEL_KEYS: one class name per row, several
    (`multi_label`: a JSON list, or a string cut at `separator`), float `targets` (regression), or
    objects with boxes (detection: `annotations` names their format).
    """

    path: str
    format: str
    header: bool = True
    path_field: str | None = None
    label_field: str | None = None
    split_field: str | None = None
    targets: tuple[str, ...] = ()
    multi_label: bool = False
    separator: str = "|"
    annotations: str | None = None  # a detection dataset's annotations: one of prep.images.annotations.FORMATS
    allow_outside_src: bool = False  # rows may name files anywhere (--allow-outside-src): see may_read_outside
    mask_field: str | None = None  # the column naming each image's segmentation mask (--mask-field)
    instance_masks: bool = False  # COCO's objects keep their masks (--coco --masks): prep.images.masks.object_masks

    @property
    def kind(self) -> str:
        if self.mask_field or self.annotations == "voc_segmentation":
            return "segmentation"
        if self.annotations:
            return "detection"
        return "regression" if self.targets else "multi_label" if self.multi_label else "class"

    @property
    def name(self) -> str:
        """The manifest as rejected.jsonl names it: its file name."""
        return posixpath.basename(self.path)

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.path) or "."


class ManifestRow(NamedTuple):
    """One row: the image as the row names it, its class names (one unless multi-label; none for
    regression; a detection image's: those of its objects), its targets, and its split (None:
    --split or train decides). A detection image's row also has its objects (prep.images.boxes.Box,
    in pixels of the annotated image), the (width, height) the annotation claims, and its id."""

    line: int
    reference: str
    labels: tuple[str, ...] = ()
    targets: tuple[float, ...] = ()
    split: str | None = None
    objects: tuple = ()
    size: tuple[int, int] | None = None
    source_id: str = ""
    mask: str = ""  # a segmentation image's mask, as the row names it

    def same_labels(self, other: "ManifestRow") -> bool:
        return ((self.labels, self.targets, self.split, self.objects, self.mask)
                == (other.labels, other.targets, other.split, other.objects, other.mask))


def annotation_key(row: ManifestRow, kind: str) -> str:
    """What a row's label is made from, as one string: equal for two rows exactly when the records made
    of one image with them would be equal (an update compares it with the record's: prep.images.inventory).
    `kind` is the manifest's (ManifestSpec.kind)."""
    labels = sorted(row.labels) if kind == "multi_label" else list(row.labels)
    facts = [labels, list(row.targets), [list(box) for box in row.objects], list(row.size) if row.size else None,
             row.source_id] + ([row.mask] if row.mask else [])
    return content_digest(json.dumps(facts, ensure_ascii=False).encode("utf-8")).hex()


def manifest_format(path: str) -> str:
    """csv, tsv or jsonl, from the manifest's extension (after .gz)."""
    name = path[:-3] if path.endswith(".gz") else path
    fmt = _EXTENSIONS.get(posixpath.splitext(name)[1].lower())
    if fmt is None:
        raise ManifestError(f"--manifest {path}: name a .csv, .tsv or .jsonl file (optionally .gz)")
    return fmt


def _find(columns: list[str], wanted: str | None, known: tuple[str, ...], what: str, flag: str, path: str) -> str | None:
    """The column among `columns` that `wanted` names (exactly, else in any case), or the first of `known`."""
    by_lower = {}
    for c in columns:
        by_lower.setdefault(c.strip().lower(), c)
    if wanted is not None:
        if wanted in columns:
            return wanted
        if wanted.lower() in by_lower:
            return by_lower[wanted.lower()]
        raise ManifestError(f"{path}: no {what} column {wanted!r} (columns: {', '.join(columns)[:200]}); check {flag}")
    return next((by_lower[k] for k in known if k in by_lower), None)


def describe_manifest(path: str, first: list[str] | dict, fmt: str, *, path_field: str | None = None,
                      label_field: str | None = None, split_field: str | None = None,
                      targets: tuple[str, ...] = (), multi_label: bool = False, separator: str = "|",
                      mask_field: str | None = None) -> ManifestSpec:
    """The spec of a manifest from its first record (a CSV record's fields, or a JSON object) and the
    flags; ManifestError names what is missing and the flag that names it."""
    if targets and (multi_label or label_field):
        raise ManifestError("--target-field is a regression target: it does not go with --label-field or --multi-label")
    if mask_field and (targets or multi_label or label_field):
        raise ManifestError("--mask-field gives each image a mask of class ids: it does not go with --label-field, "
                            "--multi-label or --target-field")
    if isinstance(first, dict):
        columns, header = list(first), True
    else:
        columns = first
        names = {c.strip().lower() for c in columns}
        header = bool(names & set(PATH_COLUMNS + LABEL_COLUMNS + SPLIT_COLUMNS)) or any(
            f is not None and (f in columns or f.lower() in names) for f in (path_field, label_field, split_field, *targets))
    if not header:
        if path_field or label_field or split_field or targets or mask_field:
            raise ManifestError(f"{path}: its first line is a row, not a header naming columns, so there are no columns to name "
                                "with --path-field/--label-field/--split-field/--target-field: add a header row")
        return ManifestSpec(path, fmt, header=False, multi_label=multi_label, separator=separator)
    found_path = _find(columns, path_field, PATH_COLUMNS, "image", "--path-field", path)
    if found_path is None:
        raise ManifestError(f"{path}: no column names the images (looked for {', '.join(PATH_COLUMNS[:6])}, ...; "
                            f"columns: {', '.join(columns)[:200]}): name it with --path-field")
    found_split = _find(columns, split_field, SPLIT_COLUMNS, "split", "--split-field", path)
    if mask_field:
        found_mask = _find(columns, mask_field, (), "mask", "--mask-field", path)
        return ManifestSpec(path, fmt, True, found_path, None, found_split, mask_field=found_mask)
    if targets:
        found_targets = tuple(_find(columns, t, (), "target", "--target-field", path) for t in targets)
        return ManifestSpec(path, fmt, True, found_path, None, found_split, found_targets)
    known = tuple(c for c in LABEL_COLUMNS if c != found_path)
    found_label = _find(columns, label_field, known, "label", "--label-field", path)
    if found_label is None:
        raise ManifestError(f"{path}: no column holds the labels (looked for {', '.join(LABEL_COLUMNS)}; columns: "
                            f"{', '.join(columns)[:200]}): name it with --label-field, or --target-field for regression")
    return ManifestSpec(path, fmt, True, found_path, found_label, found_split, (), multi_label, separator)


# ---- rows --------------------------------------------------------------------------------------------


def _name(value) -> str | None:
    """A class name from one JSON or CSV value; None when it cannot be one."""
    if isinstance(value, str):
        name = value.strip()
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    else:
        name = json.dumps(value)
    return name


def _labels(spec: ManifestSpec, source: str, line: int, values: list) -> tuple[str, ...] | Rejection:
    """The class names of a row from its label values (one value, or AutoML's label columns)."""
    names: list[str] = []
    for value in values:
        if value is None:
            continue
        if isinstance(value, list):
            if not spec.multi_label:
                return Rejection(source, line, "bad_label", "the label is a list: pass --multi-label for several labels per image")
            parts = [_name(v) for v in value]
            if None in parts:
                return Rejection(source, line, "bad_label", "the list of labels holds something other than names or numbers")
        elif isinstance(value, dict):
            return Rejection(source, line, "bad_label", "the label is an object, not a name")
        else:
            name = _name(value)
            if name is None:
                return Rejection(source, line, "bad_label", f"the label is {row_files.json_kind(value)}, not a name")
            parts = [p.strip() for p in name.split(spec.separator)] if spec.multi_label else [name]
        names += [p for p in parts if p]
    if not names:
        return Rejection(source, line, "missing_label", "the row has no label (or it is empty)")
    for name in names:
        if "\n" in name or "\r" in name:
            return Rejection(source, line, "bad_label", f"label {name[:40]!r} holds a line break")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError as e:
            return row_files.not_utf8(source, line, e)
    if not spec.multi_label and len(names) > 1:
        return Rejection(source, line, "bad_label",
                         f"the row has {len(names)} labels ({', '.join(names)[:60]}): pass --multi-label for several labels per image")
    return tuple(sorted(set(names)))


def _target(value, column: str, source: str, line: int) -> float | Rejection:
    if value is None or isinstance(value, str) and not value.strip():
        return Rejection(source, line, "missing_target", f"no value for target {column!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return Rejection(source, line, "bad_target", f"target {column!r} is {row_files.json_kind(value)}, not a number")
    try:
        number = float(value)
    except ValueError:
        return Rejection(source, line, "bad_target", f"target {column!r} is {str(value)[:40]!r}, not a number")
    if not math.isfinite(number):
        return Rejection(source, line, "bad_target", f"target {column!r} is {value!r}, not a finite number")
    return number


def _split(value, source: str, line: int) -> str | None | Rejection:
    text = value.strip().lower() if isinstance(value, str) else None if value is None else "?"
    if text is None:
        return None
    if text not in SPLIT_VALUES:
        return Rejection(source, line, "bad_split", f"split {str(value)[:40]!r} is none of train, validation, test, unassigned")
    return SPLIT_VALUES[text]


def _reference(value, source: str, line: int) -> str | Rejection:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = json.dumps(value)  # numeric ids
    if not isinstance(value, str) or not value.strip():
        return Rejection(source, line, "missing_path", "the row names no image (its path is empty, null or not a string)")
    return value.strip()


def _names_an_image(field: str) -> bool:
    return is_image_name(field) or "/" in field or "\\" in field


def _misspelt_set(first: str, following: list[str]) -> str | None:
    """The AutoML set that a headerless row's first field, none of AUTOML_SETS, seems meant to be
    (None: the field is the image's path). A word (letters only), upper-case or before an image's
    path, that is close to a set's name or another name of a split (val, dev, ...) is a misspelt set,
    and so is any upper-case word before an image's path. A path is never a set, and a lower-case word
    before a label is an id, so rows without a set (`path,label`) keep their path."""
    before_image = bool(following) and _names_an_image(following[0])
    if not first.isalpha() or not (first.isupper() or before_image):
        return None
    alias = SPLIT_VALUES.get(first.lower())
    if alias:
        return alias.upper()
    close = difflib.get_close_matches(first.upper(), AUTOML_SETS, n=1, cutoff=0.8)
    if close:
        return close[0]
    if first.isupper() and before_image:
        return max(AUTOML_SETS, key=lambda s: difflib.SequenceMatcher(None, first, s).ratio())
    return None


def row_of(spec: ManifestSpec, source: str, line: int, fields: dict | list) -> ManifestRow | Rejection:
    """One row from its fields: a dict by column, or a headerless record's list. A row rejected once
    it names its image carries that image (Rejection.reference), so the job can name the image."""
    bad_set = None
    if isinstance(fields, list):  # AutoML Vision: [set,]path[,label,...]
        values = [f.strip() for f in fields]
        split_value = None
        if values and values[0].upper() in AUTOML_SETS:
            split_value = values.pop(0)
        elif values and (meant := _misspelt_set(values[0], values[1:])):
            wrong = values.pop(0)
            bad_set = Rejection(source, line, "bad_split", f"set {wrong[:40]!r} is none of {', '.join(AUTOML_SETS)} "
                                                           f"(the closest: {meant})")
        path_value = values.pop(0) if values else None
        label_values: list = values
        target_values: list = []
    else:
        split_value = fields.get(spec.split_field) if spec.split_field else None
        path_value = fields.get(spec.path_field)
        label_values = [fields.get(spec.label_field)] if spec.label_field else []
        target_values = [fields.get(t) for t in spec.targets]
    reference = _reference(path_value, source, line)
    if isinstance(reference, Rejection):
        return reference
    if spec.mask_field:
        row = bad_set or _masked(source, line, reference, split_value, fields.get(spec.mask_field))
    else:
        row = bad_set or _labelled(spec, source, line, reference, split_value, label_values, target_values)
    return dataclasses.replace(row, reference=reference) if isinstance(row, Rejection) else row


def _masked(source: str, line: int, reference: str, split_value, mask_value) -> ManifestRow | Rejection:
    """The row that names `reference` and its mask (--mask-field), with its split."""
    split = _split(split_value, source, line)
    if isinstance(split, Rejection):
        return split
    if not isinstance(mask_value, str) or not mask_value.strip():
        return Rejection(source, line, "missing_mask", "the row names no mask (its mask is empty, null or not a string)")
    return ManifestRow(line, reference, split=split, mask=mask_value.strip())


def _labelled(spec: ManifestSpec, source: str, line: int, reference: str, split_value, label_values: list,
              target_values: list) -> ManifestRow | Rejection:
    """The row that names `reference`, with its split and its labels or targets; or the rejection of the
    first of them that is bad."""
    split = _split(split_value, source, line)
    if isinstance(split, Rejection):
        return split
    if spec.targets:
        targets = []
        for column, value in zip(spec.targets, target_values):
            number = _target(value, column, source, line)
            if isinstance(number, Rejection):
                return number
            targets.append(number)
        return ManifestRow(line, reference, (), tuple(targets), split)
    labels = _labels(spec, source, line, label_values)
    if isinstance(labels, Rejection):
        return labels
    return ManifestRow(line, reference, labels, (), split)


def _csv_rows(spec: ManifestSpec, blocks, source: str) -> Iterator[ManifestRow | Rejection]:
    header: list[str] | None = None
    for item in row_files.csv_records(blocks, source, spec.format):
        if isinstance(item, Rejection):
            yield item
            continue
        line, record = item
        if header is None and spec.header:
            header = record
            continue
        if not record or not any(f.strip() for f in record):
            yield Rejection(source, line, "empty_row", REASONS["empty_row"])
            continue
        if header is not None:
            if len(record) != len(header):
                yield Rejection(source, line, "bad_csv", f"the record has {len(record)} fields, the header {len(header)}")
                continue
            yield row_of(spec, source, line, dict(zip(reversed(header), reversed(record))))
        else:
            yield row_of(spec, source, line, record)


def _json_rows(spec: ManifestSpec, blocks, source: str, first_line: int) -> Iterator[ManifestRow | Rejection]:
    n = first_line
    for block in blocks:
        if isinstance(block, Rejection):
            yield block
            return
        for raw in row_files.lines_of(block):
            obj = row_files.json_object(source, n, raw)
            if obj is None:
                yield Rejection(source, n, "empty_row", REASONS["empty_row"])
            else:
                yield obj if isinstance(obj, Rejection) else row_of(spec, source, n, obj)
            n += 1


def manifest_items(spec: ManifestSpec, start: int = 0, end: int | None = None,
                   first_line: int = 1) -> Iterator[ManifestRow | Rejection]:
    """The rows of (a byte range of) the manifest, each a ManifestRow or a rejection naming its line;
    a manifest that cannot be read (from some point) is one rejection for the rest."""
    source = spec.name
    produced = False
    try:
        with row_files.open_input(spec.path) as f:
            if start > 0 and row_files.other_bom(f.read(4)):
                return
            blocks = row_files.without_bom(row_files.line_blocks(f, start, end), source, start)
            rows = _json_rows(spec, blocks, source, first_line) if spec.format == "jsonl" else _csv_rows(spec, blocks, source)
            for item in rows:
                produced = True
                yield item
    except row_files.READ_ERRORS as e:
        produced = True
        yield Rejection(source, 0, *row_files.read_error(e))
    except Exception as e:  # no single input may stop the job: prep.core.failures
        produced = True
        yield Rejection(source, 0, CONVERSION_ERROR, f"{unforeseen(e)}; rows after it are lost")
    if not produced and start == 0:
        yield Rejection(source, 0, "empty_file", "the manifest holds no row")


def first_record(path: str, fmt: str) -> list[str] | dict:
    """The manifest's first record, for `describe_manifest`: read on the launching machine, the only
    part of the inputs it reads. ManifestError when there is none to read; UnreadableFile
    (prep.core.launcher_reads) when the file cannot be read."""
    spec = ManifestSpec(path, fmt)
    try:
        with row_files.open_input(path, on_launcher=True) as f:
            blocks = row_files.without_bom(row_files.line_blocks(f, 0, None), spec.name, 0)
            if fmt == "jsonl":
                for block in blocks:
                    if isinstance(block, Rejection):
                        raise ManifestError(f"--manifest {path}: {block.detail}")
                    for n, raw in enumerate(row_files.lines_of(block), 1):
                        obj = row_files.json_object(spec.name, n, raw)
                        if isinstance(obj, dict):
                            return obj
                        if isinstance(obj, Rejection):
                            raise ManifestError(f"--manifest {path}: line {n}: {obj.detail}")
            else:
                for item in row_files.csv_records(blocks, spec.name, fmt):
                    if isinstance(item, Rejection):
                        raise ManifestError(f"--manifest {path}: line {item.line}: {item.detail}")
                    if item[1]:
                        return item[1]
    except row_files.READ_ERRORS as e:
        raise ManifestError(f"--manifest {path}: {row_files.read_error(e)[1]}") from None
    raise ManifestError(f"--manifest {path}: the manifest holds no row")


# ---- finding each row's image --------------------------------------------------------------------------


def _is_absolute(reference: str) -> bool:
    return "://" in reference or reference.startswith("/")


def _under(path: str, root: str) -> str | None:
    """`path` relative to `root` (both normalised), or None when it is not under it."""
    if root == "/":
        return path[1:] if path.startswith("/") else None
    root = root.rstrip("/")
    if root in ("", "."):
        return None if _is_absolute(path) or path.startswith("../") or path == ".." else path
    return path[len(root) + 1:] if path.startswith(root + "/") else None


def _normal(path: str) -> str:
    if "://" in path:
        scheme, rest = path.split("://", 1)
        return f"{scheme}://{posixpath.normpath(rest)}"
    return posixpath.normpath(path)


def candidate_keys(reference: str, src: str, manifest_folder: str) -> tuple[tuple[str, ...], str | None]:
    """Where a row's image may be: (paths relative to SRC to look for, in order of preference;
    the path to read it at when it lies outside SRC, else None)."""
    reference = reference.replace("\\", "/") if "/" not in reference else reference
    src = _normal(src)
    if _is_absolute(reference):
        full = _normal(reference)
        relative = _under(full, src)
        return ((relative,), None) if relative is not None else ((), full)
    keys = []
    for base in (manifest_folder, src):
        relative = _under(_normal(posixpath.join(_normal(base), reference)), src)
        if relative is not None and relative not in keys:
            keys.append(relative)
    if not keys:
        return (), _normal(posixpath.join(_normal(manifest_folder), reference))
    return tuple(keys), None


def may_read_outside(path: str, spec: ManifestSpec) -> bool:
    """Whether a row may name `path` (normalised, as `candidate_keys` gives it), a file outside SRC:
    anywhere when the user said so (--allow-outside-src), else only in a manifest's own folder; an
    annotation file's rows (COCO, VOC, boxes) only under SRC."""
    if spec.allow_outside_src:
        return True
    return not spec.annotations and _under(path, _normal(spec.folder)) is not None


def outside_detail(reference: str, path: str, spec: ManifestSpec) -> str:
    """The rejected.jsonl detail of a row that names a file outside SRC (`path`, normalised)."""
    where = "SRC" if spec.annotations else "SRC and the manifest's folder"
    shown = "" if reference == path else f" ({path})"
    return f"{reference!r}{shown} is outside {where}: not read (--allow-outside-src reads files elsewhere)"


def join_inside(root: str, relative: str) -> tuple[str, bool]:
    """`relative` joined to `root`, `..` resolved, and whether it is still inside `root`."""
    full = _normal(posixpath.join(_normal(root), relative))
    return full, _under(full, _normal(root)) is not None


def file_keys(relative: str) -> tuple[str, ...]:
    """The keys a file under SRC answers to: its path relative to SRC, and that path without its
    extension (for rows that name images by id)."""
    stem, ext = posixpath.splitext(relative)
    return (relative, stem) if ext and stem and not stem.endswith("/") else (relative,)
