"""Benchmark: `prep text --tokenizer wordpiece|sentencepiece|bpe` against the loop a user writes with
KerasHub's tokenizer, on bench/text.py's generated JSON Lines (short documents of 8-30 words).

The loop, in the seed how-to's style (its Example 2, with KerasHub's layer in place of
TextVectorization): read the JSON Lines, `tf.data.Dataset.from_tensor_slices(texts).batch(4096)
.map(tokenizer, num_parallel_calls=AUTOTUNE).prefetch(2)`, so tensorflow-text tokenises in C++ on
every core while Python writes one `tf.train.Example` per document (the features prep writes),
`tf.io.TFRecordWriter`. prep: `prep text corpus.jsonl OUT --tokenizer KIND --vocab FILE [--merges
FILE]`. The tokenizer files are made from a sample of the corpus: a WordPiece vocab.txt (the most
frequent words, then every character alone and as a suffix), a unigram SentencePiece model
(SentencePieceTrainer) and GPT-2 style BPE files (Hugging Face `tokenizers`), 8,000 entries each.

Both sides are timed as whole commands, each the fastest of --repeats runs, alternated; then both
outputs are read back and compared: the same token ids, line by line.

    .venv/bin/python bench/keras_hub_tokenizers.py                        # 100,000 documents, all three
    .venv/bin/python bench/keras_hub_tokenizers.py --kinds wordpiece --docs 300000
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from text import TOPICS, WRITE_RECORDS, generate, read_ids, run  # noqa: E402  (bench/text.py's corpus, loop end, timing)

SIZE = 8_000
KINDS = ("wordpiece", "sentencepiece", "bpe")

_LOOP = r"""
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
import keras_hub
src, out, kind, vocab, merges, labels = sys.argv[1:7]
label_ids = {name: i for i, name in enumerate(labels.split(","))}
with open(src, encoding="utf-8") as f:
    rows = [json.loads(line) for line in f]
texts = [r["text"] for r in rows]
if kind == "wordpiece":
    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocab, lowercase=True)
elif kind == "sentencepiece":
    tokenizer = keras_hub.tokenizers.SentencePieceTokenizer(proto=vocab)
else:
    tokenizer = keras_hub.tokenizers.BytePairTokenizer(vocabulary=vocab, merges=merges)
batches = (tf.data.Dataset.from_tensor_slices(texts).batch(4096)
           .map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2))

"""


def tokenizer_files(folder: Path, corpus: Path) -> dict[str, list[Path]]:
    """The three kinds' files, made from the corpus' first 50,000 documents; cached between runs."""
    done = folder / ".tokenizers"
    files = {"wordpiece": [folder / "vocab.txt"], "sentencepiece": [folder / "spm.model"],
             "bpe": [folder / "vocabulary.json", folder / "merges.txt"]}
    if done.exists():
        return files
    with open(corpus, encoding="utf-8") as f:
        sample = [json.loads(line)["text"] for _, line in zip(range(50_000), f)]
    words = Counter(w for text in sample for w in text.lower().replace(",", " , ").replace(".", " . ").split())
    characters = sorted({c for w in words for c in w})
    common = [w for w, _ in words.most_common(SIZE - 5 - 2 * len(characters))]
    pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(dict.fromkeys(
        common + characters + ["##" + c for c in characters]))
    files["wordpiece"][0].write_text("".join(p + "\n" for p in pieces), encoding="utf-8")

    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(sample), model_writer=model, vocab_size=SIZE,
                                             minloglevel=2)
    files["sentencepiece"][0].write_bytes(model.getvalue())

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(sample, trainers.BpeTrainer(vocab_size=SIZE, show_progress=False,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    saved = json.loads(bpe.to_str())["model"]
    files["bpe"][0].write_text(json.dumps(saved["vocab"]), encoding="utf-8")
    files["bpe"][1].write_text("#version: 0.2\n" + "".join((" ".join(m) if isinstance(m, list) else m) + "\n"
                                                           for m in saved["merges"]), encoding="utf-8")
    done.touch()
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated: wordpiece, sentencepiece, bpe")
    parser.add_argument("--docs", type=int, default=100_000, help="documents of 8-30 words")
    parser.add_argument("--repeats", type=int, default=2, help="alternated runs of each side; the fastest counts")
    parser.add_argument("--workdir", default="/tmp/prep-bench-text")
    args = parser.parse_args()
    work = Path(args.workdir)
    corpus, _, tokens = generate(work, "short", args.docs)
    files = tokenizer_files(corpus.parent, corpus)
    loop_script = work / "keras_hub_loop.py"
    loop_script.write_text(_LOOP + WRITE_RECORDS, encoding="utf-8")
    prep = str(Path(sys.executable).with_name("prep"))
    print(f"{'tokenizer':<15}{'docs':>9}{'words':>12}{'loop s':>8}{'prep s':>8}{'ratio':>7}{'same ids':>10}")
    for kind in args.kinds.split(","):
        paths = files[kind]
        loop_out, prep_out = work / f"loop-{kind}.tfrecord", work / f"prep-{kind}"
        loop = [sys.executable, str(loop_script), str(corpus), str(loop_out), kind, str(paths[0]),
                str(paths[-1]), ",".join(TOPICS)]
        flags = ["--tokenizer", kind, "--vocab", str(paths[0])] + (["--merges", str(paths[1])] if kind == "bpe" else [])
        flags += ["--lowercase"] if kind == "wordpiece" else []
        command = [prep, "text", str(corpus), str(prep_out), "--text-field", "text", "--label-field", "label",
                   "--overwrite", *flags]
        loop_s, prep_s = [], []
        for _ in range(args.repeats):
            loop_s.append(run(loop))
            prep_s.append(run(command))
        theirs, ours = read_ids([loop_out]), read_ids(sorted(prep_out.glob("*.tfrecord")))
        same = "yes" if theirs == ours else f"NO ({sum(theirs[k] != ours.get(k) for k in theirs)} differ)"
        print(f"{kind:<15}{args.docs:>9,}{tokens:>12,}{min(loop_s):>8.1f}{min(prep_s):>8.1f}"
              f"{min(loop_s) / min(prep_s):>6.2f}x{same:>10}", flush=True)


if __name__ == "__main__":
    main()
