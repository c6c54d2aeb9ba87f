"""Benchmark: local scaling of the jobs over cores, and memory as the input grows.

Runs `prep images` on the same generated folder with 1 and with 2 local workers and prints the
speed-up; then runs it on an input 10x larger and prints the peak memory of the whole process tree
(runner and workers) for both sizes: it should stay flat, since images stream through the job.

    .venv/bin/python bench/scaling.py                      # 4,000 and 40,000 images of 320x240
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from images import generate  # noqa: E402  (the same generated JPEGs as bench/images.py)
from process_tree import run_measured  # noqa: E402

PREP = str(Path(sys.executable).with_name("prep"))


def prep_images(src: Path, out: Path, workers: int):
    return run_measured([PREP, "images", str(src), str(out), "--overwrite", "--num-shards", "8",
                         "--workers", str(workers)], stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=4000, help="the small input; the large one is 10x")
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--workdir", default="/tmp/prep-bench-scaling")
    args = parser.parse_args()
    work, size = Path(args.workdir), tuple(int(n) for n in args.size.split("x"))
    small, large = work / f"{args.images}", work / f"{args.images * 10}"
    for folder, count in ((small, args.images), (large, args.images * 10)):
        print(f"generating {count:,} JPEGs of {args.size} in {folder} (cached) ...", flush=True)
        generate(folder, count, size)

    one = prep_images(large, work / "out", 1)
    two = prep_images(large, work / "out", 2)
    n = args.images * 10
    print(f"\nprep images, {n:,} images: 1 worker {n / one.seconds:,.0f} img/s, 2 workers {n / two.seconds:,.0f} img/s:"
          f" speed-up {one.seconds / two.seconds:.2f}x")
    small_run = prep_images(small, work / "out", 2)
    print(f"peak memory (runner + workers), 2 workers: {args.images:,} images {small_run.peak_rss_bytes / 2**20:,.0f} MiB,"
          f" {n:,} images {two.peak_rss_bytes / 2**20:,.0f} MiB"
          f" (ratio {two.peak_rss_bytes / small_run.peak_rss_bytes:.2f} for 10x the input)")


if __name__ == "__main__":
    main()
