"""Running a command and measuring it: wall time and the peak resident memory of its whole process tree
(the Beam runner and every worker process), polled from /proc."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_bytes: int


def _children(pid: int) -> list[int]:
    """Children started by any thread of `pid` (the DirectRunner starts its workers from other threads)."""
    children = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/children") as f:
                children += [int(p) for p in f.read().split()]
        except OSError:
            continue
    return children


def _tree_rss(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
        stack += _children(p)
    return total


def run_measured(command: list[str], interval: float = 0.05, **popen) -> Measured:
    """Runs `command` to the end (raising if it fails) and measures it."""
    start = time.perf_counter()
    process = subprocess.Popen(command, **popen)
    peak = 0
    stop = threading.Event()

    def poll():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(process.pid))
            stop.wait(interval)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    code = process.wait()
    seconds = time.perf_counter() - start
    stop.set()
    poller.join()
    if code:
        raise subprocess.CalledProcessError(code, command)
    return Measured(seconds, peak)
