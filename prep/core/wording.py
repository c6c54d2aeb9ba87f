"""Counts in words, for the terminal and the report alike."""

from __future__ import annotations


def plural(n: int, word: str, plural: str | None = None) -> str:
    """'1 group', '3 groups' ('classes' where `plural` says)."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"
