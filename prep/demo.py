"""`make demo`: real data end to end. The UCI handwritten digits (1,797 8x8 images in 10 classes, shipped
inside scikit-learn's wheel) become a class-folder tree, then a prep dataset, inspected and verified."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from prep.cli import main as prep

ROOT = Path("demo_out")


def write_digits(folder: Path) -> int:
    """Writes each digit as a grayscale PNG under folder/<digit>/; returns the number of images."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (pixels, target) in enumerate(zip(digits.images, digits.target)):
        path = folder / str(target) / f"digit_{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((pixels * (255 / 16)).astype("uint8"), mode="L").save(path)
    return len(digits.images)


def run() -> int:
    if ROOT.exists():
        shutil.rmtree(ROOT)
    src, out = ROOT / "digits", ROOT / "digits_dataset"
    print(f"writing {write_digits(src):,} digit images to {src}/<digit>/ ...")
    steps = [
        ["images", str(src), str(out), "--split", "train=0.8,validation=0.1,test=0.1", "--channels", "1",
         "--num-shards", "4"],
        ["inspect", str(out)],
        ["verify", str(out)],
    ]
    for step in steps:
        print(f"\n$ prep {' '.join(step)}")
        code = prep(step)
        if code:
            return code
    print(f"\nthe dataset is in {out}/ (schema.json, vocab/labels.txt, stats.json, rejected.jsonl, shards)")
    return 0


if __name__ == "__main__":
    sys.exit(run())
