"""`prep text --tokenizer sentencepiece` end to end in real Beam jobs: the records' ids are those KerasHub's
SentencePieceTokenizer, built from the model the dataset holds, gives in a tf.data pipeline, at any
worker count; every other command reads the dataset, and an update keeps the model and its options."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import keras_hub
import pytest
import sentencepiece
import tensorflow as tf

from tests.beam_jobs.test_text_job import read_records, shard_bytes, stats

DOCUMENTS = [
    "The quick brown fox jumped over the lazy dogs.", "École naïve, CAFÉ crème!", "中文 和 日本語 かな",
    "unaffable runners running", "Straße ǅemal İstanbul ﬁne", "emoji 🙂 and \u00adsoft\u200bhyphen",
    "tabs\tand\nnewlines", "a" * 120, "UNKNOWN words everywhere", "Ελλάδα ΑΘΗΝΑ", "x\u0301y", "====----====",
]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A unigram model trained on English sentences, so the documents above meet unknown characters."""
    sentences = [f"the {a} {b} fox jumped over {c} lazy dogs running" for a in ("quick", "slow", "brown", "red")
                 for b in ("cat", "dog", "runner", "fine") for c in ("the", "a", "one", "some")]
    proto = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(sentences * 20), model_writer=proto,
                                             vocab_size=60, minloglevel=2, hard_vocab_limit=False)
    path = tmp_path_factory.mktemp("model") / "tokenizer.model"
    path.write_bytes(proto.getvalue())
    return path


@pytest.fixture
def corpus(tmp_path) -> Path:
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps({"text": d, "label": "ab"[i % 2]}, ensure_ascii=False) + "\n"
                           for i, d in enumerate(DOCUMENTS * 5)), encoding="utf-8")
    return src


def keras_hub_ids(proto: Path, texts: list[str], **options) -> list[list[int]]:
    """What a tf.data pipeline with KerasHub's tokenizer gives (the seed's style: the layer mapped)."""
    tokenizer = keras_hub.tokenizers.SentencePieceTokenizer(proto=str(proto), **options)
    ds = tf.data.Dataset.from_tensor_slices([t.encode("utf-8") for t in texts]).batch(7).map(tokenizer)
    return [ids for batch in ds for ids in batch.to_list()]


def converted_at_one_and_two_workers(prep_cli, corpus: Path, tmp_path: Path, flags: list, summary: str) -> Path:
    """The dataset `prep text` makes of `corpus` with `flags` on 1 worker, after checking that 2 workers
    write the same shards and the summary names the vocabulary as `summary`."""
    common = [*flags, "--split", "train=0.7,test=0.3", "--num-shards", "2"]
    one, two = tmp_path / "one", tmp_path / "two"
    result = prep_cli("text", corpus, one, *common, "--workers", "1")
    assert result.exit_code == 0, result.output
    assert summary in result.out
    assert prep_cli("text", corpus, two, *common, "--workers", "2").exit_code == 0
    assert shard_bytes(one) == shard_bytes(two)
    return one


def updated_without(prep_cli, corpus: Path, out: Path, text: str, files: list[Path]) -> dict:
    """The record of `text`, appended to `corpus` and added to the dataset by `prep text --update` while
    `files` (the tokenizer's, which the flags named) are out of the way."""
    moved = [path.rename(path.with_suffix(".moved")) for path in files]
    try:
        with corpus.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"text": text, "label": "a"}) + "\n")
        result = prep_cli("text", corpus, out, "--update")
        assert result.exit_code == 0, result.output
    finally:
        for path, original in zip(moved, files):
            path.rename(original)
    return next(r for r in read_records(out) if r["text"] == text.encode("utf-8"))


@pytest.mark.parametrize("options, flags", [({}, []), ({"add_bos": True, "add_eos": True}, ["--add-bos", "--add-eos"])])
def test_ids_are_keras_hubs_at_any_worker_count(model, corpus, tmp_path, prep_cli, options, flags):
    one = converted_at_one_and_two_workers(prep_cli, corpus, tmp_path, ["--tokenizer", "sentencepiece", "--vocab",
                                                                        model, *flags], "SentencePiece pieces")

    schema = json.loads((one / "schema.json").read_text())
    assert schema["text"]["tokenizer"] == "sentencepiece"
    assert schema["text"]["sentencepiece"] == {"proto": "vocab/vocabulary.spm", "add_bos": False, "add_eos": False,
                                               **options}
    assert "wordpiece" not in schema["text"]
    copied = one / schema["text"]["sentencepiece"]["proto"]
    assert copied.read_bytes() == model.read_bytes()
    records = read_records(one)
    assert len(records) == len(DOCUMENTS) * 5
    texts = [r["text"].decode("utf-8") for r in records]
    assert [r["text/token_ids"] for r in records] == keras_hub_ids(copied, texts, **options)  # the dataset's model

    processor = sentencepiece.SentencePieceProcessor(model_file=str(model))
    pieces = [processor.IdToPiece(i) for i in range(processor.GetPieceSize())]
    tokens = next(v for v in schema["vocabularies"] if v["name"] == "tokens")
    assert (tokens["first_id"], tokens["reserved"], tokens["size"]) == (0, [], len(pieces))
    assert (one / tokens["file"]).read_text(encoding="utf-8").splitlines() == pieces
    s = stats(one)["text"]
    unknown = sum(r["text/token_ids"].count(processor.unk_id()) for r in records)
    assert (s["tokens"], s["oov_tokens"]) == (sum(len(r["text/token_ids"]) for r in records), unknown) and unknown


def test_inspect_verify_and_update_read_a_sentencepiece_dataset(model, corpus, tmp_path, prep_cli):
    out = tmp_path / "out"
    assert prep_cli("text", corpus, out, "--tokenizer", "sentencepiece", "--vocab", model, "--add-bos",
                    "--workers", "1").exit_code == 0
    processor = sentencepiece.SentencePieceProcessor(model_file=str(model))
    shown = prep_cli("inspect", out)
    assert shown.exit_code == 0
    assert "KerasHub SentencePiece (add_bos)" in shown.out
    assert f"vocabulary: {processor.GetPieceSize()} SentencePiece pieces" in shown.out
    shown_ids = re.findall(r"ids \[([0-9, ]+)\] = '([^']*)'", shown.out)  # records shown whole, as their pieces
    assert shown_ids
    for ids, shown_pieces in shown_ids:
        assert " ".join(processor.IdToPiece(int(i)) for i in ids.split(", ")) == shown_pieces
    assert prep_cli("verify", out).exit_code == 0

    # an update reads the model the dataset holds (the --vocab file may be gone) and keeps --add-bos
    new = updated_without(prep_cli, corpus, out, "the slow red fox", [model])
    assert new["text/token_ids"] == processor.EncodeAsIds("the slow red fox", add_bos=True)
    verified = prep_cli("verify", out)
    assert verified.exit_code == 0 and "vocab/vocabulary.spm" in verified.out, verified.out

    # verify builds the tokenizer from the model the dataset holds: a damaged or missing one is found
    spm = out / "vocab/vocabulary.spm"
    spm.write_bytes(spm.read_bytes()[:100])
    verified = prep_cli("verify", out)
    assert verified.exit_code != 0 and "does not build the tokenizer" in verified.out + verified.err
    spm.unlink()
    verified = prep_cli("verify", out)
    assert verified.exit_code != 0 and "missing tokenizer file" in verified.out + verified.err


@pytest.mark.parametrize("flags, message", [
    (["--tokenizer", "sentencepiece"], "--tokenizer sentencepiece needs --vocab FILE: a SentencePiece .model file"),
    (["--tokenizer", "sentencepiece", "--vocab", "CORPUS"], "not a SentencePiece model"),
    (["--tokenizer", "sentencepiece", "--vocab", "MODEL", "--lowercase"],
     "--lowercase is a WordPiece option, not a SentencePiece one (--tokenizer sentencepiece takes --add-bos, --add-eos)"),
    (["--tokenizer", "sentencepiece", "--vocab", "MODEL", "--standardize", "none"],
     "--standardize is a TextVectorization setting"),
    (["--add-eos"], "--add-eos is a SentencePiece option: add --tokenizer sentencepiece"),
])
def test_mistakes_are_one_line(model, corpus, tmp_path, prep_cli, flags, message):
    given = {"MODEL": str(model), "CORPUS": str(corpus)}
    result = prep_cli("text", corpus, tmp_path / "out", *[given.get(f, f) for f in flags])
    assert result.exit_code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
