"""Progress of a long run, told by each worker process on stderr every few seconds.

Beam's DirectRunner gives the launching process no view of a running pipeline, but its worker
processes share the terminal, so each one reports its own counts (on stdout while their stderr
goes to the job's log: prep.jobs.terminal); on Dataflow the same
lines land in the worker logs.
"""

from __future__ import annotations

import os
import time
from collections import Counter

from prep.jobs.terminal import progress_stream

REPORT_EVERY = 10.0  # seconds between two reports of one worker


class Progress:
    """Counts what one worker has done and says so at most every `interval` seconds."""

    def __init__(self, what: str, interval: float = REPORT_EVERY):
        self.what, self.interval = what, interval
        self.counts: Counter = Counter()
        self.started = self.last = time.monotonic()

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] += n
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            done = ", ".join(f"{v:,} {k}" for k, v in sorted(self.counts.items()))
            stream = progress_stream()
            stream.write(f"  [{self.what} worker {os.getpid()}, {now - self.started:,.0f} s] {done}\n")
            stream.flush()
