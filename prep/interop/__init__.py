"""Interop: schemas for TFRecords prep did not write, and prep's datasets in other tools' formats.

Owns schema inference from any TFRecords (`prep schema infer`), `from_feature_description` (a schema
from a hand-written `tf.io` feature description), TensorFlow Datasets metadata (`prep export tfds`,
`prep schema import`) and TFX/TFDV schemas. May import prep.images, prep.jobs, prep.core,
prep.records and schemas; never the CLI or beam_jobs.
"""

from prep.interop.feature_description import from_feature_description
from schemas import save_schema  # the README's "Bring your own TFRecords" saves what it made with it

__all__ = ["from_feature_description", "save_schema"]
