"""Benchmark: `prep vocab` against `tf.keras.layers.TextVectorization.adapt` on the same generated corpus.

The corpus is English-like plain text, one document per line, in shards of about 64 MB: words drawn
from a Zipf distribution over 200,000 made-up words of English-like lengths, some capitalised, some
with a comma or full stop attached, a few with accented letters or digits. Both sides learn a
20,000-entry vocabulary with TextVectorization's default settings:

- adapt: `TextVectorization(max_tokens=20000).adapt(tf.data.TextLineDataset(files).batch(B))`, in a
  process of its own, timed from the call (TensorFlow's import excluded, as a user's script would have
  it already);
- prep: the whole `prep vocab GLOB OUT --max-tokens 20000` command, start-up included, on every core
  (or --workers).

For each corpus size it prints tokens/s of both, the ratio (prep over adapt), whether the two
vocabularies are identical, and the peak memory of each side's whole process tree (the sum of the
resident set sizes of the process and its descendants, sampled every 50 ms from /proc: shared pages
count once per process, so it is an upper bound).

    .venv/bin/python bench/vocab.py                              # 50M and 100M tokens
    .venv/bin/python bench/vocab.py --tokens 50000000 --workers 2 --batch 8192
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from process_tree import run_measured  # noqa: E402

MAX_TOKENS = 20_000
WORDS = 200_000
SHARD_BYTES = 64 * 2**20
TOKENS_PER_LINE = (4, 30)

_ADAPT = r"""
import os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
files, batch, out, timing = sys.argv[1].split(","), int(sys.argv[2]), sys.argv[3], sys.argv[4]
start = time.perf_counter()
layer = tf.keras.layers.TextVectorization(max_tokens=%d)
layer.adapt(tf.data.TextLineDataset(files).batch(batch))
seconds = time.perf_counter() - start
keys, ids = layer._lookup_layer.lookup_table.export()
tokens = [t for _, t in sorted(zip(ids.numpy().tolist(), keys.numpy().tolist()))]
open(out, "wb").write(b"".join(t + b"\n" for t in tokens))
open(timing, "w").write(repr(seconds))
""" % MAX_TOKENS


def _words(rng) -> list[str]:
    """WORDS distinct made-up words, frequent ones short, like English."""
    import numpy as np

    letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
    weights = 1 / np.arange(1, 27) ** 0.9
    weights /= weights.sum()
    words, seen = [], set()
    while len(words) < WORDS:
        rank = len(words) + 1
        length = int(min(14, max(1, rng.normal(2.5 + 1.1 * np.log10(rank + 1), 1.6))))
        word = "".join(rng.choice(letters, length, p=weights))
        if rng.random() < 0.01:
            word += rng.choice(["é", "ß", "ñ", "ø"])
        if rng.random() < 0.01:
            word += str(int(rng.integers(0, 100)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def generate(folder: Path, tokens: int) -> list[Path]:
    """Plain text shards holding `tokens` tokens in all (cached between runs)."""
    import numpy as np

    marker = folder / f".complete-{tokens}"
    if marker.exists():
        return sorted(folder.glob("part-*.txt"))
    for old in folder.glob("part-*.txt"):
        old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    words = np.array(_words(rng), dtype=object)
    caps = np.array([w[:1].upper() + w[1:] for w in words], dtype=object)
    p = 1 / np.arange(1, WORDS + 1) ** 1.05
    p /= p.sum()
    written, shard, size, handle = 0, 0, 0, None
    while written < tokens:
        n = min(1_000_000, tokens - written)
        picks = rng.choice(WORDS, n, p=p)
        chosen = np.where(rng.random(n) < 0.1, caps[picks], words[picks])
        marks = rng.random(n)
        chosen = np.where(marks < 0.05, chosen + ",", np.where(marks < 0.09, chosen + ".", chosen))
        cuts = np.cumsum(rng.integers(*TOKENS_PER_LINE, size=n // TOKENS_PER_LINE[0] + 1))
        cuts = cuts[cuts < n]
        text = "\n".join(" ".join(line) for line in np.split(chosen, cuts)) + "\n"
        if handle is None or size >= SHARD_BYTES:
            if handle:
                handle.close()
            handle, size = open(folder / f"part-{shard:05d}.txt", "w", encoding="utf-8"), 0
            shard += 1
        handle.write(text)
        size += len(text)
        written += n
    handle.close()
    marker.touch()
    return sorted(folder.glob("part-*.txt"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", default="50000000,100000000", help="comma-separated corpus sizes, in tokens")
    parser.add_argument("--workers", type=int, help="prep's local workers (default: one per core)")
    parser.add_argument("--batch", type=int, default=8192, help="lines per batch fed to adapt")
    parser.add_argument("--workdir", default="/tmp/prep-bench-vocab")
    args = parser.parse_args()
    work = Path(args.workdir)
    sizes = [int(n) for n in args.tokens.split(",")]
    corpora = {}
    for tokens in sizes:
        print(f"generating {tokens:,} tokens in {work / str(tokens)} (cached between runs) ...", flush=True)
        corpora[tokens] = generate(work / str(tokens), tokens)
    prep = str(Path(sys.executable).with_name("prep"))
    load = os.getloadavg()[0]
    print(f"\n{os.cpu_count()} cores, load average {load:.1f} before the runs; adapt batch {args.batch} lines; "
          f"max_tokens {MAX_TOKENS:,}")
    print(f"{'tokens':>12} {'MB':>6} {'adapt tok/s':>12} {'prep tok/s':>12} {'ratio':>6} {'identical':>9} "
          f"{'adapt peak MB':>13} {'prep peak MB':>12}")
    for tokens, files in corpora.items():
        size = sum(f.stat().st_size for f in files)
        with tempfile.TemporaryDirectory() as tmp:
            adapt_vocab, prep_vocab = Path(tmp) / "adapt.txt", Path(tmp) / "prep.txt"
            timing = Path(tmp) / "adapt-seconds"
            adapt = run_measured([sys.executable, "-c", _ADAPT, ",".join(map(str, files)), str(args.batch),
                                  str(adapt_vocab), str(timing)])
            adapt_s = float(timing.read_text())
            command = [prep, "vocab", f"{files[0].parent}/part-*.txt", str(prep_vocab), "--max-tokens", str(MAX_TOKENS)]
            command += ["--workers", str(args.workers)] if args.workers else []
            measured = run_measured(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            prep_s = measured.seconds
            same = adapt_vocab.read_bytes() == prep_vocab.read_bytes()
            n = tokens  # every generated word holds a letter, so it stays a token after standardisation
            print(f"{n:>12,} {size / 1e6:>6,.0f} {n / adapt_s:>12,.0f} {n / prep_s:>12,.0f} {adapt_s / prep_s:>5.2f}x "
                  f"{'yes' if same else 'NO':>9} {adapt.peak_rss_bytes / 2**20:>13,.0f} {measured.peak_rss_bytes / 2**20:>12,.0f}",
                  flush=True)
            if not same:
                sys.exit("the vocabularies differ")


if __name__ == "__main__":
    main()
