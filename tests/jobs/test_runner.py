"""Runners: the same job built for Dataflow offline (Beam's dry run), shipped with the toolkit's own
package, and run on a non-local Beam filesystem to prove no code path needs local files."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from beam_jobs.images import ConvertImageFolder
from prep.images.options import ImageJobOptions
from prep.jobs.launch import run_pipeline
from prep.jobs.options import ShardingOptions
from prep.jobs.packaging import WORKER_REQUIREMENTS, worker_package
from prep.jobs.runner import BeamFlagError, RunnerOptions, pipeline_options
from tests.conftest import DATAFLOW, image_bytes
from tests.memfs import MEM_SCHEME, MemFileSystem


def _image_job(src: str, out: str):
    options = ImageJobOptions(src=src, out=out, sharding=ShardingOptions(num_shards=4))
    return lambda pipeline: pipeline | "ConvertImageFolder" >> ConvertImageFolder(options)


def test_dataflow_dry_run_builds_the_whole_job_offline_without_listing_inputs():
    # No credentials and no network: had anything listed or read gs://my-bucket on this machine, it would fail.
    runner = RunnerOptions(**DATAFLOW, dry_run=True, beam_args=("--max_num_workers=7", "--machine_type=n2-highcpu-8"))
    launched = run_pipeline(_image_job("gs://my-bucket/raw", "gs://my-bucket/out"), runner)
    names = {t.unique_name for t in launched.job.proto_pipeline.components.transforms.values()}
    for step in ("MatchFiles", "Convert", "WriteShards", "WriteShards/GroupByShard", "WriteShards/WriteShard",
                 "FindDuplicates", "Summarize", "Commit"):
        assert f"ConvertImageFolder/{step}" in names
    assert "ConvertImageFolder/MatchFiles/Spread" in names, "a Reshuffle spreads reads over the workers"
    options = launched.job.options.get_all_options()
    assert options["runner"] == "DataflowRunner" and options["project"] == "my-proj-123"
    assert options["region"] == "us-central1" and options["temp_location"].startswith("gs://my-bucket/tmp")
    assert options["max_num_workers"] == 7 and options["machine_type"] == "n2-highcpu-8"
    setup = Path(options["setup_file"])
    for module in ("prep/images/imaging.py", "beam_jobs/images.py", "schemas/dataset_schema.json", "readers/__init__.py"):
        assert (setup.parent / module).is_file(), module


def test_user_shipping_flags_replace_the_toolkit_package():
    runner = RunnerOptions(**DATAFLOW, dry_run=True, beam_args=("--setup_file=/somewhere/setup.py",))
    assert pipeline_options(runner).get_all_options()["setup_file"] == "/somewhere/setup.py"


@pytest.mark.parametrize("missing", ["project", "region", "temp_location"])
def test_dataflow_without_its_settings_is_a_clear_error(missing):
    settings = dict(DATAFLOW, **{missing: None})
    with pytest.raises(BeamFlagError, match=f"Dataflow needs --{missing.replace('_', '-')}"):
        pipeline_options(RunnerOptions(**settings))


def test_beams_own_dataflow_flags_work_too():
    runner = RunnerOptions(beam_args=("--runner=DataflowRunner", "--project=my-proj-123", "--region=us-central1",
                                      "--temp_location=gs://my-bucket/tmp", "--dry_run=True"))
    assert runner.is_dataflow
    assert pipeline_options(runner).get_all_options()["setup_file"].endswith("setup.py")


def test_the_worker_package_builds_an_installable_sdist(tmp_path):
    setup = Path(worker_package(str(tmp_path / "pkg")))
    subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path / "dist")], cwd=setup.parent,
                   check=True, capture_output=True)
    (archive,) = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"prep/images/imaging.py", "beam_jobs/images.py", "schemas/model.py", "schemas/dataset_schema.json",
            "prep/text/unicode_updates.json"} <= names  # the package data workers read (WordPiece's tables)
    assert not any("__pycache__" in n for n in names)


def test_workers_require_what_pyproject_requires():
    """The worker package's requirements are pyproject.toml's, for every module workers import."""
    import tomllib

    declared = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(WORKER_REQUIREMENTS) <= set(declared)
    assert {r.split(">")[0].split("=")[0] for r in WORKER_REQUIREMENTS} >= {"regex", "sentencepiece", "pillow"}


def test_a_local_dry_run_builds_the_pipeline_and_writes_nothing(tmp_path, image_folder):
    launched = run_pipeline(_image_job(str(image_folder), str(tmp_path / "out")), RunnerOptions(dry_run=True))
    assert "ConvertImageFolder/Commit" in launched.steps
    assert not (tmp_path / "out").exists()


@pytest.fixture
def mem_folder():
    MemFileSystem.files.clear()
    root = f"{MEM_SCHEME}://bucket"
    for i in range(6):
        MemFileSystem.files[f"{root}/src/{'cat' if i % 2 else 'dog'}/{i}.jpg"] = image_bytes(size=(20 + i, 10))
    MemFileSystem.files[f"{root}/src/dog/broken.jpg"] = b"not an image"
    yield root
    MemFileSystem.files.clear()


def test_the_image_job_runs_on_a_non_local_filesystem(mem_folder, prep_cli):
    result = prep_cli("images", f"{mem_folder}/src", f"{mem_folder}/out", "--workers", "1", "--num-shards", "2")
    assert result.exit_code == 0, result.err
    written = {p[len(mem_folder) + 5:] for p in MemFileSystem.files if p.startswith(f"{mem_folder}/out/")}
    assert written == {"schema.json", "stats.json", "rejected.jsonl", "vocab/labels.txt",
                       "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord",
                       "index/train-00000-of-00002.tfrecord.idx", "index/train-00001-of-00002.tfrecord.idx",
                       "inventory/train-00000-of-00002.tfrecord.jsonl", "inventory/train-00001-of-00002.tfrecord.jsonl"}
    assert b"not_an_image" in MemFileSystem.files[f"{mem_folder}/out/rejected.jsonl"]
    verified = prep_cli("verify", f"{mem_folder}/out")
    assert verified.exit_code == 0 and "verified 6 records in 2 shards" in verified.out
    assert "cat" in prep_cli("inspect", f"{mem_folder}/out").out
