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


_TAGS = {number: bytes([number << 3 | 2]) for number in (1, 2, 3)}  # length-delimited fields 1-3


def _header(number: int, size: int) -> bytes:
    """The tag and length of a length-delimited field `number` of `size` bytes."""
    return _TAGS[number] + (bytes([size]) if size < 0x80 else _varint(size))


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _header(number, len(payload)) + payload


def _as_bytes(value: Value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        # surrogateescape gives back the original bytes of file names that are not valid UTF-8
        return value.encode("utf-8", "surrogateescape")
    raise TypeError(f"a string feature needs bytes or str values, not {type(value).__name__}")


# A message under construction: its pieces in order, and their total size in bytes. Large values
# (image bytes) are copied once, by the final join, instead of once per level of nesting.
Pieces = tuple[list[bytes], int]


def _wrap(number: int, pieces: Pieces) -> Pieces:
    """`pieces` as the payload of length-delimited field `number`."""
    parts, size = pieces
    header = _TAGS[number] + (bytes([size]) if size < 0x80 else _varint(size))
    return [header, *parts], len(header) + size


def _feature(dtype: str, values: Sequence[Value]) -> Pieces:
    if dtype == "string":
        parts: list[bytes] = []
        size = 0
        for v in values:
            value = _as_bytes(v)
            field_parts, field_size = _wrap(1, ([value], len(value)))
            parts += field_parts
            size += field_size
        return _wrap(1, (parts, size))
    if dtype == "float32":
        packed = struct.pack(f"<{len(values)}f", *values)
        return _wrap(2, ([_field(1, packed)], len(packed) + 1 + len(_varint(len(packed)))) if values else ([], 0))
    if dtype == "int64":
        packed = b"".join(bytes([v]) if 0 <= v < 0x80 else _varint(int(v)) for v in values)
        return _wrap(3, ([_field(1, packed)], len(packed) + 1 + len(_varint(len(packed)))) if values else ([], 0))
    raise ValueError(f"unknown dtype {dtype!r}: expected int64, float32 or string")


def encode_example(features: Mapping[str, TypedValues]) -> bytes:
    """Serialises one `tf.train.Example`; the same features always give the same bytes."""
    parts: list[bytes] = []
    size = 0
    for key in sorted(features):
        try:
            feature = _feature(*features[key])
        except (ValueError, TypeError, OverflowError, struct.error) as e:
            raise ValueError(f"feature {key!r}: {e}") from None
        key_field = _field(1, key.encode("utf-8"))
        value_parts, value_size = _wrap(2, feature)
        entry_parts, entry_size = _wrap(1, ([key_field, *value_parts], len(key_field) + value_size))
        parts += entry_parts
        size += entry_size
    return b"".join(_wrap(1, (parts, size))[0])


class FixedExample:
    """Encodes Examples that always have the same features, one int64 or string value each (an image's
    record): the bytes of `encode_example`, with the key order and each key's field worked out once.

    `dtypes` maps each key to "int64" or "string", in the order `encode` takes the values.
    """

    def __init__(self, dtypes: Mapping[str, str]):
        for key, dtype in dtypes.items():
            if dtype not in ("int64", "string"):
                raise ValueError(f"feature {key!r}: FixedExample encodes int64 and string features, not {dtype!r}")
        keys = list(dtypes)
        self._order = tuple(sorted(range(len(keys)), key=lambda i: keys[i]))
        self._keys = tuple(keys)
        self._strings = tuple(dtypes[key] == "string" for key in keys)
        self._key_fields = tuple(_field(1, key.encode("utf-8")) for key in keys)

    def encode(self, *values: Value) -> bytes:
        """The serialised Example of `values`, one per key in the order the keys were given."""
        parts: list[bytes] = [b""]  # parts[0]: the Features header, once the size is known
        size = 0
        for i in self._order:
            value = values[i]
            key_field = self._key_fields[i]
            try:
                if self._strings[i]:
                    data = _as_bytes(value)
                    # entry{key, Feature{BytesList{data}}}: the headers only, so that data is copied once
                    list_header = _header(1, len(data))
                    list_size = len(list_header) + len(data)
                    feature_header = _header(1, list_size)
                    value_header = _header(2, len(feature_header) + list_size)
                    entry_size = len(key_field) + len(value_header) + len(feature_header) + list_size
                    entry_header = _header(1, entry_size)
                    parts += (entry_header, key_field, value_header, feature_header, list_header, data)
                    size += len(entry_header) + entry_size
                else:
                    packed = bytes([value]) if 0 <= value < 0x80 else _varint(int(value))
                    entry = _field(1, key_field + _field(2, _field(3, _field(1, packed))))
                    parts.append(entry)
                    size += len(entry)
            except (ValueError, TypeError, OverflowError) as e:
                raise ValueError(f"feature {self._keys[i]!r}: {e}") from None
        parts[0] = _header(1, size)
        return b"".join(parts)
