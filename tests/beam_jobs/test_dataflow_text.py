"""`prep text` and `prep vocab` built for Dataflow offline, with gs:// paths, under Beam's dry run: the whole
job description, the toolkit's package staged, runner options passed through, and the bucket never
touched by the launching machine (every gs:// filesystem call in this process is refused and recorded)."""

from __future__ import annotations

import tarfile

import pytest

from beam_jobs.text import ConvertCorpus
from beam_jobs.vocab import LearnVocabulary
from prep.core.splits import parse_split_fractions
from prep.jobs.launch import run_pipeline
from prep.jobs.options import ShardingOptions
from prep.jobs.runner import RunnerOptions
from prep.text.inputs import resolve_inputs
from prep.text.options import TextJobOptions, VocabJobOptions
from prep.text.preflight import is_directory
from schemas import TextSettings
from tests.conftest import DATAFLOW, DATAFLOW_FLAGS

BEAM_ARGS = ("--max_num_workers=7", "--machine_type=n2-highcpu-8")
# What a gs:// filesystem does with the bucket; join and split only work on the path's text.
_GCS_CALLS = ("match", "_list", "open", "create", "exists", "size", "last_updated", "checksum", "metadata",
              "delete", "copy", "rename", "mkdirs")


@pytest.fixture
def gcs_on_client(monkeypatch) -> list[tuple]:
    """The gs:// filesystem calls this process makes (each refused with an OSError, as an unreachable
    bucket would): a launcher that lists or reads the corpus shows up here."""
    from apache_beam.io.gcp.gcsfilesystem import GCSFileSystem

    calls = []

    def refused(name):
        def call(self, *args, **kwargs):
            calls.append((name, *args))
            raise OSError(f"the launcher touched the bucket: {name}{args}")
        return call

    for name in _GCS_CALLS:
        monkeypatch.setattr(GCSFileSystem, name, refused(name))
    return calls


def _inputs(src: str, **fields):
    return resolve_inputs(src, "auto", fields.get("text_field"), fields.get("label_field"), False, is_directory(src))


def _dry_run(name: str, transform):
    """The Dataflow job description Beam's dry run builds for `transform`: (step names, options, staged files)."""
    runner = RunnerOptions(**DATAFLOW, dry_run=True, beam_args=BEAM_ARGS)
    job = run_pipeline(lambda pipeline: pipeline | name >> transform, runner).job
    steps = {t.unique_name for t in job.proto_pipeline.components.transforms.values()}
    return steps, job.options.get_all_options(), _staged(job)


def _staged(job) -> dict[str, str]:
    """The files the job stages for its workers: {name on the workers: local path}."""
    from apache_beam.portability.api import beam_runner_api_pb2 as api

    (environment,) = job.proto_pipeline.components.environments.values()
    return {api.ArtifactStagingToRolePayload.FromString(d.role_payload).staged_name:
            api.ArtifactFilePayload.FromString(d.type_payload).path for d in environment.dependencies}


def _assert_shipped_to_dataflow(options: dict, staged: dict[str, str]) -> None:
    """Runner options passed through, and the toolkit's package (from prep.jobs.packaging) staged as the sdist
    Beam installs on every worker."""
    assert options["runner"] == "DataflowRunner" and options["project"] == "my-proj-123"
    assert options["region"] == "us-central1" and options["temp_location"].startswith("gs://my-bucket/tmp")
    assert options["max_num_workers"] == 7 and options["machine_type"] == "n2-highcpu-8"
    assert options["setup_file"].endswith("setup.py")
    with tarfile.open(staged["workflow.tar.gz"]) as sdist:
        shipped = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"prep/cli/text.py", "prep/text/tokenizer.py", "prep/text/inputs.py", "beam_jobs/text.py", "beam_jobs/vocab.py",
            "schemas/dataset_schema.json", "setup.py"} <= shipped


def test_the_text_job_is_built_for_dataflow_offline_without_reading_the_bucket(gcs_on_client):
    options = TextJobOptions(inputs=_inputs("gs://my-bucket/corpus"), out="gs://my-bucket/out",
                             sharding=ShardingOptions(num_shards=64),
                             split_fractions=parse_split_fractions("train=0.9,test=0.1"))
    steps, beam_options, staged = _dry_run("ConvertCorpus", ConvertCorpus(options))
    for step in ("MatchFiles", "Ranges/ByteRanges", "Layout/DetectLayout", "Survey/Read", "Survey/Merge",
                 "ChooseVocabulary/MergeByBucket", "ChooseVocabulary/Choose", "Labels", "Encode",
                 "WriteShards/GroupByShard", "WriteShards/WriteShard", "FindDuplicates", "Summarize",
                 "InputStates", "Commit/WriteSchemaLast"):
        assert f"ConvertCorpus/{step}" in steps, step
    assert "ConvertCorpus/Ranges/Spread" in steps, "a Reshuffle spreads the byte ranges over the workers"
    assert "ConvertCorpus/SpreadFiles" in steps, "... and the input files, whose digests an update compares"
    _assert_shipped_to_dataflow(beam_options, staged)
    assert gcs_on_client == []


def test_a_given_vocabulary_in_the_bucket_is_read_inside_the_job(gcs_on_client):
    options = TextJobOptions(inputs=_inputs("gs://my-bucket/corpus/*.jsonl", label_field="topic"),
                             out="gs://my-bucket/out", vocab_file="gs://my-bucket/vocab.txt")
    steps, _, _ = _dry_run("ConvertCorpus", ConvertCorpus(options))
    assert {"ConvertCorpus/VocabularyFile", "ConvertCorpus/ReadVocabulary", "ConvertCorpus/Commit"} <= steps
    assert not any(s.startswith("ConvertCorpus/ChooseVocabulary") for s in steps)
    assert gcs_on_client == []


def test_the_vocab_job_is_built_for_dataflow_offline_without_reading_the_bucket(gcs_on_client):
    options = VocabJobOptions(inputs=_inputs("gs://my-bucket/corpus/part-*.txt"), out="gs://my-bucket/vocab.txt",
                              text=TextSettings(max_tokens=20000))
    steps, beam_options, staged = _dry_run("LearnVocabulary", LearnVocabulary(options))
    for step in ("MatchFiles/Match", "MatchFiles/ByteRanges", "MatchFiles/Spread", "Layout", "Survey/Read",
                 "Survey/Merge", "ChooseVocabulary/MergeByBucket", "ChooseVocabulary/Candidates",
                 "ChooseVocabulary/Choose", "WriteFiles"):
        assert f"LearnVocabulary/{step}" in steps, step
    _assert_shipped_to_dataflow(beam_options, staged)
    assert gcs_on_client == []


@pytest.mark.parametrize("args, last_step", [
    (["text", "gs://my-bucket/corpus", "gs://my-bucket/out", "--num-shards", "64"], "ConvertCorpus/Commit"),
    (["text", "gs://my-bucket/corpus/*.jsonl", "gs://my-bucket/out", "--label-field", "topic",
      "--split", "train=0.9,test=0.1", "--tfds"], "ConvertCorpus/Commit"),
    (["vocab", "gs://my-bucket/corpus/part-*.txt", "gs://my-bucket/vocab.txt", "--max-tokens", "20000"],
     "LearnVocabulary/WriteFiles"),
])
def test_the_commands_dry_run_on_dataflow_without_touching_the_bucket(prep_cli, gcs_on_client, args, last_step):
    # The command's own checks of SRC and OUT (prep/cli/text.py, prep/text/preflight.py) run too.
    result = prep_cli(*args, *DATAFLOW_FLAGS, "--dry-run", "--", *BEAM_ARGS)
    assert result.exit_code == 0, result.err
    assert "on Dataflow (dry run: nothing is submitted)" in result.err
    assert "dry run: nothing ran, nothing was written" in result.out
    assert f"  {last_step}\n" in result.out
    assert gcs_on_client == []
