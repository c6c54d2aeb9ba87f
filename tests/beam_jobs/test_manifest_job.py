"""`prep images --manifest`: labels from a CSV, TSV or JSON Lines file of rows, end to end: real Beam jobs,
real TFRecords read back by TensorFlow, the readers' labels fitting a Keras model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from schemas import load_schema
from tests.beam_jobs.test_dataflow_text import _dry_run, gcs_on_client  # noqa: F401 (a fixture)
from tests.conftest import write_image


def _records(out: Path, split: str = "train") -> list[dict]:
    import tensorflow as tf

    from schemas import feature_spec

    schema = load_schema(str(out))
    rows = []
    for shard in schema.split(split).shards:
        for record in tf.data.TFRecordDataset(str(out / shard.file)):
            parsed = tf.io.parse_single_example(record, feature_spec(schema))
            rows.append({k: (v.to_list() if hasattr(v, "to_list") else v.numpy()) for k, v in parsed.items()
                         if k != "image"})
    return rows


def _stats(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text())


def _rejected(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]


def _name(row: dict) -> str:
    return row["image/filename"].decode()


@pytest.fixture
def kaggle(tmp_path) -> Path:
    """Kaggle's shape: train/ of images named by id, train_labels.csv (id,label) beside it, ids without
    their extension; one image no row names."""
    root = tmp_path / "kaggle"
    lines = ["id,label"]
    for i in range(8):
        write_image(root / "train" / f"f{i:03d}.tif", fmt="TIFF", size=(16, 12 + i), color=(30 * i, 50, 50))
        lines.append(f"f{i:03d},{i % 2}")
    write_image(root / "train" / "nobody.png", fmt="PNG")
    (root / "train_labels.csv").write_text("\n".join(lines) + "\n")
    return root


def test_kaggle_ids_without_extension_and_the_files_no_row_names(kaggle, tmp_path, prep_cli):
    out = tmp_path / "out"
    result = prep_cli("images", "--manifest", kaggle / "train_labels.csv", kaggle / "train", out, "--workers", "1")
    assert result.exit_code == 0, result.err
    records = _records(out)
    assert sorted((_name(r), int(r["label"]), r["label/name"].decode()) for r in records) == [
        (f"f{i:03d}.tif", i % 2, str(i % 2)) for i in range(8)]
    stats = _stats(out)
    assert (stats["inputs"], stats["records"], stats["rejected"]) == (8, 8, 0)
    assert stats["manifest"]["unlisted_files"] == 1 and stats["manifest"]["unlisted"] == ["nobody.png"]
    assert (out / "vocab" / "labels.txt").read_text() == "0\n1\n"
    assert load_schema(str(out)).label_key == "label"


def test_automl_vision_csv_exactly_as_documented(tmp_path, prep_cli):
    """AutoML Vision's image CSV (and TFRecorder's input): no header, [set,]path[,label]; UNASSIGNED and
    missing sets go by --split."""
    src = tmp_path / "bucket"
    lines = []
    for i, flower in enumerate(["daisy", "tulip", "rose"] * 4):
        path = write_image(src / "flowers" / f"img{i}.jpg", color=(20 * i, 90, 10))
        lines.append(",".join(([["TRAIN", "VALIDATION", "TEST", "UNASSIGNED"][i % 4]] if i % 5 else []) + [str(path), flower]))
    (src / "automl.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = prep_cli("images", "--manifest", src / "automl.csv", src, out, "--split", "train=0.5,test=0.5", "--workers", "1")
    assert result.exit_code == 0, result.err
    by_split = {s: sorted(_name(r) for r in _records(out, s)) for s in load_schema(str(out)).split_names}
    named = {"train": [4, 8], "validation": [1, 9], "test": [2, 6]}  # the rows' own sets (0, 5, 10: none; 3, 7, 11: unassigned)
    for split, ids in named.items():
        assert {f"flowers/img{i}.jpg" for i in ids} <= set(by_split[split])
    assert sum(len(v) for v in by_split.values()) == 12
    assert (out / "vocab" / "labels.txt").read_text() == "daisy\nrose\ntulip\n"


def test_tfrecorder_csv_with_its_header_and_paths_relative_to_the_manifest(tmp_path, prep_cli):
    root = tmp_path / "data"
    lines = ["split,image_uri,label"]
    for i, (split, animal) in enumerate([("TRAIN", "cat"), ("TRAIN", "goat"), ("VALIDATION", "cat"), ("TEST", "goat")]):
        write_image(root / "images" / split / animal / f"{i}.jpg", color=(40 * i, 0, 0))
        lines.append(f"{split},images/{split}/{animal}/{i}.jpg,{animal}")
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert prep_cli("images", "--manifest", root / "data.csv", root / "images", out, "--workers", "1").exit_code == 0
    schema = load_schema(str(out))
    assert schema.split_names == ("train", "validation", "test")
    assert [_name(r) for r in _records(out, "test")] == ["TEST/goat/3.jpg"]


def _bad_rows(root: Path) -> Path:
    """A manifest with one row of every bad kind, and good rows around them."""
    write_image(root / "images" / "a.jpg", color=(10, 10, 10))
    write_image(root / "images" / "b.jpg", color=(90, 10, 10))
    write_image(root / "images" / "c.jpg", color=(10, 90, 10))
    write_image(root / "images" / "d.jpg", color=(10, 10, 90))
    write_image(root / "images" / "twin.jpg", color=(50, 50, 50))
    write_image(root / "images" / "twin.png", fmt="PNG")
    (root / "images" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    rows = [
        "path,label,split",
        "a.jpg,cat,train",         # 2: kept
        "b.jpg,dog,test",          # 3: kept
        "missing.jpg,cat,train",   # 4: missing_file
        "broken.jpg,dog,train",    # 5: a bad image (as folders give it)
        ",cat,train",              # 6: missing_path
        "c.jpg,,train",            # 7: missing_label
        "c.jpg,bird,someday",      # 8: bad_split
        "a.jpg,cat,train",         # 9: duplicate_row (of 2)
        "d.jpg,cat,train",         # 10: conflicting_labels (with 11)
        "d.jpg,dog,train",         # 11: conflicting_labels
        "twin,cat,train",          # 12: ambiguous_path (twin.jpg, twin.png)
        '"c.jpg,cat',              # 13: bad_csv (an unclosed quote swallows the rest)
    ]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"


def test_every_bad_row_is_a_line_of_rejected_jsonl_naming_the_manifest_line(tmp_path, prep_cli):
    manifest = _bad_rows(tmp_path)
    out = tmp_path / "out"
    result = prep_cli("images", "--manifest", manifest, tmp_path / "images", out, "--workers", "1")
    assert result.exit_code == 0, result.err
    rejected = {(r["line"], r["reason"], r["path"]) for r in _rejected(out)}
    assert rejected == {(4, "missing_file", "missing.jpg"), (5, "truncated", "broken.jpg"), (6, "missing_path", "labels.csv"),
                        (7, "missing_label", "c.jpg"), (8, "bad_split", "c.jpg"), (9, "duplicate_row", "a.jpg"),
                        (10, "conflicting_labels", "d.jpg"), (11, "conflicting_labels", "d.jpg"),
                        (12, "ambiguous_path", "twin"), (13, "bad_csv", "labels.csv")}
    assert all(r["manifest"] == "labels.csv" for r in _rejected(out))
    stats = _stats(out)
    assert stats["inputs"] == stats["records"] + stats["rejected"] == 12
    assert sorted(_name(r) for r in _records(out) + _records(out, "test")) == ["a.jpg", "b.jpg"]
    assert set(stats["manifest"]["unlisted"]) == {"twin.jpg", "twin.png"}, "c.jpg is named by rows 7 and 8"


@pytest.mark.parametrize("name, lines, flags, expected", [
    ("labels.jsonl", [
        {"path": "images/a.jpg", "label": "cat", "split": "train"},  # 1: kept, as a.jpg
        {"path": "images/sub/b.jpg", "label": None},                  # 2: missing_label, relative to the manifest
        {"path": "c.jpg", "label": ["cat", "dog"]},                   # 3: bad_label, relative to SRC
        {"path": "a.jpg", "label": {"x": 1}},                         # 4: bad_label, of an image line 1 keeps
        {"path": "gone.jpg", "label": None},                          # 5: missing_label, no such file: as written
        {"label": "cat"},                                             # 6: missing_path: no image, so the manifest
        {"path": "d.jpg", "label": "dog", "split": "someday"},        # 7: bad_split
        {"path": "/elsewhere/x.jpg", "label": None},                  # 8: missing_label, outside SRC: as written
    ], [], [("/elsewhere/x.jpg", 8, "missing_label"), ("a.jpg", 4, "bad_label"), ("c.jpg", 3, "bad_label"),
            ("d.jpg", 7, "bad_split"), ("gone.jpg", 5, "missing_label"), ("labels.jsonl", 6, "missing_path"),
            ("sub/b.jpg", 2, "missing_label")]),
    ("ages.csv", ["path,age", "images/a.jpg,3", "images/sub/b.jpg,old", "c.jpg,", "d.jpg,inf", ",4"],
     ["--target-field", "age"], [("ages.csv", 6, "missing_path"), ("c.jpg", 4, "missing_target"), ("d.jpg", 5, "bad_target"),
                                 ("sub/b.jpg", 3, "bad_target")]),
])
def test_a_row_rejected_for_what_it_says_names_its_image_which_is_not_unlisted(tmp_path, prep_cli, name, lines, flags,
                                                                                 expected):
    """rejected.jsonl's path is the image relative to SRC, as records' image/filename is, when the row
    names one; the manifest and line are beside it. Only e.jpg, which no row names, is unlisted."""
    for i, image in enumerate(["a.jpg", "sub/b.jpg", "c.jpg", "d.jpg", "e.jpg"]):
        write_image(tmp_path / "images" / image, color=(40 * i, 20, 20))
    text = lines if isinstance(lines[0], str) else [json.dumps(r) for r in lines]
    (tmp_path / name).write_text("\n".join(text) + "\n")
    out = tmp_path / "out"
    result = prep_cli("images", "--manifest", tmp_path / name, tmp_path / "images", out, *flags, "--workers", "1")
    assert result.exit_code == 0, result.err
    assert [(r["path"], r["line"], r["reason"]) for r in _rejected(out)] == expected
    assert all(r["manifest"] == name for r in _rejected(out))
    assert [_name(r) for r in _records(out)] == ["a.jpg"]
    stats = _stats(out)
    assert stats["inputs"] == stats["records"] + stats["rejected"] == len(lines) - (name.endswith(".csv"))
    assert stats["manifest"]["unlisted"] == ["e.jpg"]


def test_a_misspelt_automl_set_is_a_bad_split_naming_the_set_and_the_image(tmp_path, prep_cli):
    src = tmp_path / "src"
    for i, image in enumerate(["a.jpg", "b.jpg", "c.jpg", "d.jpg"]):
        write_image(src / image, color=(40 * i, 20, 20))
    (src / "automl.csv").write_text("TRAIN,a.jpg,daisy\nTRIAN,b.jpg,tulip\nVALIDATON,c.jpg,rose\nd.jpg,rose\n")
    out = tmp_path / "out"
    result = prep_cli("images", "--manifest", src / "automl.csv", src, out, "--workers", "1")
    assert result.exit_code == 0, result.err
    rejected = _rejected(out)
    assert [(r["path"], r["line"], r["reason"]) for r in rejected] == [("b.jpg", 2, "bad_split"), ("c.jpg", 3, "bad_split")]
    assert [r["detail"] for r in rejected] == [
        "set 'TRIAN' is none of TRAIN, VALIDATION, TEST, UNASSIGNED (the closest: TRAIN)",
        "set 'VALIDATON' is none of TRAIN, VALIDATION, TEST, UNASSIGNED (the closest: VALIDATION)"]
    assert sorted(_name(r) for r in _records(out)) == ["a.jpg", "d.jpg"]
    stats = _stats(out)
    assert (stats["inputs"], stats["records"], stats["rejected"], stats["manifest"]["unlisted"]) == (4, 2, 2, [])


def test_labels_pins_the_classes_and_an_unknown_label_is_rejected(tmp_path, prep_cli):
    manifest = _bad_rows(tmp_path)
    (tmp_path / "labels.txt").write_text("dog\ncat\n")
    manifest.write_text("path,label\na.jpg,cat\nb.jpg,dog\nc.jpg,bird\n")
    out = tmp_path / "out"
    result = prep_cli("images", "--manifest", manifest, tmp_path / "images", out, "--labels", tmp_path / "labels.txt",
                      "--workers", "1")
    assert result.exit_code == 0, result.err
    assert sorted((_name(r), int(r["label"])) for r in _records(out)) == [("a.jpg", 1), ("b.jpg", 0)]
    assert [(r["path"], r["line"], r["reason"]) for r in _rejected(out)] == [("c.jpg", 4, "label_not_in_labels")]


@pytest.fixture
def tagged(tmp_path) -> Path:
    """photos/ and tags.jsonl: tags as lists and as 'a|b' strings, an age and a score per photo."""
    rows = []
    for i in range(16):
        write_image(tmp_path / "photos" / f"p{i}.png", fmt="PNG", size=(12, 12), color=(15 * i, 200 - 10 * i, 30))
        tags = [t for j, t in enumerate(["cat", "outdoor", "night"]) if (i >> j) & 1] or ["empty"]
        rows.append({"image": f"photos/p{i}.png", "tags": tags if i % 2 else "|".join(tags), "age": 2.5 * i, "score": 1 - i})
    (tmp_path / "tags.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_multi_label_rows_read_back_as_multi_hot_labels_a_keras_model_fits(tagged, tmp_path, prep_cli):
    import tensorflow as tf

    from readers import make_input_fn

    out = tmp_path / "out"
    result = prep_cli("images", "--manifest", tagged / "tags.jsonl", tagged / "photos", out, "--multi-label", "--workers", "1")
    assert result.exit_code == 0, result.err
    schema = load_schema(str(out))
    assert schema.label_key == "labels" and schema.feature("labels").shape is None
    classes = (out / "vocab" / "labels.txt").read_text().splitlines()
    assert classes == ["cat", "empty", "night", "outdoor"]
    by_name = {_name(r): [classes[i] for i in r["labels"]] for r in _records(out)}
    assert by_name["p5.png"] == ["cat", "night"] and by_name["p0.png"] == ["empty"]
    assert _stats(out)["splits"]["train"]["classes"] == {"cat": 8, "empty": 2, "night": 8, "outdoor": 8}

    images, labels = next(iter(make_input_fn(out, batch_size=16, mode="eval", supervised=True)()))
    assert labels.dtype == tf.float32 and labels.shape == (16, 4)
    expected = np.zeros((16, 4), np.float32)
    for row, name in enumerate(make_input_fn(out, batch_size=16, mode="eval", features=["image/filename"],
                                             label_key=None)().unbatch()):
        for c in by_name[name["image/filename"].numpy().decode()]:
            expected[row, classes.index(c)] = 1
    np.testing.assert_array_equal(labels.numpy(), expected)
    _, ragged = next(iter(make_input_fn(out, batch_size=4, mode="eval", supervised=True, multi_hot=False)()))
    assert isinstance(ragged, tf.RaggedTensor)

    keras = tf.keras
    model = keras.Sequential([keras.Input((12, 12, 3), dtype="uint8"), keras.layers.Rescaling(1 / 255),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    history = model.fit(make_input_fn(out, batch_size=4, supervised=True)(), steps_per_epoch=4, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_regression_targets_read_back_as_floats_a_keras_model_fits(tagged, tmp_path, prep_cli):
    import tensorflow as tf

    from readers import make_input_fn

    out = tmp_path / "out"
    result = prep_cli("images", "--manifest", tagged / "tags.jsonl", tagged / "photos", out, "--target-field", "age,score",
                      "--workers", "1")
    assert result.exit_code == 0, result.err
    schema = load_schema(str(out))
    target = schema.feature("target")
    assert (schema.label_key, target.dtype, target.shape, target.value_names) == ("target", "float32", (2,), ("age", "score"))
    assert not (out / "vocab").exists() and schema.vocabularies == ()
    targets = {_name(r): tuple(r["target"]) for r in _records(out)}
    assert targets["p3.png"] == (7.5, -2.0)
    assert _stats(out)["manifest"]["targets"]["age"] == {"count": 16, "min": 0.0, "max": 37.5, "mean": 18.75}

    keras = tf.keras
    model = keras.Sequential([keras.Input((12, 12, 3), dtype="uint8"), keras.layers.Rescaling(1 / 255),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    model.compile("adam", "mse")
    history = model.fit(make_input_fn(out, batch_size=4, supervised=True)(), steps_per_epoch=4, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    one = tmp_path / "one"
    assert prep_cli("images", "--manifest", tagged / "tags.jsonl", tagged / "photos", one, "--target-field", "age",
                    "--workers", "1").exit_code == 0
    _, ages = next(iter(make_input_fn(one, batch_size=4, mode="eval", supervised=True)()))
    assert ages.shape == (4,) and ages.dtype == tf.float32


def test_reruns_are_byte_identical_at_one_and_two_workers(tagged, tmp_path, prep_cli):
    flags = ["--manifest", tagged / "tags.jsonl", tagged / "photos"]
    more = ["--multi-label", "--split", "train=0.5,test=0.5", "--num-shards", "2"]
    assert prep_cli("images", *flags, tmp_path / "a", *more, "--workers", "1").exit_code == 0
    assert prep_cli("images", *flags, tmp_path / "b", *more, "--workers", "2").exit_code == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir() if p.suffix == ".tfrecord")
    assert len(names) == 4
    for name in names + ["stats.json", "rejected.jsonl"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_a_jsonl_manifest_read_in_byte_ranges_gives_the_same_dataset(tagged, tmp_path, prep_cli, monkeypatch):
    from prep.core import row_files

    flags = ["--manifest", tagged / "tags.jsonl", tagged / "photos"]
    assert prep_cli("images", *flags, tmp_path / "a", "--target-field", "age", "--workers", "1").exit_code == 0
    monkeypatch.setattr(row_files, "RANGE_BYTES", 200)
    monkeypatch.setattr(row_files, "MIN_RANGE_BYTES", 200)
    assert len(row_files.byte_ranges("x", (tagged / "tags.jsonl").stat().st_size, "jsonl")) > 5
    (tagged / "tags.jsonl").write_text((tagged / "tags.jsonl").read_text() + '{"image": "photos/p1.png"}\n')
    assert prep_cli("images", *flags, tmp_path / "b", "--target-field", "age", "--workers", "1").exit_code == 0
    assert list((tmp_path / "a").glob("*.tfrecord"))[0].read_bytes() == list((tmp_path / "b").glob("*.tfrecord"))[0].read_bytes()
    assert [(r["line"], r["reason"]) for r in _rejected(tmp_path / "b")] == [(17, "missing_target")]


@pytest.mark.parametrize("args, message", [
    (["--label-field", "x"], "read a --manifest"),
    (["--manifest", "{t}/nope.csv"], "nope.csv: cannot read it (no such file)"),
    (["--manifest", "{t}/tags.jsonl", "--label-field", "kind"], "no label column 'kind'"),
    (["--manifest", "{t}/tags.jsonl", "--target-field", "age", "--multi-label"], "does not go with"),
    (["--manifest", "{t}/tags.jsonl", "--target-field", ","], "name at least one column"),
])
def test_a_manifest_mistake_is_one_line_and_exit_2(tagged, tmp_path, prep_cli, args, message):
    result = prep_cli("images", *[a.format(t=tagged) for a in args], tagged / "photos", tmp_path / "out")
    assert result.exit_code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.err
    assert not (tmp_path / "out").exists()


def test_out_inside_src_is_left_out_of_the_files_under_src(tagged, tmp_path, prep_cli):
    photos = tagged / "photos"
    out = photos / "datasets" / "x"
    flags = ["--manifest", tagged / "tags.jsonl", photos, out, "--multi-label", "--workers", "1"]
    assert prep_cli("images", *flags).exit_code == 0
    assert prep_cli("images", *flags, "--overwrite").exit_code == 0
    stats = _stats(out)
    assert stats["records"] == 16 and stats["manifest"]["unlisted_files"] == 0


def test_a_manifest_job_runs_on_a_non_local_filesystem(tagged, prep_cli):
    from tests.memfs import MEM_SCHEME, MemFileSystem

    MemFileSystem.files.clear()
    root = f"{MEM_SCHEME}://bucket"
    try:
        for path in (tagged / "photos").iterdir():
            MemFileSystem.files[f"{root}/photos/{path.name}"] = path.read_bytes()
        rows = (tagged / "tags.jsonl").read_text().replace('"photos/', f'"{root}/photos/')
        MemFileSystem.files[f"{root}/tags.jsonl"] = rows.encode()
        result = prep_cli("images", "--manifest", f"{root}/tags.jsonl", f"{root}/photos", f"{root}/out", "--multi-label",
                          "--workers", "1")
        assert result.exit_code == 0, result.err
        assert json.loads(MemFileSystem.files[f"{root}/out/stats.json"])["records"] == 16
        assert prep_cli("verify", f"{root}/out").exit_code == 0
    finally:
        MemFileSystem.files.clear()


def test_a_manifest_job_is_built_for_dataflow_offline_without_reading_the_bucket(gcs_on_client):  # noqa: F811
    from beam_jobs.images import ConvertImageFolder
    from prep.images.manifest import ManifestSpec
    from prep.images.options import ImageJobOptions

    options = ImageJobOptions(src="gs://my-bucket", out="gs://my-bucket/datasets/x",
                              manifest=ManifestSpec("gs://my-bucket/automl.csv", "csv", header=False))
    steps, _, staged = _dry_run("ConvertImageFolder", ConvertImageFolder(options))
    for step in ("ReadManifest/Match", "ReadManifest/NumberLines", "ReadManifest/Read", "FindImages/JoinKeys",
                 "FindImages/Choose", "FindImages/JoinImages", "FindImages/Settle", "Convert", "WriteShards", "Commit"):
        assert any(s.startswith(f"ConvertImageFolder/{step}") for s in steps), step
    assert gcs_on_client == []


@pytest.mark.parametrize("kind", [["--multi-label"], ["--target-field", "age,score"]])
def test_inspect_the_contact_sheet_tfds_and_tfx_know_the_label_kinds(tagged, tmp_path, prep_cli, kind):
    import tensorflow_datasets as tfds

    from prep.inspection.contact_sheet import make_sheet

    out = tmp_path / "out"
    assert prep_cli("images", "--manifest", tagged / "tags.jsonl", tagged / "photos", out, *kind, "--workers", "1").exit_code == 0
    shown = prep_cli("inspect", out).out
    assert "labels from the manifest" in shown
    sheet = make_sheet(str(out), per_class=2)
    if kind == ["--multi-label"]:
        assert "  3 outdoor" in shown and sheet.rows == 4  # one row per class, a record in each of its classes' rows
        connector = "Sequence(ClassLabel"
    else:
        assert "target age: min 0.0, mean 18.75, max 37.5" in shown and sheet.rows == 5  # rows of age ranges
        connector = "Tensor(shape=(2,), dtype=float32"
    assert prep_cli("export", "tfds", out).exit_code == 0
    builder = tfds.builder_from_directory(str(out))
    assert str(builder.info.features[load_schema(str(out)).label_key]).startswith(connector)
    assert len(list(builder.as_dataset(split="train"))) == 16
    assert prep_cli("schema", "export", out, "--tfx", tmp_path / "schema.pbtxt").exit_code == 0
    assert 'not_in_environment: "SERVING"' in (tmp_path / "schema.pbtxt").read_text()
