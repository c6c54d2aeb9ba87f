"""Benchmark: prep's reader (the module `prep reader` writes) against the tf.data pipelines users write
by hand, over the same shards, in examples/s.

Small records: what `prep text` writes for a 34 MB JSON Lines corpus of 300,000 short labelled
documents (raw text, 8-30 token ids, file name, line, label, label name), in 1 shard (the default
--shard-size gives one for any dataset under 128 MiB), 4 and 16. Batches of 256, token ids padded to 32.
Each mode has its baselines, all parsing the same features:

  train (shards in a new order each epoch, a shuffle buffer of records; prep: num_epochs=1)
    example 3         the seed how-to's Example 3 as it is written: TFRecordDataset(files)
                      .map(parse_single_example, num_parallel_calls=AUTOTUNE).shuffle(1000).batch(B)
                      .prefetch(AUTOTUNE) (token ids as a VarLenFeature: batch stacks them, unpadded)
    hand-tuned        TFRecordDataset(files).shuffle(10000).batch(B).map(parse_example + ragged
                      .to_tensor, AUTOTUNE).prefetch(AUTOTUNE)
    hand interleave   (several shards) the shard files shuffled, interleave(TFRecordDataset,
                      cycle_length=16, block_length=64, AUTOTUNE, deterministic=False), then as above
    parallel reads    (several shards) TFRecordDataset(files, num_parallel_reads=AUTOTUNE), then as above
  eval (every record once, in order; prep: mode="eval")
    example 3         Example 3 without its shuffle
    hand-tuned        TFRecordDataset(files).batch(B).map(parse_example + to_tensor, AUTOTUNE).prefetch
    hand interleave   (several shards) interleave(..., block_length=64, deterministic=True), then as above

prep's reader slices each shard's records out of its bytes by the record index `prep text` writes
beside it; its row "check_crc=True" reads them one by one through TFRecordDataset instead (checking
every CRC, as all the baselines do), with the hand-tuned pipeline's steps.

Targets: prep at least 1.0x the best hand-tuned pipeline (the fastest of those not named example 3)
and 8x example 3, in both modes and at every shard count.

Images (5,000 generated 640x480 JPEGs by default): prep's reader over the dataset
`prep images --resize 224x224` made from the folder, against
tf.keras.utils.image_dataset_from_directory(folder, image_size=(224, 224)) -> prefetch on the original
files. Both give float32 [batch, 224, 224, 3] batches of 64. Target: 3x.

Each pipeline reads one full epoch, --repeats times; the pipelines take turns within a repeat (each
repeat starts with the next one), and each column is the best of the repeats. `after first` counts
examples/s from the first batch to the last (a training run reads many epochs), `whole epoch` from
building the pipeline (tracing, listing files, filling the shuffle buffer) to the last batch. CPU is
the time of all threads of this process per example: on a machine shared with other jobs, examples/s
moves with their load, the CPU cost much less. prep's rows are the generated module's and
readers.make_input_fn's (the same pipeline code). Data is made once into --workdir and reused.

    .venv/bin/python bench/readers.py                              # everything
    .venv/bin/python bench/readers.py --cases small --shards 1 --modes train --repeats 5
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BATCH_SIZE = 256
IMAGE_BATCH_SIZE = 64
SEQUENCE_LENGTH = 32
SHUFFLE_BUFFER = 10_000
TOKEN_KEY = "text/token_ids"
LABEL_KEY = "label"


# ---- data --------------------------------------------------------------------------------------------


def make_corpus(path: Path, documents: int) -> None:
    """`documents` JSON lines of 8-30 words (Zipf-like over 5,000 words, ~110 bytes) and a label of 3."""
    if path.exists():
        return
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    cumulative, total = [], 0.0
    for i in range(len(words)):
        total += 1 / (i + 1)
        cumulative.append(total)
    labels = ["neg", "pos", "neutral"]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        for i in range(documents):
            text = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(8, 30)))
            f.write(json.dumps({"text": text.capitalize() + ".", "label": labels[i % 3]}) + "\n")
    os.replace(tmp, path)


def prep_command(*args: str) -> None:
    """Runs the `prep` command installed beside this Python."""
    subprocess.run([str(Path(sys.executable).with_name("prep")), *args], check=True, stdout=subprocess.DEVNULL)


def written_with_indexes(dataset: Path) -> bool:
    """Whether a cached dataset is there, written with record indexes (as prep writes datasets now)."""
    schema = dataset / "schema.json"
    return schema.exists() and all(shard.get("index") for split in json.loads(schema.read_text())["splits"]
                                   for shard in split["shards"])


def make_text_dataset(corpus: Path, out: Path, shards: int) -> None:
    """`prep text` of the corpus in `shards` shards (1: the default --shard-size)."""
    if not written_with_indexes(out):
        prep_command("text", str(corpus), str(out), "--label-field", "label", "--overwrite",
                     *(["--num-shards", str(shards)] if shards > 1 else []))


def make_images(folder: Path, dataset: Path, count: int) -> None:
    """`count` JPEGs of 640x480 in 10 class folders (bench/images.py's generator), and their prep
    dataset resized to 224x224."""
    spec = importlib.util.spec_from_file_location("bench_images", ROOT / "bench" / "images.py")
    images = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(images)  # not on sys.path: this file's name would shadow the readers package
    images.generate(folder, count, (640, 480))
    if not written_with_indexes(dataset):
        prep_command("images", str(folder), str(dataset), "--resize", "224x224", "--num-shards", "16", "--overwrite")


def generated_module(dataset: Path, path: Path):
    """Writes the dataset's module with `prep reader`'s code and imports it."""
    from readers.codegen import write_module

    write_module(str(dataset), str(path))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


# ---- measuring ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One epoch of a pipeline: `examples` read; `start_s` seconds from building the pipeline to its
    first batch; `per_second` examples/s after it; `overall` examples/s including the start; `cpu_us`
    CPU microseconds (all threads of this process) per example after the first batch."""

    examples: int
    start_s: float
    per_second: float
    overall: float
    cpu_us: float


def measure(dataset: Callable) -> Measured:
    """Builds the pipeline (`dataset()`) and reads one epoch to its end."""
    import tensorflow as tf

    start = time.perf_counter()
    batches = iter(dataset())
    first = int(tf.shape(next(batches)[1])[0])
    ready, cpu = time.perf_counter(), time.process_time()
    count = 0
    for _, labels in batches:
        count += int(tf.shape(labels)[0])
    end = time.perf_counter()
    return Measured(first + count, ready - start, count / (end - ready), (first + count) / (end - start),
                    (time.process_time() - cpu) / count * 1e6)


def best_of(pipelines: dict[str, Callable], repeats: int) -> dict[str, Measured]:
    """Each pipeline's epoch `repeats` times, taking turns; per column the best of the repeats."""
    runs: dict[str, list[Measured]] = {name: [] for name in pipelines}
    names = list(pipelines)
    for repeat in range(repeats):
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            runs[name].append(measure(pipelines[name]))
    return {name: Measured(ms[0].examples, min(m.start_s for m in ms), max(m.per_second for m in ms),
                           max(m.overall for m in ms), min(m.cpu_us for m in ms)) for name, ms in runs.items()}


def report(title: str, results: dict[str, Measured], ours: list[str], baselines: dict[str, list[str]]) -> None:
    """A table of `results`, then prep's ratio (its best row) to the best of each group of baselines."""
    print(f"\n{title}: examples/s of one epoch")
    print(f"  {'pipeline':<30} {'examples':>9} {'after first':>12} {'whole epoch':>12} {'first batch':>12} {'CPU/example':>12}")
    for name, m in results.items():
        print(f"  {name:<30} {m.examples:>9,} {m.per_second:>10,.0f}/s {m.overall:>10,.0f}/s {m.start_s:>10.2f} s "
              f"{m.cpu_us:>9.1f} µs")
    prep_after = max(results[name].per_second for name in ours)
    prep_overall = max(results[name].overall for name in ours)
    for group, names in baselines.items():
        best = max(names, key=lambda name: results[name].per_second)
        best_overall = max(results[name].overall for name in names)
        print(f"  prep / {group} ({best}): {prep_after / results[best].per_second:.2f}x after the first batch, "
              f"{prep_overall / best_overall:.2f}x over the whole epoch")
    sys.stdout.flush()


# ---- the pipelines of small records -------------------------------------------------------------------


def small_pipelines(module, dataset: Path, mode: str) -> tuple[dict[str, Callable], list[str], dict[str, list[str]]]:
    """The pipelines of one mode over one dataset: prep's two, and the baselines by group."""
    import tensorflow as tf

    from readers import make_input_fn

    spec = dict(module.FEATURE_SPEC)
    files = [str(dataset / file) for file, _ in module.SPLITS["train"]]
    train = mode == "train"
    autotune = tf.data.AUTOTUNE
    single_spec = {name: tf.io.VarLenFeature(s.dtype) if isinstance(s, tf.io.RaggedFeature) else s
                   for name, s in spec.items()}

    def parse_single(record):
        features = tf.io.parse_single_example(record, single_spec)
        return features, features.pop(LABEL_KEY)

    def parse_batch(serialized):
        features = tf.io.parse_example(serialized, spec)
        features[TOKEN_KEY] = features[TOKEN_KEY].to_tensor(0, shape=[None, SEQUENCE_LENGTH])
        return features, features.pop(LABEL_KEY)

    def then(records):
        """The hand-tuned tail: a record shuffle buffer when training, batch, vectorised parse, prefetch."""
        if train:
            records = records.shuffle(SHUFFLE_BUFFER)
        return records.batch(BATCH_SIZE).map(parse_batch, num_parallel_calls=autotune).prefetch(autotune)

    def example_3():
        records = tf.data.TFRecordDataset(files).map(parse_single, num_parallel_calls=autotune)
        if train:
            records = records.shuffle(1000)
        return records.batch(BATCH_SIZE).prefetch(autotune)

    def interleaved():
        names = tf.data.Dataset.from_tensor_slices(files)
        if train:
            names = names.shuffle(len(files))
        return then(names.interleave(tf.data.TFRecordDataset, cycle_length=16, block_length=64,
                                     num_parallel_calls=autotune, deterministic=not train))

    options = dict(sequence_length=SEQUENCE_LENGTH, shuffle_buffer=SHUFFLE_BUFFER)
    options.update(num_epochs=1) if train else options.update(mode="eval")
    pipelines = {
        "prep (generated module)": module.make_input_fn("train", BATCH_SIZE, **options),
        "prep (make_input_fn)": make_input_fn(dataset, "train", BATCH_SIZE, **options),
        "prep (check_crc=True)": make_input_fn(dataset, "train", BATCH_SIZE, check_crc=True, **options),
        "example 3": example_3,
        "hand-tuned": lambda: then(tf.data.TFRecordDataset(files)),
    }
    if len(files) > 1:
        pipelines["hand interleave"] = interleaved
        if train:
            pipelines["parallel reads"] = lambda: then(tf.data.TFRecordDataset(files, num_parallel_reads=autotune))
    hand = [name for name in pipelines if not name.startswith(("prep", "example"))]
    return pipelines, list(pipelines)[:2], {"best hand-tuned": hand, "example 3": ["example 3"]}


def keras_folder(folder: Path) -> Callable:
    """What the Keras guide teaches for an image folder."""
    import tensorflow as tf

    def build():
        ds = tf.keras.utils.image_dataset_from_directory(str(folder), image_size=(224, 224), batch_size=IMAGE_BATCH_SIZE,
                                                         shuffle=True, seed=0, verbose=False)
        return ds.prefetch(tf.data.AUTOTUNE)

    return build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="small,images", help="small and/or images")
    parser.add_argument("--documents", type=int, default=300_000, help="documents of the small-record corpus")
    parser.add_argument("--shards", default="1,4,16", help="shard counts of the small-record datasets")
    parser.add_argument("--modes", default="train,eval", help="train and/or eval (small records)")
    parser.add_argument("--images", type=int, default=5_000, help="images to read")
    parser.add_argument("--repeats", type=int, default=3, help="epochs of each pipeline (best of)")
    parser.add_argument("--workdir", default="/tmp/prep-bench-readers")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    cases = args.cases.split(",")
    shard_counts = [int(n) for n in args.shards.split(",")]
    if "small" in cases:
        corpus = work / f"corpus-{args.documents}.jsonl"
        print(f"writing {args.documents:,} documents and their prep text datasets in {shard_counts} shards "
              f"to {work} (cached between runs) ...", flush=True)
        make_corpus(corpus, args.documents)
        for shards in shard_counts:
            make_text_dataset(corpus, work / f"text-{args.documents}-{shards}", shards)
    if "images" in cases:
        print(f"writing {args.images:,} JPEGs and their --resize 224x224 dataset to {work} (cached) ...", flush=True)
        make_images(work / f"jpegs-{args.images}", work / f"images-{args.images}", args.images)
    import tensorflow as tf

    print(f"\nTensorFlow {tf.__version__}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the "
          f"start; best of {args.repeats}")
    if "small" in cases:
        for shards in shard_counts:
            dataset = work / f"text-{args.documents}-{shards}"
            module = generated_module(dataset, work / f"text_{shards}_input.py")
            for mode in args.modes.split(","):
                pipelines, ours, baselines = small_pipelines(module, dataset, mode)
                report(f"small records, {shards} shard(s), {mode}", best_of(pipelines, args.repeats), ours, baselines)
                print(f"  (load average now {os.getloadavg()[0]:.1f})")
    if "images" in cases:
        dataset = work / f"images-{args.images}"
        module = generated_module(dataset, work / "images_input.py")
        pipelines = {
            "prep (generated module)": module.make_input_fn("train", IMAGE_BATCH_SIZE, num_epochs=1,
                                                            image_dtype="float32", shuffle_buffer=1000),
            "image_dataset_from_directory": keras_folder(work / f"jpegs-{args.images}"),
        }
        report("images (--resize 224x224 against the 640x480 originals)", best_of(pipelines, args.repeats),
               ["prep (generated module)"], {"image_dataset_from_directory": ["image_dataset_from_directory"]})
        print(f"  (load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
