"""Sharded writing of records that travel in batches (`prep.text_encoder.RecordColumns`), as
beam_jobs.sharded_write writes records that travel one by one: the same shards, byte for byte.

A batch is one element from the step that made it to the shard writer: its records wait for the
shard counts as one pickle of columns (spilled to a file on the local runner, see
beam_jobs.batching), are dealt to their shards by the hashes computed with them, and each shard
sorts its records by the order hash, then the identity (`sharding.order_key`, then the key), as
WriteShards does.
"""

from __future__ import annotations

import pickle

import apache_beam as beam

from beam_jobs.batching import BatchPerKey, Spilled, spill, values_of
from beam_jobs.sharded_write import new_staging, write_shard
from prep.core import sharding
from prep.jobs.options import ShardingOptions
from prep.records import tfrecord_io
from prep.text.encoder import RecordColumns


def packed(columns: RecordColumns, spill_dir: str | None) -> bytes | Spilled:
    """A batch as it travels: one pickle of its columns, or where it was spilled."""
    data = pickle.dumps(tuple(columns), pickle.HIGHEST_PROTOCOL)
    return spill(spill_dir, [(None, data)])[0][1] if spill_dir else data


def unpacked(batch: bytes | Spilled) -> RecordColumns:
    return RecordColumns(*values_of([batch]))  # the pickle holds the tuple of columns


def _deal(batch, shard_counts) -> list[tuple]:
    """[((split, shard, shards), (order hash, identity, framed record))] for each record of a batch."""
    columns = unpacked(batch)
    counts = shard_counts if isinstance(shard_counts, dict) else {split: shard_counts for split in set(columns.splits)}
    frame = tfrecord_io.encode_record  # here, on every worker, not in the one writer of a shard
    return [((split, shard_hash % counts[split], counts[split]), (order, identity, frame(record)))
            for split, identity, record, shard_hash, order in zip(*columns[:5])]


class _WriteShard(beam.DoFn):
    def __init__(self, out: str, compression: str, staging: str):
        self.out, self.compression, self.staging = out, compression, staging

    def process(self, element):
        (split, index, num_shards), batches = element
        records = sorted(values_of(batches))  # by order hash, then identity (unique: records never compare)
        yield write_shard(self.out, (record for _, _, record in records), self.compression,
                          framed=True, split=split, index=index, num_shards=num_shards, staging=self.staging)


class WriteShardBatches(beam.PTransform):
    """Batches of records (`packed` RecordColumns) and their bytes by split ((split, bytes) pairs)
    -> one dict per shard written at its staged name, as WriteShards outputs them."""

    def __init__(self, out: str, options: ShardingOptions, sizes, spill_dir: str | None = None):
        super().__init__()
        self.out, self.options, self.sizes, self.spill_dir = out, options, sizes, spill_dir
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
            | "WriteShard" >> beam.ParDo(_WriteShard(self.out, self.options.compression, self.staging))
        )
