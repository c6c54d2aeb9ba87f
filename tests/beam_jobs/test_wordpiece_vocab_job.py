"""`prep vocab --tokenizer wordpiece` end to end in real Beam jobs: the vocab.txt is the one KerasHub's
compute_word_piece_vocabulary learns from the same files, at 1 and 2 workers, from plain lines and
from JSON Lines; a dataset made with it gets KerasHub's ids; every mistake is one line."""

from __future__ import annotations

import json
from pathlib import Path

import keras_hub
import pytest
import tensorflow as tf

from tests.text_reference import package_description_lines


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[str]]:
    """Real lines in three files (one of them JSON Lines of the same text) and the lines."""
    root = tmp_path_factory.mktemp("wordpiece")
    lines = package_description_lines()[:2400] + ["École naïve CAFÉ 中文字 日本語 Straße"] * 40
    (root / "docs").mkdir()
    (root / "docs/a.txt").write_text("\n".join(lines[:1200]) + "\n", encoding="utf-8")
    (root / "docs/b.txt").write_text("\n".join(lines[1200:]) + "\n", encoding="utf-8")
    (root / "docs.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in lines), encoding="utf-8")
    return root, lines


def test_the_vocabulary_is_keras_hubs_at_one_and_two_workers(corpus, prep_cli):
    root, lines = corpus
    expected = keras_hub.tokenizers.compute_word_piece_vocabulary(
        [str(root / "docs/a.txt"), str(root / "docs/b.txt")], 1200, lowercase=True, strip_accents=True,
        reserved_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    written = []
    for workers, src in (("1", f"{root}/docs/*.txt"), ("2", f"{root}/docs/*.txt"), ("2", root / "docs.jsonl")):
        out = root / f"vocab{len(written)}.txt"
        result = prep_cli("vocab", src, out, "--tokenizer", "wordpiece", "--max-tokens", "1200", "--lowercase",
                          "--strip-accents", *[a for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]") for a in ("--reserved-token", t)],
                          "--workers", workers)
        assert result.exit_code == 0, result.err
        assert f"WordPiece tokens to {out}" in result.out
        assert out.read_text(encoding="utf-8").split("\n")[:-1] == expected
        written.append(out.read_bytes())
        counts = [int(line.split("\t")[0]) for line in
                  (root / f"vocab{len(written) - 1}.counts.tsv").read_text(encoding="utf-8").splitlines()]
        assert counts == sorted(counts, reverse=True)  # every word counted, the most frequent first
        stats = json.loads((root / f"vocab{len(written) - 1}.stats.json").read_text())
        assert stats["documents"] == len(lines) and stats["vocabulary"]["size"] == len(expected)
        assert (sum(counts), len(counts)) == (stats["vocabulary"]["corpus_words"], stats["vocabulary"]["distinct_words"])
    assert written[0] == written[1] == written[2]

    # a dataset made with it has KerasHub's ids for that vocabulary (tokenised as tests/beam_jobs/test_wordpiece_job.py checks)
    out = root / "dataset"
    result = prep_cli("text", root / "docs.jsonl", out, "--tokenizer", "wordpiece", "--vocab", root / "vocab0.txt",
                      "--lowercase", "--strip-accents", "--workers", "1")
    assert result.exit_code == 0, result.err
    # built from the file, as a user builds it (KerasHub strips each line it reads: a piece holding a space,
    # from a no-break space folded by lowercase, is written as KerasHub writes it and read as KerasHub reads it)
    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=str(root / "vocab0.txt"), lowercase=True,
                                                        strip_accents=True)
    from tests.beam_jobs.test_text_job import read_records

    records = read_records(out)
    by_line = {r["text/line"]: list(r["text/token_ids"]) for r in records}
    expected_ids = [list(ids) for ids in tokenizer(tf.constant(lines))]
    wrong = [(line, ids, expected_ids[line - 1]) for line, ids in sorted(by_line.items()) if ids != list(expected_ids[line - 1])]
    assert len(by_line) > 2400 and not wrong, wrong[:2]


def test_a_small_corpus_says_why_the_vocabulary_is_smaller(tmp_path, prep_cli):
    (tmp_path / "c.txt").write_text("bat sat pat mat rat\n" * 3)
    result = prep_cli("vocab", tmp_path / "c.txt", tmp_path / "v.txt", "--tokenizer", "wordpiece", "--max-tokens", "500")
    assert result.exit_code == 0, result.err
    assert "fewer than the 500 asked for" in result.out
    assert (tmp_path / "v.txt").read_text().split("\n")[:-1] == keras_hub.tokenizers.compute_word_piece_vocabulary(
        [str(tmp_path / "c.txt")], 500)


@pytest.mark.parametrize("args, message", [
    (("--tokenizer", "wordpiece"), "needs --max-tokens N"),
    (("--tokenizer", "wordpiece", "--max-tokens", "100", "--standardize", "lower"), "--standardize is a TextVectorization setting"),
    (("--max-tokens", "100", "--lowercase"), "--lowercase is a WordPiece option: add --tokenizer wordpiece"),
    (("--max-tokens", "100", "--reserved-token", "[X]"), "--reserved-token is a WordPiece option"),
    (("--tokenizer", "wordpiece", "--max-tokens", "100", "--reserved-token", "[PAD]"), "must hold the unknown token '[UNK]'"),
    (("--tokenizer", "unigram", "--max-tokens", "100"), "'unigram' is not one of"),
])
def test_mistakes_are_one_line(tmp_path, prep_cli, args, message):
    (tmp_path / "c.txt").write_text("some text\n")
    result = prep_cli("vocab", tmp_path / "c.txt", tmp_path / "v.txt", *args)
    assert result.exit_code == 2 and message in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1 and not (tmp_path / "v.txt").exists()


def test_a_corpus_without_a_word_is_a_clear_error(tmp_path, prep_cli):
    (tmp_path / "c.txt").write_text(" \n\u200b\n")
    result = prep_cli("vocab", tmp_path / "c.txt", tmp_path / "v.txt", "--tokenizer", "wordpiece", "--max-tokens", "50")
    assert result.exit_code != 0 and "no word to learn a WordPiece vocabulary from" in result.err, result.err
    assert len(result.err.strip().splitlines()) <= 2 and not (tmp_path / "v.txt").exists()


def test_a_kerashub_bert_trains_on_the_shards_of_a_learned_vocabulary(corpus, tmp_path, prep_cli):
    """Learn the vocabulary, convert, read: a tiny BertBackbone's classifier takes the reader's batches
    on KerasHub's preprocessor-free path (token ids, segment ids, padding mask) and fits an epoch."""
    import keras

    from readers import make_input_fn
    from schemas import load_schema

    root, lines = corpus
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"text": t, "label": "code" if "`" in t or "::" in t else "prose"}) + "\n"
                            for t in lines[:600]), encoding="utf-8")
    vocab = tmp_path / "vocab.txt"
    assert prep_cli("vocab", docs, vocab, "--tokenizer", "wordpiece", "--max-tokens", "400", "--lowercase").exit_code == 0
    out = tmp_path / "bert"
    result = prep_cli("text", docs, out, "--tokenizer", "wordpiece", "--vocab", vocab, "--lowercase", "--label-field", "label")
    assert result.exit_code == 0, result.err
    pad_id = vocab.read_text(encoding="utf-8").splitlines().index("[PAD]")

    def bert_inputs(features, labels):  # KerasHub's BERT inputs, without its preprocessor
        ids = features["text/token_ids"]
        return {"token_ids": ids, "segment_ids": tf.zeros_like(ids), "padding_mask": ids != pad_id}, labels

    # the ids come padded with [PAD], as BERT's preprocessor pads them (schema.json names its id)
    assert load_schema(str(out)).vocabulary("tokens").pad_id == pad_id
    train = make_input_fn(out, batch_size=16, mode="eval", sequence_length=48, features=["text/token_ids"])()
    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(vocab.read_text(encoding="utf-8").splitlines()),
                                             num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32,
                                             max_sequence_length=48)
    classifier = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = classifier.fit(train.map(bert_inputs), epochs=1, verbose=0)
    assert history.history["loss"][0] > 0
    batch, _ = next(iter(train.map(bert_inputs)))
    assert batch["token_ids"].shape == (16, 48) and classifier.predict(batch, verbose=0).shape == (16, 2)
