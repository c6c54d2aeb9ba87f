"""A job killed at any moment leaves no schema.json, so nothing mistakes it for a dataset; rerunning
the same command with --overwrite completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import write_image


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory):
    src = tmp_path_factory.mktemp("crash") / "src"
    for i in range(300):
        write_image(src / f"class{i % 3}" / f"{i:03d}.png", fmt="PNG", size=(64, 64), color=(i % 256, 0, 0))
    return src


def _start(src, out, *flags):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen([sys.executable, "-m", "prep.cli.main", "images", str(src), str(out), "--workers", "1",
                             "--num-shards", "4", *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)


@pytest.mark.parametrize("kill_after", [0.5, 2.0, 3.5, 5.0])
def test_a_killed_run_never_looks_finished_and_a_rerun_completes_it(big_folder, tmp_path, prep_cli, kill_after):
    out = tmp_path / "out"
    job = _start(big_folder, out)
    time.sleep(kill_after)
    os.killpg(job.pid, signal.SIGKILL)  # the whole process group: runner and any workers
    job.wait()
    if (out / "schema.json").exists():
        # the kill came after the commit: then the dataset must be whole
        assert prep_cli("verify", out).exit_code == 0
    else:
        result = prep_cli("verify", out)
        assert result.exit_code == 2
        assert "did not finish" in result.err or "no such dataset directory" in result.err
        assert prep_cli("inspect", out).exit_code == 2
    finished = prep_cli("images", big_folder, out, "--workers", "1", "--num-shards", "4", "--overwrite")
    assert finished.exit_code == 0, finished.err
    verified = prep_cli("verify", out)
    assert verified.exit_code == 0 and "verified 300 records in 4 shards" in verified.out
    assert not list(out.rglob("*.tmp*")), "no temporary file survives a finished run"
