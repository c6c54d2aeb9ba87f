"""Sharded writing of records that travel in batches (`prep.text_encoder.RecordColumns`), as
beam_jobs.sharded_write writes records that travel one by one: the same shards, byte for byte.

A batch is one element from the step that made it to the shard writer: its records wait for the
shard counts as one pickle of columns (spilled to a file on the local runner, see
beam_jobs.batching), are dealt to their shards by the hashes computed with them, and each shard
sorts its records by the order hash, then the identity (`sharding.order_key`, then the key), as
WriteShards does. Beside each shard go its inventory and ids file (prep.text.inventory).
"""

from __future__ import annotations

import pickle

import apache_beam as beam

from beam_jobs.batching import BatchPerKey, Spilled, spill, values_of
from beam_jobs.sharded_write import new_staging, write_shard
from prep.core import sharding
from prep.jobs.options import ShardingOptions
from prep.jobs.progress import SHARDS, SHARDS_WRITTEN, Progress
from prep.records import tfrecord_io
from prep.text import inventory
from prep.text.encoder import RecordColumns


def packed(columns: RecordColumns, spill_dir: str | None) -> bytes | Spilled:
    """A batch as it travels: one pickle of its columns, or where it was spilled."""
    data = pickle.dumps(tuple(columns), pickle.HIGHEST_PROTOCOL)
    return spill(spill_dir, [(None, data)])[0][1] if spill_dir else data


def unpacked(batch: bytes | Spilled) -> RecordColumns:
    return RecordColumns(*values_of([batch]))  # the pickle holds the tuple of columns


def _deal(batch, shard_counts) -> list[tuple]:
    """[((split, shard, shards), (order hash, identity, framed record, inventory line, ids offset))]
    for each record of a batch."""
    columns = unpacked(batch)
    counts = shard_counts if isinstance(shard_counts, dict) else {split: shard_counts for split in set(columns.splits)}
    frame = tfrecord_io.encode_record  # here, on every worker, not in the one writer of a shard
    return [((split, shard_hash % counts[split], counts[split]), (order, identity, frame(record), line, at))
            for split, identity, record, shard_hash, order, line, at in zip(*columns[:7])]


def _shard_inventory(records: list[tuple]) -> tuple[bytes, bytes]:
    """A shard's inventory and ids file (prep.text.inventory), from its records in order."""
    start, end = tfrecord_io.HEADER_BYTES, -tfrecord_io.FOOTER_BYTES  # a framed record's data
    used = inventory.used_ids([r[2][start:end] for r in records], [r[4] for r in records])
    return inventory.shard_inventory([r[3] for r in records]), inventory.ids_bytes(used)


class _WriteShard(beam.DoFn):
    def __init__(self, out: str, compression: str, staging: str, folder: str):
        self.out, self.compression, self.staging, self.folder = out, compression, staging, folder

    def setup(self):
        self.progress = Progress()

    def process(self, element):
        (split, index, num_shards), batches = element
        self.progress.total(f"{SHARDS}:{split}", num_shards)
        records = sorted(values_of(batches), key=lambda r: r[:2])  # by order hash, then identity (unique)
        lines, ids = _shard_inventory(records)
        yield write_shard(self.out, (r[2] for r in records), self.compression,
                          framed=True, split=split, index=index, num_shards=num_shards, staging=self.staging,
                          folder=self.folder, inventory=lines, ids=ids)
        self.progress.add(SHARDS_WRITTEN)


class WriteShardBatches(beam.PTransform):
    """Batches of records (`packed` RecordColumns) and their bytes by split ((split, bytes) pairs)
    -> one dict per shard written at its staged name, as WriteShards outputs them; `folder`: where
    the shards go under `out` (an update's: prep.core.versions.version_folder)."""

    def __init__(self, out: str, options: ShardingOptions, sizes, spill_dir: str | None = None, folder: str = ""):
        super().__init__()
        self.out, self.options, self.sizes, self.spill_dir, self.folder = out, options, sizes, spill_dir, folder
        self.staging = new_staging()

    def expand(self, batches):
        if self.options.num_shards:
            shard_counts = self.options.num_shards
        else:
            shard_size = self.options.shard_size
            shard_counts = beam.pvalue.AsDict(
                self.sizes
                | "SplitBytes" >> beam.CombinePerKey(sum)
                | "ShardsNeeded" >> beam.MapTuple(lambda split, total: (split, sharding.num_shards_for_size(total, shard_size)))
            )
        return (
            batches
            | "AssignShard" >> beam.ParDo(
                BatchPerKey(_deal, size=lambda v: len(v[2]), spill_dir=self.spill_dir), shard_counts)
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShard(self.out, self.options.compression, self.staging, self.folder))
        )
