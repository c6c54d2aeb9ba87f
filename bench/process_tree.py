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
    peak_rss_bytes: int         # the whole tree's, at its peak
    peak_root_rss_bytes: int = 0   # the command's own process (for a local Beam job: the runner)
    peak_child_rss_bytes: int = 0  # the largest process it started (a Beam SDK worker), at its peak


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


def _tree_rss(pid: int) -> tuple[int, int, int]:
    """(the whole tree's, `pid`'s own, the largest descendant's) resident bytes."""
    total, root, child, stack = 0, 0, 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
        total += rss
        if p == pid:
            root = rss
        else:
            child = max(child, rss)
        stack += _children(p)
    return total, root, child


def run_measured(command: list[str], interval: float = 0.05, **popen) -> Measured:
    """Runs `command` to the end (raising if it fails) and measures it."""
    start = time.perf_counter()
    process = subprocess.Popen(command, **popen)
    peaks = (0, 0, 0)
    stop = threading.Event()

    def poll():
        nonlocal peaks
        while not stop.is_set():
            peaks = tuple(map(max, peaks, _tree_rss(process.pid)))
            stop.wait(interval)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    code = process.wait()
    seconds = time.perf_counter() - start
    stop.set()
    poller.join()
    if code:
        raise subprocess.CalledProcessError(code, command)
    return Measured(seconds, *peaks)
