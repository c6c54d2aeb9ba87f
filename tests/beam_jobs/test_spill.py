"""Local runs shuffle through spill files under OUT (beam_jobs.batching), so that Beam's local runner
does not hold every record in memory: the same dataset as through Beam's own shuffle (what Dataflow
uses), and nothing left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from beam_jobs import commit
from beam_jobs.images import ConvertImageFolder
from beam_jobs.text import ConvertCorpus
from prep.images.options import ImageJobOptions
from prep.jobs.launch import run_pipeline
from prep.jobs.options import ShardingOptions
from prep.jobs.outdir import SPILL_DIR
from prep.jobs.runner import RunnerOptions
from prep.text.inputs import resolve_inputs
from prep.text.options import TextJobOptions

SMALL_SHARDS = ShardingOptions(shard_size=3000)  # shards by size: the records wait for the shard counts


def _dataset(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and p.name != "schema.json"}


def _spilled_files(monkeypatch) -> list[int]:
    """Records how many spill files each commit found before deleting them."""
    seen, delete = [], commit.delete_spilled

    def counting(folder):
        seen.append(len(os.listdir(folder)) if folder and os.path.isdir(folder) else 0)
        delete(folder)

    monkeypatch.setattr(commit, "delete_spilled", counting)
    return seen


def _run(job, workers: int = 1) -> None:
    run_pipeline(job, RunnerOptions(workers=workers))


@pytest.mark.parametrize("workers", [1, 2])
def test_image_job_spilled_or_not_writes_the_same_dataset(image_folder, tmp_path, monkeypatch, workers):
    (image_folder / "dog" / "copy.png").write_bytes((image_folder / "dog" / "dog0.png").read_bytes())
    seen = _spilled_files(monkeypatch)
    outs = {}
    for spill in (False, True):
        options = ImageJobOptions(src=str(image_folder), out=str(tmp_path / f"spill-{spill}"), sharding=SMALL_SHARDS,
                                  dedupe=True, spill_shuffles=spill)
        _run(lambda p: p | "ConvertImageFolder" >> ConvertImageFolder(options), workers)
        outs[spill] = tmp_path / f"spill-{spill}"
    spilled, through_beam = _dataset(outs[True]), _dataset(outs[False])
    assert len([n for n in spilled if n.endswith(".tfrecord")]) > 1 and spilled == through_beam
    assert b"duplicate" in spilled["rejected.jsonl"], "--dedupe dropped the copy in both"
    assert not (outs[True] / SPILL_DIR).exists(), "the commit deletes the spill files"
    if workers == 1:  # the commit ran in this process: it saw the files
        assert seen[0] == 0 and seen[1] > 0


def test_text_job_spilled_or_not_writes_the_same_dataset(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus.txt"
    lines = [f"document {i} says {'hello world ' * (i % 5)}" for i in range(60)] + ["Document 3 says"] * 3
    corpus.write_text("\n".join(lines) + "\n")
    inputs = resolve_inputs(str(corpus), "auto", None, None, False, False)
    seen = _spilled_files(monkeypatch)
    outs = {}
    for spill in (False, True):
        options = TextJobOptions(inputs=inputs, out=str(tmp_path / f"spill-{spill}"), sharding=SMALL_SHARDS,
                                 dedupe=True, spill_shuffles=spill)
        _run(lambda p: p | "ConvertCorpus" >> ConvertCorpus(options))
        outs[spill] = tmp_path / f"spill-{spill}"
    spilled, through_beam = _dataset(outs[True]), _dataset(outs[False])
    assert len([n for n in spilled if n.endswith(".tfrecord")]) > 1 and spilled == through_beam
    assert spilled["rejected.jsonl"].count(b"\"reason\": \"duplicate\"") == 2  # two of the three copies
    assert not (outs[True] / SPILL_DIR).exists()
    assert seen == [0, seen[1]] and seen[1] > 0


def test_only_local_runs_spill():
    assert RunnerOptions().is_local and RunnerOptions(beam_args=("--runner=DirectRunner",)).is_local
    assert not RunnerOptions(runner="dataflow").is_local
    assert not RunnerOptions(beam_args=("--runner=DataflowRunner",)).is_local
    assert not RunnerOptions(beam_args=("--runner=FlinkRunner",)).is_local  # its workers may not share OUT


def test_spill_files_a_failed_run_left_are_replaced_on_overwrite(image_folder, tmp_path, prep_cli):
    out = tmp_path / "out"
    (out / SPILL_DIR).mkdir(parents=True)
    (out / SPILL_DIR / "0123abcd.batches").write_bytes(b"left by a run that failed")
    refused = prep_cli("images", image_folder, out, "--workers", "1")
    assert refused.exit_code == 2 and "--overwrite" in refused.err
    assert prep_cli("images", image_folder, out, "--workers", "1", "--overwrite").exit_code == 0
    assert (out / "schema.json").exists() and not (out / SPILL_DIR).exists()
