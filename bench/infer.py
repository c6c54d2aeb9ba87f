"""Benchmark: `prep schema infer` on many large files, sampled and --full, against a plain TFRecordDataset count.

Generates FILES TFRecord files of about SIZE bytes each in /tmp (kept for the next run), records of about
1 kB: a float, an int id, a class label, a 32-float embedding, 0-63 token ids, a key present in 90% of
records, 600 opaque bytes and a short text. Then, each as the whole command (start-up included):

- sampled: `prep schema infer DIR` (reads a bounded part of every file: seconds, whatever the file size);
- full: `prep schema infer DIR --full` on every core, in records/s;
- baseline: one process counting the same records with `tf.data.TFRecordDataset(files)` (in batches),
  in records/s; the ratio is full / baseline. For context also the same count with every batch parsed
  by `tf.io.parse_example` with the inferred spec (what TensorFlow costs once the schema is known).

The files are read from the page cache when memory holds them (they were just written or read).

    .venv/bin/python bench/infer.py                       # 1,000 files of 10 MB (about 10 GB in /tmp)
    .venv/bin/python bench/infer.py --files 100 --size 1MB
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
POOL = 4096  # distinct records each file is made from (in a different order per file)


def _records(seed: int) -> list[bytes]:
    from prep.records.example_codec import encode_example
    from prep.records.tfrecord_io import encode_record

    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    framed = []
    for i in range(POOL):
        features = {
            "feature1": ("float32", [rng.random()]),
            "feature2": ("int64", [i]),
            "label": ("int64", [i % 10]),
            "embedding": ("float32", [rng.random() for _ in range(32)]),
            "tokens": ("int64", [rng.randrange(30_000) for _ in range(rng.randrange(64))]),
            "payload": ("string", [rng.randbytes(600)]),
            "text": ("string", [" ".join(rng.choice(words) for _ in range(12))]),
        }
        if i % 10:
            features["weight"] = ("float32", [rng.random()])
        framed.append(encode_record(encode_example(features)))
    return framed


def generate(folder: Path, files: int, size: int) -> int:
    """Writes the files (unless a previous run did); returns the number of records in all of them."""
    marker = folder / f".complete-{files}-{size}"
    if marker.exists():
        return int(marker.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    pool = _records(0)
    total = 0
    for f in range(files):
        rng = random.Random(f)
        order = list(range(POOL))
        rng.shuffle(order)
        chunks, written, i = [], 0, 0
        while written < size:
            record = pool[order[i % POOL]]
            chunks.append(record)
            written += len(record)
            i += 1
        (folder / f"train-{f:05d}-of-{files:05d}.tfrecord").write_bytes(b"".join(chunks))
        total += i
    marker.write_text(str(total))
    return total


def run(command: list[str]) -> float:
    """Seconds the command takes; fails loudly if it fails."""
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return elapsed


def tf_count(folder: Path, spec: dict | None = None) -> tuple[int, float]:
    """Records in the files counted by one TFRecordDataset in this process (parsed with `spec` first
    when given), and the seconds it took. Batches of 1,024: a reduce per record would time TensorFlow's
    per-call overhead (~50 us), not reading."""
    import tensorflow as tf

    def parse(batch):
        return tf.io.parse_example(batch, spec)["feature2"]

    def add(count, batch):
        return count + tf.shape(batch, out_type=tf.int64)[0]

    files = sorted(str(p) for p in folder.glob("*.tfrecord"))
    dataset = tf.data.TFRecordDataset(files).batch(1024)
    if spec is not None:
        dataset = dataset.map(parse)
    started = time.perf_counter()
    count = int(dataset.reduce(tf.constant(0, tf.int64), add))
    return count, time.perf_counter() - started


def _size(text: str) -> int:
    from prep.core.sharding import parse_size

    return parse_size(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size", type=_size, default="10MB", help="bytes per file (10MB = 10,000,000)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/prep-bench-infer"))
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="local workers of --full")
    parser.add_argument("--skip-full", action="store_true", help="only the sampled run and the baseline")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    needed = args.files * args.size * 1.05
    free = shutil.disk_usage(args.dir.parent).free + sum(p.stat().st_size for p in args.dir.glob("*.tfrecord"))
    files = args.files
    if needed > free * 0.8:
        files = max(1, int(free * 0.8 / (args.size * 1.05)))
        print(f"note: {args.files:,} files of {args.size:,} bytes need {needed / 1e9:.1f} GB but {free / 1e9:.1f} GB "
              f"are free: scaled down to {files:,} files")
    started = time.perf_counter()
    records = generate(args.dir, files, args.size)
    total_bytes = sum(p.stat().st_size for p in args.dir.glob("*.tfrecord"))
    print(f"data: {files:,} files, {total_bytes / 1e9:.2f} GB, {records:,} records of "
          f"~{total_bytes / records:,.0f} bytes in {args.dir} (ready in {time.perf_counter() - started:,.0f} s)",
          flush=True)
    prep = [str(ROOT / ".venv" / "bin" / "prep"), "schema", "infer", str(args.dir), "--overwrite"]

    sampled = run(prep)
    from schemas import load_schema

    schema = load_schema(str(args.dir))
    read = schema.provenance.options["records_read"]
    print(f"sampled:  {sampled:6.1f} s for {files:,} files ({read:,} records read, "
          f"{read / records:.2%} of them), whole command", flush=True)

    count, seconds = tf_count(args.dir)
    assert count == records, (count, records)
    baseline = count / seconds
    print(f"baseline: {seconds:6.1f} s, {baseline:12,.0f} records/s  (one process, tf.data.TFRecordDataset count)",
          flush=True)
    from schemas import feature_spec

    count, seconds = tf_count(args.dir, feature_spec(schema))
    print(f"parsed:   {seconds:6.1f} s, {count / seconds:12,.0f} records/s  (for context: the same, each batch parsed "
          "with tf.io.parse_example and the inferred spec)", flush=True)
    if args.skip_full:
        return
    full = run(prep + ["--full", "--workers", str(args.workers)])
    schema = load_schema(str(args.dir))
    assert schema.num_records == records, (schema.num_records, records)
    rate = records / full
    print(f"full:     {full:6.1f} s, {rate:12,.0f} records/s  ({args.workers} local workers, whole command, "
          f"every record parsed and its CRCs checked)")
    print(f"ratio full / baseline: {rate / baseline:.2f}")


if __name__ == "__main__":
    main()
