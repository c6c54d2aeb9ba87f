"""Benchmark: `prep images SRC OUT --masks MASKS` (segmentation masks) against the same command without
masks and against a plain single-process loop in the style of DeepLab's build_voc2012_data.py.

The data: N photo-like 640x480 JPEGs (bench/images.py's) in SRC/class_0 .. SRC/class_4, each with a
palette PNG (mode "P") of the same size in MASKS at the same relative path (SRC/class_3/img_000003.jpg
-> MASKS/class_3/img_000003.png) holding class ids 0-4 as a few filled rectangles and ellipses and a
1-pixel border of 255 (the ignore value); classes.txt names the 5 classes. A fixed seed makes the data
the same on every run; a marker beside the folders makes reruns skip generating it.

Per mode (original: keep the bytes; resize: --resize 256x256 --resize-mode pad), alternated --repeats
times, the fastest of each counts:

1. `prep images SRC OUT --workers 2 --quiet --num-shards 4` (today's conversion: the subfolders are
   class folders);
2. the same with `--masks MASKS --mask-classes classes.txt` (the subfolders are just folders);
3. the loop: for each image read the image and mask bytes, decode both in full with Pillow (the
   validity check), check the sizes agree; with resize, letterbox the image (bilinear, black border,
   JPEG quality 95) and the mask (nearest, border 255, PNG) into 256x256; build the tf.train.Example
   (image/encoded, image/filename, image/format, image/height, image/width, image/channels,
   image/segmentation/class/encoded, image/segmentation/class/format) and write it with
   tf.io.TFRecordWriter into 4 shards, round robin.

prep is timed as the whole command (start-up included). Its fixed cost is the same command on 10
images (with and without masks); "marginal" figures subtract it. The mask work's cost per image is
(t_masks - t_plain) / N, whole and marginal. After each `--masks` run stats.json must count N records
and no rejection; the loop must write N records.

    .venv/bin/python bench/segmentation.py                        # 2,000 images, both modes, 2 repeats
    .venv/bin/python bench/segmentation.py --images 1000,5000 --modes resize --repeats 3
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
CLASSES = 5
IGNORE = 255
SHARDS = 4
RESIZE = (256, 256)
PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128]  # VOC's first five colours


def generate(root: Path, count: int, size: tuple[int, int]) -> None:
    """`count` photo-like JPEGs in root/src/class_*/ and their palette masks in root/masks/class_*/."""
    import numpy as np
    from PIL import Image, ImageDraw

    marker = root / f".complete-{count}-{size[0]}x{size[1]}"
    if marker.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(0)
    width, height = size
    palette = PALETTE + [0] * (3 * IGNORE - len(PALETTE)) + [224, 224, 192]  # 255: VOC's boundary colour
    for i in range(count):
        coarse = Image.fromarray(rng.integers(0, 256, (height // 40, width // 40, 3), dtype=np.uint8))
        image = np.asarray(coarse.resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
        image = np.clip(image + rng.integers(-6, 7, image.shape), 0, 255).astype(np.uint8)
        relative = Path(f"class_{i % CLASSES}") / f"img_{i:06d}"
        path = root / "src" / relative.with_suffix(".jpg")
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path, "JPEG", quality=90)

        mask = Image.new("P", size, 0)
        mask.putpalette(palette)
        draw = ImageDraw.Draw(mask)
        for _ in range(int(rng.integers(2, 6))):
            x0, y0 = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
            x1, y1 = x0 + int(rng.integers(30, width // 2)), y0 + int(rng.integers(30, height // 2))
            shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
            shape([x0, y0, min(x1, width - 1), min(y1, height - 1)], fill=int(rng.integers(1, CLASSES)))
        draw.rectangle([0, 0, width - 1, height - 1], outline=IGNORE)
        path = root / "masks" / relative.with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        mask.save(path, "PNG")
    (root / "classes.txt").write_text("".join(f"class_{c}\n" for c in range(CLASSES)))
    marker.touch()


def letterbox(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int, int, int]:
    """(left, top, width, height) of an image of `size` scaled to fit `box`, centred."""
    scale = min(box[0] / size[0], box[1] / size[1])
    width, height = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    return (box[0] - width) // 2, (box[1] - height) // 2, width, height


def baseline(root: Path, out: Path, resize: tuple[int, int] | None) -> int:
    """The hand-written loop; returns the number of records written."""
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    Feature, BytesList, Int64List = tf.train.Feature, tf.train.BytesList, tf.train.Int64List

    def b(value: bytes):
        return Feature(bytes_list=BytesList(value=[value]))

    def i(value: int):
        return Feature(int64_list=Int64List(value=[value]))

    src, masks = root / "src", root / "masks"
    files = sorted(p for p in src.rglob("*.jpg") if p.is_file())
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    writers = [tf.io.TFRecordWriter(str(out / f"train-{n:05d}-of-{SHARDS:05d}.tfrecord")) for n in range(SHARDS)]
    jpeg, png, three = b(b"jpeg"), b(b"png"), i(3)
    written = 0
    for path in files:
        relative = path.relative_to(src)
        data = path.read_bytes()
        mask_data = (masks / relative).with_suffix(".png").read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as image, Image.open(io.BytesIO(mask_data)) as mask:
                image.load()  # full decodes: the validity check
                mask.load()
                if image.size != mask.size:
                    continue
                if resize:
                    left, top, width, height = letterbox(image.size, resize)
                    canvas = Image.new("RGB", resize, 0)
                    canvas.paste(image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR), (left, top))
                    buffer = io.BytesIO()
                    canvas.save(buffer, "JPEG", quality=95)
                    data = buffer.getvalue()
                    # the class ids (a palette image's indices, never its colours) as a grey image
                    ids = Image.fromarray(np.asarray(mask), "L") if mask.mode == "P" else mask
                    labels = Image.new("L", resize, IGNORE)
                    labels.paste(ids.resize((width, height), Image.Resampling.NEAREST), (left, top))
                    buffer = io.BytesIO()
                    labels.save(buffer, "PNG")
                    mask_data = buffer.getvalue()
                    width, height = resize
                else:
                    width, height = image.size
        except OSError:
            continue
        example = tf.train.Example(features=tf.train.Features(feature={
            "image/encoded": b(data), "image/filename": b(str(relative).encode()), "image/format": jpeg,
            "image/height": i(height), "image/width": i(width), "image/channels": three,
            "image/segmentation/class/encoded": b(mask_data), "image/segmentation/class/format": png}))
        writers[written % SHARDS].write(example.SerializeToString())
        written += 1
    for writer in writers:
        writer.close()
    return written


def run_prep(root: Path, out: Path, resize: tuple[int, int] | None, masks: bool, workers: int) -> None:
    prep = Path(sys.executable).with_name("prep")
    command = [str(prep), "images", str(root / "src"), str(out), "--workers", str(workers), "--quiet",
               "--num-shards", str(SHARDS), "--overwrite"]
    command += ["--resize", f"{resize[0]}x{resize[1]}", "--resize-mode", "pad"] if resize else []
    command += ["--masks", str(root / "masks"), "--mask-classes", str(root / "classes.txt")] if masks else []
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(f"prep failed ({' '.join(command)}):\n{done.stderr}")


def check_prep(out: Path, count: int) -> None:
    """stats.json of a --masks run: `count` records and no rejection."""
    stats = json.loads((out / "stats.json").read_text())

    def total(value) -> int:
        return sum(total(v) for v in value.values()) if isinstance(value, dict) else int(value or 0)

    records, rejected = total(stats.get("records", 0)), total(stats.get("rejected", 0))
    if records != count or rejected:
        sys.exit(f"prep --masks wrote {records} records and rejected {rejected} (expected {count} and 0); "
                 f"see {out / 'rejected.jsonl'}")


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="2000", help="comma-separated image counts, e.g. 2000,10000")
    parser.add_argument("--size", default="640x480", help="generated image size, WxH")
    parser.add_argument("--modes", default="original,resize", help="original (keep bytes) and/or resize (256x256 pad)")
    parser.add_argument("--workers", type=int, default=2, help="prep's local workers")
    parser.add_argument("--workdir", default="/tmp/prep-bench-segmentation")
    parser.add_argument("--repeats", type=int, default=2, help="alternated runs of each, the fastest counts")
    args = parser.parse_args()
    work = Path(args.workdir)
    size = tuple(int(n) for n in args.size.split("x"))
    counts = [int(n) for n in args.images.split(",")]
    modes = args.modes.split(",")
    for count in counts:
        print(f"generating {count:,} JPEGs of {args.size} and their masks in {work / str(count)} (cached) ...", flush=True)
        generate(work / str(count), count, size)
    generate(work / "10", 10, size)
    import tensorflow  # noqa: F401  (imported before timing, as a user's script would have it)

    fixed = {}  # (mode, masks) -> seconds of the whole command on 10 images
    for _ in range(args.repeats):
        for mode in modes:
            resize = RESIZE if mode == "resize" else None
            for masks in (False, True):
                seconds = timed(run_prep, work / "10", work / "prep", resize, masks, args.workers)
                fixed[mode, masks] = min(fixed.get((mode, masks), seconds), seconds)
    for mode in modes:
        print(f"prep's fixed cost (10 images, whole command, {mode}): {fixed[mode, False]:.1f} s without masks, "
              f"{fixed[mode, True]:.1f} s with")

    print(f"\n({os.cpu_count()} cores, prep --workers {args.workers}, best of {args.repeats})")
    head = (f"{'images':>7}  {'mode':<18}{'plain s':>9}{'img/s':>7}{'masks s':>9}{'img/s':>7}{'loop s':>8}{'img/s':>7}"
            f"{'masks/plain':>13}{'mask ms/img':>13}{'marginal':>10}{'vs loop':>9}")
    print(head)
    for count in counts:
        root = work / str(count)
        for mode in modes:
            resize = RESIZE if mode == "resize" else None
            plain, masked, loop = [], [], []
            for _ in range(args.repeats):  # alternated, so that a busy moment does not favour one
                plain.append(timed(run_prep, root, work / "prep", resize, False, args.workers))
                masked.append(timed(run_prep, root, work / "prep", resize, True, args.workers))
                check_prep(work / "prep", count)
                start = time.perf_counter()
                written = baseline(root, work / "loop", resize)
                loop.append(time.perf_counter() - start)
                if written != count:
                    sys.exit(f"the loop wrote {written} records, not {count}")
            t_plain, t_masks, t_loop = min(plain), min(masked), min(loop)
            cost = (t_masks - t_plain) / count * 1000
            marginal = ((t_masks - fixed[mode, True]) - (t_plain - fixed[mode, False])) / count * 1000
            label = "original bytes" if resize is None else "256x256 pad"
            print(f"{count:>7,}  {label:<18}{t_plain:>9.1f}{count / t_plain:>7,.0f}{t_masks:>9.1f}{count / t_masks:>7,.0f}"
                  f"{t_loop:>8.1f}{count / t_loop:>7,.0f}{t_masks / t_plain:>12.2f}x{cost:>13.2f}{marginal:>10.2f}"
                  f"{t_loop / t_masks:>8.2f}x", flush=True)
            print(f"         runs: plain {', '.join(f'{s:.1f}' for s in plain)}; masks "
                  f"{', '.join(f'{s:.1f}' for s in masked)}; loop {', '.join(f'{s:.1f}' for s in loop)}", flush=True)


if __name__ == "__main__":
    main()
