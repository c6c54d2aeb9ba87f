"""Mergeable summaries for stats.json: counts by key, and distributions with power-of-two buckets.

They are plain Python so Beam combiners can build them per bundle and merge them, and tests can
check them without a pipeline.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Distribution:
    """Count, sum, min, max and a histogram of non-negative values; bucket b holds values in
    [2**(b-1), 2**b) (bucket 0 holds 0)."""

    count: int = 0
    total: float = 0
    min: float | None = None
    max: float | None = None
    buckets: Counter = field(default_factory=Counter)

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)
        self.buckets[int(value).bit_length()] += 1

    def merge(self, other: "Distribution") -> None:
        self.count += other.count
        self.total += other.total
        for name, pick in (("min", min), ("max", max)):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, theirs if mine is None else mine if theirs is None else pick(mine, theirs))
        self.buckets.update(other.buckets)

    def to_dict(self) -> dict:
        return {
            "count": self.count,
            "min": self.min,
            "max": self.max,
            "mean": round(self.total / self.count, 3) if self.count else None,
            "histogram": [
                {"from": 0 if b == 0 else 2 ** (b - 1), "below": 1 if b == 0 else 2 ** b, "count": self.buckets[b]}
                for b in sorted(self.buckets)
            ],
        }


@dataclass
class Summary:
    """Named counters (`counts["records"]["train"]`), distributions (`distributions["width"]`) and
    lists of the few values kept whole (`lists["duplicate_group"]`, in no particular order)."""

    counts: dict[str, Counter] = field(default_factory=dict)
    distributions: dict[str, Distribution] = field(default_factory=dict)
    lists: dict[str, list] = field(default_factory=dict)

    def count(self, name: str, key: str, n: int = 1) -> None:
        counter = self.counts.get(name)
        if counter is None:  # not setdefault: it would build a Counter on every call
            counter = self.counts[name] = Counter()
        counter[key] += n

    def observe(self, name: str, value: float) -> None:
        self.distributions.setdefault(name, Distribution()).add(value)

    def collect(self, name: str, value) -> None:
        self.lists.setdefault(name, []).append(value)

    def merge(self, other: "Summary") -> "Summary":
        for name, counter in other.counts.items():
            self.counts.setdefault(name, Counter()).update(counter)
        for name, dist in other.distributions.items():
            self.distributions.setdefault(name, Distribution()).merge(dist)
        for name, values in other.lists.items():
            self.lists.setdefault(name, []).extend(values)
        return self

    def to_dict(self) -> dict:
        out: dict = {name: dict(sorted(c.items())) for name, c in sorted(self.counts.items())}
        out.update({name: d.to_dict() for name, d in sorted(self.distributions.items())})
        out.update(self.lists)
        return out
