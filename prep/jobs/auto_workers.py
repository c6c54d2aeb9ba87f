"""How many local workers a job gets when --workers is not given: every core, except for a small input.

Beam's multi-process DirectRunner costs about 2 s more than its in-process runner whatever the input
(starting two SDK worker processes, which import Beam and prep, and stopping them), so an input
whose work on one core takes less than about twice that runs faster in this process. The limits are
bytes of input, measured on a 2-core machine (bench/text.py, bench/vocab.py): below them one worker
in this process finishes first.
"""

from __future__ import annotations

import dataclasses
import glob
import os

from prep.core.preflight import is_local
from prep.jobs.runner import RunnerOptions

TEXT_BYTES = 8 << 20    # `prep text`: about 1.5 MB of JSON Lines a second per core, encoded and written
VOCAB_BYTES = 96 << 20  # `prep vocab`: about 50 MB of text a second per core, counted
# `prep images`: about 40 MB of 640x480 JPEGs a second per core, validated and written; kept low (about
# 1,000 photos, 1.5 s on one core) since image sizes vary more than text's
IMAGE_BYTES = 64 << 20


def local_bytes(pattern: str, limit: int) -> int | None:
    """Bytes of the files `pattern` (a path, a glob, or root/**) matches on local disk, counted up to
    a little past `limit` (a large folder is not walked to its end); None for a remote pattern."""
    if not is_local(pattern):
        return None
    total = 0
    for path in glob.iglob(pattern, recursive=True):
        try:
            if os.path.isfile(path):
                total += os.path.getsize(path)
        except OSError:
            continue
        if total > limit:
            break
    return total


def for_input(runner: RunnerOptions, pattern: str, limit: int) -> RunnerOptions:
    """`runner` with one in-process worker when --workers was not given, the job runs locally on more
    than one core and the input holds at most `limit` bytes; otherwise `runner` as it is."""
    if runner.workers is not None or not runner.is_local or runner.dry_run or runner.beam_args or runner.local_workers == 1:
        return runner
    size = local_bytes(pattern, limit)
    if size is None or size > limit:
        return runner
    return dataclasses.replace(runner, workers=1, small_input=True)
