"""What the update tests of every job (images, text) check alike: shards shared between versions, and
an update that finds nothing to do."""

from __future__ import annotations

from pathlib import Path


def shard_files(out: Path, version: int | None = None) -> list[str]:
    """The shard files of a version of the dataset in `out` (None: the current one)."""
    from schemas.versions import load_version

    return [s.file for split in load_version(str(out), version).splits for s in split.shards]


def shard_bytes(out: Path) -> dict[str, bytes]:
    """The current version's shards, file by file, to compare after an update."""
    return {f: (out / f).read_bytes() for f in shard_files(out)}


def assert_all_shared(out: Path, before: dict[str, bytes], why: str) -> None:
    """Every shard of `before` (shard_bytes) is still in the current version, byte for byte."""
    shared = [f for f in shard_files(out) if f in before]
    assert len(shared) == len(before), why
    assert all((out / f).read_bytes() == before[f] for f in shared)


def assert_nothing_changed(result, out: Path, schema: bytes) -> None:
    """An update that found nothing to do said so and left the dataset as it was (`schema`: its
    schema.json before)."""
    assert result.exit_code == 0, result.err
    assert "nothing changed" in result.out
    assert (out / "schema.json").read_bytes() == schema
    assert not (out / "versions").exists() and not list(out.rglob("*.tmp*"))


def parsed_records(out: Path, version: int | None, name_of) -> dict[str, tuple[str, dict]]:
    """Every record of a version by its name (`name_of(features)`): (split, every feature as TensorFlow
    parses it), with the shard it sits in left out; a name twice fails."""
    import tensorflow as tf

    from prep.records.tfrecord_io import read_records
    from schemas.versions import load_version

    schema = load_version(str(out), version)
    found = {}
    for split in schema.splits:
        for shard in split.shards:
            for data in read_records(str(out / shard.file), schema.compression):
                features = tf.train.Example.FromString(data).features.feature
                values = {key: tuple(getattr(f, f.WhichOneof("kind")).value) for key, f in features.items()}
                name = name_of(values)
                assert name not in found, f"{name} is in the dataset twice"
                found[name] = (split.name, values)
    return found


def assert_first_of_two_updates_wins(job, both: list, out: str, files: dict, records: int) -> None:
    """Two updates made from one version (`both`, their options; `job(options)` the job's transform)
    run one after the other on one worker: the first commits version 2 with `records` records, the
    second fails in one line and leaves every file under `out` (in the in-memory `files`) as it was."""
    import pytest

    from prep.jobs.launch import JobFailed, run_pipeline
    from prep.jobs.runner import RunnerOptions
    from schemas import load_schema

    run = RunnerOptions(workers=1)
    run_pipeline(lambda p: p | "Update" >> job(both[0]), run)
    made = {path: data for path, data in files.items() if path.startswith(f"{out}/")}
    with pytest.raises(JobFailed, match="another job committed a dataset to"):
        run_pipeline(lambda p: p | "Update" >> job(both[1]), run)
    schema = load_schema(out)
    assert schema.version == 2 and schema.num_records == records
    assert {path: data for path, data in files.items() if path.startswith(f"{out}/")} == made
