"""Batching before a shuffle: one element per key and bundle instead of one per value.

A GroupByKey costs Beam a fixed amount per element it carries (encoding, and on the local multi-process
runner a trip through the runner process), which for small values is more than the work on them.
Beam lifts combines into the workers for this reason; `BatchPerKey` does the same for grouping: each
bundle sends one (key, [values]) batch per key, and the consumer of the GroupByKey reads the values
of every batch of its key (`values_of`).

A batch travels as one pickle of its values, not as a list Beam encodes value by value: classes and
field names are written once per batch, not once per value. Beam's local runner keeps what it groups
in memory as it decoded it, so it now holds one bytes object per batch rather than every value as an
object. For `prep images` the shuffles carry about 420 bytes per image instead of 940, and the local
runner's memory grows about half as fast with the number of images (bench/RESULTS.md).
"""

from __future__ import annotations

import pickle
from typing import Any, Callable, Iterable

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

MAX_VALUES = 20_000      # values a bundle holds before it sends its batches
MAX_BYTES = 64 * 2**20   # bytes of values (as `size` counts them) a bundle holds before it sends them


class BatchPerKey(beam.DoFn):
    """element -> (key, batch) pairs, each batch a pickle of [value, ...], where
    `pairs(element, *side_inputs)` gives the element's (key, value) pairs (any number). Only for the
    global window, which every prep job uses."""

    def __init__(self, pairs: Callable[..., Iterable[tuple[Any, Any]]], size: Callable[[Any], int] = lambda v: 0,
                 max_values: int = MAX_VALUES, max_bytes: int = MAX_BYTES):
        self.pairs, self.size = pairs, size
        self.max_values, self.max_bytes = max_values, max_bytes

    def start_bundle(self):
        self._batches: dict = {}
        self._values = self._bytes = 0

    def process(self, element, *side_inputs):
        for key, value in self.pairs(element, *side_inputs):
            self._batches.setdefault(key, []).append(value)
            self._values += 1
            self._bytes += self.size(value)
        if self._values >= self.max_values or self._bytes >= self.max_bytes:
            yield from self._flush()

    def finish_bundle(self):
        for batch in self._flush():
            yield GlobalWindows.windowed_value(batch)

    def _flush(self) -> list:
        batches, self._batches, self._values, self._bytes = self._batches, {}, 0, 0
        return [(key, pickle.dumps(values, pickle.HIGHEST_PROTOCOL)) for key, values in batches.items()]


def values_of(batches: Iterable[bytes]) -> Iterable:
    """The values of the batches a GroupByKey gathered for one key (or of any iterable of batches)."""
    return (value for batch in batches for value in pickle.loads(batch))
