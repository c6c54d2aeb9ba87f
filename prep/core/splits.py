"""Which split a record goes to: from the folder it sits in, or by a stable hash of its path.

A hash of the relative path (never `random`) keeps each file in its split across reruns and as the
folder grows: adding files never moves the ones already there.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

DEFAULT_SPLIT = "train"
# Top-level folder names that mean "SRC is already split" (TFDS's ImageFolder layout: split/label/image).
SPLIT_FOLDERS = ("train", "validation", "test")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# The names a split is usually given (TFDS's three, and the short forms other tools use): a custom name
# that is a letter away from one of them is taken for a misspelling (see `lookalike`).
USUAL_SPLIT_NAMES = SPLIT_FOLDERS + ("val", "valid", "dev", "eval")


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): the insertions, deletions, substitutions
    and swaps of two neighbours that turn `a` into `b`."""
    previous, row = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        before, previous, row = previous, row, [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], before[j - 2] + 1)
    return row[-1]


def lookalike(name: str, names: tuple[str, ...] = USUAL_SPLIT_NAMES) -> str | None:
    """The name of `names` that `name` looks like a misspelling of, or None: one edit away (two for a
    name of 8 letters or more, such as validation), with the same first letter unless it is that long.
    A name with a digit or '_' (train_2, test1) is a name of its own, never a misspelling."""
    if name in names or not name.isalpha():
        return None
    best = None
    for candidate in names:
        long = len(candidate) >= 8
        distance = edit_distance(name, candidate)
        if distance <= (2 if long else 1) and (long or name[:1] == candidate[:1]):
            if best is None or distance < best[0]:
                best = (distance, candidate)
    return best[1] if best else None


def split_rank(name: str) -> tuple[int, str]:
    """Sort key of split names: TFDS's train, validation, test first, then the others by name."""
    return (SPLIT_FOLDERS.index(name) if name in SPLIT_FOLDERS else len(SPLIT_FOLDERS), name)


def stable_hash(identity: str, salt: str) -> int:
    """A 64-bit integer from SHA-256 of `salt` and `identity`: the same on every machine and run."""
    digest = hashlib.sha256(f"{salt}\0{identity}".encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class SplitFractions:
    """Named fractions that sum to 1, in the order given (e.g. train=0.8,validation=0.1,test=0.1)."""

    items: tuple[tuple[str, float], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.items)

    def assign(self, relative_path: str) -> str:
        """The split of a file, from a hash of its path relative to SRC."""
        point = stable_hash(relative_path, "split") / 2**64
        total = 0.0
        for name, fraction in self.items:
            total += fraction
            if point < total:
                return name
        return self.items[-1][0]


def parse_split_fractions(text: str, custom_names: bool = False) -> SplitFractions:
    """Parses 'train=0.8,validation=0.1,test=0.1'; raises ValueError with a message a user can act on.
    A name that looks like a misspelt usual one ('validaton') is refused unless `custom_names` (the
    --custom-split-names flag) says it is meant: a reader asking for 'validation' would find no split."""
    items: list[tuple[str, float]] = []
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"{part.strip()!r} is not NAME=FRACTION (e.g. train=0.8,test=0.2)")
        if not _NAME.match(name):
            raise ValueError(f"split name {name!r} must be lower-case letters, digits and _ (it names the shard files)")
        if name in dict(items):
            raise ValueError(f"split {name!r} is given twice")
        meant = None if custom_names else lookalike(name)
        if meant:
            raise ValueError(f"split name {name!r} looks like a misspelling of {meant!r}: write {meant}, or pass "
                             f"--custom-split-names if {name!r} is meant")
        try:
            fraction = float(value)
        except ValueError:
            raise ValueError(f"fraction of {name!r} is {value.strip()!r}, not a number") from None
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction of {name!r} must be in (0, 1], not {fraction:g}")
        items.append((name, fraction))
    total = sum(f for _, f in items)
    if abs(total - 1) > 1e-6:
        raise ValueError(f"fractions add up to {total:g}; they must add up to 1")
    return SplitFractions(tuple(items))
