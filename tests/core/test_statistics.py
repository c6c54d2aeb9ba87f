"""Tests for prep.core.statistics: mergeable counts and power-of-two histograms for stats.json."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from prep.core.statistics import Distribution, Summary


def _distribution(values) -> Distribution:
    d = Distribution()
    for v in values:
        d.add(v)
    return d


def _summary(records: list[tuple[str, str]], widths: list[int]) -> Summary:
    s = Summary()
    for split, class_name in records:
        s.count("records", split)
        s.count("classes", class_name)
    for w in widths:
        s.observe("width", w)
    return s


@pytest.mark.parametrize(
    ("value", "bucket", "low", "below"),
    [
        (0, 0, 0, 1),
        (0.5, 0, 0, 1),
        (1, 1, 1, 2),
        (1.99, 1, 1, 2),
        (2, 2, 2, 4),
        (3, 2, 2, 4),
        (4, 3, 4, 8),
        (7, 3, 4, 8),
        (8, 4, 8, 16),
        (640, 10, 512, 1024),
        (1023, 10, 512, 1024),
        (1024, 11, 1024, 2048),
        (2**40, 41, 2**40, 2**41),
        (2**40 - 1, 40, 2**39, 2**40),
    ],
)
def test_each_value_lands_in_its_bucket(value: float, bucket: int, low: int, below: int) -> None:
    d = _distribution([value])
    assert d.buckets == Counter({bucket: 1})
    assert d.to_dict()["histogram"] == [{"from": low, "below": below, "count": 1}]
    assert low <= value < below


def test_bucket_bounds_tile_the_range_without_gaps() -> None:
    d = _distribution(range(0, 5000))
    histogram = d.to_dict()["histogram"]
    assert histogram[0]["from"] == 0
    assert all(a["below"] == b["from"] for a, b in zip(histogram, histogram[1:]))
    assert sum(h["count"] for h in histogram) == 5000
    for h in histogram:
        assert h["count"] == len([v for v in range(5000) if h["from"] <= v < h["below"]])


def test_an_empty_distribution() -> None:
    d = Distribution()
    assert (d.count, d.total, d.min, d.max) == (0, 0, None, None)
    assert d.to_dict() == {"count": 0, "min": None, "max": None, "mean": None, "histogram": []}


def test_to_dict() -> None:
    d = _distribution([3, 0, 640, 480, 5])
    assert d.to_dict() == {
        "count": 5,
        "min": 0,
        "max": 640,
        "mean": 225.6,
        "histogram": [
            {"from": 0, "below": 1, "count": 1},
            {"from": 2, "below": 4, "count": 1},
            {"from": 4, "below": 8, "count": 1},
            {"from": 256, "below": 512, "count": 1},
            {"from": 512, "below": 1024, "count": 1},
        ],
    }
    assert json.loads(json.dumps(d.to_dict())) == d.to_dict()


@pytest.mark.parametrize(("values", "mean"), [([1, 2], 1.5), ([1, 1, 2], 1.333), ([2, 2, 3], 2.333), ([0], 0)])
def test_mean_is_rounded_to_three_places(values: list[int], mean: float) -> None:
    assert _distribution(values).to_dict()["mean"] == mean


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ([], []),
        ([], [5, 1]),
        ([5, 1], []),
        ([0], [0]),
        ([3, 9, 27], [1, 2, 1000]),
        ([1000, 2], [1, 999]),
        ([0.5, 7.25], [100.0]),
        (list(range(0, 300, 7)), list(range(1, 300, 11))),
    ],
)
def test_merge_equals_adding_everything(left: list, right: list) -> None:
    merged = _distribution(left)
    merged.merge(_distribution(right))
    assert merged == _distribution(left + right)
    assert merged.to_dict() == _distribution(left + right).to_dict()


@pytest.mark.parametrize(
    ("left", "right", "minimum", "maximum"),
    [
        ([], [], None, None),
        ([], [4], 4, 4),
        ([4], [], 4, 4),
        ([0], [5], 0, 5),
        ([5], [0], 0, 5),
        ([2, 8], [3, 9], 2, 9),
    ],
)
def test_merge_keeps_min_and_max_when_a_side_is_empty(left: list, right: list, minimum, maximum) -> None:
    merged = _distribution(left)
    merged.merge(_distribution(right))
    assert (merged.min, merged.max) == (minimum, maximum)


def test_merge_leaves_the_other_side_alone() -> None:
    left, right = _distribution([1, 2]), _distribution([300])
    left.merge(right)
    assert right == _distribution([300])


def _summaries() -> tuple[Summary, Summary, Summary]:
    return (
        _summary([("train", "cats"), ("train", "dogs")], [640, 480]),
        _summary([("test", "cats")], []),
        _summary([("train", "birds"), ("validation", "cats")], [32, 4096, 0]),
    )


def test_summary_merge_is_associative() -> None:
    a, b, c = _summaries()
    left = a.merge(b).merge(c)
    a, b, c = _summaries()
    right = a.merge(b.merge(c))
    assert left == right
    assert left.to_dict() == right.to_dict()


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
def test_summary_merge_equals_counting_everything_once(order: tuple[int, int, int]) -> None:
    parts = _summaries()
    merged = Summary()
    for i in order:
        merged.merge(parts[i])
    everything = _summary(
        [("train", "cats"), ("train", "dogs"), ("test", "cats"), ("train", "birds"), ("validation", "cats")],
        [640, 480, 32, 4096, 0],
    )
    assert merged.to_dict() == everything.to_dict()


def test_merging_an_empty_summary_changes_nothing() -> None:
    a, _, _ = _summaries()
    expected = _summaries()[0].to_dict()
    assert a.merge(Summary()).to_dict() == expected
    assert Summary().merge(_summaries()[0]).to_dict() == expected


def test_summary_merge_does_not_share_state_with_its_argument() -> None:
    a, b, _ = _summaries()
    a.merge(b)
    a.count("records", "test", 10)
    a.observe("width", 7)
    assert b.to_dict() == _summaries()[1].to_dict()


def test_summary_count_takes_a_number() -> None:
    s = Summary()
    s.count("bytes", "train", 1000)
    s.count("bytes", "train", 24)
    s.count("bytes", "test")
    assert s.to_dict() == {"bytes": {"test": 1, "train": 1024}}


def test_summary_to_dict_sorts_names_and_keys() -> None:
    s = _summary([("validation", "dogs"), ("train", "cats"), ("train", "cats")], [10])
    s.observe("height", 20)
    out = s.to_dict()
    assert list(out) == ["classes", "records", "height", "width"]
    assert list(out["records"]) == ["train", "validation"]
    assert out["records"] == {"train": 2, "validation": 1}
    assert out["classes"] == {"cats": 2, "dogs": 1}
    assert out["width"]["count"] == 1 and out["height"]["max"] == 20
    assert json.loads(json.dumps(out)) == out


def test_an_empty_summary() -> None:
    assert Summary().to_dict() == {}


def test_facts_from_several_stages_fold_into_one_summary_through_per_bundle_partials():
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from beam_jobs.stats import SummarizeFacts

    def add(summary, fact):
        summary.count("seen", fact[0])
        summary.observe("value", fact[1])

    with TestPipeline() as p:
        first = p | "First" >> beam.Create([("a", i) for i in range(50)])
        second = p | "Second" >> beam.Create([("b", i) for i in range(50, 60)])
        found = (first, second) | SummarizeFacts(add) | beam.Map(lambda s: (s["seen"], s["value"]["count"], s["value"]["max"]))
        assert_that(found, equal_to([({"a": 50, "b": 10}, 60, 59)]))
