"""`prep images SRC OUT --masks MASKS`: segmentation datasets end to end, in real Beam jobs. TensorFlow
decodes every record and each mask lands on its image's pixels (grey, palette, colour-coded and scaled
masks; EXIF-turned photos; every resize mode); the Model Garden's segmentation decoder parses the records;
every bad pair is a line of rejected.jsonl; the reader's (images, masks) batches fit a small U-Net and
go through Keras' augmentation layers together; 1 and 2 workers write the same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from schemas import load_schema
from tests.beam_jobs.test_dataflow_text import _dry_run, gcs_on_client  # noqa: F401 (a fixture)
from tests.images.test_masks import assert_on_its_pixels, png, scene, stored_jpeg

CLASSES = "background\nred\nblue\n"


def model_garden_records(out: Path, split: str = "train") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """official/vision/dataloaders/segmentation_input.py's Decoder (TensorFlow Model Garden): its
    keys_to_features, then what its Parser does first (_prepare_image_and_label): the mask decoded to one
    channel and reshaped by the record's height and width. {filename: (image, mask)}."""
    import tensorflow as tf

    keys_to_features = {
        "image/encoded": tf.io.FixedLenFeature((), tf.string, default_value=""),
        "image/height": tf.io.FixedLenFeature((), tf.int64, default_value=0),
        "image/width": tf.io.FixedLenFeature((), tf.int64, default_value=0),
        "image/segmentation/class/encoded": tf.io.FixedLenFeature((), tf.string, default_value=""),
    }
    names = {"image/filename": tf.io.FixedLenFeature((), tf.string)}
    records = {}
    for shard in load_schema(str(out)).split(split).shards:
        for serialized in tf.data.TFRecordDataset(str(out / shard.file)):
            data = tf.io.parse_single_example(serialized, keys_to_features)
            height, width = data["image/height"], data["image/width"]
            label = tf.reshape(tf.io.decode_image(data["image/segmentation/class/encoded"], channels=1), (1, height, width))
            image = tf.reshape(tf.io.decode_image(data["image/encoded"], channels=3, dtype=tf.uint8), (height, width, 3))
            name = tf.io.parse_single_example(serialized, names)["image/filename"].numpy().decode()
            records[name] = (data["image/encoded"].numpy(), data["image/segmentation/class/encoded"].numpy(),
                             image.numpy(), label.numpy()[0])
    return records


def _pairs(root: Path) -> tuple[Path, Path]:
    """SRC in split folders and nested folders, MASKS beside it, and every way a pair can fail:
    - train/a/flat.png: a PNG photo with a grey mask;
    - train/a/turned.jpg: stored turned (EXIF 6), its palette mask drawn upright;
    - train/b/stored.jpg: stored turned (EXIF 6), its mask drawn on the stored pixels;
    - train/upside.jpg (EXIF 3) with a grey mask saved as RGB; test/half.png with a mask of twice its size;
    - rejected: no mask, a value no class has, a mask of another size, two masks, a cut mask, a hidden file;
    - a mask no image has."""
    src, masks = root / "src", root / "masks"
    picture, mask = scene((64, 48))
    turned_mask = np.asarray(Image.fromarray(mask).transpose(Image.Transpose.ROTATE_90))
    files = {
        "train/a/flat.png": (None, png(mask)),
        "train/a/turned.jpg": (stored_jpeg(picture, 6), png(mask, palette=True)),
        "train/b/stored.jpg": (stored_jpeg(picture, 6), png(turned_mask)),
        "train/upside.jpg": (stored_jpeg(picture, 3), png(np.stack([mask] * 3, -1))),
        "test/half.png": (None, png(np.asarray(Image.fromarray(mask).resize((128, 96), Image.Resampling.NEAREST)))),
        "train/nomask.png": (None, None),
        "train/badvalue.png": (None, png(np.where(mask == 2, 7, mask).astype(np.uint8))),
        "train/size.png": (None, png(np.zeros((50, 50), np.uint8))),
        "train/twice.png": (None, png(mask)),
        "train/cut.png": (None, png(mask)[:-30]),
        "train/.hidden.png": (None, png(mask)),
    }
    for name, (image, mask_bytes) in files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if image is None:
            picture.save(path, "PNG")
        else:
            path.write_bytes(image)
        if mask_bytes is not None:
            (masks / name).parent.mkdir(parents=True, exist_ok=True)
            (masks / name).with_suffix(".png").write_bytes(mask_bytes)
    (masks / "train/twice.bmp").write_bytes((masks / "train/twice.png").read_bytes())
    (masks / "train/orphan.png").write_bytes(png(mask))
    (root / "classes.txt").write_text(CLASSES)
    return src, masks


@pytest.fixture
def pairs(tmp_path) -> tuple[Path, Path]:
    return _pairs(tmp_path)


# every resize mode and EXIF turn, pixel by pixel, on bigger photos: tests/images/test_masks.py
@pytest.mark.parametrize("resize", [(), ("--resize", "30x50", "--resize-mode", "pad")])
def test_every_mask_lands_on_its_image_and_every_bad_pair_is_rejected(pairs, tmp_path, prep_cli, resize):
    src, masks = pairs
    out = tmp_path / "out"
    result = prep_cli("images", src, out, "--masks", masks, "--mask-classes", tmp_path / "classes.txt", *resize,
                      "--workers", "1")
    assert result.exit_code == 0, result.err
    records = model_garden_records(out) | model_garden_records(out, "test")
    assert sorted(records) == ["test/half.png", "train/a/flat.png", "train/a/turned.jpg", "train/b/stored.jpg",
                               "train/upside.jpg"]
    for name, (encoded, mask_png, image, mask) in records.items():
        assert_on_its_pixels(encoded, mask_png)
        assert image.shape[:2] == mask.shape == ((50, 30) if resize else (48, 64))
    rejected = {json.loads(line)["path"]: json.loads(line)["reason"] for line in (out / "rejected.jsonl").read_text().splitlines()}
    assert rejected == {"train/nomask.png": "missing_mask", "train/badvalue.png": "bad_mask_value",
                        "train/size.png": "mask_size_mismatch", "train/twice.png": "ambiguous_mask",
                        "train/cut.png": "unreadable_mask", "train/.hidden.png": "hidden_file"}
    stats = json.loads((out / "stats.json").read_text())
    assert stats["inputs"] == 11 and stats["records"] == 5
    assert stats["masks"]["unmatched"] == [str(masks / "train/orphan.png")]
    pixels = stats["splits"]["train"]["pixels"]
    assert list(pixels) == ["background", "red", "blue"] and all(pixels.values())
    assert (stats["splits"]["train"]["ignored_pixels"] > 0) == ("pad" in resize)
    schema = load_schema(str(out))
    mask_feature = schema.feature(schema.label_key)
    assert (schema.label_key, mask_feature.encoding, mask_feature.ignore_value) == (
        "image/segmentation/class/encoded", "segmentation_mask", 255)
    assert (out / "vocab" / "labels.txt").read_text() == CLASSES


def colour_coded(root: Path) -> tuple[Path, Path, Path]:
    """A flat SRC of photos whose masks are colour-coded, and CamVid's class_dict.csv for them."""
    src, masks = root / "src", root / "masks"
    src.mkdir(parents=True)
    masks.mkdir()
    colours = [(64, 64, 64), (200, 10, 10), (10, 10, 200)]
    for i in range(12):
        picture, mask = scene((48 + 4 * i, 40))
        picture.save(src / f"{i:02d}.png")
        Image.fromarray(np.array(colours, np.uint8)[mask]).save(masks / f"{i:02d}.png")
    table = root / "class_dict.csv"
    table.write_text("name,r,g,b\n" + "".join(f"{n},{r},{g},{b}\n" for n, (r, g, b) in zip(["ground", "red", "blue"], colours)))
    return src, masks, table


@pytest.fixture(scope="module")
def colour_dataset(tmp_path_factory) -> tuple[Path, Path]:
    """The colour-coded masks converted at 1 and at 2 workers (once for the tests that read them)."""
    from prep.cli.main import main

    root = tmp_path_factory.mktemp("colour")
    src, masks, table = colour_coded(root)
    outs = []
    for workers in ("1", "2"):
        out = root / f"out{workers}"
        code = main(["images", str(src), str(out), "--masks", str(masks), "--mask-classes", str(table),
                     "--split", "train=0.75,test=0.25", "--workers", workers, "--quiet"])
        assert code == 0
        outs.append(out)
    return outs[0], outs[1]


def test_colour_coded_masks_are_byte_identical_at_one_and_two_workers_and_feed_a_unet(colour_dataset):
    import keras

    import readers

    out, other = colour_dataset
    shards = sorted(p.name for p in out.glob("*.tfrecord"))
    assert shards and all((out / s).read_bytes() == (other / s).read_bytes() for s in shards)
    assert (out / "vocab" / "labels.txt").read_text() == "ground\nred\nblue\n"
    for encoded, mask_png, _, _ in model_garden_records(out).values():
        assert_on_its_pixels(encoded, mask_png)

    # the images differ in width: image_size resizes the images bilinearly and their masks by nearest neighbour
    train = readers.make_input_fn(str(out), "train", batch_size=4, supervised=True, image_size=(32, 32),
                                  image_dtype="float32", num_epochs=1, seed=0)()
    images, labels = next(iter(train))
    assert images.shape == (4, 32, 32, 3) and images.dtype == "float32"
    assert labels.shape == (4, 32, 32, 1) and labels.dtype == "uint8" and set(np.unique(labels)) <= {0, 1, 2}
    augment = keras.Sequential([keras.layers.RandomFlip("horizontal", seed=1), keras.layers.RandomCrop(24, 24, seed=1)])
    flipped = augment({"images": images, "segmentation_masks": labels}, training=True)
    for image, mask in zip(flipped["images"].numpy(), flipped["segmentation_masks"].numpy()):
        red_mask = mask[..., 0] == 1
        # the flip and the crop moved the mask with its image: its red pixels are red
        assert red_mask.any() and (image[red_mask][:, 0] > 0.5).mean() > 0.9

    inputs = keras.Input((32, 32, 3))
    down = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    pooled = keras.layers.MaxPooling2D()(down)
    middle = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(pooled)
    up = keras.layers.Concatenate()([keras.layers.UpSampling2D()(middle), down])
    outputs = keras.layers.Conv2D(3, 1, activation="softmax")(up)
    unet = keras.Model(inputs, outputs)
    unet.compile("adam", "sparse_categorical_crossentropy")
    history = unet.fit(train, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_mask_mistakes_on_the_command_line_are_one_line(pairs, tmp_path, prep_cli):
    src, masks = pairs
    out = tmp_path / "out"
    (tmp_path / "clash.txt").write_text("a\nb\n")
    cases = [
        (("--mask-classes", tmp_path / "classes.txt"), "--mask-classes and --ignore-value describe the masks of --masks"),
        (("--masks", masks, "--coco", tmp_path / "classes.txt"), "and --coco lists images: name a --manifest's mask column"),
        (("--coco", tmp_path / "classes.txt", "--masks", "--mask-classes", tmp_path / "classes.txt"),
         "its classes are COCO's categories, with no --mask-classes or --ignore-value"),
        (("--masks",), "--masks needs the folder of the masks"),
        (("--masks", masks, "--labels", tmp_path / "classes.txt"), "the classes of masks come from --mask-classes"),
        (("--mask-field", "mask"), "read a --manifest: name one with --manifest FILE"),
        (("--masks", tmp_path / "nowhere"), "is not a folder"),
        (("--masks", src), "--masks is SRC or holds it"),
        (("--masks", masks, "--mask-classes", tmp_path / "none.txt"), "--mask-classes"),
        (("--masks", masks, "--mask-classes", tmp_path / "clash.txt", "--ignore-value", "1"), "the ignore value 1 is the id of class 'b'"),
        (("--masks", masks, "--split", "train=0.5,test=0.5"), "already split into folders"),
    ]
    for flags, message in cases:
        result = prep_cli("images", src, out, *flags)
        assert result.exit_code != 0 and message in result.err, (flags, result.err)
        assert "Traceback" not in result.err
    assert not out.exists()


def test_inspect_verify_the_generated_reader_and_tfds_know_masks(colour_dataset, tmp_path, prep_cli):
    import shutil

    import tensorflow as tf
    import tensorflow_datasets as tfds

    import readers
    from prep.records.tfrecord_io import read_records, write_records

    out = tmp_path / "out"
    shutil.copytree(colour_dataset[0], out)
    result = prep_cli("inspect", out, "--sheet", tmp_path / "sheet.png")
    assert result.exit_code == 0, result.err
    lines = result.out.splitlines()
    pixels = lines[lines.index(next(line for line in lines if line.startswith("pixels:"))) + 1:][:4]
    assert [line.split()[:2] for line in pixels] == [["0", "ground"], ["1", "red"], ["2", "blue"], ["255", "(ignored)"]]
    assert "3 classes" in result.out and (tmp_path / "sheet.png").stat().st_size > 0
    assert prep_cli("report", out, "-o", tmp_path / "report.html").exit_code == 0
    assert "Pixels per class and split" in (tmp_path / "report.html").read_text()

    # the generated module gives the runtime reader's batches, masks and all
    assert prep_cli("reader", out, "-o", tmp_path / "pets_input.py").exit_code == 0
    namespace: dict = {}
    exec(compile((tmp_path / "pets_input.py").read_text(), "pets_input.py", "exec"), namespace)
    options = dict(batch_size=3, supervised=True, image_size=(24, 24), mode="eval")
    ours = next(iter(namespace["make_input_fn"]("test", data_dir=str(out), **options)()))
    theirs = next(iter(readers.make_input_fn(str(out), "test", **options)()))
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    # TFDS reads the mask as its segmentation datasets hold theirs: a one-channel uint8 image
    assert prep_cli("export", "tfds", out).exit_code == 0
    example = next(iter(tfds.builder_from_directory(str(out)).as_dataset(split="test")))
    mask = example["image/segmentation/class/encoded"]
    assert mask.dtype == tf.uint8 and mask.shape[-1] == 1 and mask.shape[:2] == example["image/encoded"].shape[:2]

    assert prep_cli("verify", out).exit_code == 0
    shard = next(out.glob("test-*.tfrecord"))
    records = list(read_records(str(shard), "none"))
    example = tf.train.Example.FromString(records[0])
    height = example.features.feature["image/height"].int64_list.value[0]
    width = example.features.feature["image/width"].int64_list.value[0]
    example.features.feature["image/segmentation/class/encoded"].bytes_list.value[0] = png(np.full((height, width), 9, np.uint8))
    write_records(str(shard), [example.SerializeToString()] + records[1:], "none")
    result = prep_cli("verify", out)
    assert result.exit_code != 0
    assert "value 9, neither a class id of vocab/labels.txt (0 to 2) nor the ignore value 255" in result.out + result.err


def test_voc_segmentation_class_masks_and_a_manifests_mask_column(tmp_path, prep_cli):
    picture, mask = scene((64, 48))
    voc_ids = np.array([0, 15, 8], np.uint8)[mask]  # background, person, cat: VOC's class ids
    voc_ids[0, :] = 255  # VOC's boundary
    voc = tmp_path / "VOCdevkit/VOC2012"
    ids = [f"2007_{i:06d}" for i in range(4)]
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / folder).mkdir(parents=True)
    for i, image_id in enumerate(ids):
        (voc / "JPEGImages" / f"{image_id}.jpg").write_bytes(stored_jpeg(picture, 1 if i % 2 else 6))
        if i < 3:
            (voc / "SegmentationClass" / f"{image_id}.png").write_bytes(png(voc_ids, palette=True))
    (voc / "ImageSets/Segmentation/train.txt").write_text("\n".join(ids) + "\n")
    out = tmp_path / "voc"
    result = prep_cli("images", "--voc", voc, out, "--voc-split", "ImageSets/Segmentation/train.txt", "--masks",
                      "--workers", "1")
    assert result.exit_code == 0, result.err
    assert (out / "vocab/labels.txt").read_text().splitlines()[15] == "person"
    records = model_garden_records(out)
    assert sorted(records) == [f"JPEGImages/{image_id}.jpg" for image_id in ids[:3]]
    for encoded, _, image, stored in records.values():  # VOC's ids back to the scene's classes: on their pixels
        as_scene = np.select([stored == 15, stored == 8, stored == 255], [1, 2, 0], 0).astype(np.uint8)
        assert_on_its_pixels(encoded, png(as_scene))
        assert set(np.unique(stored)) == {0, 8, 15, 255}
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert [(r["path"], r["reason"]) for r in rejected] == [(f"JPEGImages/{ids[3]}.jpg", "missing_mask")]

    data = tmp_path / "data"
    (data / "img").mkdir(parents=True)
    (data / "msk").mkdir()
    rows = ["path,mask,split"]
    for i in range(5):
        picture.save(data / "img" / f"{i}.png")
        rows.append(f"img/{i}.png,msk/{i}.png,{'test' if i == 0 else 'train'}")
        if i < 3:
            (data / "msk" / f"{i}.png").write_bytes(png(mask))
    rows[4] = "img/3.png,,train"  # no mask named
    rows[5] = "img/4.png,../../secret.png,train"  # outside SRC: never opened
    (tmp_path / "secret.png").write_bytes(png(mask))
    (data / "pairs.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "manifest"
    result = prep_cli("images", "--manifest", data / "pairs.csv", data, out, "--mask-field", "mask", "--workers", "1")
    assert result.exit_code == 0, result.err
    records = model_garden_records(out) | model_garden_records(out, "test")
    assert sorted(records) == ["img/0.png", "img/1.png", "img/2.png"]
    for encoded, mask_png, _, _ in records.values():
        assert_on_its_pixels(encoded, mask_png)
    rejected = {json.loads(line)["path"]: json.loads(line)["reason"] for line in (out / "rejected.jsonl").read_text().splitlines()}
    assert rejected == {"img/3.png": "missing_mask", "img/4.png": "outside_src"}
    assert json.loads((out / "stats.json").read_text())["splits"]["test"]["records"] == 1


def voc_xml(filename: str, objects: list[tuple[str, list[float]]], size=(64, 48)) -> str:
    """A VOC annotation: its objects (class, [xmin, ymin, xmax, ymax] in VOC's 1-based pixels), in order."""
    boxes = "".join(f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
                    f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for name, b in objects)
    return (f"<annotation><filename>{filename}</filename><size><width>{size[0]}</width><height>{size[1]}</height>"
            f"<depth>3</depth></size>{boxes}</annotation>")


def test_voc_segmentation_object_masks_give_each_object_its_mask(tmp_path, prep_cli):
    """SegmentationObject/<id>.png: index i is the i-th <object> of the XML (VOC's devkit), 255 the boundary."""
    import tensorflow as tf

    picture, mask = scene((64, 48))
    indices = mask.copy()  # the red object is the XML's 1st, the blue its 2nd; the 3rd (a cat) has no pixels
    indices[0, :] = 255
    objects = [("person", box_of(mask == 1)), ("dog", box_of(mask == 2)), ("cat", [30.0, 20.0, 5.0, 5.0])]
    objects = [(name, [x + 1, y + 1, x + w, y + h]) for name, (x, y, w, h) in objects]
    voc = tmp_path / "VOC2012"
    for folder in ("JPEGImages", "Annotations", "SegmentationObject", "ImageSets/Segmentation"):
        (voc / folder).mkdir(parents=True)
    ids = ["a", "turned", "nomask", "small"]
    for image_id in ids:
        (voc / "JPEGImages" / f"{image_id}.jpg").write_bytes(stored_jpeg(picture, 6 if image_id == "turned" else 1))
        (voc / "Annotations" / f"{image_id}.xml").write_text(voc_xml(f"{image_id}.jpg", objects))
    for image_id in ("a", "turned"):
        (voc / "SegmentationObject" / f"{image_id}.png").write_bytes(png(indices, palette=True))
    (voc / "SegmentationObject" / "small.png").write_bytes(png(indices[:40], palette=True))
    (voc / "ImageSets/Segmentation/trainval.txt").write_text("\n".join(ids) + "\n")
    out = tmp_path / "out"
    result = prep_cli("images", "--voc", voc, out, "--masks", "SegmentationObject", "--workers", "1")
    assert result.exit_code == 0, result.err
    spec = {"image/encoded": tf.io.FixedLenFeature((), tf.string), "image/object/mask": tf.io.VarLenFeature(tf.string),
            "image/object/class/text": tf.io.VarLenFeature(tf.string)}
    seen = 0
    for shard in load_schema(str(out)).split("train").shards:
        for serialized in tf.data.TFRecordDataset(str(out / shard.file)):
            record = tf.io.parse_single_example(serialized, spec)
            masks = [tf.io.decode_png(data, channels=1).numpy()[..., 0] for data in record["image/object/mask"].values.numpy()]
            assert record["image/object/class/text"].values.numpy().tolist() == [b"person", b"dog", b"cat"]
            for i, drawn in enumerate(masks[:2], 1):  # the object's own pixels, the boundary left out
                np.testing.assert_array_equal(drawn, (indices == i).astype(np.uint8))
            assert not masks[2].any()
            assert_on_its_pixels(record["image/encoded"].numpy(), png((masks[0] + 2 * masks[1]).astype(np.uint8)))
            seen += 1
    assert seen == 2
    rejected = {json.loads(line)["path"]: json.loads(line)["reason"] for line in (out / "rejected.jsonl").read_text().splitlines()}
    assert rejected == {"JPEGImages/nomask.jpg": "missing_mask", "JPEGImages/small.jpg": "mask_size_mismatch"}
    stats = json.loads((out / "stats.json").read_text())
    assert stats["objects"]["boxes_changed_or_dropped"]["empty_mask"] == 2
    assert load_schema(str(out)).feature("image/object/mask").encoding == "instance_mask"
    result = prep_cli("images", "--voc", voc, tmp_path / "o2", "--masks", "SegmentationObject", "--mask-classes", voc / "x.txt")
    assert result.exit_code == 2 and "no --mask-classes" in result.err


def test_a_segmentation_job_is_built_for_dataflow_offline_without_reading_the_bucket(gcs_on_client):  # noqa: F811
    from beam_jobs.images import ConvertImageFolder
    from prep.images.manifest import ManifestSpec
    from prep.images.masks import MaskSpec
    from prep.images.options import ImageJobOptions

    folder = ImageJobOptions(src="gs://my-bucket/images", out="gs://my-bucket/out", masks=MaskSpec("gs://my-bucket/masks"))
    voc = ImageJobOptions(src="gs://my-bucket/voc", out="gs://my-bucket/out", masks=MaskSpec("", ("a", "b")),
                          manifest=ManifestSpec("gs://my-bucket/voc/ImageSets/Segmentation/train.txt", "txt",
                                                annotations="voc_segmentation"))
    for options, reads in ((folder, "PairMasks/MatchMasks/"), (voc, "ReadAnnotations/SegmentationIds")):
        steps, _, _ = _dry_run("ConvertImageFolder", ConvertImageFolder(options))
        assert any(s.startswith(f"ConvertImageFolder/{reads}") for s in steps), sorted(steps)[:20]
        assert {"ConvertImageFolder/Convert", "ConvertImageFolder/Commit"} <= steps | {s.rsplit("/", 1)[0] for s in steps}
    assert gcs_on_client == []


def box_of(binary: np.ndarray) -> list[float]:
    """COCO's bbox, [x, y, width, height] in pixels, of a binary mask."""
    ys, xs = np.nonzero(binary)
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def _rle_counts(binary: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE of a binary mask: run lengths in column-major order, zeros first."""
    flat = binary.flatten(order="F")
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    return ([0] if flat[0] else []) + runs


def _coco_instances(root: Path) -> tuple[Path, Path]:
    """Two photos (one stored turned, EXIF 6) of the scene, each with its objects as COCO draws them: the
    red one a polygon, the blue one as crowd RLE (counts listed) and again as compressed RLE, and a
    "polygon" of 2 points (nothing to draw). (instances.json, images/)."""
    from pycocotools import mask as coco_mask

    picture, mask = scene((64, 48))
    red, blue = (mask == 1).astype(np.uint8), (mask == 2).astype(np.uint8)
    images = root / "images"
    images.mkdir()
    picture.save(images / "plain.png")
    (images / "turned.jpg").write_bytes(stored_jpeg(picture, 6))
    ys, xs = np.nonzero(red)
    polygon = [float(v) for v in (xs.min(), ys.min(), xs.max() + 1, ys.min(), xs.max() + 1, ys.max() + 1, xs.min(), ys.max() + 1)]
    compressed = coco_mask.encode(np.asfortranarray(blue))
    annotations = []
    for image_id in (1, 2):
        annotations += [
            {"id": 10 * image_id, "image_id": image_id, "category_id": 1, "bbox": box_of(red), "segmentation": [polygon], "iscrowd": 0},
            {"id": 10 * image_id + 1, "image_id": image_id, "category_id": 2, "bbox": box_of(blue), "iscrowd": 1,
             "segmentation": {"size": [48, 64], "counts": _rle_counts(blue)}},
            {"id": 10 * image_id + 2, "image_id": image_id, "category_id": 2, "bbox": box_of(blue), "iscrowd": 0,
             "segmentation": {"size": [48, 64], "counts": compressed["counts"].decode()}},
            {"id": 10 * image_id + 3, "image_id": image_id, "category_id": 1, "bbox": [30, 20, 5, 5], "segmentation": [[30, 20, 35, 25]]},
        ]
    instances = root / "instances.json"
    instances.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "plain.png", "width": 64, "height": 48},
                   {"id": 2, "file_name": "turned.jpg", "width": 64, "height": 48}],
        "annotations": annotations, "categories": [{"id": 1, "name": "red"}, {"id": 2, "name": "blue"}]}))
    return instances, images


@pytest.fixture(scope="module")
def coco_masks(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """instances.json and its datasets, as they are ({"": out}) and cropped to 40x40 ({"crop": out})."""
    from prep.cli.main import main

    root = tmp_path_factory.mktemp("coco")
    instances, images = _coco_instances(root)
    outs = {}
    for name, resize in (("", ()), ("crop", ("--resize", "40x40", "--resize-mode", "crop"))):
        outs[name] = root / f"out{name}"
        assert main(["images", "--coco", str(instances), str(images), str(outs[name]), "--masks", *resize,
                     "--workers", "1", "--quiet"]) == 0
    return instances, outs


def test_coco_instance_masks_are_pycocotools_own_and_stay_on_their_objects(coco_masks):
    import tensorflow as tf
    from pycocotools.coco import COCO

    instances, outs = coco_masks
    spec = {"image/encoded": tf.io.FixedLenFeature((), tf.string), "image/source_id": tf.io.FixedLenFeature((), tf.string),
            "image/object/mask": tf.io.VarLenFeature(tf.string), "image/object/class/label": tf.io.VarLenFeature(tf.int64)}
    coco = COCO(str(instances))
    for resize, out in outs.items():
        stats = json.loads((out / "stats.json").read_text())
        assert stats["objects"]["boxes_changed_or_dropped"].get("empty_mask") == 2
        for shard in load_schema(str(out)).split("train").shards:
            for serialized in tf.data.TFRecordDataset(str(out / shard.file)):
                record = tf.io.parse_single_example(serialized, spec)
                # the Model Garden's TfExampleDecoder._decode_masks
                masks = [tf.squeeze(tf.io.decode_png(png, channels=1), -1).numpy()
                         for png in tf.sparse.to_dense(record["image/object/mask"]).numpy()]
                assert len(masks) == 4 and tf.sparse.to_dense(record["image/object/class/label"]).numpy().tolist() == [1, 2, 2, 1]
                image_id = int(record["image/source_id"].numpy())
                if not resize and image_id == 1:  # as pycocotools' own COCO API draws each annotation
                    drawable = coco.loadAnns(coco.getAnnIds(imgIds=[1]))[:3]  # the 4th: a "polygon" of 2 points
                    for ann, drawn in zip(drawable, masks):
                        np.testing.assert_array_equal(drawn, coco.annToMask(ann))
                labels = masks[0] + 2 * masks[1]  # the red object 1, the blue 2: on their pixels after EXIF and crop
                assert (masks[1] == masks[2]).all() and not masks[3].any()
                assert_on_its_pixels(record["image/encoded"].numpy(), png(labels.astype(np.uint8)))
    mask = load_schema(str(out)).feature("image/object/mask")
    assert (mask.group, mask.encoding, mask.image.channels, mask.image.height, mask.image.width) == ("objects", "instance_mask", 1, 40, 40)


def test_the_readers_give_each_object_its_mask_and_inspect_verify_and_tfds_know_them(coco_masks, tmp_path, prep_cli):
    import shutil

    import tensorflow as tf
    import tensorflow_datasets as tfds

    import readers
    from prep.records.tfrecord_io import read_records, write_records

    out = tmp_path / "out"
    shutil.copytree(coco_masks[1][""], out)
    stored = {}  # source id -> the masks as the Model Garden's decoder gives them, [objects, height, width]
    for serialized in read_records(str(next(out.glob("train-*.tfrecord"))), "none"):
        feature = tf.train.Example.FromString(serialized).features.feature
        stored[feature["image/source_id"].bytes_list.value[0].decode()] = np.stack(
            [tf.io.decode_png(data, channels=1).numpy()[..., 0] for data in feature["image/object/mask"].bytes_list.value])
    features, classes = next(iter(readers.make_input_fn(out, batch_size=2, mode="eval")()))
    masks = features["image/object/mask"]
    assert isinstance(masks, tf.RaggedTensor) and masks.dtype == tf.uint8 and masks.shape.as_list() == [2, None, 48, 64]
    ids = [i.decode() for i in features["image/source_id"].numpy()]
    for i, source_id in enumerate(ids):
        np.testing.assert_array_equal(masks[i].numpy(), stored[source_id])
        assert classes[i].numpy().tolist() == [1, 2, 2, 1]

    # padded to max_boxes beside the boxes, resized with the image by nearest neighbour (0 and 1 only)
    options = dict(batch_size=2, mode="eval", max_boxes=6, image_size=(24, 32))
    features, _ = next(iter(readers.make_input_fn(out, **options)()))
    padded = features["image/object/mask"].numpy()
    assert padded.shape == (2, 6, 24, 32) and set(np.unique(padded)) == {0, 1}
    assert features["image/object/valid"].numpy().tolist() == [[True] * 4 + [False] * 2] * 2
    assert not padded[:, 4:].any()
    for i, source_id in enumerate(ids):
        half = stored[source_id][:, ::2, ::2]  # nearest neighbour at half the size takes every other pixel
        np.testing.assert_array_equal(padded[i, :4], half)
    # the generated module gives the same batches
    assert prep_cli("reader", out, "-o", tmp_path / "coco_input.py").exit_code == 0
    namespace: dict = {}
    exec(compile((tmp_path / "coco_input.py").read_text(), "coco_input.py", "exec"), namespace)
    theirs, _ = next(iter(namespace["make_input_fn"]("train", data_dir=str(out), **options)()))
    for name in ("image/object/mask", "image/object/valid", "image/object/bbox", "image/encoded"):
        np.testing.assert_array_equal(theirs[name].numpy(), features[name].numpy())

    result = prep_cli("inspect", out, "--sheet", tmp_path / "sheet.png")
    assert result.exit_code == 0, result.err
    assert "image/object/mask=<4 masks," in result.out and (tmp_path / "sheet.png").stat().st_size > 0
    # the sheet tints each object's pixels in its class's colour: red (index 0) and blue (1), nothing else
    from prep.inspection.contact_sheet import ImageKeys, sampled_image, scan_records

    schema = load_schema(str(out))
    for record in scan_records(str(out), schema):
        sample = sampled_image(record, ImageKeys.of(schema), ["red", "blue"])
        objects = stored[sample.filename == "plain.png" and "1" or "2"]
        np.testing.assert_array_equal(sample.mask, np.select([objects[1] == 1, objects[0] == 1], [1, 0], 255))
    assert prep_cli("export", "tfds", out).exit_code == 0
    example = next(iter(tfds.builder_from_directory(str(out)).as_dataset(split="train")))
    objects = example["image/object"]
    assert objects["mask"].dtype == tf.uint8 and objects["mask"].shape == (4, 48, 64, 1)
    np.testing.assert_array_equal(objects["mask"].numpy()[..., 0], stored[example["image/source_id"].numpy().decode()])

    assert prep_cli("verify", out).exit_code == 0
    shard = next(out.glob("train-*.tfrecord"))
    records = list(read_records(str(shard), "none"))
    for bad, problem in ((png(np.full((48, 64), 3, np.uint8)), "value 3, not 0 or 1"),
                         (png(np.ones((10, 64), np.uint8)), "64x10 pixels for an image of 64x48")):
        example = tf.train.Example.FromString(records[0])
        example.features.feature["image/object/mask"].bytes_list.value[1] = bad
        write_records(str(shard), [example.SerializeToString()] + records[1:], "none")
        result = prep_cli("verify", out)
        assert result.exit_code != 0 and problem in result.out + result.err, result.out + result.err
