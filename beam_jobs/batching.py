"""Batching before a shuffle: one element per key and bundle instead of one per value.

A GroupByKey costs Beam a fixed amount per element it carries (encoding, and on the local multi-process
runner a trip through the runner process), which for small values is more than the work on them.
Beam lifts combines into the workers for this reason; `BatchPerKey` does the same for grouping: each
bundle sends one (key, [values]) batch per key, and the consumer of the GroupByKey reads the values
of every batch of its key (`values_of`).

A batch travels as one pickle of its values, not as a list Beam encodes value by value: classes and
field names are written once per batch, not once per value. For `prep images` the shuffles carry about
420 bytes per image instead of 940.

Beam's local runner keeps every shuffle in its own memory, and copies it several times over while it
hands it to the workers, so a job whose shuffle grows with its input (every record of `prep text`)
runs out of memory on a large input. Given a `spill_dir` (prep gives one for local runs, under OUT),
each batch is written to a file there instead and the shuffle carries only where to read it
(`Spilled`): what the local runner holds no longer grows with the records. On Dataflow the shuffle
service holds the data outside the workers, and batches travel in the shuffle as they are.
"""

from __future__ import annotations

import pickle
import uuid
from typing import Any, Callable, Iterable, NamedTuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

MAX_VALUES = 20_000      # values a bundle holds before it sends its batches
MAX_BYTES = 64 * 2**20   # bytes of values (as `size` counts them) a bundle holds before it sends them


class Spilled(NamedTuple):
    """A batch written to a spill file: the bytes at [offset, offset + length) of `path`."""

    path: str
    offset: int
    length: int


class BatchPerKey(beam.DoFn):
    """element -> (key, batch) pairs, each batch a pickle of [value, ...] (or, with `spill_dir`, the
    `Spilled` place of that pickle), where `pairs(element, *side_inputs)` gives the element's (key,
    value) pairs (any number). Only for the global window, which every prep job uses."""

    def __init__(self, pairs: Callable[..., Iterable[tuple[Any, Any]]], size: Callable[[Any], int] = lambda v: 0,
                 max_values: int = MAX_VALUES, max_bytes: int = MAX_BYTES, spill_dir: str | None = None):
        self.pairs, self.size = pairs, size
        self.max_values, self.max_bytes = max_values, max_bytes
        self.spill_dir = spill_dir

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
        return batched(batches, self.spill_dir)


def batched(groups: dict[Any, list], spill_dir: str | None) -> list[tuple[Any, bytes | Spilled]]:
    """(key, one pickle of the group's values) for each group, as BatchPerKey sends them (spilled to
    one file in `spill_dir` when given): for values gathered elsewhere that join BatchPerKey's batches."""
    pickled = [(key, pickle.dumps(values, pickle.HIGHEST_PROTOCOL)) for key, values in groups.items()]
    return spill(spill_dir, pickled) if spill_dir and pickled else pickled


def spill(folder: str, batches: list[tuple[Any, bytes]]) -> list[tuple[Any, Spilled]]:
    """Writes (key, batch) pairs to one new file in `folder`; where each batch is, by key."""
    path = FileSystems.join(folder, f"{uuid.uuid4().hex}.batches")
    placed, offset = [], 0
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        for key, data in batches:
            f.write(data)
            placed.append((key, Spilled(path, offset, len(data))))
            offset += len(data)
    return placed


def packed_groups(groups: dict[Any, list], spill_dir: str | None) -> list[tuple[Any, bytes | Spilled]]:
    """(key, one pickle of the group's values as plain tuples) for each group, spilled to one file in
    `spill_dir` when given (a local run): how buckets of duplicate copies travel. Plain tuples take a
    third of the time of pickling named tuples."""
    pairs = [(key, pickle.dumps([tuple(value) for value in group], pickle.HIGHEST_PROTOCOL))
             for key, group in groups.items()]
    return spill(spill_dir, pairs) if spill_dir else pairs


def spilled_bytes(batch: bytes | Spilled) -> bytes:
    """What a batch (or any bytes `spill` placed) holds: the bytes themselves, or read from their place."""
    if isinstance(batch, bytes):
        return batch
    with FileSystems.open(batch.path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.seek(batch.offset)
        return f.read(batch.length)


def values_of(batches: Iterable[bytes | Spilled]) -> Iterable:
    """The values of the batches a GroupByKey gathered for one key (or of any iterable of batches)."""
    return (value for batch in batches for value in pickle.loads(spilled_bytes(batch)))


def unbatched(keyed: tuple[Any, bytes | Spilled]) -> Iterable:
    """The values of one (key, batch) pair, read where a GroupByKey does not gather them."""
    return values_of([keyed[1]])


def spilled_records(spill_dir: str, size: Callable[[Any], int]) -> BatchPerKey:
    """records -> (None, Spilled) batches of them: what waits at a stage boundary (a step whose side
    input is not ready yet, before which the local runner would hold every record) is then only where
    they are. The step after it reads them back with `unbatched`."""
    return BatchPerKey(lambda record: [(None, record)], size=size, spill_dir=spill_dir)


def delete_spilled(folder: str | None) -> None:
    """Deletes the spill files once nothing reads them any more (the job's last step)."""
    if not folder:
        return
    files = [m.path for m in FileSystems.match([FileSystems.join(folder, "*")])[0].metadata_list]
    if files:
        FileSystems.delete(files)
    if FileSystems.exists(folder):  # a local folder (object stores have none left once their files go)
        FileSystems.delete([folder])
