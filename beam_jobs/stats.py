"""Statistics for stats.json, combined per bundle and merged (no element per value reaches a shuffle)."""

from __future__ import annotations

from typing import Callable

import apache_beam as beam

from prep.statistics import Summary


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
