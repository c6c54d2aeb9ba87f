"""Benchmark: `prep report` on a large image dataset, against reading every record once.

`prep report` reads schema.json, stats.json and only the records it shows (the samples of each class,
the images of listed duplicates), so its time should not grow with the dataset. The baseline is the
least a report built from the records themselves would cost: reading and decoding every record of
every shard once, in this process. Both run on the same dataset, converted once by `prep images` from
generated JPEGs (small, so that conversion stays quick; both folders are cached between runs).
With images this small the whole dataset is only ~66 MB and the baseline is quick too; the report's
time is start-up, charts and the samples, and stays the same as the dataset grows, while the
baseline grows with its bytes (a 50,000-photo dataset of 128 MiB shards is gigabytes).

    .venv/bin/python bench/report.py                      # 50,000 images of 64x48, 10 classes
    .venv/bin/python bench/report.py --images 200000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
CLASSES = 10
COPIES = 25   # planted exact copies (they land in random splits, so some leak), for the duplicates section


def generate(folder: Path, count: int, size: tuple[int, int]) -> None:
    """`count` small photo-like JPEGs in CLASSES class folders, plus COPIES exact copies."""
    import numpy as np
    from PIL import Image

    marker = folder.with_name(f"{folder.name}.complete-{size[0]}x{size[1]}")  # beside SRC: inside, it is an input
    if marker.exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        coarse = Image.fromarray(rng.integers(0, 256, (3, 4, 3), dtype=np.uint8))
        path = folder / f"class_{i % CLASSES}" / f"img_{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        coarse.resize(size, Image.Resampling.BICUBIC).save(path, "JPEG", quality=85)
    for i in range(COPIES):
        j = i * 997 % count
        source = folder / f"class_{j % CLASSES}" / f"img_{j:06d}.jpg"
        shutil.copyfile(source, source.with_name(f"copy_{i:03d}.jpg"))
    marker.touch()


def convert(src: Path, out: Path, count: int) -> None:
    marker = out.parent / f".converted-{count}"
    if marker.exists() and (out / "schema.json").exists():
        return
    prep = Path(sys.executable).with_name("prep")
    subprocess.run([str(prep), "images", str(src), str(out), "--split", "train=0.8,validation=0.1,test=0.1",
                    "--num-shards", "8", "--overwrite"], check=True, stdout=subprocess.DEVNULL)
    marker.touch()


def run_report(out: Path, page: Path) -> None:
    prep = Path(sys.executable).with_name("prep")
    subprocess.run([str(prep), "report", str(out), "-o", str(page)], check=True, stdout=subprocess.DEVNULL)


def read_everything(out: Path) -> int:
    """The baseline: every record of every shard read and decoded once; returns the record count."""
    from prep.inspection.contact_sheet import scan_records
    from schemas import load_schema

    return sum(1 for _ in scan_records(str(out), load_schema(str(out))))


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--size", default="64x48", help="generated image size, WxH")
    parser.add_argument("--workdir", default="/tmp/prep-bench-report")
    args = parser.parse_args()
    work = Path(args.workdir)
    size = tuple(int(n) for n in args.size.split("x"))
    src, out = work / f"src-{args.images}", work / f"dataset-{args.images}"
    print(f"generating {args.images:,} JPEGs of {args.size} in {src} (cached) ...", flush=True)
    generate(src, args.images, size)
    print(f"converting with prep images to {out} (cached) ...", flush=True)
    convert(src, out, args.images)
    shards = sum(p.stat().st_size for p in out.glob("*.tfrecord"))
    page = work / "report.html"
    report_s, _ = timed(run_report, out, page)
    read_s, records = timed(read_everything, out)
    print(f"\n{records:,} records, {shards / 1e6:,.0f} MB of shards, {os.cpu_count()} cores")
    print(f"prep report {out} -o {page}: {report_s:.1f} s (whole command, start-up included); "
          f"page {page.stat().st_size / 1e6:.1f} MB")
    print(f"baseline, every record read and decoded once: {read_s:.1f} s")
    print(f"ratio (baseline / report): {read_s / report_s:.2f}x")


if __name__ == "__main__":
    main()
