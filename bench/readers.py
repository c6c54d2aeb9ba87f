"""Benchmark: a generated reader (`prep reader`) against the pipelines users write by hand, in examples/s.

Small records (a few scalars and 10-30 token ids, 1M records by default in 16 shards): the generated
reader (interleave, shuffle, batch, vectorised parse, token ids padded to 32, prefetch) against the
textbook pipeline TFRecordDataset -> map(parse_single_example) -> shuffle -> batch -> prefetch, as the
TFRecord guide writes it (token ids as a VarLenFeature, left sparse), both over the same shards with
the same batch size and shuffle buffer. Target: 4x.

Images (5,000 generated 640x480 JPEGs by default): the generated reader over the dataset
`prep images --resize 224x224` made from the folder, against
tf.keras.utils.image_dataset_from_directory(folder, image_size=(224, 224)) -> prefetch on the original
files. Both give float32 [batch, 224, 224, 3] batches. Target: 2x.

Each pipeline reads one full epoch in training order. Examples/s counts from the first batch to the
last (a training run reads many epochs); the time to the first batch (building and warming up the
pipeline: tracing, listing files) and the rate over the whole epoch are printed too. Beside examples/s
it prints the CPU time (all threads of this process) per example: on
a machine shared with other jobs examples/s moves with their load, the CPU cost much less. Data is
made once into --workdir and reused by later runs.

    .venv/bin/python bench/readers.py                       # both, 1M records and 5,000 images
    .venv/bin/python bench/readers.py --cases small --records 200000
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BATCH_SIZE = 256
SHUFFLE_BUFFER = 10_000


def make_small_records(out: Path, count: int, shards: int = 16) -> None:
    """`count` records of id, score, length, label and 10-30 token ids, as a prep dataset in `out`."""
    from prep.records.example_codec import encode_example
    from prep.records.tfrecord_io import write_records
    from schemas import DatasetSchema, Feature, Shard, Split, Vocabulary, save_schema

    if (out / "schema.json").exists():
        return
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    per_shard = -(-count // shards)
    files = []
    for shard in range(shards):
        first, last = shard * per_shard, min(count, (shard + 1) * per_shard)

        def records(first=first, last=last):
            for i in range(first, last):
                ids = [rng.randrange(2, 5000) for _ in range(rng.randint(10, 30))]
                yield encode_example({
                    "id": ("int64", [i]), "score": ("float32", [rng.random()]), "length": ("int64", [len(ids)]),
                    "label": ("int64", [i % 10]), "text/token_ids": ("int64", ids),
                })

        name = f"train-{shard:05d}-of-{shards:05d}.tfrecord"
        written, size = write_records(str(out / name), records(), "none")
        files.append(Shard(name, written, size))
    (out / "vocab").mkdir(exist_ok=True)
    (out / "vocab" / "tokens.txt").write_text("".join(f"t{i}\n" for i in range(2, 5000)))
    save_schema(DatasetSchema(
        name="small", kind="records",
        features=(Feature("id", "int64", ()), Feature("score", "float32", ()), Feature("length", "int64", ()),
                  Feature("label", "int64", (), "class_id"),
                  Feature("text/token_ids", "int64", None, "token_ids", vocabulary="tokens")),
        splits=(Split("train", tuple(files), count),),
        label_key="label",
        vocabularies=(Vocabulary("tokens", "vocab/tokens.txt", "tokens", 4998, 2, ((0, ""), (1, "[UNK]"))),),
    ), str(out))


def make_images(folder: Path, dataset: Path, count: int) -> None:
    """`count` JPEGs of 640x480 in 10 class folders (bench/images.py's generator), and their prep
    dataset resized to 224x224."""
    spec = importlib.util.spec_from_file_location("bench_images", ROOT / "bench" / "images.py")
    images = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(images)  # not on sys.path: this file's name would shadow the readers package
    images.generate(folder, count, (640, 480))
    if not (dataset / "schema.json").exists():
        prep = Path(sys.executable).with_name("prep")
        subprocess.run([str(prep), "images", str(folder), str(dataset), "--resize", "224x224", "--num-shards", "16",
                        "--overwrite"], check=True, stdout=subprocess.DEVNULL)


def generated_module(dataset: Path, path: Path):
    """Writes the dataset's module with `prep reader`'s code and imports it."""
    from readers.codegen import write_module

    write_module(str(dataset), str(path))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Measured:
    """One pipeline's epoch: `examples` read, the `first` of them in the first batch, which came
    `start_s` seconds after building the pipeline began; `per_second` examples/s after it, and `cpu_us`
    CPU microseconds (all threads of this process) per example after it: the work, which other jobs on
    a shared machine change much less than the time."""

    examples: int
    first: int
    start_s: float
    per_second: float
    cpu_us: float

    @property
    def overall(self) -> float:
        """Examples/s including the start: what one epoch on its own sees."""
        return self.examples / (self.start_s + (self.examples - self.first) / self.per_second)


def measure(dataset) -> Measured:
    """Builds the pipeline (`dataset()`) and reads one epoch to its end."""
    import tensorflow as tf

    start = time.perf_counter()
    batches = iter(dataset())
    first = int(tf.shape(next(batches)[1])[0])
    ready, cpu = time.perf_counter(), time.process_time()
    count = 0
    for _, labels in batches:
        count += int(tf.shape(labels)[0])
    elapsed = time.perf_counter() - ready
    return Measured(first + count, first, ready - start, count / elapsed, (time.process_time() - cpu) / count * 1e6)


def textbook_records(dataset: Path, spec: dict):
    """What the TFRecord guide teaches: one record parsed at a time, then shuffle, batch, prefetch.
    Its variable-length features are VarLenFeatures (sparse), which `batch` can stack; it does not pad."""
    import tensorflow as tf

    files = sorted(str(p) for p in dataset.glob("train-*.tfrecord"))
    label_key = "label"
    spec = {name: tf.io.VarLenFeature(s.dtype) if isinstance(s, tf.io.RaggedFeature) else s for name, s in spec.items()}

    def parse(record):
        features = tf.io.parse_single_example(record, spec)
        return features, features.pop(label_key)

    return lambda: (tf.data.TFRecordDataset(files).map(parse).shuffle(SHUFFLE_BUFFER)
                    .batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE))


def keras_folder(folder: Path):
    """What the Keras guide teaches for an image folder."""
    import tensorflow as tf

    def build():
        ds = tf.keras.utils.image_dataset_from_directory(str(folder), image_size=(224, 224), batch_size=BATCH_SIZE // 4,
                                                         shuffle=True, seed=0, verbose=False)
        return ds.prefetch(tf.data.AUTOTUNE)

    return build


def report(case: str, ours: Measured, baseline: Measured, baseline_name: str) -> None:
    print(f"\n{case}, one epoch of {ours.examples:,} examples"
          f"\n  {'':<28}  {'examples/s':>10}  {'first batch':>11}  {'whole epoch':>11}  {'CPU/example':>11}")
    for name, m in (("generated reader", ours), (baseline_name, baseline)):
        print(f"  {name:<28}  {m.per_second:>10,.0f}  {m.start_s:>9.2f} s  {m.overall:>9,.0f}/s  {m.cpu_us:>8,.1f} µs")
    print(f"  ratio: {ours.per_second / baseline.per_second:.2f}x examples/s after the first batch, "
          f"{ours.overall / baseline.overall:.2f}x over the whole epoch, "
          f"{baseline.cpu_us / ours.cpu_us:.2f}x less CPU per example", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="small,images", help="small and/or images")
    parser.add_argument("--records", type=int, default=1_000_000, help="small records to read")
    parser.add_argument("--images", type=int, default=5_000, help="images to read")
    parser.add_argument("--workdir", default="/tmp/prep-bench-readers")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    cases = args.cases.split(",")
    if "small" in cases:
        print(f"writing {args.records:,} small records to {work} (cached between runs) ...", flush=True)
        make_small_records(work / f"small-{args.records}", args.records)
    if "images" in cases:
        print(f"writing {args.images:,} JPEGs and their --resize 224x224 dataset to {work} (cached) ...", flush=True)
        make_images(work / f"jpegs-{args.images}", work / f"images-{args.images}", args.images)
    import tensorflow  # noqa: F401  (imported before timing, as a training script would have it)

    print(f"\nbatches of {BATCH_SIZE} records / {BATCH_SIZE // 4} images, {os.cpu_count()} cores")
    if "small" in cases:
        dataset = work / f"small-{args.records}"
        module = generated_module(dataset, work / "small_input.py")
        ours = module.make_input_fn("train", BATCH_SIZE, num_epochs=1, sequence_length=32,
                                    shuffle_buffer=SHUFFLE_BUFFER)
        report("small records", measure(ours), measure(textbook_records(dataset, module.FEATURE_SPEC)), "textbook")
    if "images" in cases:
        dataset = work / f"images-{args.images}"
        module = generated_module(dataset, work / "images_input.py")
        ours = module.make_input_fn("train", BATCH_SIZE // 4, num_epochs=1, image_dtype="float32",
                                    shuffle_buffer=1000)
        report("images", measure(ours), measure(keras_folder(work / f"jpegs-{args.images}")),
               "image_dataset_from_directory")


if __name__ == "__main__":
    main()
