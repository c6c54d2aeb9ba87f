"""prep.jobs.hold: a job holds OUT for its whole life, so a second job on the same OUT fails at once
naming the first, and a hold left by a killed job never blocks a rerun. Proven with real `prep`
processes; synchronised on the lock file (which job holds OUT), never on time."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from prep.jobs.hold import OutputHeldError, hold_file, hold_output
from prep.jobs.outdir import LOCK_FILE, prepare_output
from tests.conftest import write_image


def _folder(root, count: int):
    for i in range(count):
        write_image(root / ("cat" if i % 2 else "dog") / f"{i}.png", fmt="PNG", size=(24 + i, 16), color=(9 * i, 0, 0))
    return root


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("hold")
    return _folder(base / "eight", 8), _folder(base / "five", 5)


def _start(src, out):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen([sys.executable, "-m", "prep.cli.main", "images", str(src), str(out), "--workers", "1",
                             "--num-shards", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)


def _holder(out, jobs: dict) -> int:
    """The pid of the job among `jobs` ({pid: Popen}) that holds `out`, once its lock file says so."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            pid = json.loads((out / LOCK_FILE).read_text())["pid"]
        except (OSError, ValueError, KeyError):
            pid = None
        if pid in jobs:
            return pid
        finished = [p for p in jobs.values() if p.poll() is not None]
        if finished:
            pytest.fail(f"a job ended before any held {out}: {finished[0].communicate()[1].decode()[-2000:]}")
        time.sleep(0.005)  # polling the lock file: the state waited for, not a guess at how long it takes
    pytest.fail(f"no job held {out}")


def test_two_jobs_started_together_on_one_out_the_second_is_refused_at_once_and_the_first_commits(
        folders, tmp_path, prep_cli):
    out = tmp_path / "out"
    jobs = {job.pid: job for job in (_start(folders[0], out), _start(folders[1], out))}
    holder = _holder(out, jobs)
    os.killpg(holder, signal.SIGSTOP)  # the holder stays mid-job, holding OUT, while the other one tries
    try:
        (other,) = [job for pid, job in jobs.items() if pid != holder]
        _, err = other.communicate(timeout=300)  # "at once": it does not wait for the holder
    finally:
        os.killpg(holder, signal.SIGCONT)
    error = err.decode().strip().splitlines()[-1]
    assert other.returncode == 2, err.decode()
    assert error.startswith("prep images: error: ") and f"{out} is held by another prep job: prep images " in error
    assert f"(pid {holder} on {socket.gethostname()}, started " in error
    assert "a killed job's hold ends with its process" in error and f"ps -p {holder}" in error

    _, err = jobs[holder].communicate(timeout=600)
    assert jobs[holder].returncode == 0, err.decode()
    records = 8 if jobs[holder].args[4] == str(folders[0]) else 5
    verified = prep_cli("verify", out)
    assert verified.exit_code == 0 and f"verified {records} records in 2 shards" in verified.out
    assert not (out / LOCK_FILE).exists(), "a job lets OUT go when it ends"


def test_a_hold_left_by_a_killed_job_does_not_block_a_rerun(folders, tmp_path, prep_cli):
    out = tmp_path / "out"
    job = _start(folders[1], out)
    pid = _holder(out, {job.pid: job})
    os.killpg(pid, signal.SIGKILL)
    job.wait()
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == pid, "the killed job's lock file stays behind"

    rerun = prep_cli("images", folders[1], out, "--workers", "1", "--num-shards", "2", "--overwrite")
    assert rerun.exit_code == 0, rerun.err
    verified = prep_cli("verify", out)
    assert verified.exit_code == 0 and "verified 5 records in 2 shards" in verified.out
    assert not (out / LOCK_FILE).exists()


# --- every command that writes into OUT holds it -------------------------------------------------------


@pytest.fixture
def corpus(tmp_path):
    for label, texts in {"pos": ["a good film", "great fun"], "neg": ["a bad film", "dull"]}.items():
        (tmp_path / "corpus" / label).mkdir(parents=True)
        for i, text in enumerate(texts):
            (tmp_path / "corpus" / label / f"{i}.txt").write_text(text)
    return tmp_path / "corpus"


@pytest.mark.parametrize("command", ["images", "text", "vocab", "verify --write-indexes", "schema infer"])
def test_every_command_that_writes_into_out_is_refused_while_another_job_holds_it(
        command, folders, corpus, dataset_copy, tmp_path, prep_cli):
    out = tmp_path / "out"
    hold, args = {
        "images": (hold_output(str(out), "prep images x"), ["images", folders[1], out, "--workers", "1"]),
        "text": (hold_output(str(out), "prep images x"), ["text", corpus, out, "--workers", "1"]),
        "vocab": (hold_file(str(out / "vocab.txt"), "prep images x"), ["vocab", corpus, out / "vocab.txt", "--workers", "1"]),
        "verify --write-indexes": (hold_output(str(dataset_copy), "prep images x"),
                                   ["verify", dataset_copy, "--write-indexes"]),
        "schema infer": (hold_output(str(dataset_copy), "prep images x"),
                         ["schema", "infer", dataset_copy, "--overwrite"]),
    }[command]
    with hold:
        before = sorted(tmp_path.rglob("*"))
        result = prep_cli(*args)
        assert sorted(tmp_path.rglob("*")) == before, "the refused command wrote nothing"
    assert result.exit_code == 2, result.err
    assert f"is held by another prep job: prep images x (pid {os.getpid()} on {socket.gethostname()}" in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert not out.exists(), "the holder made OUT, and leaves no empty folder behind"


# --- the lock file itself -------------------------------------------------------------------------------


def test_a_stale_lock_file_is_taken_over_and_is_never_part_of_the_dataset(dataset_copy, prep_cli):
    stale = {"pid": 999999999, "host": socket.gethostname(), "command": "prep images killed", "started": "then"}
    (dataset_copy / LOCK_FILE).write_text(json.dumps(stale) + "\n")  # its job was killed: no process holds it
    assert prep_cli("verify", dataset_copy).exit_code == 0
    assert prep_cli("inspect", dataset_copy).exit_code == 0
    with hold_output(str(dataset_copy), "prep images again"):
        assert json.loads((dataset_copy / LOCK_FILE).read_text())["command"] == "prep images again"
        prepare_output(str(dataset_copy), overwrite=True)
        assert [p.name for p in dataset_copy.rglob("*") if p.is_file()] == [LOCK_FILE], \
            "--overwrite deletes prep's files, never the hold of the job that runs it"
        with pytest.raises(OutputHeldError, match="prep images again"):
            with hold_output(str(dataset_copy), "prep text"):
                pass
    assert not (dataset_copy / LOCK_FILE).exists()


def test_out_holding_only_a_stale_lock_file_counts_as_empty(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / LOCK_FILE).write_text("")
    with hold_output(str(tmp_path / "out"), "prep images"):
        prepare_output(str(tmp_path / "out"), overwrite=False)  # raises OutputExistsError if OUT counted as taken
        assert (tmp_path / "out" / LOCK_FILE).exists(), "the hold's own file was taken over, not deleted"


def test_a_remote_out_is_not_held_here(tmp_path):
    entered = False
    with hold_output("gs://my-bucket/out", "prep images"), hold_output("gs://my-bucket/out", "prep images"):
        entered = True  # the second job is not refused: the commit decides there (tests/beam_jobs/test_commit.py)
    assert entered and not any(tmp_path.iterdir())
