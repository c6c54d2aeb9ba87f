"""Benchmark: local scaling of the jobs over cores, and memory as the input grows.

For each job (`prep images`, `prep vocab`, `prep text`) it runs the command on the same generated input with 1 and
with 2 local workers and prints the speed-up; then it runs it with 2 workers on an input 10x smaller
and prints the peak memory of the whole process tree (runner and workers) at both sizes: it should stay
flat, since images and documents stream through the jobs.

- images: the photo-like JPEGs of bench/images.py, in 10 class folders;
- vocab: the English-like plain text corpus of bench/vocab.py (files of about 64 MB: the large corpus
  needs several files, or ranges of one, before a second worker has anything to read), learning its
  20,000-token vocabulary.
- text: the same corpus (a smaller one: `prep text` also encodes every document and writes it) to
  records with that vocabulary, in shards of the default size. Its shuffle carries every record: on
  the local runner it goes through spill files under OUT (beam_jobs.batching), so the runner's memory
  stays flat and a worker holds one shard at a time.

    .venv/bin/python bench/scaling.py --repeats 2   # 10,000/100,000 640x480 images; 100M/1B tokens; text 2M/20M
    .venv/bin/python bench/scaling.py --jobs images --workdir /tmp/prep-bench-images   # bench/images.py's JPEGs
    .venv/bin/python bench/scaling.py --jobs vocab --tokens 20000000

The defaults are large on purpose: Beam's local runner costs a few seconds to start and stop its worker
processes whatever the input, so a speed-up over cores is only visible on minutes of work (generating
the inputs the first time takes about 25 minutes for the images and 12 for the corpus, on one core).
    .venv/bin/python bench/scaling.py --images 20 --tokens 20000 --text-tokens 20000   # a quick check that it works
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).parent))
from images import generate as generate_images  # noqa: E402  (the same generated JPEGs as bench/images.py)
from process_tree import run_measured  # noqa: E402
from vocab import MAX_TOKENS  # noqa: E402  (the corpus of bench/vocab.py)
from vocab import generate as generate_corpus

PREP = str(Path(sys.executable).with_name("prep"))
JOBS = ("images", "vocab", "text")


def scaling(job: str, unit: str, small: int, command: Callable[[int, int], list[str]], repeats: int = 1) -> None:
    """Runs `command(count, workers)` (the job on `count` units of input) with 1 and 2 workers on 10x
    `small` units, and with 2 workers on `small` units; prints throughput, speed-up and peak memory.
    With `repeats`, the 1- and 2-worker runs alternate that many times and the fastest of each counts."""
    def run(count: int, workers: int):
        return run_measured(command(count, workers), stdout=subprocess.DEVNULL)

    n = small * 10
    runs = [(run(n, 1), run(n, 2)) for _ in range(repeats)]
    one = min((r[0] for r in runs), key=lambda m: m.seconds)
    two = min((r[1] for r in runs), key=lambda m: m.seconds)
    print(f"\nprep {job}, {n:,} {unit}: 1 worker {n / one.seconds:,.0f} {unit}/s, 2 workers {n / two.seconds:,.0f}"
          f" {unit}/s: speed-up {one.seconds / two.seconds:.2f}x", flush=True)
    small_run = run(small, 2)
    def mib(field: str) -> str:
        before, after = getattr(small_run, field), getattr(two, field)
        return f"{before / 2**20:,.0f} -> {after / 2**20:,.0f} MiB ({after / before:.2f}x)"

    print(f"peak memory, 2 workers, {small:,} -> {n:,} {unit}: runner + workers {mib('peak_rss_bytes')};"
          f" runner {mib('peak_root_rss_bytes')}; largest worker {mib('peak_child_rss_bytes')}\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", default=",".join(JOBS), help=f"comma-separated jobs to run, of: {', '.join(JOBS)}")
    parser.add_argument("--images", type=int, default=10_000, help="images: the small input; the large one is 10x")
    parser.add_argument("--size", default="640x480", help="images: their width x height")
    parser.add_argument("--tokens", type=int, default=100_000_000, help="vocab: the small corpus; the large one is 10x")
    parser.add_argument("--text-tokens", type=int, default=2_000_000, help="text: the small corpus; the large one is 10x")
    parser.add_argument("--workdir", default="/tmp/prep-bench-scaling")
    parser.add_argument("--repeats", type=int, default=1, help="alternated runs of 1 and 2 workers; the fastest counts")
    args = parser.parse_args()
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = sorted(set(jobs) - set(JOBS))
    if unknown or not jobs:
        parser.error(f"--jobs: {', '.join(unknown) or 'none given'}: choose from {', '.join(JOBS)}")
    work = Path(args.workdir)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the runs", flush=True)

    if "images" in jobs:
        size = tuple(int(n) for n in args.size.split("x"))
        folders = {count: work / str(count) for count in (args.images, args.images * 10)}
        for count, folder in folders.items():
            print(f"generating {count:,} JPEGs of {args.size} in {folder} (cached) ...", flush=True)
            generate_images(folder, count, size)
        scaling("images", "images", args.images, lambda count, workers: [
            PREP, "images", str(folders[count]), str(work / "out"), "--overwrite", "--num-shards", "8",
            "--workers", str(workers)], args.repeats)

    for job, out, small in (("vocab", "vocab.txt", args.tokens), ("text", "text-out", args.text_tokens)):
        if job in jobs:
            corpora = {count: work / f"tokens-{count}" for count in (small, small * 10)}
            for count, folder in corpora.items():
                print(f"generating {count:,} tokens in {folder} (cached) ...", flush=True)
                generate_corpus(folder, count)
            scaling(job, "tokens", small, lambda count, workers, job=job, out=out, corpora=corpora: [
                PREP, job, f"{corpora[count]}/part-*.txt", str(work / out), "--overwrite",
                "--max-tokens", str(MAX_TOKENS), "--workers", str(workers)], args.repeats)

if __name__ == "__main__":
    main()
