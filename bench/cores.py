"""Benchmark: how much two processes of pure Python gain over one on this machine.

The ceiling for any local job's speed-up over cores (bench/scaling.py): the same dictionary-heavy
loop (the shape of token counting) run once in one process, then twice at once in two processes,
with nothing shared. On a machine whose cores are really free this is close to 2x; on a shared VM it
varies from run to run, which is the noise to expect in bench/scaling.py's figures.

    .venv/bin/python bench/cores.py --repeats 4
"""

from __future__ import annotations

import argparse
import multiprocessing
import time


def work(n: int) -> int:
    counts: dict[int, int] = {}
    for i in range(n):
        key = i % 5000
        counts[key] = counts.get(key, 0) + 1
    return len(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loops", type=int, default=20_000_000, help="iterations of each task")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with multiprocessing.Pool(2) as pool:
        for _ in range(args.repeats):
            start = time.perf_counter()
            work(args.loops)
            one = time.perf_counter() - start
            start = time.perf_counter()
            pool.map(work, [args.loops, args.loops])
            two = time.perf_counter() - start
            print(f"one task {one:.2f} s; two tasks in two processes {two:.2f} s: speed-up {2 * one / two:.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()
