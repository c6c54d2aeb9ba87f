"""Deterministic sharded writing: the same records always give the same shard files, byte for byte.

Beam's WriteToTFRecord deals records round-robin from a random start, so instead (as TensorFlow
Datasets' Beam writer does) each record's shard and position come from hashes of its key: group by
shard, sort within the shard, write it whole to a temporary name, rename.

The rename is to the shard's staged name (`staged_name`: its name with the job's staging token), and
only the commit (beam_jobs.commit) gives it its own name, once the job has won OUT: two jobs writing one
OUT give their shards the same names, and a job that loses must never replace the winner's shards.

What travels through the shuffle is up to the job: serialised records, or (for images) a small
description from which `to_record` makes the record at write time, so that original image bytes are
not shuffled at all.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam_jobs.batching import BatchPerKey, spilled_records, unbatched, values_of
from prep.core import sharding, versions
from prep.core.versions import inventory_bytes
from prep.jobs.options import ShardingOptions
from prep.jobs.progress import SHARDS, SHARDS_WRITTEN, Progress
from prep.records import tfrecord_io


def _assign(element, shard_counts):
    """[(shard, (key, value))]: where a record goes (one pair, batched per shard by BatchPerKey)."""
    split, key, value = element
    n = shard_counts[split] if isinstance(shard_counts, dict) else shard_counts
    return [((split, sharding.shard_index(key, n), n), (key, value))]


def _assign_spilled(element, shard_counts):
    """_assign for each record of a spilled batch (see `spilled_records`)."""
    return [pair for record in unbatched(element) for pair in _assign(record, shard_counts)]


def _in_shard_order(pair) -> tuple[int, str]:
    key = pair[0]
    return sharding.order_key(key), key


def _identity(value: bytes) -> bytes:
    return value


def new_staging() -> str:
    """A job's staging token: what its staged files are named by until it commits."""
    return uuid.uuid4().hex[:16]


def staged_name(name: str, staging: str) -> str:
    """Where the job with token `staging` keeps the file it commits as `name` (a path relative to OUT)
    until its commit: beside it, under a name that no reader, `prep verify` or other job takes for a
    shard, and that --overwrite deletes as prep's (prep.jobs.outdir)."""
    return f"{name}.tmp-{staging}"


def write_shard(out: str, records, compression: str, *, framed: bool = False, split: str, index: int,
                num_shards: int, staging: str, folder: str = "", inventory: bytes | None = None,
                ids: bytes | None = None) -> dict:
    """Writes shard `index` of `num_shards` of `split` (and, uncompressed, its record index; with
    `inventory`, the shard's inventory: prep.core.versions; with `ids`, the ids file of a text shard:
    prep.text.inventory) under `out`, in
    `folder` (a version's: prep.core.versions.version_folder), at their staged names; returns what the
    commit step and the schema need of it: split, index, file, counts, index and inventory files (the
    names the commit gives them) and the staging token."""
    name = folder + sharding.shard_file_name(split, index, num_shards, compression)
    index_file = sharding.index_file_name(name, compression)
    count, size = tfrecord_io.write_records(
        FileSystems.join(out, staged_name(name, staging)), records, compression, framed=framed,
        index_path=None if index_file is None else FileSystems.join(out, staged_name(index_file, staging)))
    inventory_file = None
    if inventory is not None:
        inventory_file = versions.inventory_file_name(name)
        tfrecord_io.write_file(FileSystems.join(out, staged_name(inventory_file, staging)), inventory)
    ids_file = None
    if ids is not None:
        ids_file = versions.ids_file_name(name)
        tfrecord_io.write_file(FileSystems.join(out, staged_name(ids_file, staging)), ids)
    return {"split": split, "index": index, "num_shards": num_shards, "file": name,
            "num_records": count, "num_bytes": size, "index_file": index_file, "inventory_file": inventory_file,
            **({"ids_file": ids_file} if ids_file else {}), "staging": staging}


class _WriteShard(beam.DoFn):
    def __init__(self, out: str, compression: str, to_record: Callable[[Any], bytes], staging: str, folder: str,
                 inventory: Callable[[Any], dict] | None):
        self.out, self.compression, self.to_record, self.staging = out, compression, to_record, staging
        self.folder, self.inventory = folder, inventory

    def setup(self):
        self.progress = Progress()

    def process(self, element):
        (split, index, num_shards), batches = element
        self.progress.total(f"{SHARDS}:{split}", num_shards)
        pairs = sorted(values_of(batches), key=_in_shard_order)
        inventory = None if self.inventory is None else inventory_bytes(self.inventory(v) for _, v in pairs)
        yield write_shard(self.out, (self.to_record(v) for _, v in pairs), self.compression,
                          split=split, index=index, num_shards=num_shards, staging=self.staging, folder=self.folder,
                          inventory=inventory)
        self.progress.add(SHARDS_WRITTEN)


class WriteShards(beam.PTransform):
    """(split, key, value) -> one dict per shard written (split, index, file, counts).

    `to_record(value)` gives the serialised record (default: the value is one) and `record_size(value)`
    its size in bytes, for --shard-size; `spill_dir`: see beam_jobs.batching. Shards a split gets no
    record for are not written here; the commit step writes them empty. Shards are written at their
    staged names (`staged_name`, with a token new to this job); the commit gives them their own.
    `folder`: where the shards go under `out` (a version's, prep.core.versions.version_folder);
    `inventory(value)`, when given, is a record's line of its shard's inventory (prep.images.inventory).
    """

    def __init__(self, out: str, options: ShardingOptions, to_record: Callable[[Any], bytes] = _identity,
                 record_size: Callable[[Any], int] = len, spill_dir: str | None = None, folder: str = "",
                 inventory: Callable[[Any], dict] | None = None):
        super().__init__()
        self.out, self.options = out, options
        self.to_record, self.record_size = to_record, record_size
        self.spill_dir, self.folder, self.inventory = spill_dir, folder, inventory
        self.staging = new_staging()

    def expand(self, records):
        record_size, assign = self.record_size, _assign
        if self.options.num_shards:
            shard_counts = self.options.num_shards
        else:
            shard_size = self.options.shard_size
            shard_counts = beam.pvalue.AsDict(
                records
                | "RecordBytes" >> beam.Map(lambda r: (r[0], record_size(r[2])))
                | "SplitBytes" >> beam.CombinePerKey(sum)
                | "ShardsNeeded" >> beam.MapTuple(lambda split, total: (split, sharding.num_shards_for_size(total, shard_size)))
            )
            if self.spill_dir:  # the records wait for the shard counts: as spilled batches, not in the runner
                records = records | "WaitForShardCounts" >> beam.ParDo(
                    spilled_records(self.spill_dir, size=lambda r: record_size(r[2])))
                assign = _assign_spilled
        return (
            records
            | "AssignShard" >> beam.ParDo(
                BatchPerKey(assign, size=lambda v: record_size(v[1]), spill_dir=self.spill_dir), shard_counts)
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShard(self.out, self.options.compression, self.to_record, self.staging,
                                                    self.folder, self.inventory))
        )
