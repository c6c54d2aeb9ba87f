"""Every file the launching machine reads before a job (a manifest's first row, the annotation file of
--coco, --voc, --boxes, --labels, --vocab), on gs:// from a machine that cannot read it: one line that
names the flag, the file and the cause, exit code 2, no traceback, and no retry."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from tests.beam_jobs.test_dataflow_text import gcs_on_client  # noqa: F401 (a fixture)
from tests.conftest import DATAFLOW_FLAGS
from tests.fake_gcs import fake_gcs  # noqa: F401 (a fixture)

BUCKET = "gs://prep-test-no-such-bucket"
READS = {  # the command ({file}: the file it reads on the launching machine), the flag naming it, and the file
    "manifest": (["images", "--manifest", "{file}", "{bucket}/images"], "--manifest", "labels.csv"),
    "manifest_jsonl": (["images", "--manifest", "{file}", "{bucket}/images"], "--manifest", "tags.jsonl.gz"),
    "coco": (["images", "--coco", "{file}", "{bucket}/images"], "--coco", "instances.json"),
    "voc": (["images", "--voc", "{bucket}/VOC2012"], "--voc-split", "VOC2012/ImageSets/Main/trainval.txt"),
    "boxes": (["images", "--boxes", "{file}", "{bucket}/images"], "--boxes", "boxes.csv"),
    "images_labels": (["images", "{bucket}/images", "--labels", "{file}"], "--labels", "labels.txt"),
    "text_labels": (["text", "{bucket}/corpus", "--labels", "{file}"], "--labels", "labels.txt"),
    "text_vocab": (["text", "{bucket}/corpus", "--vocab", "{file}"], "--vocab", "vocab.txt"),
}


ANNOTATIONS = ("coco", "voc", "boxes")  # checked before a real run; a dry run builds the job without them


def _launch(prep_cli, read: str):
    """The command of `read`, as a Dataflow dry run into the bucket (building the job needs no more), or
    for an annotation file, which only a real run checks, as a Dataflow run that the check stops."""
    args, flag, name = READS[read]
    path = f"{BUCKET}/{name}"
    command = [a.format(file=path, bucket=BUCKET) for a in args]
    result = prep_cli(*command, f"{BUCKET}/out", *DATAFLOW_FLAGS, *([] if read in ANNOTATIONS else ["--dry-run"]))
    return result, flag, path


@pytest.mark.parametrize("read", ANNOTATIONS)
def test_a_dry_run_builds_an_annotation_job_offline_without_reading_its_file(prep_cli, read):
    args, _, name = READS[read]
    command = [a.format(file=f"{BUCKET}/{name}", bucket=BUCKET) for a in args]
    result = prep_cli(*command, f"{BUCKET}/out", *DATAFLOW_FLAGS, "--dry-run")
    assert result.exit_code == 0, result.err
    assert "dry run: nothing ran, nothing was written" in result.out


def _one_line(result, flag: str, path: str) -> str:
    assert result.exit_code == 2, result.err
    assert result.out == "" and "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert f"Invalid value for {flag}: {path}: cannot read it (" in lines[0]
    return lines[0]


@pytest.mark.parametrize("read", READS)
def test_a_file_this_machine_cannot_read_offline_is_one_line(prep_cli, read):
    """This machine, as it is: no network and no Google Cloud credentials (elsewhere: a bucket that does not exist)."""
    result, flag, path = _launch(prep_cli, read)
    assert "cannot read it (" in _one_line(result, flag, path)


@pytest.mark.parametrize("read", READS)
def test_each_launcher_read_is_one_request_never_beams_retries(prep_cli, fake_gcs, gcs_on_client, read):  # noqa: F811
    """Cloud Storage answers 503, which Beam's client retries for two minutes: the launcher asks once,
    with the storage client itself (Beam's gs:// filesystem is never called on this machine)."""
    result, flag, path = _launch(prep_cli, read)
    line = _one_line(result, flag, path)
    assert "503" in line
    bucket, name = path[len("gs://"):].split("/", 1)
    assert [unquote(r.split("?")[0]) for r in fake_gcs.downloads()] == [f"/download/storage/v1/b/{bucket}/o/{name}"]
    assert gcs_on_client == []


@pytest.mark.parametrize("command, listed, prefix", [
    # a real Dataflow run checks OUT from the launching machine first
    (["images", f"{BUCKET}/images", f"{BUCKET}/out", *DATAFLOW_FLAGS], f"{BUCKET}/out", "out%2F"),
    # prep schema infer samples its files there: the part of the glob before its wildcard is asked for
    (["schema", "infer", f"{BUCKET}/old/*.tfrecord"], f"{BUCKET}/old/*.tfrecord", "old%2F"),
], ids=["out", "schema_infer_glob"])
def test_a_bucket_this_machine_cannot_list_is_one_line_at_once(prep_cli, fake_gcs, gcs_on_client,  # noqa: F811
                                                               command, listed, prefix):
    """Cloud Storage answers 503: the launcher says so in one line after one listing request, never through
    Beam's client (two minutes of retries)."""
    result = prep_cli(*command)
    assert result.exit_code == 2 and "Traceback" not in result.err
    (line,) = result.err.strip().splitlines()
    assert f"{listed}: cannot list it (" in line and "503" in line
    listings = [r for r in fake_gcs.requests if r.split("?")[0].endswith("/o")]
    assert len(listings) == 1 and f"prefix={prefix}" in listings[0]
    assert gcs_on_client == []


def test_a_vocabulary_out_this_machine_cannot_look_up_is_one_line_at_once(prep_cli, fake_gcs, gcs_on_client,  # noqa: F811
                                                                          tmp_path):
    (tmp_path / "c.txt").write_text("a b c\n")
    result = prep_cli("vocab", tmp_path / "c.txt", f"{BUCKET}/vocab.txt", *DATAFLOW_FLAGS)
    assert result.exit_code == 2 and "Traceback" not in result.err
    (line,) = result.err.strip().splitlines()
    assert f"{BUCKET}/vocab.txt: cannot look it up (" in line and "503" in line
    assert gcs_on_client == []
