"""`prep text --tokenizer wordpiece` end to end in real Beam jobs: the records' ids are those KerasHub's
WordPieceTokenizer gives in a tf.data pipeline, at any worker count, and every other command reads them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import keras_hub
import pytest
import tensorflow as tf

from tests.beam_jobs.test_sentencepiece_job import updated_without
from tests.beam_jobs.test_text_job import read_records, shard_bytes, stats

DOCUMENTS = [
    "The quick brown fox jumped over the lazy dogs.", "École naïve, CAFÉ crème!", "中文 和 日本語 かな",
    "unaffable runners running", "Straße ǅemal İstanbul ﬁne", "emoji 🙂 and \u00adsoft\u200bhyphen",
    "tabs\tand\nnewlines", "a" * 120, "UNKNOWN words everywhere", "Ελλάδα ΑΘΗΝΑ", "x\u0301y",
]
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "quick", "brown", "fox", "jump", "##ed", "over",
              "lazy", "dog", "##s", "ecole", "naive", ",", "!", ".", "cafe", "creme", "中", "文", "和", "un", "##aff",
              "##able", "run", "##ner", "##ning", "strasse", "straße", "istanbul", "i̇stanbul", "fine", "emoji", "and",
              "soft", "hyphen", "tab", "new", "##line", "a", "##a", "ελλαδα", "αθηνα", "x", "##y", "words"]


@pytest.fixture
def corpus(tmp_path) -> tuple[Path, Path]:
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps({"text": d, "label": "ab"[i % 2]}, ensure_ascii=False) + "\n"
                           for i, d in enumerate(DOCUMENTS * 5)), encoding="utf-8")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCABULARY) + "\n", encoding="utf-8")
    return src, vocab


def keras_hub_ids(texts: list[str], **options) -> list[list[int]]:
    """What a tf.data pipeline with KerasHub's tokenizer gives (the seed's style: the layer mapped)."""
    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=VOCABULARY, **options)
    ds = tf.data.Dataset.from_tensor_slices([t.encode("utf-8") for t in texts]).batch(7).map(tokenizer)
    return [ids for batch in ds for ids in batch.to_list()]


# KerasHub's defaults, and every option changed (each option's every setting: tests/text/test_wordpiece.py)
@pytest.mark.parametrize("options, flags", [
    ({}, []),
    ({"lowercase": True, "strip_accents": True, "split_on_cjk": False}, ["--lowercase", "--strip-accents", "--no-split-on-cjk"]),
])
def test_ids_are_keras_hubs_at_any_worker_count(corpus, tmp_path, prep_cli, options, flags):
    src, vocab = corpus
    common = ["--tokenizer", "wordpiece", "--vocab", vocab, *flags, "--split", "train=0.7,test=0.3", "--num-shards", "2"]
    one, two = tmp_path / "one", tmp_path / "two"
    result = prep_cli("text", src, one, *common, "--workers", "1")
    assert result.exit_code == 0, result.output
    assert prep_cli("text", src, two, *common, "--workers", "2").exit_code == 0
    assert shard_bytes(one) == shard_bytes(two)
    records = read_records(one)
    assert len(records) == len(DOCUMENTS) * 5
    texts = [r["text"].decode("utf-8") for r in records]
    assert [r["text/token_ids"] for r in records] == keras_hub_ids(texts, **options)

    schema = json.loads((one / "schema.json").read_text())
    assert schema["text"]["tokenizer"] == "wordpiece"
    assert schema["text"]["wordpiece"] == {"lowercase": False, "strip_accents": False, "split_on_cjk": True,
                                           "suffix_indicator": "##", "oov_token": "[UNK]", **options}
    tokens = next(v for v in schema["vocabularies"] if v["name"] == "tokens")
    assert (tokens["first_id"], tokens["reserved"], tokens["size"]) == (0, [], len(VOCABULARY))
    assert (one / tokens["file"]).read_text(encoding="utf-8").splitlines() == VOCABULARY
    s = stats(one)["text"]
    unknown = sum(r["text/token_ids"].count(VOCABULARY.index("[UNK]")) for r in records)
    assert (s["tokens"], s["oov_tokens"]) == (sum(len(r["text/token_ids"]) for r in records), unknown) and unknown


def test_inspect_and_verify_read_a_wordpiece_dataset(corpus, tmp_path, prep_cli):
    src, vocab = corpus
    out = tmp_path / "out"
    assert prep_cli("text", src, out, "--tokenizer", "wordpiece", "--vocab", vocab, "--lowercase",
                    "--workers", "1").exit_code == 0
    shown = prep_cli("inspect", out)
    assert shown.exit_code == 0
    assert "KerasHub WordPiece (lowercase)" in shown.out
    assert f"vocabulary: {len(VOCABULARY)} WordPiece tokens" in shown.out
    shown_ids = re.findall(r"ids \[([0-9, ]+)\] = '([^']*)'", shown.out)  # records shown as their pieces
    assert len(shown_ids) == 3
    for ids, pieces in shown_ids:
        assert " ".join(VOCABULARY[int(i)] for i in ids.split(", ")) == pieces
    assert prep_cli("verify", out).exit_code == 0

    # an update tokenises with the vocab.txt the dataset holds (the --vocab file may be gone) and its options
    text = "The RUNNERS jumped"
    new = updated_without(prep_cli, src, out, text, [vocab])
    assert new["text/token_ids"] == keras_hub_ids([text], lowercase=True)[0]
    assert prep_cli("verify", out).exit_code == 0
    # an id past the vocabulary is found: the schema's vocabulary is the whole vocab.txt
    schema = json.loads((out / "schema.json").read_text())
    next(v for v in schema["vocabularies"] if v["name"] == "tokens")["size"] = 10
    (out / "schema.json").write_text(json.dumps(schema))
    assert prep_cli("verify", out).exit_code != 0


@pytest.mark.parametrize("flags, message", [
    (["--tokenizer", "wordpiece"], "--tokenizer wordpiece needs --vocab FILE"),
    (["--tokenizer", "wordpiece", "--vocab", "VOCAB", "--ngrams", "2"], "--ngrams is a TextVectorization setting"),
    (["--lowercase"], "--lowercase is a WordPiece option: add --tokenizer wordpiece"),
    (["--tokenizer", "wordpiece", "--vocab", "VOCAB", "--oov-token", "<unk>"], "no line is '<unk>'"),
])
def test_mistakes_are_one_line(corpus, tmp_path, prep_cli, flags, message):
    src, vocab = corpus
    result = prep_cli("text", src, tmp_path / "out", *[str(vocab) if f == "VOCAB" else f for f in flags])
    assert result.exit_code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
