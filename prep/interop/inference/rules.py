"""From the statistics of each key to a schema feature that parses every record seen: a fixed shape only
when every record had the same number of values, a default when some records lack the key, variable
length otherwise; the encoding from what the bytes hold; the label and its class list."""

from __future__ import annotations

from typing import Any, Sequence

from prep.interop.inference.errors import InferenceError
from prep.interop.inference.feature_stats import FeatureStats, RecordStats
from prep.interop.inference.scanning import FileScan, merged_stats
from prep.jobs.results import LABELS_FILE
from schemas import Feature, ImageInfo, Vocabulary

LABELS_VOCABULARY = "labels"
# Keys proposed as the label, best first, when --label-key is not given.
LABEL_NAMES = ("label", "labels", "class", "class_id", "category", "target", "y")
_TF_IMAGE_FORMATS = ("jpeg", "png", "gif", "bmp")  # what tf.io.decode_image decodes
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
