"""The last step of every job: fill in empty shards, put the staged shards in place, write vocabularies
and stats, then schema.json.

schema.json is written last and through a temporary name: its presence means every shard, vocabulary
and stats file it names is in place (the commit mark of DESIGN.md).

The commit is also where one of two jobs writing the same OUT wins. A local job holds OUT for its whole
life (prep.jobs.hold), but nothing holds a gs:// OUT, so `commit` claims it first:
1. claim: create OUT/.prep-commit.json naming this job, only if there is none (a conditional write,
   schemas.guarded_write), so one job at a time moves files into OUT;
2. check that schema.json is as the job saw it when it started (for a new dataset: there is none, as
   prepare_output left it; one there now is another job's, committed first);
3. publish: give the staged shards and record indexes their own names (beam_jobs.sharded_write), write
   vocabularies, stats and rejected.jsonl;
4. write schema.json, again only if it is still as the job saw it;
5. delete the claim.
A job that loses at 1 or 2 deletes what it staged, moves nothing, and fails with OutputTakenError (one
line naming OUT), so nothing of it is left where a reader or `prep verify` would take it for part of the
dataset. A claim whose job died stays (OUT then has no schema.json: an unfinished run, which --overwrite
clears). Every step can be run again by a retry of the same job and does what is still to do.
"""

from __future__ import annotations

import json
import os
from typing import Callable

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam_jobs.batching import delete_spilled
from beam_jobs.sharded_write import new_staging, staged_name, write_shard
from prep.core.preflight import is_local
from prep.core.sharding import INDEX_DIR
from prep.core.versions import INVENTORY_DIR
from prep.jobs.options import ShardingOptions
from prep.jobs.outdir import CLAIM_FILE, OutputTakenError
from prep.jobs.progress import COMMIT_STARTED, COMMITTED, Progress
from prep.records import tfrecord_io
from schemas import SCHEMA_FILE, DatasetSchema, dumps, save_schema
from schemas.guarded_write import ChangedFileError, FileState, delete_if_unchanged, observe, write_if_unchanged
from schemas.versions import VERSIONS_DIR

# finalize(shard results, **side inputs) -> (schema, {relative path: file bytes}), or None when there is
# nothing to commit (an update that changed nothing); shard results are the dicts WriteShards outputs,
# with the empty shards added.
Finalize = Callable[..., tuple[DatasetSchema, dict[str, bytes]] | None]


write_file = tfrecord_io.write_file  # what the jobs write whole: vocabularies, stats, rejected.jsonl

_RERUN = "rerun it into another OUT, or with --overwrite to replace what is there once no other job writes it"


def commit(out: str, job: str, schema: DatasetSchema, publish: Callable[[], None], *,
           expect: FileState | None = None, on_lost: Callable[[], None] = lambda: None) -> None:
    """Makes `schema` the dataset in `out`, as the job named `job` (see the module's docstring): claims
    OUT, runs `publish()` to put every file but schema.json in place, writes schema.json, lets OUT go.

    `expect` is what the job saw of schema.json when it started (default: no such file). If another job
    claimed OUT or committed a dataset there since, `on_lost()` runs (it deletes what the job staged)
    and OutputTakenError says so; nothing is published."""
    schema_path = FileSystems.join(out, SCHEMA_FILE)
    expect = FileState(schema_path) if expect is None else expect
    data = dumps(schema).encode("utf-8")
    claim_path = FileSystems.join(out, CLAIM_FILE)
    try:
        claim = write_if_unchanged(claim_path, json.dumps({"job": job}).encode("utf-8"), FileState(claim_path))
    except ChangedFileError:
        on_lost()
        raise OutputTakenError(f"{out} is being committed by another job ({claim_path} names it), so this job's "
                               f"records were not written there; {_RERUN}") from None
    if observe(schema_path).version != expect.version and _read(schema_path) != data:
        _release(claim)
        on_lost()
        raise OutputTakenError(f"another job committed a dataset to {out} while this one ran, so this job's "
                               f"records were not written there; {_RERUN}")
    publish()
    save_schema(schema, out, expect=expect)
    _release(claim)


def _read(path: str) -> bytes | None:
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            return f.read()
    except Exception:  # noqa: BLE001 - gone, or unreadable: not this job's
        return None


def _release(claim: FileState) -> None:
    try:
        delete_if_unchanged(claim.path, claim)
    except ChangedFileError:
        pass  # deleted by a job run with --overwrite: nothing of ours to let go


def _staged_files(results: list[dict]) -> list[str]:
    """The files the shard results name (shards, record indexes, inventories, ids), relative to OUT; a
    shard an update shares with the version before it (marked "carried") has none to move."""
    return [name for r in results if not r.get("carried")
            for name in (r["file"], r.get("index_file"), r.get("inventory_file"), r.get("ids_file")) if name]


def _move_staged(out: str, staging: str, names: list[str]) -> None:
    """Gives each staged file its own name; one already moved (a retried commit) is left as it is."""
    sources, destinations = [], []
    for name in names:
        staged, final = FileSystems.join(out, staged_name(name, staging)), FileSystems.join(out, name)
        if FileSystems.exists(staged):
            sources.append(staged)
            destinations.append(final)
        elif not FileSystems.exists(final):
            raise OutputTakenError(f"{staged} is gone: something deleted this job's files in {out} while it ran "
                                   f"(another job run with --overwrite?); {_RERUN}")
    if sources:
        FileSystems.rename(sources, destinations)


def delete_staged(out: str, staging: str, folder: str = "") -> None:
    """Deletes every file the job with token `staging` left in `out` under a staged or temporary name
    (its shards in `folder`, a version's: prep.core.versions.version_folder)."""
    places = ["", INDEX_DIR + "/", INVENTORY_DIR + "/"]
    patterns = [FileSystems.join(out, f"{place}{f}*.tmp-{staging}*") for place in places for f in {"", folder}]
    paths = [m.path for result in FileSystems.match(patterns) for m in result.metadata_list]
    if paths:
        FileSystems.delete(sorted(set(paths)))


def remove_empty_folders(out: str, folder: str) -> None:
    """The folders of a version's shards (`folder`, and the same under index/ and inventory/) that an
    update which changed nothing leaves empty, removed (on a local disk: an object store has no folders)."""
    if not folder or not is_local(out):
        return
    for place in ("", INDEX_DIR + "/", INVENTORY_DIR + "/"):
        try:
            os.rmdir(os.path.join(out, place + folder))  # refuses a folder that holds anything
        except OSError:
            pass


class _CommitFn(beam.DoFn):
    def __init__(self, out: str, options: ShardingOptions, finalize: Finalize, spill_dir: str | None,
                 folder: str, expect: FileState | None, empty_shard: dict):
        self.out, self.options, self.finalize, self.spill_dir = out, options, finalize, spill_dir
        self.folder, self.expect, self.empty_shard = folder, expect, empty_shard
        self.staging = new_staging()  # for a job with no shard results (they would bring theirs)

    def setup(self):
        self.progress = Progress()

    def process(self, _, results, split_names, **side):
        self.progress.add(COMMIT_STARTED)
        results = list(results)
        staging = next((r["staging"] for r in results if r["staging"]), self.staging)
        for split in split_names:
            written = {r["index"]: r for r in results if r["split"] == split and not r.get("carried")}
            if not written and any(r["split"] == split for r in results):
                continue  # an update that wrote nothing new to a split keeps its shards
            num_shards = next(iter(written.values()))["num_shards"] if written else (self.options.num_shards or 1)
            for index in range(num_shards):
                if index not in written:
                    results.append(write_shard(self.out, [], self.options.compression, split=split, index=index,
                                               num_shards=num_shards, staging=staging, folder=self.folder,
                                               **self.empty_shard))
        finished = self.finalize(results, **side)
        if finished is None:  # an update that found nothing to change: the dataset stays as it is
            delete_staged(self.out, staging, self.folder)
            remove_empty_folders(self.out, self.folder)
            delete_spilled(self.spill_dir)
            self.progress.add(COMMITTED)
            return
        schema, files = finished

        def publish():
            _move_staged(self.out, staging, _staged_files(results))
            # a version's own files first (schemas.versions): the dataset's top-level ones then describe it
            for relative, data in sorted(files.items(), key=lambda item: (not item[0].startswith(VERSIONS_DIR + "/"), item[0])):
                write_file(FileSystems.join(self.out, relative), data)

        commit(self.out, staging, schema, publish, expect=self.expect,
               on_lost=lambda: delete_staged(self.out, staging, self.folder))
        delete_staged(self.out, staging, self.folder)  # temporaries of worker attempts that were killed
        delete_spilled(self.spill_dir)
        self.progress.add(COMMITTED)
        yield schema


class Commit(beam.PTransform):
    """Shard results -> the finished dataset directory; outputs the schema written.

    `split_names` (a side input) lists every split that must exist, even with no records;
    `side_inputs` are passed on to `finalize` by name. The job's `spill_dir` (beam_jobs.batching), read
    by then, is deleted after schema.json is written. A job that another one beat to OUT fails with
    OutputTakenError, its staged shards deleted (see `commit`). An update passes the `folder` of its
    version's shards and `expect`, what it saw of schema.json when it started; shard results marked
    "carried" are shards it shares with the version before. `empty_shard`: what else the empty shards the
    commit writes get, as the job's others have it (write_shard's `inventory` and `ids`).
    """

    def __init__(self, out: str, options: ShardingOptions, finalize: Finalize, split_names,
                 spill_dir: str | None = None, folder: str = "", expect: FileState | None = None,
                 empty_shard: dict | None = None, **side_inputs):
        super().__init__()
        self.out, self.options, self.finalize = out, options, finalize
        self.split_names, self.spill_dir, self.finalize_inputs = split_names, spill_dir, side_inputs
        self.folder, self.expect, self.empty_shard = folder, expect, empty_shard or {}

    def expand(self, shard_results):
        return (
            shard_results.pipeline
            | "Once" >> beam.Create([None])  # the shard results as a side input: no combine stage to gather them
            | "WriteSchemaLast" >> beam.ParDo(_CommitFn(self.out, self.options, self.finalize, self.spill_dir,
                                                        self.folder, self.expect, self.empty_shard),
                                              beam.pvalue.AsList(shard_results), self.split_names,
                                              **self.finalize_inputs)
        )
