"""`prep images --coco | --voc | --boxes`: detection datasets end to end. Records parse with the Model
Garden's TfExampleDecoder feature spec (copied here as the documented contract) and give the boxes
back; EXIF-rotated photos keep their boxes on the right pixels; bad boxes are counted, bad images
rejected; reruns are byte-identical; the job builds for Dataflow offline."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from schemas import load_schema
from tests.beam_jobs.test_dataflow_text import _dry_run, gcs_on_client  # noqa: F401 (a fixture)


def model_garden_spec():
    """official/vision/dataloaders/tf_example_decoder.py's keys_to_features (TensorFlow Model Garden),
    with image/source_id as it reads it when regenerate_source_id is False."""
    import tensorflow as tf

    return {
        "image/encoded": tf.io.FixedLenFeature((), tf.string),
        "image/height": tf.io.FixedLenFeature((), tf.int64, -1),
        "image/width": tf.io.FixedLenFeature((), tf.int64, -1),
        "image/object/bbox/xmin": tf.io.VarLenFeature(tf.float32),
        "image/object/bbox/xmax": tf.io.VarLenFeature(tf.float32),
        "image/object/bbox/ymin": tf.io.VarLenFeature(tf.float32),
        "image/object/bbox/ymax": tf.io.VarLenFeature(tf.float32),
        "image/object/class/label": tf.io.VarLenFeature(tf.int64),
        "image/object/area": tf.io.VarLenFeature(tf.float32),
        "image/object/is_crowd": tf.io.VarLenFeature(tf.int64),
        "image/source_id": tf.io.FixedLenFeature((), tf.string),
    }


def decoded(out: Path, split: str = "train") -> dict[str, dict]:
    """Every record of a split as the Model Garden decoder parses it, by source id."""
    import tensorflow as tf

    records = {}
    for shard in load_schema(str(out)).split(split).shards:
        for serialized in tf.data.TFRecordDataset(str(out / shard.file)):
            parsed = tf.io.parse_single_example(serialized, model_garden_spec())
            dense = {k: tf.sparse.to_dense(v).numpy() if isinstance(v, tf.SparseTensor) else v.numpy()
                     for k, v in parsed.items()}
            image = tf.io.decode_image(dense["image/encoded"], channels=3).numpy()
            boxes = np.stack([dense[f"image/object/bbox/{c}"] for c in ("ymin", "xmin", "ymax", "xmax")], axis=-1)
            records[dense["image/source_id"].decode()] = {
                "image": image, "boxes": boxes, "classes": dense["image/object/class/label"].tolist(),
                "crowd": dense["image/object/is_crowd"].tolist(), "area": dense["image/object/area"].tolist(),
                "height": int(dense["image/height"]), "width": int(dense["image/width"])}
    return records


def _photo(path: Path, orientation: int = 1, size=(64, 48), red=(10, 8, 30, 20)) -> Path:
    """A photo with a red rectangle at `red` (pixels of the upright photo), stored turned so that its
    EXIF `orientation` makes it upright."""
    from PIL import Image

    upright = Image.new("RGB", size, (0, 100, 0))
    upright.paste((255, 0, 0), red)
    inverse = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}[orientation]
    stored = upright.transpose(inverse) if inverse else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    path.write_bytes(buffer.getvalue())
    return path


def _red(image: np.ndarray) -> tuple[float, float, float, float]:
    """[ymin, xmin, ymax, xmax] of the red pixels, normalised."""
    red = (image[..., 0] > 160) & (image[..., 1] < 90)
    ys, xs = np.nonzero(red)
    h, w = red.shape
    return ys.min() / h, xs.min() / w, (ys.max() + 1) / h, (xs.max() + 1) / w


@pytest.fixture
def coco(tmp_path) -> Path:
    """A COCO instances file: a plain photo, an EXIF-rotated one (its annotation drawn upright), a crowd
    box, a box partly outside, one wholly outside, a degenerate one, an unknown category, an
    annotation of an unknown image, an image with no box, and an image entry whose file is missing."""
    root = tmp_path / "coco"
    for i, orientation in enumerate([1, 6, 1, 3]):
        _photo(root / "images" / f"{i}.jpg", orientation)
    red = [10, 8, 20, 12]  # x, y, w, h
    annotations = [
        {"id": 1, "image_id": 100, "category_id": 18, "bbox": red, "area": 150.0, "iscrowd": 0},
        {"id": 2, "image_id": 100, "category_id": 1, "bbox": [40, 30, 40, 40], "area": 300.0, "iscrowd": 1},  # clipped
        {"id": 3, "image_id": 101, "category_id": 18, "bbox": red, "iscrowd": 0},
        {"id": 4, "image_id": 101, "category_id": 1, "bbox": [70, 50, 5, 5]},  # outside
        {"id": 5, "image_id": 101, "category_id": 1, "bbox": [3, 3, 0, 9]},  # degenerate
        {"id": 6, "image_id": 101, "category_id": 44, "bbox": [1, 1, 5, 5]},  # unknown category
        {"id": 7, "image_id": 555, "category_id": 1, "bbox": [1, 1, 5, 5]},  # unknown image
        {"id": 8, "image_id": 103, "category_id": 18, "bbox": red},
    ]
    instances = {
        "images": [{"id": 100 + i, "file_name": f"{i}.jpg", "width": 64, "height": 48} for i in range(4)]
                  + [{"id": 104, "file_name": "gone.jpg", "width": 64, "height": 48}],
        "annotations": annotations,
        "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}],
    }
    (root / "instances.json").write_text(json.dumps(instances))
    return root


def test_coco_boxes_come_back_on_the_right_pixels_and_every_bad_box_is_counted(coco, tmp_path, prep_cli):
    out = tmp_path / "out"
    result = prep_cli("images", "--coco", coco / "instances.json", coco / "images", out, "--workers", "1")
    assert result.exit_code == 0, result.err
    records = decoded(out)
    assert sorted(records) == ["100", "101", "102", "103"]
    # COCO's category order (person: id 1, dog: id 18) gives the ids, from 1
    assert (out / "vocab" / "labels.txt").read_text() == "person\ndog\n"
    assert 'id: 1\n  name: "person"' in (out / "vocab" / "label_map.pbtxt").read_text()
    assert load_schema(str(out)).vocabulary("labels").first_id == 1
    for source_id in ("100", "101", "103"):  # 101 is stored turned (EXIF 6), 103 upside down (EXIF 3)
        r = records[source_id]
        np.testing.assert_allclose(r["boxes"][0], _red(r["image"]), atol=0.03)
        assert r["classes"][0] == 2
    assert records["100"]["crowd"] == [0, 1] and records["100"]["boxes"][1].tolist() == pytest.approx([30 / 48, 40 / 64, 1, 1])
    assert records["100"]["area"][0] == pytest.approx(150.0)
    assert records["101"]["area"] == [pytest.approx(240.0)]  # no COCO area: the box's pixels
    assert len(records["102"]["boxes"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["objects"]["boxes_changed_or_dropped"] == {
        "clipped": 1, "outside": 1, "degenerate": 1, "unknown_class": 1, "unknown_image": 1}
    assert stats["objects"]["images_without_boxes"]["train"] == 1
    assert stats["splits"]["train"]["classes"] == {"person": 1, "dog": 3}
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert [(r["path"], r["line"], r["reason"]) for r in rejected] == [("gone.jpg", 5, "missing_file")]
    assert stats["inputs"] == 5 and stats["records"] == 4


def test_boxes_follow_a_crop_and_a_letterbox(coco, tmp_path, prep_cli):
    for mode in ("crop", "pad"):
        out = tmp_path / mode
        result = prep_cli("images", "--coco", coco / "instances.json", coco / "images", out, "--resize", "40x40",
                          "--resize-mode", mode, "--workers", "1")
        assert result.exit_code == 0, result.err
        for source_id in ("100", "101", "103"):
            r = decoded(out)[source_id]
            assert r["image"].shape == (40, 40, 3)
            np.testing.assert_allclose(r["boxes"][0], _red(r["image"]), atol=0.05)


def test_an_annotation_whose_size_fits_the_image_in_no_frame_rejects_it(coco, tmp_path, prep_cli):
    instances = json.loads((coco / "instances.json").read_text())
    instances["images"][2]["width"] = 50
    (coco / "instances.json").write_text(json.dumps(instances))
    out = tmp_path / "out"
    assert prep_cli("images", "--coco", coco / "instances.json", coco / "images", out, "--workers", "1").exit_code == 0
    reasons = {json.loads(line)["reason"] for line in (out / "rejected.jsonl").read_text().splitlines()}
    assert reasons == {"missing_file", "size_mismatch"}


def test_voc_difficult_and_truncated_objects_and_a_missing_annotation(tmp_path, prep_cli):
    import tensorflow as tf

    root = tmp_path / "VOC2012"
    ids = []
    for i in range(3):
        _photo(root / "JPEGImages" / f"2008_{i:06d}.jpg", size=(50, 40), red=(5, 5, 25, 20))
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        (root / "Annotations" / f"2008_{i:06d}.xml").write_text(
            f"<annotation><filename>2008_{i:06d}.jpg</filename><size><width>50</width><height>40</height></size>"
            f"<object><name>{'bird' if i else 'cat'}</name><truncated>{i % 2}</truncated><difficult>1</difficult>"
            "<bndbox><xmin>6</xmin><ymin>6</ymin><xmax>25</xmax><ymax>20</ymax></bndbox></object></annotation>")
        ids.append(f"2008_{i:06d}")
    (root / "Annotations" / "2008_000002.xml").write_text("<annotation><filename>")
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("\n".join(ids + ["2008_999999"]) + "\n")
    out = tmp_path / "out"
    result = prep_cli("images", "--voc", root, out, "--voc-split", "ImageSets/Main/train.txt", "--workers", "1")
    assert result.exit_code == 0, result.err
    records = decoded(out)
    assert sorted(records) == ["2008_000000", "2008_000001"]
    np.testing.assert_allclose(records["2008_000000"]["boxes"][0], [5 / 40, 5 / 50, 20 / 40, 25 / 50], atol=1e-6)
    rejected = {json.loads(line)["reason"] for line in (out / "rejected.jsonl").read_text().splitlines()}
    assert rejected == {"bad_xml", "missing_annotation"}
    stats = json.loads((out / "stats.json").read_text())
    assert stats["manifest"]["unlisted"] == ["JPEGImages/2008_000002.jpg"], "images only: not the XML and split files"
    assert prep_cli("verify", out).exit_code == 0
    schema = load_schema(str(out))
    raw = next(iter(tf.data.TFRecordDataset(str(out / schema.split("train").shards[0].file))))
    from schemas import feature_spec

    parsed = tf.io.parse_single_example(raw, feature_spec(schema))
    assert parsed["image/object/difficult"].numpy().tolist() == [1]


def test_a_boxes_csv_groups_its_rows_by_image_and_reruns_are_byte_identical(tmp_path, prep_cli):
    src = tmp_path / "images"
    rows = ["filename,width,height,class,xmin,ymin,xmax,ymax"]
    for i in range(6):
        _photo(src / f"p{i}.jpg", red=(10, 8, 30, 20))
        rows += [f"p{i}.jpg,64,48,red,10,8,30,20", f"p{i}.jpg,64,48,{'tree' if i % 2 else 'sky'},0,0,64,6"]
    rows += ["p9.jpg,64,48,red,ten,8,30,20", "p5.jpg,64,40,red,1,1,2,2"]
    (tmp_path / "boxes.csv").write_text("\n".join(rows) + "\n")
    flags = ["--boxes", tmp_path / "boxes.csv", src]
    more = ["--split", "train=0.5,test=0.5", "--num-shards", "2"]
    assert prep_cli("images", *flags, tmp_path / "a", *more, "--workers", "1").exit_code == 0
    assert prep_cli("images", *flags, tmp_path / "b", *more, "--workers", "2").exit_code == 0
    a = sorted(p.name for p in (tmp_path / "a").glob("*.tfrecord"))
    assert len(a) == 4
    for name in a + ["stats.json", "rejected.jsonl"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    records = decoded(tmp_path / "a") | decoded(tmp_path / "a", "test")
    assert sorted(records) == [f"p{i}.jpg" for i in range(5)]
    assert all(len(r["boxes"]) == 2 for r in records.values())
    rejected = {(json.loads(line)["line"], json.loads(line)["reason"]) for line in (tmp_path / "a" / "rejected.jsonl").read_text().splitlines()}
    assert rejected == {(14, "bad_box_row"), (12, "conflicting_sizes")}


def test_a_bad_box_row_names_its_image_which_is_not_unlisted(tmp_path, prep_cli):
    """rejected.jsonl's path is the image a bad row names (relative to SRC), the CSV and line beside it;
    an image whose only row is bad is that row's rejection, not an unlisted file."""
    src = tmp_path / "images"
    for i in range(4):
        _photo(src / f"p{i}.jpg")
    rows = ["filename,width,height,class,xmin,ymin,xmax,ymax",
            "p0.jpg,64,48,red,10,8,30,20",  # 2: kept
            "p0.jpg,64,48,red,ten,8,30,20",  # 3: bad_box_row of an image line 2 keeps
            "p1.jpg,64,48,red,ten,8,30,20",  # 4: bad_box_row, p1's only row
            "p2.jpg,64,48,red,1,1,2,2",  # 5, 6: conflicting_sizes
            "p2.jpg,64,40,red,1,1,2,2",
            ",64,48,red,1,1,2,2"]  # 7: missing_path: no image, so the CSV
    (tmp_path / "boxes.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    assert prep_cli("images", "--boxes", tmp_path / "boxes.csv", src, out, "--workers", "1").exit_code == 0
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert [(r["path"], r["line"], r["reason"]) for r in rejected] == [
        ("boxes.csv", 7, "missing_path"), ("p0.jpg", 3, "bad_box_row"), ("p1.jpg", 4, "bad_box_row"),
        ("p2.jpg", 5, "conflicting_sizes")]
    assert all(r["manifest"] == "boxes.csv" for r in rejected)
    assert sorted(decoded(out)) == ["p0.jpg"]
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["inputs"], stats["records"], stats["rejected"]) == (5, 1, 4)
    assert stats["manifest"]["unlisted"] == ["p3.jpg"]


def test_the_reader_gives_ragged_or_padded_boxes_and_kerashub_style_labels(coco, tmp_path, prep_cli):
    import tensorflow as tf

    from readers import make_input_fn

    out = tmp_path / "out"
    assert prep_cli("images", "--coco", coco / "instances.json", coco / "images", out, "--workers", "1").exit_code == 0
    expected = decoded(out)
    features, classes = next(iter(make_input_fn(out, batch_size=4, mode="eval")()))
    assert isinstance(features["image/object/bbox"], tf.RaggedTensor) and features["image/object/bbox"].shape[-1] == 4
    by_id = {sid.decode(): i for i, sid in enumerate(features["image/source_id"].numpy())}
    for source_id, i in by_id.items():
        np.testing.assert_allclose(features["image/object/bbox"][i].numpy().reshape(-1, 4), expected[source_id]["boxes"])
        assert classes[i].numpy().tolist() == expected[source_id]["classes"]
    images, y = next(iter(make_input_fn(out, batch_size=4, mode="eval", supervised=True, max_boxes=3)()))
    assert images.shape == (4, 48, 64, 3) and y["boxes"].shape == (4, 3, 4) and y["labels"].shape == (4, 3)
    counts = sorted(int((row >= 0).sum()) for row in y["labels"].numpy())
    assert counts == [0, 1, 1, 2]
    # Keras 3's own box-aware augmentation takes the batches as they come (rel_yxyx: the Model Garden's order)
    flip = tf.keras.layers.RandomFlip("horizontal", bounding_box_format="rel_yxyx", seed=1)
    given = y["boxes"].numpy()
    flipped = flip({"images": tf.cast(images, tf.float32), "bounding_boxes": dict(y)}, training=True)
    assert flipped["bounding_boxes"]["boxes"].shape == (4, 3, 4)
    boxes = np.asarray(flipped["bounding_boxes"]["boxes"])
    mirror = np.stack([given[..., 0], 1 - given[..., 3], given[..., 2], 1 - given[..., 1]], axis=-1)
    real = y["labels"].numpy() >= 0
    same = np.isclose(boxes, given, atol=1e-5).all(axis=-1) | np.isclose(boxes, mirror, atol=1e-5).all(axis=-1)
    assert same[real].all(), (boxes, given)
    from readers import ReaderError

    with pytest.raises(ReaderError, match="max_boxes"):
        make_input_fn(out, max_boxes=0)


def test_a_detection_job_is_built_for_dataflow_offline_without_reading_the_bucket(gcs_on_client):  # noqa: F811
    from beam_jobs.images import ConvertImageFolder
    from prep.images.manifest import ManifestSpec
    from prep.images.options import ImageJobOptions

    for kind, path in (("coco", "gs://my-bucket/instances.json"), ("voc", "gs://my-bucket/voc/ImageSets/Main/train.txt"),
                       ("boxes", "gs://my-bucket/boxes.csv")):
        options = ImageJobOptions(src="gs://my-bucket/images", out="gs://my-bucket/out",
                                  manifest=ManifestSpec(path, "csv", annotations=kind))
        steps, _, _ = _dry_run("ConvertImageFolder", ConvertImageFolder(options))
        assert any(s.startswith("ConvertImageFolder/ReadAnnotations/") for s in steps)
        assert {"ConvertImageFolder/Convert", "ConvertImageFolder/Commit"} <= {s.rsplit("/", 1)[0] if s.count("/") > 1 else s for s in steps} | steps
    assert gcs_on_client == []


def test_inspect_the_contact_sheet_and_tfds_know_detection_datasets(coco, tmp_path, prep_cli):
    import tensorflow_datasets as tfds
    from PIL import Image

    from prep.inspection.contact_sheet import make_sheet

    out = tmp_path / "out"
    assert prep_cli("images", "--coco", coco / "instances.json", coco / "images", out, "--workers", "1").exit_code == 0
    shown = prep_cli("inspect", out).out
    assert "    1 person" in shown and "    2 dog" in shown
    assert "boxes changed or left out: clipped 1, degenerate 1, outside 1, unknown_class 1, unknown_image 1" in shown
    sheet = make_sheet(str(out), per_class=2)
    pixels = np.asarray(Image.open(io.BytesIO(sheet.png)).convert("RGB"))
    assert sheet.rows == 2 and ((pixels == (60, 180, 75)).all(axis=-1)).sum() > 50  # the dog boxes' outlines
    assert prep_cli("report", out, "-o", tmp_path / "report.html").exit_code == 0
    page = (tmp_path / "report.html").read_text()
    assert 'id="objects"' in page and "boxes per image (train)" in page
    assert "boxes changed or left out: clipped 1, degenerate 1, outside 1, unknown_class 1, unknown_image 1" in page
    assert prep_cli("export", "tfds", out).exit_code == 0
    builder = tfds.builder_from_directory(str(out))
    objects = builder.info.features["image/object"]
    assert isinstance(objects["bbox"], tfds.features.BBoxFeature)
    assert objects["class/label"].names == ["background", "person", "dog"]
    by_id = {r["image/source_id"].numpy().decode(): r for r in builder.as_dataset(split="train")}
    expected = decoded(out)
    for source_id, record in by_id.items():
        np.testing.assert_allclose(record["image/object"]["bbox"].numpy().reshape(-1, 4), expected[source_id]["boxes"])
        assert record["image/object"]["class/label"].numpy().tolist() == expected[source_id]["classes"]
