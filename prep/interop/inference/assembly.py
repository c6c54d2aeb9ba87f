"""Schema inference for TFRecords prep did not write: what every key of the records holds, from the records.

`prep schema infer` lists the files, reads a bounded sample of every file (its first records, plus a few
records found at evenly spaced offsets of a large uncompressed file), and turns the statistics of each
key into a schema feature that parses every record it saw: a fixed shape only when every record had the
same number of values, a default when some records lack the key, variable length otherwise. Bytes are
sniffed: images by their magic bytes and a Pillow header read (a few decoded in full), UTF-8 text, or
opaque bytes. `--full` (beam_jobs/infer.py) runs the same statistics over every record.

Per-file problems (not TFRecord framing, a bad CRC, SequenceExample records) leave that file out and are
reported; when no file is usable the problems are the error. Pure Python apart from Beam's FileSystems
(local or gs://) and Pillow, so the functions run the same on the launcher and on Beam workers.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import io
import itertools
import os
import posixpath
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from prep.core.splits import DEFAULT_SPLIT
from prep.images.imaging import sniff_format
from prep.jobs.results import LABELS_FILE, rejected_jsonl
from prep.records import tfrecord_io
from schemas import DatasetSchema, Feature, ImageInfo, Provenance, Shard, Split, Vocabulary

LABELS_VOCABULARY = "labels"
# Keys proposed as the label, best first, when --label-key is not given.
LABEL_NAMES = ("label", "labels", "class", "class_id", "category", "target", "y")
MAX_CLASSES = 10_000  # more distinct values than this is not a class label
MAX_CLASS_NAME_BYTES = 256
DECODE_SAMPLES = 3  # images per feature and file decoded in full with Pillow (the rest: header only)
VALUES_CHECKED = 4  # values per record and key that are sniffed (image? text?)
MAX_PROBE_BYTES = 8 * 2**20  # largest window read at one place inside a file while sampling
# Tokens in file names that name a split, and the split they mean (TFDS's names).
SPLIT_WORDS = {
    "train": "train", "training": "train",
    "validation": "validation", "valid": "validation", "val": "validation", "dev": "validation",
    "eval": "validation", "evaluation": "validation",
    "test": "test", "testing": "test",
}
# Files of a dataset directory that are never shards: prep's and TFDS's metadata.
METADATA_FILES = ("schema.json", "stats.json", "rejected.jsonl", "dataset_info.json", "features.json")
_TFDS_SHARD = re.compile(r"^[^-]+-(?P<split>[A-Za-z0-9][A-Za-z0-9_]*)\.tfrecord-\d{5}-of-\d{5}$")
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*$")
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TF_IMAGE_FORMATS = ("jpeg", "png", "gif", "bmp")  # what tf.io.decode_image decodes


class InferenceError(ValueError):
    """The files cannot be described by a schema; the message names the files and what to do."""


@dataclass(frozen=True)
class SampleOptions:
    """How much of each file sampled inference reads: the first `head_records` records (stopping after
    `head_bytes` bytes), then, in an uncompressed file that is longer, `probes` windows of `probe_bytes`
    bytes at evenly spaced offsets, up to `probe_records` records each. Bytes are uncompressed bytes."""

    head_records: int = 100
    head_bytes: int = 256 * 1024
    probes: int = 4
    probe_bytes: int = 64 * 1024
    probe_records: int = 10


@dataclass(frozen=True)
class InferOptions:
    """The options of `prep schema infer`, built once by the CLI.

    `patterns`: files, globs or directories (local or gs://); `out`: the dataset directory that gets
    schema.json (None: the folder holding all files); `split_globs`: (split, glob) pairs that override
    split detection from file names; `label_key`: the label ("" for none, None to propose one).
    """

    patterns: tuple[str, ...]
    out: str | None = None
    name: str | None = None
    label_key: str | None = None
    split_globs: tuple[tuple[str, str], ...] = ()
    full: bool = False
    sample: SampleOptions = SampleOptions()
    created: str = ""
    command: str = "schema infer"


# ---- files ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileEntry:
    """One input file: `path` as FileSystems knows it, `relative` to the dataset directory, `size` in
    bytes on disk, and its `split`."""

    path: str
    relative: str
    size: int | None
    split: str


@dataclass(frozen=True)
class FileSet:
    out: str
    entries: tuple[FileEntry, ...]


def _is_remote(path: str) -> bool:
    return "://" in path


def _absolute(path: str) -> str:
    return path if _is_remote(path) else os.path.abspath(path)


def _is_metadata(relative: str) -> bool:
    parts = relative.split("/")
    name = parts[-1]
    return (any(p.startswith(".") for p in parts) or parts[0] == "vocab" or name in METADATA_FILES
            or name.endswith(".labels.txt") or ".tmp" in name)


def _match(pattern: str) -> list[tuple[str, int | None]]:
    """(path, size) of every file `pattern` names: a file, a glob, or every file below a directory."""
    from apache_beam.io.filesystems import FileSystems

    pattern = _absolute(pattern)
    candidates = [pattern]
    if not _is_remote(pattern) and os.path.isdir(pattern):
        candidates = [FileSystems.join(pattern, "**")]
    elif _is_remote(pattern) and not any(c in pattern for c in "*?["):
        candidates.append(FileSystems.join(pattern.rstrip("/"), "**"))  # a bucket folder: every object below
    for candidate in candidates:
        try:
            metadata = FileSystems.match([candidate])[0].metadata_list
        except Exception as e:  # Beam wraps every filesystem failure in its own error types
            raise InferenceError(f"cannot list {candidate!r}: {e}") from None
        found = [(m.path, m.size_in_bytes) for m in metadata if _is_remote(m.path) or os.path.isfile(m.path)]
        if found:
            return found
    return []


def common_folder(paths: Sequence[str]) -> str:
    """The deepest folder holding every path (local, or in one bucket)."""
    if not any(_is_remote(p) for p in paths):
        return os.path.commonpath([os.path.dirname(p) for p in paths])
    prefix = os.path.commonprefix([p.rsplit("/", 1)[0] + "/" for p in paths])
    return prefix[: prefix.rfind("/")]  # cut at the end of the last whole folder name


def relative_to(path: str, out: str) -> str | None:
    """`path` relative to the folder `out`, with '/' separators, or None when it is not inside it."""
    if _is_remote(path) != _is_remote(out):
        return None
    if _is_remote(path):
        root = out.rstrip("/") + "/"
        return path[len(root):] if path.startswith(root) else None
    root = os.path.abspath(out)
    path = os.path.abspath(path)
    if not path.startswith(root.rstrip(os.sep) + os.sep):
        return None
    return os.path.relpath(path, root).replace(os.sep, "/")


def split_of_name(relative: str) -> str | None:
    """The split a file's name says it belongs to, or None.

    TFDS's `<dataset>-<split>.tfrecord-00000-of-00004` gives its split as it is; otherwise the words
    of the file name (then of its folders, nearest first) that name a split: `train-00000-of-00008`,
    `data_validation.tfrecord.gz`, `eval/part-3` (synonyms map to TFDS's train, validation and test).
    """
    parts = relative.split("/")
    tfds = _TFDS_SHARD.match(parts[-1])
    if tfds:
        return tfds.group("split")
    for part in reversed(parts):
        words = {SPLIT_WORDS[w] for w in re.split(r"[-_.\s]+", part.lower()) if w in SPLIT_WORDS}
        if len(words) == 1:
            return words.pop()
        if len(words) > 1:
            return None
    return None


def parse_split_glob(text: str) -> tuple[str, str]:
    """'NAME=GLOB' -> (name, glob); raises ValueError with a message a user can act on."""
    name, sep, glob = text.partition("=")
    name = name.strip()
    if not sep or not glob:
        raise ValueError(f"{text!r} is not NAME=GLOB (e.g. train='*-train-*')")
    if not _SPLIT_NAME.match(name):
        raise ValueError(f"split name {name!r} must be letters, digits, '_' and '.'")
    return name, glob


def _split_from_globs(relative: str, path: str, globs: Sequence[tuple[str, str]]) -> str | None:
    names = {name for name, glob in globs
             if any(fnmatch.fnmatchcase(p, glob) for p in (relative, posixpath.basename(relative), path))}
    if len(names) > 1:
        raise InferenceError(f"{relative} matches the globs of several splits ({', '.join(sorted(names))}): "
                             "make the --split globs exclusive")
    return names.pop() if names else None


def locate_files(patterns: Sequence[str], out: str | None,
                 split_globs: Sequence[tuple[str, str]] = ()) -> FileSet:
    """Every file the patterns name, where it sits in the dataset directory `out`, and its split.

    Metadata files (schema.json, TFDS's JSON, vocab/, hidden files) are not shards and are skipped.
    Splits come from `split_globs` when given, else from the names; files that no name places all go to
    'train', but a mix of placed and unplaced files is an error (name them with --split).
    """
    if not patterns:
        raise InferenceError("no files given: name the TFRecord files, a glob or their folder")
    found: dict[str, int | None] = {}
    for pattern in patterns:
        matched = _match(pattern)
        if not matched:
            raise InferenceError(f"{pattern!r} matches no files")
        found.update(matched)
    paths = sorted(found)
    out = (out.rstrip("/") or "/") if out else common_folder(paths)
    entries, outside = [], []
    for path in paths:
        relative = relative_to(path, out)
        if relative is None:
            outside.append(path)
            continue
        if _is_metadata(relative):
            continue
        entries.append((path, relative))
    if outside:
        raise InferenceError(
            f"{outside[0]} is not inside {out}{f' (and {len(outside) - 1} more)' if len(outside) > 1 else ''}: "
            "schema.json lists shard files relative to its own folder, so -o must be a folder that holds every "
            "file (leave -o out to use the folder they share)")
    if not entries:
        raise InferenceError(f"{', '.join(patterns)}: no data files (only metadata such as schema.json)")
    if split_globs:
        splits = [_split_from_globs(rel, path, split_globs) for path, rel in entries]
        unplaced = [rel for (_, rel), split in zip(entries, splits) if split is None]
        if unplaced:
            raise InferenceError(f"{unplaced[0]} matches no --split glob{f' (nor do {len(unplaced) - 1} more)' if len(unplaced) > 1 else ''}: "
                                 "add a glob for it, or leave it out of the file patterns")
    else:
        splits = [split_of_name(rel) for _, rel in entries]
        if all(s is None for s in splits):
            splits = [DEFAULT_SPLIT] * len(splits)
        elif None in splits:
            unplaced = [rel for (_, rel), split in zip(entries, splits) if split is None]
            placed = sorted({s for s in splits if s})
            raise InferenceError(
                f"file names place some files in splits ({', '.join(placed)}) but not {unplaced[0]}"
                f"{f' and {len(unplaced) - 1} more' if len(unplaced) > 1 else ''}: say which split each file is in "
                "with --split NAME=GLOB (e.g. --split train='*train*' --split test='*test*')")
    return FileSet(out, tuple(FileEntry(path, rel, found[path], split) for (path, rel), split in zip(entries, splits)))


# ---- records -------------------------------------------------------------------------------------------


class RecordProblem(Exception):
    """A record that is framed well but is not a `tf.train.Example`."""

    def __init__(self, problem: str, reason: str) -> None:
        super().__init__(problem, reason)
        self.problem, self.reason = problem, reason


@functools.cache
def _record_class():
    """A protobuf class that parses both `tf.train.Example` and `tf.train.SequenceExample`.

    example.proto's messages, declared here so that Beam workers parse records without importing
    TensorFlow: field 1 is Example.features (SequenceExample.context, the same type), field 2 is
    SequenceExample.feature_lists, which an Example never has. Parsing is protobuf's C (upb) code.
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="prep_probe/example.proto", package="prep_probe", syntax="proto3")

    def message(name: str, parent=None):
        return (parent.nested_type if parent else proto.message_type).add(name=name)

    def repeated(m, name: str, number: int, kind: int, type_name: str | None = None) -> None:
        m.field.add(name=name, number=number, type=kind, type_name=type_name, label=F.LABEL_REPEATED)

    def optional(m, name: str, number: int, kind: int, type_name: str | None = None, oneof: int | None = None) -> None:
        m.field.add(name=name, number=number, type=kind, type_name=type_name, label=F.LABEL_OPTIONAL, oneof_index=oneof)

    def map_field(m, name: str, value_type: str) -> None:
        entry = message(name.title().replace("_", "") + "Entry", m)
        entry.options.map_entry = True
        optional(entry, "key", 1, F.TYPE_STRING)
        optional(entry, "value", 2, F.TYPE_MESSAGE, value_type)
        repeated(m, name, 1, F.TYPE_MESSAGE, f".prep_probe.{m.name}.{entry.name}")

    for name, kind in (("BytesList", F.TYPE_BYTES), ("FloatList", F.TYPE_FLOAT), ("Int64List", F.TYPE_INT64)):
        repeated(message(name), "value", 1, kind)
    feature = message("Feature")
    feature.oneof_decl.add(name="kind")
    for number, name in enumerate(("bytes_list", "float_list", "int64_list"), 1):
        optional(feature, name, number, F.TYPE_MESSAGE, ".prep_probe." + name.title().replace("_", ""), oneof=0)
    map_field(message("Features"), "feature", ".prep_probe.Feature")
    repeated(message("FeatureList"), "feature", 1, F.TYPE_MESSAGE, ".prep_probe.Feature")
    map_field(message("FeatureLists"), "feature_list", ".prep_probe.FeatureList")
    record = message("Record")
    optional(record, "features", 1, F.TYPE_MESSAGE, ".prep_probe.Features")
    optional(record, "feature_lists", 2, F.TYPE_MESSAGE, ".prep_probe.FeatureLists")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prep_probe.Record"))


def parse_record(data: bytes):
    """The record's `features` map (key -> Feature with a bytes_list, float_list or int64_list).

    Raises RecordProblem for a SequenceExample or for bytes that are not an Example at all.
    """
    from google.protobuf import message, unknown_fields

    try:
        record = _record_class().FromString(data)
    except message.DecodeError:
        raise RecordProblem("is not a tf.train.Example (it does not parse as one)", "not_example") from None
    if record.HasField("feature_lists"):
        raise RecordProblem(
            "is a tf.train.SequenceExample (it has feature_lists), which prep does not read: convert the records "
            "to tf.train.Example, e.g. with one key per feature list", "sequence_example")
    if len(unknown_fields.UnknownFieldSet(record)):
        raise RecordProblem("is not a tf.train.Example (it has fields an Example does not have)", "not_example")
    return record.features.feature


# ---- statistics ----------------------------------------------------------------------------------------


def _sniff_bytes(value: bytes) -> str:
    """'image', 'text' or 'bytes' for one value, from its first bytes (and UTF-8 validity)."""
    if sniff_format(value[:16]) is not None:
        return "image"
    return _text_or_bytes(value)


def _text_or_bytes(value: bytes) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes"
    return "bytes" if _NOT_TEXT.search(text) else "text"


def _probe_image(value: bytes, decode: bool) -> tuple[str, int, int, str] | None:
    """(format, width, height, Pillow mode) of encoded image bytes, or None when Pillow cannot read
    them; with `decode` the pixels are decoded in full, not only the header."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(value)) as im:
            if decode:
                im.load()
            return (im.format or "").lower().replace("mpo", "jpeg"), im.width, im.height, im.mode
    except Exception:  # Pillow raises many types for bad data (OSError, SyntaxError, ValueError, ...)
        return None


@dataclass
class FeatureStats:
    """What the records read say about one key. Counts are records; mergeable (Beam combines them).

    `low`/`high` bound the number of values of a record that has the key; `kinds` are the value lists
    seen ("none" for a Feature with no list); `sniffed` counts values by what they hold (image, text,
    bytes), until the answer can only be "bytes"; `distinct` holds the distinct values of records with
    exactly one value (None once there are more than MAX_CLASSES, or one is no plausible class name);
    `images` counts image formats, `sizes` the distinct (width, height) (None once there are two),
    `modes` the Pillow modes.
    """

    present: int = 0
    kinds: set = field(default_factory=set)
    low: int = 2**63
    high: int = -1
    sniffed: Counter = field(default_factory=Counter)
    images: Counter = field(default_factory=Counter)
    bad_images: int = 0
    sizes: set | None = field(default_factory=set)
    modes: Counter = field(default_factory=Counter)
    decoded: int = 0
    distinct: set | None = field(default_factory=set)

    @property
    def values(self) -> tuple[int, int] | None:
        """(min, max) values per record that has the key, or None before any record."""
        return None if self.high < 0 else (self.low, self.high)

    @property
    def opaque(self) -> bool:
        """True once the values can only be described as opaque bytes (sniffing more changes nothing)."""
        return "bytes" in self.sniffed or len(self.sniffed) > 1

    def add_values(self, kind: str | None, values) -> None:
        """Adds the values of one record that has the key; `kind` is the Feature's list (None: none)."""
        self.present += 1
        if kind not in self.kinds:
            self.kinds.add(kind or "none")
        n = len(values)
        if n < self.low:
            self.low = n
        if n > self.high:
            self.high = n
        if kind == "bytes_list" and not self.opaque:
            self._add_bytes(values)
        if n == 1 and self.distinct is not None and kind != "float_list":
            self._add_distinct(values[0])

    def _add_distinct(self, value) -> None:
        if isinstance(value, bytes) and (len(value) > MAX_CLASS_NAME_BYTES or b"\n" in value or not value):
            self.distinct = None
            return
        self.distinct.add(value)
        if len(self.distinct) > MAX_CLASSES:
            self.distinct = None

    def _add_bytes(self, values) -> None:
        for value in itertools.islice(values, VALUES_CHECKED):
            kind = _sniff_bytes(value)
            if kind == "image":
                probe = _probe_image(value, decode=self.decoded < DECODE_SAMPLES)
                if probe is None:
                    self.bad_images += 1
                    kind = _text_or_bytes(value)
                else:
                    self.decoded += 1
                    fmt, width, height, mode = probe
                    self.images[fmt] += 1
                    self.modes[mode] += 1
                    if self.sizes is not None:
                        self.sizes.add((width, height))
                        if len(self.sizes) > 1:
                            self.sizes = None
            self.sniffed[kind] += 1

    def merge(self, other: "FeatureStats") -> None:
        self.present += other.present
        self.kinds |= other.kinds
        self.low, self.high = min(self.low, other.low), max(self.high, other.high)
        self.sniffed += other.sniffed
        self.images += other.images
        self.bad_images += other.bad_images
        self.modes += other.modes
        self.decoded += other.decoded
        self.sizes = None if self.sizes is None or other.sizes is None or len(self.sizes | other.sizes) > 1 else self.sizes | other.sizes
        self.distinct = (None if self.distinct is None or other.distinct is None
                         or len(self.distinct | other.distinct) > MAX_CLASSES else self.distinct | other.distinct)


@dataclass
class RecordStats:
    """Statistics of every key over the records read, plus (id, name) pairs of keys `K` that have a
    name key beside them (`K/name` or `K_name`, as prep and TFDS-style records do), for class names."""

    records: int = 0
    features: dict[str, FeatureStats] = field(default_factory=dict)
    names: dict[str, set | None] = field(default_factory=dict)
    _pairs: list | None = field(default=None, repr=False, compare=False)  # (key, name key), from the keys seen

    def add(self, data: bytes) -> None:
        """Adds one serialised record; RecordProblem when it is not a tf.train.Example."""
        features = parse_record(data)
        self.records += 1
        stats = self.features
        for key in features:  # keys then lookups: faster than items() on protobuf's C map
            feature = features[key]
            feature_stats = stats.get(key)
            if feature_stats is None:
                feature_stats = stats[key] = FeatureStats()
                self._pairs = None
            kind = feature.WhichOneof("kind")
            feature_stats.add_values(kind, getattr(feature, kind).value if kind else ())
        if self._pairs is None:
            self._pairs = [(key, name) for key in stats for name in (f"{key}/name", f"{key}_name") if name in stats]
        for key, name_key in self._pairs:
            if key in features and name_key in features:
                self._add_name(key, features[key], features[name_key])

    def _add_name(self, key: str, ids, names) -> None:
        pairs = self.names.setdefault(key, set())
        if (pairs is None or ids.WhichOneof("kind") != "int64_list" or names.WhichOneof("kind") != "bytes_list"
                or len(ids.int64_list.value) != 1 or len(names.bytes_list.value) != 1):
            return
        pairs.add((ids.int64_list.value[0], names.bytes_list.value[0]))
        if len(pairs) > MAX_CLASSES:
            self.names[key] = None

    def merge(self, other: "RecordStats") -> "RecordStats":
        self.records += other.records
        for key, stats in other.features.items():
            if key in self.features:
                self.features[key].merge(stats)
            else:
                self.features[key] = stats
        for key, pairs in other.names.items():
            mine = self.names.get(key, set())
            self.names[key] = None if mine is None or pairs is None else mine | pairs
        self._pairs = None
        return self


# ---- reading files -------------------------------------------------------------------------------------


@dataclass
class FileScan:
    """What reading one file found: `records` read, `complete` when read to its end (so `records` is its
    count), `problem`/`reason` when the file is left out, and the records' statistics. `samples` holds
    the first records as they are, when asked for (to check them against a given spec)."""

    entry: FileEntry
    compression: str
    records: int = 0
    complete: bool = False
    problem: str | None = None
    reason: str | None = None
    stats: RecordStats = field(default_factory=RecordStats)
    samples: list[bytes] = field(default_factory=list)
    head_bytes: int = 0  # bytes of the uncompressed stream the first records took
    largest: int = 0  # bytes of the largest record read


def _problem_of(error: tfrecord_io.RecordError, compression: str) -> tuple[str, str]:
    if error.index == 0 and compression == "none" and error.kind in ("length_crc", "bad_length", "truncated_header"):
        return ("not TFRecord framing: its first bytes are not a TFRecord record header (is it a TFRecord file? "
                "a compressed one would have been recognised)", "not_tfrecord")
    if error.kind in ("length_crc", "data_crc"):
        return f"bad CRC at record {error.index} (byte {error.offset}): the file is damaged; write it again", "bad_crc"
    return f"damaged at record {error.index} (byte {error.offset}): {error.problem}", "damaged"


def _add_records(scan: FileScan, records: Iterable[bytes], keep: int) -> None:
    for data in records:
        try:
            scan.stats.add(data)
        except RecordProblem as e:
            raise RecordProblem(f"record {scan.records} {e.problem}", e.reason) from None
        if len(scan.samples) < keep:
            scan.samples.append(data)
        scan.records += 1
        scan.largest = max(scan.largest, len(data))


def scan_file(entry: FileEntry, sample: SampleOptions | None, keep: int = 0) -> FileScan:
    """Reads one file: every record (`sample` None) or a sample of it; never raises for a bad file, the
    scan says what is wrong with it instead."""
    try:
        compression = tfrecord_io.detect_compression(entry.path)
    except Exception as e:  # noqa: BLE001 - an unreadable file is reported, not fatal
        return FileScan(entry, "none", problem=f"cannot read it: {e}", reason="unreadable")
    scan = FileScan(entry, compression)
    try:
        with contextlib.closing(tfrecord_io.read_records(entry.path, compression)) as records:
            if sample is None:
                _add_records(scan, records, keep)
                scan.complete = True
            else:
                _add_records(scan, _head(records, sample, scan), keep)
        if not scan.complete and compression == "none" and entry.size:
            _add_records(scan, _probe_records(entry.path, scan.head_bytes, entry.size, sample, scan.largest), 0)
    except tfrecord_io.RecordError as e:
        scan.problem, scan.reason = _problem_of(e, compression)
    except RecordProblem as e:
        scan.problem, scan.reason = e.problem, e.reason
    except OSError as e:
        scan.problem, scan.reason = f"cannot read it: {e}", "unreadable"
    return scan


def _head(records: Iterator[bytes], sample: SampleOptions, scan: FileScan) -> Iterator[bytes]:
    """The first records, within the sample's limits; marks the scan complete if that is all of them."""
    taken = 0
    for data in records:
        yield data
        taken += 1
        scan.head_bytes += len(data) + 16
        if taken >= sample.head_records or scan.head_bytes >= sample.head_bytes:
            break
    else:
        scan.complete = True
        return
    if next(records, None) is None:
        scan.complete = True


def _probe_records(path: str, head: int, size: int, sample: SampleOptions, largest: int) -> Iterator[bytes]:
    """Records found in windows at evenly spaced offsets after the first `head` bytes of an uncompressed
    file of `size` bytes, the last window ending at the end of the file. A window is `probe_bytes`, or
    large enough for two of the `largest` records seen so far (up to MAX_PROBE_BYTES)."""
    from apache_beam.io.filesystems import FileSystems

    window = min(max(sample.probe_bytes, 2 * (largest + 16)), MAX_PROBE_BYTES)
    if size <= head + window or not sample.probes:
        return
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        for i in range(1, sample.probes + 1):
            offset = head + (size - head - window) * i // sample.probes
            handle.seek(offset)
            yield from itertools.islice(_records_in(handle.read(window)), sample.probe_records)


def _records_in(window: bytes) -> Iterator[bytes]:
    """The whole records in a window cut from anywhere in an uncompressed TFRecord file.

    The first record start is where a length header's CRC matches and the data's CRC matches too (a
    chance match of both is ~2**-64); from there records follow one another until the window ends or a
    record does not check out.
    """
    crc = tfrecord_io._crc32c_fn()
    masked = tfrecord_io._masked_crc
    header = tfrecord_io._HEADER
    end = len(window)

    def record_at(pos: int) -> bytes | None:
        if pos + 16 > end:
            return None
        length, length_crc = header.unpack_from(window, pos)
        if length + pos + 16 > end or masked(crc(window[pos:pos + 8])) != length_crc:
            return None
        data = window[pos + 12: pos + 12 + length]
        if masked(crc(data)) != int.from_bytes(window[pos + 12 + length: pos + 16 + length], "little"):
            return None
        return data

    pos = 0
    while pos + 16 <= end:
        # A length below 2**40 has three zero high bytes: jump to the places that could be a header.
        found = window.find(b"\x00\x00\x00", pos + 5)
        if found < 0:
            return
        pos = found - 5
        data = record_at(pos)
        if data is not None:
            break
        pos += 1
    else:
        return
    while data is not None:
        yield data
        pos += len(data) + 16
        data = record_at(pos)


def scan_files(entries: Sequence[FileEntry], sample: SampleOptions | None, keep: int = 0,
               threads: int = 16) -> list[FileScan]:
    """Scans files in parallel threads (reading is I/O: gs:// above all), in the order given."""
    from concurrent.futures import ThreadPoolExecutor

    if len(entries) <= 1:
        return [scan_file(e, sample, keep) for e in entries]
    with ThreadPoolExecutor(max_workers=min(threads, len(entries))) as pool:
        return list(pool.map(lambda e: scan_file(e, sample, keep), entries))


# ---- from statistics to a schema -----------------------------------------------------------------------


@dataclass(frozen=True)
class Inference:
    """A schema and what goes with it: files to write beside it ({relative path: bytes}), the files
    left out as (relative path, reason, problem), and notes for the person who ran it."""

    schema: DatasetSchema
    files: dict[str, bytes]
    left_out: tuple[tuple[str, str, str], ...] = ()
    notes: tuple[str, ...] = ()


_DTYPES = {"int64_list": "int64", "float_list": "float32", "bytes_list": "string"}
_ZERO = {"int64": 0, "float32": 0.0, "string": ""}


def _presence(present: int, records: int) -> float:
    """The fraction present, rounded for people to read, never rounded up to 1 when some lack it."""
    fraction = round(present / records, 6) if records else 0.0
    return min(fraction, 0.999999) if present < records else 1.0


def _image_info(stats: FeatureStats, exact: bool) -> ImageInfo:
    formats = sorted(stats.images)
    grey = {"1", "L", "I", "I;16", "I;16B", "I;16L", "F"}
    alpha = {"RGBA", "LA", "PA", "RGBa", "La"}
    modes = set(stats.modes)
    channels = 1 if modes <= grey else 4 if modes <= alpha else 3
    size = next(iter(stats.sizes)) if exact and stats.sizes and len(stats.sizes) == 1 else (None, None)
    return ImageInfo(formats[0] if len(formats) == 1 else "mixed", channels, size[1], size[0])


def _encoding(stats: FeatureStats, dtype: str, exact: bool) -> tuple[str, ImageInfo | None, str]:
    """(encoding, image info, description) of a feature from its sniffed values."""
    if dtype != "string":
        return "number", None, ""
    sniffed = stats.sniffed
    if sniffed and set(sniffed) == {"image"}:
        formats = set(stats.images)
        if formats <= set(_TF_IMAGE_FORMATS):
            return "image", _image_info(stats, exact), "encoded images"
        return "bytes", None, f"encoded {'/'.join(sorted(formats))} images, which tf.io.decode_image cannot decode"
    if sniffed and set(sniffed) == {"text"}:
        return "text", None, ""
    if sniffed.get("image"):
        return "bytes", None, "opaque bytes (some values are images, others are not)"
    return "bytes", None, ""


def _class_names(stats: RecordStats, key: str, feature: FeatureStats) -> tuple[str, ...] | None:
    """The class list of a label: its distinct names (string labels), or the names beside int ids
    0..n-1 (`label/name`); None when there is no complete, consistent list."""
    if feature.distinct is None or not feature.distinct:
        return None
    if "bytes_list" in feature.kinds:
        try:
            return tuple(sorted(v.decode("utf-8") for v in feature.distinct))
        except UnicodeDecodeError:
            return None
    pairs = stats.names.get(key)
    if not pairs:
        return None
    names = dict(pairs)
    ids = sorted(feature.distinct)
    if len(names) != len(pairs) or ids != list(range(len(ids))) or set(names) != set(ids):
        return None
    try:
        decoded = [names[i].decode("utf-8") for i in ids]
    except UnicodeDecodeError:
        return None
    if len(set(decoded)) != len(decoded) or any(not n or "\n" in n or "\r" in n for n in decoded):
        return None
    return tuple(decoded)


def propose_label_key(features: Sequence[Feature], asked: str | None) -> str | None:
    """The label: `asked` ("" for none) when given, else the first of LABEL_NAMES that is a scalar
    int64 or string feature."""
    names = {f.name: f for f in features}
    if asked is not None:
        if asked and asked not in names:
            raise InferenceError(f"--label-key {asked!r} is not a key of the records (they have: "
                                 f"{', '.join(sorted(names))})")
        return asked or None
    for name in LABEL_NAMES:
        f = names.get(name)
        if f is not None and f.shape == () and f.dtype in ("int64", "string"):
            return name
    return None


def infer_features(stats: RecordStats, exact: bool, label_key: str | None
                   ) -> tuple[tuple[Feature, ...], str | None, tuple[Vocabulary, ...], dict[str, bytes], list[str]]:
    """Features that parse every record the statistics saw; with the label, its vocabulary and notes.

    A key gets a fixed shape only when every record that has it has the same number n >= 1 of values
    ([] for one value); when some records lack it, a default (zeros, "", -1 for a label) fills in;
    any other key is variable length. `exact` says the statistics cover every record.
    """
    from prep.core.vocab_files import vocabulary_bytes

    notes: list[str] = []
    features: list[Feature] = []
    for key in sorted(stats.features):
        s = stats.features[key]
        kinds = s.kinds - {"none"}
        if not kinds:
            notes.append(f"left out {key!r}: it never holds a value")
            continue
        if len(kinds) > 1:
            notes.append(f"left out {key!r}: it is {' in some records and '.join(sorted(_DTYPES[k] for k in kinds))} "
                         "in others, and no single tf.io spec parses both")
            continue
        dtype = _DTYPES[kinds.pop()]
        presence = _presence(s.present, stats.records)
        low, high = s.values
        fixed = low == high and high >= 1
        shape = (() if high == 1 else (high,)) if fixed else None
        encoding, image, description = _encoding(s, dtype, exact)
        default = None
        if fixed and presence < 1:
            default = _ZERO[dtype] if shape == () else [_ZERO[dtype]] * high
            description = "; ".join(filter(None, [description, f"absent in some records: those get {default!r}"]))
        features.append(Feature(key, dtype, shape, encoding, description, image=image, default=default,
                                presence=presence, value_count=(low, high)))
    label_key = propose_label_key(features, label_key)
    vocabularies: tuple[Vocabulary, ...] = ()
    files: dict[str, bytes] = {}
    if label_key is not None:
        i = next(i for i, f in enumerate(features) if f.name == label_key)
        label = features[i]
        names = _class_names(stats, label_key, stats.features[label_key]) if label.shape == () else None
        changes: dict[str, Any] = {}
        if label.default is not None:
            changes["default"] = -1 if label.dtype == "int64" else ""
            changes["description"] = f"absent in some records: those get {changes['default']!r} (no class)"
            notes.append(f"the label {label_key!r} is absent in {1 - label.presence:.1%} of the records read: they "
                         f"get {changes['default']!r}, which is no class; filter them out before training")
        if label.dtype == "int64" and label.shape == ():
            changes["encoding"] = "class_id"
        if names is not None and not exact:
            notes.append(f"no class list for {label_key!r}: the sample may not show every class "
                         "(--full reads every record and writes vocab/labels.txt)")
        elif names is not None:
            changes["vocabulary"] = LABELS_VOCABULARY
            vocabularies = (Vocabulary(LABELS_VOCABULARY, LABELS_FILE, "labels", len(names)),)
            files[LABELS_FILE] = vocabulary_bytes(names)
            if label.dtype == "string":
                changes["description"] = "class name: line i of vocab/labels.txt is class i"
        features[i] = Feature(**{**vars(label), **changes})
    return tuple(features), label_key, vocabularies, files, notes


def _usable(scans: Sequence[FileScan]) -> tuple[list[FileScan], tuple[tuple[str, str, str], ...], str]:
    """The scans of usable files, the files left out (relative path, reason, problem), and the one
    compression of the usable files. Raises InferenceError when none is usable or they mix compressions."""
    usable = [s for s in scans if s.problem is None]
    left_out = tuple((s.entry.relative, s.reason or "damaged", s.problem) for s in scans if s.problem is not None)
    if not usable:
        raise InferenceError("no usable TFRecord file: " + "; ".join(f"{rel}: {problem}" for rel, _, problem in left_out))
    compressions = Counter(s.compression for s in usable if s.records or s.compression != "none")
    if len(compressions) > 1:
        example = {c: next(s.entry.relative for s in usable if s.compression == c) for c in compressions}
        raise InferenceError(
            "the files mix compressions (" + ", ".join(f"{n} {c}, e.g. {example[c]}" for c, n in sorted(compressions.items()))
            + "): a dataset has one compression: describe them as separate datasets (separate folders)")
    return usable, left_out, next(iter(compressions), "none")


_SPLIT_ORDER = ("train", "validation", "test")


def split_order(name: str) -> int:
    """Sort key of split names: TFDS's train, validation, test first (a stable sort keeps the others)."""
    return _SPLIT_ORDER.index(name) if name in _SPLIT_ORDER else len(_SPLIT_ORDER)


def _splits(usable: Sequence[FileScan]) -> tuple[Split, ...]:
    """Splits in TFDS's order (train, validation, test, then the others as the files come), each with
    its files; a count is known only for files read to their end."""
    names = list(dict.fromkeys(s.entry.split for s in usable))
    names.sort(key=split_order)
    splits = []
    for name in names:
        shards = tuple(Shard(s.entry.relative, s.records if s.complete else None, s.entry.size)
                       for s in usable if s.entry.split == name)
        counts = [sh.num_records for sh in shards]
        splits.append(Split(name, shards, None if None in counts else sum(counts)))
    return tuple(splits)


def _provenance(options: InferOptions, mode: str, records: int, exact: bool, left_out, notes: list[str]) -> Provenance:
    return Provenance("prep", _version(), options.created, " ".join(options.patterns), options.command, {
        "mode": mode, "records_read": records, "exact": exact,
        "sample": None if mode != "sampled" else vars(options.sample),
        "split_globs": [f"{n}={g}" for n, g in options.split_globs],
        "left_out": [{"file": rel, "reason": reason, "problem": problem} for rel, reason, problem in left_out],
        "notes": notes,
    })


def _name(options: InferOptions, files: FileSet) -> str:
    return options.name or posixpath.basename(files.out.rstrip("/")) or "dataset"


def merged_stats(scans: Iterable[FileScan]) -> RecordStats:
    """The statistics of every usable file's records together."""
    return functools.reduce(lambda a, b: a.merge(b), (s.stats for s in scans if s.problem is None), RecordStats())


def merge_scans(sampled: Sequence[FileScan], full: Sequence[FileScan]) -> list[FileScan]:
    """The sampled scans with each file that was read in full replaced by its full scan: counts, shapes
    and presence then come from every record; files the sample left out stay out."""
    by_path = {s.entry.path: s for s in full}
    return [by_path.get(s.entry.path, s) for s in sampled]


def build_inference(options: InferOptions, files: FileSet, scans: Sequence[FileScan], mode: str,
                    stats: RecordStats | None = None) -> Inference:
    """The schema of the usable files, from their scans (and `stats`, their statistics merged, when the
    caller has merged them already); files with a problem are left out and noted.

    Raises InferenceError when no file is usable, or when the files mix compressions.
    """
    usable, left_out, compression = _usable(scans)
    stats = merged_stats(usable) if stats is None else stats
    if not stats.records:
        raise InferenceError("the files hold no records: there is nothing to infer a schema from")
    exact = all(s.complete for s in usable)
    features, label_key, vocabularies, vocab_files, notes = infer_features(stats, exact, options.label_key)
    if not features:
        raise InferenceError("no key of the records can be described: " + "; ".join(notes))
    notes[:0] = [f"left out {rel}: {problem}" for rel, _, problem in left_out]
    if not exact:
        partly = sum(1 for s in usable if not s.complete)
        notes.append(f"sampled {stats.records:,} records ({partly:,} of {len(usable):,} files only in part): record "
                     "counts are unknown and shapes assume the unread records look like the sampled ones; "
                     "--full reads every record")
    schema = DatasetSchema(
        name=_name(options, files), kind="records", features=features, splits=_splits(usable),
        compression=compression, label_key=label_key, vocabularies=vocabularies,
        provenance=_provenance(options, mode, stats.records, exact, left_out, notes),
    )
    return Inference(schema, vocab_files, left_out, tuple(notes))


def describe_files(options: InferOptions, files: FileSet, scans: Sequence[FileScan], features: Sequence[Feature], *,
                   label_key: str | None, vocabularies: Sequence[Vocabulary] = (), vocab_files: dict[str, bytes] | None = None,
                   text: Any = None, notes: Sequence[str] = (), mode: str) -> Inference:
    """The schema of files whose features are given (a TFX schema, a feature_description), not inferred.

    Vocabularies whose file is neither given nor already in the dataset directory are dropped (with the
    references to them). The sampled records of every usable file must parse with the features:
    InferenceError names the first that does not.
    """
    from apache_beam.io.filesystems import FileSystems

    usable, left_out, compression = _usable(scans)
    notes = [f"left out {rel}: {problem}" for rel, _, problem in left_out] + list(notes)
    vocab_files = dict(vocab_files or {})
    kept = []
    for v in vocabularies:
        if v.file in vocab_files or FileSystems.exists(FileSystems.join(files.out, v.file)):
            kept.append(v)
        else:
            notes.append(f"vocabulary {v.name!r}: {v.file} is not in {files.out}; left out")
    names = {v.name for v in kept}
    features = tuple(f if f.vocabulary is None or f.vocabulary in names else Feature(**{**vars(f), "vocabulary": None})
                     for f in features)
    if label_key is not None and label_key not in {f.name for f in features}:
        raise InferenceError(f"label key {label_key!r} is not one of the features ({', '.join(f.name for f in features)})")
    records = sum(s.records for s in usable)
    exact = all(s.complete for s in usable)
    schema = DatasetSchema(
        name=_name(options, files), kind="records", features=features, splits=_splits(usable),
        compression=compression, label_key=label_key, vocabularies=tuple(kept), text=text,
        provenance=_provenance(options, mode, records, exact, left_out, notes),
    )
    check_parses(usable, schema)
    return Inference(schema, vocab_files, left_out, tuple(notes))


def sniffed_encodings(features: Sequence[Feature], scans: Sequence[FileScan]) -> tuple[Feature, ...]:
    """`features` with the encoding of string features (images, text or bytes) taken from what the
    scanned records hold: for features given by a description that says only dtype and shape."""
    usable = [s for s in scans if s.problem is None]
    stats = merged_stats(usable)
    exact = all(s.complete for s in usable)
    out = []
    for f in features:
        if f.dtype == "string" and f.encoding in ("number", "bytes"):
            s = stats.features.get(f.name)
            encoding, image, description = _encoding(s, "string", exact) if s else ("bytes", None, "")
            f = Feature(**{**vars(f), "encoding": encoding, "image": image,
                           "description": f.description or description})
        out.append(f)
    return tuple(out)


def check_parses(scans: Sequence[FileScan], schema: DatasetSchema) -> None:
    """Raises InferenceError naming the first sampled record that `tf.io.parse_example` refuses with the
    schema's feature spec (the scans must have kept samples)."""
    import tensorflow as tf

    from schemas import feature_spec

    spec = feature_spec(schema)
    for scan in scans:
        if not scan.samples:
            continue
        try:
            tf.io.parse_example(scan.samples, spec)
            continue
        except tf.errors.InvalidArgumentError:
            pass
        for i, record in enumerate(scan.samples):
            try:
                tf.io.parse_example([record], spec)
            except tf.errors.InvalidArgumentError as e:
                raise InferenceError(f"{scan.entry.relative}: record {i} does not parse with the given features: "
                                     f"{e.message.splitlines()[0]}") from None


def _version() -> str:
    import prep

    return prep.__version__


def infer_sampled(options: InferOptions) -> tuple[FileSet, list[FileScan], Inference]:
    """Sampled inference from start to end: the files, their scans and the inference (nothing written)."""
    files = locate_files(options.patterns, options.out, options.split_globs)
    scans = scan_files(files.entries, options.sample)
    return files, scans, build_inference(options, files, scans, "sampled")


def rejected_lines(inference: Inference) -> bytes:
    """rejected.jsonl of an inference: one line per file left out, as prep's jobs write it."""
    return rejected_jsonl({"path": rel, "reason": reason, "detail": problem} for rel, reason, problem in inference.left_out)
