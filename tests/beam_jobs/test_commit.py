"""beam_jobs.commit: of two jobs writing one OUT, one commits and the other fails saying so, and nothing
the loser wrote is left where a reader or `prep verify` would take it for part of the dataset.

On gs:// nothing holds OUT for a job's life (prep.jobs.hold is local), so the commit decides; the
in-memory filesystem writes on generation preconditions as GCS does, so it stands in for a bucket."""

from __future__ import annotations

import json

import pytest

from beam_jobs.commit import commit
from beam_jobs.images import ConvertImageFolder
from prep.images.options import ImageJobOptions
from prep.jobs.launch import JobFailed, run_pipeline
from prep.jobs.options import ShardingOptions
from prep.jobs.outdir import CLAIM_FILE, OutputTakenError
from prep.jobs.runner import RunnerOptions
from schemas import dumps
from tests.conftest import image_bytes
from tests.memfs import MEM_SCHEME, MemFileSystem
from tests.schemas.test_schemas import image_schema, text_schema

ROOT = f"{MEM_SCHEME}://bucket"
OUT = f"{ROOT}/out"


@pytest.fixture
def bucket():
    MemFileSystem.files.clear()
    yield MemFileSystem.files
    MemFileSystem.files.clear()


def _in_out(files: dict) -> dict[str, bytes]:
    return {path[len(OUT) + 1:]: data for path, data in files.items() if path.startswith(OUT + "/")}


def _images(files: dict, src: str, count: int, color: int) -> None:
    for i in range(count):
        files[f"{ROOT}/{src}/{'cat' if i % 2 else 'dog'}/{i}.jpg"] = image_bytes(size=(20 + i, 12), color=(color, 0, 0))


def _run_image_job(src: str) -> None:
    """The Beam job of `prep images` from the memory bucket's `src` to OUT (as the CLI runs it, after
    prepare_output found OUT empty: both jobs here started before either committed)."""
    options = ImageJobOptions(src=f"{ROOT}/{src}", out=OUT, sharding=ShardingOptions(num_shards=2))
    run_pipeline(lambda p: p | "ConvertImageFolder" >> ConvertImageFolder(options), RunnerOptions(workers=1))


def test_of_two_jobs_on_one_bucket_out_the_first_to_commit_wins_and_the_other_fails_leaving_nothing(
        bucket, prep_cli):
    _images(bucket, "six", 6, 200)
    _images(bucket, "three", 3, 40)
    _run_image_job("three")  # the small job, started second, commits first (as in the issue)
    winner = _in_out(bucket)
    assert {"schema.json", "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"} <= set(winner)

    with pytest.raises(JobFailed) as failed:
        _run_image_job("six")  # its shards have the winner's names: train-0000N-of-00002
    message = str(failed.value)
    assert "\n" not in message
    assert f"another job committed a dataset to {OUT} while this one ran" in message
    assert "records were not written there" in message

    assert _in_out(bucket) == winner, "the loser replaced nothing, and left no staged shard or claim behind"
    verified = prep_cli("verify", OUT)
    assert verified.exit_code == 0 and "verified 3 records in 2 shards" in verified.out


def test_a_job_that_finds_another_mid_commit_fails_and_deletes_its_staged_shards(bucket):
    _images(bucket, "six", 6, 200)
    claim = json.dumps({"job": "another-job"}).encode()
    bucket[f"{OUT}/{CLAIM_FILE}"] = claim  # the other job is moving its files into OUT right now

    with pytest.raises(JobFailed, match=f"{OUT} is being committed by another job"):
        _run_image_job("six")
    assert _in_out(bucket) == {CLAIM_FILE: claim}


def test_a_commit_interleaved_with_another_is_refused_without_publishing(bucket):
    published, lost = [], []

    def publish_a():
        published.append("a")
        with pytest.raises(OutputTakenError, match="is being committed by another job"):
            commit(OUT, "job-b", text_schema(), lambda: published.append("b"), on_lost=lambda: lost.append("b"))

    commit(OUT, "job-a", image_schema(), publish_a)
    assert published == ["a"] and lost == ["b"]
    assert _in_out(bucket) == {"schema.json": dumps(image_schema()).encode()}, "the claim goes once a commit ends"

    with pytest.raises(OutputTakenError, match="another job committed a dataset"):
        commit(OUT, "job-b", text_schema(), lambda: published.append("b"), on_lost=lambda: lost.append("b"))
    assert published == ["a"] and lost == ["b", "b"]


def test_a_retried_commit_of_the_same_job_completes(bucket):
    runs = []
    commit(OUT, "job-a", image_schema(), lambda: runs.append(1))
    commit(OUT, "job-a", image_schema(), lambda: runs.append(2))  # a worker retried after it had committed
    assert runs == [1, 2] and _in_out(bucket) == {"schema.json": dumps(image_schema()).encode()}


def test_a_commit_replaces_only_the_schema_the_job_saw(bucket):
    from schemas.guarded_write import observe

    commit(OUT, "old", image_schema(), lambda: None)
    seen = observe(f"{OUT}/schema.json")  # a job run with --overwrite (prep schema infer) saw this one
    commit(OUT, "new", text_schema(), lambda: None, expect=seen)
    with pytest.raises(OutputTakenError, match="another job committed a dataset"):
        commit(OUT, "late", image_schema(), lambda: None, expect=seen)  # it saw the old one too
    assert _in_out(bucket) == {"schema.json": dumps(text_schema()).encode()}
