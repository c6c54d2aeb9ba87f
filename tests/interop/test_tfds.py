"""TFDS interop: a prep dataset opens with tfds.builder_from_directory, and a TFDS folder gets a schema.json
read from TFDS's own metadata."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from prep.interop.tfds import TfdsError, export_tfds, import_tfds
from schemas import feature_spec, load_schema
from tests.conftest import image_bytes, write_image
from tests.interop.test_schema_inference import example, write_tfrecord

tfds = pytest.importorskip("tensorflow_datasets")


def _direct(dataset: Path, split: str) -> dict[str, tuple[np.ndarray, int]]:
    """filename -> (decoded image, label), parsed with the schema's own feature spec."""
    import tensorflow as tf

    schema = load_schema(str(dataset))
    files = [str(dataset / s.file) for s in schema.split(split).shards]
    parsed = tf.io.parse_example([r.numpy() for r in tf.data.TFRecordDataset(files)], feature_spec(schema))
    return {name.decode(): (tf.io.decode_image(image, channels=3).numpy(), int(label))
            for name, image, label in zip(parsed["image/filename"].numpy(), parsed["image"], parsed["label"].numpy())}


def test_a_prep_image_dataset_loads_through_tfds_with_the_same_images_and_labels(dataset_copy):
    opened, written = export_tfds(str(dataset_copy))
    assert opened == str(dataset_copy)
    assert {Path(p).name for p in written} == {"dataset_info.json", "features.json", "label.labels.txt"}
    builder = tfds.builder_from_directory(str(dataset_copy))
    assert builder.info.features["label"].names == ["cat", "dog"]
    assert builder.info.splits["train"].num_examples == load_schema(str(dataset_copy)).split("train").num_records
    through_tfds = {ex["image/filename"].decode(): (ex["image"], int(ex["label"]))
                    for ex in tfds.as_numpy(builder.as_dataset(split="train"))}
    direct = _direct(dataset_copy, "train")
    assert through_tfds.keys() == direct.keys() and direct
    for name, (image, label) in direct.items():
        assert through_tfds[name][1] == label
        np.testing.assert_array_equal(through_tfds[name][0], image)
    assert builder.as_dataset(split="train").element_spec["image"].dtype.name == "uint8"


def test_compressed_datasets_are_refused_with_the_reason(dataset_copy):
    schema = json.loads((dataset_copy / "schema.json").read_text())
    schema["compression"] = "gzip"
    (dataset_copy / "schema.json").write_text(json.dumps(schema))
    with pytest.raises(TfdsError, match="TFDS reads uncompressed shards only"):
        export_tfds(str(dataset_copy))


def test_a_dataset_that_grew_opens_in_tfds_from_its_version_folder(dataset_copy, prep_cli):
    """An updated dataset's shards are not all named by TFDS's template: each version gets tfds/v<N>/,
    its shards hard-linked there under TFDS's names (no byte copied), and TFDS reads the same records."""
    source = dataset_copy.parent / "src"
    for i in range(3):
        write_image(source / "cat" / f"{i}.jpg", size=(20 + i, 16), color=(30 * i, 0, 0))
    scratch = dataset_copy.parent / "grown"
    assert prep_cli("images", source, scratch, "--workers", "1").exit_code == 0
    write_image(source / "dog" / "new.jpg", size=(30, 16), color=(0, 90, 0))
    assert prep_cli("images", source, scratch, "--update", "--workers", "1").exit_code == 0
    opened, written = export_tfds(str(scratch))
    assert Path(opened) == scratch / "tfds" / "v2" and all(Path(p).parent == Path(opened) for p in written)
    linked = sorted(Path(opened).glob("train-*.tfrecord"))
    assert [p.name for p in linked] == ["train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]
    assert all(p.stat().st_nlink == 2 for p in linked), "links, not copies"
    builder = tfds.builder_from_directory(opened)
    names = sorted(ex["image/filename"].decode() for ex in tfds.as_numpy(builder.as_dataset(split="train")))
    assert names == ["cat/0.jpg", "cat/1.jpg", "cat/2.jpg", "dog/new.jpg"]


@pytest.fixture(scope="module")
def tfds_folder(tmp_path_factory) -> Path:
    """A folder as TFDS prepares it: shards named <dataset>-<split>.tfrecord-NNNNN-of-NNNNN written with
    plain TensorFlow, metadata written by tfds.folder_dataset.write_metadata."""
    root = tmp_path_factory.mktemp("tfds") / "digits" / "1.0.0"
    names = ["zero", "one", "two"]
    for split, count in (("train", 6), ("test", 3)):
        for shard in range(2):
            rows = [{"image": image_bytes(size=(28, 28), fmt="PNG", mode="L", color=(10 * i, 0, 0)),
                     "label": i % 3, "caption": f"digit {names[i % 3]}", "score": [0.5, 1.5]}
                    for i in range(shard, count, 2)]
            write_tfrecord(root / f"digits-{split}.tfrecord-{shard:05d}-of-00002", rows)
    tfds.folder_dataset.write_metadata(
        data_dir=str(root),
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(28, 28, 1), encoding_format="png"),
            "label": tfds.features.ClassLabel(names=names),
            "caption": tfds.features.Text(),
            "score": tfds.features.Tensor(shape=(2,), dtype=np.float32),
        }),
        supervised_keys=("image", "label"),
        check_data=True,
    )
    return root


def test_a_tfds_folder_is_read_from_its_metadata(tfds_folder):
    result = import_tfds(str(tfds_folder))
    schema = result.schema
    image = schema.feature("image")
    assert (image.encoding, image.image.format, image.image.channels, image.image.height, image.image.width) == (
        "image", "png", 1, 28, 28)
    assert schema.label_key == "label" and schema.feature("label").vocabulary == "labels"
    assert result.files["vocab/labels.txt"] == b"zero\none\ntwo\n"
    assert schema.feature("caption").encoding == "text"
    assert schema.feature("score").shape == (2,) and schema.feature("score").dtype == "float32"
    assert [(s.name, s.num_records, len(s.shards)) for s in schema.splits] == [("train", 6, 2), ("test", 3, 2)]
    assert schema.splits[0].shards[0].file == "digits-train.tfrecord-00000-of-00002"


def test_prep_schema_infer_on_a_tfds_folder_uses_the_metadata_and_readers_train_on_it(tfds_folder, tmp_path, prep_cli):
    import tensorflow as tf

    folder = Path(shutil.copytree(tfds_folder, tmp_path / "copy"))
    result = prep_cli("schema", "infer", folder)
    assert result.exit_code == 0, result.err
    assert "TFDS dataset" in result.err
    assert (folder / "vocab" / "labels.txt").read_text() == "zero\none\ntwo\n"
    schema = load_schema(str(folder))
    assert schema.provenance.options["mode"] == "tfds"
    assert prep_cli("verify", folder).exit_code == 0

    from readers import make_input_fn

    features, labels = next(iter(make_input_fn(str(folder), "train", batch_size=6, mode="eval")()))
    assert features["image"].shape == (6, 28, 28, 1) and features["image"].dtype == tf.uint8
    assert labels.dtype == tf.int64 and sorted(labels.numpy().tolist()) == [0, 0, 1, 1, 2, 2]


def test_optional_tfds_features_get_a_default(tmp_path):
    root = tmp_path / "opt"
    rows = [{"x": 1.0, "maybe": 3}, {"x": 2.0}]
    write_tfrecord(root / "opt-train.tfrecord-00000-of-00001", rows)
    tfds.folder_dataset.write_metadata(
        data_dir=str(root), check_data=False,
        features=tfds.features.FeaturesDict({
            "x": tfds.features.Scalar(dtype=np.float32),
            "maybe": tfds.features.Tensor(shape=(), dtype=np.int64, optional=True)}))
    schema = import_tfds(str(root)).schema
    assert schema.feature("maybe").default == np.iinfo(np.int64).min
    assert schema.label_key is None
    import tensorflow as tf

    tf.io.parse_example([example(r) for r in rows], feature_spec(schema))


def test_images_with_tfds_flag_load_through_tfds(image_folder, tmp_path, prep_cli):
    import tensorflow_datasets as tfds

    out = tmp_path / "out"
    result = prep_cli("images", image_folder, out, "--workers", "1", "--tfds")
    assert result.exit_code == 0, result.err
    assert "wrote TFDS metadata" in result.out
    records = list(tfds.builder_from_directory(str(out)).as_dataset(split="train"))
    assert len(records) == 12 and {int(r["label"]) for r in records} == {0, 1, 2}


def test_a_gzip_dataset_with_tfds_flag_says_tfds_cannot_read_it(image_folder, tmp_path, prep_cli):
    result = prep_cli("images", image_folder, tmp_path / "out", "--workers", "1", "--tfds", "--compression", "gzip")
    assert result.exit_code == 1 and "TFDS cannot read it" in result.err
    assert (tmp_path / "out" / "schema.json").exists(), "the dataset itself is written"
