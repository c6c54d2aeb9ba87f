"""`prep schema infer --full`: read every record of every file, then write schema.json with exact counts.

The launcher has already listed the files and sampled them (prep/interop/inference/), so bad inputs
fail before a job starts. This job reads each usable file end to end on a worker (CRCs checked), merges
the statistics of all records, merges the full scans into the sampled ones (a file found damaged now is
left out), and commits: vocabulary, rejected.jsonl, then schema.json last.
"""

from __future__ import annotations

from typing import Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam_jobs.commit import commit, write_file
from beam_jobs.progress import ReportTotal
from beam_jobs.sharded_write import new_staging
from prep.interop import inference
from prep.interop.inference.assembly import Inference
from prep.interop.inference.feature_stats import RecordStats
from prep.interop.inference.files import FileSet
from prep.interop.inference.options import InferOptions
from prep.interop.inference.scanning import FileScan
from prep.jobs.progress import FILES_READ, RECORDS_READ, Progress
from prep.jobs.results import REJECTED_FILE
from schemas import SCHEMA_FILE
from schemas.guarded_write import FileState, observe


def write_inference(out: str, result: Inference, expect: FileState | None = None, job: str | None = None) -> None:
    """Writes an inference into the dataset directory: its files, rejected.jsonl, schema.json last, as the
    commit of the job named `job` (beam_jobs.commit). `expect` is what the job saw of schema.json when it
    started (default: what is there now); if another job wrote it since, OutputTakenError and nothing written."""
    if expect is None:
        expect = observe(FileSystems.join(out, SCHEMA_FILE))

    def publish():
        for relative, data in sorted(result.files.items()):
            write_file(FileSystems.join(out, relative), data)
        write_file(FileSystems.join(out, REJECTED_FILE), inference.rejected_lines(result))

    commit(out, job or new_staging(), result.schema, publish, expect=expect)


class _ReadEveryRecord(beam.DoFn):
    """A file -> its FileScan of every record, counted for the progress display."""

    def setup(self):
        self.progress = Progress()

    def process(self, entry: inference.FileEntry):
        scan = inference.scan_file(entry, sample=None)
        self.progress.add(FILES_READ)
        self.progress.add(RECORDS_READ, scan.records or 0)
        yield scan


def _without_stats(scan: FileScan) -> FileScan:
    return FileScan(scan.entry, scan.compression, scan.records, scan.complete, scan.problem, scan.reason)


class _MergeStats(beam.CombineFn):
    """Merges the record statistics of many files (associative: any grouping gives the same result)."""

    def create_accumulator(self) -> RecordStats:
        return RecordStats()

    def add_input(self, accumulator: RecordStats, scan: FileScan) -> RecordStats:
        return accumulator.merge(scan.stats) if scan.problem is None else accumulator

    def merge_accumulators(self, accumulators) -> RecordStats:
        merged = RecordStats()
        for accumulator in accumulators:
            merged.merge(accumulator)
        return merged

    def extract_output(self, accumulator: RecordStats) -> RecordStats:
        return accumulator


def _commit(full: list[FileScan], stats: RecordStats, options: InferOptions, files: FileSet,
            sampled: Sequence[FileScan], expect: FileState | None, job: str) -> str:
    result = inference.build_inference(options, files, inference.merge_scans(sampled, full), "full", stats)
    write_inference(files.out, result, expect, job)
    return files.out


class InferSchemaFromEveryRecord(beam.PTransform):
    """The whole --full job: every usable file read in full, statistics merged, schema.json committed.

    `expect`: what the job saw of schema.json when it started (see `write_inference`)."""

    def __init__(self, options: InferOptions, files: FileSet, sampled: Sequence[FileScan],
                 expect: FileState | None = None):
        super().__init__()
        self.options, self.files, self.expect = options, files, expect
        self.sampled = [_without_stats(s) for s in sampled]
        self.job = new_staging()  # one name for every retry of the commit

    def expand(self, pipeline):
        files = (pipeline
                 | "UsableFiles" >> beam.Create([s.entry for s in self.sampled if s.problem is None])
                 | "Spread" >> beam.Reshuffle())
        files | "Files" >> ReportTotal(FILES_READ)
        scans = files | "ReadEveryRecord" >> beam.ParDo(_ReadEveryRecord())
        return (
            scans
            | "DropStats" >> beam.Map(_without_stats)
            | "AllFiles" >> beam.combiners.ToList()
            | "WriteSchemaLast" >> beam.Map(
                _commit,
                stats=beam.pvalue.AsSingleton(scans | "MergeStats" >> beam.CombineGlobally(_MergeStats())),
                options=self.options, files=self.files, sampled=self.sampled, expect=self.expect, job=self.job)
        )
