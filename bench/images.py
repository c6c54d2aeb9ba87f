"""Benchmark: `prep images` against a plain single-process Python loop doing the same work.

The baseline is what a user writes by hand: for each file, read it, decode it in full with Pillow as
the validity check (and, with --resize, resize and re-encode it), build the same tf.train.Example and
write it with tf.io.TFRecordWriter. `prep images` is timed as the whole command (start-up included),
on every core. Both run in this process's run, on the same generated folder of JPEGs; the ratio is
prep's images/s over the loop's.

    .venv/bin/python bench/images.py                    # 5,000 JPEGs of 640x480, both modes
    .venv/bin/python bench/images.py --images 5000,20000 --modes original
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
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


def run_prep(src: Path, out: Path, resize: tuple[int, int] | None, workers: int | None) -> None:
    prep = Path(sys.executable).with_name("prep")
    command = [str(prep), "images", str(src), str(out), "--num-shards", "8", "--overwrite"]
    command += ["--resize", f"{resize[0]}x{resize[1]}"] if resize else []
    command += ["--workers", str(workers)] if workers else []
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="5000", help="comma-separated image counts, e.g. 5000,20000")
    parser.add_argument("--size", default="640x480", help="generated image size, WxH")
    parser.add_argument("--modes", default="original,resize", help="original (keep bytes) and/or resize (224x224)")
    parser.add_argument("--workers", type=int, help="prep's local workers (default: one per core)")
    parser.add_argument("--workdir", default="/tmp/prep-bench-images")
    args = parser.parse_args()
    work = Path(args.workdir)
    size = tuple(int(n) for n in args.size.split("x"))
    counts = [int(n) for n in args.images.split(",")]
    for count in counts:
        print(f"generating {count:,} JPEGs of {args.size} in {work / str(count)} (cached between runs) ...", flush=True)
        generate(work / str(count), count, size)
    import tensorflow  # noqa: F401  (imported before timing, as a user's script would have it)

    print(f"\n{'images':>7}  {'mode':<22}{'loop img/s':>12}{'prep img/s':>12}{'ratio':>8}   ({os.cpu_count()} cores)")
    for count in counts:
        src = work / str(count)
        for mode in args.modes.split(","):
            resize = (224, 224) if mode == "resize" else None
            loop_s = timed(baseline, src, work / "loop", resize)
            prep_s = timed(run_prep, src, work / "prep", resize, args.workers)
            label = "keep original bytes" if resize is None else "--resize 224x224"
            print(f"{count:>7,}  {label:<22}{count / loop_s:>12,.0f}{count / prep_s:>12,.0f}{loop_s / prep_s:>7.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()
