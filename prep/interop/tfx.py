"""schema.json <-> TFX's schema.pbtxt (tensorflow_metadata's Schema proto, text format), for TFDV and TFX.

Each prep feature maps onto the proto's own fields, as TFDV and TensorFlow Transform read them:

| prep                                     | schema.pbtxt                                                      |
|------------------------------------------|-------------------------------------------------------------------|
| dtype int64 / float32 / string           | `type: INT / FLOAT / BYTES`                                       |
| fixed shape, no default (required)       | `shape { dim { size: n } }` and `presence { min_fraction: 1 }`    |
| fixed shape with a default (optional)    | `value_count { min: n max: n }` and the measured presence         |
| variable length                          | `value_count { min max }` when known                              |
| presence                                 | `presence { min_fraction }`                                       |
| encoding image / token_ids               | `image_domain {}` / `natural_language_domain { vocabulary }`      |
| encoding text (string)                   | a BYTES feature without a domain (TFDV's free or categorical text) |
| class_id with a labels vocabulary        | `int_domain { name min: 0 max is_categorical: true }` + a top-level `string_domain` of that name holding the class names |
| string label with a labels vocabulary    | `domain: "<name>"` naming that top-level `string_domain`          |
| description                              | `annotation { comment }`                                          |
| label_key                                | `not_in_environment: "SERVING"` (with `default_environment` TRAINING and SERVING) |

What the proto has no field for (the image format and channels, a default value, ...) travels in
`annotation { tag: "prep:{...}" }`: a JSON object of the feature fields that the standard fields
alone would give back differently, so that schema.json -> schema.pbtxt -> schema.json is exact; the
same holds for vocabulary file details and text settings in the schema's own annotation. Import
works without these tags: a schema.pbtxt written by TFDV gets what its standard fields say.
`tensorflow-metadata` is an optional dependency (the `interop` extra).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from schemas import DatasetSchema, Feature, ImageInfo, TextSettings, Vocabulary

TAG = "prep:"
SERVING = "SERVING"
TRAINING = "TRAINING"
_TYPES = {"int64": "INT", "float32": "FLOAT", "string": "BYTES"}
_FEATURE_FIELDS = ("dtype", "shape", "encoding", "description", "vocabulary", "image", "default", "presence",
                   "value_count", "max_length")


class TfxError(ValueError):
    """A schema.pbtxt prep cannot use, or tensorflow-metadata missing; the message says what to do."""


def _schema_pb2():
    try:
        from tensorflow_metadata.proto.v0 import schema_pb2
    except ImportError:
        raise TfxError("tensorflow-metadata is not installed: pip install 'tfrecord-prep[interop]' "
                       "(or pip install tensorflow-metadata)") from None
    return schema_pb2


# ---- feature fields as JSON, for the tags --------------------------------------------------------------


def _field_json(feature: Feature, key: str) -> Any:
    value = getattr(feature, key)
    if key == "image" and value is not None:
        return {k: v for k, v in vars(value).items() if v is not None}
    if isinstance(value, tuple):
        return list(value)
    return value


def _field_value(key: str, value: Any) -> Any:
    if key == "image" and value is not None:
        return ImageInfo(**value)
    if key in ("shape", "value_count") and value is not None:
        return tuple(value)
    return value


# ---- export --------------------------------------------------------------------------------------------


def _standard(proto_feature, feature: Feature, vocabularies: dict[str, Vocabulary], is_label: bool) -> None:
    """Fills the proto's own fields of one feature (everything TFDV and TF Transform understand)."""
    schema_pb2 = _schema_pb2()
    p = proto_feature
    p.name = feature.name
    p.type = schema_pb2.FeatureType.Value(_TYPES[feature.dtype])
    if feature.shape is not None and feature.default is None:
        p.shape.SetInParent()
        for size in feature.shape:
            p.shape.dim.add(size=size)
        p.presence.min_fraction = 1.0
        p.presence.min_count = 1
    else:
        if feature.shape is not None:
            n = math.prod(feature.shape)
            p.value_count.min, p.value_count.max = n, n
        elif feature.value_count is not None:
            p.value_count.min, p.value_count.max = feature.value_count
        if feature.presence is not None:
            p.presence.min_fraction = feature.presence
    vocab = vocabularies.get(feature.vocabulary) if feature.vocabulary is not None else None
    if feature.encoding == "image":
        p.image_domain.SetInParent()
    elif feature.encoding == "text" and vocab is not None and vocab.kind == "labels" and feature.dtype == "string":
        p.domain = vocab.name
    elif feature.encoding == "token_ids":
        p.natural_language_domain.SetInParent()
        if vocab is not None:
            p.natural_language_domain.vocabulary = vocab.name
    elif feature.encoding == "class_id" and feature.dtype == "int64":
        p.int_domain.is_categorical = True
        p.int_domain.min = 0
        if vocab is not None:
            p.int_domain.name = vocab.name
            p.int_domain.max = vocab.first_id + vocab.size - 1
    if feature.description:
        p.annotation.comment.append(feature.description)
    if is_label:
        p.not_in_environment.append(SERVING)


def schema_to_tfx(schema: DatasetSchema, class_names: dict[str, tuple[str, ...]]) -> str:
    """schema.pbtxt text of a schema; `class_names` maps each labels vocabulary to its names (they
    become the schema's top-level string_domain of that name)."""
    from google.protobuf import text_format

    schema_pb2 = _schema_pb2()
    proto = schema_pb2.Schema()
    vocabularies = {v.name: v for v in schema.vocabularies}
    for name, names in class_names.items():
        proto.string_domain.add(name=name, value=list(names))
    for feature in schema.features:
        p = proto.feature.add()
        _standard(p, feature, vocabularies, feature.name == schema.label_key)
        differs = _differences(feature, p, proto)
        if differs:
            p.annotation.tag.append(TAG + json.dumps(differs, ensure_ascii=False, sort_keys=True))
    if schema.label_key is not None:
        proto.default_environment.extend([TRAINING, SERVING])
    if any(f.shape is None for f in schema.features):
        proto.represent_variable_length_as_ragged = True
    extra: dict[str, Any] = {}
    if schema.vocabularies:
        extra["vocabularies"] = [
            {"name": v.name, "file": v.file, "kind": v.kind, "size": v.size, "first_id": v.first_id,
             "reserved": [[i, t] for i, t in v.reserved]} for v in schema.vocabularies]
    if schema.text is not None:
        extra["text"] = vars(schema.text)
    if extra:
        proto.annotation.tag.append(TAG + json.dumps(extra, ensure_ascii=False, sort_keys=True))
    return text_format.MessageToString(proto, as_utf8=True)


def _differences(feature: Feature, proto_feature, proto) -> dict[str, Any]:
    """The prep fields that the standard fields alone would not give back as they are."""
    domains = {d.name: tuple(d.value) for d in proto.string_domain}
    back = _from_standard(proto_feature, domains)
    return {key: _field_json(feature, key) for key in _FEATURE_FIELDS if getattr(back, key) != getattr(feature, key)}


def export_tfx(dataset_dir: str, path: str) -> str:
    """Writes the schema.pbtxt of the dataset in `dataset_dir` to `path` (local or gs://)."""
    from apache_beam.io.filesystems import FileSystems

    from prep.core.vocab_files import read_vocabulary
    from schemas import load_schema

    schema = load_schema(dataset_dir)
    class_names = {v.name: read_vocabulary(FileSystems.join(dataset_dir, v.file))
                   for v in schema.vocabularies if v.kind == "labels"}
    text = schema_to_tfx(schema, class_names)
    with FileSystems.create(path) as f:
        f.write(text.encode("utf-8"))
    return path


# ---- import --------------------------------------------------------------------------------------------


def _from_standard(p, domains: dict[str, tuple[str, ...]]) -> Feature:
    """The prep feature that the proto's own fields describe (no prep tags)."""
    schema_pb2 = _schema_pb2()
    type_name = schema_pb2.FeatureType.Name(p.type)
    dtype = {v: k for k, v in _TYPES.items()}.get(type_name)
    if dtype is None:
        raise TfxError(f"feature {p.name!r} has type {type_name}: prep describes INT, FLOAT and BYTES features only")
    presence = p.presence.min_fraction if p.HasField("presence") and p.presence.HasField("min_fraction") else None
    value_count = None
    if p.HasField("value_count") and p.value_count.max >= max(p.value_count.min, 1):
        value_count = (p.value_count.min, p.value_count.max)
    shape, default = None, None
    if p.HasField("shape"):
        shape = tuple(d.size for d in p.shape.dim)
        if presence is not None:  # measured, as TFDV does: every record has exactly the shape's values
            value_count = (math.prod(shape),) * 2
        if presence is not None and presence < 1:
            default = _zeros(dtype, shape)
    elif value_count is not None and value_count[0] == value_count[1] and (presence is None or presence < 1):
        n = value_count[0]
        shape = () if n == 1 else (n,)
        default = _zeros(dtype, shape)
    elif value_count is not None and value_count[0] == value_count[1] and presence == 1:
        shape = () if value_count[0] == 1 else (value_count[0],)
    domain = p.WhichOneof("domain_info")
    encoding, image, vocabulary = {"int64": "number", "float32": "number", "string": "text"}[dtype], None, None
    if domain == "image_domain":
        encoding, image = "image", ImageInfo("mixed", 3)
    elif domain == "natural_language_domain":
        encoding = "token_ids" if dtype == "int64" else "text"
        vocabulary = p.natural_language_domain.vocabulary or None
    elif domain == "int_domain" and p.int_domain.is_categorical:
        encoding = "class_id"
        vocabulary = p.int_domain.name if p.int_domain.name in domains else None
    elif domain == "domain" and dtype == "string":
        encoding = "text"
        vocabulary = p.domain if p.domain in domains else None
    return Feature(p.name, dtype, shape, encoding, "\n".join(p.annotation.comment), vocabulary, image, default,
                   presence, value_count)


def _zeros(dtype: str, shape: tuple[int, ...]) -> Any:
    zero = {"int64": 0, "float32": 0.0, "string": ""}[dtype]
    return zero if shape == () else [zero] * math.prod(shape)


def _tags(annotation) -> list[dict]:
    out = []
    for tag in annotation.tag:
        if tag.startswith(TAG):
            try:
                value = json.loads(tag[len(TAG):])
            except json.JSONDecodeError:
                raise TfxError(f"annotation tag {tag[:60]!r} is not prep's (not JSON after '{TAG}')") from None
            if isinstance(value, dict):
                out.append(value)
    return out


@dataclass(frozen=True)
class TfxDescription:
    """What a schema.pbtxt says: features, the label, vocabularies (with the bytes of the label files it
    holds, by relative file), text settings, and notes on what was left out."""

    features: tuple[Feature, ...]
    label_key: str | None
    vocabularies: tuple[Vocabulary, ...]
    vocabulary_files: dict[str, bytes]
    text: TextSettings | None
    notes: tuple[str, ...]


def _usable_names(values: tuple[str, ...]) -> bool:
    return bool(values) and len(set(values)) == len(values) and all(v and "\n" not in v and "\r" not in v for v in values)


def schema_from_tfx(text: str, source: str = "schema.pbtxt") -> TfxDescription:
    """Reads schema.pbtxt text: its standard fields, then prep's tags where present."""
    from google.protobuf import text_format

    from prep.core.vocab_files import vocabulary_bytes

    schema_pb2 = _schema_pb2()
    proto = schema_pb2.Schema()
    try:
        text_format.Parse(text, proto)
    except text_format.ParseError as e:
        raise TfxError(f"{source}: not a TFX Schema in text format ({e})") from None
    domains = {d.name: tuple(d.value) for d in proto.string_domain}
    notes: list[str] = []
    features, labels = [], []
    for p in proto.feature:
        if p.deprecated or p.lifecycle_stage in (schema_pb2.DEPRECATED, schema_pb2.DISABLED):
            notes.append(f"left out {p.name!r}: it is deprecated or disabled in {source}")
            continue
        if p.HasField("value_counts"):
            notes.append(f"{p.name!r} has nested value counts: described as flat variable-length values")
        try:
            feature = _from_standard(p, domains)
        except TfxError as e:
            notes.append(f"left out {p.name!r}: {e}")
            continue
        for tag in _tags(p.annotation):
            feature = Feature(**{**vars(feature), **{k: _field_value(k, v) for k, v in tag.items() if k in _FEATURE_FIELDS}})
        features.append(feature)
        if SERVING in p.not_in_environment:
            labels.append(p.name)
    if not features:
        raise TfxError(f"{source}: no feature prep can describe" + (f" ({'; '.join(notes)})" if notes else ""))
    label_key = labels[0] if len(labels) == 1 else None
    if len(labels) > 1:
        notes.append(f"no label key: several features are kept out of serving ({', '.join(labels)}); pass --label-key")
    extra: dict[str, Any] = {}
    for tag in _tags(proto.annotation):
        extra.update(tag)
    vocabularies, from_domains = _vocabularies(extra.get("vocabularies"), features, domains, notes)
    text_settings = TextSettings(**extra["text"]) if isinstance(extra.get("text"), dict) else None
    files = {v.file: vocabulary_bytes(domains[v.name]) for v in vocabularies if v.name in from_domains}
    return TfxDescription(tuple(features), label_key, vocabularies, files, text_settings, tuple(notes))


def _vocabularies(tagged: list | None, features: list[Feature], domains: dict[str, tuple[str, ...]],
                  notes: list[str]) -> tuple[tuple[Vocabulary, ...], list[str]]:
    """Vocabularies the features refer to: as the tags describe them, else one labels file per string
    domain a feature names. Returns them and the names whose file content comes from a string domain."""
    referenced = [f.vocabulary for f in features if f.vocabulary is not None]
    by_name: dict[str, Vocabulary] = {}
    for v in tagged or []:
        by_name[v["name"]] = Vocabulary(v["name"], v["file"], v["kind"], v["size"], v.get("first_id", 0),
                                        tuple((i, t) for i, t in v.get("reserved", [])))
    for name in referenced:
        if name not in by_name and name in domains:
            by_name[name] = Vocabulary(name, f"vocab/{name}.txt", "labels", len(domains[name]))
    from_domains = []
    for name, vocab in list(by_name.items()):
        if vocab.kind == "labels":
            if name in domains and _usable_names(domains[name]) and len(domains[name]) == vocab.size:
                from_domains.append(name)
            else:
                notes.append(f"vocabulary {name!r}: the schema.pbtxt does not hold its names; left out")
                del by_name[name]
    return tuple(by_name[n] for n in dict.fromkeys(referenced) if n in by_name) + tuple(
        v for n, v in by_name.items() if n not in referenced), from_domains
