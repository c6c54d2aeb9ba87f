"""Counts in words, for the terminal and the report alike."""

from __future__ import annotations


def plural(n: int, word: str, plural: str | None = None) -> str:
    """'1 group', '3 groups' ('classes' where `plural` says)."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def all_rejected(inputs: int, by_reason: dict[str, int]) -> str:
    """Why a run has nothing to show: 'all 1,204 inputs were rejected (missing_file 1,200, not_an_image 4)'
    (reasons most frequent first), or 'no input was found'."""
    if not inputs:
        return "no input was found"
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(by_reason.items(), key=lambda item: -item[1]))
    return f"{'the one input was' if inputs == 1 else f'all {inputs:,} inputs were'} rejected ({reasons})"
