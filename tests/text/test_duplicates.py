"""Duplicate documents in `prep text`: the normalisation rule, copies within and across splits in
stats.json and the report, and --dedupe's survivors whatever the worker count."""

from __future__ import annotations

from pathlib import Path

import pytest

from prep.text.duplicates import normalised_text
from prep.text.tokenizer import Tokenizer
from tests.beam_jobs.test_text_job import read_records, rejected, shard_bytes, stats


@pytest.mark.parametrize("one, other, settings, same", [
    ("Hello,  World!", "hello world", {}, True),                                   # the defaults: lower, strip, split
    (" hello\tworld\r\n", "hello world", {"standardize": None}, True),               # whitespace runs are one separator
    ("Hello World", "hello world", {"standardize": None}, False),                    # no lower-casing asked for
    ("hello, world", "hello world", {"standardize": "lower"}, False),                # punctuation kept
    ("hello  world", "hello world", {"split": "character"}, False),                  # a space is a token
    ("Hello World", "hello world", {"split": "character"}, True),
    ("Ünïcode Straße", "ünïcode straße", {}, False),                                 # Keras lowers A-Z only
    ("?!", "...", {}, True),                                                         # no tokens at all
])
def test_copies_are_documents_with_the_same_tokens(one, other, settings, same):
    tokenizer = Tokenizer(**settings)
    texts = [normalised_text(t.encode(), tokenizer) for t in (one, other)]
    assert (texts[0] == texts[1]) == same


def test_the_ngram_setting_does_not_change_what_a_copy_is():
    assert normalised_text(b"A b, C", Tokenizer(ngrams=3)) == normalised_text(b"A b, C", Tokenizer()) == b"a b c"


LEAK = ("test/pos/0.txt", "train/pos/0.txt")     # "A fine film." in train, "A fine film!" in test
WITHIN = ("train/neg/0.txt", "train/neg/1.txt")  # case, punctuation and spacing apart


@pytest.fixture(scope="module")
def split_folders(tmp_path_factory) -> Path:
    """Split folders of class folders, one document per file, with a copy across splits and one within."""
    from prep.cli.main import main

    base = tmp_path_factory.mktemp("text_copies")
    docs = {
        "train/neg/0.txt": "A dull film, badly acted.",
        "train/neg/1.txt": "a DULL film   badly acted",
        "train/neg/2.txt": "Too long by an hour.",
        "train/pos/0.txt": "A fine film.",
        "train/pos/1.txt": "Loved every minute.",
        "test/neg/0.txt": "Nothing happens, slowly.",
        "test/pos/0.txt": "A fine film!",
        "test/pos/1.txt": "A fine film, and a fine cast.",
    }
    for name, text in docs.items():
        (base / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (base / "src" / name).write_text(text)
    out = base / "out"
    assert main(["text", str(base / "src"), str(out), "--workers", "1"]) == 0
    return out


def test_copies_within_and_across_splits_are_counted_and_listed_leakage_first(split_folders):
    found = stats(split_folders)
    assert found["duplicates"] == {"exact": {
        "groups": 2, "extra_copies": 2, "groups_across_splits": 1, "groups_left_across_splits": 1,
        "groups_within_a_split": 1, "dropped_by_dedupe": 0,
        "examples": [{"paths": list(LEAK), "splits": ["test", "train"]},
                     {"paths": list(WITHIN), "splits": ["train", "train"]}],
    }}, "no near section: near copies are not looked for in text"
    assert found["inputs"] == found["records"] == 8 and found["rejected"] == 0, "without --dedupe every copy is kept"


def test_the_report_shows_text_copies_leakage_first(split_folders):
    from prep.inspection.report import page as report
    from tests.inspection.test_report import Page

    page = report.build_report(str(split_folders))
    assert list(Page(page).sections)[0] == "duplicates", "leakage puts the duplicates first"
    assert "prep text --dedupe" in page and "identical documents" in page
    section = page[page.index('<section id="duplicates">'):]
    section = section[:section.index("</section>")]
    positions = [section.index(f"<code>{p}</code>") for p in (*LEAK, *WITHIN)]
    assert positions == sorted(positions), "the copies across splits are listed before those within one"
    assert "near-duplicate" not in section.lower()


@pytest.fixture(scope="module")
def lines_corpus(tmp_path_factory) -> Path:
    """Two plain-text files, one document per line, with copies: the first of each by path, then line."""
    src = tmp_path_factory.mktemp("lines_copies")
    notes = [f"note number {n} about {topic}" for n, topic in enumerate(
        ["rain", "sun", "wind", "snow", "fog", "hail", "frost", "heat", "mist", "dew", "ice", "cloud"])]
    notes[8] = "Rain again, today."          # line 9
    notes[9] = "rain AGAIN today"            # line 10: a copy of line 9 (by string order, :10 comes first)
    notes[11] = "note number 1 about SUN!"   # line 12: a copy of line 2
    notes[4] = "The same in both files."     # line 5: a copy of more.txt line 2, which comes first by path
    (src / "notes.txt").write_text("\n".join(notes) + "\n")
    (src / "more.txt").write_text("Something else entirely.\nthe same in both files\n")
    return src


def test_dedupe_keeps_the_first_by_path_and_line_whatever_the_worker_count(lines_corpus, tmp_path, prep_cli):
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        result = prep_cli("text", f"{lines_corpus}/*.txt", out, "--dedupe", "--split", "train=0.5,test=0.5",
                          "--num-shards", "2", "--workers", workers)
        assert result.exit_code == 0, result.err
        dropped = sorted(rejected(out), key=lambda r: (r["path"], r["line"]))
        assert [(r["path"], r["line"], r["reason"]) for r in dropped] == [
            ("notes.txt", 5, "duplicate"), ("notes.txt", 10, "duplicate"), ("notes.txt", 12, "duplicate")]
        twins = ["more.txt:2", "notes.txt:9", "notes.txt:2"]
        assert all(f"as {twin} " in r["detail"] for r, twin in zip(dropped, twins)), dropped
        found = stats(out)
        assert (found["inputs"], found["records"], found["rejected"]) == (14, 11, 3)
        assert found["rejected_by_reason"] == {"duplicate": 3}
        exact = found["duplicates"]["exact"]
        assert (exact["groups"], exact["extra_copies"], exact["dropped_by_dedupe"]) == (3, 3, 3)
        assert exact["groups_left_across_splits"] == 0 and "leakage:" not in result.out, "--dedupe leaves no leak"
        kept = {(r["text/filename"].decode(), r["text/line"]) for r in read_records(out)}
        assert {("more.txt", 2), ("notes.txt", 2), ("notes.txt", 9)} <= kept
        assert not kept & {("notes.txt", 5), ("notes.txt", 10), ("notes.txt", 12)}
        assert sum(s["records"] for s in found["splits"].values()) == 11
    assert shard_bytes(tmp_path / "out1") == shard_bytes(tmp_path / "out2")
    from prep.inspection.report import page as report

    page = report.build_report(str(tmp_path / "out1"))
    assert "Leakage:" not in page and "prep text --dedupe kept one copy of each" in page


def test_without_spilled_shuffles_dedupe_drops_by_a_join_with_the_same_result(lines_corpus, tmp_path, prep_cli,
                                                                            monkeypatch):
    """A Dataflow run does not spill its shuffles: --dedupe then drops copies by a CoGroupByKey on the
    record's identity, not a side input of every dropped name. The same shards and stats."""
    from prep.jobs.options import SpillsUnderOut

    flags = ["--dedupe", "--split", "train=0.5,test=0.5", "--num-shards", "2", "--workers", "1"]
    assert prep_cli("text", f"{lines_corpus}/*.txt", tmp_path / "spilled", *flags).exit_code == 0
    monkeypatch.setattr(SpillsUnderOut, "spill_dir", property(lambda self: None))
    assert prep_cli("text", f"{lines_corpus}/*.txt", tmp_path / "joined", *flags).exit_code == 0
    assert shard_bytes(tmp_path / "spilled") == shard_bytes(tmp_path / "joined")
    for name in ("stats.json", "rejected.jsonl"):
        assert (tmp_path / "spilled" / name).read_bytes() == (tmp_path / "joined" / name).read_bytes(), name
    assert stats(tmp_path / "joined")["records"] == 11
