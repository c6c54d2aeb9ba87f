"""prep.images.manifest: finding a manifest's columns, reading its rows, and where each row's image may be."""

from __future__ import annotations

import dataclasses
import json

import pytest

from prep.core.row_files import Rejection
from prep.images import manifest as manifests
from prep.images.manifest import ManifestError, ManifestRow, ManifestSpec


def _rows(tmp_path, name: str, text: str, **flags) -> list:
    path = tmp_path / name
    path.write_text(text)
    fmt = manifests.manifest_format(str(path))
    spec = manifests.describe_manifest(str(path), manifests.first_record(str(path), fmt), fmt, **flags)
    return list(manifests.manifest_items(spec))


@pytest.mark.parametrize("header, found", [
    (["id", "label"], ("id", "label", None)),  # Kaggle's train_labels.csv
    (["split", "image_uri", "label"], ("image_uri", "label", "split")),  # TFRecorder
    (["Filename", "Class", "Set"], ("Filename", "Class", "Set")),  # any case
    (["image", "category", "width"], ("image", "category", None)),
    (["file", "target"], ("file", "target", None)),
])
def test_columns_are_found_by_name(header, found):
    spec = manifests.describe_manifest("m.csv", header, "csv")
    assert (spec.path_field, spec.label_field, spec.split_field) == found and spec.header


def test_flags_name_columns_and_a_wrong_name_is_one_line_naming_the_flag():
    spec = manifests.describe_manifest("m.csv", ["pic", "breed"], "csv", path_field="pic", label_field="BREED")
    assert (spec.path_field, spec.label_field) == ("pic", "breed")
    with pytest.raises(ManifestError, match=r"no label column 'kind' \(columns: path, breed\); check --label-field"):
        manifests.describe_manifest("m.csv", ["path", "breed"], "csv", label_field="kind")
    with pytest.raises(ManifestError, match="name it with --label-field, or --target-field"):
        manifests.describe_manifest("m.csv", ["path", "breed"], "csv")
    with pytest.raises(ManifestError, match="name it with --path-field"):
        manifests.describe_manifest("m.csv", ["picture", "label"], "csv")


def test_a_first_line_that_names_no_column_is_automl_vision_headerless():
    spec = manifests.describe_manifest("m.csv", ["TRAIN", "gs://b/x.jpg", "daisy"], "csv")
    assert not spec.header
    with pytest.raises(ManifestError, match="add a header row"):
        manifests.describe_manifest("m.csv", ["TRAIN", "gs://b/x.jpg", "daisy"], "csv", label_field="x")


def test_automl_vision_csv_as_documented(tmp_path):
    rows = _rows(tmp_path, "automl.csv", "TRAIN,gs://my-bucket/img1.jpg,daisy\n"
                 "VALIDATION,gs://my-bucket/img2.jpg,tulip\n"
                 "gs://my-bucket/img3.jpg,rose\n"
                 "UNASSIGNED,gs://my-bucket/img4.jpg,daisy\n"
                 "TEST,gs://my-bucket/img5.jpg,dandelion,tulip\n"
                 "TEST,gs://my-bucket/img6.jpg\n")
    assert rows[:4] == [
        ManifestRow(1, "gs://my-bucket/img1.jpg", ("daisy",), (), "train"),
        ManifestRow(2, "gs://my-bucket/img2.jpg", ("tulip",), (), "validation"),
        ManifestRow(3, "gs://my-bucket/img3.jpg", ("rose",), (), None),
        ManifestRow(4, "gs://my-bucket/img4.jpg", ("daisy",), (), None),
    ]
    assert (rows[4].reason, rows[4].line) == ("bad_label", 5) and "--multi-label" in rows[4].detail
    assert (rows[5].reason, rows[5].line) == ("missing_label", 6)
    multi = _rows(tmp_path, "automl.csv", "TEST,gs://my-bucket/img5.jpg,dandelion,tulip,rose\n", multi_label=True)
    assert multi == [ManifestRow(1, "gs://my-bucket/img5.jpg", ("dandelion", "rose", "tulip"), (), "test")]


@pytest.mark.parametrize("row, closest", [
    ("TRIAN,brick.png,texture", "TRAIN"),  # the row: was bad_label, "pass --multi-label"
    ("trian,brick.png,texture", "TRAIN"),
    ("VALIDATON,gs://b/brick.png,texture", "VALIDATION"),
    ("VAL,brick.png,texture", "VALIDATION"),  # another name of a split, not one of AutoML's sets
    ("Training,brick.png,texture", "TRAIN"),
    ("UNASIGNED,brick.png,texture", "UNASSIGNED"),
    ("TRAN,brick,texture", "TRAIN"),  # an id without extension: close to a set and upper-case
    ("HOLDOUT,brick.png,texture", None),  # upper-case before an image's path: a set, though far from any
    ("TRIAN,brick.png", "TRAIN"),
])
def test_a_misspelt_automl_set_is_a_bad_split_naming_the_closest_set(tmp_path, row, closest):
    (rejection,) = _rows(tmp_path, "automl.csv", row + "\n")
    assert (rejection.reason, rejection.line) == ("bad_split", 1)
    assert rejection.detail.startswith(f"set {row.split(',')[0]!r} is none of TRAIN, VALIDATION, TEST, UNASSIGNED")
    if closest:
        assert rejection.detail.endswith(f"(the closest: {closest})")
    assert rejection.reference == row.split(",")[1]


@pytest.mark.parametrize("row, kept", [
    ("brick.png,texture", ManifestRow(1, "brick.png", ("texture",))),
    ("gs://b/TRIAN.png,texture", ManifestRow(1, "gs://b/TRIAN.png", ("texture",))),
    ("images/TRIAN,texture", ManifestRow(1, "images/TRIAN", ("texture",))),
    ("f001,1", ManifestRow(1, "f001", ("1",))),  # Kaggle-style ids
    ("ABC,cat", ManifestRow(1, "ABC", ("cat",))),  # an upper-case id before a label, far from any set
    ("trail,hiking", ManifestRow(1, "trail", ("hiking",))),  # a lower-case id close to TRAIN, before a label
    ("TEST,brick.png,texture", ManifestRow(1, "brick.png", ("texture",), (), "test")),
])
def test_rows_without_a_set_or_with_a_real_one_keep_their_path(tmp_path, row, kept):
    assert _rows(tmp_path, "automl.csv", row + "\n") == [kept]


def test_a_row_rejected_once_it_names_its_image_carries_the_image(tmp_path):
    rows = _rows(tmp_path, "m.csv", "path,label,split\na.jpg,,train\nb.jpg,x,someday\n,cat,train\nimg/c.jpg,,\n")
    assert [(r.reason, r.reference) for r in rows] == [
        ("missing_label", "a.jpg"), ("bad_split", "b.jpg"), ("missing_path", ""), ("missing_label", "img/c.jpg")]
    jsonl = _rows(tmp_path, "m.jsonl", '{"path": "d.jpg", "label": ["x", "y"]}\n{"path": "e.jpg", "label": {"x": 1}}\n')
    assert [(r.reason, r.reference) for r in jsonl] == [("bad_label", "d.jpg"), ("bad_label", "e.jpg")]
    targets = _rows(tmp_path, "t.csv", "path,age\nf.jpg,old\ng.jpg,\n", targets=("age",))
    assert [(r.reason, r.reference) for r in targets] == [("bad_target", "f.jpg"), ("missing_target", "g.jpg")]
    assert "reference" not in rows[0].to_dict(), "rejected.jsonl's path is the job's to set, from the image it finds"


def test_multi_label_rows_from_json_lists_and_separated_strings(tmp_path):
    text = "".join(json.dumps(r) + "\n" for r in [
        {"image": "a.jpg", "tags": ["cat", "outdoor", "cat"]},
        {"image": "b.jpg", "tags": "night | outdoor"},
        {"image": "c.jpg", "tags": []},
        {"image": "d.jpg", "tags": [{"x": 1}]},
        {"image": 17, "tags": [3]},
    ])
    rows = _rows(tmp_path, "tags.jsonl", text, multi_label=True)
    assert rows[0] == ManifestRow(1, "a.jpg", ("cat", "outdoor"))
    assert rows[1] == ManifestRow(2, "b.jpg", ("night", "outdoor"))
    assert [(r.reason, r.line) for r in rows[2:4]] == [("missing_label", 3), ("bad_label", 4)]
    assert rows[4] == ManifestRow(5, "17", ("3",))
    spaced = _rows(tmp_path, "planet.csv", "image_name,tags\nt1,haze primary\n", multi_label=True, separator=" ")
    assert spaced == [ManifestRow(2, "t1", ("haze", "primary"))]


def test_regression_targets_and_every_bad_value(tmp_path):
    rows = _rows(tmp_path, "ages.csv", "path,age,score,split\na.jpg,31,0.5,train\nb.jpg, 4.25 ,-1e3,Test\n"
                 "c.jpg,,1,train\nd.jpg,old,1,train\ne.jpg,nan,1,train\nf.jpg,3,inf,\ng.jpg,1,1,holdout\n",
                 targets=("age", "Score"))
    assert rows[0] == ManifestRow(2, "a.jpg", (), (31.0, 0.5), "train")
    assert rows[1] == ManifestRow(3, "b.jpg", (), (4.25, -1000.0), "test")
    assert [(r.reason, r.line) for r in rows[2:]] == [
        ("missing_target", 4), ("bad_target", 5), ("bad_target", 6), ("bad_target", 7), ("bad_split", 8)]


def test_every_malformed_row_is_a_rejection_naming_its_line(tmp_path):
    rows = _rows(tmp_path, "m.csv", 'path,label\na.jpg,cat\n\n,dog\nb.jpg\nc.jpg,"x\ny"\nd.jpg,"unclosed\n')
    assert rows[0] == ManifestRow(2, "a.jpg", ("cat",))
    reasons = [(r.reason, r.line) for r in rows[1:] if isinstance(r, Rejection)]
    assert reasons[:4] == [("empty_row", 3), ("missing_path", 4), ("bad_csv", 5), ("bad_label", 6)]
    assert reasons[4][0] == "bad_csv"
    json_rows = _rows(tmp_path, "m.jsonl", '{"path": "a.jpg", "label": "cat"}\n[1]\n{oops\n{"path": "b.jpg"}\n')
    assert [getattr(r, "reason", None) for r in json_rows] == [None, "not_an_object", "bad_json", "missing_label"]


def test_a_manifest_without_rows_or_unreadable_is_one_line(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"\xef\xbb\xbf\n")
    with pytest.raises(ManifestError, match="holds no row"):
        manifests.first_record(str(tmp_path / "empty.csv"), "csv")
    (tmp_path / "utf16.csv").write_bytes("path,label\n".encode("utf-16"))
    with pytest.raises(ManifestError, match="UTF-16"):
        manifests.first_record(str(tmp_path / "utf16.csv"), "csv")
    with pytest.raises(ManifestError, match="name a .csv, .tsv or .jsonl file"):
        manifests.manifest_format("labels.xlsx")


@pytest.mark.parametrize("reference, keys, outside", [
    ("a.jpg", ("a.jpg",), None),  # /data/a.jpg is not under SRC; SRC/a.jpg is
    ("images/a.jpg", ("a.jpg", "images/a.jpg"), None),  # relative to the manifest's folder first, then to SRC
    ("./x/../b.jpg", ("b.jpg",), None),
    ("/data/images/c.jpg", ("c.jpg",), None),
    ("/elsewhere/d.jpg", (), "/elsewhere/d.jpg"),
    ("gs://bucket/e.jpg", (), "gs://bucket/e.jpg"),
    ("sub\\f.jpg", ("sub/f.jpg",), None),  # a Windows export
])
def test_where_a_row_image_may_be(reference, keys, outside):
    """SRC /data/images, the manifest in /data."""
    assert manifests.candidate_keys(reference, "/data/images", "/data") == (keys, outside)


def test_images_outside_src_are_read_where_they_are():
    assert manifests.candidate_keys("../other/a.jpg", "/data/images", "/data/images") == ((), "/data/other/a.jpg")
    assert manifests.candidate_keys("gs://b/src/x/a.jpg", "gs://b/src", "gs://b") == (("x/a.jpg",), None)


@pytest.mark.parametrize("path, manifest, annotations, allowed", [
    ("/data/labels/x.jpg", "/data/labels/m.csv", None, True),  # a manifest's own folder
    ("/data/labels/sub/x.jpg", "/data/labels/m.csv", None, True),
    ("/data/other/x.jpg", "/data/labels/m.csv", None, False),
    ("/data/labelsx/x.jpg", "/data/labels/m.csv", None, False),  # a folder whose name only starts the same
    ("/data/labels/x.jpg", "/data/labels/instances.json", "coco", False),  # an annotation file's folder: no
    ("gs://b/labels/x.jpg", "gs://b/labels/m.csv", None, True),
    ("gs://other/labels/x.jpg", "gs://b/labels/m.csv", None, False),
])
def test_where_a_row_may_name_a_file_outside_src(path, manifest, annotations, allowed):
    spec = ManifestSpec(manifest, "csv", annotations=annotations)
    assert manifests.may_read_outside(path, spec) is allowed
    assert manifests.may_read_outside(path, dataclasses.replace(spec, allow_outside_src=True))


@pytest.mark.parametrize("relative, inside", [
    ("Annotations/a.xml", True), ("Annotations/../JPEGImages/a.xml", True), ("Annotations/../../x.xml", False),
    ("Annotations//etc/x.xml", True),  # a doubled slash stays under SRC
])
def test_a_path_joined_to_src_stays_inside_it_unless_dotdot_leaves(relative, inside):
    assert manifests.join_inside("/data/VOC", relative)[1] is inside
    assert manifests.join_inside("gs://b/VOC", relative)[1] is inside


def test_src_at_the_root_holds_every_absolute_path():
    assert manifests.candidate_keys("/x/a.jpg", "/", "/x") == (("x/a.jpg",), None)


def test_files_answer_to_their_path_and_their_id():
    assert manifests.file_keys("train/abc.tif") == ("train/abc.tif", "train/abc")
    assert manifests.file_keys("README") == ("README",)
    assert manifests.file_keys(".hidden") == (".hidden",)


def test_the_spec_says_its_kind():
    assert ManifestSpec("m.csv", "csv").kind == "class"
    assert ManifestSpec("m.csv", "csv", multi_label=True).kind == "multi_label"
    assert ManifestSpec("m.csv", "csv", targets=("age",)).kind == "regression"
    with pytest.raises(ManifestError, match="does not go with"):
        manifests.describe_manifest("m.csv", ["path", "age"], "csv", targets=("age",), multi_label=True)
