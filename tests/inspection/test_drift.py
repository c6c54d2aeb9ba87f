"""Drift between two versions of a dataset, from their stats.json: the numbers checked against
computations made here from the definitions, on stats built as the image and text jobs build them."""

from __future__ import annotations

import json
from math import log2

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prep.core.layout import Layout
from prep.core.statistics import Distribution, Summary
from prep.images.dataset import image_stats
from prep.images.options import ImageJobOptions
from prep.inspection.drift import js_divergence, linf_distance, over_thresholds, stats_drift
from prep.jobs.results import add_rejection
from prep.text.dataset import text_stats
from prep.text.vocabulary import TokenVocabulary


def _entropy(shares) -> float:
    return -sum(p * log2(p) for p in shares if p)


def _js_by_entropy(p: dict, q: dict) -> float:
    """JS divergence as H(M) - (H(P) + H(Q)) / 2, M the average: another form of the definition
    than the module's sum of Kullback-Leibler terms."""
    keys = p.keys() | q.keys()
    middle = [(p.get(k, 0) + q.get(k, 0)) / 2 for k in keys]
    return _entropy(middle) - (_entropy(p.values()) + _entropy(q.values())) / 2


def _dist(*values: float) -> dict:
    d = Distribution()
    for v in values:
        d.add(v)
    return json.loads(json.dumps(d.to_dict()))  # as read back from stats.json


@pytest.mark.parametrize("a, b, expected", [
    ({"cat": 2, "dog": 2}, {"cat": 2, "dog": 2}, 0.0),
    ({"cat": 1, "dog": 1}, {"cat": 5, "dog": 5}, 0.0),  # shares, not counts
    ({"cat": 3, "dog": 1}, {"cat": 1, "dog": 1}, 0.25),  # .75/.25 against .5/.5
    ({"cat": 2, "dog": 2}, {"cat": 1, "dog": 1, "bird": 2}, 0.5),  # bird: 0 against .5
    ({"cat": 1}, {"dog": 1}, 1.0),
    ({"cat": 1, "dog": 0}, {"cat": 1}, 0.0),  # a listed class without records counts as missing
    ({}, {}, 0.0),
    ({"cat": 0}, {}, 0.0),
    ({"cat": 3}, {}, 1.0),
    ({}, {"cat": 0, "dog": 3}, 1.0),
])
def test_linf_distance(a, b, expected):
    assert linf_distance(a, b) == pytest.approx(expected)
    assert linf_distance(b, a) == pytest.approx(expected)


@pytest.mark.parametrize("a, b, expected", [
    (_dist(100, 120), _dist(100, 120), 0.0),
    (_dist(3, 5), _dist(3, 3, 5, 5), 0.0),  # same shape, twice the values
    (_dist(100, 127), _dist(64, 64, 64), 0.0),  # one bucket, [64, 128), on both sides
    (_dist(0, 1), _dist(2, 300), 1.0),  # no bucket in common
    # [1/2, 1/2] against [1, 0]: H(3/4, 1/4) - (1 + 0) / 2 = 1.5 - 0.75 log2(3)
    (_dist(1, 2), _dist(1, 1), 1.5 - 0.75 * log2(3)),
    (_dist(), _dist(), 0.0),
    (_dist(5), _dist(), 1.0),
    ({"histogram": []}, {}, 0.0),
])
def test_js_divergence_known_cases(a, b, expected):
    assert js_divergence(a, b) == pytest.approx(expected)
    assert js_divergence(b, a) == pytest.approx(expected)


def test_js_divergence_aligns_buckets_by_their_lower_bound_not_their_position():
    a = {"histogram": [{"from": 1, "below": 2, "count": 1}, {"from": 2, "below": 4, "count": 1}]}
    b = {"histogram": [{"from": 2, "below": 4, "count": 1}, {"from": 4, "below": 8, "count": 1}]}
    # [1/2, 1/2, 0] against [0, 1/2, 1/2]: M = [1/4, 1/2, 1/4]
    expected = _entropy([0.25, 0.5, 0.25]) - 1.0
    assert js_divergence(a, b) == pytest.approx(expected) == pytest.approx(0.5)
    assert js_divergence(a, {"histogram": list(reversed(a["histogram"]))}) == 0.0


values = st.lists(st.integers(min_value=0, max_value=5000), max_size=30)


@given(values, values)
def test_js_divergence_matches_the_entropy_form_and_stays_within_0_and_1(xs, ys):
    a, b = _dist(*xs), _dist(*ys)
    found = js_divergence(a, b)
    assert 0.0 <= found <= 1.0
    assert found == pytest.approx(js_divergence(b, a))
    if xs and ys:
        shares = [{h["from"]: h["count"] / len(v) for h in d["histogram"]} for d, v in ((a, xs), (b, ys))]
        assert found == pytest.approx(_js_by_entropy(*shares), abs=1e-12)


@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 50)),
       st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 50)))
def test_linf_distance_is_symmetric_and_within_0_and_1(a, b):
    assert 0.0 <= linf_distance(a, b) == linf_distance(b, a) <= 1.0


def _image_stats(images: list[tuple[str, str, int, int, int]], rejected: list[str], classes: tuple[str, ...]) -> dict:
    """stats.json of an image dataset made by prep's own builder, from (split, class, width, height,
    bytes) of each written image and the reason of each rejected input."""
    summary = Summary()
    for split, name, width, height, size in images:
        summary.count("records", split)
        summary.count(f"classes/{split}", name)
        summary.count("formats", "jpeg")
        summary.observe("width", width)
        summary.observe("height", height)
        summary.observe("bytes", size)
    for i, reason in enumerate(rejected):
        add_rejection(summary, {"path": f"bad/{i}.jpg", "reason": reason, "detail": ""})
    inputs = len(images) + len(rejected)
    return json.loads(json.dumps(image_stats(ImageJobOptions("src", "out"), summary.to_dict(),
                                             Layout(False, classes), inputs, None)))


@pytest.fixture
def old_images() -> dict:
    images = [("train", "cat", 100, 80, 1000)] * 2 + [("train", "dog", 100, 80, 1000)] * 2
    images += [("test", "cat", 100, 80, 1000), ("test", "dog", 100, 80, 1000)]
    return _image_stats(images, ["corrupt"], ("cat", "dog"))


@pytest.fixture
def new_images() -> dict:
    """Train leans to cat, test lost its dogs for a bird, a validation split came, a third of the
    images grew wider, every file grew bigger, and more inputs were rejected."""
    images = [("train", "cat", 100, 80, 5000)] * 3 + [("train", "dog", 300, 80, 5000)]
    images += [("test", "cat", 300, 80, 5000), ("test", "bird", 300, 80, 5000)]
    images += [("validation", "cat", 100, 80, 5000)]
    return _image_stats(images, ["corrupt", "corrupt", "truncated"], ("bird", "cat", "dog"))


def test_stats_drift_of_two_image_datasets(old_images, new_images):
    drift = stats_drift(old_images, new_images)
    assert list(drift) == ["records", "splits_appeared", "splits_vanished", "classes", "splits", "histograms",
                           "rejected"]
    assert drift["records"] == {"old": 6, "new": 7, "change": 1}
    assert (drift["splits_appeared"], drift["splits_vanished"]) == (["validation"], [])
    assert list(drift["splits"]) == ["test", "train", "validation"]

    train = drift["splits"]["train"]
    assert train["records"] == {"old": 4, "new": 4, "change": 0}
    assert train["classes"]["linf"] == 0.25  # .75/.25 against .5/.5
    assert train["classes"]["counts"] == {"bird": {"old": 0, "new": 0, "change": 0},
                                          "cat": {"old": 2, "new": 3, "change": 1},
                                          "dog": {"old": 2, "new": 1, "change": -1}}
    assert (train["classes"]["appeared"], train["classes"]["vanished"]) == ([], [])

    test = drift["splits"]["test"]["classes"]
    assert test["linf"] == 0.5  # dog .5 -> 0, bird 0 -> .5
    assert (test["appeared"], test["vanished"]) == (["bird"], ["dog"])

    # A split only one version has has no class balance to compare; its records still count.
    assert drift["splits"]["validation"] == {"records": {"old": 0, "new": 1, "change": 1}, "classes": None}

    # Over all splits: cat 3, dog 3 against bird 1, cat 5, dog 1; dog moved most, 1/2 - 1/7.
    overall = drift["classes"]
    assert overall["linf"] == round(1 / 2 - 1 / 7, 4)
    assert overall["counts"]["cat"] == {"old": 3, "new": 5, "change": 2}
    assert (overall["appeared"], overall["vanished"]) == (["bird"], [])

    histograms = drift["histograms"]
    assert list(histograms) == ["images.width", "images.height", "images.bytes"]
    # width: all in [64, 128) against 4/7 there and 3/7 in [256, 512)
    assert histograms["images.width"]["js_divergence"] == round(_js_by_entropy({64: 1.0}, {64: 4 / 7, 256: 3 / 7}), 4)
    assert histograms["images.width"]["mean"] == {"old": 100.0, "new": round(1300 / 7, 3)}
    assert histograms["images.height"] == {"js_divergence": 0.0, "count": {"old": 6, "new": 7, "change": 1},
                                           "mean": {"old": 80.0, "new": 80.0}}
    assert histograms["images.bytes"]["js_divergence"] == 1.0

    assert drift["rejected"] == {
        "old": 1, "new": 3, "change": 2,
        "new_reasons": {"truncated": 1},
        "by_reason": {"corrupt": {"old": 1, "new": 2, "change": 1}, "truncated": {"old": 0, "new": 1, "change": 1}},
    }


def test_stats_drift_is_plain_json_in_a_stable_order(old_images, new_images):
    drift = stats_drift(old_images, new_images)
    text = json.dumps(drift)
    assert json.loads(text) == drift
    assert json.dumps(stats_drift(json.loads(json.dumps(old_images)), json.loads(json.dumps(new_images)))) == text

    def floats(x):
        if isinstance(x, dict):
            return [f for v in x.values() for f in floats(v)]
        if isinstance(x, list):
            return [f for v in x for f in floats(v)]
        return [x] if isinstance(x, float) else []

    assert floats(drift) and all(f == round(f, 4) for f in floats(drift))


def test_stats_drift_of_a_version_with_itself_is_nothing(old_images):
    drift = stats_drift(old_images, old_images)
    assert drift["classes"]["linf"] == 0.0
    assert all(s["classes"]["linf"] == 0.0 for s in drift["splits"].values())
    assert all(h["js_divergence"] == 0.0 for h in drift["histograms"].values())
    assert drift["rejected"]["new_reasons"] == {}
    assert over_thresholds(drift, max_linf=0.0, max_js=0.0) == []


def _text_stats(docs: list[tuple[str, str | None, int, int]], splits: list[str], labels) -> dict:
    """stats.json of a text dataset made by prep's own builder, from (split, label, tokens, ids
    written) of each record."""
    summary = Summary()
    for split, label, tokens, written in docs:
        summary.count("records", split)
        if label is not None:
            summary.count(f"classes/{split}", label)
        summary.count("tokens", split, tokens)
        summary.observe("tokens_per_document", tokens)
        summary.observe("ids_per_record", written)
    vocabulary = TokenVocabulary((b"the", b"movie"), source="vocab.txt")
    return json.loads(json.dumps(text_stats(summary.to_dict(), {}, vocabulary, labels, len(docs), splits, None)))


def test_stats_drift_of_two_text_datasets():
    old = _text_stats([("train", "neg", 10, 10), ("train", "pos", 10, 10), ("test", "neg", 3, 3)],
                      ["train", "test"], ("neg", "pos"))
    new = _text_stats([("train", "neg", 10, 10), ("train", "pos", 40, 32), ("test", "neg", 3, 3)],
                      ["train", "test"], ("neg", "pos"))
    drift = stats_drift(old, new)
    assert list(drift["histograms"]) == ["text.tokens_per_document", "text.ids_per_record"]
    # tokens per document: 10, 10, 3 in [8, 16), [8, 16), [2, 4) against 10, 40, 3: [32, 64) gets one third
    expected = _js_by_entropy({8: 2 / 3, 2: 1 / 3}, {8: 1 / 3, 32: 1 / 3, 2: 1 / 3})
    assert drift["histograms"]["text.tokens_per_document"]["js_divergence"] == round(expected, 4)
    assert drift["histograms"]["text.ids_per_record"]["js_divergence"] == round(expected, 4)
    assert drift["splits"]["train"]["classes"]["linf"] == 0.0
    assert drift["classes"]["linf"] == 0.0


def test_stats_drift_of_unlabelled_text_has_no_class_balance():
    old = _text_stats([("train", None, 5, 5)], ["train"], None)
    new = _text_stats([("train", None, 5, 5), ("train", None, 6, 6)], ["train"], None)
    drift = stats_drift(old, new)
    assert drift["classes"] is None and drift["splits"]["train"]["classes"] is None
    assert drift["histograms"]["text.tokens_per_document"]["js_divergence"] == 0.0
    assert over_thresholds(drift, max_linf=0.0, max_js=0.0) == []


def test_stats_drift_reads_a_detection_dataset_s_object_histograms():
    def stats(boxes: dict, sides: list[float]) -> dict:
        return {"splits": {s: {"records": 1, "classes": {"car": 1}} for s in boxes},
                "objects": {"boxes_per_image": {s: _dist(*n) for s, n in boxes.items()}, "box_side": _dist(*sides)}}

    old = stats({"train": [1, 1], "test": [1]}, [10, 12])
    new = stats({"train": [1, 2]}, [10, 40])
    histograms = stats_drift(old, new)["histograms"]
    assert list(histograms) == ["objects.box_side", "objects.boxes_per_image.train"]  # test: only in old
    # Both are [1, 0] against [1/2, 1/2], as in the known cases: sides [8, 16) twice against [8, 16)
    # and [32, 64); boxes per image [1, 2) twice against [1, 2) and [2, 4).
    half_moved = round(1.5 - 0.75 * log2(3), 4)
    assert histograms["objects.box_side"]["js_divergence"] == half_moved
    assert histograms["objects.boxes_per_image.train"]["js_divergence"] == half_moved


@pytest.mark.parametrize("old, new", [({}, {}), ({"splits": {"train": {"records": 3}}, "images": {"width": None}},
                                                   {"splits": {}, "images": {"width": _dist(5)}})])
def test_stats_drift_survives_stats_with_little_in_them(old, new):
    drift = stats_drift(old, new)
    assert drift["histograms"] == {}
    assert over_thresholds(drift, max_linf=0.0, max_js=0.0) == []


@pytest.mark.parametrize("max_linf, max_js, expected", [
    (None, None, []),
    (1.0, 1.0, []),
    (0.5, None, []),  # test moved exactly 0.5: not over
    (0.4, None, ["class balance of split test moved 0.5 (L-infinity), over --max-class-drift 0.4"]),
    (0.3, None, ["class balance of split test moved 0.5 (L-infinity), over --max-class-drift 0.3",
                 "class balance over all splits moved 0.3571 (L-infinity), over --max-class-drift 0.3"]),
    (None, 0.5, ["histogram of images.bytes moved 1.0 (Jensen-Shannon divergence), over --max-histogram-drift 0.5"]),
    (0.45, 0.2, ["class balance of split test moved 0.5 (L-infinity), over --max-class-drift 0.45",
                 "histogram of images.width moved 0.257 (Jensen-Shannon divergence), over --max-histogram-drift 0.2",
                 "histogram of images.bytes moved 1.0 (Jensen-Shannon divergence), over --max-histogram-drift 0.2"]),
])
def test_over_thresholds(old_images, new_images, max_linf, max_js, expected):
    assert over_thresholds(stats_drift(old_images, new_images), max_linf=max_linf, max_js=max_js) == expected
