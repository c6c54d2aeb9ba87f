"""The last step of every job: fill in empty shards, write vocabularies and stats, then schema.json.

schema.json is written last and through a temporary name: its presence means every shard, vocabulary
and stats file it names is in place (the commit mark of DESIGN.md).
"""

from __future__ import annotations

from typing import Callable

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam_jobs.batching import delete_spilled
from beam_jobs.sharded_write import write_shard
from prep.jobs.options import ShardingOptions
from prep.records import tfrecord_io
from schemas import DatasetSchema, save_schema

# finalize(shard results, **side inputs) -> (schema, {relative path: file bytes}); shard results are
# the dicts WriteShards outputs, with the empty shards added.
Finalize = Callable[..., tuple[DatasetSchema, dict[str, bytes]]]


write_file = tfrecord_io.write_file  # what the jobs write whole: vocabularies, stats, rejected.jsonl


class _CommitFn(beam.DoFn):
    def __init__(self, out: str, options: ShardingOptions, finalize: Finalize, spill_dir: str | None):
        self.out, self.options, self.finalize, self.spill_dir = out, options, finalize, spill_dir

    def process(self, _, results, split_names, **side):
        results = list(results)
        for split in split_names:
            present = {r["index"]: r for r in results if r["split"] == split}
            num_shards = next(iter(present.values()))["num_shards"] if present else (self.options.num_shards or 1)
            for index in range(num_shards):
                if index not in present:
                    results.append(write_shard(self.out, [], self.options.compression,
                                               split=split, index=index, num_shards=num_shards))
        schema, files = self.finalize(results, **side)
        for relative, data in sorted(files.items()):
            write_file(FileSystems.join(self.out, relative), data)
        save_schema(schema, self.out)
        delete_spilled(self.spill_dir)
        yield schema


class Commit(beam.PTransform):
    """Shard results -> the finished dataset directory; outputs the schema written.

    `split_names` (a side input) lists every split that must exist, even with no records;
    `side_inputs` are passed on to `finalize` by name. The job's `spill_dir` (beam_jobs.batching), read
    by then, is deleted after schema.json is written.
    """

    def __init__(self, out: str, options: ShardingOptions, finalize: Finalize, split_names,
                 spill_dir: str | None = None, **side_inputs):
        super().__init__()
        self.out, self.options, self.finalize = out, options, finalize
        self.split_names, self.spill_dir, self.finalize_inputs = split_names, spill_dir, side_inputs

    def expand(self, shard_results):
        return (
            shard_results.pipeline
            | "Once" >> beam.Create([None])  # the shard results as a side input: no combine stage to gather them
            | "WriteSchemaLast" >> beam.ParDo(_CommitFn(self.out, self.options, self.finalize, self.spill_dir),
                                              beam.pvalue.AsList(shard_results), self.split_names,
                                              **self.finalize_inputs)
        )
