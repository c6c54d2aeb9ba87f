"""Parsing one serialised record as a `tf.train.Example` with protobuf alone (no TensorFlow), telling a
SequenceExample or bytes that are no Example at all apart."""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Sequence


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


_KINDS = {"int64": "int64_list", "float32": "float_list", "string": "bytes_list"}
_TF_NOISE = (re.compile(r"^\{\{function_node [^}]*\}\}\s*"), re.compile(r"\s*\[Op:\w+\].*$"))


def parse_mismatch(data: bytes, features: Sequence[Any]) -> str | None:
    """Why `tf.io.parse_example` refuses the record `data` with the schema `features` (name, dtype,
    shape, default), naming the feature: absent without a default, another kind of values, another
    number of values. None when none of these is the reason."""
    try:
        found = parse_record(data)
    except RecordProblem as e:
        return f"the record {e.problem}"
    for f in features:
        if f.name not in found:
            if f.shape is not None and f.default is None:
                return f"feature {f.name!r} is missing (the schema gives it no default, so every record must have it)"
            continue
        kind = found[f.name].WhichOneof("kind")
        if kind is None:
            continue
        if kind != _KINDS[f.dtype]:
            return f"feature {f.name!r} holds {kind} values, where the schema says {f.dtype} ({_KINDS[f.dtype]})"
        count = len(getattr(found[f.name], kind).value)
        if f.shape is not None and count != math.prod(f.shape):
            return (f"feature {f.name!r} holds {count} value{'s' if count != 1 else ''}, where the schema says shape "
                    f"{list(f.shape)} ({math.prod(f.shape)} value{'s' if math.prod(f.shape) != 1 else ''})")
    return None


def tf_message(message: str) -> str:
    """The first line of a TensorFlow op error without its op wrapping ('{{function_node …}}',
    '[Op:ParseExampleV2]'), which names TensorFlow's internals, not the user's data."""
    line = message.strip().splitlines()[0] if message.strip() else message
    for noise in _TF_NOISE:
        line = noise.sub("", line)
    return line.strip()
