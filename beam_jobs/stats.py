"""Statistics for stats.json, combined per bundle and merged (no element per value reaches a shuffle)."""

from __future__ import annotations

from typing import Callable

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from prep.core.statistics import Summary


class SummarizeFn(beam.CombineFn):
    """Folds rows into a `Summary` with `add(summary, row)`; outputs the summary's dict."""

    def __init__(self, add: Callable[[Summary, object], None]):
        self.add = add

    def create_accumulator(self) -> Summary:
        return Summary()

    def add_input(self, summary: Summary, row) -> Summary:
        self.add(summary, row)
        return summary

    def merge_accumulators(self, summaries) -> Summary:
        summaries = iter(summaries)
        first = next(summaries)
        for other in summaries:
            first.merge(other)
        return first

    def extract_output(self, summary: Summary) -> dict:
        return summary.to_dict()


def merge_summary(summary: Summary, partial: Summary) -> None:
    """`add` for SummarizeFn over partial summaries."""
    summary.merge(partial)


class _SummarizeBundle(beam.DoFn):
    """Facts -> one partial `Summary` per bundle: what crosses to the final combine is a few summaries,
    not every fact (a Flatten of facts from several stages would otherwise ship each one)."""

    def __init__(self, add: Callable[[Summary, object], None]):
        self.add = add

    def start_bundle(self):
        self._summary = Summary()

    def process(self, fact):
        self.add(self._summary, fact)
        return ()

    def finish_bundle(self):
        yield GlobalWindows.windowed_value(self._summary)


class SummarizeFacts(beam.PTransform):
    """PCollections of facts (a tuple) -> one stats summary dict, `add(summary, fact)` folding each fact."""

    def __init__(self, add: Callable[[Summary, object], None]):
        super().__init__()
        self.add = add

    def expand(self, facts):
        partial = [pcoll | f"ByBundle{i}" >> beam.ParDo(_SummarizeBundle(self.add)) for i, pcoll in enumerate(facts)]
        return tuple(partial) | "AllBundles" >> beam.Flatten() | "Merge" >> beam.CombineGlobally(
            SummarizeFn(merge_summary))
