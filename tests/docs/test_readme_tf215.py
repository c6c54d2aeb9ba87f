"""The README's Estimator line runs, in .venv-tf215 (tf.estimator exists in TensorFlow <= 2.15 only): the
"Training from a dataset" block whole, Keras lines and Estimator line, after the block that makes its
dataset. `make test` runs this file there. Keras' warnings are left to test_readme.py, which fails on them
in current Keras (Keras 2.15 warns of the same dict keys)."""

from __future__ import annotations

import pytest

from tests.docs.runner import Session
from tests.docs.test_readme import BLOCKS, ESTIMATOR, FEWER_STEPS, KERAS_MODEL

pytest.importorskip("tensorflow_estimator", reason="tf.estimator: run this file in .venv-tf215")


def test_training_block_with_its_estimator_line(tmp_path):
    readme = Session(tmp_path, BLOCKS)
    readme.ensure("make-input-fn", prelude=KERAS_MODEL + ESTIMATOR, replace=FEWER_STEPS,
                  epilogue="assert estimator.get_variable_value('global_step') == 2\n")

