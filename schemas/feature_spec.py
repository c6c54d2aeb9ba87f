"""The `tf.io` parsing spec of a schema: what `tf.io.parse_example` needs, derived, never hand-written."""

from __future__ import annotations

from typing import Any, Iterable

from schemas.model import DatasetSchema, Feature


def feature_spec(schema: DatasetSchema, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """Maps each feature name (all, or `keys`) to its `tf.io.FixedLenFeature` or `tf.io.RaggedFeature`.

    Fixed shapes parse to dense tensors (with the schema's default where a record lacks the key);
    variable-length features parse to ragged tensors, which readers pad or keep ragged as asked.
    """
    names = [f.name for f in schema.features] if keys is None else list(keys)
    return {name: parse_spec(schema.feature(name)) for name in names}


def parse_spec(feature: Feature) -> Any:
    """The `tf.io` spec of one feature."""
    import tensorflow as tf

    dtype = {"int64": tf.int64, "float32": tf.float32, "string": tf.string}[feature.dtype]
    if feature.shape is None:
        return tf.io.RaggedFeature(dtype=dtype, row_splits_dtype=tf.int64)
    if feature.default is None:
        return tf.io.FixedLenFeature(list(feature.shape), dtype)
    return tf.io.FixedLenFeature(list(feature.shape), dtype, default_value=feature.default)
