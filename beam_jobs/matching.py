"""Finding the input files inside the pipeline, so the launching machine never walks a bucket."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems

from beam_jobs.batching import BatchPerKey, unbatched
from beam_jobs.progress import CountEach, ReportTotal
from prep.jobs.progress import LISTED

FILES_PER_BATCH = 64


class MatchInputs(beam.PTransform):
    """Every file under `root` (recursively) as (path, size in bytes, modification time in seconds),
    spread over the workers.

    The match runs on a worker; the Reshuffle after it breaks fusion, so reading and decoding are
    parallel even though the match is one element. Files travel through it in batches of
    FILES_PER_BATCH, which is enough to spread the work and costs the shuffle little per file. The files
    are counted for the progress display as they go on, and their number is reported once all are listed.
    """

    def __init__(self, root: str, inputs: bool = True):
        super().__init__()
        self.root = root
        self.inputs = inputs  # whether the files are the job's inputs, which the progress display counts

    def expand(self, pipeline):
        files = (
            pipeline
            | "Match" >> fileio.MatchFiles(FileSystems.join(self.root, "**"))
            | "PathAndSize" >> beam.ParDo(BatchPerKey(lambda m: [(None, (m.path, m.size_in_bytes, m.last_updated_in_seconds))], max_values=FILES_PER_BATCH))
            | "Spread" >> beam.Reshuffle()
        )
        if not self.inputs:
            return files | "OneByOne" >> beam.FlatMap(unbatched)
        files = files | "OneByOne" >> beam.ParDo(CountEach(LISTED, unbatched))
        files | "Listed" >> ReportTotal(LISTED)
        return files
