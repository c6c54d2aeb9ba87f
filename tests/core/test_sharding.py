"""Tests for prep.core.sharding: size parsing, shard counts, shard assignment and shard file names."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from prep.core.sharding import num_shards_for_size, order_key, parse_size, shard_file_name, shard_index, shard_suffix

KB, MB, GB, TB = 10**3, 10**6, 10**9, 10**12
KIB, MIB, GIB = 2**10, 2**20, 2**30
# TFDS's {SPLIT}-{SHARD_X_OF_Y}.{FILEFORMAT} with its five-digit shard numbers.
TFDS_NAME = re.compile(r"^(?P<split>[a-z][a-z0-9_]*)-(?P<index>\d{5})-of-(?P<count>\d{5})\.tfrecord(?P<ext>\.gz|\.zz)?$")


def _keys(n: int) -> list[str]:
    return [f"{('cats', 'dogs', 'birds')[i % 3]}/img_{i:06d}.jpg" for i in range(n)]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4096", 4096),
        ("7B", 7),
        ("7b", 7),
        ("100MB", 100 * MB),
        ("100mb", 100 * MB),
        ("100M", 100 * MB),
        ("100 MB", 100 * MB),
        ("  100MB  ", 100 * MB),
        ("64MiB", 64 * MIB),
        ("64mib", 64 * MIB),
        ("64Mi", 64 * MIB),
        ("500k", 500 * KB),
        ("500K", 500 * KB),
        ("500kB", 500 * KB),
        ("2KiB", 2 * KIB),
        ("1G", GB),
        ("1GB", GB),
        ("1GiB", GIB),
        ("1.5G", 1_500_000_000),
        ("1.5GiB", 3 * GIB // 2),
        ("0.5k", 500),
        ("1.25MB", 1_250_000),
        ("2.5MiB", 5 * MIB // 2),
        ("0.1GB", 100 * MB),
        ("2T", 2 * TB),
        ("1TiB", 2**40),
        ("1.5", 2),  # a fraction of a byte rounds to the nearest byte
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_size_tells_decimal_from_binary_units() -> None:
    assert parse_size("100MB") == 100_000_000
    assert parse_size("100MiB") == 104_857_600
    assert parse_size("100MiB") > parse_size("100MB")


@pytest.mark.parametrize(
    "text",
    ["", " ", "MB", "abc", "-5MB", "+5MB", "1e6", "1.MB", ".5MB", "1,5MB", "5PB", "5XB", "5 M B", "5MBs", "5MiBB", "1_000"],
)
def test_parse_size_refuses_what_is_not_a_size(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{text!r} is not a size (e.g. 100MB, 64MiB, 1GB)")):
        parse_size(text)


@pytest.mark.parametrize("text", ["0", "0MB", "0.0GiB", "0.4", "0.0001k"])
def test_parse_size_refuses_zero_bytes(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"size {text!r} must be more than 0 bytes")):
        parse_size(text)


@pytest.mark.parametrize(
    ("total_bytes", "shard_size", "shards"),
    [
        (0, 100, 1),
        (1, 100, 1),
        (99, 100, 1),
        (100, 100, 1),
        (101, 100, 2),
        (200, 100, 2),
        (201, 100, 3),
        (10 * GB, 100 * MB, 100),
        (10 * GB + 1, 100 * MB, 101),
        (5 * GIB, 64 * MIB, 80),
        (1, 1, 1),
    ],
)
def test_num_shards_for_size(total_bytes: int, shard_size: int, shards: int) -> None:
    assert num_shards_for_size(total_bytes, shard_size) == shards


@pytest.mark.parametrize("num_shards", [1, 2, 3, 7, 16, 1000])
def test_shard_index_is_in_range_and_deterministic(num_shards: int) -> None:
    keys = _keys(3000)
    indices = [shard_index(k, num_shards) for k in keys]
    assert all(0 <= i < num_shards for i in indices)
    assert [shard_index(k, num_shards) for k in reversed(keys)] == indices[::-1]


def test_a_single_shard_takes_every_record() -> None:
    assert {shard_index(k, 1) for k in _keys(1000)} == {0}


@pytest.mark.parametrize("keys", [_keys(16_000), [f"train/{i}" for i in range(16_000)]], ids=["paths", "counters"])
def test_shard_index_balances_16_shards(keys: list[str]) -> None:
    counts = Counter(shard_index(k, 16) for k in keys)
    mean = len(keys) / 16
    assert sorted(counts) == list(range(16))
    assert max(counts.values()) <= 1.15 * mean, counts
    assert min(counts.values()) >= 0.85 * mean, counts


def test_shard_index_mixes_classes_into_every_shard() -> None:
    classes_per_shard: dict[int, set[str]] = {}
    for key in _keys(600):
        classes_per_shard.setdefault(shard_index(key, 16), set()).add(key.split("/")[0])
    assert all(classes == {"cats", "dogs", "birds"} for classes in classes_per_shard.values())


def test_order_key_is_deterministic_and_independent_of_the_shard_hash() -> None:
    keys = _keys(2000)
    orders = [order_key(k) for k in keys]
    assert orders == [order_key(k) for k in keys]
    assert len(set(orders)) == len(keys)
    assert all(0 <= o < 2**64 for o in orders)
    # Sorting by order_key within one shard must not reproduce the shard hash's own order.
    in_shard = [k for k in keys if shard_index(k, 4) == 0]
    assert sorted(in_shard, key=order_key) != sorted(in_shard, key=lambda k: shard_index(k, 2**62))


def test_order_key_mixes_classes_and_ignores_arrival_order() -> None:
    keys = [f"cats/{i:04d}.jpg" for i in range(100)] + [f"dogs/{i:04d}.jpg" for i in range(100)]
    ordered = sorted(keys, key=order_key)
    assert ordered == sorted(reversed(keys), key=order_key)
    assert ordered != keys
    assert {k.split("/")[0] for k in ordered[:20]} == {"cats", "dogs"}


@pytest.mark.parametrize(
    ("split", "index", "num_shards", "compression", "name"),
    [
        ("train", 3, 16, "none", "train-00003-of-00016.tfrecord"),
        ("train", 3, 16, "gzip", "train-00003-of-00016.tfrecord.gz"),
        ("train", 3, 16, "zlib", "train-00003-of-00016.tfrecord.zz"),
        ("validation", 0, 1, "none", "validation-00000-of-00001.tfrecord"),
        ("test", 99998, 99999, "gzip", "test-99998-of-99999.tfrecord.gz"),
        ("split_2", 10, 11, "none", "split_2-00010-of-00011.tfrecord"),
    ],
)
def test_shard_file_name_follows_the_tfds_template(
    split: str, index: int, num_shards: int, compression: str, name: str
) -> None:
    assert shard_file_name(split, index, num_shards, compression) == name
    match = TFDS_NAME.match(name)
    assert match and match["split"] == split
    assert (int(match["index"]), int(match["count"])) == (index, num_shards)
    assert name.endswith(shard_suffix(compression))


def test_shard_file_names_sort_in_shard_order() -> None:
    names = [shard_file_name("train", i, 120, "none") for i in range(120)]
    assert sorted(names) == names
    assert len(set(names)) == 120


@pytest.mark.parametrize("text, size", [("2.01kB", 2010), ("2.01MB", 2_010_000), ("4.02kB", 4020), ("0.5KiB", 512)])
def test_decimal_sizes_round_to_the_nearest_byte(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_binary_marker_needs_a_unit() -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size("1iB")


def test_shard_count_is_exact_for_huge_totals() -> None:
    assert num_shards_for_size(2**53 + 1, 1) == 2**53 + 1
