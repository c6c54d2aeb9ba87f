"""Benchmark: `prep text` against the plain single-process loop it replaces, on generated JSON Lines.

The corpus is labelled JSON Lines (`{"text": ..., "label": ...}`, one document per line): words drawn
from a Zipf distribution over the 200,000 made-up words of bench/vocab.py, some capitalised, some with
a comma or full stop attached, labels from 10 topics. Two cases:

- short: 300,000 documents of 8-30 words (--docs);
- long: documents of 100-1,000 words, 50M tokens in all (--tokens).

Two modes:

- vocab: both sides are given the same 20,000-token vocabulary file (the 19,998 most frequent
  standardised words of the generator). The loop, in the seed how-to's style (its Example 2): read
  the JSON Lines (`json.loads` each), `tf.data.Dataset.from_tensor_slices(texts).batch(4096)
  .map(TextVectorization(vocabulary=tokens.txt, ragged=True), num_parallel_calls=AUTOTUNE)
  .prefetch(2)`, so the layer runs on every core while Python writes; one `tf.train.Example` per
  document with the same features prep writes (text, token ids, file name, line, label id and
  name), `tf.io.TFRecordWriter`. prep: `prep text corpus.jsonl OUT --text-field text --label-field
  label --vocab tokens.txt`.
- learn: both learn the vocabulary from the corpus first. The loop: `TextVectorization(max_tokens=
  20000).adapt(...)` on the same batches of texts, then the loop above; prep: `--max-tokens 20000`.

Both sides are timed as whole commands (interpreter start and imports included), each the fastest of
--repeats runs, alternated so that a busy moment favours neither; the loop's time after its imports
is printed too. prep's fixed cost is the whole command on a corpus of 10 documents. "encode/core" is
the encode stage alone (beam_jobs.text's per-range work on the corpus' first range, in this process,
no Beam): tokens per second on one core. After the runs, both outputs are read back and compared:
the same number of records and the same token ids, line by line.

    .venv/bin/python bench/text.py                                   # both cases, both modes
    .venv/bin/python bench/text.py --cases short --modes vocab        # the 300,000 short documents only
    .venv/bin/python bench/text.py --cases long --tokens 5000000      # a quick run of the long case
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parent))
from vocab import WORDS, _words  # noqa: E402  (the word list of bench/vocab.py)

MAX_TOKENS = 20_000
BATCH = 4096
TOPICS = [f"topic{i}" for i in range(10)]
CASES = {"short": (8, 30), "long": (100, 1000)}  # words per document, lowest and highest
MODES = ("vocab", "learn")
PUNCTUATION = str.maketrans("", "", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

# the loops' end: one tf.train.Example per document (the features prep writes) from `batches` of ids
WRITE_RECORDS = r"""def feature(value):
    if isinstance(value, int):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


name = os.path.basename(src).encode()
first = 0
with tf.io.TFRecordWriter(out) as writer:
    for ids in batches:
        batch = ids.to_list()
        for n, (row, row_ids) in enumerate(zip(rows[first:first + len(batch)], batch), first + 1):
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                "text": feature(row["text"].encode()),
                "text/token_ids": tf.train.Feature(int64_list=tf.train.Int64List(value=row_ids)),
                "text/filename": feature(name), "text/line": feature(n),
                "label": feature(label_ids[row["label"]]), "label/name": feature(row["label"].encode()),
            })).SerializeToString())
        first += len(batch)
"""

_LOOP = r"""
import json, os, sys, time
started = time.perf_counter()
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
src, out, vocab, labels, timing = sys.argv[1:6]
labels = labels.split(",")
label_ids = {name: i for i, name in enumerate(labels)}
imported = time.perf_counter()

with open(src, encoding="utf-8") as f:
    rows = [json.loads(line) for line in f]
texts = [r["text"] for r in rows]

if vocab == "learn":
    layer = tf.keras.layers.TextVectorization(max_tokens=%(max_tokens)d, ragged=True)
    layer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(%(batch)d))
else:
    layer = tf.keras.layers.TextVectorization(vocabulary=vocab, ragged=True)

# the seed how-to's Example 2: the layer mapped over a tf.data pipeline on every core, batches prefetched
batches = (tf.data.Dataset.from_tensor_slices(texts).batch(%(batch)d)
           .map(lambda t: layer(t), num_parallel_calls=tf.data.AUTOTUNE).prefetch(2))

%(write)swith open(timing, "w") as f:
    f.write(repr(time.perf_counter() - imported))
""" % {"batch": BATCH, "max_tokens": MAX_TOKENS, "write": WRITE_RECORDS}


def generate(folder: Path, case: str, amount: int) -> tuple[Path, Path, int]:
    """(corpus.jsonl, tokens.txt, tokens in the corpus) for `case`: `amount` documents (short) or
    tokens (long); cached between runs."""
    import numpy as np

    folder = folder / f"{case}-{amount}"
    corpus, vocab, marker = folder / "corpus.jsonl", folder / "tokens.txt", folder / ".complete"
    if marker.exists():
        return corpus, vocab, int(marker.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    words = np.array(_words(rng), dtype=object)
    caps = np.array([w[:1].upper() + w[1:] for w in words], dtype=object)
    p = 1 / np.arange(1, WORDS + 1) ** 1.05
    p /= p.sum()
    # The given vocabulary: the most frequent standardised words, in rank order (their order in a
    # vocabulary file is the user's business; adapt's would follow the counts).
    standardised = list(dict.fromkeys(w.lower().translate(PUNCTUATION) for w in words))
    vocab.write_text("".join(w + "\n" for w in standardised[:MAX_TOKENS - 2]), encoding="utf-8")
    low, high = CASES[case]
    tokens, docs = 0, 0
    with open(corpus, "w", encoding="utf-8") as f:
        while (docs if case == "short" else tokens) < amount:
            lengths = rng.integers(low, high + 1, size=10_000)
            if case == "short":
                lengths = lengths[:amount - docs]
            else:
                lengths = lengths[:max(1, np.searchsorted(np.cumsum(lengths), amount - tokens) + 1)]
            n = int(lengths.sum())
            picks = rng.choice(WORDS, n, p=p)
            chosen = np.where(rng.random(n) < 0.1, caps[picks], words[picks])
            marks = rng.random(n)
            chosen = np.where(marks < 0.05, chosen + ",", np.where(marks < 0.09, chosen + ".", chosen))
            topics = rng.integers(0, len(TOPICS), size=len(lengths))
            for text, topic in zip(np.split(chosen, np.cumsum(lengths)[:-1]), topics):
                f.write(json.dumps({"text": " ".join(text), "label": TOPICS[topic]}, ensure_ascii=False) + "\n")
            tokens += n
            docs += len(lengths)
    marker.write_text(str(tokens))
    return corpus, vocab, tokens


def run(command: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    if done.returncode:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr}")
    return time.perf_counter() - start


def prep_command(corpus: Path, out: Path, vocab: Path | None, workers: int | None) -> list[str]:
    command = [str(Path(sys.executable).with_name("prep")), "text", str(corpus), str(out), "--text-field", "text",
               "--label-field", "label", "--overwrite"]
    command += ["--vocab", str(vocab)] if vocab else ["--max-tokens", str(MAX_TOKENS)]
    return command + (["--workers", str(workers)] if workers else [])


def encode_rate(corpus: Path, vocab: Path) -> float:
    """Tokens per second of the encode stage alone on one core: the job's per-range work (read the
    rows, encode them in batches) on the first byte range of the corpus, in this process, without Beam."""
    from prep.core import row_files
    from prep.core.layout import Layout
    from prep.text import inputs as text_inputs
    from prep.text.encoder import DocumentEncoder
    from prep.text.options import TextJobOptions
    from prep.text.tokenizer import read_token_vocabulary
    from schemas import TextSettings

    inputs = text_inputs.resolve_inputs(str(corpus), "auto", "text", "label", False, False)
    size = corpus.stat().st_size
    end = None if size <= row_files.RANGE_BYTES else row_files.RANGE_BYTES
    encoder = DocumentEncoder(TextJobOptions(inputs=inputs, out="/nonexistent", vocab_file=str(vocab)),
                              read_token_vocabulary((str(vocab),), TextSettings()), tuple(TOPICS))
    tokens, start = 0, time.perf_counter()
    for item in text_inputs.corpus_items(str(corpus), inputs, Layout(False, ()), 0, end):
        encoder.add(item)
        if encoder.full:
            tokens += sum(encoder.take().summary.counts["tokens"].values())
    tokens += sum(encoder.take().summary.counts["tokens"].values())
    return tokens / (time.perf_counter() - start)


def read_ids(paths: list[Path]) -> dict[int, list[int]]:
    """text/line -> token ids of every record in `paths`."""
    import tensorflow as tf

    spec = {"text/line": tf.io.FixedLenFeature([], tf.int64), "text/token_ids": tf.io.RaggedFeature(tf.int64)}
    out = {}
    for batch in tf.data.TFRecordDataset([str(p) for p in paths]).batch(8192).map(
            lambda r: tf.io.parse_example(r, spec)):
        for line, ids in zip(batch["text/line"].numpy().tolist(), batch["text/token_ids"].to_list()):
            out[line] = ids
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="short,long", help="comma-separated: short, long")
    parser.add_argument("--modes", default="vocab,learn", help="comma-separated: vocab (given), learn (adapt)")
    parser.add_argument("--docs", type=int, default=300_000, help="short case: documents")
    parser.add_argument("--tokens", type=int, default=50_000_000, help="long case: tokens")
    parser.add_argument("--workers", type=int, help="prep's local workers (default: one per core)")
    parser.add_argument("--repeats", type=int, default=2, help="alternated runs of each side; the fastest counts")
    parser.add_argument("--no-check", action="store_true", help="skip comparing the two outputs' token ids")
    parser.add_argument("--workdir", default="/tmp/prep-bench-text")
    args = parser.parse_args()
    work = Path(args.workdir)
    cases = [c for c in args.cases.split(",") if c]
    modes = [m for m in args.modes.split(",") if m]
    if set(cases) - set(CASES) or set(modes) - set(MODES):
        parser.error(f"cases are {', '.join(CASES)}; modes are {', '.join(MODES)}")
    corpora = {}
    for case in cases:
        amount = args.docs if case == "short" else args.tokens
        print(f"generating the {case} case ({amount:,} {'documents' if case == 'short' else 'tokens'}) "
              f"in {work} (cached between runs) ...", flush=True)
        corpora[case] = generate(work, case, amount)
    tiny = generate(work, "short", 10)
    fixed = min(run(prep_command(tiny[0], work / "out-tiny", tiny[1], args.workers)) for _ in range(args.repeats))
    print(f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; prep's fixed cost "
          f"(10 documents, whole command, --vocab): {fixed:.1f} s")
    print(f"{'case':<6}{'mode':<7}{'docs':>9}{'tokens':>12}{'loop s':>8}{'(after imports)':>16}{'prep s':>8}"
          f"{'ratio':>7}{'loop tok/s':>12}{'prep tok/s':>12}{'encode tok/s/core':>19}{'same ids':>9}", flush=True)
    for case, (corpus, vocab, tokens) in corpora.items():
        docs = sum(1 for _ in open(corpus, "rb"))
        encode = encode_rate(corpus, vocab)
        for mode in modes:
            with tempfile.TemporaryDirectory(dir=work) as tmp:
                tmp = Path(tmp)
                loop_s, after_s, prep_s = [], [], []
                loop = [sys.executable, "-c", _LOOP, str(corpus), str(tmp / "loop.tfrecord"),
                        str(vocab) if mode == "vocab" else "learn", ",".join(TOPICS), str(tmp / "timing")]
                for _ in range(args.repeats):
                    loop_s.append(run(loop))
                    after_s.append(float((tmp / "timing").read_text()))
                    prep_s.append(run(prep_command(corpus, tmp / "prep", vocab if mode == "vocab" else None,
                                                   args.workers)))
                same = "-"
                if not args.no_check:
                    loop_ids = read_ids([tmp / "loop.tfrecord"])
                    prep_ids = read_ids(sorted((tmp / "prep").glob("*.tfrecord")))
                    same = "yes" if loop_ids == prep_ids else "NO"
                best_loop, best_prep = min(loop_s), min(prep_s)
                print(f"{case:<6}{mode:<7}{docs:>9,}{tokens:>12,}{best_loop:>8.1f}{min(after_s):>16.1f}"
                      f"{best_prep:>8.1f}{best_loop / best_prep:>6.2f}x{tokens / best_loop:>12,.0f}"
                      f"{tokens / best_prep:>12,.0f}{encode:>19,.0f}{same:>9}", flush=True)
                if same == "NO":
                    sys.exit("the two outputs' token ids differ")


if __name__ == "__main__":
    main()
