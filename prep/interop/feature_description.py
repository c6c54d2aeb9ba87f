"""A hand-written `tf.io` feature_description becomes a schema, so existing reading code moves to prep.

    from prep.interop import from_feature_description, save_schema
    schema = from_feature_description(feature_description, files=file_paths)
    save_schema(schema, schema_dir(schema, file_paths))   # or the `out` folder given

The description says each key's dtype, shape and default exactly as the user's parsing code had them;
the files say the splits (from their names), the compression and, from a sample of records, what bytes
hold (images, text) so that readers decode them. Imports neither TensorFlow nor Beam at import time;
the specs are recognised by their type names, so any TensorFlow version's `tf.io` specs work.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

from schemas.model import DatasetSchema, Feature, SchemaError

_DTYPES = ("int64", "float32", "string")


def _dtype(key: str, spec: Any) -> str:
    name = getattr(spec.dtype, "name", str(spec.dtype))
    if name not in _DTYPES:
        raise SchemaError(f"feature_description[{key!r}]: dtype {name} cannot be parsed from a tf.train.Example "
                          "(tf.io.parse_example reads int64, float32 and string)")
    return name


def _plain(value: Any) -> Any:
    """A default value as the schema stores it: numbers, str, flat lists."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, (list, tuple)):
        flat: list = []
        for v in value:
            v = _plain(v)
            flat.extend(v if isinstance(v, list) else [v])
        return flat
    return value


def feature_from_spec(key: str, spec: Any) -> Feature:
    """The schema feature of one `tf.io` spec: FixedLenFeature keeps its shape and default;
    VarLenFeature, FixedLenSequenceFeature and a plain RaggedFeature become variable length."""
    kind = type(spec).__name__
    if kind == "FixedLenFeature":
        shape = tuple(int(d) for d in spec.shape)
        default = None if spec.default_value is None else _plain(spec.default_value)
        return Feature(key, _dtype(key, spec), shape, default=default)
    if kind == "VarLenFeature":
        return Feature(key, _dtype(key, spec), None)
    if kind == "FixedLenSequenceFeature":
        inner = [int(d) for d in spec.shape]
        note = f"FixedLenSequenceFeature of shape {[-1, *inner]}: flat values" if inner else ""
        return Feature(key, _dtype(key, spec), None, description=note)
    if kind == "RaggedFeature":
        if getattr(spec, "partitions", ()) or spec.value_key not in (None, key):
            raise SchemaError(f"feature_description[{key!r}]: a RaggedFeature built from other keys "
                              f"(value_key {spec.value_key!r}, partitions) is not one feature: describe each key")
        return Feature(key, _dtype(key, spec), None)
    raise SchemaError(f"feature_description[{key!r}]: {kind} is not supported (use FixedLenFeature, VarLenFeature, "
                      "FixedLenSequenceFeature or RaggedFeature; a SparseFeature's index and value keys each "
                      "as a VarLenFeature)")


def features_from_description(feature_description: Mapping[str, Any]) -> tuple[Feature, ...]:
    """The schema features of a feature_description dict, in its order."""
    if not feature_description:
        raise SchemaError("feature_description is empty: a dataset needs at least one feature")
    return tuple(feature_from_spec(key, spec) for key, spec in feature_description.items())


def from_feature_description(feature_description: Mapping[str, Any], files: str | Sequence[str], *,
                             out: str | None = None, label_key: str | None = None, name: str | None = None,
                             splits: Mapping[str, str] | None = None) -> DatasetSchema:
    """A schema for the TFRecord `files` (paths, globs or folders; local or gs://) whose records
    `feature_description` parses.

    Shards are listed relative to `out` (default: the folder holding every file), where the schema must
    be saved (`prep.interop.save_schema(schema, out)`). Splits come from the file names (train, validation,
    test, TFDS names), or from `splits` = {name: glob}. The label is `label_key`, else a scalar key
    named like a label ('label', 'class', ...). A sample of every file is read: the compression is
    detected, string keys holding images or text get that encoding, and the records must parse with the
    description (SchemaError otherwise, naming the file and record). A file left out (damaged, not
    TFRecord, or named for no split beside files that are) is not in the schema: a UserWarning names it.
    """
    from prep.interop import inference

    features = features_from_description(feature_description)
    patterns = (files,) if isinstance(files, str) else tuple(files)
    options = inference.InferOptions(patterns, out=out, name=name, label_key=label_key,
                                     split_globs=tuple((splits or {}).items()), command="from_feature_description")
    try:
        located = inference.locate_files(options.patterns, options.out, options.split_globs)
        scans = inference.scan_files(located.entries, options.sample, keep=16)
        features = inference.sniffed_encodings(features, scans)
        label_key = inference.propose_label_key(features, label_key)
        features = tuple(Feature(**{**vars(f), "encoding": "class_id"})
                         if f.name == label_key and f.dtype == "int64" and f.shape == () else f for f in features)
        result = inference.describe_files(options, located, scans, features, label_key=label_key,
                                          mode="feature_description")
    except inference.InferenceError as e:
        raise SchemaError(str(e)) from None
    for relative, _reason, problem in result.left_out:  # what `prep schema infer` prints as warnings
        warnings.warn(f"left out {relative}: {problem}", UserWarning, stacklevel=2)
    return result.schema


def schema_dir(schema: DatasetSchema, files: str | Sequence[str]) -> str:
    """The folder a schema made by `from_feature_description(…, files)` without `out` belongs in."""
    from prep.interop import inference

    patterns = (files,) if isinstance(files, str) else tuple(files)
    return inference.locate_files(patterns, None).out
