"""readers.make_input_fn on datasets made by `prep images` and on a text dataset: what the batches hold,
eval reading every record once, training shuffling and repeating, input_context, errors, Keras fit
(also of a plain Sequential on supervised=True batches, and of a model whose inputs take keras_names)."""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
import sys
from pathlib import Path

import pytest

tf = pytest.importorskip("tensorflow")

from prep.records.example_codec import encode_example  # noqa: E402
from prep.records.tfrecord_io import write_records  # noqa: E402
from readers import ReaderError, make_input_fn  # noqa: E402
from schemas import DatasetSchema, Feature, SchemaError, Shard, Split, Vocabulary, save_schema  # noqa: E402

TOKEN_KEY = "text/token_ids"
WORDS = ["good", "bad", "film", "plot", "actor", "great", "awful", "scene", "music", "long"]


def text_schema(splits: tuple[Split, ...], name: str = "reviews", compression: str = "none") -> DatasetSchema:
    """The schema `prep text` writes: raw text, token ids from a Keras-style vocabulary, a class label."""
    return DatasetSchema(
        name=name, kind="text",
        features=(
            Feature("text", "string", (), "text", "the raw UTF-8 text"),
            Feature(TOKEN_KEY, "int64", None, "token_ids", vocabulary="tokens"),
            Feature("label", "int64", (), "class_id", vocabulary="labels"),
        ),
        splits=splits,
        compression=compression,
        label_key="label",
        vocabularies=(
            Vocabulary("tokens", "vocab/tokens.txt", "tokens", len(WORDS), first_id=2, reserved=((0, ""), (1, "[UNK]"))),
            Vocabulary("labels", "vocab/labels.txt", "labels", 2),
        ),
    )


def write_text_dataset(out: Path, counts: dict[str, tuple[int, ...]], compression: str = "none",
                       indexed: bool = True) -> Path:
    """A text dataset: split -> records per shard. Record i of a split has 1 + i % 7 tokens and label
    i % 2; its text names the split and i, so every record can be told apart. Uncompressed shards get
    a record index, as prep writes them, unless not `indexed`."""
    rng = random.Random(0)
    out.mkdir(parents=True)
    splits = []
    for split, per_shard in counts.items():
        shards, i = [], 0
        for number, count in enumerate(per_shard):
            records = []
            for _ in range(count):
                ids = [2 + rng.randrange(len(WORDS)) for _ in range(1 + i % 7)]
                text = f"{split} {i}: " + " ".join(WORDS[t - 2] for t in ids)
                records.append(encode_example({"text": ("string", [text]), TOKEN_KEY: ("int64", ids),
                                               "label": ("int64", [i % 2])}))
                i += 1
            name = f"{split}-{number:05d}-of-{len(per_shard):05d}.tfrecord" + (".gz" if compression == "gzip" else "")
            index = f"index/{name}.idx" if indexed and compression == "none" else None
            written, size = write_records(str(out / name), records, compression,
                                          index_path=None if index is None else str(out / index))
            shards.append(Shard(name, written, size, index))
        splits.append(Split(split, tuple(shards), sum(per_shard)))
    (out / "vocab").mkdir()
    (out / "vocab" / "tokens.txt").write_text("".join(w + "\n" for w in WORDS))
    (out / "vocab" / "labels.txt").write_text("neg\npos\n")
    save_schema(text_schema(tuple(splits), compression=compression), str(out))
    return out


@pytest.fixture(scope="session")
def text_datasets(tmp_path_factory) -> dict[str, Path]:
    """train: 40 records in 3 shards; test: 15 records in 2 shards; "indexed" with record indexes (read
    by slicing the shards), "unindexed" without (read record by record, as datasets written before)."""
    return {kind: write_text_dataset(tmp_path_factory.mktemp(kind) / "reviews", {"train": (14, 13, 13), "test": (8, 7)},
                                     indexed=kind == "indexed") for kind in ("indexed", "unindexed")}


@pytest.fixture(params=["indexed", "unindexed"])
def text_dataset(request, text_datasets) -> Path:
    """The text dataset, each way (every test of it runs on both)."""
    return text_datasets[request.param]


@pytest.fixture
def indexed_text_dataset(text_datasets) -> Path:
    return text_datasets["indexed"]


@pytest.fixture(scope="session")
def resized_dataset(tmp_path_factory) -> Path:
    """An image dataset written by `prep images --resize 12x10 --channels 1`: every image 10x12x1."""
    from prep.cli.main import main
    from tests.conftest import write_image

    base = tmp_path_factory.mktemp("resized")
    for i in range(16):
        write_image(base / "src" / ("cat" if i % 2 else "dog") / f"{i}.png", fmt="PNG", size=(20 + i, 16),
                    color=(15 * i, 100, 0))
    assert main(["images", str(base / "src"), str(base / "out"), "--resize", "12x10", "--channels", "1",
                 "--num-shards", "2", "--workers", "1"]) == 0
    return base / "out"


@pytest.fixture(scope="session")
def made_text_dataset(tmp_path_factory) -> Path:
    """A text dataset written by `prep text` from class folders pos/ and neg/ (train/test, 2 shards each)."""
    from prep.cli.main import main

    base = tmp_path_factory.mktemp("made_text")
    for i in range(12):
        for label, words in (("pos", "a great good film with fine music"), ("neg", "an awful bad plot and long scenes")):
            path = base / "src" / label / f"{i}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{words} number {i}\n")
    assert main(["text", str(base / "src"), str(base / "out"), "--split", "train=0.6,test=0.4", "--num-shards", "2",
                 "--workers", "1"]) == 0
    return base / "out"


@pytest.fixture(params=["runtime", "generated"])
def reader(request, tmp_path):
    """make_input_fn(dataset, split, batch_size, **options) of the runtime reader, or of the module
    `prep reader`'s code writes for the dataset."""
    from readers.codegen import write_module

    def generated(dataset: Path, *args, **options):
        path = tmp_path / f"{dataset.name}_input.py"
        if not path.exists():
            write_module(str(dataset), str(path))
        name = f"{dataset.name}_input_{id(path)}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses and AutoGraph look a module up by name, as after an import
        spec.loader.exec_module(module)
        return module.make_input_fn(*args, **options)

    return make_input_fn if request.param == "runtime" else generated


def split_records(dataset: Path, split: str, key: str) -> list[bytes]:
    """The values of string feature `key` of every record of a split, read without the reader."""
    schema = json.loads((dataset / "schema.json").read_text())
    files = [str(dataset / s["file"]) for sp in schema["splits"] if sp["name"] == split for s in sp["shards"]]
    spec = {key: tf.io.FixedLenFeature([], tf.string)}
    return [tf.io.parse_single_example(r, spec)[key].numpy() for r in tf.data.TFRecordDataset(files)]


def values(dataset, key: str, limit: int | None = None) -> list:
    """`features[key]` of every example of the batches, in order."""
    out = []
    for features, _ in dataset.take(-1 if limit is None else limit):
        out += list(features[key].numpy())
    return out


# ---- images ------------------------------------------------------------------------------------------


def test_image_batches_are_decoded_to_the_asked_size_and_dtype(made_dataset):
    features, labels = next(iter(make_input_fn(made_dataset, "train", 4, image_size=(16, 20))()))
    assert features["image"].shape == (4, 16, 20, 3) and features["image"].dtype == tf.uint8
    assert labels.shape == (4,) and labels.dtype == tf.int64
    assert "label" not in features
    assert features["image/filename"].dtype == tf.string and features["image/height"].dtype == tf.int64

    features, _ = next(iter(make_input_fn(made_dataset, "test", 3, image_size=(8, 8), image_dtype="float32")()))
    pixels = features["image"].numpy()
    assert features["image"].dtype == tf.float32 and pixels.shape == (3, 8, 8, 3)
    assert 0.0 <= pixels.min() and pixels.max() <= 1.0 and pixels.max() > 0.2


def test_images_of_one_size_need_no_image_size(resized_dataset):
    features, _ = next(iter(make_input_fn(resized_dataset, "train", 5)()))
    assert features["image"].shape == (5, 10, 12, 1)


def test_decoded_pixels_are_the_stored_images(resized_dataset):
    features, _ = next(iter(make_input_fn(resized_dataset, "train", 1, mode="eval", image_dtype="float32")()))
    first = split_records(resized_dataset, "train", "image")[0]  # eval starts with the first shard's first record
    expected = tf.io.decode_image(first, channels=1).numpy() / 255.0
    assert abs(features["image"].numpy()[0] - expected).max() < 1e-6


def test_eval_reads_every_record_once_in_a_stable_order_keeping_the_remainder(made_dataset):
    eval_fn = make_input_fn(made_dataset, "test", 4, image_size=(8, 8))
    first = eval_fn()
    sizes = [int(labels.shape[0]) for _, labels in first]
    expected = split_records(made_dataset, "test", "image/filename")
    splits = json.loads((made_dataset / "schema.json").read_text())["splits"]
    assert sum(sizes) == len(expected) == next(s["num_records"] for s in splits if s["name"] == "test")
    assert sizes[:-1] == [4] * (len(sizes) - 1) and 0 < sizes[-1] <= 4
    names = values(first, "image/filename")
    assert sorted(names) == sorted(expected) and len(set(names)) == len(names)
    assert values(eval_fn(), "image/filename") == names


def test_train_repeats_and_shuffles(made_dataset):
    """Training repeats the list of shards, as the Model Garden's InputReader does (cheaper than
    repeating records): the shuffle buffer mixes the end of one pass with the start of the next, and
    num_epochs passes hold every record num_epochs times."""
    from collections import Counter

    expected = sorted(split_records(made_dataset, "train", "image/filename"))
    n = len(expected)
    train_fn = make_input_fn(made_dataset, "train", 1, image_size=(8, 8), num_epochs=3, deterministic=True, seed=3)
    names = values(train_fn(), "image/filename")
    assert Counter(names) == Counter({name: 3 for name in expected})
    assert len({tuple(names[i * n:(i + 1) * n]) for i in range(3)}) > 1  # in a new order each time
    assert values(train_fn(), "image/filename") == names  # a seed fixes the order
    forever = make_input_fn(made_dataset, "train", 1, image_size=(8, 8))
    assert Counter(values(forever(), "image/filename", limit=10 * n)).keys() == set(expected)  # repeats


@pytest.mark.parametrize("deterministic", [True, False])
def test_shards_interleaved_in_parallel_give_every_record_once_a_pass(text_dataset, deterministic):
    expected = sorted(values(make_input_fn(text_dataset, "train", 8, mode="eval")(), "text"))
    train_fn = make_input_fn(text_dataset, "train", 8, num_epochs=2, cycle_length=3, shuffle_buffer=1,
                             deterministic=deterministic, seed=5)
    texts = values(train_fn(), "text")
    assert len(texts) == 80 and sorted(texts) == sorted(expected * 2)  # every record once a pass
    if deterministic:
        assert values(train_fn(), "text") == texts


def test_the_caller_mode_and_params_override_the_defaults(made_dataset):
    train_fn = make_input_fn(made_dataset, "train", 4, image_size=(8, 8))
    expected = sorted(split_records(made_dataset, "train", "image/filename"))
    assert sorted(values(train_fn(mode="eval"), "image/filename")) == expected  # once, not forever
    assert sorted(values(train_fn(mode="infer"), "image/filename")) == expected  # ModeKeys.PREDICT
    features, labels = next(iter(train_fn(params={"batch_size": 2})))
    assert labels.shape == (2,)
    assert next(iter(train_fn(params={})))[1].shape == (4,)
    eval_fn = make_input_fn(made_dataset, "test", 1, image_size=(8, 8), mode="train")
    assert len(values(eval_fn(), "image/filename", limit=20)) == 20  # repeats


def test_input_fn_declares_what_the_estimator_passes(made_dataset):
    import inspect

    input_fn = make_input_fn(made_dataset, "train", 4, image_size=(8, 8))
    parameters = inspect.signature(input_fn).parameters
    assert list(parameters) == ["params", "mode", "config", "input_context"]
    assert all(p.default is None for p in parameters.values())


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_each_input_pipeline_reads_its_own_shards_with_the_per_replica_batch(text_dataset, mode):
    input_fn = make_input_fn(text_dataset, "train", 8, mode=mode, num_epochs=1, deterministic=True, seed=0)
    seen = []
    for pipeline in range(3):
        context = tf.distribute.InputContext(num_input_pipelines=3, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        batches = list(input_fn(input_context=context))
        assert {int(labels.shape[0]) for _, labels in batches[:-1]} == {4}
        seen.append({text.split(b":")[0] for text in values(input_fn(input_context=context), "text")})
    assert all(len(a & b) == 0 for i, a in enumerate(seen) for b in seen[i + 1:])
    if mode == "eval":
        assert set.union(*seen) == {f"train {i}".encode() for i in range(40)}


def test_the_schema_record_counts_say_how_many_batches_come(text_dataset):
    assert make_input_fn(text_dataset, "test", 4)().cardinality() == 4  # 15 records, the last batch of 3
    assert make_input_fn(text_dataset, "train", 8, num_epochs=2)().cardinality() == 10
    assert make_input_fn(text_dataset, "train", 8)().cardinality() < 0  # forever
    context = tf.distribute.InputContext(num_input_pipelines=3, input_pipeline_id=0, num_replicas_in_sync=1)
    assert make_input_fn(text_dataset, "train", 4, mode="eval")(input_context=context).cardinality() == 4  # 14 records


SPLIT_SAYS = r"the shards of the test split do not hold the {} records its schema.json says"
FEWER = r"expected to contain {} elements but contained only {} elements"


# The test split holds 8 + 7 records, read 4 a batch. Eval counts the batches and checks the last one's
# size, which counts the records exactly; training counts the whole batches it declares.
@pytest.mark.parametrize("mode, more, error", [
    ("eval", 1, SPLIT_SAYS.format(16)),  # 4 batches as said, the last of 3 records, not 4
    ("eval", -1, SPLIT_SAYS.format(14)),  # 4 batches as said, the last of 3 records, not 2
    ("eval", 4, SPLIT_SAYS.format(19)),  # 5 batches said
    ("eval", -4, SPLIT_SAYS.format(11)),  # 3 batches said
    ("train", 1, FEWER.format(4, 3)),  # 4 whole batches said
    ("train", 64, FEWER.format(19, 3)),
])
def test_shards_holding_other_counts_than_the_schema_says_fail_the_pass(text_dataset, tmp_path, mode, more, error):
    wrong = Path(shutil.copytree(text_dataset, tmp_path / "wrong"))
    schema = json.loads((wrong / "schema.json").read_text())
    test = next(s for s in schema["splits"] if s["name"] == "test")
    test["shards"][0]["num_records"] += more
    test["num_records"] += more
    (wrong / "schema.json").write_text(json.dumps(schema))
    with pytest.raises((tf.errors.FailedPreconditionError, tf.errors.InvalidArgumentError), match=error):
        list(make_input_fn(wrong, "test", 4, mode=mode, num_epochs=1)())


def test_more_input_pipelines_than_shards_is_refused(text_dataset):
    input_fn = make_input_fn(text_dataset, "test", 4)
    context = tf.distribute.InputContext(num_input_pipelines=3, input_pipeline_id=0, num_replicas_in_sync=3)
    with pytest.raises(ReaderError, match=r"split 'test' has 2 shard\(s\) but there are 3 input pipelines"):
        input_fn(input_context=context)


def test_labels_features_and_their_subset(made_dataset):
    features = next(iter(make_input_fn(made_dataset, "test", 2, image_size=(8, 8), label_key=None)()))
    assert isinstance(features, dict) and "label" in features
    features, labels = next(iter(make_input_fn(made_dataset, "test", 2, image_size=(8, 8), label_key="label/name",
                                               features=["image", "label"])()))
    assert set(features) == {"image", "label"} and labels.dtype == tf.string
    features, labels = next(iter(make_input_fn(made_dataset, "test", 2, features=["image/filename"])()))
    assert set(features) == {"image/filename"} and labels.dtype == tf.int64  # no image decoded, no size needed


# ---- text --------------------------------------------------------------------------------------------


def test_token_ids_are_padded_with_the_vocabulary_pad_id_or_cut(text_dataset):
    def first_batch(**options):
        return next(iter(make_input_fn(text_dataset, "test", 8, **options)()))[0]

    longest = first_batch()
    lengths = [len(t.split(b": ")[1].split()) for t in longest["text"].numpy()]
    ids = longest[TOKEN_KEY].numpy()
    assert ids.shape == (8, max(lengths))
    for row, length in zip(ids, lengths):
        assert (row[:length] >= 2).all() and (row[length:] == 0).all()
    padded = first_batch(sequence_length=10)[TOKEN_KEY].numpy()
    assert padded.shape == (8, 10) and (padded[:, :max(lengths)] == ids).all()
    cut = first_batch(sequence_length=3)[TOKEN_KEY].numpy()
    assert (cut == ids[:, :3]).all()
    ragged = first_batch(ragged=True)[TOKEN_KEY]
    assert isinstance(ragged, tf.RaggedTensor) and ragged.row_lengths().numpy().tolist() == lengths
    assert longest["text"].dtype == tf.string


def test_token_ids_are_the_written_ones(text_dataset):
    features, labels = next(iter(make_input_fn(text_dataset, "test", 3, sequence_length=7)()))
    for text, row, label in zip(features["text"].numpy(), features[TOKEN_KEY].numpy(), labels.numpy()):
        head, words = text.decode().split(": ")
        assert [WORDS[t - 2] for t in row if t] == words.split()
        assert label == int(head.split()[1]) % 2


def test_gzip_shards_read_as_the_same_records(text_dataset, tmp_path):
    gzipped = write_text_dataset(tmp_path / "gzipped", {"train": (14, 13, 13), "test": (8, 7)}, "gzip")
    assert (gzipped / "test-00000-of-00002.tfrecord.gz").exists()
    assert values(make_input_fn(gzipped, "test", 4)(), "text") == values(make_input_fn(text_dataset, "test", 4)(), "text")


def test_shards_sliced_by_their_index_give_the_records_tfrecorddataset_gives(text_dataset):
    """The indexed read and the record-by-record one (check_crc=True) give the same batches in eval,
    and in training every record once a pass, in another order each pass."""
    from collections import Counter

    for split in ("train", "test"):
        assert values(make_input_fn(text_dataset, split, 4, mode="eval")(), "text") == \
            values(make_input_fn(text_dataset, split, 4, mode="eval", check_crc=True)(), "text")
    expected = values(make_input_fn(text_dataset, "train", 8, mode="eval")(), "text")
    train_fn = make_input_fn(text_dataset, "train", 5, num_epochs=3, deterministic=True, seed=1)
    texts = values(train_fn(), "text")
    assert Counter(texts) == Counter({text: 3 for text in expected})
    assert len({tuple(texts[i * 40:(i + 1) * 40]) for i in range(3)}) == 3 and texts[:40] != expected
    assert values(train_fn(), "text") == texts  # a seed fixes the order


def test_a_shuffle_buffer_beyond_one_shard_mixes_the_records_of_several(tmp_path):
    """Indexed training permutes the records of as many shards at once as the shuffle buffer holds:
    with a buffer of one shard the first 10 records all come from one shard, with a buffer of the
    whole split from several (the text says which shard: records 0-9 are in the first)."""
    dataset = write_text_dataset(tmp_path / "many", {"train": (10,) * 8})

    def shards_of_first_ten(buffer, seed):
        train_fn = make_input_fn(dataset, "train", 10, num_epochs=1, shuffle_buffer=buffer, deterministic=True,
                                 seed=seed)
        return {int(text.split(b":")[0].split()[1]) // 10 for text in values(train_fn(), "text", limit=1)}

    assert all(len(shards_of_first_ten(10, seed)) == 1 for seed in range(5))
    assert all(len(shards_of_first_ten(80, seed)) > 1 for seed in range(5))


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_a_shard_that_no_longer_matches_its_index_fails_naming_both(tmp_path, mode):
    dataset = write_text_dataset(tmp_path / "changed", {"train": (6, 6)})
    other = write_text_dataset(tmp_path / "other", {"train": (3, 9)})
    shutil.copy(other / "train-00001-of-00002.tfrecord", dataset / "train-00001-of-00002.tfrecord")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"train-00001-of-00002.tfrecord\] \[does not match its record index.*run prep verify"):
        list(make_input_fn(dataset, "train", 4, mode=mode, num_epochs=1)())
    if mode == "eval":  # read one by one, the 15 records fail the count instead
        with pytest.raises(tf.errors.FailedPreconditionError, match="expected to contain 3 elements"):
            list(make_input_fn(dataset, "train", 4, mode=mode, check_crc=True)())


@pytest.mark.parametrize("cache", [True, "file"])
def test_a_cache_gives_the_same_records(text_dataset, tmp_path, cache):
    cache = str(tmp_path / "cache") if cache == "file" else cache
    expected = sorted(values(make_input_fn(text_dataset, "train", 8, mode="eval")(), "text"))
    train_fn = make_input_fn(text_dataset, "train", 8, cache=cache, num_epochs=3, seed=1)
    texts = values(train_fn(), "text")
    # training batches across the ends of epochs: compare the whole
    assert len(texts) == 3 * 40 and sorted(texts) == sorted(expected * 3)
    assert cache is True or list(tmp_path.glob("cache*"))


# ---- supervised and keras_names ---------------------------------------------------------------------


@pytest.mark.parametrize("dataset, feature, shape", [
    ("resized_dataset", "image", (5, 10, 12, 1)),
    ("indexed_text_dataset", TOKEN_KEY, (5, 8)),
])
def test_supervised_gives_the_one_input_feature_and_the_label_as_tensors(reader, request, dataset, feature, shape):
    dataset = request.getfixturevalue(dataset)
    options = dict(mode="eval", sequence_length=8) if feature == TOKEN_KEY else dict(mode="eval")
    inputs, labels = next(iter(reader(dataset, "train", 5, supervised=True, **options)()))
    features, expected = next(iter(reader(dataset, "train", 5, **options)()))
    assert isinstance(inputs, tf.Tensor) and inputs.shape == shape
    assert (inputs.numpy() == features[feature].numpy()).all() and (labels.numpy() == expected.numpy()).all()


def test_supervised_takes_the_one_feature_named_in_features(text_dataset):
    texts, labels = next(iter(make_input_fn(text_dataset, "test", 3, supervised=True, features=["text"])()))
    assert texts.dtype == tf.string and texts.shape == (3,) and labels.shape == (3,)


def test_keras_names_have_no_slash(made_dataset):
    features, _ = next(iter(make_input_fn(made_dataset, "test", 2, keras_names=True, features=["image/filename", "image/height"])()))
    assert set(features) == {"image_filename", "image_height"}


def layout_of(dataset: Path, **changes):
    """The reader's layout of a dataset, with `changes` (a dataset no prep job writes)."""
    import dataclasses

    from readers.layout import dataset_layout
    from schemas import load_schema

    return dataclasses.replace(dataset_layout(load_schema(str(dataset))), **changes)


@pytest.mark.parametrize("options, message", [
    (dict(supervised=True, label_key=None), "supervised=True gives .* needs a label_key"),
    (dict(supervised=True, features=["text", TOKEN_KEY]), r"features names 2: pass features=\[NAME\] with one name"),
    (dict(supervised=True, keras_names=True), "pass one or the other"),
])
def test_supervised_options_that_cannot_work_are_refused(text_dataset, options, message):
    with pytest.raises(ReaderError, match=message):
        make_input_fn(text_dataset, "test", 4, **options)


def test_supervised_needs_features_when_the_dataset_has_no_one_input(text_dataset):
    from readers.pipeline import ReadOptions, build_input_fn

    layout = layout_of(text_dataset, main_feature=None)
    with pytest.raises(ReaderError, match=r"no single image or token-id feature to give: pass features=\[NAME\]"):
        build_input_fn(layout, str(text_dataset), "test", ReadOptions(supervised=True, label_key="label"))


def test_keras_names_that_would_clash_are_refused(text_dataset):
    from readers.pipeline import ReadOptions, build_input_fn

    spec = layout_of(text_dataset).feature_spec
    layout = layout_of(text_dataset, feature_spec={**spec, "text_token_ids": spec[TOKEN_KEY]})
    with pytest.raises(ReaderError, match="would name both 'text/token_ids' and 'text_token_ids' 'text_token_ids'"):
        build_input_fn(layout, str(text_dataset), "test", ReadOptions(keras_names=True, label_key="label"))


# ---- errors at make_input_fn time ---------------------------------------------------------------------


def test_a_directory_without_schema_json_is_refused(made_dataset, tmp_path):
    unfinished = Path(shutil.copytree(made_dataset, tmp_path / "unfinished"))
    (unfinished / "schema.json").unlink()
    with pytest.raises(SchemaError, match="no schema.json, so this is not a finished dataset"):
        make_input_fn(unfinished, "train", 4)


def test_a_schema_of_a_newer_format_is_refused(made_dataset, tmp_path):
    newer = Path(shutil.copytree(made_dataset, tmp_path / "newer"))
    schema = json.loads((newer / "schema.json").read_text())
    schema["format_version"] = 99
    (newer / "schema.json").write_text(json.dumps(schema))
    with pytest.raises(SchemaError, match="'format_version' is 99: this dataset was written by a newer prep"):
        make_input_fn(newer, "train", 4)


def test_a_missing_shard_is_named(made_dataset, tmp_path):
    damaged = Path(shutil.copytree(made_dataset, tmp_path / "damaged"))
    (damaged / "train-00001-of-00002.tfrecord").unlink()
    with pytest.raises(ReaderError, match=r"1 of the 2 shards of split 'train' are missing from .*damaged: "
                                          r"'train-00001-of-00002.tfrecord'"):
        make_input_fn(damaged, "train", 4, image_size=(8, 8))
    make_input_fn(damaged, "test", 4, image_size=(8, 8))  # the other split is whole


@pytest.mark.parametrize("options, message", [
    (dict(split="validation"), r"no split 'validation' in .* \(it has: 'train', 'test'\)"),
    (dict(features=["image", "imgae"]), r"no feature 'imgae' in this dataset \(it has: 'image', 'image/format'"),
    (dict(label_key="class"), r"no feature 'class'"),
    (dict(features="image"), "features must be a list of feature names"),
    (dict(image_size=None), r"images of feature 'image' have different sizes.*pass image_size=\(height, width\)"),
    (dict(image_size=(0, 8)), r"image_size must be \(height, width\)"),
    (dict(image_dtype="float16"), "image_dtype must be 'uint8' or 'float32'"),
    (dict(batch_size=0), "batch_size must be a positive whole number"),
    (dict(mode="training"), "mode 'training' is not one of"),
    (dict(sequence_length=8), "sequence_length is set but no token-id feature is read"),
    (dict(num_epochs=0), "num_epochs must be a positive whole number or None"),
    # the wrong type of value: a ReaderError naming the option too, never a TypeError from inside
    (dict(image_size=224), r"image_size must be \(height, width\) in pixels, not 224: for square images pass "
                           r"image_size=\(224, 224\)"),
    (dict(image_size=(8,)), r"image_size must be \(height, width\)"),
    (dict(image_size="224x224"), r"image_size must be \(height, width\)"),
    (dict(split=["train"]), r"no split \['train'\]"),
    (dict(mode=["train"]), r"mode \['train'\] is not one of"),
    (dict(image_dtype=["uint8"]), "image_dtype must be 'uint8' or 'float32'"),
    (dict(features=3), "features must be a list of feature names, not 3"),
    (dict(features=["image", 3]), "features must be a list of feature names"),
    (dict(label_key=3), "label_key must be a feature name or None, not 3"),
    (dict(cache=1), "cache must be True, False or a file path prefix"),
    (dict(seed="7"), "seed must be a whole number or None"),
    (dict(deterministic="yes"), "deterministic must be True, False or None"),
])
def test_wrong_options_are_refused_naming_them(made_dataset, options, message):
    arguments = dict(split="train", batch_size=4, image_size=(8, 8)) | options
    with pytest.raises(ReaderError, match=message):
        make_input_fn(made_dataset, **arguments)


# ---- Keras -------------------------------------------------------------------------------------------


def image_model(height: int, width: int, channels: int):
    keras = tf.keras
    image = keras.Input((height, width, channels), name="image", dtype="uint8")
    x = keras.layers.Rescaling(1 / 255)(image)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model({"image": image}, keras.layers.Dense(2)(x))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def text_model(length: int, ids_up_to: int):
    keras = tf.keras
    ids = keras.Input((length,), name="token_ids", dtype="int64")  # Keras 3 refuses "/" in names: the dict key maps
    x = keras.layers.Embedding(ids_up_to, 4)(ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model({TOKEN_KEY: ids}, keras.layers.Dense(2)(x))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def test_keras_fits_and_evaluates_on_images(reader, resized_dataset):
    train_fn = reader(resized_dataset, "train", 4, features=["image"])
    eval_fn = reader(resized_dataset, "train", 4, features=["image"], mode="eval")
    model = image_model(10, 12, 1)
    history = model.fit(train_fn(), steps_per_epoch=3, epochs=2, validation_data=eval_fn(), verbose=0)
    assert len(history.history["loss"]) == 2 and "val_accuracy" in history.history


# Keras 3 warns "The structure of `inputs` doesn't match the expected structure" when the batches' features
# are not the model's inputs: a dict with more keys than a dict-input model has (the default features are
# all but the label), or any dict for a model with one Input. The README says how to match them.
@pytest.mark.parametrize("single_input", [False, True], ids=["dict-model-features", "one-input-supervised"])
def test_keras_fits_without_a_structure_warning_the_way_the_readme_says(resized_dataset, single_input):
    import warnings

    keras = tf.keras
    if single_input:
        image = keras.Input((10, 12, 1), name="image", dtype="uint8")
        pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(image))
        model = keras.Model(image, keras.layers.Dense(2)(pooled))
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        train_fn = make_input_fn(resized_dataset, "train", 4, supervised=True)
    else:
        model = image_model(10, 12, 1)
        train_fn = make_input_fn(resized_dataset, "train", 4, features=["image"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(train_fn(), steps_per_epoch=2, epochs=1, verbose=0)
    assert not [w for w in caught if "structure of `inputs`" in str(w.message)]


# Keras 3 refuses "/" in an Input's name yet warns when a dict key differs from it; the key still maps.
@pytest.mark.filterwarnings("ignore:When providing `inputs` as a dict")
def test_keras_fits_and_evaluates_on_text(reader, made_text_dataset):
    from schemas import load_schema

    tokens = load_schema(str(made_text_dataset)).vocabulary("tokens")
    train_fn = reader(made_text_dataset, "train", 4, features=[TOKEN_KEY], sequence_length=10)
    eval_fn = reader(made_text_dataset, "test", 4, features=[TOKEN_KEY], sequence_length=10)
    model = text_model(10, tokens.first_id + tokens.size)
    history = model.fit(train_fn(), steps_per_epoch=4, epochs=2, validation_data=eval_fn(), verbose=0)
    assert len(history.history["loss"]) == 2 and "val_accuracy" in history.history


def test_a_plain_sequential_fits_on_supervised_images(reader, resized_dataset):
    keras = tf.keras
    model = keras.Sequential([
        keras.Input((10, 12, 1), dtype="uint8"), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2),
    ])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    train_fn = reader(resized_dataset, "train", 4, supervised=True)
    eval_fn = reader(resized_dataset, "train", 4, supervised=True, mode="eval")
    history = model.fit(train_fn(), steps_per_epoch=3, epochs=2, validation_data=eval_fn(), verbose=0)
    assert len(history.history["loss"]) == 2 and "val_accuracy" in history.history
    assert model.predict(eval_fn(), verbose=0).shape == (16, 2)  # eval: every record once


def test_a_plain_sequential_fits_on_supervised_token_ids(reader, made_text_dataset):
    from schemas import load_schema

    keras = tf.keras
    tokens = load_schema(str(made_text_dataset)).vocabulary("tokens")
    model = keras.Sequential([
        keras.Input((10,), dtype="int64"), keras.layers.Embedding(tokens.first_id + tokens.size, 4),
        keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2),
    ])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    train_fn = reader(made_text_dataset, "train", 4, supervised=True, sequence_length=10)
    eval_fn = reader(made_text_dataset, "test", 4, supervised=True, sequence_length=10)
    history = model.fit(train_fn(), steps_per_epoch=4, epochs=2, validation_data=eval_fn(), verbose=0)
    assert len(history.history["loss"]) == 2 and "val_accuracy" in history.history


def test_a_model_with_inputs_named_after_keras_names_fits(reader, made_text_dataset):
    import warnings

    from schemas import load_schema

    keras = tf.keras
    tokens = load_schema(str(made_text_dataset)).vocabulary("tokens")
    ids = keras.Input((10,), name="text_token_ids", dtype="int64")
    length = keras.Input((), name="text_line", dtype="int64")
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(tokens.first_id + tokens.size, 4)(ids))
    x = keras.layers.Concatenate()([x, keras.layers.Reshape((1,))(keras.layers.Rescaling(0.0)(length))])
    model = keras.Model({"text_token_ids": ids, "text_line": length}, keras.layers.Dense(2)(x))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    options = dict(features=[TOKEN_KEY, "text/line"], sequence_length=10, keras_names=True)
    train_fn = reader(made_text_dataset, "train", 4, **options)
    eval_fn = reader(made_text_dataset, "test", 4, **options)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "When providing `inputs` as a dict")  # the names match the keys
        history = model.fit(train_fn(), steps_per_epoch=4, epochs=2, validation_data=eval_fn(), verbose=0)
    assert len(history.history["loss"]) == 2 and "val_accuracy" in history.history
