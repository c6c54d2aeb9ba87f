"""`prep inspect` and `prep verify` on text datasets: documents decoded back to tokens, ids checked
against the vocabulary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from prep.records import tfrecord_io
from prep.records.example_codec import encode_example


@pytest.fixture(scope="session")
def text_dataset(tmp_path_factory) -> Path:
    """A labelled text dataset made once per session (train/test, 2 shards each); copy it to change it."""
    from prep.cli.main import main

    base = tmp_path_factory.mktemp("text")
    rows = [{"text": f"The {animal} sat on mat {i}.", "label": animal} for i, animal in
            enumerate(["cat", "dog", "cat", "owl", "dog", "cat"] * 2)] + [{"label": "cat"}]
    (base / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = base / "out"
    code = main(["text", str(base / "c.jsonl"), str(out), "--label-field", "label", "--max-tokens", "8",
                 "--split", "train=0.5,test=0.5", "--num-shards", "2", "--workers", "1"])
    assert code == 0
    return out


def test_inspect_decodes_documents_back_to_tokens(text_dataset, prep_cli):
    result = prep_cli("inspect", text_dataset, "--samples", "2")
    assert result.exit_code == 0, result.err
    out = result.out
    assert "dataset 'out' (text)" in out
    assert "standardize lower_and_strip_punctuation, split whitespace" in out
    assert "tokens per document: min 6, mean 6.0, max 6" in out
    assert "vocabulary: 6 tokens + 2 reserved ids, learned from the train split" in out, "as stats.json's learned_from"
    assert "c.jsonl:13: missing_text" in out
    assert out.count("text/token_ids=6 ids [") == 2
    tokens = [line.split(" = '")[1].split("'")[0] for line in out.splitlines() if "text/token_ids=" in line]
    assert all(t.startswith("the ") and " sat on mat [UNK]" in t for t in tokens)


def test_verify_reads_a_text_dataset_whole(text_dataset, prep_cli):
    result = prep_cli("verify", text_dataset)
    assert result.exit_code == 0, result.err
    assert "ok   vocab/tokens.txt: 6 lines" in result.out and "ok   vocab/labels.txt: 3 lines" in result.out


def test_verify_names_a_token_id_outside_the_vocabulary(text_dataset, tmp_path, prep_cli):
    copy = Path(shutil.copytree(text_dataset, tmp_path / "copy"))
    shard = next(p for p in sorted(copy.glob("train-*.tfrecord")) if p.stat().st_size)
    records = list(tfrecord_io.read_records(str(shard), "none"))
    bad = encode_example({"text": ("string", [b"x"]), "text/token_ids": ("int64", [2, 8]),
                          "text/filename": ("string", [b"c.jsonl"]), "text/line": ("int64", [1]),
                          "label": ("int64", [0]), "label/name": ("string", [b"cat"])})
    tfrecord_io.write_records(str(shard), records[:-1] + [bad], "none")
    result = prep_cli("verify", copy)
    assert result.exit_code == 1
    assert f"record {len(records) - 1} has text/token_ids id 8, outside vocab/tokens.txt (ids 0 to 7)" in result.out
