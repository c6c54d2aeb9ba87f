"""Benchmark: `prep images` against a plain single-process Python loop doing the same work.

The baseline is what a user writes by hand: for each file, read it, decode it in full with Pillow as
the validity check (and, with --resize, resize and re-encode it), build the same tf.train.Example and
write it with tf.io.TFRecordWriter. `prep images` is timed as the whole command (start-up included),
on every core. Both run in this process's run, on the same generated folder of JPEGs; the ratio is
prep's images/s over the loop's.

    .venv/bin/python bench/images.py                    # 5,000 JPEGs of 640x480, both modes
    .venv/bin/python bench/images.py --images 5000,20000 --modes original
    .venv/bin/python bench/images.py --duplicate-check    # also: what finding duplicates costs prep

prep's fixed cost (start-up, building the pipeline, starting and stopping workers) is timed on a
folder of 10 images first; each row then also shows prep's marginal rate, (images) / (time - fixed).

With --duplicate-check, prep also runs with --no-duplicate-check (no content grouping, no perceptual
hash), alternating with the normal run --repeats times; "check costs" compares the fastest of each,
and then their medians (this VM's runs of one job spread by 10-20%), and "CPU" the median processor
time (user + system) of prep and every worker process it started, which a busy moment moves less.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
CLASSES = 10


def generate(folder: Path, count: int, size: tuple[int, int]) -> None:
    """`count` photo-like JPEGs (smooth colour fields with fine noise) in CLASSES class folders."""
    import numpy as np
    from PIL import Image

    marker = folder.parent / f".{folder.name}-complete-{count}-{size[0]}x{size[1]}"  # beside SRC, not in it
    if marker.exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        coarse = Image.fromarray(rng.integers(0, 256, (size[1] // 40, size[0] // 40, 3), dtype=np.uint8))
        image = np.asarray(coarse.resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
        image = np.clip(image + rng.integers(-6, 7, image.shape), 0, 255).astype(np.uint8)
        path = folder / f"class_{i % CLASSES}" / f"img_{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path, "JPEG", quality=90)
    marker.touch()


def baseline(src: Path, out: Path, resize: tuple[int, int] | None) -> int:
    """The hand-written loop; returns the number of records written."""
    import tensorflow as tf
    from PIL import Image

    def feature(value):
        if isinstance(value, int):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    classes = sorted(p.name for p in src.iterdir() if p.is_dir())
    files = sorted((c, p) for c in classes for p in (src / c).rglob("*") if p.is_file() and not p.name.startswith("."))
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    with tf.io.TFRecordWriter(str(out / "train.tfrecord")) as writer:
        for class_name, path in files:
            data = path.read_bytes()
            try:
                with Image.open(io.BytesIO(data)) as image:
                    image.load()  # full decode: the validity check
                    if resize:
                        image = image.convert("RGB").resize(resize, Image.Resampling.BILINEAR)
                        buffer = io.BytesIO()
                        image.save(buffer, "JPEG", quality=95)
                        data = buffer.getvalue()
                    width, height = image.size
            except OSError:
                continue
            example = tf.train.Example(features=tf.train.Features(feature={
                "image": feature(data), "image/format": feature(b"jpeg"), "image/height": feature(height),
                "image/width": feature(width), "image/channels": feature(3),
                "image/filename": feature(str(path.relative_to(src)).encode()),
                "label": feature(classes.index(class_name)), "label/name": feature(class_name.encode())}))
            writer.write(example.SerializeToString())
            written += 1
    return written


def run_prep(src: Path, out: Path, resize: tuple[int, int] | None, workers: int | None, *flags: str) -> None:
    prep = Path(sys.executable).with_name("prep")
    command = [str(prep), "images", str(src), str(out), "--num-shards", "8", "--overwrite", *flags]
    command += ["--resize", f"{resize[0]}x{resize[1]}"] if resize else []
    command += ["--workers", str(workers)] if workers else []
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(f"prep failed:\n{done.stderr}")


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def children_cpu() -> float:
    """Seconds of processor time (user + system) of the child processes that have ended, theirs included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_prep(*args) -> tuple[float, float]:
    """(wall seconds, processor seconds) of one prep command: prep and the workers it started."""
    cpu = children_cpu()
    wall = timed(run_prep, *args)
    return wall, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="5000", help="comma-separated image counts, e.g. 5000,20000")
    parser.add_argument("--size", default="640x480", help="generated image size, WxH")
    parser.add_argument("--modes", default="original,resize", help="original (keep bytes) and/or resize (224x224)")
    parser.add_argument("--workers", type=int, help="prep's local workers (default: one per core)")
    parser.add_argument("--workdir", default="/tmp/prep-bench-images")
    parser.add_argument("--duplicate-check", action="store_true",
                        help="also time prep with --no-duplicate-check and print what the check costs")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each, the fastest counts")
    args = parser.parse_args()
    work = Path(args.workdir)
    size = tuple(int(n) for n in args.size.split("x"))
    counts = [int(n) for n in args.images.split(",")]
    for count in counts:
        print(f"generating {count:,} JPEGs of {args.size} in {work / str(count)} (cached between runs) ...", flush=True)
        generate(work / str(count), count, size)
    import tensorflow  # noqa: F401  (imported before timing, as a user's script would have it)

    generate(work / "10", 10, size)
    fixed_s = min(timed(run_prep, work / "10", work / "prep", None, args.workers) for _ in range(args.repeats))
    print(f"prep's fixed cost (10 images, whole command): {fixed_s:.1f} s")
    extra = f"{'unchecked img/s':>17}{'check costs (best / median)':>29}{'CPU':>8}" if args.duplicate_check else ""
    print(f"\n{'images':>7}  {'mode':<22}{'loop img/s':>12}{'prep img/s':>12}{'ratio':>8}{'marginal':>10}{extra}   ({os.cpu_count()} cores)")
    for count in counts:
        src = work / str(count)
        for mode in args.modes.split(","):
            resize = (224, 224) if mode == "resize" else None
            loop_s = min(timed(baseline, src, work / "loop", resize) for _ in range(args.repeats))
            prep_s, unchecked_s, prep_cpu, unchecked_cpu = [], [], [], []
            for _ in range(args.repeats):  # alternated, so that a busy moment does not favour one
                wall, cpu = timed_prep(src, work / "prep", resize, args.workers)
                prep_s.append(wall)
                prep_cpu.append(cpu)
                if args.duplicate_check:
                    wall, cpu = timed_prep(src, work / "prep", resize, args.workers, "--no-duplicate-check")
                    unchecked_s.append(wall)
                    unchecked_cpu.append(cpu)
            label = "keep original bytes" if resize is None else "--resize 224x224"
            line = f"{count:>7,}  {label:<22}{count / loop_s:>12,.0f}{count / min(prep_s):>12,.0f}{loop_s / min(prep_s):>7.2f}x"
            line += f"{count / max(min(prep_s) - fixed_s, 1e-9):>10,.0f}"
            if unchecked_s:
                median = statistics.median(prep_s) / statistics.median(unchecked_s) - 1
                line += f"{count / min(unchecked_s):>17,.0f}{min(prep_s) / min(unchecked_s) - 1:>+18.1%} / {median:+.1%}"
                line += f"{statistics.median(prep_cpu) / statistics.median(unchecked_cpu) - 1:>+8.1%}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
