"""`make demo`: real data end to end. The UCI handwritten digits (1,797 8x8 images in 10 classes, shipped
inside scikit-learn's wheel) become a class-folder tree, then a prep dataset, inspected and verified;
then `prep reader` writes its input module and a small Keras model trains for one epoch from it."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

from prep.cli.main import main as prep

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


def train_one_epoch(dataset: Path) -> int:
    """Writes the dataset's reader with `prep reader`, trains a small Keras model on the train split for
    one epoch from it, and prints its accuracy on the test split."""
    module = ROOT / "digits_input.py"
    print(f"\n$ prep reader {dataset} -o {module}")
    code = prep(["reader", str(dataset), "-o", str(module)])
    if code:
        return code
    from prep.jobs.terminal import quiet_tensorflow

    tf = quiet_tensorflow()
    sys.path.insert(0, str(ROOT))
    digits_input = importlib.import_module("digits_input")
    options = dict(image_size=(8, 8), image_dtype="float32", features=["image"])
    train_fn = digits_input.make_input_fn("train", 8, num_epochs=1, **options)
    test_fn = digits_input.make_input_fn("test", 64, **options)
    image = tf.keras.Input((8, 8, 1), name="image")
    hidden = tf.keras.layers.Dense(64, activation="relu")(tf.keras.layers.Flatten()(image))
    model = tf.keras.Model({"image": image}, tf.keras.layers.Dense(10)(hidden))
    model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    print("\ntraining a small Keras model for one epoch from digits_input.make_input_fn ...")
    model.fit(train_fn(), epochs=1, verbose=2, shuffle=False)  # the reader shuffles
    _, accuracy = model.evaluate(test_fn(), verbose=0)
    print(f"test accuracy after one epoch: {accuracy:.1%} (chance: 10%)")
    return 0


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
    return train_one_epoch(out)


if __name__ == "__main__":
    sys.exit(run())
