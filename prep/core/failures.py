"""Inputs that failed in a way nobody foresaw: rejected as `conversion_error`, never a failed job.

A foreseen problem (a truncated JPEG, a row without its text field) has a reason of its own; any other
exception raised while reading, decoding, normalising, fingerprinting or encoding one input is caught
around that input and becomes a rejected.jsonl line with this reason, the exception's type and message,
and where it was raised, so the run goes on and inputs = records + rejected still holds. Such a line
may be a bug in prep: the summary and `prep report` show these apart and ask for a report.
"""

from __future__ import annotations

import os
import traceback

CONVERSION_ERROR = "conversion_error"
REPORT_HINT = "unexpected failures, maybe bugs in prep: each is in rejected.jsonl with its exception; please report them"
MAX_DETAIL = 1000  # characters of an exception's message kept in rejected.jsonl


def unforeseen(exc: BaseException) -> str:
    """rejected.jsonl's detail for an unexpected exception: `Type: message (at file.py:line in function)`."""
    message = " ".join(str(exc).split())[:MAX_DETAIL]
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(exc).__name__}: {message}{where}" if message else f"{type(exc).__name__}{where}"


def split_reasons(by_reason: dict[str, int]) -> tuple[dict[str, int], int]:
    """stats.json's rejected_by_reason as (the foreseen reasons, the count of conversion errors)."""
    return {r: n for r, n in by_reason.items() if r != CONVERSION_ERROR}, by_reason.get(CONVERSION_ERROR, 0)
