"""What every job shares: runner choice, Dataflow settings, dry runs, --split's names, and a run that
writes no record failing."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATAFLOW_FLAGS, write_image


def test_dataflow_dry_run_from_the_command_line(prep_cli):
    result = prep_cli("images", "gs://my-bucket/raw", "gs://my-bucket/out", *DATAFLOW_FLAGS, "--dry-run",
                      "--num-shards", "256")
    assert result.exit_code == 0, result.err
    assert "on Dataflow (dry run: nothing is submitted)" in result.err
    assert "dry run: nothing ran, nothing was written" in result.out
    assert "ConvertImageFolder/WriteShards" in result.out


def test_local_dry_run_writes_nothing(image_folder, tmp_path, prep_cli):
    result = prep_cli("images", image_folder, tmp_path / "out", "--dry-run", "--workers", "1")
    assert result.exit_code == 0, result.err
    assert "ConvertImageFolder/Commit" in result.out
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("drop, named", [("--project", "--project"), ("--region", "--region"),
                                         ("--temp-location", "--temp-location")])
def test_dataflow_without_its_settings_is_one_line_and_exit_2(prep_cli, drop, named):
    flags = list(DATAFLOW_FLAGS)
    i = flags.index(drop)
    del flags[i:i + 2]
    result = prep_cli("images", "gs://my-bucket/raw", "gs://my-bucket/out", *flags)
    assert result.exit_code == 2
    assert len(result.err.strip().splitlines()) == 1 and named in result.err


@pytest.fixture
def fake_prism(tmp_path):
    """A stand-in for Beam's Prism binary that records each start and fails, as a missing download does."""
    marker = tmp_path / "prism-started"
    script = tmp_path / "prism"
    script.write_text(f"#!/bin/sh\necho started >> {marker}\nexit 1\n")
    script.chmod(0o755)
    return script, marker


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_local_job_never_starts_prism(image_folder, tmp_path, prep_cli, fake_prism, workers):
    prism, started = fake_prism
    result = prep_cli("images", image_folder, tmp_path / "out", "--workers", workers, "--",
                      f"--prism_location={prism}")
    assert result.exit_code == 0, result.err
    assert (tmp_path / "out" / "schema.json").is_file()
    assert not started.exists(), "the local job started Prism"


def test_a_runner_named_after_the_double_dash_is_honoured(image_folder, tmp_path, prep_cli, fake_prism):
    prism, started = fake_prism
    # Beam keeps one Prism job server per process, made by the first PrismRunner (or DirectRunner, as in the
    # TestPipelines of other tests) and its options: this test asks for its own, as a `prep` process has.
    result = prep_cli("images", image_folder, tmp_path / "out", "--workers", "1", "--",
                      "--runner=PrismRunner", f"--prism_location={prism}", "--experiments=disable_prism_server_singleton")
    assert started.exists(), f"--runner=PrismRunner did not start the Prism binary it was given: {result.err}"
    assert result.exit_code != 0 and not (tmp_path / "out" / "schema.json").exists(), result.err


def test_custom_split_names_keeps_a_name_that_looks_misspelt(image_folder, tmp_path, prep_cli):
    flags = ["--split", "train=0.5,tests=0.5", "--workers", "1"]
    refused = prep_cli("images", image_folder, tmp_path / "out", *flags)
    assert refused.exit_code == 2 and "'tests' looks like a misspelling of 'test'" in refused.err
    kept = prep_cli("images", image_folder, tmp_path / "out", *flags, "--custom-split-names")
    assert kept.exit_code == 0, kept.err
    assert set(json.loads((tmp_path / "out" / "stats.json").read_text())["splits"]) == {"train", "tests"}
    custom = prep_cli("images", image_folder, tmp_path / "out2", "--split", "train_a=0.5,holdout=0.5", "--dry-run")
    assert custom.exit_code == 0, "names of their own need no flag"


def _junk_folder(t):
    for name in ("a/1.jpg", "a/2.jpg", "b/3.png"):
        (t / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (t / "src" / name).write_bytes(b"not an image")
    return ["images", t / "src"]


def _manifest_of_missing_files(t):
    (t / "src").mkdir()
    (t / "rows.csv").write_text("path,label\nx.jpg,a\ny.jpg,b\nz.jpg,a\n")
    return ["images", "--manifest", t / "rows.csv", t / "src"]


def _coco_in_the_wrong_folder(t):
    write_image(t / "images" / "0.jpg")
    (t / "elsewhere").mkdir()
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 32, "height": 24} for i in range(3)]
    categories = [{"id": 1, "name": "cat"}]
    (t / "instances.json").write_text(json.dumps({"images": images, "annotations": [], "categories": categories}))
    return ["images", "--coco", t / "instances.json", t / "elsewhere"]


def _bad_json_lines(t):
    (t / "c.jsonl").write_text("{not json\n{also bad\n{bad\n")
    return ["text", t / "c.jsonl"]


def _bad_json_lines_with_a_vocabulary(t):
    (t / "tokens.txt").write_text("a\nb\n")
    return [*_bad_json_lines(t), "--vocab", t / "tokens.txt"]


@pytest.mark.parametrize("make, reasons", [
    (_junk_folder, "not_an_image 3"),
    (_manifest_of_missing_files, "missing_file 3"),
    (_coco_in_the_wrong_folder, "missing_file 3"),
    (_bad_json_lines, "bad_json 3"),  # no document, so no vocabulary to learn: the dataset is committed all the same
    (_bad_json_lines_with_a_vocabulary, "bad_json 3"),
])
def test_a_run_that_writes_no_record_fails_in_one_line_and_keeps_its_rejections(tmp_path, prep_cli, make, reasons):
    out = tmp_path / "out"
    command, *args = make(tmp_path)
    result = prep_cli(command, *args, out, "--workers", "1")
    assert result.exit_code == 1, result.out + result.err
    assert result.err.strip().splitlines()[-1] == (
        f"prep {command}: error: wrote no record: all 3 inputs were rejected ({reasons}): see {out}/rejected.jsonl")
    assert "wrote 0 records" not in result.out and "Traceback" not in result.err
    assert len((out / "rejected.jsonl").read_text().splitlines()) == 3
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["inputs"], stats["records"], stats["rejected"]) == (3, 0, 3)
    assert (out / "schema.json").is_file(), "committed as it is: prep inspect and the reasons are there to read"

