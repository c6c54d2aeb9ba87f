"""Tests for `schemas`: schema.json round trips, validation errors that name the field, the JSON Schema
file that documents the format, load/save on disk, and the `tf.io` parsing spec."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import jsonschema
import pytest
import tomllib
from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas import (
    COMPRESSIONS,
    DTYPES,
    ENCODINGS,
    FORMAT_VERSION,
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
    dumps,
    feature_spec,
    load_schema,
    loads,
    parse_spec,
    save_schema,
    schema_to_dict,
)
from schemas.model import KINDS, VOCABULARY_KINDS

JSON_SCHEMA = json.loads(resources.files("schemas").joinpath("dataset_schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(JSON_SCHEMA)

PROVENANCE = Provenance(
    tool="prep",
    version="0.1.0",
    created="2026-05-09T07:35:25+00:00",
    source="gs://bucket/raw",
    command="prep images gs://bucket/raw out",
    options={"resize": [224, 224], "splits": {"train": 0.8, "validation": 0.2}, "seed": None},
)


def image_schema() -> DatasetSchema:
    """What the image job writes: TFDS keys, a labels vocabulary, two splits."""
    return DatasetSchema(
        name="flowers",
        kind="images",
        features=(
            Feature("image", "string", (), encoding="image", description="JPEG bytes",
                    image=ImageInfo(format="jpeg", channels=3, height=224, width=224)),
            Feature("image/format", "string", (), encoding="text"),
            Feature("image/height", "int64", ()),
            Feature("image/width", "int64", ()),
            Feature("image/channels", "int64", ()),
            Feature("image/filename", "string", (), encoding="text", description="path relative to SRC"),
            Feature("label", "int64", (), encoding="class_id", vocabulary="labels"),
        ),
        splits=(
            Split("train", (Shard("train-00000-of-00002.tfrecord", 3, 3000), Shard("train-00001-of-00002.tfrecord", 2, 2100)), 5),
            Split("validation", (Shard("validation-00000-of-00001.tfrecord", 2, 1900),), 2),
        ),
        label_key="label",
        vocabularies=(Vocabulary("labels", "vocab/labels.txt", "labels", size=3),),
        provenance=PROVENANCE,
    )


def text_schema() -> DatasetSchema:
    """What the text job writes: raw text, token ids with a Keras token vocabulary, a label."""
    return DatasetSchema(
        name="reviews",
        kind="text",
        features=(
            Feature("text", "string", (), encoding="text", description="the raw review"),
            Feature("text/token_ids", "int64", None, encoding="token_ids", vocabulary="tokens",
                    value_count=(1, 128), max_length=128),
            Feature("label", "int64", (), encoding="class_id", vocabulary="labels"),
        ),
        splits=(
            Split("train", (Shard("train-00000-of-00001.tfrecord.gz", 8, 512),), 8),
            Split("test", (Shard("test-00000-of-00001.tfrecord.gz", 2, 160),), 2),
        ),
        compression="gzip",
        label_key="label",
        vocabularies=(
            Vocabulary("tokens", "vocab/tokens.txt", "tokens", size=1000, first_id=2, reserved=((0, ""), (1, "[UNK]"))),
            Vocabulary("labels", "vocab/labels.txt", "labels", size=2),
        ),
        text=TextSettings(max_tokens=1002, min_count=2, max_length=128),
        provenance=PROVENANCE,
    )


def records_schema() -> DatasetSchema:
    """What `prep schema infer` writes for foreign TFRecords: unknown counts, defaults, presence."""
    return DatasetSchema(
        name="foreign",
        kind="records",
        features=(
            Feature("xyz", "float32", (3,), default=[0.0, 0.0, 0.0], presence=0.9, value_count=(3, 3)),
            Feature("id", "int64", (), presence=1.0, value_count=(1, 1)),
            # An empty-string default is a value, not "no default": it must survive the round trip.
            Feature("comment", "string", (), encoding="text", default="", presence=0.25, value_count=(0, 1)),
            Feature("tags", "string", None, encoding="bytes", presence=0.5, value_count=(0, 7)),
        ),
        splits=(Split("data", (Shard("data/part-0.tfrecord"), Shard("data/part-1.tfrecord")), None),),
        compression="zlib",
        provenance=dataclasses.replace(PROVENANCE, source="/data/foreign/*.tfrecord", command="prep schema infer", options={}),
    )


BUILDERS: dict[str, Callable[[], DatasetSchema]] = {"images": image_schema, "text": text_schema, "records": records_schema}


def base(kind: str) -> dict:
    """A fresh JSON form of one of the three example schemas, to break in one place."""
    return schema_to_dict(BUILDERS[kind]())


# --- editing a JSON form by path ------------------------------------------------------------------

JsonPath = tuple[Any, ...]  # ("splits", 0, "shards", 1, "file")


def path_text(path: JsonPath) -> str:
    """How jsonio names a field: 'splits[0].shards[1].file'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _parent(data: Any, path: JsonPath) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def put(path: JsonPath, value: Any) -> Callable[[dict], dict]:
    def change(data: dict) -> dict:
        data = copy.deepcopy(data)
        _parent(data, path)[path[-1]] = value
        return data
    return change


def drop(path: JsonPath) -> Callable[[dict], dict]:
    def change(data: dict) -> dict:
        data = copy.deepcopy(data)
        del _parent(data, path)[path[-1]]
        return data
    return change


def refused(data: Any) -> str:
    """The message jsonio refuses `data` with (it goes through text, as a file would)."""
    with pytest.raises(SchemaError) as error:
        loads(json.dumps(data, ensure_ascii=False))
    return str(error.value)


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", BUILDERS)
def test_round_trip(kind: str) -> None:
    schema = BUILDERS[kind]()
    text = dumps(schema)
    assert loads(text) == schema
    assert dumps(loads(text)) == text
    VALIDATOR.validate(json.loads(text))


def test_text_schema_records_keras_reserved_ids() -> None:
    tokens = loads(dumps(text_schema())).vocabulary("tokens")
    assert (tokens.first_id, tokens.pad_id, tokens.oov_id) == (2, 0, 1)
    assert json.loads(dumps(text_schema()))["vocabularies"][0]["reserved"] == [{"id": 0, "token": ""}, {"id": 1, "token": "[UNK]"}]


def test_records_schema_keeps_unknown_counts_as_null() -> None:
    data = json.loads(dumps(records_schema()))
    assert data["splits"][0]["num_records"] is None
    assert data["splits"][0]["shards"][0] == {"file": "data/part-0.tfrecord", "num_records": None, "num_bytes": None}
    assert data["features"][2]["default"] == ""
    schema = loads(dumps(records_schema()))
    assert schema.num_records is None and schema.split("data").num_bytes is None


names = st.text(max_size=10)
split_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.]{0,8}", fullmatch=True)
file_names = split_names  # a file inside the dataset: no "..", "/" or "\\" of its own
counts = st.integers(min_value=0, max_value=2**63 - 1)
VALUES = {
    "int64": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "float32": st.floats(width=32, allow_nan=False, allow_infinity=False),
    "string": st.text(max_size=8),
}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | names,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=6,
)
image_infos = st.builds(
    ImageInfo, format=names, channels=st.sampled_from((1, 3, 4)),
    height=st.none() | counts, width=st.none() | counts,
)


@st.composite
def features(draw: Any, name: str, vocabularies: list[str]) -> Feature:
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(st.none() | st.lists(st.integers(0, 3), max_size=2).map(tuple))
    encoding = draw(st.sampled_from(ENCODINGS))
    mask = encoding in ("segmentation_mask", "instance_mask")
    if mask:  # one channel; one mask per record, or one per object
        shape = () if encoding == "segmentation_mask" else None
    if shape is None:
        default = None
    elif shape == ():
        default = draw(st.none() | VALUES[dtype])
    else:
        size = math.prod(shape)
        default = draw(st.none() | st.lists(VALUES[dtype], min_size=size, max_size=size))
    return Feature(
        name=name,
        dtype=dtype,
        shape=shape,
        encoding=encoding,
        description=draw(names),
        vocabulary=draw(st.none() | st.sampled_from(vocabularies)) if vocabularies else None,
        image=(draw(image_infos.map(lambda i: dataclasses.replace(i, channels=1))) if mask
               else draw(image_infos if encoding == "image" else st.none() | image_infos)),
        ignore_value=draw(st.none() | st.integers(0, 255)),
        default=default,
        presence=draw(st.none() | st.floats(0, 1)),
        value_count=draw(st.none() | st.lists(st.integers(0, 1000), min_size=2, max_size=2).map(sorted).map(tuple)),
        max_length=draw(st.none() | counts),
    )


@st.composite
def splits(draw: Any, name: str, index: int) -> Split:
    pairs = draw(st.lists(st.tuples(st.none() | counts, st.none() | counts), max_size=3))
    shards = tuple(Shard(f"s{index}/{i:05d}-of-{len(pairs):05d}.tfrecord", r, b) for i, (r, b) in enumerate(pairs))
    known = [r for r, _ in pairs]
    total = sum(known) if None not in known and draw(st.booleans()) else None
    return Split(name, shards, total)


@st.composite
def dataset_schemas(draw: Any) -> DatasetSchema:
    """Any schema jsonio must accept: arbitrary Unicode names and counts, consistent references."""
    vocab_names = draw(st.lists(names, max_size=3, unique=True))
    vocabularies = tuple(
        Vocabulary(
            name=name,
            file=f"vocab/{i}.txt",
            kind=draw(st.sampled_from(VOCABULARY_KINDS)),
            size=draw(counts),
            first_id=draw(st.integers(0, 3)),
            reserved=tuple(draw(st.lists(st.tuples(st.integers(0, 3), names), max_size=2))),
            learned_from=draw(st.none() | st.lists(split_names, max_size=2).map(tuple)),
            padding_id=draw(st.none() | st.integers(0, 5)),
        )
        for i, name in enumerate(vocab_names)
    )
    feature_list = tuple(draw(features(n, vocab_names)) for n in draw(st.lists(names, min_size=1, max_size=4, unique=True)))
    split_list = tuple(draw(splits(n, i)) for i, n in enumerate(draw(st.lists(split_names, min_size=1, max_size=3, unique=True))))
    return DatasetSchema(
        name=draw(names),
        kind=draw(st.sampled_from(KINDS)),
        features=feature_list,
        splits=split_list,
        compression=draw(st.sampled_from(COMPRESSIONS)),
        label_key=draw(st.none() | st.sampled_from([f.name for f in feature_list])),
        vocabularies=vocabularies,
        text=draw(st.none() | st.builds(
            TextSettings, standardize=st.none() | names, split=st.none() | names, ngrams=st.none() | counts,
            max_tokens=st.none() | counts, min_count=counts, max_length=st.none() | counts,
        ) | st.builds(
            TextSettings, standardize=st.none(), split=st.none(), max_length=st.none() | counts,
            tokenizer=st.just("wordpiece"), wordpiece=st.builds(WordPieceSettings, st.booleans(), st.booleans(),
                                                                st.booleans(), names, names),
        ) | st.builds(
            TextSettings, standardize=st.none(), split=st.none(), max_length=st.none() | counts,
            tokenizer=st.just("sentencepiece"),
            sentencepiece=st.builds(SentencePieceSettings, file_names.map(lambda n: f"vocab/{n}"), st.booleans(), st.booleans()),
        ) | st.builds(
            TextSettings, standardize=st.none(), split=st.none(), max_length=st.none() | counts, tokenizer=st.just("bpe"),
            bpe=st.builds(BytePairSettings, file_names.map(lambda n: f"vocab/{n}.json"), file_names.map(lambda n: f"vocab/{n}"),
                          st.booleans(), st.lists(names, max_size=3).map(tuple)),
        )),
        provenance=draw(st.none() | st.builds(
            Provenance, tool=names, version=names, created=names, source=names, command=names,
            options=st.dictionaries(names, json_values, max_size=3),
        )),
    )


@settings(max_examples=50, deadline=None)
@given(dataset_schemas())
def test_generated_schemas_round_trip_and_match_the_json_schema(schema: DatasetSchema) -> None:
    text = dumps(schema)
    assert loads(text) == schema
    VALIDATOR.validate(json.loads(text))


@settings(max_examples=50, deadline=None)
@example("a/../b")
@example("a/..\n")
@example("x\n://y")
@example("./a")
@given(st.lists(st.sampled_from(["a", "..", ".", "", "gs:", "a:", "b\\c", "..\n", "\n.."]), max_size=4).map("/".join)
       | st.text(max_size=7))
def test_shard_file_rule_is_the_same_in_jsonio_and_the_json_schema(name: str) -> None:
    data = put(("splits", 0, "shards", 0, "file"), name)(base("records"))
    try:
        loads(json.dumps(data))
        accepted = True
    except SchemaError as e:
        assert "must be a path inside the dataset directory" in str(e)
        accepted = False
    assert VALIDATOR.is_valid(data) == accepted


# --- validation errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, where",
    [
        ("", "line 1, column 1"),
        ('{"name": "x",\n "kind": }', "line 2, column 10"),
        ('{\n  "name": "x",\n}', "line 3, column 1"),
        ("{'name': 'x'}", "line 1, column 2"),
    ],
)
def test_not_json_says_where(text: str, where: str) -> None:
    with pytest.raises(SchemaError, match="schema.json: not valid JSON") as error:
        loads(text)
    assert where in str(error.value)


@pytest.mark.parametrize("data, kind", [([], "a list"), ("schema", "a string"), (1, "a number"), (None, "null")])
def test_top_level_must_be_an_object(data: Any, kind: str) -> None:
    assert refused(data) == f"schema.json: field '(top level)' must be an object, not {kind}"
    assert not VALIDATOR.is_valid(data)


REQUIRED = [
    ("text", ("format_version",)),
    ("text", ("name",)),
    ("text", ("kind",)),
    ("text", ("features",)),
    ("text", ("splits",)),
    ("text", ("compression",)),
    ("text", ("features", 1, "name")),
    ("text", ("features", 1, "dtype")),
    ("text", ("features", 1, "shape")),
    ("images", ("features", 0, "image", "format")),
    ("images", ("features", 0, "image", "channels")),
    ("text", ("splits", 1, "name")),
    ("text", ("splits", 1, "shards")),
    ("text", ("splits", 1, "num_records")),
    ("text", ("splits", 1, "shards", 0, "file")),
    ("text", ("vocabularies", 0, "name")),
    ("text", ("vocabularies", 0, "file")),
    ("text", ("vocabularies", 0, "kind")),
    ("text", ("vocabularies", 0, "size")),
    ("text", ("vocabularies", 0, "reserved", 1, "id")),
    ("text", ("vocabularies", 0, "reserved", 1, "token")),
    ("text", ("text", "standardize")),
    ("text", ("text", "split")),
    ("text", ("provenance", "tool")),
    ("text", ("provenance", "version")),
    ("text", ("provenance", "created")),
    ("text", ("provenance", "source")),
    ("text", ("provenance", "command")),
]


@pytest.mark.parametrize("kind, path", REQUIRED, ids=[path_text(p) for _, p in REQUIRED])
def test_missing_required_field_is_named(kind: str, path: JsonPath) -> None:
    data = drop(path)(base(kind))
    assert refused(data).startswith(f"schema.json: field '{path_text(path)}' is missing (")
    assert not VALIDATOR.is_valid(data)


OPTIONAL = [
    ("text", ("label_key",)),
    ("records", ("vocabularies",)),
    ("text", ("text",)),
    ("text", ("provenance",)),
    ("text", ("features", 0, "encoding")),
    ("text", ("features", 0, "description")),
    ("text", ("features", 1, "vocabulary")),
    ("records", ("features", 0, "default")),
    ("records", ("features", 0, "presence")),
    ("records", ("features", 0, "value_count")),
    ("text", ("features", 1, "max_length")),
    ("images", ("features", 0, "image", "height")),
    ("images", ("features", 0, "image", "width")),
    ("text", ("splits", 0, "shards", 0, "num_records")),
    ("text", ("splits", 0, "shards", 0, "num_bytes")),
    ("text", ("vocabularies", 0, "first_id")),
    ("text", ("vocabularies", 0, "reserved")),
    ("text", ("text", "ngrams")),
    ("text", ("text", "max_tokens")),
    ("text", ("text", "min_count")),
    ("text", ("text", "max_length")),
    ("text", ("provenance", "options")),
]


@pytest.mark.parametrize("kind, path", OPTIONAL, ids=[path_text(p) for _, p in OPTIONAL])
def test_optional_field_may_be_left_out(kind: str, path: JsonPath) -> None:
    data = drop(path)(base(kind))
    loads(json.dumps(data))
    assert VALIDATOR.is_valid(data)


NULLABLE = [
    ("text", ("label_key",)),
    ("text", ("text",)),
    ("text", ("provenance",)),
    ("records", ("features", 1, "shape")),
    ("text", ("features", 1, "vocabulary")),
    ("text", ("features", 0, "image")),
    ("records", ("features", 0, "default")),
    ("records", ("features", 0, "presence")),
    ("records", ("features", 0, "value_count")),
    ("text", ("features", 1, "max_length")),
    ("images", ("features", 0, "image", "height")),
    ("images", ("features", 0, "image", "width")),
    ("text", ("splits", 0, "num_records")),
    ("text", ("splits", 0, "shards", 0, "num_records")),
    ("text", ("splits", 0, "shards", 0, "num_bytes")),
    ("text", ("text", "standardize")),
    ("text", ("text", "split")),
    ("text", ("text", "ngrams")),
    ("text", ("text", "max_tokens")),
    ("text", ("text", "max_length")),
]


@pytest.mark.parametrize("kind, path", NULLABLE, ids=[path_text(p) for _, p in NULLABLE])
def test_nullable_field_may_be_null(kind: str, path: JsonPath) -> None:
    data = put(path, None)(base(kind))
    loads(json.dumps(data))
    assert VALIDATOR.is_valid(data)


CROSS_FIELD = False  # a rule between fields that JSON Schema cannot express: jsonio alone enforces it
EXPRESSIBLE = True   # dataset_schema.json rejects it too

INVALID = [
    # (id, example schema, change, field named, words the message must hold, rejected by the JSON Schema?)
    ("string for count", "text", put(("splits", 0, "num_records"), "8"),
     "splits[0].num_records", ["must be a whole number", "not a string"], EXPRESSIBLE),
    ("boolean for count", "text", put(("vocabularies", 0, "size"), True),
     "vocabularies[0].size", ["must be a whole number", "not a boolean"], EXPRESSIBLE),
    ("boolean for version", "text", put(("format_version",), True),
     "format_version", ["must be a whole number", "not a boolean"], EXPRESSIBLE),
    ("fraction for count", "text", put(("splits", 0, "shards", 0, "num_bytes"), 2.5),
     "splits[0].shards[0].num_bytes", ["must be a whole number", "2.5"], EXPRESSIBLE),
    ("string for presence", "records", put(("features", 0, "presence"), "high"),
     "features[0].presence", ["must be a whole number or a number", "not a string"], EXPRESSIBLE),
    ("boolean for presence", "records", put(("features", 0, "presence"), True),
     "features[0].presence", ["not a boolean"], EXPRESSIBLE),
    ("number for name", "text", put(("name",), 3), "name", ["must be a string", "not a number"], EXPRESSIBLE),
    ("null for required name", "text", put(("features", 0, "name"), None),
     "features[0].name", ["must be a string", "not null"], EXPRESSIBLE),
    ("object for features", "text", put(("features",), {}), "features", ["must be a list", "not an object"], EXPRESSIBLE),
    ("string for text settings", "text", put(("text",), "lower"), "text", ["must be an object", "not a string"], EXPRESSIBLE),
    ("unknown dtype", "text", put(("features", 1, "dtype"), "int32"),
     "features[1].dtype", ["'int32'", "one of: int64, float32, string"], EXPRESSIBLE),
    ("unknown encoding", "text", put(("features", 0, "encoding"), "utf8"),
     "features[0].encoding", ["'utf8'", "one of: " + ", ".join(ENCODINGS)], EXPRESSIBLE),
    ("unknown compression", "text", put(("compression",), "lz4"),
     "compression", ["'lz4'", "one of: none, gzip, zlib"], EXPRESSIBLE),
    ("unknown kind", "text", put(("kind",), "audio"), "kind", ["'audio'", "one of: images, text, records"], EXPRESSIBLE),
    ("unknown vocabulary kind", "text", put(("vocabularies", 0, "kind"), "words"),
     "vocabularies[0].kind", ["'words'", "one of: labels, tokens"], EXPRESSIBLE),
    ("future format version", "text", put(("format_version",), FORMAT_VERSION + 1),
     "format_version", ["newer prep", "upgrade prep"], EXPRESSIBLE),
    ("format version 0", "text", put(("format_version",), 0), "format_version", ["no prep ever wrote"], EXPRESSIBLE),
    ("negative split count", "text", put(("splits", 0, "num_records"), -1),
     "splits[0].num_records", ["must not be negative", "-1"], EXPRESSIBLE),
    ("negative shard count", "text", put(("splits", 0, "shards", 0, "num_records"), -8),
     "splits[0].shards[0].num_records", ["must not be negative"], EXPRESSIBLE),
    ("negative shard size", "text", put(("splits", 0, "shards", 0, "num_bytes"), -1),
     "splits[0].shards[0].num_bytes", ["must not be negative"], EXPRESSIBLE),
    ("negative vocabulary size", "text", put(("vocabularies", 0, "size"), -3),
     "vocabularies[0].size", ["must not be negative"], EXPRESSIBLE),
    ("negative image height", "images", put(("features", 0, "image", "height"), -224),
     "features[0].image.height", ["must not be negative"], EXPRESSIBLE),
    ("negative dimension", "records", put(("features", 0, "shape"), [-3]),
     "features[0].shape", ["non-negative whole numbers"], EXPRESSIBLE),
    ("presence above 1", "records", put(("features", 0, "presence"), 1.5),
     "features[0].presence", ["between 0 and 1"], EXPRESSIBLE),
    ("negative value count", "records", put(("features", 0, "value_count"), [-1, 3]),
     "features[0].value_count", ["[min, max]"], EXPRESSIBLE),
    ("value count of three", "records", put(("features", 0, "value_count"), [1, 2, 3]),
     "features[0].value_count", ["[min, max]"], EXPRESSIBLE),
    ("value count min above max", "records", put(("features", 0, "value_count"), [3, 1]),
     "features[0].value_count", ["0 <= min <= max"], CROSS_FIELD),
    ("two channels", "images", put(("features", 0, "image", "channels"), 2),
     "features[0].image.channels", ["must be 1, 3 or 4"], EXPRESSIBLE),
    ("split count not the sum of its shards", "images", put(("splits", 0, "num_records"), 6),
     "splits[0].num_records", ["is 6 but its shards hold 5 records"], CROSS_FIELD),
    ("absolute shard file", "text", put(("splits", 0, "shards", 0, "file"), "/data/train.tfrecord"),
     "splits[0].shards[0].file", ["must be a path inside the dataset directory", "'/data/train.tfrecord'"], EXPRESSIBLE),
    ("shard file climbing out", "text", put(("splits", 0, "shards", 0, "file"), "../other/train.tfrecord"),
     "splits[0].shards[0].file", ["must be a path inside the dataset directory"], EXPRESSIBLE),
    ("shard file with inner ..", "text", put(("splits", 0, "shards", 0, "file"), "a/../train.tfrecord"),
     "splits[0].shards[0].file", ["must be a path inside the dataset directory"], EXPRESSIBLE),
    ("shard file URL", "text", put(("splits", 0, "shards", 0, "file"), "gs://bucket/train.tfrecord"),
     "splits[0].shards[0].file", ["must be a path inside the dataset directory", "gs://"], EXPRESSIBLE),
    ("shard file with backslash", "text", put(("splits", 0, "shards", 0, "file"), "data\\train.tfrecord"),
     "splits[0].shards[0].file", ["must be a path inside the dataset directory"], EXPRESSIBLE),
    ("empty shard file", "text", put(("splits", 0, "shards", 0, "file"), ""),
     "splits[0].shards[0].file", ["must be a path inside the dataset directory"], EXPRESSIBLE),
    ("absolute vocabulary file", "text", put(("vocabularies", 1, "file"), "/etc/passwd"),
     "vocabularies[1].file", ["must be a path inside the dataset directory"], EXPRESSIBLE),
    ("byte-pair merges climbing out", "text", put(("text", "bpe"), {"vocabulary": "vocab/v.json", "merges": "/etc/passwd"}),
     "text.bpe.merges", ["must be a path inside the dataset directory"], EXPRESSIBLE),
    ("SentencePiece model climbing out", "text",
     put(("text", "sentencepiece"), {"proto": "../../home/u/.ssh/id_rsa"}),
     "text.sentencepiece.proto", ["must be a path inside the dataset directory"], EXPRESSIBLE),
    ("duplicate feature names", "text", put(("features", 2, "name"), "text"),
     "features[2].name", ["repeats the name 'text'"], CROSS_FIELD),
    ("duplicate split names", "text", put(("splits", 1, "name"), "train"),
     "splits[1].name", ["repeats the name 'train'"], CROSS_FIELD),
    ("duplicate vocabulary names", "text", put(("vocabularies", 1, "name"), "tokens"),
     "vocabularies[1].name", ["repeats the name 'tokens'"], CROSS_FIELD),
    ("label_key naming no feature", "text", put(("label_key",), "labels"),
     "label_key", ["names 'labels', which is not a feature"], CROSS_FIELD),
    ("unknown vocabulary", "text", put(("features", 2, "vocabulary"), "classes"),
     "features[2].vocabulary", ["names vocabulary 'classes'", "does not list"], CROSS_FIELD),
    ("image feature without image info", "images", drop(("features", 0, "image")),
     "features[0].image", ["is missing", "image feature needs its format and channels"], EXPRESSIBLE),
    ("image feature with null image info", "images", put(("features", 0, "image"), None),
     "features[0].image", ["is missing", "image feature needs its format and channels"], EXPRESSIBLE),
    ("default on a variable-length feature", "text", put(("features", 1, "default"), 0),
     "features[1].default", ["must be null for a variable-length feature"], EXPRESSIBLE),
    ("no features", "text", put(("features",), []), "features", ["is empty", "at least one feature"], EXPRESSIBLE),
    ("no splits", "text", put(("splits",), []), "splits", ["is empty", "at least one split"], EXPRESSIBLE),
]


@pytest.mark.parametrize(
    "kind, change, field, words, expressible", [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_invalid_schema_is_refused_naming_the_field(
    kind: str, change: Callable[[dict], dict], field: str, words: list[str], expressible: bool
) -> None:
    data = change(base(kind))
    message = refused(data)
    assert message.startswith(f"schema.json: field '{field}' "), message
    for word in words:
        assert word in message, message
    # Cross-field rules pass the JSON Schema: it documents them in prose only.
    assert VALIDATOR.is_valid(data) is not expressible


def test_error_names_the_source_file() -> None:
    data = put(("kind",), "audio")(base("text"))
    with pytest.raises(SchemaError, match=r"^gs://bucket/out/schema.json: field 'kind' "):
        loads(json.dumps(data), source="gs://bucket/out/schema.json")


# --- the JSON Schema file -------------------------------------------------------------------------


def test_json_schema_is_a_valid_draft_2020_12_schema() -> None:
    assert JSON_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(JSON_SCHEMA)


def test_json_schema_is_shipped_as_package_data() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    assert "*.json" in pyproject["tool"]["setuptools"]["package-data"]["schemas"]
    assert resources.files("schemas").joinpath("dataset_schema.json").is_file()


@pytest.mark.parametrize(
    "where, values",
    [
        (("properties", "kind"), KINDS),
        (("properties", "compression"), COMPRESSIONS),
        (("$defs", "feature", "properties", "dtype"), DTYPES),
        (("$defs", "feature", "properties", "encoding"), ENCODINGS),
        (("$defs", "vocabulary", "properties", "kind"), VOCABULARY_KINDS),
    ],
)
def test_json_schema_enums_match_the_model(where: tuple[str, ...], values: tuple[str, ...]) -> None:
    node = JSON_SCHEMA
    for key in where:
        node = node[key]
    assert node["enum"] == list(values)


def test_json_schema_format_version_matches_the_model() -> None:
    assert JSON_SCHEMA["properties"]["format_version"]["const"] == FORMAT_VERSION


def _properties(node: Any, path: str = "") -> list[tuple[str, dict]]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties":
                found += [(f"{path}.{name}", prop) for name, prop in value.items()]
            found += _properties(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _properties(value, f"{path}[{i}]")
    return found


def test_every_json_schema_property_is_described() -> None:
    # The conditional sub-schemas (if/then) restate properties only to constrain them.
    undescribed = [p for p, prop in _properties(JSON_SCHEMA) if "allOf" not in p and not prop.get("description")]
    assert undescribed == []


# --- load_schema / save_schema --------------------------------------------------------------------


def test_load_from_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="no such dataset directory"):
        load_schema(str(tmp_path / "nowhere"))


def test_load_from_a_directory_without_schema_json(tmp_path: Path) -> None:
    (tmp_path / "train-00000-of-00001.tfrecord").write_bytes(b"")
    with pytest.raises(SchemaError) as error:
        load_schema(str(tmp_path))
    assert "not a finished dataset" in str(error.value) and "did not finish" in str(error.value)


def test_load_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(SchemaError, match="schema.json: not UTF-8 text"):
        load_schema(str(tmp_path))


def test_load_names_the_file_in_errors(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text(json.dumps(drop(("splits",))(base("text"))), encoding="utf-8")
    with pytest.raises(SchemaError) as error:
        load_schema(str(tmp_path))
    assert str(error.value).startswith(f"{tmp_path / 'schema.json'}: field 'splits' is missing")


@pytest.mark.parametrize("kind", BUILDERS)
def test_save_then_load(tmp_path: Path, kind: str) -> None:
    schema = BUILDERS[kind]().replace(name="fleurs 🌸")
    path = save_schema(schema, str(tmp_path))
    assert path == str(tmp_path / "schema.json")
    assert os.listdir(tmp_path) == ["schema.json"]  # no temporary file left behind
    assert "fleurs 🌸" in (tmp_path / "schema.json").read_text(encoding="utf-8")
    assert load_schema(str(tmp_path)) == schema


def test_save_replaces_an_existing_schema(tmp_path: Path) -> None:
    save_schema(image_schema(), str(tmp_path))
    save_schema(text_schema(), str(tmp_path))
    assert os.listdir(tmp_path) == ["schema.json"]
    assert load_schema(str(tmp_path)) == text_schema()


# --- the tf.io feature spec -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tf() -> Any:
    import tensorflow as tf

    return tf


SPEC_SCHEMA = DatasetSchema(
    name="spec",
    kind="records",
    features=(
        Feature("count", "int64", ()),
        Feature("score", "float32", ()),
        Feature("word", "string", (), encoding="text"),
        Feature("xyz", "float32", (3,)),
        Feature("weight", "float32", (), default=1.5),
        Feature("lang", "string", (), encoding="text", default=""),
        Feature("origin", "int64", (2,), default=[0, 0]),
        Feature("ids", "int64", None, encoding="token_ids"),
    ),
    splits=(Split("train", (Shard("train-00000-of-00001.tfrecord", 3),), 3),),
)


@pytest.mark.parametrize(
    "name, dtype, shape",
    [("count", "int64", []), ("score", "float32", []), ("word", "string", []), ("xyz", "float32", [3])],
)
def test_fixed_shape_feature_is_a_fixed_len_feature(tf: Any, name: str, dtype: str, shape: list[int]) -> None:
    assert parse_spec(SPEC_SCHEMA.feature(name)) == tf.io.FixedLenFeature(shape, tf.as_dtype(dtype))


def test_variable_length_feature_is_a_ragged_feature(tf: Any) -> None:
    spec = parse_spec(SPEC_SCHEMA.feature("ids"))
    assert isinstance(spec, tf.io.RaggedFeature)
    assert (spec.dtype, spec.row_splits_dtype) == (tf.int64, tf.int64)


def test_feature_spec_of_some_keys(tf: Any) -> None:
    assert list(feature_spec(SPEC_SCHEMA, ["ids", "count"])) == ["ids", "count"]
    assert list(feature_spec(SPEC_SCHEMA)) == [f.name for f in SPEC_SCHEMA.features]
    with pytest.raises(SchemaError, match="no feature 'nope'"):
        feature_spec(SPEC_SCHEMA, ["nope"])


def _example(tf: Any, **features: tuple[str, list]) -> bytes:
    def feature(dtype: str, values: list) -> Any:
        if dtype == "int64":
            return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        if dtype == "float32":
            return tf.train.Feature(float_list=tf.train.FloatList(value=values))
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() for v in values]))

    return tf.train.Example(
        features=tf.train.Features(feature={k: feature(*v) for k, v in features.items()})
    ).SerializeToString()


@pytest.fixture(scope="module")
def parsed(tf: Any) -> dict:
    """Three real records, some without the keys that have defaults, parsed with the spec of a schema
    that went through schema.json (so the defaults are the ones a reader would see)."""
    def required(i: int) -> dict:
        return {"count": ("int64", [i]), "score": ("float32", [i / 2]), "word": ("string", [f"w{i}"]),
                "xyz": ("float32", [i, i, i])}

    records = [
        _example(tf, **required(0), ids=("int64", [5, 6, 7])),
        _example(tf, **required(1), ids=("int64", []), weight=("float32", [0.25]), lang=("string", ["en"]),
                 origin=("int64", [3, 4])),
        _example(tf, **required(2), ids=("int64", [9])),
    ]
    spec = feature_spec(loads(dumps(SPEC_SCHEMA)))
    return tf.io.parse_example(tf.constant(records), spec)


@pytest.mark.parametrize(
    "key, expected",
    [
        ("count", [0, 1, 2]),
        ("xyz", [[0.0] * 3, [1.0] * 3, [2.0] * 3]),
        ("weight", [1.5, 0.25, 1.5]),
        ("lang", [b"", b"en", b""]),
        ("origin", [[0, 0], [3, 4], [0, 0]]),
    ],
)
def test_parse_fixed_features_with_defaults_for_absent_keys(parsed: dict, key: str, expected: list) -> None:
    assert parsed[key].numpy().tolist() == expected


def test_parse_variable_length_records_of_different_lengths(tf: Any, parsed: dict) -> None:
    ids = parsed["ids"]
    assert isinstance(ids, tf.RaggedTensor)
    assert ids.to_list() == [[5, 6, 7], [], [9]]
    assert ids.row_splits.dtype == tf.int64
