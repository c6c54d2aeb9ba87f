"""Tests for prep.records.example_codec, with TensorFlow as the oracle for every record it encodes."""

from __future__ import annotations

import itertools
import math
import random
import re
import struct

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from prep.records.example_codec import FixedExample, encode_example

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
KIND = {"int64": "int64_list", "float32": "float_list", "string": "bytes_list"}
TF_DTYPE = {"int64": tf.int64, "float32": tf.float32, "string": tf.string}

CASES = {
    "int64-one": ("int64", [7]),
    "int64-zero": ("int64", [0]),
    "int64-negative": ("int64", [-1, -2, -300]),
    "int64-limits": ("int64", [INT64_MAX, INT64_MIN, INT64_MIN + 1, INT64_MAX - 1]),
    "int64-varint-edges": ("int64", [127, 128, 16383, 16384, 2**31 - 1, 2**31, 2**32, -(2**31)]),
    "int64-bool": ("int64", [True, False]),
    "int64-many": ("int64", list(range(-5000, 5000))),
    "int64-empty": ("int64", []),
    "float32-simple": ("float32", [0.5, -1.25, 3.0]),
    "float32-inexact": ("float32", [0.1, 1 / 3, 1e-30, 3.4e38]),
    "float32-zeros": ("float32", [0.0, -0.0]),
    "float32-special": ("float32", [math.inf, -math.inf, math.nan]),
    "float32-subnormal": ("float32", [1e-45, -1e-45]),
    "float32-int-values": ("float32", [1, -2, 0]),
    "float32-many": ("float32", [i / 7 for i in range(10_000)]),
    "float32-empty": ("float32", []),
    "bytes": ("string", [b"abc"]),
    "bytes-nul": ("string", [b"\x00", b"a\x00b\x00", b"\x00" * 300]),
    "bytes-all": ("string", [bytes(range(256))]),
    "bytes-empty-value": ("string", [b"", b"x", b""]),
    "bytes-large": ("string", [bytes(random.Random(0).randbytes(200_000))]),
    "str-ascii": ("string", ["jpeg"]),
    "str-utf8": ("string", ["été", "猫", "😀", "a\nb\r\n"]),
    "str-and-bytes": ("string", ["x", b"y"]),
    "string-many": ("string", [f"token{i}" for i in range(3000)]),
    "string-empty": ("string", []),
}


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _f32_bits(values) -> list[bytes]:
    """Bit patterns as float32, so that -0.0 differs from 0.0 and nan equals nan."""
    return [struct.pack("<f", v) for v in values]


def _expected_proto_values(dtype: str, values: list) -> list:
    if dtype == "string":
        return [_as_bytes(v) for v in values]
    if dtype == "float32":
        return _f32_bits(values)
    return [int(v) for v in values]


def _proto_values(feature: tf.train.Feature, dtype: str) -> list:
    assert feature.WhichOneof("kind") == KIND[dtype]
    values = list(getattr(feature, KIND[dtype]).value)
    return _f32_bits(values) if dtype == "float32" else values


def _assert_round_trips(features: dict) -> tf.train.Example:
    """The bytes parse as a tf.train.Example holding exactly `features`, and TF writes the same bytes."""
    data = encode_example(features)
    example = tf.train.Example.FromString(data)
    got = example.features.feature
    assert set(got.keys()) == set(features)
    for key, (dtype, values) in features.items():
        assert _proto_values(got[key], dtype) == _expected_proto_values(dtype, list(values)), key
    if _protobuf_writes_the_same_order(features):
        assert example.SerializeToString(deterministic=True) == data
    return example


def _protobuf_writes_the_same_order(keys) -> bool:
    """Whether protobuf's deterministic serialisation must give back the codec's very bytes.

    It sorts map keys too, but it leaves out an empty key's field (the codec writes it with length 0),
    and the upb runtime puts a key before its own prefix ('ab' before 'a'; C++ protobuf and the codec
    put 'a' first). Both encodings parse the same; only there may the bytes differ.
    """
    return "" not in keys and not any(a != b and b.startswith(a) for a in keys for b in keys)


def _parse_one(data: bytes, spec: dict) -> dict:
    return tf.io.parse_example(tf.constant([data]), spec)


@pytest.mark.parametrize(("dtype", "values"), CASES.values(), ids=CASES.keys())
def test_round_trips_through_tf_train_example(dtype: str, values: list) -> None:
    _assert_round_trips({"feature": (dtype, values)})


@pytest.mark.parametrize(("dtype", "values"), CASES.values(), ids=CASES.keys())
def test_tf_io_parse_example_reads_the_values(dtype: str, values: list) -> None:
    data = encode_example({"x": (dtype, values), "other": ("int64", [1])})
    parsed = _parse_one(data, {"x": tf.io.VarLenFeature(TF_DTYPE[dtype])})["x"]
    got = tf.sparse.to_dense(parsed).numpy()
    assert got.shape == (1, len(values))
    row = got[0]
    if dtype == "string":
        assert list(row) == [_as_bytes(v) for v in values]
    elif dtype == "float32":
        np.testing.assert_array_equal(row, np.array(values, dtype=np.float32))
        assert list(np.signbit(row)) == [math.copysign(1, v) < 0 for v in values]
    else:
        assert row.dtype == np.int64
        assert row.tolist() == [int(v) for v in values]


def test_tf_io_parse_example_reads_a_whole_image_record_with_fixed_len_features() -> None:
    data = encode_example({
        "image": ("string", [b"\xff\xd8\x00\xff"]),
        "image/format": ("string", ["jpeg"]),
        "image/height": ("int64", [480]),
        "image/width": ("int64", [640]),
        "image/filename": ("string", ["chats/été.jpg"]),
        "label": ("int64", [0]),
        "score": ("float32", [0.25, -0.0]),
    })
    parsed = _parse_one(data, {
        "image": tf.io.FixedLenFeature([], tf.string),
        "image/format": tf.io.FixedLenFeature([], tf.string),
        "image/height": tf.io.FixedLenFeature([], tf.int64),
        "image/width": tf.io.FixedLenFeature([], tf.int64),
        "image/filename": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.int64),
        "score": tf.io.FixedLenFeature([2], tf.float32),
    })
    assert parsed["image"].numpy()[0] == b"\xff\xd8\x00\xff"
    assert parsed["image/format"].numpy()[0] == b"jpeg"
    assert (parsed["image/height"].numpy()[0], parsed["image/width"].numpy()[0]) == (480, 640)
    assert parsed["image/filename"].numpy()[0].decode("utf-8") == "chats/été.jpg"
    assert parsed["label"].numpy()[0] == 0
    assert parsed["score"].numpy()[0].tolist() == [0.25, 0.0]


@pytest.mark.parametrize("key", ["image/étiquette", "猫", "emoji😀", "a b", "UPPER", "k" * 1000, "a\x00b"])
def test_unicode_keys(key: str) -> None:
    _assert_round_trips({key: ("int64", [3]), "plain": ("string", [b"v"])})
    if "\x00" not in key:
        parsed = _parse_one(encode_example({key: ("int64", [3])}), {key: tf.io.FixedLenFeature([], tf.int64)})
        assert parsed[key].numpy().tolist() == [3]


def test_an_empty_key() -> None:
    example = _assert_round_trips({"": ("string", [b"v"]), "a": ("int64", [1])})
    assert list(example.features.feature[""].bytes_list.value) == [b"v"]


def test_an_example_without_features() -> None:
    example = tf.train.Example.FromString(encode_example({}))
    assert len(example.features.feature) == 0


def test_many_features() -> None:
    _assert_round_trips({f"f{i:04d}": ("int64", [i]) for i in range(500)})


@pytest.mark.parametrize("keys", [["b", "a", "Z", "é", "\uffff", "😀", "ba"], ["a", "ab", "b"], ["", "a"]])
def test_keys_come_out_in_code_point_order(keys: list[str]) -> None:
    # Code point order is UTF-8 byte order, the order protobuf's deterministic serialisation uses.
    features = {k: ("int64", [i]) for i, k in enumerate(keys)}
    _assert_round_trips(features)
    assert _keys_on_the_wire(encode_example(features)) == sorted(keys)


def _fields(buf: bytes):
    """(field number, payload) of each length-delimited field: just enough wire format to see the order."""
    i = 0
    while i < len(buf):
        tag, i = _read_varint(buf, i)
        assert tag & 7 == 2
        size, i = _read_varint(buf, i)
        yield tag >> 3, buf[i:i + size]
        i += size


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _keys_on_the_wire(data: bytes) -> list[str]:
    """The map keys in the order the bytes hold them (Example.features = 1, Features.feature = 1, key = 1)."""
    [(_, features)] = _fields(data)
    return [dict(_fields(entry)).get(1, b"").decode("utf-8") for _, entry in _fields(features)]


MIXED = {
    "image": ("string", [b"\x89PNG\x00"]),
    "label": ("int64", [-3]),
    "score": ("float32", [0.5, math.nan]),
    "image/filename": ("string", ["été.png"]),
    "empty": ("float32", []),
}


@pytest.mark.parametrize("order", list(itertools.permutations(MIXED))[::7])
def test_insertion_order_does_not_change_the_bytes(order: tuple[str, ...]) -> None:
    assert encode_example({key: MIXED[key] for key in order}) == encode_example(MIXED)


def test_the_same_features_always_give_the_same_bytes() -> None:
    assert len({encode_example(dict(MIXED)) for _ in range(5)}) == 1


@pytest.mark.parametrize(
    ("features", "error", "message"),
    [
        ({"x": ("int32", [1])}, ValueError, "unknown dtype 'int32': expected int64, float32 or string"),
        ({"x": ("float64", [1.0])}, ValueError, "unknown dtype 'float64'"),
        ({"x": ("bytes", [b"a"])}, ValueError, "unknown dtype 'bytes'"),
        ({"x": ("", [])}, ValueError, "unknown dtype ''"),
        ({"x": ("string", [1])}, ValueError, "a string feature needs bytes or str values, not int"),
        ({"x": ("string", [0.5])}, ValueError, "a string feature needs bytes or str values, not float"),
        ({"x": ("string", [None])}, ValueError, "a string feature needs bytes or str values, not NoneType"),
        ({"big": ("int64", [2**63])}, ValueError, "feature 'big': 9223372036854775808 does not fit in an int64"),
        ({"ids": ("int64", [3, 0.5])}, ValueError, "feature 'ids': 'float' object cannot be interpreted as an integer"),
        ({"neg": ("int64", [-(2**64) - 1])}, ValueError, "feature 'neg': -18446744073709551617 does not fit"),
        ({"f": ("float32", [1e39])}, ValueError, "feature 'f': float too large"),
    ],
)
def test_bad_features_are_refused(features: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        encode_example(features)


_values = st.one_of(
    st.tuples(st.just("int64"), st.lists(st.integers(INT64_MIN, INT64_MAX), max_size=20)),
    # token ids, labels, sizes: the range packed by table lookup, across its edges (2**16) and a negative
    st.tuples(st.just("int64"), st.lists(st.one_of(st.integers(0, 70_000), st.just(-1)), max_size=40)),
    st.tuples(st.just("float32"), st.lists(st.floats(width=32), max_size=20)),
    st.tuples(st.just("string"), st.lists(st.one_of(st.binary(max_size=40), st.text(max_size=20)), max_size=20)),
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=20), _values, max_size=8))
def test_any_features_round_trip_through_tf_train_example(features: dict) -> None:
    _assert_round_trips(features)
    assert _keys_on_the_wire(encode_example(features)) == sorted(features)
    reordered = dict(reversed(list(features.items())))
    assert encode_example(reordered) == encode_example(features)


def test_file_names_that_are_not_utf8_keep_their_original_bytes() -> None:
    import tensorflow as tf

    name = b"caf\xe9.jpg".decode("utf-8", "surrogateescape")
    example = tf.train.Example.FromString(encode_example({"image/filename": ("string", [name])}))
    assert example.features.feature["image/filename"].bytes_list.value == [b"caf\xe9.jpg"]


# --- FixedExample: the same bytes as encode_example, for records of one value per feature ------------

_one_value = st.one_of(
    st.tuples(st.just("int64"), st.one_of(st.integers(INT64_MIN, INT64_MAX), st.integers(-1, 70_000), st.booleans())),
    st.tuples(st.just("string"), st.one_of(st.binary(max_size=300), st.text(max_size=200))),
    # lengths at and across the varint edges of every level of nesting (127, 128, 16383, 16384 bytes and more)
    st.tuples(st.just("string"), st.integers(0, 20_000).map(lambda n: b"\x00" * n)),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=200), _one_value, max_size=10))
def test_fixed_example_gives_the_bytes_of_encode_example(features: dict) -> None:
    encoder = FixedExample({key: dtype for key, (dtype, _) in features.items()})
    assert encoder.encode(*(value for _, value in features.values())) == encode_example(
        {key: (dtype, [value]) for key, (dtype, value) in features.items()})


@pytest.mark.parametrize("size", [0, 1, 100, 115, 116, 117, 118, 127, 128, 129, 16_250, 16_370, 16_383, 16_384,
                                  200_000, 2_097_152, 2_097_200])
def test_fixed_example_gives_the_bytes_of_encode_example_for_an_image_record(size: int) -> None:
    data = random.Random(size).randbytes(size)
    values = {"image": ("string", data), "image/format": ("string", "jpeg"), "image/height": ("int64", 480),
              "image/width": ("int64", 640), "image/channels": ("int64", 3),
              "image/filename": ("string", "caf\udce9/img_1.jpg"), "label": ("int64", 300),
              "label/name": ("string", "caf\udce9")}
    encoder = FixedExample({key: dtype for key, (dtype, _) in values.items()})
    assert encoder.encode(*(value for _, value in values.values())) == encode_example(
        {key: (dtype, [value]) for key, (dtype, value) in values.items()})


@pytest.mark.parametrize(
    ("dtypes", "values", "message"),
    [
        ({"x": "float32"}, None, "feature 'x': FixedExample encodes int64 and string features, not 'float32'"),
        ({"x": "string"}, (1,), "feature 'x': a string feature needs bytes or str values, not int"),
        ({"x": "string"}, (None,), "feature 'x': a string feature needs bytes or str values, not NoneType"),
        ({"big": "int64"}, (2**63,), "feature 'big': 9223372036854775808 does not fit in an int64"),
        ({"ids": "int64"}, (0.5,), "feature 'ids': 'float' object cannot be interpreted as an integer"),
        ({"ids": "int64"}, ("3",), "feature 'ids': '<=' not supported"),
    ],
)
def test_fixed_example_refuses_what_encode_example_refuses(dtypes: dict, values: tuple | None, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        FixedExample(dtypes).encode(*values)
