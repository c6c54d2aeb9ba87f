"""Counts and sizes in words, for the terminal and the report alike."""

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


def byte_size(n: float | None) -> str:
    """`n` bytes for people: whole bytes below 1 kB, else kB, MB, GB (powers of 1000) to one decimal;
    "?" when unknown. Every size prep prints goes through here, so they all read alike."""
    if n is None:
        return "?"
    if round(n) < 1000:
        return f"{n:,.0f} B"
    for unit in ("kB", "MB"):
        n /= 1000
        if round(n, 1) < 1000:  # 999.96 kB reads as 1.0 MB, not 1,000.0 kB
            return f"{n:,.1f} {unit}"
    return f"{n / 1000:,.1f} GB"


def amount(n: float | None) -> str:
    """A count or measure for people: a whole number as it is, a fraction (a mean) to one decimal."""
    if n is None:
        return "?"
    return f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"
