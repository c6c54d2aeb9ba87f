"""beam_jobs.batching: one shuffle element per key and bundle, and nothing lost or doubled."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from beam_jobs.batching import BatchPerKey, delete_spilled, values_of


def test_batches_carry_every_value_once_and_are_sent_when_full():
    with TestPipeline() as p:
        batches = p | beam.Create(range(100)) | beam.ParDo(BatchPerKey(lambda x: [(x % 3, x), ("all", x)], max_values=7))
        grouped = batches | beam.GroupByKey() | beam.MapTuple(lambda key, found: (key, sorted(values_of(found))))
        assert_that(grouped, equal_to([(k, [x for x in range(100) if x % 3 == k]) for k in range(3)]
                                      + [("all", list(range(100)))]), label="every value once")
        sizes = batches | beam.Map(_batch_size) | beam.combiners.ToList()
        assert_that(sizes, lambda found: _check_sizes(found[0]), label="sent when full")


def _batch_size(keyed) -> int:
    _, batch = keyed
    assert isinstance(batch, bytes)  # one pickle per batch: the runner moves it without decoding values
    return len(list(values_of([batch])))


def _check_sizes(sizes: list[int]) -> None:
    assert sum(sizes) == 200 and max(sizes) <= 8, sizes  # flushed once 7 or 8 values (two per element) are held
    assert len(sizes) >= 200 // 8


def test_byte_limit_sends_large_values_early():
    with TestPipeline() as p:
        batches = p | beam.Create([b"x" * 1000] * 10) | beam.ParDo(
            BatchPerKey(lambda v: [("k", v)], size=len, max_bytes=2500))
        sizes = batches | beam.Map(_batch_size) | beam.combiners.ToList()
        assert_that(sizes, lambda found: _assert(sum(found[0]) == 10 and max(found[0]) <= 3, found))


def _assert(condition: bool, found) -> None:
    assert condition, found


def test_spilled_batches_are_read_back_whole_and_deleted_with_their_folder(tmp_path):
    spill_dir = str(tmp_path / "spill")
    with TestPipeline() as p:
        batches = p | beam.Create(range(50)) | beam.ParDo(
            BatchPerKey(lambda x: [(x % 2, x)], max_values=9, spill_dir=spill_dir))
        assert_that(batches | beam.MapTuple(lambda _, batch: type(batch).__name__) | beam.Distinct(),
                    equal_to(["Spilled"]), label="only places travel")
        grouped = batches | beam.GroupByKey() | beam.MapTuple(lambda key, found: (key, sorted(values_of(found))))
        assert_that(grouped, equal_to([(k, [x for x in range(50) if x % 2 == k]) for k in range(2)]),
                    label="every value once")
    assert len(list((tmp_path / "spill").iterdir())) >= 50 // 9, "one file per flush"
    delete_spilled(spill_dir)
    assert not (tmp_path / "spill").exists()
    delete_spilled(spill_dir)  # nothing left to delete: not an error
