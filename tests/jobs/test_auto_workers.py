"""prep.jobs.auto_workers: a small local input runs in this process when --workers is not given."""

from __future__ import annotations

import pytest

from prep.jobs.auto_workers import for_input, local_bytes
from prep.jobs.runner import RunnerOptions


@pytest.fixture
def corpus(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_bytes(b"x" * 1000)
    (tmp_path / "y.jsonl").write_bytes(b"y" * 500)
    return tmp_path


def test_local_bytes_counts_the_matched_files(corpus):
    assert local_bytes(f"{corpus}/**", 10_000) == 1500
    assert local_bytes(f"{corpus}/*.jsonl", 10_000) == 500
    assert local_bytes(f"{corpus}/**", 100) > 100  # stops once past the limit
    assert local_bytes("gs://bucket/corpus/*.jsonl", 10_000) is None


@pytest.mark.parametrize("runner, limit, expected_workers", [
    (RunnerOptions(workers=None), 10_000, 1),
    (RunnerOptions(workers=None), 1_000, None),                        # too large
    (RunnerOptions(workers=2), 10_000, 2),                             # the user's choice stands
    (RunnerOptions(workers=None, dry_run=True), 10_000, None),
    (RunnerOptions(workers=None, beam_args=("--runner=DirectRunner",)), 10_000, None),
])
def test_a_small_input_gets_one_worker_unless_told_otherwise(corpus, runner, limit, expected_workers, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    chosen = for_input(runner, f"{corpus}/**", limit)
    assert chosen.workers == expected_workers
    assert chosen.small_input == (expected_workers == 1 and runner.workers is None)
    if chosen.small_input:
        assert "in this process" in chosen.description


def test_the_job_says_it_runs_a_small_input_in_process(corpus, tmp_path, prep_cli):
    (corpus / "y.jsonl").write_text('{"text": "a b c"}\n{"text": "b c"}\n')
    result = prep_cli("text", corpus / "y.jsonl", tmp_path / "out")
    assert result.exit_code == 0, result.err
    assert "in this process" in result.err and "wrote 2 records" in result.out
