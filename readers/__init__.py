"""Readers: tf.data input functions built from a dataset's schema.json, at run time (`make_input_fn`)
or written out as a standalone module (`readers.codegen`, the `prep reader` command)."""

from readers.input_fn import make_input_fn
from readers.pipeline import EVAL, PREDICT, TRAIN, ReaderError

__all__ = ["EVAL", "PREDICT", "TRAIN", "ReaderError", "make_input_fn"]
