"""What every job shares: runner choice, Dataflow settings, dry runs, --split's names."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATAFLOW_FLAGS


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
    result = prep_cli("images", image_folder, tmp_path / "out", "--workers", "1", "--",
                      "--runner=PrismRunner", f"--prism_location={prism}")
    assert started.exists(), "--runner=PrismRunner did not start the Prism binary it was given"
    assert result.exit_code != 0 and not (tmp_path / "out" / "schema.json").exists()


def test_custom_split_names_keeps_a_name_that_looks_misspelt(image_folder, tmp_path, prep_cli):
    flags = ["--split", "train=0.5,tests=0.5", "--workers", "1"]
    refused = prep_cli("images", image_folder, tmp_path / "out", *flags)
    assert refused.exit_code == 2 and "'tests' looks like a misspelling of 'test'" in refused.err
    kept = prep_cli("images", image_folder, tmp_path / "out", *flags, "--custom-split-names")
    assert kept.exit_code == 0, kept.err
    assert set(json.loads((tmp_path / "out" / "stats.json").read_text())["splits"]) == {"train", "tests"}
    custom = prep_cli("images", image_folder, tmp_path / "out2", "--split", "train_a=0.5,holdout=0.5", "--dry-run")
    assert custom.exit_code == 0, "names of their own need no flag"
