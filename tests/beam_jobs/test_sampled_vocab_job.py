"""`prep vocab --tokenizer sentencepiece|bpe` in real Beam jobs: the SentencePiece model is byte for
byte the one `keras_hub.tokenizers.compute_sentence_piece_proto` learns from the same documents in the
same order, the byte-pair files those Hugging Face `tokenizers` learns as GPT-2's, at 1 and 2 workers;
a sample smaller than the corpus is the same whatever the workers; a dataset made with what was
learned gets KerasHub's ids; every mistake is one line."""

from __future__ import annotations

import json
from pathlib import Path

import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from prep.text.sentencepiece_learner import SentencePieceTraining, train_model
from tests.text.test_bytepair import train as hugging_face_bytepair
from tests.text_reference import package_description_lines


def keras_hub_model(texts: list[str], size: int, model_type: str = "unigram", lowercase: bool = False) -> bytes:
    return keras_hub.tokenizers.compute_sentence_piece_proto(
        tf.data.Dataset.from_tensor_slices(texts), size, model_type=model_type, lowercase=lowercase)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[str]]:
    """Real lines in two JSON Lines files (b.jsonl after a.jsonl: the corpus' order), and the lines."""
    root = tmp_path_factory.mktemp("sentencepiece")
    lines = package_description_lines()[:1500] + ["École naïve CAFÉ 中文字 日本語 Straße"] * 20
    (root / "docs").mkdir()
    for name, part in (("a.jsonl", lines[:800]), ("b.jsonl", lines[800:])):
        (root / "docs" / name).write_text("".join(json.dumps({"text": t}) + "\n" for t in part), encoding="utf-8")
    return root, lines


def learn(prep_cli, root: Path, out: Path, workers: str, *args):
    """`prep vocab` over the corpus' two files into `out`, which must succeed."""
    result = prep_cli("vocab", f"{root}/docs/*.jsonl", out, *args, "--workers", workers)
    assert result.exit_code == 0, result.err
    return result


@pytest.mark.parametrize("model_type, lowercase", [("unigram", False), ("bpe", True)])
def test_the_learner_gives_keras_hubs_model(corpus, model_type, lowercase):
    _, lines = corpus
    training = SentencePieceTraining(model_type, lowercase)
    assert train_model([t.encode() for t in lines], 600, training) == keras_hub_model(lines, 600, model_type, lowercase)


def test_the_model_is_keras_hubs_at_one_and_two_workers_and_tokenises_a_dataset(corpus, prep_cli):
    root, lines = corpus
    expected = keras_hub_model(lines, 600)
    for workers in ("1", "2"):
        out = root / f"m{workers}.model"
        result = learn(prep_cli, root, out, workers, "--tokenizer", "sentencepiece", "--max-tokens", "600")
        assert f"model of 600 pieces to {out}, learned from every document" in result.out
        assert out.read_bytes() == expected
        stats = json.loads(out.with_name(out.name + ".stats.json").read_text())
        assert stats["vocabulary"]["sample"]["documents"] == stats["documents"] == len(lines)

    dataset = root / "dataset"
    made = prep_cli("text", f"{root}/docs/*.jsonl", dataset, "--tokenizer", "sentencepiece", "--vocab", root / "m1.model",
                    "--workers", "1")
    assert made.exit_code == 0, made.err
    tokenizer = keras_hub.tokenizers.SentencePieceTokenizer(proto=str(root / "m1.model"))
    spec = {"text": tf.io.FixedLenFeature([], tf.string), "text/token_ids": tf.io.RaggedFeature(tf.int64)}
    records = tf.data.TFRecordDataset(sorted(str(p) for p in dataset.glob("*.tfrecord"))).map(
        lambda r: tf.io.parse_single_example(r, spec))
    checked = 0
    for record in records:
        assert record["text/token_ids"].numpy().tolist() == np.asarray(tokenizer(record["text"])).tolist()
        checked += 1
    assert checked == len(lines)


def test_a_sample_is_the_same_whatever_the_workers(corpus, prep_cli):
    root, lines = corpus
    models = []
    for workers in ("1", "2"):
        out = root / f"s{workers}.model"
        result = learn(prep_cli, root, out, workers, "--tokenizer", "sentencepiece", "--max-tokens", "300",
                       "--sample", "700", "--model-type", "bpe")
        assert f"learned from a sample of 700 of the {len(lines):,} documents" in result.out
        models.append(out.read_bytes())
    assert models[0] == models[1] != keras_hub_model(lines, 300, "bpe")
    stats = json.loads((root / "s1.model.stats.json").read_text())["vocabulary"]
    assert stats["training"] == {"model_type": "bpe", "lowercase": False}
    assert stats["sample"]["documents"] == stats["sample"]["at_most"] == 700 and stats["sample"]["whole_corpus"] is False


def test_byte_pair_files_are_hugging_faces_and_tokenise_a_dataset_as_keras_hub(corpus, prep_cli):
    root, lines = corpus
    vocabulary, merges = hugging_face_bytepair(lines, 700)  # special tokens <|endoftext|> <s>
    for workers in ("1", "2"):
        out = root / f"bpe{workers}.json"
        result = learn(prep_cli, root, out, workers, "--tokenizer", "bpe", "--max-tokens", "700",
                       "--reserved-token", "<|endoftext|>", "--reserved-token", "<s>")
        assert f"byte-pair tokens to {out} and their merges to {root / f'bpe{workers}.merges.txt'}" in result.out
        assert json.loads(out.read_text(encoding="utf-8")) == vocabulary
        assert (root / f"bpe{workers}.merges.txt").read_text(encoding="utf-8").splitlines() == merges

    dataset = root / "bpe-dataset"
    made = prep_cli("text", f"{root}/docs/*.jsonl", dataset, "--tokenizer", "bpe", "--vocab", root / "bpe1.json",
                    "--merges", root / "bpe1.merges.txt", "--workers", "1")
    assert made.exit_code == 0, made.err
    # KerasHub's layer as a tf.data pipeline runs it (a graph, on batches): called eagerly on one string,
    # KerasHub 0.32 splits a run of leading spaces differently from its own graph path
    tokenizer = tf.function(keras_hub.tokenizers.BytePairTokenizer(
        vocabulary=str(root / "bpe1.json"), merges=str(root / "bpe1.merges.txt")), input_signature=[tf.TensorSpec([None], tf.string)])
    spec = {"text": tf.io.FixedLenFeature([], tf.string), "text/token_ids": tf.io.RaggedFeature(tf.int64)}
    checked = 0
    for batch in tf.data.TFRecordDataset(sorted(str(p) for p in dataset.glob("*.tfrecord"))).batch(256).map(
            lambda r: tf.io.parse_example(r, spec)):
        assert batch["text/token_ids"].to_list() == tokenizer(batch["text"]).to_list()
        checked += len(batch["text"])
    assert checked == len(lines)


@pytest.mark.parametrize("args, code, message", [
    (("--tokenizer", "sentencepiece", "--max-tokens", "90000"), 1, "Vocabulary size too high"),
    (("--tokenizer", "sentencepiece"), 2, "needs --max-tokens"),
    (("--tokenizer", "sentencepiece", "--max-tokens", "50", "--min-count", "2"), 2, "not an option of SentencePiece"),
    (("--max-tokens", "50", "--sample", "10"), 2, "--sample is an option of SentencePiece"),
    (("--tokenizer", "wordpiece", "--max-tokens", "50", "--model-type", "bpe"), 2, "--model-type is an option of SentencePiece"),
    (("--tokenizer", "bpe", "--max-tokens", "200"), 2, "--max-tokens must be at least 257"),
    (("--tokenizer", "bpe", "--max-tokens", "400", "--lowercase"), 2, "--lowercase is not an option of byte-pair"),
])
def test_every_mistake_is_one_line(corpus, prep_cli, tmp_path, args, code, message):
    root, _ = corpus
    result = prep_cli("vocab", f"{root}/docs/*.jsonl", tmp_path / "m.model", *args, "--workers", "1")
    assert result.exit_code == code and message in result.err and "Traceback" not in result.err, result.err
