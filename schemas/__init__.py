"""The dataset schema: model, schema.json load/save with validation, and the `tf.io` feature spec.

Imports no Beam and no TensorFlow at import time; only functions that return tf objects import it.
"""

from schemas.feature_spec import feature_spec, parse_spec
from schemas.jsonio import SCHEMA_FILE, dumps, load_schema, loads, save_schema, schema_from_dict, schema_to_dict
from schemas.model import (
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
)

__all__ = [
    "COMPRESSIONS", "DTYPES", "ENCODINGS", "FORMAT_VERSION", "SCHEMA_FILE",
    "BytePairSettings", "DatasetSchema", "Feature", "ImageInfo", "Provenance", "SchemaError", "SentencePieceSettings", "Shard", "Split", "TextSettings",
    "Vocabulary", "WordPieceSettings", "dumps", "feature_spec", "load_schema", "loads", "parse_spec", "save_schema",
    "schema_from_dict", "schema_to_dict",
]
