"""`prep vocab` end to end: the vocabulary TextVectorization.adapt learns, written by a Beam pipeline."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest

from prep.text import corpus_survey, token_counting
from tests.text_reference import CORPUS, adapt_vocabulary


def _lines(path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


@pytest.fixture
def corpus(tmp_path):
    """CORPUS as plain text (one document per line; documents holding a line break are split by it), twice,
    in two files, one gzipped, with a blank line and an undecodable one."""
    src = tmp_path / "src"
    src.mkdir()
    text = "\n".join(CORPUS).replace("\r\n", "\n") + "\n"
    (src / "a.txt").write_bytes(text.encode() + b"\n" + b"bad \xff line\n")
    (src / "b.txt.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
    return src


def _documents(src) -> list[str]:
    docs = []
    for data in ((src / "a.txt").read_bytes(), gzip.decompress((src / "b.txt.gz").read_bytes())):
        for line in data.split(b"\n"):
            try:
                if line.strip():
                    docs.append(line.decode().removesuffix("\r"))
            except UnicodeDecodeError:
                pass
    return docs


@pytest.mark.parametrize("flags, settings", [
    ([], {}),
    (["--standardize", "none", "--max-tokens", "20"], {"standardize": None, "max_tokens": 20}),
    (["--standardize", "lower", "--split-on", "character"], {"standardize": "lower", "split": "character"}),
])
def test_the_vocabulary_is_adapt_s(corpus, tmp_path, prep_cli, flags, settings):
    out = tmp_path / "out" / "vocab.txt"
    result = prep_cli("vocab", f"{corpus}/*", out, *flags, "--workers", "1")
    assert result.exit_code == 0, result.err
    adapted = adapt_vocabulary(_documents(corpus), **settings)
    assert _lines(out) == [t for t in adapted if b"\n" not in t and b"\r" not in t]
    counts = (tmp_path / "out" / "vocab.counts.tsv").read_bytes().split(b"\n")[:-1]
    assert [line.split(b"\t", 1)[1] for line in counts] == _lines(out)
    stats = json.loads((tmp_path / "out" / "vocab.stats.json").read_text())
    assert stats["rejected_by_reason"] == {"empty_document": 1, "not_utf8": 1}
    assert stats["inputs"] == stats["documents"] + 2 == len(_documents(corpus)) + 2
    assert stats["text"]["max_tokens"] == settings.get("max_tokens")
    assert f"wrote {len(_lines(out)):,} tokens to {out}" in result.out
    # where the rejected inputs are listed, as prep text and prep images say it
    rejected = tmp_path / "out" / "vocab.rejected.jsonl"
    assert f"rejected 2 of {stats['inputs']:,} inputs (empty_document 1, not_utf8 1): see {rejected}" in result.out
    rows = [json.loads(line) for line in rejected.read_text().splitlines()]
    blank = len("\n".join(CORPUS).replace("\r\n", "\n").split("\n")) + 1
    assert [(r["path"].rsplit("/", 1)[-1], r["line"], r["reason"]) for r in rows] == [
        ("a.txt", blank, "empty_document"), ("a.txt", blank + 1, "not_utf8")]


def test_counts_are_the_corpus_counts_and_cuts_apply(tmp_path, prep_cli):
    words = [f"w{i}" for i in range(40)]
    lines = [" ".join(words[: 1 + i % 40]) for i in range(200)]
    (tmp_path / "c.txt").write_text("\n".join(lines) + "\n")
    expected = Counter(w for line in lines for w in line.split())
    out = tmp_path / "v.txt"
    assert prep_cli("vocab", tmp_path / "c.txt", out, "--min-count", "100", "--max-tokens", "12",
                    "--workers", "1").exit_code == 0
    rows = [line.split("\t") for line in (tmp_path / "v.counts.tsv").read_text().splitlines()]
    assert len(rows) == 10 and all(int(n) == expected[t] >= 100 for n, t in rows)
    assert [t for _, t in rows] == [t.decode() for t in _lines(out)] == sorted(
        (w for w in expected if expected[w] >= 100), key=lambda w: (expected[w], w), reverse=True)[:10]
    stats = json.loads((tmp_path / "v.stats.json").read_text())["vocabulary"]
    assert (stats["corpus_tokens"], stats["distinct_tokens"]) == (sum(expected.values()), 40)
    assert stats["left_out"]["below_min_count"] + stats["left_out"]["beyond_max_tokens"] == 30


def test_many_flushes_and_byte_ranges_give_the_same_vocabulary(corpus, tmp_path, prep_cli, monkeypatch):
    assert prep_cli("vocab", f"{corpus}/*", tmp_path / "a.txt", "--workers", "1").exit_code == 0
    monkeypatch.setattr(corpus_survey, "FLUSH_DISTINCT", 3)
    monkeypatch.setattr(token_counting, "BLOCK_BYTES", 50)
    from prep.core import row_files

    monkeypatch.setattr(row_files, "RANGE_BYTES", 64)
    assert len(row_files.byte_ranges(str(corpus / "a.txt"), (corpus / "a.txt").stat().st_size, "lines")) > 10
    assert prep_cli("vocab", f"{corpus}/*", tmp_path / "b.txt", "--workers", "1").exit_code == 0
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()
    assert (tmp_path / "a.counts.tsv").read_bytes() == (tmp_path / "b.counts.tsv").read_bytes()


def test_a_folder_of_class_folders_and_json_lines(tmp_path, prep_cli):
    for i, doc in enumerate(CORPUS[:6]):
        (tmp_path / "src" / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / f"c{i % 2}" / f"{i}.txt").write_text(doc)
    assert prep_cli("vocab", tmp_path / "src", tmp_path / "folder.txt", "--workers", "1").exit_code == 0
    assert _lines(tmp_path / "folder.txt") == adapt_vocabulary(CORPUS[:6])
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"t": doc}) + "\n" for doc in CORPUS[:6]))
    assert prep_cli("vocab", tmp_path / "c.jsonl", tmp_path / "jsonl.txt", "--text-field", "t",
                    "--workers", "1").exit_code == 0
    assert (tmp_path / "jsonl.txt").read_bytes() == (tmp_path / "folder.txt").read_bytes()


@pytest.mark.parametrize("args, message", [
    (["{t}/c.txt", "{t}/c.txt"], "already exists"),
    (["{t}/c.txt", "{t}"], "is a folder"),
    (["{t}/c.txt", "{t}/v.txt", "--max-tokens", "1"], "at least 3"),
    (["{t}/none.txt", "{t}/v.txt"], "does not exist"),
])
def test_user_mistakes_are_one_line_and_exit_2(tmp_path, prep_cli, args, message):
    (tmp_path / "c.txt").write_text("a b c\n")
    result = prep_cli("vocab", *[a.format(t=tmp_path) for a in args])
    assert result.exit_code == 2, result.err
    assert len(result.err.strip().splitlines()) == 1 and message in result.err


@pytest.mark.parametrize("name, content, reason", [
    ("c.txt", "!!! ???\n...\n", "no token is left for the vocabulary"),
    ("c.jsonl", "{not json\n{also bad\n", "no document to learn a vocabulary from: all 2 inputs were rejected (bad_json 2)"),
], ids=["no token", "no document"])
def test_a_corpus_no_vocabulary_can_come_from_fails_with_a_reason(tmp_path, prep_cli, name, content, reason):
    (tmp_path / name).write_text(content)
    result = prep_cli("vocab", tmp_path / name, tmp_path / "v.txt", "--workers", "1")
    assert result.exit_code == 1
    assert reason in result.err
    assert not (tmp_path / "v.txt").exists()
