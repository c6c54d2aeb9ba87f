"""schema.json: the dataset schema as JSON, with a format version, validated on load.

Validation happens while reading, field by field, so every error names the field it is about
(`schema.json: field 'splits[0].shards[2].file' is missing`). Files go through Beam's `FileSystems`
so a dataset may live on local disk or in `gs://`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Callable, TypeVar

from schemas.guarded_write import FileState, write_if_unchanged
from schemas.model import (
    COMPRESSIONS,
    DTYPES,
    ENCODINGS,
    FORMAT_VERSION,
    KINDS,
    TOKENIZERS,
    VOCABULARY_KINDS,
    BytePairSettings,
    DatasetSchema,
    Feature,
    ImageInfo,
    Provenance,
    SchemaError,
    SentencePieceSettings,
    Shard,
    Split,
    TextSettings,
    Vocabulary,
    WordPieceSettings,
)

SCHEMA_FILE = "schema.json"
T = TypeVar("T")
_MISSING = object()


def schema_to_dict(schema: DatasetSchema) -> dict:
    """The JSON-ready form of a schema (optional feature fields that are None, and an empty description,
    are left out; an empty-string default or vocabulary name is a value and is kept)."""
    def feature(f: Feature) -> dict:
        d: dict[str, Any] = {
            "name": f.name,
            "dtype": f.dtype,
            "shape": None if f.shape is None else list(f.shape),
            "encoding": f.encoding,
        }
        if f.description:
            d["description"] = f.description
        for key in ("vocabulary", "default", "presence", "max_length", "group", "ignore_value"):
            value = getattr(f, key)
            if value is not None:
                d[key] = value
        if f.value_count is not None:
            d["value_count"] = list(f.value_count)
        if f.value_names is not None:
            d["value_names"] = list(f.value_names)
        if f.image is not None:
            d["image"] = {k: v for k, v in vars(f.image).items() if v is not None}
        return d

    d: dict[str, Any] = {
        "format_version": schema.format_version,
        "name": schema.name,
        "kind": schema.kind,
        "label_key": schema.label_key,
        "compression": schema.compression,
        "features": [feature(f) for f in schema.features],
        "splits": [
            {
                "name": s.name,
                "num_records": s.num_records,
                "shards": [{k: v for k, v in vars(sh).items() if k != "index" or v is not None} for sh in s.shards],
            }
            for s in schema.splits
        ],
        "vocabularies": [
            {
                "name": v.name,
                "file": v.file,
                "kind": v.kind,
                "size": v.size,
                "first_id": v.first_id,
                "reserved": [{"id": i, "token": t} for i, t in v.reserved],
                **({"padding_id": v.padding_id} if v.padding_id is not None else {}),
                **({"learned_from": list(v.learned_from)} if v.learned_from is not None else {}),
            }
            for v in schema.vocabularies
        ],
    }
    if schema.version != 1:  # a dataset never updated says nothing of versions
        d["version"] = schema.version
    if schema.text is not None:
        text = vars(schema.text).copy()
        for name in ("wordpiece", "sentencepiece", "bpe"):  # a tokenizer's options: only its own
            options = getattr(schema.text, name)
            if options is None or schema.text.tokenizer != name:
                del text[name]
            else:
                text[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(options).items()}
        if schema.text.tokenizer == TOKENIZERS[0]:  # what datasets before WordPiece wrote, unchanged
            del text["tokenizer"]
        d["text"] = text
    if schema.provenance is not None:
        d["provenance"] = vars(schema.provenance).copy()
    return d


class _Fields:
    """Reads typed fields out of one JSON object, naming the full path of any field that is wrong."""

    def __init__(self, obj: Any, path: str, source: str):
        self.path, self.source = path, source
        if not isinstance(obj, dict):
            self.fail(f"must be an object, not {_json_type(obj)}")
        self.obj = obj

    def where(self, key: str | None = None) -> str:
        if key is None:
            return self.path or "(top level)"
        return f"{self.path}.{key}" if self.path else key

    def fail(self, problem: str, key: str | None = None) -> None:
        raise SchemaError(f"{self.source}: field '{self.where(key)}' {problem}")

    def get(self, key: str, types: type | tuple, default: Any = _MISSING, *, nullable: bool = False) -> Any:
        if key not in self.obj:
            if default is _MISSING:
                self.fail("is missing (written by an unfinished or foreign run? rerun the job)", key)
            return default
        value = self.obj[key]
        if value is None and nullable:
            return None
        if isinstance(value, bool) and bool not in _as_tuple(types):
            self.fail(f"must be {_type_names(types)}, not a boolean", key)
        if not isinstance(value, types):
            self.fail(f"must be {_type_names(types)}, not {_json_type(value)}", key)
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _MISSING, *, nullable: bool = False) -> Any:
        value = self.get(key, str, default, nullable=nullable)
        if value is not None and value is not default and value not in choices:
            self.fail(f"is {value!r}; it must be one of: {', '.join(choices)}", key)
        return value

    def objects(self, key: str, parse: Callable[["_Fields"], T], default: Any = _MISSING) -> tuple[T, ...]:
        items = self.get(key, list, default)
        return tuple(parse(_Fields(item, f"{self.where(key)}[{i}]", self.source)) for i, item in enumerate(items))

    def count(self, key: str, *, nullable: bool = False, default: Any = _MISSING) -> int | None:
        value = self.get(key, int, default, nullable=nullable)
        if value is not None and value is not default and value < 0:
            self.fail(f"must not be negative (it is {value})", key)
        return value


def _as_tuple(types: type | tuple) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _type_names(types: type | tuple) -> str:
    names = {int: "a whole number", float: "a number", str: "a string", list: "a list", dict: "an object", bool: "true or false"}
    return " or ".join(names.get(t, t.__name__) for t in _as_tuple(types))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"the number {value!r}"  # say which: "must be a whole number, not a number" reads as nonsense
    return {bool: "a boolean", int: "a number", str: "a string", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def _relative_file(fields: _Fields, key: str) -> str:
    """A file name inside the dataset directory: never absolute, never a URL, no '..' part at all (so that
    the rule is the same plain-text one dataset_schema.json states)."""
    name = fields.get(key, str)
    if not name or name.startswith("/") or "://" in name or ".." in name.split("/") or "\\" in name:
        fields.fail(f"must be a path inside the dataset directory, not {name!r}", key)
    return name


def _image(f: _Fields) -> ImageInfo:
    return ImageInfo(
        format=f.get("format", str),
        channels=_channels(f),
        height=f.count("height", nullable=True, default=None),
        width=f.count("width", nullable=True, default=None),
    )


def _channels(f: _Fields) -> int:
    channels = f.get("channels", int)
    if channels not in (1, 3, 4):
        f.fail(f"must be 1, 3 or 4 (it is {channels})", "channels")
    return channels


def _default(f: _Fields, dtype: str):
    """The default value for absent keys: values of the feature's dtype (a list for a non-scalar)."""
    default = f.get("default", (int, float, str, list), None, nullable=True)
    if default is None:
        return None
    kinds = {"int64": (int,), "float32": (int, float), "string": (str,)}[dtype]
    for value in default if isinstance(default, list) else [default]:
        if isinstance(value, bool) or not isinstance(value, kinds) or (isinstance(value, float) and not math.isfinite(value)):
            f.fail(f"holds {value!r}, which is not a finite {dtype} value", "default")
    return default


def _feature(f: _Fields) -> Feature:
    dtype = f.choice("dtype", DTYPES)
    shape = f.get("shape", list, nullable=True)
    if shape is not None and not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        f.fail(f"must be a list of non-negative whole numbers or null, not {shape!r}", "shape")
    value_count = f.get("value_count", list, None, nullable=True)
    if value_count is not None and (
        len(value_count) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value_count)
        or value_count[0] > value_count[1]
    ):
        f.fail(f"must be [min, max], two whole numbers with 0 <= min <= max, not {value_count!r}", "value_count")
    presence = f.get("presence", (int, float), None, nullable=True)
    if presence is not None and not 0 <= presence <= 1:
        f.fail(f"must be between 0 and 1 (it is {presence})", "presence")
    image = f.get("image", dict, None, nullable=True)
    return Feature(
        name=f.get("name", str),
        dtype=dtype,
        shape=None if shape is None else tuple(shape),
        encoding=f.choice("encoding", ENCODINGS, "number"),
        description=f.get("description", str, ""),
        vocabulary=f.get("vocabulary", str, None, nullable=True),
        image=None if image is None else _image(_Fields(image, f.where("image"), f.source)),
        default=_default(f, dtype),
        presence=presence,
        value_count=None if value_count is None else tuple(value_count),
        max_length=f.count("max_length", nullable=True, default=None),
        value_names=_strings(f, "value_names"),
        group=f.get("group", str, None, nullable=True),
        ignore_value=_ignore_value(f),
    )


def _ignore_value(f: _Fields) -> int | None:
    value = f.get("ignore_value", int, None, nullable=True)
    if value is not None and not 0 <= value <= 255:
        f.fail(f"must be a mask pixel's value, from 0 to 255 (it is {value})", "ignore_value")
    return value


def _shard(f: _Fields) -> Shard:
    return Shard(
        file=_relative_file(f, "file"),
        num_records=f.count("num_records", nullable=True, default=None),
        num_bytes=f.count("num_bytes", nullable=True, default=None),
        index=_relative_file(f, "index") if f.get("index", str, None, nullable=True) is not None else None,
    )


_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*$")


def _split(f: _Fields) -> Split:
    name = f.get("name", str)
    if not _SPLIT_NAME.match(name):
        f.fail(f"is {name!r}: a split name is letters, digits, '_' and '.' (it prefixes shard file names)", "name")
    split = Split(
        name=name,
        shards=f.objects("shards", _shard),
        num_records=f.count("num_records", nullable=True),
    )
    counts = [s.num_records for s in split.shards]
    if split.num_records is not None and None not in counts and sum(counts) != split.num_records:
        f.fail(f"is {split.num_records} but its shards hold {sum(counts)} records", "num_records")
    return split


def _strings(f: _Fields, key: str) -> tuple[str, ...] | None:
    """An optional list of strings (absent or null: None)."""
    values = f.get(key, list, None, nullable=True)
    if values is not None and not all(isinstance(v, str) for v in values):
        f.fail(f"must be a list of strings, not {values!r}", key)
    return None if values is None else tuple(values)


def _vocabulary(f: _Fields) -> Vocabulary:
    reserved = f.objects("reserved", lambda r: (r.count("id"), r.get("token", str)), ())
    return Vocabulary(
        name=f.get("name", str),
        file=_relative_file(f, "file"),
        kind=f.choice("kind", VOCABULARY_KINDS),
        size=f.count("size"),
        first_id=f.count("first_id", default=0),
        reserved=reserved,
        learned_from=_strings(f, "learned_from"),
        padding_id=f.count("padding_id", default=None),
    )


def _text(f: _Fields) -> TextSettings:
    return TextSettings(
        standardize=f.get("standardize", str, nullable=True),
        split=f.get("split", str, nullable=True),
        ngrams=f.count("ngrams", nullable=True, default=None),
        max_tokens=f.count("max_tokens", nullable=True, default=None),
        min_count=f.count("min_count", default=1),
        max_length=f.count("max_length", nullable=True, default=None),
        tokenizer=f.choice("tokenizer", TOKENIZERS, default=TOKENIZERS[0]),
        wordpiece=_optional_object(f, "wordpiece", _wordpiece),
        sentencepiece=_optional_object(f, "sentencepiece", _sentencepiece),
        bpe=_optional_object(f, "bpe", _bpe),
    )


def _optional_object(f: _Fields, key: str, parse: Callable[[_Fields], T]) -> T | None:
    value = f.get(key, dict, None, nullable=True)
    return None if value is None else parse(_Fields(value, f.where(key), f.source))


def _wordpiece(f: _Fields) -> WordPieceSettings:
    defaults = WordPieceSettings()
    return WordPieceSettings(**{name: f.get(name, type(value), value) for name, value in vars(defaults).items()})


def _sentencepiece(f: _Fields) -> SentencePieceSettings:
    defaults = SentencePieceSettings()
    return SentencePieceSettings(proto=_relative_file(f, "proto"), add_bos=f.get("add_bos", bool, defaults.add_bos),
                                 add_eos=f.get("add_eos", bool, defaults.add_eos))


def _bpe(f: _Fields) -> BytePairSettings:
    defaults = BytePairSettings()
    return BytePairSettings(vocabulary=_relative_file(f, "vocabulary"), merges=_relative_file(f, "merges"),
                            add_prefix_space=f.get("add_prefix_space", bool, defaults.add_prefix_space),
                            unsplittable_tokens=_strings(f, "unsplittable_tokens") or ())


def _provenance(f: _Fields) -> Provenance:
    return Provenance(
        tool=f.get("tool", str),
        version=f.get("version", str),
        created=f.get("created", str),
        source=f.get("source", str),
        command=f.get("command", str),
        options=f.get("options", dict, {}),
    )


def schema_from_dict(data: Any, source: str = SCHEMA_FILE) -> DatasetSchema:
    """Builds and validates a schema from its JSON form; `source` names the file in error messages."""
    top = _Fields(data, "", source)
    version = top.get("format_version", int)
    if version > FORMAT_VERSION:
        top.fail(
            f"is {version}: this dataset was written by a newer prep; this prep reads format {FORMAT_VERSION} "
            "or older (upgrade prep)",
            "format_version",
        )
    if version < 1:
        top.fail(f"is {version}, which no prep ever wrote", "format_version")
    text = top.get("text", dict, None, nullable=True)
    provenance = top.get("provenance", dict, None, nullable=True)
    schema = DatasetSchema(
        format_version=version,
        name=top.get("name", str),
        kind=top.choice("kind", KINDS),
        features=top.objects("features", _feature),
        splits=top.objects("splits", _split),
        compression=top.choice("compression", COMPRESSIONS),
        label_key=top.get("label_key", str, None, nullable=True),
        vocabularies=top.objects("vocabularies", _vocabulary, ()),
        text=None if text is None else _text(_Fields(text, "text", source)),
        provenance=None if provenance is None else _provenance(_Fields(provenance, "provenance", source)),
        version=top.count("version", default=1),
    )
    if schema.version < 1:
        top.fail(f"is {schema.version}: versions count from 1", "version")
    _check_references(schema, top)
    return schema


def _check_references(schema: DatasetSchema, top: _Fields) -> None:
    """Cross-field rules: unique names, and every name a field refers to exists."""
    for key, names in (("features", [f.name for f in schema.features]),
                       ("splits", [s.name for s in schema.splits]),
                       ("vocabularies", [v.name for v in schema.vocabularies])):
        seen = set()
        for i, name in enumerate(names):
            if name in seen:
                top.fail(f"repeats the name {name!r}", f"{key}[{i}].name")
            seen.add(name)
    if not schema.features:
        top.fail("is empty: a dataset needs at least one feature", "features")
    if not schema.splits:
        top.fail("is empty: a dataset needs at least one split", "splits")
    feature_names = {f.name for f in schema.features}
    if schema.label_key is not None and schema.label_key not in feature_names:
        top.fail(f"names {schema.label_key!r}, which is not a feature", "label_key")
    vocab_names = {v.name for v in schema.vocabularies}
    for i, f in enumerate(schema.features):
        if f.vocabulary is not None and f.vocabulary not in vocab_names:
            top.fail(f"names vocabulary {f.vocabulary!r}, which the schema does not list", f"features[{i}].vocabulary")
        if f.encoding in ("image", "segmentation_mask", "instance_mask") and f.image is None:
            top.fail("is missing (an image feature needs its format and channels)", f"features[{i}].image")
        elif f.encoding == "segmentation_mask" and (f.image.channels != 1 or f.shape != ()):
            top.fail("must be one channel, one mask per record (shape [])", f"features[{i}].image.channels")
        elif f.encoding == "instance_mask" and (f.image.channels != 1 or f.shape is not None):
            top.fail("must be one channel, a mask per object (shape null)", f"features[{i}].image.channels")
        if f.default is not None and f.shape is None:
            top.fail("must be null for a variable-length feature", f"features[{i}].default")


def dumps(schema: DatasetSchema) -> str:
    return json.dumps(schema_to_dict(schema), indent=2, ensure_ascii=False) + "\n"


def loads(text: str, source: str = SCHEMA_FILE) -> DatasetSchema:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SchemaError(f"{source}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    return schema_from_dict(data, source)


def join(root: str, *parts: str) -> str:
    """Joins a dataset directory (local or gs://) with relative parts."""
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.join(root, *parts)


def _is_file(path: str) -> bool:
    """Whether `path` is a file (a gs:// object), not a folder."""
    import os

    from apache_beam.io.filesystems import FileSystems

    if "://" not in path:
        return os.path.isfile(path)
    return not path.endswith("/") and FileSystems.exists(path)  # a bucket folder is no object of its own


def _file_not_dataset(path: str) -> str:
    """What to say when a dataset directory was asked for and `path`, a file (a shard?), was given."""
    import posixpath

    from apache_beam.io.filesystems import FileSystems

    parent = posixpath.dirname(path.rstrip("/")) or "."
    head = f"{path} is a file, not a dataset directory: give the folder that holds {SCHEMA_FILE}"
    if FileSystems.exists(join(parent, SCHEMA_FILE)):
        return f"{head}, here {parent}"
    return f"{head} ({parent} has none either)"


def load_schema(dataset_dir: str) -> DatasetSchema:
    """Reads and validates `<dataset_dir>/schema.json`. A directory without one is an unfinished run."""
    from apache_beam.io.filesystems import FileSystems

    path = join(dataset_dir, SCHEMA_FILE)
    if not FileSystems.exists(path):
        if _is_file(dataset_dir):
            raise SchemaError(_file_not_dataset(dataset_dir))
        if not FileSystems.exists(dataset_dir):
            raise SchemaError(f"{dataset_dir}: no such dataset directory")
        raise SchemaError(
            f"{dataset_dir}: no {SCHEMA_FILE}, so this is not a finished dataset "
            "(the run that writes it did not finish: rerun the job, with --overwrite)"
        )
    with FileSystems.open(path) as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SchemaError(f"{path}: not UTF-8 text") from None
    return loads(text, source=path)


def save_schema(schema: DatasetSchema, dataset_dir: str, expect: FileState | None = None) -> str:
    """Writes `<dataset_dir>/schema.json` through a temporary name, so it appears whole or not at all.

    With `expect` (what the job saw of schema.json when it started: `guarded_write.observe`), the write
    is the commit of a job: it happens only if schema.json is still in that state, and raises
    ChangedFileError otherwise, so two jobs writing one dataset cannot both commit."""
    from apache_beam.io.filesystems import FileSystems

    path = join(dataset_dir, SCHEMA_FILE)
    if expect is not None:
        write_if_unchanged(path, dumps(schema).encode("utf-8"), expect)
        return path
    tmp = path + ".tmp"
    with FileSystems.create(tmp) as f:
        f.write(dumps(schema).encode("utf-8"))
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])
    return path
