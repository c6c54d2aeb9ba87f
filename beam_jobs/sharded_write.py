"""Deterministic sharded writing: the same records always give the same shard files, byte for byte.

Beam's WriteToTFRecord deals records round-robin from a random start, so instead (as TensorFlow
Datasets' Beam writer does) each record's shard and position come from hashes of its key: group by
shard, sort within the shard, write it whole to a temporary name, rename.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from prep import sharding, tfrecord_io
from prep.job_options import ShardingOptions


def _assign(record, shard_counts):
    split, key, data = record
    n = shard_counts[split] if isinstance(shard_counts, dict) else shard_counts
    return (split, sharding.shard_index(key, n), n), (sharding.order_key(key), key, data)


class _WriteShard(beam.DoFn):
    def __init__(self, out: str, compression: str):
        self.out, self.compression = out, compression

    def process(self, element):
        (split, index, num_shards), records = element
        records = sorted(records)
        name = sharding.shard_file_name(split, index, num_shards, self.compression)
        count, size = tfrecord_io.write_records(
            FileSystems.join(self.out, name), (data for _, _, data in records), self.compression)
        yield {"split": split, "index": index, "num_shards": num_shards, "file": name,
               "num_records": count, "num_bytes": size}


class WriteShards(beam.PTransform):
    """(split, key, serialised record) -> one dict per shard written (split, index, file, counts).

    Shards a split gets no record for are not written here; the commit step writes them empty.
    """

    def __init__(self, out: str, options: ShardingOptions):
        super().__init__()
        self.out, self.options = out, options

    def expand(self, records):
        if self.options.num_shards:
            shard_counts = self.options.num_shards
        else:
            shard_size = self.options.shard_size
            shard_counts = beam.pvalue.AsDict(
                records
                | "RecordBytes" >> beam.Map(lambda r: (r[0], len(r[2])))
                | "SplitBytes" >> beam.CombinePerKey(sum)
                | "ShardsNeeded" >> beam.MapTuple(lambda split, total: (split, sharding.num_shards_for_size(total, shard_size)))
            )
        return (
            records
            | "AssignShard" >> beam.Map(_assign, shard_counts)
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShard(self.out, self.options.compression))
        )
