"""Tests for prep.core.splits: stable hashing, split fractions and their parsing."""

from __future__ import annotations

import os
import re
from collections import Counter

import pytest

from prep.core.splits import (
    DEFAULT_SPLIT,
    SPLIT_FOLDERS,
    SplitFractions,
    edit_distance,
    lookalike,
    parse_split_fractions,
    stable_hash,
)

THREE_WAY = "train=0.8,validation=0.1,test=0.1"
# Paths a real SRC may hold: non-ASCII names, and a name that is not UTF-8 as Python decodes it.
ODD_PATHS = [
    "chats/été.jpg",
    "猫/写真 1.png",
    "émoji/😀.gif",
    os.fsdecode(b"caf\xe9/x\xff.jpg"),  # surrogate-escaped: 'caf\udce9/x\udcff.jpg'
    "",
    "a/" * 200 + "deep.jpg",
]


def _paths(n: int, prefix: str = "") -> list[str]:
    classes = ("cats", "dogs", "birds", "fish")
    return [f"{prefix}{classes[i % len(classes)]}/img_{i:06d}.jpg" for i in range(n)]


@pytest.mark.parametrize("identity", ["cats/1.jpg", *ODD_PATHS])
def test_stable_hash_is_a_deterministic_64_bit_integer(identity: str) -> None:
    first = stable_hash(identity, "split")
    assert first == stable_hash(identity, "split")
    assert isinstance(first, int)
    assert 0 <= first < 2**64


@pytest.mark.parametrize("identity", ["cats/1.jpg", *ODD_PATHS])
def test_stable_hash_depends_on_the_salt(identity: str) -> None:
    assert stable_hash(identity, "split") != stable_hash(identity, "shard")


def test_stable_hash_tells_surrogate_escaped_bytes_from_the_decoded_name() -> None:
    assert stable_hash(os.fsdecode(b"caf\xe9.jpg"), "split") != stable_hash("café.jpg", "split")


def test_stable_hash_separates_salt_from_identity() -> None:
    # Without a separator ('ab', 'c') and ('a', 'bc') would hash the same.
    assert stable_hash("c", "ab") != stable_hash("bc", "a")


def test_stable_hash_spreads_over_the_whole_range() -> None:
    values = [stable_hash(p, "split") for p in _paths(4000)]
    assert len(set(values)) == len(values)
    top_bits = Counter(v >> 62 for v in values)
    assert set(top_bits) == {0, 1, 2, 3}
    assert all(800 < n < 1200 for n in top_bits.values())


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("train=1", (("train", 1.0),)),
        ("train=0.8,test=0.2", (("train", 0.8), ("test", 0.2))),
        (THREE_WAY, (("train", 0.8), ("validation", 0.1), ("test", 0.1))),
        (" train = 0.5 , test = 0.5 ", (("train", 0.5), ("test", 0.5))),
        ("test=0.2,train=0.8", (("test", 0.2), ("train", 0.8))),
        ("split_2=0.25,a1=0.75", (("split_2", 0.25), ("a1", 0.75))),
        ("train=.5,test=5e-1", (("train", 0.5), ("test", 0.5))),
    ],
)
def test_parse_split_fractions_keeps_names_and_order(text: str, items: tuple) -> None:
    fractions = parse_split_fractions(text)
    assert fractions.items == items
    assert fractions.names == tuple(name for name, _ in items)


@pytest.mark.parametrize(
    "text",
    [
        "train=0.7,validation=0.2,test=0.1",  # 0.9999999999999999 in floating point
        ",".join(f"s{i}=0.1" for i in range(10)),
        ",".join(f"s{i}={1 / 3!r}" for i in range(3)),
        "train=0.5,test=0.5000001",  # within the 1e-6 tolerance
        "a=0.3,b=0.3,c=0.4",
    ],
)
def test_parse_split_fractions_accepts_sums_within_float_tolerance(text: str) -> None:
    assert sum(f for _, f in parse_split_fractions(text).items) == pytest.approx(1, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train", "'train' is not NAME=FRACTION (e.g. train=0.8,test=0.2)"),
        ("", "'' is not NAME=FRACTION"),
        ("train=1,", "'' is not NAME=FRACTION"),
        ("train:0.8,test=0.2", "'train:0.8' is not NAME=FRACTION"),
        ("Train=1", "split name 'Train' must be lower-case letters, digits and _ (it names the shard files)"),
        ("=1", "split name '' must be lower-case letters"),
        ("1st=1", "split name '1st' must be lower-case letters"),
        ("my-split=1", "split name 'my-split' must be lower-case letters"),
        ("été=1", "split name 'été' must be lower-case letters"),
        ("train=0.5,train=0.5", "split 'train' is given twice"),
        ("train=abc", "fraction of 'train' is 'abc', not a number"),
        ("train=", "fraction of 'train' is '', not a number"),
        ("train= 80% ", "fraction of 'train' is '80%', not a number"),
        ("train=0,test=1", "fraction of 'train' must be in (0, 1], not 0"),
        ("train=-0.5,test=1.5", "fraction of 'train' must be in (0, 1], not -0.5"),
        ("train=1.5", "fraction of 'train' must be in (0, 1], not 1.5"),
        ("train=nan", "fraction of 'train' must be in (0, 1], not nan"),
        ("train=inf", "fraction of 'train' must be in (0, 1], not inf"),
        ("train=0.8,test=0.1", "fractions add up to 0.9; they must add up to 1"),
        ("train=0.8,test=0.3", "fractions add up to 1.1; they must add up to 1"),
        ("train=0.5,test=0.50001", "fractions add up to 1.00001; they must add up to 1"),
    ],
)
def test_parse_split_fractions_names_each_mistake(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_split_fractions(text)


@pytest.mark.parametrize("text", ["train=1", "train=0.5,test=0.5", THREE_WAY])
def test_assign_is_deterministic_across_calls_and_equal_objects(text: str) -> None:
    paths = _paths(500) + ODD_PATHS
    first = [parse_split_fractions(text).assign(p) for p in paths]
    again = parse_split_fractions(text)
    assert [again.assign(p) for p in paths] == first
    assert [again.assign(p) for p in reversed(paths)] == first[::-1]


@pytest.mark.parametrize("path", ODD_PATHS)
def test_assign_takes_any_path(path: str) -> None:
    fractions = parse_split_fractions(THREE_WAY)
    assert fractions.assign(path) in fractions.names


def test_a_single_split_takes_everything() -> None:
    fractions = parse_split_fractions(f"{DEFAULT_SPLIT}=1")
    assert {fractions.assign(p) for p in _paths(1000) + ODD_PATHS} == {DEFAULT_SPLIT}


@pytest.mark.parametrize(
    "text",
    [
        THREE_WAY,
        "train=0.5,test=0.5",
        "test=0.05,train=0.95",
        "a=0.25,b=0.25,c=0.25,d=0.25",
        "train=0.7,validation=0.2,test=0.1",
    ],
)
def test_assign_matches_the_fractions(text: str) -> None:
    n = 20_000
    fractions = parse_split_fractions(text)
    counts = Counter(fractions.assign(p) for p in _paths(n))
    for name, fraction in fractions.items:
        assert counts[name] / n == pytest.approx(fraction, abs=0.02), (name, counts)


def test_adding_paths_never_moves_existing_ones() -> None:
    fractions = parse_split_fractions(THREE_WAY)
    before = {p: fractions.assign(p) for p in _paths(2000)}
    grown = _paths(2000) + _paths(3000, prefix="new/") + ODD_PATHS
    after = {p: fractions.assign(p) for p in sorted(grown, reverse=True)}
    assert {p: after[p] for p in before} == before


def test_the_order_of_splits_decides_which_part_of_the_hash_range_each_gets() -> None:
    paths = _paths(200)
    forward = SplitFractions((("train", 0.5), ("test", 0.5)))
    backward = SplitFractions((("test", 0.5), ("train", 0.5)))
    assert all(forward.assign(p) != backward.assign(p) for p in paths)


def test_split_folder_names_are_valid_split_names() -> None:
    text = ",".join(f"{name}={1 / len(SPLIT_FOLDERS)!r}" for name in SPLIT_FOLDERS)
    assert parse_split_fractions(text).names == SPLIT_FOLDERS


@pytest.mark.parametrize(("a", "b", "distance"), [
    ("train", "train", 0), ("trian", "train", 1), ("tran", "train", 1), ("trains", "train", 1),
    ("trxin", "train", 1), ("validaton", "validation", 1), ("valdaton", "validation", 2),
    ("ca", "abc", 3),  # optimal string alignment: a swapped pair is not edited again
    ("", "test", 4),
])
def test_edit_distance_counts_insertions_deletions_substitutions_and_swaps(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == edit_distance(b, a) == distance


@pytest.mark.parametrize(("name", "meant"), [
    ("validaton", "validation"), ("valdiation", "validation"), ("validatoin", "validation"),
    ("alidation", "validation"), ("valdaton", "validation"),  # two edits in a long name
    ("trian", "train"), ("tran", "train"), ("trains", "train"), ("tset", "test"), ("tests", "test"),
    ("tst", "test"), ("vall", "val"), ("devv", "dev"), ("evl", "eval"), ("vaild", "valid"),
])
def test_a_name_a_letter_away_from_a_usual_one_is_a_lookalike(name: str, meant: str) -> None:
    assert lookalike(name) == meant


@pytest.mark.parametrize("name", [
    *SPLIT_FOLDERS, "val", "valid", "dev", "eval",  # the usual names themselves
    "train2", "test_1", "train_small", "val1",  # digits and '_': a name of its own
    "all", "rest", "best", "rain",  # a letter away, but not at the start: words of their own
    "holdout", "extra", "query", "gallery", "support", "unlabeled", "training", "testing", "validate", "calib",
])
def test_other_names_are_names_of_their_own(name: str) -> None:
    assert lookalike(name) is None


@pytest.mark.parametrize("text", ["train=0.8,validaton=0.2", "trian=0.9,test=0.1", "train=0.9,tests=0.1"])
def test_a_misspelt_split_name_is_refused_unless_custom_names_are_meant(text: str) -> None:
    with pytest.raises(ValueError, match=r"looks like a misspelling of '(validation|train|test)': write \w+, "
                                         r"or pass --custom-split-names if '\w+' is meant"):
        parse_split_fractions(text)
    assert parse_split_fractions(text, custom_names=True).names == tuple(p.split("=")[0] for p in text.split(","))
