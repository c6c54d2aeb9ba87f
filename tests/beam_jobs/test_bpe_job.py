"""`prep text --tokenizer bpe` end to end in real Beam jobs: the records' ids are those KerasHub's
BytePairTokenizer, built from the files the dataset holds, gives in a tf.data pipeline, at any worker
count; every other command reads the dataset, and an update keeps the files and options."""

from __future__ import annotations

import json
import re
from pathlib import Path

import keras_hub
import pytest
import tensorflow as tf

from tests.beam_jobs.test_sentencepiece_job import DOCUMENTS, converted_at_one_and_two_workers, updated_without
from tests.beam_jobs.test_text_job import read_records, stats
from tests.text.test_bytepair import train


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    """GPT-2 style files trained on English sentences, with <|endoftext|>."""
    sentences = [f"the {a} {b} fox jumped over {c} lazy dogs running" for a in ("quick", "slow", "brown", "red")
                 for b in ("cat", "dog", "runner", "fine") for c in ("the", "a", "one", "some")]
    vocabulary, merges = train(sentences * 5, 400)
    folder = tmp_path_factory.mktemp("bpe")
    (folder / "vocab.json").write_text(json.dumps(vocabulary), encoding="utf-8")
    (folder / "merges.txt").write_text("".join(m + "\n" for m in merges), encoding="utf-8")
    return folder / "vocab.json", folder / "merges.txt"


@pytest.fixture
def corpus(tmp_path) -> Path:
    src = tmp_path / "docs.jsonl"
    documents = DOCUMENTS + ["one<|endoftext|>two", "<|endoftext|> the end"]
    src.write_text("".join(json.dumps({"text": d, "label": "ab"[i % 2]}, ensure_ascii=False) + "\n"
                           for i, d in enumerate(documents * 4)), encoding="utf-8")
    return src


def keras_hub_ids(vocabulary: Path, merges: Path, texts: list[str], **options) -> list[list[int]]:
    """What a tf.data pipeline with KerasHub's tokenizer gives (the seed's style: the layer mapped)."""
    tokenizer = keras_hub.tokenizers.BytePairTokenizer(vocabulary=str(vocabulary), merges=str(merges), **options)
    ds = tf.data.Dataset.from_tensor_slices([t.encode("utf-8") for t in texts]).batch(7).map(tokenizer)
    return [ids for batch in ds for ids in batch.to_list()]


@pytest.mark.parametrize("options, flags", [
    ({}, []),
    ({"add_prefix_space": True, "unsplittable_tokens": ["<|endoftext|>"]},
     ["--add-prefix-space", "--unsplittable-token", "<|endoftext|>"]),
])
def test_ids_are_keras_hubs_at_any_worker_count(files, corpus, tmp_path, prep_cli, options, flags):
    vocabulary, merges = files
    one = converted_at_one_and_two_workers(prep_cli, corpus, tmp_path, ["--tokenizer", "bpe", "--vocab", vocabulary,
                                                                        "--merges", merges, *flags], "byte-pair tokens")

    schema = json.loads((one / "schema.json").read_text())
    assert schema["text"]["tokenizer"] == "bpe"
    assert schema["text"]["bpe"] == {"vocabulary": "vocab/vocabulary.json", "merges": "vocab/merges.txt",
                                     "add_prefix_space": False, "unsplittable_tokens": [], **options}
    copied = [one / schema["text"]["bpe"][name] for name in ("vocabulary", "merges")]
    assert [c.read_bytes() for c in copied] == [vocabulary.read_bytes(), merges.read_bytes()]
    records = read_records(one)
    texts = [r["text"].decode("utf-8") for r in records]
    assert len(records) == (len(DOCUMENTS) + 2) * 4
    assert [r["text/token_ids"] for r in records] == keras_hub_ids(*copied, texts, **options)  # the dataset's files

    ids = json.loads(vocabulary.read_text(encoding="utf-8"))
    tokens = next(v for v in schema["vocabularies"] if v["name"] == "tokens")
    assert (tokens["first_id"], tokens["reserved"], tokens["size"]) == (0, [], len(ids))
    assert (one / tokens["file"]).read_text(encoding="utf-8").splitlines() == sorted(ids, key=ids.get)
    s = stats(one)["text"]
    assert (s["tokens"], s["oov_tokens"]) == (sum(len(r["text/token_ids"]) for r in records), 0)


def test_inspect_verify_and_update_read_a_bpe_dataset(files, corpus, tmp_path, prep_cli):
    vocabulary, merges = files
    out = tmp_path / "out"
    assert prep_cli("text", corpus, out, "--tokenizer", "bpe", "--vocab", vocabulary, "--merges", merges,
                    "--unsplittable-token", "<|endoftext|>", "--workers", "1").exit_code == 0
    shown = prep_cli("inspect", out)
    assert shown.exit_code == 0
    assert "KerasHub byte-pair (unsplittable <|endoftext|>)" in shown.out
    ids = json.loads(vocabulary.read_text(encoding="utf-8"))
    assert f"vocabulary: {len(ids)} byte-pair tokens" in shown.out
    token_of = {i: t for t, i in ids.items()}
    shown_ids = re.findall(r"ids \[([0-9, ]+)\] = '([^']*)'", shown.out)  # records shown whole, as their tokens
    assert shown_ids
    for listed, shown_tokens in shown_ids:
        assert " ".join(token_of[int(i)] for i in listed.split(", ")) == shown_tokens
    assert prep_cli("verify", out).exit_code == 0

    # an update reads the files the dataset holds (the flags' files may be gone) and keeps the options
    new = updated_without(prep_cli, corpus, out, "the slow red fox<|endoftext|>", list(files))
    assert [new["text/token_ids"]] == keras_hub_ids(vocabulary, merges, ["the slow red fox<|endoftext|>"],
                                                    unsplittable_tokens=["<|endoftext|>"])
    assert new["text/token_ids"][-1] == ids["<|endoftext|>"]
    verified = prep_cli("verify", out)
    assert verified.exit_code == 0
    assert f"vocab/vocabulary.json: {len(ids)} pieces" in verified.out and "vocab/merges.txt: " in verified.out
    (out / "vocab/merges.txt").unlink()  # verify builds the tokenizer from the files the dataset holds
    verified = prep_cli("verify", out)
    assert verified.exit_code != 0 and "vocab/merges.txt: missing tokenizer file" in verified.out + verified.err


@pytest.mark.parametrize("flags, message", [
    (["--tokenizer", "bpe"], "--tokenizer bpe needs --vocab FILE: a byte-pair vocabulary.json"),
    (["--tokenizer", "bpe", "--vocab", "VOCAB"], "--tokenizer bpe needs --merges FILE"),
    (["--merges", "MERGES"], "--merges is the byte-pair merges.txt: add --tokenizer bpe"),
    (["--tokenizer", "bpe", "--vocab", "CORPUS", "--merges", "MERGES"], "Invalid value for --vocab: "),
    (["--tokenizer", "bpe", "--vocab", "VOCAB", "--merges", "CORPUS"], "Invalid value for --merges: "),
    (["--tokenizer", "bpe", "--vocab", "VOCAB", "--merges", "MERGES", "--unsplittable-token", "<pad>"],
     "unsplittable token '<pad>': not a token of"),
    (["--tokenizer", "bpe", "--vocab", "VOCAB", "--merges", "MERGES", "--add-bos"],
     "--add-bos is a SentencePiece option, not a byte-pair one (--tokenizer bpe takes --add-prefix-space, "
     "--unsplittable-token)"),
    (["--add-prefix-space"], "--add-prefix-space is a byte-pair option: add --tokenizer bpe"),
])
def test_mistakes_are_one_line(files, corpus, tmp_path, prep_cli, flags, message):
    given = {"VOCAB": str(files[0]), "MERGES": str(files[1]), "CORPUS": str(corpus)}
    result = prep_cli("text", corpus, tmp_path / "out", *[given.get(f, f) for f in flags])
    assert result.exit_code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
