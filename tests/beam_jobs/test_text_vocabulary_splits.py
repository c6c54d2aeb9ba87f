"""`prep text` learns its vocabulary from the train split only (as tf.Transform analyses the training
data and a Keras user adapts on the training texts), so test documents choose no token and the test
split's out-of-vocabulary rate is the real one; --vocab-splits names other splits, or all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from prep.core import row_files
from schemas import load_schema
from tests.beam_jobs.test_dataflow_text import gcs_on_client  # noqa: F401 (a fixture)
from tests.beam_jobs.test_text_job import read_records, stats
from tests.text_reference import adapt_vocabulary, file_ids

SPLIT = ["--split", "train=0.5,test=0.5"]


@pytest.fixture
def corpus(tmp_path) -> Path:
    """60 labelled documents; each holds a word of its own ('onlyN'), so the vocabulary shows which
    documents it was learned from."""
    path = tmp_path / "corpus.jsonl"
    rows = [{"text": f"Common words, {'shared ' * (i % 4)}and only{i}.", "label": "ab"[i % 2]} for i in range(60)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _vocabulary(out: Path) -> list[bytes]:
    return (out / "vocab" / "tokens.txt").read_bytes().split(b"\n")[:-1]


def _texts(out: Path, split: str) -> list[str]:
    return [r["text"].decode() for r in read_records(out, split)]


def test_the_vocabulary_is_adapt_s_on_the_train_split_only(corpus, tmp_path, prep_cli):
    out = tmp_path / "out"
    result = prep_cli("text", corpus, out, "--label-field", "label", *SPLIT, "--workers", "1")
    assert result.exit_code == 0, result.err
    train, test = _texts(out, "train"), _texts(out, "test")
    assert len(train) > 10 and len(test) > 10
    assert _vocabulary(out) == adapt_vocabulary(train)
    test_only = {f"only{t.split('only')[1].rstrip('.')}".encode() for t in test}
    assert test_only and not test_only & set(_vocabulary(out))
    # the ids are still exactly TextVectorization(vocabulary=tokens.txt)'s, in every split
    for split, texts in (("train", train), ("test", test)):
        assert [r["text/token_ids"] for r in read_records(out, split)] == file_ids(texts, out / "vocab" / "tokens.txt")
    s = stats(out)
    assert s["vocabulary"]["learned_from"] == ["train"]
    assert s["splits"]["train"]["oov_tokens"] == 0 and s["splits"]["test"]["oov_tokens"] == len(test)
    assert load_schema(str(out)).vocabulary("tokens").learned_from == ("train",)
    assert load_schema(str(out)).vocabulary("labels").learned_from is None
    assert "learned from the train split" in result.out
    assert re.search(r"out of vocabulary \(train 0\.00%, test \d+\.\d\d%\)", result.out), result.out


def test_vocab_splits_all_learns_from_every_split(corpus, tmp_path, prep_cli):
    out = tmp_path / "out"
    result = prep_cli("text", corpus, out, "--label-field", "label", *SPLIT, "--vocab-splits", "all", "--workers", "1")
    assert result.exit_code == 0, result.err
    assert _vocabulary(out) == adapt_vocabulary(_texts(out, "train") + _texts(out, "test"))
    assert stats(out)["vocabulary"]["learned_from"] == ["train", "test"]
    assert stats(out)["splits"]["test"]["oov_tokens"] == 0
    assert "learned from" not in result.out


def test_named_splits_and_a_file_read_in_byte_ranges(corpus, tmp_path, prep_cli, monkeypatch):
    """The survey numbers the lines of a file read in ranges as the encoding does, so each document's
    split, and so the vocabulary, is the same however the file is cut and whatever the workers."""
    flags = ["--label-field", "label", "--split", "train=0.4,validation=0.3,test=0.3", "--vocab-splits", "train,validation"]
    assert prep_cli("text", corpus, tmp_path / "a", *flags, "--workers", "2").exit_code == 0
    monkeypatch.setattr(row_files, "RANGE_BYTES", 150)
    assert len(row_files.byte_ranges(str(corpus), corpus.stat().st_size, "jsonl")) > 10
    assert prep_cli("text", corpus, tmp_path / "b", *flags, "--workers", "1").exit_code == 0
    a, b = tmp_path / "a", tmp_path / "b"
    assert _vocabulary(a) == _vocabulary(b) == adapt_vocabulary(_texts(a, "train") + _texts(a, "validation"))
    assert stats(a)["vocabulary"]["learned_from"] == ["train", "validation"]
    for name in ("stats.json", "schema.json"):
        assert json.loads((a / name).read_text()).get("splits") == json.loads((b / name).read_text()).get("splits")


def _split_folders(src: Path, splits: tuple[str, ...]) -> None:
    for split in splits:
        for label in ("neg", "pos"):
            (src / split / label).mkdir(parents=True)
            (src / split / label / "a.txt").write_text(f"a {label} review from {split}")


def test_split_folders_learn_from_the_train_folder(tmp_path, prep_cli):
    src, out = tmp_path / "src", tmp_path / "out"
    _split_folders(src, ("train", "test"))
    assert prep_cli("text", src, out, "--workers", "1").exit_code == 0
    assert b"train" in _vocabulary(out) and b"test" not in _vocabulary(out)


def test_no_train_split_to_learn_from_is_one_clear_line(tmp_path, prep_cli):
    src = tmp_path / "src"
    _split_folders(src, ("validation", "test"))
    result = prep_cli("text", src, tmp_path / "out", "--workers", "1")
    assert result.exit_code == 2, "refused before the job starts"
    assert "SRC has no train folder (its split folders: validation, test)" in result.err
    assert "--vocab-splits" in result.err and "Traceback" not in result.err
    named = prep_cli("text", src, tmp_path / "out1", "--vocab-splits", "train,validation", "--workers", "1")
    assert named.exit_code == 2 and "--vocab-splits names train, which SRC has no split folder for" in named.err
    assert not (tmp_path / "out1").exists() and not (tmp_path / "out").exists()
    assert prep_cli("text", src, tmp_path / "out2", "--vocab-splits", "validation", "--workers", "1").exit_code == 0
    classes = tmp_path / "classes"  # class folders only: every document goes to train
    (classes / "a").mkdir(parents=True)
    (classes / "a" / "doc.txt").write_text("some words")
    unsplit = prep_cli("text", classes, tmp_path / "out3", "--vocab-splits", "validation", "--workers", "1")
    assert unsplit.exit_code == 2 and "but every document goes to train" in unsplit.err
    assert b"validation" in _vocabulary(tmp_path / "out2") and b"test" not in _vocabulary(tmp_path / "out2")


@pytest.mark.parametrize("args, message", [
    (["--split", "train=0.5,test=0.5", "--vocab-splits", "train,dev"], "dev is not one of the splits --split assigns"),
    (["--vocab-splits", ","], "name at least one split"),
    (["--vocab", "{vocab}", "--vocab-splits", "all"], "with --vocab the file is used as it is"),
])
def test_vocab_splits_mistakes_are_one_line(corpus, tmp_path, prep_cli, args, message):
    vocab = tmp_path / "tokens.txt"
    vocab.write_text("common\nwords\n")
    result = prep_cli("text", corpus, tmp_path / "out", *[a.format(vocab=vocab) for a in args], "--workers", "1")
    assert result.exit_code == 2 and message in result.err and "Traceback" not in result.err


def _sources(tmp_path: Path, corpus: Path) -> dict[str, list[str]]:
    """SRC (and its flags) of every kind that puts every document in train without --split."""
    (tmp_path / "lines.txt").write_text("a line\nanother line\n")
    read_as_files = tmp_path / "files"  # split-like folders, but read with --input-format: no split folders
    for split in ("train", "validation"):
        (read_as_files / split).mkdir(parents=True)
        (read_as_files / split / "part.jsonl").write_text(corpus.read_text())
    return {
        "jsonl": [str(corpus), "--label-field", "label"],
        "lines": [str(tmp_path / "lines.txt")],
        "glob": [str(tmp_path / "*.jsonl")],
        "input-format": [str(read_as_files), "--input-format", "jsonl"],
        "gs-file": ["gs://my-bucket/corpus.jsonl", "--text-field", "body"],
        "gs-glob": ["gs://my-bucket/corpus/*.csv"],
    }


@pytest.mark.parametrize("kind", ["jsonl", "lines", "glob", "input-format", "gs-file", "gs-glob"])
def test_a_split_no_document_goes_to_is_refused_for_every_kind_of_src(corpus, tmp_path, prep_cli,
                                                                       gcs_on_client, kind):  # noqa: F811
    """Without --split, a file, a glob or a folder read as files puts every document in train: a
    vocabulary 'learned from the validation split' would be counted from all of them (the schema said
    learned_from [validation]). Known before the job, so refused then, without reading a bucket."""
    src = _sources(tmp_path, corpus)[kind]
    result = prep_cli("text", *src, tmp_path / "out", "--vocab-splits", "validation", "--workers", "1")
    assert result.exit_code == 2, result.out + result.err
    assert "--vocab-splits names validation, but every document goes to train" in result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    assert not (tmp_path / "out").exists() and gcs_on_client == []


def test_train_or_all_is_what_an_unsplit_file_learns_from(corpus, tmp_path, prep_cli):
    for flag in ("train", "all"):
        out = tmp_path / flag
        result = prep_cli("text", corpus, out, "--label-field", "label", "--vocab-splits", flag, "--workers", "1")
        assert result.exit_code == 0, result.err
        assert stats(out)["vocabulary"]["learned_from"] == ["train"]
        assert load_schema(str(out)).vocabulary("tokens").learned_from == ("train",)


def test_a_bucket_folder_is_refused_only_names_no_folder_can_have(tmp_path, prep_cli, gcs_on_client):  # noqa: F811
    """A folder in a bucket is not listed by the launcher: its documents can go to train, validation or
    test (split folders), so only other names are refused before the job; the job finds the rest."""
    result = prep_cli("text", "gs://my-bucket/reviews/", tmp_path / "out", "--vocab-splits", "dev", "--workers", "1")
    assert result.exit_code == 2 and "--vocab-splits names dev, but without --split a folder's documents go to " \
        "its split folders (train, validation, test), or all to train" in result.err
    typo = prep_cli("text", "gs://my-bucket/reviews/", tmp_path / "out", "--vocab-splits", "validaton")
    assert typo.exit_code == 2 and "(did you mean validation?)" in typo.err
    built = prep_cli("text", "gs://my-bucket/reviews/", tmp_path / "out", "--vocab-splits", "validation", "--dry-run")
    assert built.exit_code == 0, built.err
    assert gcs_on_client == []


def test_a_misspelt_vocabulary_split_gets_a_hint(tmp_path, prep_cli, corpus):
    src = tmp_path / "src"
    _split_folders(src, ("train", "validation"))
    folder = prep_cli("text", src, tmp_path / "out", "--vocab-splits", "train,validaton", "--workers", "1")
    assert folder.exit_code == 2 and "(did you mean validation?)" in folder.err
    fractions = prep_cli("text", corpus, tmp_path / "out", "--split", "train=0.5,validation=0.5",
                         "--vocab-splits", "valdiation", "--workers", "1")
    assert fractions.exit_code == 2 and "(did you mean validation?)" in fractions.err
