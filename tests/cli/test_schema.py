"""`prep schema infer|import|export` and `prep export tfds` driven as a user runs them: exit codes, output,
and the files they leave."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prep.cli.schema import _beam_args
from schemas import load_schema
from tests.conftest import DATAFLOW_FLAGS
from tests.interop.test_schema_inference import _flip_byte, _sequence_example, parse_all, write_tfrecord


def _three_features(folder: Path) -> Path:
    for split in ("train", "test"):
        write_tfrecord(folder / f"old-{split}.tfrecord", [
            {"feature1": i * 0.5, "feature2": i, "label": i % 3} for i in range(25)])
    return folder


def test_infer_then_verify(tmp_path, prep_cli):
    folder = _three_features(tmp_path / "old")
    result = prep_cli("schema", "infer", f"{folder}/*.tfrecord", "-o", folder)
    assert result.exit_code == 0, result.err
    assert "'feature1': tf.io.FixedLenFeature([], tf.float32)," in result.out
    assert "label: label" in result.out and "split train: 1 file, 25 records" in result.out
    schema = load_schema(str(folder))
    assert schema.kind == "records" and schema.num_records == 50
    assert (folder / "rejected.jsonl").read_text() == ""
    verified = prep_cli("verify", folder)
    assert verified.exit_code == 0 and "verified 50 records in 2 shards" in verified.out

    import tensorflow as tf

    from readers import make_input_fn

    features, labels = next(iter(make_input_fn(str(folder), "train", batch_size=5, mode="eval")()))
    assert features["feature1"].dtype == tf.float32 and features["feature2"].dtype == tf.int64
    assert labels.dtype == tf.int64 and labels.shape == (5,)


def test_full_reads_every_record_catches_what_the_sample_missed_and_leaves_out_damage(tmp_path, prep_cli):
    folder = tmp_path / "data"
    rows = [{"x": [1.0] * (1 if i < 300 else 3), "label": f"c{i % 4}"} for i in range(400)]
    write_tfrecord(folder / "train-0.tfrecord.gz", rows, "GZIP")
    write_tfrecord(folder / "train-1.tfrecord.gz", rows[:200], "GZIP")
    damaged = write_tfrecord(folder / "train-2.tfrecord.gz", rows, "GZIP")
    _flip_byte(damaged, 0.9)  # past what the sample reads

    sampled = prep_cli("schema", "infer", folder, "--sample-records", "50")
    assert sampled.exit_code == 0, sampled.err
    assert load_schema(str(folder)).feature("x").shape == ()
    assert "? records (unknown: sampled)" in sampled.out and "--full" in sampled.err

    full = prep_cli("schema", "infer", folder, "--full", "--overwrite", "--workers", "1")
    assert full.exit_code == 0, full.err
    schema = load_schema(str(folder))
    assert schema.feature("x").shape is None and schema.feature("x").value_count == (1, 3)
    assert [sh.file for sh in schema.split("train").shards] == ["train-0.tfrecord.gz", "train-1.tfrecord.gz"]
    assert schema.num_records == 600 and schema.provenance.options["mode"] == "full"
    assert schema.feature("label").vocabulary == "labels"
    assert (folder / "vocab" / "labels.txt").read_text() == "c0\nc1\nc2\nc3\n"
    assert "warning: left out train-2.tfrecord.gz" in full.err
    assert json.loads((folder / "rejected.jsonl").read_text())["path"] == "train-2.tfrecord.gz"
    parse_all(schema, folder)
    assert prep_cli("verify", folder).exit_code == 0


def test_infer_leaves_out_a_file_its_name_places_in_no_split_with_a_warning(tmp_path, prep_cli):
    folder = _three_features(tmp_path / "old")
    (folder / "notes.tfrecord").write_text("not TFRecord, a note\n")
    write_tfrecord(folder / "extra.tfrecord", [{"feature1": 0.5, "feature2": 1, "label": 0}])
    result = prep_cli("schema", "infer", f"{folder}/*.tfrecord", "-o", folder)
    assert result.exit_code == 0, result.err
    assert "warning: left out notes.tfrecord: not TFRecord framing" in result.err
    assert ("warning: left out extra.tfrecord: its name places it in no split, while the other files' names place "
            "them in test, train: to include it, say which split each file is in with --split NAME=GLOB") in result.err
    assert f"files left out are listed in {folder}/rejected.jsonl" in result.err
    assert "Traceback" not in result.err
    assert [sh.file for s in load_schema(str(folder)).splits for sh in s.shards] == ["old-train.tfrecord", "old-test.tfrecord"]
    rejected = [json.loads(line) for line in (folder / "rejected.jsonl").read_text().splitlines()]
    assert [(r["path"], r["reason"]) for r in rejected] == [("extra.tfrecord", "no_split"), ("notes.tfrecord", "not_tfrecord")]


@pytest.mark.parametrize("setup,args,message", [
    (lambda d: write_tfrecord(d / "s.tfrecord", [], raw=[_sequence_example()]), [], "SequenceExample"),
    (lambda d: (d / "x.tfrecord").write_bytes(b"PK\x03\x04 a zip file, not TFRecord"), [], "not TFRecord framing"),
    (lambda d: _three_features(d) and (d / "schema.json").write_text("{}"), [], "--overwrite"),
    (lambda d: _three_features(d), ["-o", "/elsewhere"], "is not inside /elsewhere"),
    (lambda d: _three_features(d), ["--label-key", "nope"], "'nope' is not a key"),
    (lambda d: _three_features(d), ["--", "--runner=DirectRunner"], "are for --full only"),
    (lambda d: _three_features(d), ["--dry-run"], "are for --full only"),
    (lambda d: _three_features(d), ["--split", "bad name=*"], "split name"),
])
def test_infer_errors_are_one_line_and_exit_code_2(tmp_path, prep_cli, setup, args, message):
    setup(tmp_path)
    result = prep_cli("schema", "infer", tmp_path, *args)
    assert result.exit_code == 2 and message in result.err, result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("runner", [["--workers", "1"], DATAFLOW_FLAGS], ids=["local", "dataflow"])
def test_full_dry_runs_build_the_job_and_write_nothing(tmp_path, prep_cli, runner):
    folder = _three_features(tmp_path / "old")
    (folder / "schema.json").write_text("{}")  # no --overwrite: a dry run writes nothing, so it need not refuse
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = prep_cli("schema", "infer", folder, "--full", "--dry-run", *runner)
    assert result.exit_code == 0, result.err
    assert "dry run: nothing ran, nothing was written" in result.out
    assert "  InferSchema/ReadEveryRecord\n" in result.out and "  InferSchema/WriteSchemaLast\n" in result.out
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_beam_flags_follow_the_files():
    assert _beam_args(("a/*", "b", "--runner=DataflowRunner", "--project", "p")) == (
        ("a/*", "b"), ("--runner=DataflowRunner", "--project", "p"))


def test_export_tfds_and_tfx(dataset_copy, tmp_path, prep_cli):
    result = prep_cli("export", "tfds", dataset_copy)
    assert result.exit_code == 0, result.err
    assert (dataset_copy / "dataset_info.json").exists() and "builder_from_directory" in result.out
    result = prep_cli("schema", "export", dataset_copy, "--tfx", tmp_path / "s.pbtxt")
    assert result.exit_code == 0 and 'name: "image"' in (tmp_path / "s.pbtxt").read_text()
    assert prep_cli("schema", "export", dataset_copy).exit_code == 2


def test_export_tfds_of_a_gzip_dataset_says_tfds_cannot_read_it(tmp_path, prep_cli):
    write_tfrecord(tmp_path / "train-00000-of-00001.tfrecord.gz", [{"x": 1}], "GZIP")
    assert prep_cli("schema", "infer", tmp_path).exit_code == 0
    result = prep_cli("export", "tfds", tmp_path)
    assert result.exit_code == 2 and "TFDS reads uncompressed shards only" in result.err
