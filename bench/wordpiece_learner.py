"""Benchmark: learning a WordPiece vocabulary, prep's learner (prep.text.wordpiece_learner) against
KerasHub's `compute_word_piece_vocabulary` on the same corpus, and `prep vocab --tokenizer wordpiece`
as a whole command against KerasHub's whole call.

The corpus: the lines (over 20 characters) of the installed packages' descriptions, real prose, tables
and code, the first N of them in a fixed shuffled order (tests/text_reference.package_description_lines),
written to one file.

Per vocabulary size, alternated --repeats times, the fastest of each counts:

1. the learner alone: `learn_wordpiece(counts, size)` on the words' counts (counted once beforehand,
   with prep.text.wordpiece.PretokenizedWords: what the Beam job gathers);
2. KerasHub: `compute_word_piece_vocabulary([FILE], size)`, which reads, pre-tokenises and counts in
   tf.data, then runs tensorflow-text's learner (this is what a user calls);
3. the whole command: `prep vocab FILE OUT --tokenizer wordpiece --max-tokens size --quiet`, start-up
   and Beam included.

The two vocabularies must be equal, line for line, or the run stops.

    .venv/bin/python bench/wordpiece_learner.py                          # 3,000 lines; sizes 60 and 1,000
    .venv/bin/python bench/wordpiece_learner.py --lines 10000 --sizes 8000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--sizes", default="60,1000")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import keras_hub

    from prep.text.wordpiece import PretokenizedWords
    from prep.text.wordpiece_learner import learn_wordpiece
    from schemas import WordPieceSettings
    from tests.text_reference import package_description_lines

    lines = package_description_lines()[: args.lines]
    work = Path(tempfile.mkdtemp(prefix="wordpiece-bench-"))
    corpus = work / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    words = PretokenizedWords(WordPieceSettings())
    counts: Counter = Counter()
    for line in lines:
        counts.update(w.decode("utf-8") for w in words.tokens(line.encode("utf-8")))
    print(f"{len(lines):,} lines, {sum(counts.values()):,} words, {len(counts):,} distinct")
    print("| size | prep's learner | KerasHub's compute_word_piece_vocabulary | ratio | prep vocab (whole command) | ratio |")
    print("|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        best = {"learner": float("inf"), "keras_hub": float("inf"), "command": float("inf")}
        for _ in range(args.repeats):
            started = time.perf_counter()
            ours = learn_wordpiece(counts, size)
            best["learner"] = min(best["learner"], time.perf_counter() - started)
            started = time.perf_counter()
            theirs = keras_hub.tokenizers.compute_word_piece_vocabulary([str(corpus)], size)
            best["keras_hub"] = min(best["keras_hub"], time.perf_counter() - started)
            if ours != theirs:
                sys.exit(f"size {size}: the vocabularies differ ({len(ours)} and {len(theirs)} lines)")
            out = work / f"vocab{size}.txt"
            started = time.perf_counter()
            subprocess.run([str(ROOT / ".venv/bin/prep"), "vocab", str(corpus), str(out), "--tokenizer", "wordpiece",
                            "--max-tokens", str(size), "--quiet", "--overwrite"], check=True, stdout=subprocess.DEVNULL)
            best["command"] = min(best["command"], time.perf_counter() - started)
            if out.read_text(encoding="utf-8").split("\n")[:-1] != theirs:
                sys.exit(f"size {size}: prep vocab's file differs from KerasHub's")
        k = best["keras_hub"]
        print(f"| {size:,} ({len(ours):,} written) | {best['learner']:.2f} s | {k:.2f} s | {k / best['learner']:.1f}x "
              f"| {best['command']:.2f} s | {k / best['command']:.1f}x |")


if __name__ == "__main__":
    main()
