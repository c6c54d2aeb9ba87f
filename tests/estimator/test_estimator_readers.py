"""A real tf.estimator trains, evaluates and predicts from the runtime and the generated input functions:
a canned DNNClassifier over feature columns, a custom model_fn, and a run under MirroredStrategy that
hands the input function an input_context, and a model_fn taking supervised=True batches (one tensor).
Needs TensorFlow 2.15 with tensorflow-estimator 2.15."""

from __future__ import annotations

import functools

import pytest

pytest.importorskip("tensorflow_estimator", reason="tf.estimator exists in TensorFlow <= 2.15 only (.venv-tf215)")
import tensorflow as tf  # noqa: E402

from tests.readers.test_input_fn import (  # noqa: E402,F401  (fixtures)
    TOKEN_KEY,
    WORDS,
    reader,
    resized_dataset,
    split_records,
    text_dataset,
    text_datasets,
)

ModeKeys = tf.estimator.ModeKeys


def test_canned_dnn_classifier_trains_and_evaluates_on_image_pixels(reader, resized_dataset, tmp_path):
    options = dict(features=["image"], image_dtype="float32")
    train_fn = reader(resized_dataset, "train", 4, **options)
    eval_fn = reader(resized_dataset, "train", 4, mode="eval", **options)
    classifier = tf.estimator.DNNClassifier(
        hidden_units=[8], feature_columns=[tf.feature_column.numeric_column("image", shape=(10, 12, 1))],
        n_classes=2, model_dir=str(tmp_path / "dnn"))
    classifier.train(train_fn, max_steps=6)
    metrics = classifier.evaluate(eval_fn)
    assert metrics["global_step"] == 6 and 0 <= metrics["accuracy"] <= 1


def text_model_fn(batch_sizes: list):
    """A model_fn: mean of token embeddings -> 2 logits; counts the examples it evaluates; appends the
    static batch size of each training graph it builds to `batch_sizes`."""
    return functools.partial(_text_model_fn, batch_sizes=batch_sizes)


def _text_model_fn(features, labels, mode, params, batch_sizes):
    if mode == ModeKeys.TRAIN:
        batch_sizes.append(features[TOKEN_KEY].shape[0])
    embeddings = tf.compat.v1.get_variable("embeddings", [len(WORDS) + 2, 4])
    weights = tf.compat.v1.get_variable("weights", [4, 2])
    logits = tf.reduce_mean(tf.nn.embedding_lookup(embeddings, features[TOKEN_KEY]), axis=1) @ weights
    classes = tf.argmax(logits, axis=1)
    if mode == ModeKeys.PREDICT:
        return tf.estimator.EstimatorSpec(mode, predictions={"class": classes, "text": features["text"]})
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    if mode == ModeKeys.TRAIN:
        step = tf.compat.v1.train.get_or_create_global_step()
        return tf.estimator.EstimatorSpec(
            mode, loss=loss, train_op=tf.compat.v1.train.AdamOptimizer(0.05).minimize(loss, global_step=step))
    every = tf.ones_like(labels, tf.bool)
    return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops={
        "accuracy": tf.compat.v1.metrics.accuracy(labels, classes),
        "examples": tf.compat.v1.metrics.true_positives(every, every),
    })


def test_custom_model_fn_trains_evaluates_and_predicts_reading_each_record_once(reader, text_dataset, tmp_path):
    options = dict(features=[TOKEN_KEY, "text"], sequence_length=6)
    batch_sizes = []
    estimator = tf.estimator.Estimator(text_model_fn(batch_sizes), model_dir=str(tmp_path / "custom"),
                                       params={"batch_size": 5})
    estimator.train(reader(text_dataset, "train", 4, **options), max_steps=8)
    assert batch_sizes == [5]  # params["batch_size"] won, and training batches are whole
    test_fn = reader(text_dataset, "test", 4, **options)
    metrics = estimator.evaluate(test_fn)
    assert metrics["examples"] == 15 and metrics["global_step"] == 8
    texts = [p["text"] for p in estimator.predict(test_fn)]
    assert sorted(texts) == sorted(split_records(text_dataset, "test", "text"))


def test_mirrored_strategy_gets_per_replica_batches_through_input_context(reader, text_dataset, tmp_path):
    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        pytest.skip("needs the two logical CPUs tests/estimator/conftest.py makes before TensorFlow starts")
    # The default all-reduce hangs between logical CPUs of one machine; reducing on one device does not.
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:2]],
                                              cross_device_ops=tf.distribute.ReductionToOneDevice())
    batch_sizes = []
    estimator = tf.estimator.Estimator(
        text_model_fn(batch_sizes), model_dir=str(tmp_path / "mirrored"),
        config=tf.estimator.RunConfig(train_distribute=strategy))
    train_fn = reader(text_dataset, "train", 8, features=[TOKEN_KEY, "text"], sequence_length=6)
    estimator.train(train_fn, max_steps=4)
    assert batch_sizes == [4, 4]  # one model_fn per replica, each given 8 / 2 records per step
    assert estimator.get_variable_value("global_step") == 4


def test_input_fn_arguments_are_those_estimator_passes(reader, text_dataset):
    from tensorflow_estimator.python.estimator.util import fn_args

    input_fn = reader(text_dataset, "train", 4)
    assert set(fn_args(input_fn)) == {"params", "mode", "config", "input_context"}
    partial = functools.partial(input_fn, params={"batch_size": 3})
    assert next(iter(partial(mode=ModeKeys.EVAL)))[1].shape == (3,)


def test_supervised_batches_feed_a_model_fn_taking_one_tensor(reader, text_dataset, tmp_path):
    def model_fn(features, labels, mode):
        assert isinstance(features, tf.Tensor)  # the token ids themselves, not a dict
        embeddings = tf.compat.v1.get_variable("embeddings", [len(WORDS) + 2, 2])
        logits = tf.reduce_mean(tf.nn.embedding_lookup(embeddings, features), axis=1)
        loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
        every = tf.ones_like(labels, tf.bool)
        step = tf.compat.v1.train.get_or_create_global_step()
        return tf.estimator.EstimatorSpec(
            mode, loss=loss, train_op=tf.compat.v1.train.AdamOptimizer(0.05).minimize(loss, global_step=step),
            eval_metric_ops={"examples": tf.compat.v1.metrics.true_positives(every, every)})

    estimator = tf.estimator.Estimator(model_fn, model_dir=str(tmp_path / "supervised"))
    estimator.train(reader(text_dataset, "train", 4, supervised=True, sequence_length=6), max_steps=5)
    metrics = estimator.evaluate(reader(text_dataset, "test", 4, supervised=True, sequence_length=6))
    assert metrics["examples"] == 15 and metrics["global_step"] == 5
