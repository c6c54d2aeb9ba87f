"""Benchmark: `prep images SRC OUT --update` against converting the grown folder again from scratch.

For each size N it makes version 1 of a dataset from N photo-like JPEGs (bench/images.py's, in 10 class
folders) with `--split train=0.8,test=0.2`, then adds 2% new images to SRC (the generator's next
pictures after the N, so new names and new content, spread over the class folders) and measures:

1. Adding: the update's wall time (the whole command, from the same version 1 each time) against the
   baseline, the same tool converting the whole grown folder into an empty folder, which is what a
   user does without --update. Both with --workers local workers (2), alternated --repeats times; best
   and median of each, and update / scratch (target: at most 0.20). prep's fixed cost (start-up,
   starting and stopping workers: a first run on 10 images) is timed first, and "marginal" is the
   ratio with it taken off both, which is where a larger N heads.
2. Removing: from that version 2, 1% of the original images (chosen at random, seeded) are deleted
   from SRC and the update runs once: the shards version 3 lists, those it wrote (under v3/) against
   those of version 2 that held a deleted image (from their inventories), and the bytes it wrote
   against the version's bytes (target: only the shards that held them are written). Records sit in
   shards by a hash of their name, so a random 1% reaches most shards once each holds hundreds.
3. Memory: the peak resident memory of the runner (prep's own process) and of its largest worker, for
   both updates and for the scratch run (the largest over the repeats). prep runs in a small wrapper
   process, started afresh for each command, that reads getrusage when prep returns: RUSAGE_SELF is
   the runner's peak, RUSAGE_CHILDREN the largest peak of the workers it started and waited for (the
   same figures as polling /proc with bench/process_tree.py, without its cost). The worker's should
   stay flat as N grows: it must not hold the dataset's inventory.

Every run must exit 0, and each version must hold one record per image in SRC (none is rejected).

    .venv/bin/python bench/update.py                          # 20,000 640x480 JPEGs, 3 repeats
    .venv/bin/python bench/update.py --images 5000,20000,100000
    .venv/bin/python bench/update.py --images 1000 --repeats 1  # a quick check that it works

The JPEGs (N plus the 2% to add, generated once and cached in --workdir) are hard-linked into SRC for
each size, so deleting from SRC leaves the cache whole.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from images import generate  # noqa: E402  (the same generated JPEGs as bench/images.py)

SPLIT = "train=0.8,test=0.2"
ADDED = 0.02    # of N: the new images an update adds
REMOVED = 0.01  # of N: the original images deleted before the second update
TARGET = 0.2    # the issue's: an update that adds 2% takes at most this share of the scratch run's time
# prep run in-process, so that getrusage tells its own peak (the runner) from its workers'.
MEASURE = """\
import resource, sys
from prep.cli.main import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
sys.exit(code)
"""


@dataclass(frozen=True)
class Run:
    seconds: float         # wall time of the whole command
    runner_kib: int        # peak resident memory of prep's own process
    worker_kib: int        # of the largest worker process it started


def run_prep(work: Path, *args: str) -> Run:
    """Runs `prep *args` to the end (exiting with its output if it fails) and measures it."""
    rusage = work / "rusage"
    rusage.unlink(missing_ok=True)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE, str(rusage), *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"prep {' '.join(args)} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    runner, worker = (int(n) for n in rusage.read_text().split())
    return Run(seconds, runner, worker)


def schema(out: Path) -> dict:
    return json.loads((out / "schema.json").read_text())


def shards(out: Path) -> list[dict]:
    return [shard for split in schema(out)["splits"] for shard in split["shards"]]


def check_records(out: Path, src: Path, version: int) -> None:
    """Exits unless OUT's current version is `version` and holds one record per file in SRC."""
    images = sum(1 for p in src.rglob("*") if p.is_file())
    records = sum(shard["num_records"] for shard in shards(out))
    found = schema(out).get("version", 1)
    if found != version or records != images:
        sys.exit(f"{out}: version {found} holds {records:,} records; expected version {version} with one record "
                 f"for each of the {images:,} images in {src}")


def link_tree(names: list[Path], cache: Path, src: Path) -> None:
    """Hard-links the cached JPEGs `names` (relative to `cache`) into SRC."""
    for name in names:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        os.link(cache / name, src / name)


def held_by(out: Path, names: set[str]) -> set[str]:
    """The shards of OUT's current version that hold a record of one of `names` (from their inventories)."""
    from prep.core.versions import inventory_file_name, inventory_rows

    return {shard["file"] for shard in shards(out)
            if any(row["name"] in names for row in inventory_rows((out / inventory_file_name(shard["file"])).read_bytes()))}


def restore(pristine: Path, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(pristine, out)


def added_count(count: int) -> int:
    return max(1, round(count * ADDED))


def mib(runs: list[Run]) -> str:
    """The largest peaks of `runs`: the runner's and its largest worker's."""
    return f"runner {max(r.runner_kib for r in runs) / 1024:,.0f}, worker {max(r.worker_kib for r in runs) / 1024:,.0f}"


def measure(count: int, args, work: Path, fixed_s: float) -> tuple[int, int]:
    """Runs the three measures at N = `count`, printing a line for each; returns the peak memory (KiB)
    of the largest worker of the update that adds and of the one that removes."""
    cache = work / "jpegs" / str(count)
    names = sorted(p.relative_to(cache) for p in cache.rglob("*.jpg"))
    index = {name: int(name.stem.split("_")[1]) for name in names}
    originals = [n for n in names if index[n] < count]
    src, out, pristine, scratch = (work / f"{part}-{count}" for part in ("src", "out", "pristine", "scratch"))
    for folder in (src, out, pristine, scratch):
        shutil.rmtree(folder, ignore_errors=True)
    link_tree(originals, cache, src)
    workers = ("--workers", str(args.workers))
    first = run_prep(work, "images", str(src), str(out), "--split", SPLIT, *workers)
    check_records(out, src, 1)
    shutil.copytree(out, pristine)
    link_tree([n for n in names if index[n] >= count], cache, src)

    updates, scratches = [], []
    for _ in range(args.repeats):  # alternated, so that a busy moment does not favour one
        restore(pristine, out)
        updates.append(run_prep(work, "images", str(src), str(out), "--update", *workers))
        check_records(out, src, 2)
        shutil.rmtree(scratch, ignore_errors=True)
        scratches.append(run_prep(work, "images", str(src), str(scratch), "--split", SPLIT, *workers))
        check_records(scratch, src, 1)
    update_s, scratch_s = [r.seconds for r in updates], [r.seconds for r in scratches]
    best, median = min(update_s) / min(scratch_s), statistics.median(update_s) / statistics.median(scratch_s)
    marginal = (min(update_s) - fixed_s) / max(min(scratch_s) - fixed_s, 1e-9)
    print(f"{count:>8,} {added_count(count):>6,}  {min(update_s):>8.1f} / {statistics.median(update_s):<6.1f}"
          f"  {min(scratch_s):>8.1f} / {statistics.median(scratch_s):<6.1f}  {best:>6.2f} / {median:<6.2f}"
          f"{marginal:>9.2f}  {'yes' if best <= TARGET else 'NO':>5}   (version 1: {first.seconds:.1f} s)", flush=True)

    # OUT is version 2, as the last update left it.
    removed = random.Random(0).sample(originals, max(1, round(count * REMOVED)))
    held = held_by(out, {name.as_posix() for name in removed})
    before = {shard["file"] for shard in shards(out)}
    for name in removed:
        (src / name).unlink()
    removal = run_prep(work, "images", str(src), str(out), "--update", *workers)
    check_records(out, src, 3)
    after = shards(out)
    written = [s for s in after if s["file"].startswith("v3/")]
    shared = {s["file"] for s in after} - {s["file"] for s in written}
    total_bytes, written_bytes = sum(s["num_bytes"] for s in after), sum(s["num_bytes"] for s in written)
    print(f"{'':>8} removing {len(removed):,} ({REMOVED:.0%}): {removal.seconds:.1f} s; version 3 lists {len(after)} shards"
          f" and wrote {len(written)} of them (v3/); {len(held)} of version 2's {len(before)} held a removed image,"
          f" the other {len(before - held)} shared: {'yes' if shared == before - held else 'NO'};"
          f" wrote {written_bytes / 2**20:,.1f} MiB of the version's {total_bytes / 2**20:,.1f} MiB"
          f" ({written_bytes / total_bytes:.1%})", flush=True)
    print(f"{'':>8} peak memory, MiB: update adding {mib(updates)}; update removing {mib([removal])};"
          f" scratch {mib(scratches)}", flush=True)
    return max(r.worker_kib for r in updates), removal.worker_kib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="20000", help="comma-separated sizes of version 1, e.g. 5000,20000,100000")
    parser.add_argument("--size", default="640x480", help="generated image size, WxH")
    parser.add_argument("--workers", type=int, default=2, help="prep's local workers")
    parser.add_argument("--repeats", type=int, default=3, help="alternated runs of the update and of the scratch run")
    parser.add_argument("--workdir", default="/tmp/prep-bench-update")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    size = tuple(int(n) for n in args.size.split("x"))
    counts = [int(n) for n in args.images.split(",")]
    for count in counts:
        cache = work / "jpegs" / str(count)
        print(f"generating {count + added_count(count):,} JPEGs of {args.size} in {cache} (cached between runs) ...",
              flush=True)
        generate(cache, count + added_count(count), size)
    generate(work / "jpegs" / "10", 10, size)
    print(f"\nprep images --update after adding {ADDED:.0%} new images to a dataset of N images, against converting the"
          f" grown folder from scratch; then an update after removing {REMOVED:.0%} of the N. {args.workers} local"
          f" workers, wall time of the whole command, {args.repeats} alternated run(s) of each, {os.cpu_count()} cores.")
    print(f"  version 1:  prep images SRC OUT --split {SPLIT} --workers {args.workers}")
    print(f"  update:     prep images SRC OUT --update --workers {args.workers}   (OUT back to version 1 each time)")
    print(f"  scratch:    prep images SRC SCRATCH --split {SPLIT} --workers {args.workers}   (SCRATCH empty each time)")
    fixed_s = min(run_prep(work, "images", str(work / "jpegs" / "10"), str(work / "fixed"), "--split", SPLIT,
                           "--workers", str(args.workers), "--overwrite").seconds for _ in range(args.repeats))
    print(f"prep's fixed cost (10 images, whole command): {fixed_s:.1f} s; marginal = (update - fixed) / (scratch - fixed)")
    print(f"\n{'':>15}  {'best / median':>17}  {'best / median':>17}  {'best / median':>15}")
    print(f"{'N':>8} {'added':>6}  {'update s':^17}  {'scratch s':^17}  {'update/scratch':^15}{'marginal':>9}"
          f"  {f'<={TARGET}':>5}")
    peaks = [(count, *measure(count, args, work, fixed_s)) for count in counts]
    if len(peaks) > 1:
        (small, adding, removing), (large, adding_after, removing_after) = peaks[0], peaks[-1]
        print(f"\nthe update's largest worker, {small:,} -> {large:,} images: adding {adding / 1024:,.0f} ->"
              f" {adding_after / 1024:,.0f} MiB ({adding_after / adding:.2f}x), removing {removing / 1024:,.0f} ->"
              f" {removing_after / 1024:,.0f} MiB ({removing_after / removing:.2f}x)")


if __name__ == "__main__":
    main()
