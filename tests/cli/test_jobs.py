"""The flags every job shares: runner choice, Dataflow settings, dry runs."""

from __future__ import annotations

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
