"""What a check of a dataset found of one of its files (`prep verify`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """The outcome for one file: `problem` is None when it is sound."""

    file: str
    records: int | None  # records in a shard, lines in a vocabulary
    problem: str | None = None
    unit: str = "records"
    index_written: str | None = None  # the record index verify --write-indexes wrote for a shard
