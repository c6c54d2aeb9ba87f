"""Schema inference on TFRecords written with plain TensorFlow: every inferred schema parses every record."""

from __future__ import annotations

from pathlib import Path

import pytest

from prep.interop import inference
from prep.interop.inference.errors import InferenceError
from prep.interop.inference.options import InferOptions, SampleOptions
from prep.interop.inference.scanning import records_in
from prep.jobs.results import LABELS_FILE
from schemas import SchemaError, feature_spec
from tests.conftest import image_bytes


def tf_feature(value):
    """A tf.train.Feature from a Python value: float(s), int(s) or bytes/str(s); an empty list of a kind
    is given as ("int64", []) / ("float", []) / ("bytes", [])."""
    import tensorflow as tf

    if isinstance(value, tuple):
        kind, values = value
    else:
        values = value if isinstance(value, list) else [value]
        first = values[0]
        kind = "float" if isinstance(first, float) else "int64" if isinstance(first, int) else "bytes"
    if kind == "float":
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))
    if kind == "int64":
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() if isinstance(v, str) else v for v in values]))


def example(row: dict) -> bytes:
    import tensorflow as tf

    return tf.train.Example(features=tf.train.Features(
        feature={k: tf_feature(v) for k, v in row.items()})).SerializeToString()


def write_tfrecord(path: Path, rows: list[dict], compression: str | None = None, raw: list[bytes] | None = None) -> Path:
    """Writes records with tf.io.TFRecordWriter: Examples of `rows`, or `raw` serialized records."""
    import tensorflow as tf

    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path), options=compression) as writer:
        for record in raw if raw is not None else [example(r) for r in rows]:
            writer.write(record)
    return path


def read_all(schema, root: Path) -> list[bytes]:
    import tensorflow as tf

    kind = {"none": "", "gzip": "GZIP", "zlib": "ZLIB"}[schema.compression]
    files = [str(root / shard.file) for split in schema.splits for shard in split.shards]
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type=kind)]


def parse_all(schema, root: Path) -> dict:
    """Every record of the schema's files parsed with its feature spec (fails the test if one does not)."""
    import tensorflow as tf

    records = read_all(schema, root)
    assert records
    return tf.io.parse_example(records, feature_spec(schema))


def infer(root: Path, *patterns: str, **options):
    sample = options.pop("sample", SampleOptions())
    opts = InferOptions(patterns=patterns or (str(root),), out=str(root), sample=sample, **options)
    _, scans, result = inference.infer_sampled(opts)
    return result


def test_the_three_scalar_case_infers_exactly_the_hand_written_feature_description(tmp_path):
    import tensorflow as tf

    for split in ("train", "validation"):
        write_tfrecord(tmp_path / f"{split}.tfrecord", [
            {"feature1": i * 0.25, "feature2": i, "label": i % 4} for i in range(30)])
    result = infer(tmp_path, str(tmp_path / "*.tfrecord"))
    feature_description = {
        'feature1': tf.io.FixedLenFeature([], tf.float32),
        'feature2': tf.io.FixedLenFeature([], tf.int64),
        'label': tf.io.FixedLenFeature([], tf.int64)}
    assert feature_spec(result.schema) == feature_description
    assert result.schema.label_key == "label"
    assert result.schema.feature("label").encoding == "class_id"
    assert [(s.name, s.num_records) for s in result.schema.splits] == [("train", 30), ("validation", 30)]
    parsed = parse_all(result.schema, tmp_path)
    assert parsed["feature1"].dtype == tf.float32 and parsed["label"].dtype == tf.int64


def test_gzip_files_are_detected_and_read(tmp_path):
    write_tfrecord(tmp_path / "part-0.tfrecord.gz", [{"x": [1.0, 2.0], "name": f"n{i}"} for i in range(10)], "GZIP")
    result = infer(tmp_path)
    assert result.schema.compression == "gzip"
    assert result.schema.feature("x").shape == (2,)
    assert parse_all(result.schema, tmp_path)["name"].shape == (10,)


def test_zlib_files_too(tmp_path):
    write_tfrecord(tmp_path / "a.tfrecord", [{"x": 1}], "ZLIB")
    assert infer(tmp_path).schema.compression == "zlib"


def test_variable_length_and_sometimes_missing_keys(tmp_path):
    rows = []
    for i in range(40):
        row = {"ids": ("int64", list(range(i % 5))), "always": 1.5, "vec": [0.5, 1.5, 2.5]}
        if i % 10:
            row["sometimes"] = i
            row["sometimes_vec"] = [1.0, 2.0]
            row["maybe_text"] = f"text {i}"
        rows.append(row)
    write_tfrecord(tmp_path / "data.tfrecord", rows)
    schema = infer(tmp_path).schema
    ids, sometimes = schema.feature("ids"), schema.feature("sometimes")
    assert ids.shape is None and ids.value_count == (0, 4) and ids.presence == 1.0
    assert sometimes.shape == () and sometimes.default == 0 and sometimes.presence == 0.9
    assert schema.feature("sometimes_vec").default == [0.0, 0.0]
    assert schema.feature("maybe_text").default == "" and schema.feature("maybe_text").encoding == "text"
    assert schema.feature("vec").shape == (3,) and schema.feature("vec").default is None
    parsed = parse_all(schema, tmp_path)
    assert parsed["sometimes"].numpy().tolist()[:2] == [0, 1]
    assert parsed["ids"].row_lengths().numpy().tolist()[:5] == [0, 1, 2, 3, 4]


def test_a_key_with_two_kinds_is_left_out_with_a_note(tmp_path):
    write_tfrecord(tmp_path / "a.tfrecord", [{"x": 1, "y": 1}, {"x": 1.0, "y": 2}])
    result = infer(tmp_path)
    assert [f.name for f in result.schema.features] == ["y"]
    assert any("'x'" in n and "float32" in n and "int64" in n for n in result.notes)
    parse_all(result.schema, tmp_path)


@pytest.mark.parametrize("fmt,mode,channels", [("PNG", "RGB", 3), ("JPEG", "L", 1), ("PNG", "RGBA", 4)])
def test_image_bytes_are_sniffed_with_size_and_channels(tmp_path, fmt, mode, channels):
    rows = [{"img": image_bytes(size=(12, 8), fmt=fmt, mode=mode), "label": f"class{i % 2}"} for i in range(6)]
    write_tfrecord(tmp_path / "train-00000-of-00001.tfrecord", rows)
    schema = infer(tmp_path).schema
    image = schema.feature("img")
    assert image.encoding == "image"
    assert (image.image.format, image.image.channels, image.image.width, image.image.height) == (
        fmt.lower(), channels, 12, 8)
    label = schema.feature("label")
    assert schema.label_key == "label" and label.vocabulary == "labels"
    assert (tmp_path / "vocab").exists() is False  # inference writes nothing; the CLI writes its files
    parse_all(schema, tmp_path)


def test_images_of_different_sizes_have_no_fixed_size(tmp_path):
    rows = [{"image": image_bytes(size=(10 + i, 8), fmt="PNG")} for i in range(3)]
    write_tfrecord(tmp_path / "a.tfrecord", rows)
    image = infer(tmp_path).schema.feature("image").image
    assert image.width is None and image.height is None and image.format == "png"


def test_text_and_opaque_bytes(tmp_path):
    rows = [{"text": "héllo wörld, line " + str(i), "blob": bytes([0, 159, 146, 150, i]), "fake": b"BMnot an image"}
            for i in range(5)]
    write_tfrecord(tmp_path / "a.tfrecord", rows)
    schema = infer(tmp_path).schema
    assert schema.feature("text").encoding == "text"
    assert schema.feature("blob").encoding == "bytes"
    assert schema.feature("fake").encoding == "text"  # "BM" is BMP's magic, but Pillow cannot open it: text
    assert schema.label_key is None


def _sequence_example() -> bytes:
    import tensorflow as tf

    return tf.train.SequenceExample(
        context=tf.train.Features(feature={"length": tf_feature(2)}),
        feature_lists=tf.train.FeatureLists(feature_list={
            "tokens": tf.train.FeatureList(feature=[tf_feature(1), tf_feature(2)])}),
    ).SerializeToString()


def _flip_byte(path: Path, at: float = 0.5) -> Path:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x40
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("make,expected", [
    (lambda d: write_tfrecord(d / "seq.tfrecord", [], raw=[_sequence_example()] * 3), "SequenceExample"),
    (lambda d: _flip_byte(write_tfrecord(d / "a.tfrecord", [{"x": [float(i)] * 50} for i in range(20)])), "bad CRC"),
    (lambda d: (d / "notes.tfrecord").write_text("just some text, not TFRecord framing\n" * 3), "not TFRecord framing"),
    (lambda d: write_tfrecord(d / "raw.tfrecord", [], raw=[b"\xff\xff\xff plain bytes"]), "not a tf.train.Example"),
])
def test_files_prep_cannot_read_are_named_in_the_error(tmp_path, make, expected):
    make(tmp_path)
    with pytest.raises(InferenceError, match=expected):
        infer(tmp_path)


def test_a_damaged_file_among_good_ones_is_left_out_and_reported(tmp_path):
    for i in range(3):
        write_tfrecord(tmp_path / f"train-{i}.tfrecord", [{"x": j} for j in range(20)])
    _flip_byte(tmp_path / "train-1.tfrecord", 0.7)
    write_tfrecord(tmp_path / "train-seq.tfrecord", [], raw=[_sequence_example()])
    result = infer(tmp_path)
    listed = [sh.file for sh in result.schema.split("train").shards]
    assert listed == ["train-0.tfrecord", "train-2.tfrecord"]
    assert {(rel, reason) for rel, reason, _ in result.left_out} == {
        ("train-1.tfrecord", "bad_crc"), ("train-seq.tfrecord", "sequence_example")}
    assert any(n.startswith("left out train-1.tfrecord: bad CRC") for n in result.notes)
    assert b"bad_crc" in inference.rejected_lines(result)
    assert result.schema.provenance.options["left_out"][0]["file"] == "train-1.tfrecord"


def test_an_unexpected_exception_on_one_file_leaves_it_out_as_a_conversion_error(tmp_path, monkeypatch):
    from prep.interop.inference import feature_stats

    for i in range(3):
        write_tfrecord(tmp_path / f"train-{i}.tfrecord", [{"x": j + 100 * i} for j in range(5)])
    real = feature_stats.RecordStats.add

    def fails_on_one_file(self, data):
        if b"\xc8\x01" in data:  # the varint of 200: only in train-2's records
            raise ZeroDivisionError("a bug nobody foresaw")
        return real(self, data)

    monkeypatch.setattr(feature_stats.RecordStats, "add", fails_on_one_file)
    result = infer(tmp_path)
    assert [sh.file for sh in result.schema.split("train").shards] == ["train-0.tfrecord", "train-1.tfrecord"]
    [(relative, reason, problem)] = result.left_out
    assert (relative, reason) == ("train-2.tfrecord", "conversion_error")
    assert problem.startswith("ZeroDivisionError: a bug nobody foresaw (at test_schema_inference.py:")
    assert b"conversion_error" in inference.rejected_lines(result)


def test_files_mixing_compressions_are_refused(tmp_path):
    write_tfrecord(tmp_path / "a.tfrecord", [{"x": 1}])
    write_tfrecord(tmp_path / "b.tfrecord.gz", [{"x": 1}], "GZIP")
    with pytest.raises(InferenceError, match="mix compressions"):
        infer(tmp_path)


def _growing(n: int, variable_from: int) -> list[dict]:
    return [{"x": [1.0] * (1 if i < variable_from else 2), "label": i % 3} for i in range(n)]


def test_sampling_reads_a_bounded_part_and_says_counts_are_unknown(tmp_path):
    write_tfrecord(tmp_path / "big.tfrecord.gz", _growing(400, 300), "GZIP")
    result = infer(tmp_path, sample=SampleOptions(head_records=50))
    x = result.schema.feature("x")
    assert x.shape == () and x.value_count == (1, 1)  # what the sample saw: fixed
    assert result.schema.num_records is None and result.schema.split("train").shards[0].num_records is None
    assert result.schema.provenance.options["exact"] is False
    assert any("--full" in n for n in result.notes)


def test_the_full_scan_catches_a_feature_that_is_fixed_in_the_sample_but_variable(tmp_path):
    write_tfrecord(tmp_path / "big.tfrecord.gz", _growing(400, 300), "GZIP")
    options = InferOptions(patterns=(str(tmp_path),), sample=SampleOptions(head_records=50))
    files = inference.locate_files(options.patterns, None)
    sampled = inference.scan_files(files.entries, options.sample)
    full = [inference.scan_file(e, sample=None) for e in files.entries]
    result = inference.build_inference(options, files, inference.merge_scans(sampled, full), "full")
    x = result.schema.feature("x")
    assert x.shape is None and x.value_count == (1, 2)
    assert result.schema.num_records == 400
    parse_all(result.schema, tmp_path)


@pytest.mark.parametrize("count,payload", [(4000, 0), (40, 100_000)])
def test_probes_find_records_inside_large_uncompressed_files(tmp_path, count, payload):
    rows = [{"x": 1.0, "blob": ("bytes", [b"\x01" * payload])} for i in range(count)]
    for row in rows[int(count * 0.75):]:
        row["late"] = 7
    write_tfrecord(tmp_path / "big.tfrecord", rows)
    result = infer(tmp_path, sample=SampleOptions(head_records=5, head_bytes=4096, probes=4, probe_bytes=2048,
                                                  probe_records=5))
    assert result.schema.provenance.options["records_read"] <= 5 + 4 * 5
    late = result.schema.feature("late")  # only records found by the probes have it
    assert late.default == 0 and late.presence < 1


def test_records_in_finds_the_first_record_start_in_any_window(tmp_path):
    from prep.records.tfrecord_io import encode_record

    records = [example({"x": i, "pad": "y" * (i % 7)}) for i in range(50)]
    stream = b"".join(encode_record(r) for r in records)
    for cut in (0, 1, 5, 13, 200, 777):
        found = list(records_in(stream[cut: cut + 600]))
        assert found and found == records[records.index(found[0]): records.index(found[0]) + len(found)]


def test_class_names_come_from_a_name_key_beside_the_ids(tmp_path):
    rows = [{"label": i % 3, "label/name": ["cat", "dog", "eel"][i % 3], "x": 1} for i in range(9)]
    write_tfrecord(tmp_path / "a.tfrecord", rows)
    result = infer(tmp_path)
    assert result.schema.feature("label").vocabulary == "labels"
    assert result.files[LABELS_FILE] == b"cat\ndog\neel\n"


def test_no_class_list_from_an_incomplete_sample(tmp_path):
    write_tfrecord(tmp_path / "a.tfrecord.gz", [{"label": f"c{i % 5}"} for i in range(100)], "GZIP")
    result = infer(tmp_path, sample=SampleOptions(head_records=10))
    assert result.schema.feature("label").vocabulary is None and not result.files
    assert any("class list" in n for n in result.notes)


def test_a_label_absent_in_some_records_defaults_to_minus_one(tmp_path):
    write_tfrecord(tmp_path / "a.tfrecord", [{"label": 1, "x": 1}, {"x": 2}])
    schema = infer(tmp_path).schema
    assert schema.feature("label").default == -1
    assert parse_all(schema, tmp_path)["label"].numpy().tolist() == [1, -1]


@pytest.mark.parametrize("label_key,expected", [(None, "label"), ("x", "x"), ("", None)])
def test_label_key_choice(tmp_path, label_key, expected):
    write_tfrecord(tmp_path / "a.tfrecord", [{"label": 1, "x": 1}])
    assert infer(tmp_path, label_key=label_key).schema.label_key == expected


def test_an_unknown_label_key_names_the_keys(tmp_path):
    write_tfrecord(tmp_path / "a.tfrecord", [{"label": 1, "x": 1}])
    with pytest.raises(InferenceError, match="'nope' is not a key.*label, x"):
        infer(tmp_path, label_key="nope")


@pytest.mark.parametrize("name,split", [
    ("train-00000-of-00004.tfrecord", "train"),
    ("mnist-test.tfrecord-00001-of-00002", "test"),
    ("cifar-train_extra.tfrecord-00000-of-00001", "train_extra"),
    ("data_validation.tfrecord.gz", "validation"),
    ("eval/part-3", "validation"),
    ("dev.tfrecord", "validation"),
    ("part-00003", None),
    ("train_test_mix.tfrecord", None),
])
def test_split_of_name(name, split):
    assert inference.split_of_name(name) == split


def test_a_shard_its_name_places_in_no_split_is_left_out_saying_how_to_include_it(tmp_path):
    write_tfrecord(tmp_path / "train.tfrecord", [{"x": 1}])
    write_tfrecord(tmp_path / "other.tfrecord", [{"x": 1}])
    result = infer(tmp_path)
    assert [s.name for s in result.schema.splits] == ["train"]
    assert [(rel, reason) for rel, reason, _ in result.left_out] == [("other.tfrecord", "no_split")]
    assert "--split NAME='other.tfrecord'" in result.left_out[0][2]
    result = infer(tmp_path, split_globs=(("train", "train*"), ("extra", "other*")))
    assert [s.name for s in result.schema.splits] == ["train", "extra"]


def test_a_junk_file_its_name_places_in_no_split_is_left_out_as_what_it_is(tmp_path):
    for split in ("train", "test"):
        write_tfrecord(tmp_path / f"{split}.tfrecord", [{"x": 1}])
    (tmp_path / "notes.tfrecord").write_text("not a TFRecord file, some notes\n")
    result = infer(tmp_path)
    assert [s.name for s in result.schema.splits] == ["train", "test"]
    assert [(rel, reason) for rel, reason, _ in result.left_out] == [("notes.tfrecord", "not_tfrecord")]


def test_unnamed_shards_beside_a_named_junk_file_still_go_to_train(tmp_path):
    write_tfrecord(tmp_path / "part-0.tfrecord", [{"x": 1}])
    (tmp_path / "notes_train.txt").write_text("a note about training\n")
    result = infer(tmp_path)
    assert [(s.name, [sh.file for sh in s.shards]) for s in result.schema.splits] == [("train", ["part-0.tfrecord"])]
    assert [rel for rel, _, _ in result.left_out] == ["notes_train.txt"]


def test_files_outside_the_dataset_directory_are_refused(tmp_path):
    write_tfrecord(tmp_path / "a" / "x.tfrecord", [{"x": 1}])
    with pytest.raises(InferenceError, match="not inside"):
        inference.locate_files([str(tmp_path / "a" / "x.tfrecord")], str(tmp_path / "b"))


def test_metadata_files_are_not_taken_for_shards(tmp_path):
    write_tfrecord(tmp_path / "x.tfrecord", [{"x": 1}])
    for name in ("schema.json", "features.json", "label.labels.txt", ".hidden", "vocab/labels.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("{}")
    assert [e.relative for e in inference.locate_files([str(tmp_path)], None).entries] == ["x.tfrecord"]


# ---- schemas.from_feature_description ------------------------------------------------------------------


def test_from_feature_description_makes_a_schema_of_a_hand_written_dict(tmp_path):
    import tensorflow as tf

    from prep.interop.feature_description import from_feature_description, schema_dir

    rows = [{"feature1": 0.5, "feature2": i, "label": i % 2, "image": image_bytes(fmt="PNG"), "tags": ("bytes", ["a"] * i)}
            for i in range(4)]
    files = [str(write_tfrecord(tmp_path / f"{s}-00000-of-00001.tfrecord", rows)) for s in ("train", "test")]
    feature_description = {
        'feature1': tf.io.FixedLenFeature([], tf.float32),
        'feature2': tf.io.FixedLenFeature([], tf.int64, default_value=-1),
        'label': tf.io.FixedLenFeature([], tf.int64),
        'image': tf.io.FixedLenFeature([], tf.string),
        'tags': tf.io.VarLenFeature(tf.string)}
    schema = from_feature_description(feature_description, files=files)
    assert schema.label_key == "label" and schema.split_names == ("train", "test")
    assert schema.feature("image").encoding == "image" and schema.feature("feature2").default == -1
    assert schema.feature("tags").shape is None
    assert schema_dir(schema, files) == str(tmp_path)
    parse_all(schema, tmp_path)


# The README's "Bring your own TFRecords" snippet, as it is written there.
README_SNIPPET = """
from prep.interop import from_feature_description, save_schema
schema = from_feature_description(feature_description, files=file_paths)   # out=, label_key=, splits={name: glob}
save_schema(schema, "data/old")
"""


def test_the_readme_snippet_runs_as_written(tmp_path, monkeypatch):
    import tensorflow as tf

    from schemas import load_schema

    monkeypatch.chdir(tmp_path)
    rows = [{"x": float(i), "label": i % 2} for i in range(5)]
    file_paths = [str(write_tfrecord(Path("data/old") / f"{s}.tfrecord", rows)) for s in ("train", "test")]
    feature_description = {"x": tf.io.FixedLenFeature([], tf.float32), "label": tf.io.FixedLenFeature([], tf.int64)}
    exec(README_SNIPPET, {"feature_description": feature_description, "file_paths": file_paths})
    (tmp_path / "data" / "old" / "notes.tfrecord").write_text("a note, not records\n")
    with pytest.warns(UserWarning, match="left out notes.tfrecord: not TFRecord framing"):
        exec(README_SNIPPET, {"feature_description": feature_description,
                              "file_paths": file_paths + [str(tmp_path / "data" / "old" / "notes.tfrecord")]})
    schema = load_schema("data/old")
    assert schema.split_names == ("train", "test") and schema.label_key == "label"
    assert parse_all(schema, tmp_path / "data" / "old")["x"].shape == (10,)


def test_from_feature_description_refuses_a_description_the_records_do_not_fit(tmp_path):
    import tensorflow as tf

    from prep.interop.feature_description import from_feature_description

    write_tfrecord(tmp_path / "a.tfrecord", [{"x": [1, 2]}])
    with pytest.raises(SchemaError, match=r"a.tfrecord: record 0 does not parse with the given features: feature 'x' "
                                          r"holds 2 values, where the schema says shape \[\] \(1 value\)$"):
        from_feature_description({"x": tf.io.FixedLenFeature([], tf.int64)}, files=str(tmp_path / "a.tfrecord"))
    with pytest.raises(SchemaError, match="SparseFeature is not supported"):
        from_feature_description({"x": tf.io.SparseFeature("i", "x", tf.int64, 3)}, files=str(tmp_path))


@pytest.mark.parametrize("feature, why", [
    (dict(name="y", dtype="int64", shape=(), default=None), "feature 'y' is missing (the schema gives it no default"),
    (dict(name="y", dtype="int64", shape=(), default=0), None),
    (dict(name="x", dtype="float32", shape=None, default=None), "feature 'x' holds int64_list values, where the "
                                                                 "schema says float32 (float_list)"),
    (dict(name="x", dtype="int64", shape=(3,), default=None), "feature 'x' holds 2 values, where the schema says "
                                                              "shape [3] (3 values)"),
    (dict(name="x", dtype="int64", shape=(2,), default=None), None),
])
def test_parse_mismatch_names_the_feature_and_what_is_wrong(feature, why):
    from prep.interop.inference.record_parser import parse_mismatch
    from schemas import Feature

    found = parse_mismatch(example({"x": [1, 2]}), [Feature(**feature)])
    assert found == why if why is None else found.startswith(why), found


def test_tf_message_drops_the_op_wrapping():
    from prep.interop.inference.record_parser import tf_message

    message = ("{{function_node __wrapped__ParseExampleV2_Tdense_8_num_sparse_0_device_/job:localhost/replica:0/task:0/"
               "device:CPU:0}} Feature: a (data type: int64) is required but could not be found. [Op:ParseExampleV2] "
               "name: \nmore")
    assert tf_message(message) == "Feature: a (data type: int64) is required but could not be found."
