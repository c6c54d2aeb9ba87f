"""Progress counted inside a job's pipeline, beyond what its DoFns count as they work
(prep.jobs.progress): the totals a display needs, once they are known."""

from __future__ import annotations

import apache_beam as beam

from prep.jobs.progress import LISTED, Progress


class _Report(beam.DoFn):
    def __init__(self, key: str):
        self.key = key

    def setup(self):
        self.progress = Progress()

    def process(self, total: int):
        self.progress.total(self.key, total)


class ReportTotal(beam.PTransform):
    """Reports the number of elements of a PCollection as the total `key`, once it is complete (a
    count combined across the workers: one small element, whatever the size)."""

    def __init__(self, key: str):
        super().__init__()
        self.key = key

    def expand(self, pcoll):
        return pcoll | "Count" >> beam.combiners.Count.Globally() | "Report" >> beam.ParDo(_Report(self.key))


class CountEach(beam.DoFn):
    """Passes elements on, counting them as `key`; with `unbatch`, each element is a list whose
    items go on one by one (and are what is counted)."""

    def __init__(self, key: str, unbatch=None):
        self.key, self.unbatch = key, unbatch

    def setup(self):
        self.progress = Progress()

    def process(self, element):
        items = list(self.unbatch(element)) if self.unbatch else [element]
        self.progress.add(self.key, len(items))
        yield from items


class CountListed(beam.PTransform):
    """Matched files, passed on and counted as listed (LISTED), their number reported once all are."""

    def expand(self, files):
        counted = files | "Count" >> beam.ParDo(CountEach(LISTED))
        counted | "Listed" >> ReportTotal(LISTED)
        return counted
