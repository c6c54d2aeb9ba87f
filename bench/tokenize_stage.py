"""Benchmark: the tokenising step of `prep text`'s encoder alone, per token, one core, no Beam.

On the first 5,000 documents of bench/text.py's corpora (long: 100-1,000 words; short: 8-30), with its
20,000-token vocabulary, each measured the fastest of --repeats runs, all in this run:

- per document: what the encoder did for each document before batch tokenisation, and still does for
  other settings: `translate().split()`, a dict look-up per token for its id's varint, the join, the
  out-of-vocabulary count, the used-id set and the copy text (tokens joined by spaces);
- batch: `prep.text.batch_ids.BatchIds.encode` on the same documents in batches of about PENDING_BYTES
  of text (the encoder's), giving the same ids, counts and copy texts (checked here);
- Hugging Face `tokenizers` (when installed): a WordLevel model of the same vocabulary with a whitespace
  pre-tokeniser, its punctuation and lower-casing normalisers, `encode_batch` with parallelism off (one
  core, as in a Beam worker); not exact (its Lowercase is not ASCII-only), for the speed only.

And the shard writers' set of used ids: `np.unique(varints(...))` against `distinct_varints` on the
packed ids of the long documents.

    PYTHONPATH=. .venv/bin/python bench/tokenize_stage.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import text as text_bench  # noqa: E402  (bench/text.py: the corpora)


def best(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", default="/tmp/prep-bench-text")
    args = parser.parse_args()

    import numpy as np

    from prep.text import inventory
    from prep.text.batch_ids import BatchIds
    from prep.text.encoder import PENDING_BYTES, TokenPieces
    from prep.text.standardize import translation

    work = Path(args.workdir)
    cases = {"long": text_bench.generate(work, "long", 50_000_000), "short": text_bench.generate(work, "short", 300_000)}
    print(f"tokenising {args.documents:,} documents, one core, fastest of {args.repeats}; ns a token")
    print(f"{'case':6} {'per document':>13} {'batch':>8} {'ratio':>7} {'HF tokenizers':>14}")
    for case, (corpus, vocab, _) in cases.items():
        with open(corpus, "rb") as f:
            texts = [json.loads(next(f))["text"].encode() for _ in range(args.documents)]
        tokens = [line.rstrip(b"\n") for line in vocab.read_bytes().splitlines(keepends=True)]
        ids = {token: i + 2 for i, token in enumerate(tokens)}
        pieces, batch = TokenPieces(ids, 1), BatchIds(ids, 1, "lower_and_strip_punctuation")
        table, delete = translation("lower_and_strip_punctuation")
        n = sum(len(t.translate(table, delete).split()) for t in texts)
        get, oov = pieces.pieces.get, pieces.oov

        def per_document():
            used = set()
            for text in texts:
                words = text.translate(table, delete).split()
                found = [get(w, oov) for w in words]
                b"".join(found), found.count(oov), used.update(found), b" ".join(words)

        groups, size, group = [], 0, []
        for text in texts:
            group.append(text)
            size += len(text)
            if size >= PENDING_BYTES:
                groups.append(group)
                group, size = [], 0
        groups += [group] if group else []

        def batched():
            return [batch.encode(g) for g in groups]

        encoded = batched()
        for g, e in zip(groups, encoded):  # the same ids and copy texts as the per-document path
            for i, text in enumerate(g):
                words = text.translate(table, delete).split()
                assert e.packed[e.id_bytes[i]:e.id_bytes[i] + e.kept_bytes[i]] == b"".join(get(w, oov) for w in words)
                assert e.normalized[e.spans[i, 0]:e.spans[i, 1]] == b" ".join(words)
        slow, fast = best(args.repeats, per_document), best(args.repeats, batched)
        hugging_face = "-"
        try:
            os.environ["TOKENIZERS_PARALLELISM"] = "false"
            from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

            model = Tokenizer(models.WordLevel({t.decode(): i for t, i in ids.items()} | {"[UNK]": 1}, unk_token="[UNK]"))
            model.normalizer = normalizers.Sequence([normalizers.Replace(Regex(r"[!-/:-@\[-`{-~]"), ""),
                                                     normalizers.Lowercase()])
            model.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
            strings = [t.decode() for t in texts]
            hugging_face = f"{best(args.repeats, lambda: model.encode_batch(strings, add_special_tokens=False)) * 1e9 / n:.0f}"
        except ImportError:
            pass
        print(f"{case:6} {slow * 1e9 / n:13.0f} {fast * 1e9 / n:8.0f} {slow / fast:6.2f}x {hugging_face:>14}")

    corpus = cases["long"][0]
    with open(corpus, "rb") as f:
        texts = [json.loads(next(f))["text"].encode() for _ in range(args.documents)]
    packed = b"".join(e.packed for e in (batch.encode(texts[i:i + 500]) for i in range(0, len(texts), 500)))
    count = len(inventory.varints(packed))
    whole = best(args.repeats, lambda: np.unique(inventory.varints(packed)))
    distinct = best(args.repeats, lambda: inventory.distinct_varints(packed))
    assert (np.unique(inventory.varints(packed)) == inventory.distinct_varints(packed)).all()
    print(f"used ids of {count:,} packed ids: np.unique(varints) {whole:.3f} s, distinct_varints {distinct:.3f} s "
          f"({whole / distinct:.1f}x)")


if __name__ == "__main__":
    main()
