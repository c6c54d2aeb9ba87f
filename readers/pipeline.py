"""The tf.data input pipeline of a prep dataset: one small function per step, and the input function.

This module imports nothing but TensorFlow and the standard library, on purpose: `prep reader` copies
it as it is into the standalone module it writes, so the runtime reader (`readers.make_input_fn`) and
a generated module run the same code and give the same batches.

The steps, in order: list the shard files (shuffled when training, and repeated: the list, not the
records, unless they are cached), read their records, shuffle (when training), batch, count the
batches (as the schema says), parse each batch with one vectorised `tf.io.parse_example` (in eval
checking its size first) and decode it (images to pixels, token ids padded), prefetch.

Reading: a shard with a record index (prep writes one beside each uncompressed shard, "offset size"
per record) is loaded whole and its records sliced out of its bytes in one op; when training, the
records of one shard (or of as many as `shuffle_buffer` records fill) are permuted in one op too, and
`rebatch` cuts batches across shard boundaries. No tf.data step then handles a record on its own.
Without an index (or with a cache, an interleave, check_crc) records come one by one from
TFRecordDataset: one file after the other, or with cycle_length > 1 interleaved in parallel in blocks,
then cached (if asked) and shuffled through a buffer.

Every tf.data step a record passes through on its own costs it about 0.2 µs on bench/readers.py's
machine (2 cores), a hand-over between threads (a parallel interleave) several µs, and records read
one file after the other ~2 µs of one thread: so on that path a record passes through no step but
reading, shuffling and batching, and the counts are checked on the batches, not by a step of their
own per record.

Images are decoded with `tf.map_fn` inside each parsed batch rather than by unbatch -> decode -> batch:
measured on bench/readers.py's 224x224 JPEGs both read about 1,800 images/s on 2 cores at about 1 ms
of CPU per image, and map_fn keeps the batch count known and works for any mix of features.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import tensorflow as tf

TRAIN, EVAL, PREDICT = "train", "eval", "infer"  # the values of tf.estimator.ModeKeys
MODES = {"train": TRAIN, "eval": EVAL, "infer": PREDICT, "predict": PREDICT}
IMAGE_DTYPES = ("uint8", "float32")
# Records an interleave (cycle_length > 1) hands over at a time: its cost per hand-over is paid once per
# block. 64 is the block_length of a hand-tuned interleave, so the shards mix as finely as there.
BLOCK_LENGTH = 64


class ReaderError(ValueError):
    """A reader that cannot work as asked: the message names what is wrong and what to do."""


@dataclasses.dataclass(frozen=True)
class DatasetLayout:
    """What a reader needs to know about a dataset, as its schema.json says.

    `splits` maps each split to its shards: (file relative to the dataset directory, records in it or
    None when unknown); `compression` is TFRecordDataset's compression_type ("", "GZIP" or "ZLIB");
    `feature_spec` maps each feature to its `tf.io` parsing spec; `images` maps each image feature to
    (channels, (height, width) in pixels when every image has that size, else None); `pad_ids` maps each
    token-id feature to its padding id; `main_feature` is what `supervised=True` returns beside the
    label: the dataset's one image or token-id feature (None when it has none or several);
    `multi_hot` maps each multi-label class-id feature (a variable number of class ids) to its number
    of classes, the length of the multi-hot vector it becomes. A detection dataset has `boxes`, its
    feature of 4 values per box ([ymin, xmin, ymax, xmax], the Model Garden's order), and `objects`,
    the features with one value per box (among them the same boxes' coordinates one by one).
    """

    splits: Mapping[str, Sequence[tuple[str, int | None]]]
    compression: str
    feature_spec: Mapping[str, Any]
    label_key: str | None
    images: Mapping[str, tuple[int, tuple[int, int] | None]]
    pad_ids: Mapping[str, int]
    main_feature: str | None = None
    multi_hot: Mapping[str, int] = dataclasses.field(default_factory=dict)
    boxes: str | None = None  # a detection dataset's boxes: 4 values per box, ymin, xmin, ymax, xmax
    objects: tuple[str, ...] = ()  # its per-object features (one value per box)
    # Each split's record index files (relative, in the order of its shards), for the splits whose
    # every shard has one: the reader slices the records out of the shards' bytes with them.
    indexes: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    # which version of the dataset these shards are (a dataset that grows keeps each until it is removed)
    version: int = 1
    # the image features that are segmentation masks: class ids, resized by nearest neighbour, always uint8
    masks: tuple[str, ...] = ()
    # the features of a PNG of 0 and 1 per object (`images` says their channels and size): each record's
    # masks come out as [objects, height, width] uint8, resized by nearest neighbour
    instance_masks: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """How to read: see `make_input_fn` for each option. `mode` None means TRAIN for the "train" split
    and EVAL for the others, when the caller of the input function passes no mode."""

    batch_size: int = 32
    mode: str | None = None
    image_size: tuple[int, int] | None = None
    image_dtype: str = "uint8"
    label_key: str | None = None
    sequence_length: int | None = None
    ragged: bool = False
    features: Sequence[str] | None = None
    num_epochs: int | None = None
    shuffle_buffer: int = 10_000
    cycle_length: int | None = None
    cache: bool | str = False
    deterministic: bool | None = None
    seed: int | None = None
    supervised: bool = False
    keras_names: bool = False
    multi_hot: bool = True
    max_boxes: int | None = None
    check_crc: bool = False


# A TFRecord frame: an 8-byte length and its 4-byte CRC before the data, the data's CRC after it.
HEADER_BYTES = 12
FRAME_BYTES = 16
# Records an indexed shard is sliced into at a time (at least a batch): a slice costs one op call.
SLICE_RECORDS = 1024

# With max_boxes: which of the padded rows hold an object (the others are padding).
OBJECT_VALID = "image/object/valid"


@dataclasses.dataclass(frozen=True)
class ImageDecoding:
    """How one image feature decodes: to `channels`, `size` (height, width) pixels, `dtype`; `resize`
    when the stored images are not already that size."""

    channels: int
    size: tuple[int, int]
    dtype: str
    resize: bool
    nearest: bool = False  # a mask of class ids: resized by nearest neighbour (no id in between two others)


def plain(fn: Callable) -> Callable:
    """`fn`, for tf.data and tf.map_fn to trace as it is written. The functions here are plain graph
    code (their `if`s test Python values, never tensors), so AutoGraph has nothing to convert; and it
    could not in a generated module loaded by path without an entry in sys.modules (as training
    launchers load files), where it looks the module up."""
    return tf.autograph.experimental.do_not_convert(fn)


# ---- the steps ---------------------------------------------------------------------------------------


def list_shards(paths: Sequence[str], *, shuffle: bool, seed: int | None,
                indexes: Sequence[str] | None = None) -> tf.data.Dataset:
    """The shard files as a dataset of paths (with `indexes`, of (shard, record index) pairs); when
    training, in a new random order each epoch."""
    files = tf.data.Dataset.from_tensor_slices(list(paths) if indexes is None else (list(paths), list(indexes)))
    if shuffle and len(paths) > 1:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    return files


def read_records(files: tf.data.Dataset, *, compression: str) -> tf.data.Dataset:
    """The serialised records of the files, one file after the other, each from its start: the cheapest
    way to read, in one thread, with no hand-over between threads."""
    return tf.data.TFRecordDataset(files, compression_type=compression)


def interleave_records(files: tf.data.Dataset, *, compression: str, cycle_length: int, block_length: int,
                       deterministic: bool) -> tf.data.Dataset:
    """The serialised records of the files, `cycle_length` files read in parallel, `block_length`
    records from each in turn (in a stable order when `deterministic`). Each file is read in a thread
    of the interleave and comes over in blocks: one hand-over per block, and `unbatch` per record here."""
    blocks = files.interleave(
        plain(lambda path: tf.data.TFRecordDataset(path, compression_type=compression).batch(block_length)),
        cycle_length=cycle_length, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return blocks.unbatch()


def load_indexed_shard(path: tf.Tensor, index_path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """One shard's bytes and where its records' data lie in them, (bytes, starts, lengths), from its
    record index (one "offset size" line per record, DALI's format): two file reads and a few
    vectorised ops for the whole shard. Each record's frame is checked against the index (the frames
    tile the file, each length header says the index's size), not its CRC (check_crc=True reads
    through TFRecordDataset, which does)."""
    data = tf.io.read_file(path)
    index = tf.strings.to_number(tf.strings.split(tf.io.read_file(index_path)), tf.int64)
    index = tf.reshape(index, [-1, 2])
    offsets, sizes = index[:, 0], index[:, 1]
    message = "does not match its record index (changed or damaged since it was written? run prep verify, " \
              "or write the dataset again):"
    tiled = tf.logical_and(
        tf.reduce_all(tf.equal(offsets, tf.cumsum(sizes, exclusive=True))),
        tf.logical_and(tf.equal(tf.reduce_sum(sizes), tf.cast(tf.strings.length(data), tf.int64)),
                       tf.reduce_all(sizes >= FRAME_BYTES)))
    with tf.control_dependencies([tf.debugging.Assert(tiled, [path, message, index_path])]):
        headers = tf.io.decode_raw(tf.strings.substr(data, offsets, tf.fill(tf.shape(offsets), tf.constant(8, tf.int64))),
                                   tf.int64, little_endian=True)
    lengths = sizes - FRAME_BYTES
    framed = tf.reduce_all(tf.equal(tf.reshape(headers, [-1]), lengths))
    with tf.control_dependencies([tf.debugging.Assert(framed, [path, message, index_path])]):
        return tf.identity(data), offsets + HEADER_BYTES, tf.identity(lengths)


def permutation(count: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """A random order of `count` items, from a scalar int64 seed."""
    return tf.argsort(tf.random.stateless_uniform(tf.reshape(count, [1]), seed=tf.stack([seed, seed // 2])))


def slice_records(data: tf.Tensor, starts: tf.Tensor, lengths: tf.Tensor, chunk: int) -> tf.data.Dataset:
    """The records at `starts` and `lengths` of the bytes `data`, sliced `chunk` at a time (so the first
    batch waits for one slice, not the whole shard's), as vectors of serialised records."""
    count = tf.size(starts, out_type=tf.int64)
    return tf.data.Dataset.range(0, count, chunk).map(
        plain(lambda first: tf.strings.substr(data, starts[first:first + chunk], lengths[first:first + chunk])))


def read_indexed_records(shards: tf.data.Dataset, *, window: int, shuffle: bool, seed: int | None,
                         batch_size: int, drop_remainder: bool) -> tf.data.Dataset:
    """Batches of serialised records of the (shard, index) pairs, shards loaded whole by
    `load_indexed_shard` (the next one while this one is read) and sliced in chunks. When shuffling,
    the records of every `window` shards in a row are put in a random order as one (a permutation,
    where a shuffle buffer of as many records mixes less), each window differently, from `seed` when
    given: for one shard, the order of its slices before they are cut; for several, the records after.
    Then cut into batches of `batch_size` across shard boundaries."""
    def slices(data: tf.Tensor, starts: tf.Tensor, lengths: tf.Tensor) -> tf.data.Dataset:
        return slice_records(data, starts, lengths, max(batch_size, SLICE_RECORDS))

    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True) if shuffle else None
    if not shuffle:
        records = shards.map(plain(load_indexed_shard), num_parallel_calls=2, deterministic=True).flat_map(plain(slices))
    elif window == 1:
        def load_permuted(paths: tuple, seed: tf.Tensor) -> tuple:
            """A shard loaded, the slices of its records in a random order."""
            data, starts, lengths = load_indexed_shard(*paths)
            order = permutation(tf.size(starts), seed)
            return data, tf.gather(starts, order), tf.gather(lengths, order)

        loaded = tf.data.Dataset.zip((shards, seeds)).map(plain(load_permuted), num_parallel_calls=2, deterministic=True)
        records = loaded.flat_map(plain(slices))
    else:
        def permute(records: tf.RaggedTensor, seed: tf.Tensor) -> tf.Tensor:
            records = records.flat_values
            return tf.gather(records, permutation(tf.size(records), seed))

        shard_records = shards.map(plain(lambda path, index: tf.strings.substr(*load_indexed_shard(path, index))),
                                   num_parallel_calls=2, deterministic=True)
        records = tf.data.Dataset.zip((shard_records.ragged_batch(window), seeds)).map(plain(permute))
    return records.rebatch(batch_size, drop_remainder=drop_remainder)


def cache_records(records: tf.data.Dataset, cache: bool | str) -> tf.data.Dataset:
    """Keeps the serialised records after the first epoch: in memory (True) or in files named `cache`."""
    return records.cache("" if cache is True else cache)


def shuffle_records(records: tf.data.Dataset, *, buffer_size: int, seed: int | None) -> tf.data.Dataset:
    """Shuffles records through a buffer of `buffer_size` records, differently each epoch."""
    return records.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)


def repeat_records(records: tf.data.Dataset, num_epochs: int | None) -> tf.data.Dataset:
    """`num_epochs` passes over the records (or the shard files); None repeats forever."""
    return records.repeat(num_epochs)


def batch_records(records: tf.data.Dataset, *, batch_size: int, drop_remainder: bool) -> tf.data.Dataset:
    """Groups serialised records into batches of `batch_size` (the last one smaller, unless dropped)."""
    return records.batch(batch_size, drop_remainder=drop_remainder)


def count_batches(batches: tf.data.Dataset, *, records: int, batch_size: int, num_epochs: int | None,
                  drop_remainder: bool) -> tf.data.Dataset:
    """Tells tf.data how many batches `num_epochs` passes over `records` records give (None: forever),
    so that Keras knows an epoch's length; a pass that gives another number of batches fails."""
    if drop_remainder:
        count = tf.data.INFINITE_CARDINALITY if num_epochs is None and records else records * (num_epochs or 0) // batch_size
    else:
        count = -(-records * (num_epochs or 1) // batch_size)
    return batches.apply(tf.data.experimental.assert_cardinality(count))


def check_batch_sizes(records: int, batch_size: int, message: str) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """For one pass over `records` records keeping the remainder: a function of (batch number, batch)
    that fails with `message` unless the batch holds `batch_size` records, or the last batch what is
    left. With the count of batches, this counts the records exactly, in a few ops of the parse step's
    function (a step of its own would cost a function call per batch)."""
    count = -(-records // batch_size)
    last = records - (count - 1) * batch_size

    def check(index: tf.Tensor, serialized: tf.Tensor) -> tf.Tensor:
        # tf.equal, not ==: in a TF1 graph (tf.estimator), == compares the tensors' identity.
        expected = tf.where(tf.equal(index, count - 1), tf.constant(last, tf.int64), tf.constant(batch_size, tf.int64))
        same = tf.equal(tf.shape(serialized, out_type=tf.int64)[0], expected)
        with tf.control_dependencies([tf.debugging.Assert(same, [message])]):
            return tf.identity(serialized)

    return check


def parse_batches(batches: tf.data.Dataset, spec: Mapping[str, Any], decode: Callable[[dict], Any], *,
                  check: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None,
                  deterministic: bool) -> tf.data.Dataset:
    """Parses each batch of serialised `tf.train.Example`s with one `tf.io.parse_example` call and
    applies `decode` (parsed features -> model inputs), batches in parallel; first `check` (batch
    number, batch) when given. One function, not a map each: every function of a pipeline is traced
    and instantiated before the first batch, and called once per batch."""
    if check is None:
        return batches.map(plain(lambda serialized: decode(tf.io.parse_example(serialized, spec))),
                           num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return batches.enumerate().map(plain(lambda index, serialized: decode(tf.io.parse_example(check(index, serialized), spec))),
                                   num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)


def prefetch(batches: tf.data.Dataset) -> tf.data.Dataset:
    """Prepares the next batches while the model works on this one."""
    return batches.prefetch(tf.data.AUTOTUNE)


# ---- decoding ----------------------------------------------------------------------------------------


def decode_images(encoded: tf.Tensor, how: ImageDecoding) -> tf.Tensor:
    """A batch of encoded images (JPEG, PNG, GIF, BMP) -> [batch, height, width, channels] pixels:
    uint8, or float32 scaled to [0, 1]."""
    height, width = how.size
    # Pixels stay uint8 through the per-image loop (a quarter of float32's bytes) and become float32 for
    # the whole batch at once; only resized images, float32 already, keep their fractions.
    dtype = tf.float32 if how.resize and how.dtype == "float32" and not how.nearest else tf.uint8

    def decode_one(data: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(data, channels=how.channels, expand_animations=False)
        if how.resize and how.nearest:
            image = tf.image.resize(image, how.size, method="nearest")  # keeps uint8
        elif how.resize:
            image = tf.image.resize(image, how.size)  # float32 in [0, 255]
            if dtype == tf.uint8:
                image = tf.saturate_cast(tf.round(image), tf.uint8)
        return tf.ensure_shape(image, [height, width, how.channels])

    images = tf.map_fn(plain(decode_one), encoded, fn_output_signature=tf.TensorSpec([height, width, how.channels], dtype))
    if how.dtype == "uint8":
        return images
    if dtype == tf.float32:
        return images / 255.0
    # v * (1 / 255) in one pass over the batch, where cast-then-scale makes two: as Keras'
    # Rescaling(1 / 255) scales (a float32 multiply, within an ulp of v / 255); measured on
    # bench/readers.py's 224x224 JPEGs about 35 µs of CPU less per image (6%).
    return tf.quantization.dequantize(tf.bitcast(images, tf.quint8), 0.0, 1.0, mode="MIN_COMBINED")


def pad_token_ids(ids: tf.RaggedTensor, *, pad_id: int, length: int | None) -> tf.Tensor:
    """Ragged token ids -> [batch, length], cut or padded with `pad_id`; [batch, longest] when no length."""
    return ids.to_tensor(default_value=pad_id, shape=None if length is None else [None, length])


def multi_hot_labels(ids: tf.RaggedTensor, *, depth: int) -> tf.Tensor:
    """Ragged class ids -> [batch, depth] float32, 1.0 at each record's classes: what a sigmoid output
    layer with binary cross-entropy trains on."""
    dense = ids.to_tensor(default_value=-1)  # one_hot of -1 is all zeros
    return tf.minimum(tf.reduce_sum(tf.one_hot(dense, depth, dtype=tf.float32), axis=1), 1.0)


def decode_instance_masks(encoded: tf.RaggedTensor, how: ImageDecoding) -> tf.RaggedTensor:
    """Ragged [batch, None] PNGs of 0 and 1, one per object -> ragged [batch, None, height, width] uint8:
    what the Model Garden's TfExampleDecoder gives as groundtruth_instance_masks (in float32) for each
    record, decoded all at once for the batch."""
    masks = decode_images(encoded.flat_values, how)[..., 0]
    return tf.RaggedTensor.from_row_splits(masks, encoded.row_splits, validate=False)


def boxes_of(flat: tf.RaggedTensor) -> tf.RaggedTensor:
    """Ragged [batch, 4 x boxes] coordinates -> ragged [batch, boxes, 4], one box per row."""
    return tf.RaggedTensor.from_row_splits(tf.reshape(flat.flat_values, [-1, 4]), flat.row_splits // 4,
                                           validate=False)


def pad_objects(values: tf.RaggedTensor, max_boxes: int, pad: Any) -> tf.Tensor:
    """Ragged per-object values -> [batch, max_boxes, ...] padded with `pad` (and cut after max_boxes)."""
    return values.to_tensor(default_value=tf.constant(pad, values.dtype), shape=[None, max_boxes, *values.shape[2:]])


def keras_name(name: str) -> str:
    """A feature name as a Keras 3 `Input` may be named: "/" (which Keras refuses) becomes "_"."""
    return name.replace("/", "_")


def make_decoder(images: Mapping[str, ImageDecoding], pad_ids: Mapping[str, int], *,
                 sequence_length: int | None, outputs: Sequence[str], label_key: str | None,
                 supervised: bool = False, keras_names: bool = False,
                 multi_hot: Mapping[str, int] | None = None, boxes: str | None = None,
                 objects: Sequence[str] = (), max_boxes: int | None = None,
                 instance_masks: Sequence[str] = ()) -> Callable[[dict], Any]:
    """The function that turns a parsed batch into `(features, labels)` (or `features` without a label
    key): images decoded, token ids padded, the class ids of `multi_hot`'s features as multi-hot
    vectors, a detection dataset's `boxes` as one box per row and its `instance_masks` as one mask per
    object (per-object features padded to `max_boxes`, with OBJECT_VALID, when it is set), everything
    else as parsed. `supervised`: the one
    output feature as a tensor instead of a dict (a detection dataset's labels as KerasHub's
    {"boxes", "labels"}); `keras_names`: the dict's keys as `keras_name` makes them."""
    multi_hot = multi_hot or {}

    def decode(parsed: dict) -> Any:
        values = {}
        for name, value in parsed.items():
            if name in instance_masks:
                value = decode_instance_masks(value, images[name])
            elif name in images:
                value = decode_images(value, images[name])
            elif name in pad_ids:
                value = pad_token_ids(value, pad_id=pad_ids[name], length=sequence_length)
            elif name in multi_hot:
                value = multi_hot_labels(value, depth=multi_hot[name])
            elif name == boxes:
                value = boxes_of(value)
            values[name] = value
        if max_boxes is not None:
            present = [name for name in (*objects, boxes) if name in values]
            if present:
                rows = values[present[0]].row_lengths()
                values[OBJECT_VALID] = pad_objects(tf.RaggedTensor.from_row_lengths(
                    tf.ones([tf.reduce_sum(rows)], tf.bool), rows, validate=False), max_boxes, False)
            for name in present:
                pad = -1 if values[name].dtype == tf.int64 else (b"" if values[name].dtype == tf.string else 0)
                values[name] = pad_objects(values[name], max_boxes, pad)
        if supervised:
            if label_key in objects:
                return values[outputs[0]], {"boxes": values[boxes], "labels": values[label_key]}
            return values[outputs[0]], values[label_key]
        features = {keras_name(name) if keras_names else name: values[name] for name in outputs}
        return features if label_key is None else (features, values[label_key])

    return decode


# ---- the input function ------------------------------------------------------------------------------


def shards_for_pipeline(shards: Sequence[tuple[str, int | None, str | None]], split: str,
                        input_context: Any) -> list[tuple[str, int | None, str | None]]:
    """This input pipeline's shards: every num_input_pipelines-th shard from its input_pipeline_id on,
    so pipelines read disjoint shards."""
    if input_context is None or input_context.num_input_pipelines == 1:
        return list(shards)
    count, index = input_context.num_input_pipelines, input_context.input_pipeline_id
    if len(shards) < count:
        raise ReaderError(
            f"split {split!r} has {len(shards)} shard(s) but there are {count} input pipelines, and each "
            f"must read shards of its own: write the dataset with at least {count} shards per split"
        )
    return list(shards[index::count])


def read_batches(files: tf.data.Dataset, layout: DatasetLayout, options: ReadOptions, *, training: bool,
                 cycle_length: int, deterministic: bool, repeat_shards: bool, batch_size: int,
                 input_context: Any) -> tf.data.Dataset:
    """Batches of serialised records of the shard files, read record by record: one file after the
    other (or interleaved), cached if asked, shuffled through a buffer when training."""
    if cycle_length > 1:
        records = interleave_records(files, compression=layout.compression, cycle_length=cycle_length,
                                     block_length=BLOCK_LENGTH, deterministic=deterministic)
    else:
        records = read_records(files, compression=layout.compression)
    if options.cache:
        cache = options.cache
        if isinstance(cache, str) and input_context is not None:
            cache = f"{cache}-{input_context.input_pipeline_id}"
        records = cache_records(records, cache)
    if training:
        records = shuffle_records(records, buffer_size=options.shuffle_buffer, seed=options.seed)
        if not repeat_shards:
            records = repeat_records(records, options.num_epochs)
    return batch_records(records, batch_size=batch_size, drop_remainder=training)


def make_dataset(shards: Sequence[tuple[str, int | None, str | None]], layout: DatasetLayout, spec: Mapping[str, Any],
                 decode: Callable[[dict], Any], options: ReadOptions, *, split: str, mode: str,
                 batch_size: int, input_context: Any = None) -> tf.data.Dataset:
    """The whole pipeline for one input pipeline: the steps above, in order. Shards with a record index
    are loaded whole and sliced into batches by it (`read_indexed_records`), unless the options need
    the records one by one (a cache, an interleave, check_crc). Otherwise the shards are read one after
    the other (when training in a new order each epoch) unless `options.cycle_length` asks for an
    interleave: in one thread a record costs least, and a prep dataset's shards need no mixing (each
    is a random sample of the split, its records in the order of a hash)."""
    training = mode == TRAIN
    deterministic = bool(options.deterministic) if training else True
    if input_context is not None:
        shards = shards_for_pipeline(shards, split, input_context)
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    paths, counts, indexes = ([shard[i] for shard in shards] for i in range(3))
    cycle_length = min(options.cycle_length or 1, len(paths)) if training else 1
    indexed = None not in indexes and None not in counts and cycle_length == 1 and not options.cache \
        and not options.check_crc

    files = list_shards(paths, shuffle=training, seed=options.seed, indexes=indexes if indexed else None)
    # Training repeats the list of shards (each pass in a new order), not the records: a repeat costs a
    # record about 0.7 µs, 10% of reading it (bench/RESULTS.md), a list of shards nothing. The shuffle
    # buffer then mixes the end of one pass with the start of the next, as TensorFlow's tf.data guide
    # describes for repeat-then-shuffle. A cache keeps the records of one pass, so it repeats them.
    repeat_shards = training and not options.cache
    if repeat_shards:
        files = repeat_records(files, options.num_epochs)
    if indexed:
        # as many shards in a window as hold shuffle_buffer records (on average), so that the records
        # mix at least as well as through a shuffle buffer of that size
        window = max(1, min(len(paths), -(-options.shuffle_buffer * len(paths) // max(1, sum(counts)))))
        batches = read_indexed_records(files, window=window, shuffle=training, seed=options.seed,
                                       batch_size=batch_size, drop_remainder=training)
    else:
        batches = read_batches(files, layout, options, training=training, cycle_length=cycle_length,
                               deterministic=deterministic, repeat_shards=repeat_shards, batch_size=batch_size,
                               input_context=input_context)
    check = None
    if None not in counts:
        batches = count_batches(batches, records=sum(counts), batch_size=batch_size,
                                num_epochs=options.num_epochs if training else 1, drop_remainder=training)
        if not training:
            check = check_batch_sizes(
                sum(counts), batch_size,
                f"the shards of the {split} split do not hold the {sum(counts)} records its schema.json says "
                "(changed or damaged since? write the dataset again)")
    batches = parse_batches(batches, spec, decode, check=check, deterministic=deterministic)
    return prefetch(batches)


def build_input_fn(layout: DatasetLayout, data_dir: str, split: str,
                   options: ReadOptions) -> Callable[..., tf.data.Dataset]:
    """Checks the split, its shards and the options now, then returns the input function."""
    shards = shard_paths(layout, data_dir, split)
    check_options(options)
    outputs = output_features(layout, options)
    wanted = outputs + ([options.label_key] if options.label_key and options.label_key not in outputs else [])
    if layout.boxes and options.supervised and options.label_key in layout.objects and layout.boxes not in wanted:
        wanted.append(layout.boxes)
    wanted = [name for name in wanted if name != OBJECT_VALID]  # made from the objects, not parsed
    if options.max_boxes is not None and not layout.objects:
        raise ReaderError("max_boxes pads the boxes of a detection dataset, and this dataset has none")
    for name in wanted:
        if name not in layout.feature_spec:
            raise ReaderError(f"no feature {name!r} in this dataset (it has: {', '.join(map(repr, layout.feature_spec))})")
    spec = {name: layout.feature_spec[name] for name in wanted}
    images = {name: image_decoding(name, *layout.images[name], options, mask=name in layout.masks + layout.instance_masks)
              for name in wanted if name in layout.images}
    pad_ids = {} if options.ragged else {name: layout.pad_ids[name] for name in wanted if name in layout.pad_ids}
    if options.sequence_length is not None and not pad_ids:
        raise ReaderError("sequence_length is set but no token-id feature is read (or ragged=True)")
    multi_hot = {name: layout.multi_hot[name] for name in wanted if name in layout.multi_hot} if options.multi_hot else {}
    decode = make_decoder(images, pad_ids, sequence_length=options.sequence_length, outputs=outputs,
                          label_key=options.label_key, supervised=options.supervised,
                          keras_names=options.keras_names, multi_hot=multi_hot, boxes=layout.boxes,
                          objects=layout.objects, max_boxes=options.max_boxes,
                          instance_masks=[name for name in layout.instance_masks if name in images])
    default_mode = MODES[options.mode] if options.mode else (TRAIN if split == "train" else EVAL)

    def input_fn(params: dict | None = None, mode: str | None = None, config: Any = None,
                 input_context: Any = None) -> tf.data.Dataset:
        """A dataset of (features, labels) batches, by the Estimator contract: `params["batch_size"]`
        overrides the batch size; `mode` (a tf.estimator.ModeKeys value) says TRAIN (shuffle, repeat)
        or EVAL/PREDICT (each record once, in order); with a tf.distribute `input_context` this input
        pipeline reads its own shards with the per-replica batch size. `config` is not used."""
        del config
        batch_size = (params or {}).get("batch_size", options.batch_size)
        if mode is not None and not (isinstance(mode, str) and mode in MODES):
            raise ReaderError(f"mode {mode!r} is not one of {', '.join(map(repr, MODES))}")
        return make_dataset(shards, layout, spec, decode, options, split=split,
                            mode=MODES[mode] if mode else default_mode, batch_size=batch_size,
                            input_context=input_context)

    return input_fn


def output_features(layout: DatasetLayout, options: ReadOptions) -> list[str]:
    """The features the batches hold: `options.features`, else all but the label; with supervised=True
    the one feature returned beside the label. Refuses names that would clash as keras_names."""
    if options.supervised:
        if options.label_key is None:
            raise ReaderError("supervised=True gives (feature, label) pairs, so it needs a label_key")
        if options.keras_names:
            raise ReaderError("keras_names=True names the features of a dict, and supervised=True gives one "
                              "tensor, not a dict: pass one or the other")
        if options.features is not None:
            if len(options.features) != 1:
                raise ReaderError(f"supervised=True gives one feature beside the label, and features names "
                                  f"{len(options.features)}: pass features=[NAME] with one name, or supervised=False")
            return list(options.features)
        if layout.main_feature is None:
            raise ReaderError("supervised=True gives one feature beside the label, and this dataset has no single "
                              "image or token-id feature to give: pass features=[NAME] to choose it")
        return [layout.main_feature]
    if options.features is None:
        outputs = [name for name in layout.feature_spec if name != options.label_key]
        if layout.boxes:  # the boxes come out once, as boxes, not also coordinate by coordinate
            outputs = [name for name in outputs if not name.startswith(layout.boxes + "/")]
        if options.max_boxes is not None and layout.objects:
            outputs.append(OBJECT_VALID)
    else:
        outputs = list(options.features)
    if options.keras_names:
        renamed: dict[str, str] = {}
        for name in outputs:
            other = renamed.setdefault(keras_name(name), name)
            if other != name:
                raise ReaderError(f"keras_names=True would name both {other!r} and {name!r} {keras_name(name)!r}: "
                                  "pass features=[...] to leave one out")
    return outputs


def shard_paths(layout: DatasetLayout, data_dir: str, split: str) -> list[tuple[str, int | None, str | None]]:
    """A split's shards as (full path, records, full path of its record index or None), each shard
    checked to exist."""
    if not isinstance(split, str) or split not in layout.splits:
        raise ReaderError(f"no split {split!r} in {data_dir} (it has: {', '.join(map(repr, layout.splits))})")
    files = [file for file, _ in layout.splits[split]]
    if not files:
        raise ReaderError(f"split {split!r} of {data_dir} has no shards, so no records to read")
    paths = [str(data_dir).rstrip("/") + "/" + file for file in files]
    missing = [file for file, path in zip(files, paths) if not tf.io.gfile.exists(path)]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        why = ("the dataset was moved or damaged: check data_dir, or write the dataset again" if layout.version == 1 else
               f"version {layout.version} of the dataset was removed (prep versions --keep) or the dataset was moved: "
               "read a version it keeps")
        raise ReaderError(f"{len(missing)} of the {len(files)} shards of split {split!r} are missing from {data_dir}: "
                          f"{shown} ({why})")
    indexes = layout.indexes.get(split)
    indexes = [str(data_dir).rstrip("/") + "/" + file for file in indexes] if indexes else [None] * len(paths)
    return [(path, records, index) for path, (_, records), index in zip(paths, layout.splits[split], indexes)]


def check_options(options: ReadOptions) -> None:
    """Refuses options that cannot work, naming the option."""
    def positive(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    if not positive(options.batch_size):
        raise ReaderError(f"batch_size must be a positive whole number, not {options.batch_size!r}")
    if options.mode is not None and not (isinstance(options.mode, str) and options.mode in MODES):
        raise ReaderError(f"mode {options.mode!r} is not one of {', '.join(map(repr, MODES))}")
    size = options.image_size
    if positive(size):
        raise ReaderError(f"image_size must be (height, width) in pixels, not {size!r}: "
                          f"for square images pass image_size=({size}, {size})")
    if size is not None and not (isinstance(size, (tuple, list)) and len(size) == 2 and all(positive(n) for n in size)):
        raise ReaderError(f"image_size must be (height, width) in pixels, not {size!r}")
    if not (isinstance(options.image_dtype, str) and options.image_dtype in IMAGE_DTYPES):
        raise ReaderError(f"image_dtype must be 'uint8' or 'float32', not {options.image_dtype!r}")
    for name in ("sequence_length", "num_epochs", "cycle_length", "max_boxes"):
        value = getattr(options, name)
        if value is not None and not positive(value):
            raise ReaderError(f"{name} must be a positive whole number or None, not {value!r}")
    if not positive(options.shuffle_buffer):
        raise ReaderError(f"shuffle_buffer must be a positive whole number, not {options.shuffle_buffer!r}")
    if isinstance(options.features, str):
        raise ReaderError(f"features must be a list of feature names, not the string {options.features!r}")
    if options.features is not None and not (
        isinstance(options.features, (list, tuple)) and all(isinstance(n, str) for n in options.features)
    ):
        raise ReaderError(f"features must be a list of feature names, not {options.features!r}")
    if options.label_key is not None and not isinstance(options.label_key, str):
        raise ReaderError(f"label_key must be a feature name or None, not {options.label_key!r}")
    if not isinstance(options.cache, (bool, str)):
        raise ReaderError(f"cache must be True, False or a file path prefix, not {options.cache!r}")
    if options.seed is not None and not (isinstance(options.seed, int) and not isinstance(options.seed, bool)):
        raise ReaderError(f"seed must be a whole number or None, not {options.seed!r}")
    if options.deterministic is not None and not isinstance(options.deterministic, bool):
        raise ReaderError(f"deterministic must be True, False or None, not {options.deterministic!r}")


def image_decoding(name: str, channels: int, stored_size: tuple[int, int] | None,
                   options: ReadOptions, mask: bool = False) -> ImageDecoding:
    """How to decode image feature `name`: to image_size if given, else to the size every image has; a
    `mask` of class ids by nearest neighbour, to uint8 whatever image_dtype says."""
    size = tuple(options.image_size) if options.image_size else stored_size
    if size is None:
        raise ReaderError(
            f"the images of feature {name!r} have different sizes, and a batch needs one: pass "
            "image_size=(height, width), or write the dataset with prep images --resize WxH"
        )
    return ImageDecoding(channels, size, "uint8" if mask else options.image_dtype, resize=size != stored_size, nearest=mask)
