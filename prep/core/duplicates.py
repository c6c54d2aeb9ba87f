"""Duplicate records: exact copies (the same content: an image's stored bytes, a document's normalised
text) and, for images, near copies (perceptual hashes a few bits apart). Copies across splits are
leakage: a test record the model trained on inflates accuracy.

Pure logic; beam_jobs/duplicates.py groups the records by content and by hash band around it.
"""

from __future__ import annotations

import functools
import hashlib
import math
from typing import Any, Callable, Iterable, NamedTuple

from prep.core.splits import split_rank

# Near copies (re-encoded, resized, recompressed, cropped a little, brighter or darker): at most NEAR_BITS of
# the 64 hash bits differ, and their YCbCr pictures (prep.images.fingerprint: luma 8x8, chroma 4x4) are alike:
# the luma, once scaled by the ratio of the two brightnesses (at most NEAR_GAIN, either way), within
# NEAR_GREY_LEVELS on average, and the chroma within NEAR_COLOUR_LEVELS; chosen by bench/duplicates.py
# (bench/RESULTS.md).
NEAR_BITS = 12
NEAR_GREY_LEVELS = 10
NEAR_COLOUR_LEVELS = 4
NEAR_GAIN = 1.12
LUMA_BYTES = 64  # of a picture: its 8x8 luma; the rest is chroma
# The hash is cut into 4 bands of 16 bits; each band's bucket key is its high bits (the high byte up to a
# million images), and every two images of a bucket are compared (compare_bucket): copies up to 3 bits apart
# always share a band (pigeonhole); further apart, most share a band's high byte.
BANDS = 4
MAX_BUCKET = 500     # a band value shared by more images than this (blank images, logos) is split by the other bands
MAX_COMPARED = 16384  # a band bucket of more images than this compares each band value with those <= 2 low bits apart
# How many copies a shuffle bucket is sized for: the keys get more bits as the input grows (key_bits), so no
# bucket grows with the dataset. 8 bits (256 buckets of each kind) up to 1M images.
EXACT_PER_BUCKET = 4096
BAND_PER_BUCKET = 4096
EXAMPLES = 50        # groups or pairs listed in stats.json
REASON = "duplicate"  # rejected.jsonl's reason for a copy --dedupe drops
NEAR_REASON = "near_duplicate_across_splits"  # ... and for a near copy --dedupe-near drops
# The facts duplicate detection adds to a job's summary (prep.core.statistics.Summary) for stats.json:
GROUP_FACT = "duplicate_group"  # (GROUP_FACT, [Copy, ...]): a group of exact copies
NEAR_FACT = "near_found"        # (NEAR_FACT, near_found(every near pair)): the job's near copies, found once
CROWDED_FACT = "near_crowded"   # (CROWDED_FACT, images): images of one hash, more than MAX_BUCKET, not compared
SPLIT_FACT = "near_split"       # (SPLIT_FACT, images): a band value shared by more than MAX_BUCKET images, split


def content_digest(data: bytes) -> bytes:
    """A 128-bit hash of content (an encoded image's bytes, a document's normalised text): equal
    digests are exact copies."""
    return hashlib.sha256(data).digest()[:16]  # SHA-256 runs on the CPU's SHA instructions: 2x blake2b here


class Copy(NamedTuple):
    """What duplicate detection needs of a record: small, as it goes through two shuffles."""

    relative_path: str
    split: str
    digest: bytes
    fingerprint: int = 0  # images: perceptual hash; 0: none, never compared for near copies
    line: int = 0         # text: the line the document starts on; 0: the whole file is the record
    thumbnail: bytes = b""  # images: the hash's YCbCr picture (96 bytes), the second check of a near pair

    @property
    def name(self) -> str:
        """How stats.json and rejected.jsonl name the record: its path, and line within a file of many."""
        return f"{self.relative_path}:{self.line}" if self.line else self.relative_path


class Content(NamedTuple):
    """What a job's (split, key, value) records are to duplicate detection."""

    copy: Callable[[Any], Copy]
    rejection: Callable[[Copy, Copy], dict]  # (kept, dropped) -> the rejected.jsonl row of the dropped copy
    size: Callable[[Any], int]               # a record's bytes, to bound what a worker holds while it batches records
    near: bool = False                       # also look for near copies by perceptual hash


def _order(copy: Copy) -> tuple[str, int]:
    return copy.relative_path, copy.line


def survivor(copies: Iterable[Copy]) -> tuple[Copy, list[Copy]]:
    """The copy kept by --dedupe (one of the first split, train, validation, test, then others by name,
    so a copy across splits keeps the training one; of those the first by path, then line: the same on
    every run, whatever the worker count) and the others."""
    ordered = sorted(copies, key=lambda c: (split_rank(c.split), _order(c)))
    return ordered[0], ordered[1:]


def dropped_detail(kept: Copy, what: str, rule: str = "path") -> str:
    """rejected.jsonl's detail for a copy --dedupe drops: `what` it shares with `kept`, by which `rule` kept won."""
    return f"the same {what} as {kept.name} (kept: the first by split, train first, then {rule}; --dedupe)"


def bands(fingerprint: int) -> list[tuple[int, int]]:
    """(band number, 16-bit value) of each band of a 64-bit hash."""
    return [(b, fingerprint >> (16 * b) & 0xFFFF) for b in range(BANDS)]


def key_bits(count: int, per_bucket: int, low: int, high: int) -> int:
    """Bits of a bucket key (from `low` to `high`) so that `count` records fill 2**bits buckets with
    about `per_bucket` each."""
    need = math.ceil(math.log2(count / per_bucket)) if count > per_bucket else 0
    return min(high, max(low, need))


def buckets(copy: Copy, near: bool, count: int = 0) -> list[tuple]:
    """The shuffle buckets a copy goes to, sized for `count` inputs (key_bits): ("exact", digest prefix,
    bits), and with `near` one ("band", band number, prefix of its value, bits) per band of a
    fingerprinted copy. Copies that must be compared always share a bucket, and the few hundred
    buckets of a small job let it send one batch of copies per bucket rather than one element per
    record and band."""
    exact = key_bits(count, EXACT_PER_BUCKET, 8, 32)
    keys: list[tuple] = [("exact", int.from_bytes(copy.digest[:4], "big") >> (32 - exact), exact)]
    if near and copy.fingerprint:
        bits = key_bits(count, BAND_PER_BUCKET, 8, 16)
        keys += [("band", band, value >> (16 - bits), bits) for band, value in bands(copy.fingerprint)]
    return keys


def _band_value(copy: Copy, band: int) -> int:
    return copy.fingerprint >> (16 * band) & 0xFFFF


def _split_crowded(group: list[Copy], band: int) -> tuple[list[NearPair], list[int]]:
    """A band value shared by more than MAX_BUCKET images, compared within sub-groups that also share
    the next bands (pairs differing in all of them are not found there, but may be through those
    bands' own buckets); the sizes of the sub-groups of one whole hash still too large to compare."""
    groups, crowded = [group], []
    for other in range(band + 1, band + BANDS):
        large = [g for g in groups if len(g) > MAX_BUCKET]
        groups = [g for g in groups if len(g) <= MAX_BUCKET]
        for g in large:
            same: dict = {}
            for copy in g:
                same.setdefault(_band_value(copy, other % BANDS), []).append(copy)
            groups += same.values()
    crowded = [len(g) for g in groups if len(g) > MAX_BUCKET]  # every band agrees: the same hash
    return [pair for g in groups if 1 < len(g) <= MAX_BUCKET for pair in near_pairs(g)], crowded


class Compared(NamedTuple):
    """What one bucket's comparison found: groups of exact copies, near pairs, the sizes of the crowded
    band values split by the other bands, and of the groups of one hash too large to compare."""

    groups: list
    pairs: list
    split: list
    crowded: list


def compare_bucket(key: tuple, copies: Iterable[Copy]) -> Compared:
    """The groups of exact copies (an "exact" bucket), or the near pairs (a "band" bucket), among one
    bucket's copies."""
    same: dict = {}
    if key[0] == "exact":
        for copy in copies:
            same.setdefault(copy.digest, []).append(copy)
        return Compared([group for group in same.values() if len(group) > 1], [], [], [])
    band, bits = key[1], key[3]
    for copy in copies:
        if copy.fingerprint:  # 0: too small or flat to compare
            same.setdefault(_band_value(copy, band), []).append(copy)
    pairs, split, crowded = [], [], []
    for group in same.values():
        if len(group) > MAX_BUCKET:
            found, too_large = _split_crowded(group, band)
            pairs += found
            split.append(len(group))
            crowded += too_large
    loose = {value: group for value, group in same.items() if len(group) <= MAX_BUCKET}
    if sum(len(group) for group in loose.values()) <= MAX_COMPARED:
        pairs += close_pairs([copy for group in loose.values() for copy in group])
    else:
        pairs += _compare_neighbours(loose, min(8, 16 - bits))
    return Compared([], pairs, split, crowded)


def close_pairs(copies: list[Copy]) -> list[NearPair]:
    """The near pairs among `copies`, every two compared (hash distances in numpy, 512 rows at a time)."""
    import numpy as np

    if len(copies) < 2:
        return []
    prints = np.array([copy.fingerprint for copy in copies], np.uint64)
    columns = np.arange(len(copies))
    pairs = []
    for start in range(0, len(copies), 512):
        rows = slice(start, start + 512)
        close = (_popcount(prints[rows, None] ^ prints[None, :]) <= NEAR_BITS) & (columns > columns[rows, None])
        for i, j in zip(*np.nonzero(close)):
            if pair := _near_pair(copies[start + i], copies[j]):
                pairs.append(pair)
    return pairs


def _popcount(words):
    """The set bits of each uint64 (numpy's bitwise_count; a byte table where numpy is older than 2.0)."""
    import numpy as np

    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    return _byte_counts()[words[..., None].view(np.uint8)].sum(-1)


@functools.lru_cache(maxsize=1)
def _byte_counts():
    """The set bits of each byte value (a 256-entry numpy table), built once."""
    import numpy as np

    return np.array([bin(byte).count("1") for byte in range(256)], np.uint8)


def _compare_neighbours(same: dict, low_bits: int) -> list[NearPair]:
    """The near pairs of a bucket too large to compare every two: within each band value, and between
    values one or two bits apart in the `low_bits` the bucket key leaves out."""
    pairs = [pair for group in same.values() if len(group) > 1 for pair in near_pairs(group)]
    free = _neighbour_masks(low_bits)
    for value, group in same.items():
        for mask in free:
            other = same.get(value ^ mask)
            if other is not None and value < value ^ mask:
                pairs += near_pairs_between(group, other)
    return pairs


@functools.lru_cache(maxsize=16)
def _neighbour_masks(low_bits: int) -> tuple[int, ...]:
    """The XOR masks of the values one or two bits apart in the lowest `low_bits` bits."""
    one = [1 << i for i in range(low_bits)]
    return tuple(one + [a | b for i, a in enumerate(one) for b in one[i + 1:]])


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def alike(a: bytes, b: bytes) -> bool:
    """The second check of a near pair: their YCbCr pictures (prep.images.fingerprint: 64 bytes of luma,
    then 32 of chroma; a copy without one, as a hash alone gives, passes). Luma: brightnesses at most
    NEAR_GAIN apart, and once the dimmer is scaled to the other's brightness (a copy made brighter or
    darker), within NEAR_GREY_LEVELS on average; chroma: within NEAR_COLOUR_LEVELS on average.
    Symmetric: alike(a, b) == alike(b, a)."""
    if len(a) != len(b) or not a:
        return True
    luma = LUMA_BYTES
    bright_a, bright_b = sum(a[:luma]) + 1, sum(b[:luma]) + 1
    if bright_a < bright_b:  # the dimmer one is scaled up: the same answer whichever comes first
        a, b, bright_a, bright_b = b, a, bright_b, bright_a
    gain = bright_a / bright_b
    if gain > NEAR_GAIN:
        return False
    grey = sum(abs(x - gain * y) for x, y in zip(a[:luma], b[:luma]))
    colour = sum(abs(x - y) for x, y in zip(a[luma:], b[luma:]))
    return grey <= NEAR_GREY_LEVELS * luma and colour <= NEAR_COLOUR_LEVELS * (len(a) - luma)


def near_pairs(copies: list[Copy]) -> list[NearPair]:
    """The near pairs among images sharing a hash band; exact copies are left to the exact check."""
    copies = [c for c in copies if c.fingerprint]  # 0: too small or flat to compare
    return [pair for i, a in enumerate(copies) for b in copies[i + 1:] if (pair := _near_pair(a, b))]


def near_pairs_between(copies: list[Copy], others: list[Copy]) -> list[NearPair]:
    """The near pairs of one image of `copies` and one of `others`."""
    return [pair for a in copies for b in others if (pair := _near_pair(a, b))]


def _near_pair(a: Copy, b: Copy) -> NearPair | None:
    bits = hamming(a.fingerprint, b.fingerprint)
    if bits > NEAR_BITS or a.digest == b.digest or not alike(a.thumbnail, b.thumbnail):
        return None
    first, second = sorted(((a.name, a.split), (b.name, b.split)))
    return NearPair(first[0], first[1], second[0], second[1], bits)


class NearPair(NamedTuple):
    """Two near copies (names in order) and their splits, `bits` apart."""

    first: str
    first_split: str
    second: str
    second_split: str
    bits: int


def near_groups(pairs: Iterable[NearPair]) -> list[dict]:
    """The connected components of the near pairs: each image of a group is a near copy of another
    one of it (a chain of re-encodings can put two members further apart than NEAR_BITS). Each group
    lists its members by name with their splits and the largest distance of a pair in it; groups that
    span splits come first (leakage), then by size, then by name."""
    parent: dict[str, str] = {}
    splits: dict[str, str] = {}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    widest: dict[str, int] = {}
    for pair in pairs:
        for name, split in ((pair.first, pair.first_split), (pair.second, pair.second_split)):
            parent.setdefault(name, name)
            splits[name] = split
        a, b = root(pair.first), root(pair.second)
        if a != b:
            a, b = min(a, b), max(a, b)
            parent[b] = a
            widest[a] = max(widest.get(a, 0), widest.pop(b, 0))
        widest[a] = max(widest.get(a, 0), pair.bits)
    members: dict[str, list[str]] = {}
    for name in parent:
        members.setdefault(root(name), []).append(name)
    groups = [{"paths": sorted(names), "splits": [splits[n] for n in sorted(names)], "max_differing_bits": widest[r]}
              for r, names in members.items()]
    return sorted(groups, key=lambda g: (len(set(g["splits"])) == 1, -len(g["paths"]), g["paths"]))


def near_found(pairs: Iterable[tuple]) -> dict:
    """The job's near copies, from every near pair it found (a pair sharing several bands comes once per
    band): {"pairs": the distinct pairs, "groups": their near_groups}. Computed once, in one step of the
    job, for stats.json and --dedupe-near alike."""
    distinct = set(NearPair._make(p) for p in pairs)
    return {"pairs": len(distinct), "groups": near_groups(distinct)}


def near_drops(groups: list[dict]) -> list[dict]:
    """The rejected.jsonl rows of the near copies --dedupe-near drops: in each group that spans splits,
    every member outside the group's first split (train, then validation, test, then others by name),
    so the training copy stays and no near copy of it is left in another split."""
    rows = []
    for group in groups:
        members = list(zip(group["paths"], group["splits"]))
        if len({split for _, split in members}) < 2:
            continue
        first = min((split for _, split in members), key=split_rank)  # the group's first split (train first) keeps its copies
        kept = [name for name, split in members if split == first]
        for name, split in members:
            if split != first:
                rows.append({"path": name, "reason": NEAR_REASON, "detail": (
                    f"a near copy (at most {group['max_differing_bits']} of 64 hash bits apart in its group) of "
                    f"{kept[0]}{f' and {len(kept) - 1} more' if len(kept) > 1 else ''} in split {first} "
                    f"(kept: the copies in {first}; --dedupe-near)")})
    return rows


def add_fact(summary, fact: tuple) -> bool:
    """Collects a fact of duplicate detection into a job's `Summary`; False for any other fact."""
    if fact[0] in (GROUP_FACT, NEAR_FACT):
        summary.collect(fact[0], fact[1])
        return True
    if fact[0] in (CROWDED_FACT, SPLIT_FACT):
        summary.count(fact[0], "band_values")
        summary.count(fact[0], "images", fact[1])
        return True
    return False


def from_summary(summary: dict, near: bool, dedupe: bool = False, dedupe_near: bool = False) -> dict:
    """stats.json's "duplicates" from a job's combined summary (`near`: whether near copies were looked
    for; `dedupe`, `dedupe_near`: whether the job dropped copies); copies --dedupe dropped are the
    summary's rejections for REASON."""
    rejected = summary.get("rejected", {})
    crowded, split = summary.get(CROWDED_FACT, {}), summary.get(SPLIT_FACT, {})
    found = summary.get(NEAR_FACT) or [near_found([])]
    return summarize(summary.get(GROUP_FACT, []), found[0] if near else None,
                     rejected.get(REASON, 0), rejected.get(NEAR_REASON, 0),
                     (crowded.get("band_values", 0), crowded.get("images", 0)),
                     (split.get("band_values", 0), split.get("images", 0)), dedupe, dedupe_near)


class Leak(NamedTuple):
    """Groups of copies across splits in a dataset's stats: how many, and how many still span splits
    in what was written (the rest had their copies outside one split dropped)."""

    across: int
    left: int

    @property
    def dropped(self) -> bool:
        return self.across > 0 and self.left == 0


def leaks(duplicates: dict) -> dict[str, Leak]:
    """The Leak of each kind of copy ("exact", and "near" for images) in stats.json's "duplicates"; the
    stats of a dataset written before groups_left_across_splits tell only whether copies were dropped."""
    found = {}
    for kind, dropped in (("exact", "dropped_by_dedupe"), ("near", "dropped_by_dedupe_near")):
        if kind in (duplicates or {}):
            d = duplicates[kind] or {}
            across = d.get("groups_across_splits") or 0
            found[kind] = Leak(across, d.get("groups_left_across_splits", 0 if d.get(dropped) else across))
    return found


def summarize(groups: list[list[Copy]], near: dict | None, dropped: int = 0, near_dropped: int = 0,
              crowded: tuple[int, int] = (0, 0), split: tuple[int, int] = (0, 0), dedupe: bool = False,
              dedupe_near: bool = False) -> dict:
    """stats.json's "duplicates": `groups` are groups of exact copies; `near` the near copies as
    `near_found` gives them (None where near copies are not looked for: text). Groups spanning splits come first: they
    are leakage. `dropped`, `near_dropped`: copies --dedupe and --dedupe-near left out; `split`: the band
    values shared by more than MAX_BUCKET images, and their images, compared within the other bands;
    `crowded`: the groups of one hash too large to compare, and their images (said, not silent).
    `groups_left_across_splits`: the groups across splits whose copies the dataset still holds in more
    than one split: none once --dedupe (exact) or --dedupe-near (near) kept each group's first split."""
    groups = [[(c.name, c.split) for c in sorted(g, key=_order)] for g in groups]
    across = [g for g in groups if len({split for _, split in g}) > 1]
    within = [g for g in groups if len({split for _, split in g}) == 1]
    listed = sorted(across) + sorted(within)
    summary = {
        "exact": {
            "groups": len(groups),
            "extra_copies": sum(len(g) - 1 for g in groups),
            "groups_across_splits": len(across),
            "groups_left_across_splits": 0 if dedupe else len(across),
            "groups_within_a_split": len(within),
            "dropped_by_dedupe": dropped,
            "examples": [{"paths": [p for p, _ in g], "splits": [s for _, s in g]} for g in listed[:EXAMPLES]],
        },
    }
    if near is not None:
        found = near["groups"]
        across_near = sum(1 for g in found if len(set(g["splits"])) > 1)
        summary["near"] = {
            "groups": len(found),
            "pairs": near["pairs"],
            "groups_across_splits": across_near,
            "groups_left_across_splits": 0 if dedupe_near else across_near,
            "groups_within_a_split": len(found) - across_near,
            "dropped_by_dedupe_near": near_dropped,
            "threshold_bits": NEAR_BITS,
            "split_by_other_bands": {"band_values": split[0], "images": split[1], "limit": MAX_BUCKET},
            "not_compared": {"hashes": crowded[0], "images": crowded[1], "limit": MAX_BUCKET},
            "examples": found[:EXAMPLES],
        }
    return summary
