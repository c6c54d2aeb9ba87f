"""Shard layout: how many shards a split gets, which shard a record goes to, and the file names.

Pure functions of a record's key and the split's totals (as TensorFlow Datasets' writer does): the
layout never depends on the order records arrive in or on how many workers ran.
"""

from __future__ import annotations

import re

from prep.core.splits import stable_hash

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(i?))?b?\s*$", re.IGNORECASE)
_SUFFIXES = {"none": ".tfrecord", "gzip": ".tfrecord.gz", "zlib": ".tfrecord.zz"}


def parse_size(text: str) -> int:
    """Bytes in '100MB' (10**6), '64MiB' (2**20), '1.5G', '500k' or '4096'."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size (e.g. 100MB, 64MiB, 1GB)")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    size = round(float(number) * base ** " kmgt".index((unit or " ").lower()))
    if size <= 0:
        raise ValueError(f"size {text!r} must be more than 0 bytes")
    return size


def num_shards_for_size(total_bytes: int, shard_size: int) -> int:
    """Shards needed so that each holds about `shard_size` bytes of records (at least one)."""
    return max(1, -(-total_bytes // shard_size))


def shard_index(record_key: str, num_shards: int) -> int:
    """The shard of a record, from a hash of its key: shards come out even in size, with no hot shard."""
    return stable_hash(record_key, "shard") % num_shards


def order_key(record_key: str) -> int:
    """Sort key of a record within its shard: a hash, so classes are mixed within every shard."""
    return stable_hash(record_key, "order")


def shard_suffix(compression: str) -> str:
    return _SUFFIXES[compression]


def shard_file_name(split: str, index: int, num_shards: int, compression: str) -> str:
    """'<split>-00003-of-00016.tfrecord[.gz]', TFDS's {SPLIT}-{SHARD_X_OF_Y} template."""
    return f"{split}-{index:05d}-of-{num_shards:05d}{shard_suffix(compression)}"


INDEX_DIR = "index"


def index_file_name(shard_file: str, compression: str) -> str | None:
    """Where an uncompressed shard's record index goes, relative to the dataset directory:
    'index/<shard file>.idx', in a folder of its own so that a glob of the shards ('train-*') never
    takes an index for a shard. None for a compressed shard (an index points into the bytes on disk)."""
    return f"{INDEX_DIR}/{shard_file}.idx" if compression == "none" else None

