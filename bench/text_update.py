"""Benchmark: `prep text SRC OUT --update` after appending 2% more documents, against converting the
grown corpus again from scratch.

The corpus is bench/text.py's long case (documents of 100-1,000 words, Zipf-drawn words, 10 topics),
--tokens in all (50M by default), in --files JSON Lines files as a crawler leaves them (part-0 ...);
the 2% more documents (the generator's next ones) are appended to the last file, as a crawler appends
a day of documents to today's file. Measured:

1. Appending: the update's wall time (the whole command, from the same version 1 each time) against
   the baseline, the same tool converting the grown corpus into an empty folder (learning its
   vocabulary, as version 1 did), which is what a user does without --update. Both with --workers
   local workers (2), alternated --repeats times; best and median of each, and update / scratch
   (target: at most 0.20). prep's fixed cost (a first run on 10 documents) is timed first, and
   "marginal" is the ratio with it taken off both.
2. Removing: from that version 2, the first file is deleted and the update runs once: the shards
   version 3 writes and shares, and the bytes it writes.
3. Memory: the peak resident memory of the runner and of its largest worker (bench/update.py's way).

Every run must exit 0, and each version must hold one record per document (the corpus has no blank
line, so none is rejected).

    .venv/bin/python bench/text_update.py                      # 50M tokens, 3 repeats
    .venv/bin/python bench/text_update.py --tokens 5000000 --repeats 1   # a quick check that it works
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import text as text_bench  # noqa: E402  (bench/text.py's corpus)
import update as image_update  # noqa: E402  (bench/update.py's measuring of a whole command)

ADDED = 0.02
TARGET = 0.2
FLAGS = ("--text-field", "text", "--label-field", "label", "--max-tokens", str(text_bench.MAX_TOKENS),
         "--split", "train=0.8,test=0.2")


def split_corpus(corpus: Path, files: int, folder: Path) -> tuple[list[bytes], list[bytes]]:
    """The corpus' lines for version 1, cut into `files` parts, and the 2% more to append."""
    lines = corpus.read_bytes().splitlines(keepends=True)
    kept = round(len(lines) / (1 + ADDED))
    first, more = lines[:kept], lines[kept:]
    step = -(-len(first) // files)
    return [b"".join(first[i:i + step]) for i in range(0, len(first), step)], more


def write_src(src: Path, parts: list[bytes], more: bytes = b"") -> None:
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for i, data in enumerate(parts):
        (src / f"part-{i}.jsonl").write_bytes(data + (more if i == len(parts) - 1 else b""))


def records(out: Path) -> int:
    return sum(shard["num_records"] for shard in image_update.shards(out))


def check(out: Path, version: int, documents: int) -> None:
    found = image_update.schema(out).get("version", 1)
    if found != version or records(out) != documents:
        sys.exit(f"{out}: version {found} holds {records(out):,} records; expected version {version} with {documents:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=50_000_000, help="tokens of the grown corpus")
    parser.add_argument("--files", type=int, default=10, help="JSON Lines files the corpus is cut into")
    parser.add_argument("--workers", type=int, default=2, help="prep's local workers")
    parser.add_argument("--repeats", type=int, default=3, help="alternated runs of the update and of the scratch run")
    parser.add_argument("--workdir", default="/tmp/prep-bench-text-update")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    print(f"generating a corpus of {args.tokens:,} tokens in {work} (cached between runs) ...", flush=True)
    corpus, _, tokens = text_bench.generate(work, "long", args.tokens)
    parts, more = split_corpus(corpus, args.files, work)
    first_docs = sum(part.count(b"\n") for part in parts)
    grown_docs = first_docs + len(more)
    src, out, pristine, scratch, tiny = (work / name for name in ("src", "out", "pristine", "scratch", "tiny"))
    workers = ("--workers", str(args.workers))
    pattern = str(src / "*.jsonl")

    print(f"\nprep text --update after appending {len(more):,} documents ({ADDED:.0%}) to the last of {len(parts)} JSON"
          f" Lines files ({first_docs:,} documents; {tokens:,} tokens once grown), against converting the grown corpus"
          f" from scratch. {args.workers} local workers, wall time of the whole command, {args.repeats} alternated"
          f" run(s) of each, {os.cpu_count()} cores.")
    print(f"  version 1:  prep text 'SRC/*.jsonl' OUT {' '.join(FLAGS)} --workers {args.workers}")
    print(f"  update:     prep text 'SRC/*.jsonl' OUT --update --workers {args.workers}   (OUT back to version 1 each time)")
    print(f"  scratch:    prep text 'SRC/*.jsonl' SCRATCH {' '.join(FLAGS)} --workers {args.workers}   (SCRATCH empty)")
    write_src(tiny, [b"".join(parts[0].splitlines(keepends=True)[:10])])
    fixed_s = min(image_update.run_prep(work, "text", str(tiny / "*.jsonl"), str(work / "fixed"), *FLAGS, *workers,
                                        "--overwrite").seconds for _ in range(args.repeats))
    print(f"prep's fixed cost (10 documents, whole command): {fixed_s:.1f} s; marginal = (update - fixed) / (scratch - fixed)")

    for folder in (out, pristine, scratch):
        shutil.rmtree(folder, ignore_errors=True)
    write_src(src, parts)
    first = image_update.run_prep(work, "text", pattern, str(out), *FLAGS, *workers)
    check(out, 1, first_docs)
    shutil.copytree(out, pristine)
    write_src(src, parts, b"".join(more))
    updates, scratches = [], []
    for _ in range(args.repeats):
        image_update.restore(pristine, out)
        updates.append(image_update.run_prep(work, "text", pattern, str(out), "--update", *workers))
        check(out, 2, grown_docs)
        shutil.rmtree(scratch, ignore_errors=True)
        scratches.append(image_update.run_prep(work, "text", pattern, str(scratch), *FLAGS, *workers))
        check(scratch, 1, grown_docs)
    update_s, scratch_s = [r.seconds for r in updates], [r.seconds for r in scratches]
    best, median = min(update_s) / min(scratch_s), statistics.median(update_s) / statistics.median(scratch_s)
    marginal = (min(update_s) - fixed_s) / (min(scratch_s) - fixed_s) if min(scratch_s) > fixed_s else float("nan")
    print(f"\n{'':>10}{'best / median':>17}  {'best / median':>17}  {'best / median':>15}")
    print(f"{'added':>10}{'update s':^17}  {'scratch s':^17}  {'update/scratch':^15}{'marginal':>9}  {f'<={TARGET}':>5}")
    print(f"{len(more):>10,}{min(update_s):>8.1f} / {statistics.median(update_s):<6.1f}  {min(scratch_s):>8.1f} / "
          f"{statistics.median(scratch_s):<6.1f}  {best:>6.2f} / {median:<6.2f}{marginal:>9.2f}  "
          f"{'yes' if best <= TARGET else 'NO':>5}   (version 1: {first.seconds:.1f} s)", flush=True)

    before = {shard["file"] for shard in image_update.shards(out)}
    removed = (src / "part-0.jsonl").read_bytes().count(b"\n")
    (src / "part-0.jsonl").unlink()
    removal = image_update.run_prep(work, "text", pattern, str(out), "--update", *workers)
    check(out, 3, grown_docs - removed)
    after = image_update.shards(out)
    written = [s for s in after if s["file"].startswith("v3/")]
    total_bytes, written_bytes = sum(s["num_bytes"] for s in after), sum(s["num_bytes"] for s in written)
    print(f"removing part-0.jsonl ({removed:,} documents): {removal.seconds:.1f} s; version 3 lists {len(after)} shards,"
          f" wrote {len(written)} (v3/) and shares {len(before & {s['file'] for s in after})} of version 2's"
          f" {len(before)}; wrote {written_bytes / 2**20:,.1f} MiB of the version's {total_bytes / 2**20:,.1f} MiB"
          f" ({written_bytes / total_bytes:.1%})")
    print(f"peak memory, MiB: update appending {image_update.mib(updates)}; update removing "
          f"{image_update.mib([removal])}; scratch {image_update.mib(scratches)}")


if __name__ == "__main__":
    main()
