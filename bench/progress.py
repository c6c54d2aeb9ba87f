"""Benchmark: what counting progress costs a job (prep.jobs.progress), per call.

A DoFn that does a little work per element (a SHA-256 of 200 bytes, about what the cheapest stage of
a job does per element) runs over N elements on Beam's FnApiRunner in this process: as it is (the
baseline); calling `Progress.add` per element as a local job does (a progress folder set, its
counts written by the process's reporting thread); and as a job without a launcher nearby does
(Dataflow: Beam's counters too). prep's DoFns count per image, per range of a corpus or per batch of
documents, so per element is the worst case. Runs alternate; the best of each is taken.

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
    times: dict[str, list[float]] = {"baseline": [], "local": [], "beam counters": []}
    try:
        for _ in range(args.repeats):
            os.environ[PROGRESS_DIR_ENV] = folder
            times["baseline"].append(run(args.elements, False))
            times["local"].append(run(args.elements, True))
            del os.environ[PROGRESS_DIR_ENV]
            times["beam counters"].append(run(args.elements, True))
            print(", ".join(f"{name} {found[-1]:.2f} s" for name, found in times.items()), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    best = {name: min(found) for name, found in times.items()}
    base = best["baseline"]
    print(f"best: baseline {base:.2f} s ({base / args.elements * 1e6:.2f} us/element)")
    for name in ("local", "beam counters"):
        print(f"  {name}: {best[name]:.2f} s, ratio {best[name] / base:.3f}: Progress.add costs "
              f"{(best[name] - base) / args.elements * 1e6:.2f} us a call")


if __name__ == "__main__":
    main()
