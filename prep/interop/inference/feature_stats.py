"""Per-key statistics of the records read: how many values each record has, which value list, what the
bytes hold (images by magic bytes and a Pillow header read, UTF-8 text, opaque bytes), and the distinct
values a class list comes from. Mergeable, so Beam combines them over every record (`--full`)."""

from __future__ import annotations

import io
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field

from prep.images.imaging import sniff_format
from prep.interop.inference.record_parser import parse_record

MAX_CLASSES = 10_000  # more distinct values than this is not a class label
MAX_CLASS_NAME_BYTES = 256
DECODE_SAMPLES = 3  # images per feature and file decoded in full with Pillow (the rest: header only)
VALUES_CHECKED = 4  # values per record and key that are sniffed (image? text?)
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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
