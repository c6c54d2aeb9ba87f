"""Benchmark: what counting progress costs a job (prep.jobs.progress), per call.

A DoFn that does a little work per element (a SHA-256 of 200 bytes, about what the cheapest stage of
a job does per element) runs over N elements on Beam's FnApiRunner in this process, once as it is
(the baseline) and once calling `Progress.add` per element, as prep's DoFns do per image, per range
of a corpus or per batch of documents. A progress folder is set, so each process's reporting thread
writes its counts as in a local job. Runs alternate; the best of each is taken.

    .venv/bin/python bench/progress.py --elements 200000 --repeats 3
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time

import apache_beam as beam

from prep.jobs.progress import CONVERTED, PROGRESS_DIR_ENV, Progress


class _Work(beam.DoFn):
    def __init__(self, count: bool):
        self.count = count

    def setup(self):
        self.progress = Progress() if self.count else None

    def process(self, i):
        digest = hashlib.sha256(b"%d" % i * 40).digest()
        if self.progress is not None:
            self.progress.add(CONVERTED)
        yield digest[:1]


def run(n: int, count: bool) -> float:
    pipeline = beam.Pipeline(runner="FnApiRunner")
    (pipeline | beam.Create(range(n), reshuffle=False) | beam.ParDo(_Work(count))
     | beam.combiners.Count.Globally())
    start = time.perf_counter()
    pipeline.run().wait_until_finish()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elements", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="prep-progress-bench-")
    os.environ[PROGRESS_DIR_ENV] = folder
    try:
        plain, counted = [], []
        for _ in range(args.repeats):
            plain.append(run(args.elements, False))
            counted.append(run(args.elements, True))
            print(f"without counting {plain[-1]:.2f} s, with {counted[-1]:.2f} s", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    best_plain, best_counted = min(plain), min(counted)
    per_call = (best_counted - best_plain) / args.elements * 1e6
    print(f"best: without {best_plain:.2f} s ({best_plain / args.elements * 1e6:.2f} us/element), with "
          f"{best_counted:.2f} s: Progress.add costs {per_call:.2f} us a call "
          f"(ratio {best_counted / best_plain:.3f})")


if __name__ == "__main__":
    main()
