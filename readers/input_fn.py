"""`make_input_fn`: the input function of a dataset directory, built at run time from its schema.json."""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

from readers.layout import dataset_layout
from readers.pipeline import ReadOptions, build_input_fn


class _FromSchema:
    """The default label key: the one schema.json names."""

    def __repr__(self) -> str:
        return "<the schema's label_key>"


FROM_SCHEMA: Any = _FromSchema()


def make_input_fn(
    dataset_dir: str | os.PathLike,
    split: str = "train",
    batch_size: int = 32,
    *,
    mode: str | None = None,
    image_size: tuple[int, int] | None = None,
    image_dtype: str = "uint8",
    label_key: str | None = FROM_SCHEMA,
    sequence_length: int | None = None,
    ragged: bool = False,
    features: Sequence[str] | None = None,
    num_epochs: int | None = None,
    shuffle_buffer: int = 10_000,
    cycle_length: int | None = None,
    cache: bool | str = False,
    deterministic: bool | None = None,
    seed: int | None = None,
    supervised: bool = False,
    keras_names: bool = False,
    multi_hot: bool = True,
    max_boxes: int | None = None,
    check_crc: bool = False,
    version: int | None = None,
) -> Callable[..., Any]:
    """Returns `input_fn(params=None, mode=None, config=None, input_context=None)`, a tf.data pipeline
    of `(features, labels)` batches of split `split` of the prep dataset in `dataset_dir`.

    Everything that can be wrong (no schema.json, unknown split, missing shard, unknown feature, bad
    option) is an error now, not in the middle of training: `schemas.SchemaError` for the schema,
    `readers.ReaderError` for the rest (both are ValueErrors).

    Keras: `model.fit(train_fn(), steps_per_epoch=N, validation_data=eval_fn())`; with supervised=True
    a plain `keras.Sequential` fits, with keras_names=True a model whose `Input`s are named after the
    features. tf.estimator: `estimator.train(train_fn)`, which passes `params`, `mode` and
    `input_context` itself.

    Args:
        batch_size: records per batch (the global batch size under tf.distribute);
            `params["batch_size"]` overrides it.
        mode: what the input function does when its caller passes no mode (Keras does not): "train"
            shuffles shard order and records and repeats; "eval" and "infer" read every record once, in
            a stable order, keeping the last smaller batch. None: "train" for the train split, "eval" for
            the others.
        image_size: (height, width) in pixels to resize images to; needed when the dataset's images
            differ in size. Images come out as [batch, height, width, channels].
        image_dtype: "uint8" (0-255), or "float32" scaled to [0, 1].
        label_key: the feature returned as labels (default: the schema's); None returns features only.
        sequence_length: token ids are cut or padded (with the vocabulary's padding id) to this many;
            None pads to the longest in each batch.
        ragged: token ids come out as a tf.RaggedTensor, unpadded. Other variable-length features are
            always ragged.
        features: the names of the features to return (default: all but the label).
        num_epochs: passes over the data when training; None repeats forever.
        shuffle_buffer: records in the shuffle buffer when training.
        cycle_length: shards read in parallel when training, interleaved in blocks of 64 records. By
            default (None, or 1) one after the other, which reads local files fastest; a prep
            dataset's shards need no mixing (each is a random sample of the split), others may.
        cache: keep the serialised records after the first pass, in memory (True) or in files at this
            path prefix.
        deterministic: when training, False (the default) lets records arrive in whatever order is
            fastest; True fixes the order (for a given seed). Eval and predict always keep order.
        seed: seed of the shuffles, for a repeatable order with deterministic=True.
        supervised: batches are `(feature, label)` pairs of tensors, as TFDS's `as_supervised` gives:
            the dataset's one image or token-id feature (or the one name in `features`) and the label.
        keras_names: the features dict's keys with "/" as "_" (`text/token_ids` -> `text_token_ids`),
            names Keras 3 accepts for an `Input` (it refuses "/").
        multi_hot: multi-label class ids (a manifest's `labels`) come out as [batch, classes] float32
            multi-hot vectors, what binary cross-entropy trains on; False gives the ragged ids.
        max_boxes: a detection dataset's per-object features (boxes, classes, instance masks, ...) padded
            or cut to this many per image ([batch, max_boxes, 4] boxes, classes padded with -1, masks with
            zeros), with a boolean "image/object/valid" marking the objects; None keeps them ragged
            ([batch, None, 4] boxes, [batch, None, height, width] masks).
        check_crc: read the records one by one through TFRecordDataset, which checks each one's CRC32C.
            By default shards that have a record index (prep writes one beside each uncompressed
            shard) are loaded whole and sliced by it, 1.5-2x faster on small records, checking each
            record's frame against the index but not its CRC (`prep verify` checks every CRC).
        version: read this version of a dataset that grows (`prep images --update`), exactly as it was
            made, while the dataset keeps it (`prep versions`); None reads the current version.
    """
    from schemas.versions import load_version

    dataset_dir = os.fspath(dataset_dir)
    layout = dataset_layout(load_version(dataset_dir, version))
    options = ReadOptions(
        batch_size=batch_size, mode=mode, image_size=image_size, image_dtype=image_dtype,
        label_key=layout.label_key if label_key is FROM_SCHEMA else label_key,
        sequence_length=sequence_length, ragged=ragged, features=features, num_epochs=num_epochs,
        shuffle_buffer=shuffle_buffer, cycle_length=cycle_length, cache=cache, deterministic=deterministic,
        seed=seed, supervised=supervised, keras_names=keras_names, multi_hot=multi_hot,
        max_boxes=max_boxes, check_crc=check_crc,
    )
    return build_input_fn(layout, dataset_dir, split, options)
