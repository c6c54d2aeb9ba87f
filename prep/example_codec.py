"""`tf.train.Example` records encoded in plain Python, with their keys in sorted order.

Why not `tf.train.Example.SerializeToString()`: protobuf leaves the order of map entries unspecified,
and byte-identical shards need a fixed order; and Beam workers then need no TensorFlow import
(seconds of start-up and hundreds of MB per worker process). The wire format is the one `example.proto`
defines: Example{features: Features{feature: map<string, Feature>}}, Feature{bytes_list | float_list |
int64_list}. Tests check every record against `tf.io.parse_example`.
"""

from __future__ import annotations

import struct
from typing import Mapping, Sequence, Union

Value = Union[bytes, str, int, float]
# A feature's values with their schema dtype: ("int64", [1, 2]), ("string", [b"x"]), ("float32", [0.5]).
TypedValues = tuple[str, Sequence[Value]]


_INT64 = range(-(2**63), 2**63)


def _varint(n: int) -> bytes:
    if n not in _INT64:
        raise ValueError(f"{n} does not fit in an int64")
    if n < 0:
        n += 1 << 64  # int64 values are written as their two's complement, 10 bytes
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _as_bytes(value: Value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        # surrogateescape gives back the original bytes of file names that are not valid UTF-8
        return value.encode("utf-8", "surrogateescape")
    raise TypeError(f"a string feature needs bytes or str values, not {type(value).__name__}")


def _feature(dtype: str, values: Sequence[Value]) -> bytes:
    if dtype == "string":
        body = b"".join(_field(1, _as_bytes(v)) for v in values)
        return _field(1, body)
    if dtype == "float32":
        packed = struct.pack(f"<{len(values)}f", *values)
        return _field(2, _field(1, packed) if values else b"")
    if dtype == "int64":
        packed = b"".join(_varint(int(v)) for v in values)
        return _field(3, _field(1, packed) if values else b"")
    raise ValueError(f"unknown dtype {dtype!r}: expected int64, float32 or string")


def encode_example(features: Mapping[str, TypedValues]) -> bytes:
    """Serialises one `tf.train.Example`; the same features always give the same bytes."""
    entries = []
    for key in sorted(features):
        try:
            feature = _feature(*features[key])
        except (ValueError, TypeError, OverflowError, struct.error) as e:
            raise ValueError(f"feature {key!r}: {e}") from None
        entries.append(_field(1, _field(1, key.encode("utf-8")) + _field(2, feature)))
    return _field(1, b"".join(entries))
