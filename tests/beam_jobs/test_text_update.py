"""`prep text --update`: the next version of a text dataset holds exactly what a first run over the
same corpus would hold with the dataset's vocabulary, reading only new and changed files (and, of a
file that grew, only its new lines), sharing the shards that did not change."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prep.core.splits import SplitFractions
from tests import update_checks as checks

SPLIT = "train=0.5,test=0.5"
WORDS = "the cat sat on a mat dog ran far away and quick brown fox jumps over lazy".split()


def _jsonl(path: Path, n: int, seed: int, labels=("pos", "neg"), words=WORDS, mode: str = "w") -> None:
    import random

    rng = random.Random(seed)
    with path.open(mode) as f:
        for _ in range(n):
            f.write(json.dumps({"text": " ".join(rng.choice(words) for _ in range(6)), "label": rng.choice(labels)}) + "\n")


def _corpus(root: Path) -> Path:
    src = root / "src"
    src.mkdir()
    _jsonl(src / "a.jsonl", 60, 1)
    _jsonl(src / "b.jsonl", 40, 2)
    (src / "b.jsonl").open("a").write("\n")  # a blank line: a rejection the update keeps
    _jsonl(src / "c.jsonl", 30, 3)
    return src


def flags(src: Path) -> tuple:
    return (f"{src}/*.jsonl", "--label-field", "label", "--split", SPLIT, "--num-shards", "2", "--workers", "1")


def records(out: Path, version: int | None = None) -> dict[str, tuple]:
    """Every record of the version by its name (file:line): (split, every feature as TensorFlow parses it)."""
    return checks.parsed_records(out, version, lambda values: f"{values['text/filename'][0].decode()}:{values['text/line'][0]}")


def _scratch(src: Path, out: Path, tmp_path: Path, prep_cli, *more) -> Path:
    """A first run over `src` with the vocabulary and class ids of the dataset in `out`."""
    scratch = tmp_path / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    made = prep_cli("text", *flags(src), scratch, "--vocab", out / "vocab" / "tokens.txt",
                    "--labels", out / "vocab" / "labels.txt", *more)
    assert made.exit_code == 0, made.err
    return scratch


@pytest.fixture
def first(tmp_path, prep_cli):
    src, out = _corpus(tmp_path), tmp_path / "out"
    made = prep_cli("text", *flags(src), out)
    assert made.exit_code == 0, made.err
    return src, out


def test_an_update_holds_what_a_first_run_over_the_same_corpus_holds(first, tmp_path, prep_cli):
    src, out = first
    before, v1_shards = records(out), checks.shard_files(out)
    _jsonl(src / "a.jsonl", 10, 4, labels=("pos", "neg", "meh"), words=WORDS + ["zebra"], mode="a")  # grown
    _jsonl(src / "d.jsonl", 12, 5)  # new
    lines = (src / "c.jsonl").read_text().splitlines(keepends=True)
    lines[3] = json.dumps({"text": "a changed line", "label": "neg"}) + "\n"
    (src / "c.jsonl").write_text("".join(lines))  # changed in the middle: read again whole
    (src / "b.jsonl").unlink()  # gone: its records and its rejection go

    # two worker processes: what the update carries waits in spill files, as on every local run
    updated = prep_cli("text", f"{src}/*.jsonl", out, "--update", "--workers", "2")
    assert updated.exit_code == 0, updated.err
    assert "version 2 of" in updated.out
    assert "22 added, 1 replaced, 40 removed, 89 unchanged" in updated.out, updated.out
    assert "new classes, numbered after the dataset's: meh" in updated.out
    assert (out / "vocab" / "labels.txt").read_text().splitlines() == ["neg", "pos", "meh"]

    scratch = _scratch(src, out, tmp_path, prep_cli)
    # Record for record what a first run makes (shard boundaries and shard names may differ)
    assert records(out) == records(scratch)
    assert prep_cli("verify", out).exit_code == 0
    assert records(out, version=1) == before
    assert checks.shard_files(out, version=1) == v1_shards
    stats = json.loads((out / "stats.json").read_text())
    fresh = json.loads((scratch / "stats.json").read_text())
    assert stats["inputs"] == stats["records"] + stats["rejected"] == 112
    for key in ("records", "rejected", "splits"):
        assert stats[key] == fresh[key], key
    assert {k: stats["text"][k] for k in ("tokens", "oov_tokens", "truncated")} == \
        {k: fresh["text"][k] for k in ("tokens", "oov_tokens", "truncated")}
    assert stats["vocabulary"]["used"] == fresh["vocabulary"]["used"]
    # the vocabulary is the dataset's, as version 1 learned it: the new word is out of it
    assert stats["vocabulary"]["learned_from"] == ["train"]
    # made now: the 22 added, and the 30 of c.jsonl, read again whole (its changed line is 1 replaced)
    assert stats["update"]["records_new"] == 52 and stats["update"]["oov_rate_new"] > stats["update"]["oov_rate_kept"] == 0
    assert "new documents: " in updated.out and "out of vocabulary" in updated.out


def test_a_grown_file_is_read_from_its_old_end_and_untouched_shards_are_shared(first, prep_cli, monkeypatch):
    from prep.text import encoder

    src, out = first
    _jsonl(src / "a.jsonl", 5, 9, mode="a")
    encoded = []
    real = encoder.DocumentEncoder.add
    # one local worker runs the job in this process: count the documents it encodes
    monkeypatch.setattr(encoder.DocumentEncoder, "add", lambda self, row: encoded.append(row.identity) or real(self, row))
    untouched = checks.shard_bytes(out)
    updated = prep_cli("text", f"{src}/*.jsonl", out, "--update", "--workers", "1")
    assert updated.exit_code == 0, updated.err
    assert sorted(encoded) == [f"a.jsonl:{n}" for n in range(61, 66)], "only the appended lines are read"
    checks.assert_all_shared(out, untouched, "appending rewrites no shard: the new records go into new ones")
    assert len(records(out)) == 135


def test_an_update_that_finds_nothing_to_do_changes_nothing(first, prep_cli):
    src, out = first
    schema = (out / "schema.json").read_bytes()
    checks.assert_nothing_changed(prep_cli("text", f"{src}/*.jsonl", out, "--update", "--workers", "1"), out, schema)


def test_class_folders_keep_their_ids_and_a_moved_file_is_relabelled(tmp_path, prep_cli):
    src = tmp_path / "docs"
    for i in range(8):
        (src / ("sport" if i % 2 else "news")).mkdir(parents=True, exist_ok=True)
        (src / ("sport" if i % 2 else "news") / f"{i}.txt").write_text(f"document {i} about {WORDS[i]} things")
    out = tmp_path / "out"
    assert prep_cli("text", src, out, "--split", SPLIT, "--workers", "1").exit_code == 0
    (src / "art").mkdir()
    (src / "art" / "x.txt").write_text("a new class of document")  # sorts first: gets the next id all the same
    (src / "news" / "2.txt").rename(src / "sport" / "2.txt")
    updated = prep_cli("text", src, out, "--update", "--workers", "1")
    assert updated.exit_code == 0, updated.err
    assert (out / "vocab" / "labels.txt").read_text().splitlines() == ["news", "sport", "art"]
    now = records(out)
    assert now["art/x.txt:0"][1]["label"] == (2,)
    assert now["sport/2.txt:0"][1]["label/name"] == (b"sport",) and "news/2.txt:0" not in now
    scratch = tmp_path / "scratch"
    assert prep_cli("text", src, scratch, "--split", SPLIT, "--workers", "1", "--vocab", out / "vocab" / "tokens.txt",
                    "--labels", out / "vocab" / "labels.txt").exit_code == 0
    assert records(out) == records(scratch)


def test_dedupe_applies_across_versions(tmp_path, prep_cli):
    src = tmp_path / "src"
    src.mkdir()
    fractions = SplitFractions((("train", 0.5), ("test", 0.5)))
    texts = [f"document number {i} says {WORDS[i]}" for i in range(12)]
    (src / "a.jsonl").write_text("".join(json.dumps({"text": t, "label": "x"}) + "\n" for t in texts))
    out = tmp_path / "out"
    assert prep_cli("text", *flags(src), out, "--dedupe").exit_code == 0
    test_line = next(n for n in range(1, 13) if fractions.assign(f"a.jsonl:{n}") == "test")
    # a new training document that copies an old test document: the copy kept is the training one
    line = next(n for n in range(1, 100) if fractions.assign(f"b.jsonl:{n}") == "train")
    (src / "b.jsonl").write_text("".join(json.dumps({"text": "filler text", "label": "x"}) + "\n" for _ in range(line - 1))
                                 + json.dumps({"text": texts[test_line - 1].upper(), "label": "x"}) + "\n")
    updated = prep_cli("text", f"{src}/*.jsonl", out, "--update", "--workers", "1")
    assert updated.exit_code == 0, updated.err
    now = records(out)
    assert f"a.jsonl:{test_line}" not in now and f"b.jsonl:{line}" in now
    scratch = _scratch(src, out, tmp_path, prep_cli, "--dedupe")
    assert records(out) == records(scratch)
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert {"path": "a.jsonl", "line": test_line, "reason": "duplicate"}.items() <= next(
        r for r in rejected if r["path"] == "a.jsonl" and r["line"] == test_line).items()


def test_a_reader_pinned_to_version_1_reads_it_after_version_2(first, prep_cli):
    from readers import make_input_fn

    src, out = first
    _jsonl(src / "e.jsonl", 20, 11)
    assert prep_cli("text", f"{src}/*.jsonl", out, "--update", "--workers", "1").exit_code == 0

    def count(version):
        fn = make_input_fn(out, "train", batch_size=1000, mode="eval", version=version)
        return sum(int(features["text/token_ids"].shape[0]) for features, _ in fn())

    v1 = sum(1 for split, _ in records(out, version=1).values() if split == "train")
    assert count(1) == v1
    assert count(None) == sum(1 for split, _ in records(out).values() if split == "train") > v1
    # removing versions 1 and 2 leaves no file of theirs: shards, their inventories and ids, own files
    (src / "a.jsonl").unlink()  # version 3 rewrites every shard that held a record of a.jsonl
    assert prep_cli("text", f"{src}/*.jsonl", out, "--update", "--workers", "1").exit_code == 0
    assert prep_cli("versions", out, "--keep", "1").exit_code == 0
    listed = set(checks.shard_files(out, 3))
    expected = {f"{name}{suffix}" for f in listed for name, suffix in ((f, ""), (f"inventory/{f}", ".jsonl"),
                                                                         (f"inventory/{f}", ".ids"), (f"index/{f}", ".idx"))}
    expected |= {"inventory/inputs.jsonl"} | {f"versions/3/{name}" for name in (
        "schema.json", "stats.json", "rejected.jsonl", "inventory/inputs.jsonl")}
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.parent.name != "vocab"} == \
        expected | {"schema.json", "stats.json", "rejected.jsonl"}


@pytest.mark.parametrize("args, message", [
    (("--update", "--max-tokens", "5"), "drop --max-tokens"),
    (("--update", "--label-field", "label"), "drop --label-field"),
    (("--update", "--overwrite"), "give one"),
])
def test_update_refuses_options_that_would_change_how_records_are_made(first, prep_cli, args, message):
    src, out = first
    result = prep_cli("text", f"{src}/*.jsonl", out, *args)
    assert result.exit_code == 2 and message in result.err and "Traceback" not in result.err


def test_update_of_an_image_dataset_or_of_nothing_is_one_line(first, tmp_path, prep_cli, made_dataset):
    src, _ = first
    for out, message in ((tmp_path / "none", "--update grows a dataset"),
                         (made_dataset, "was not written by prep text")):
        result = prep_cli("text", f"{src}/*.jsonl", out, "--update")
        assert result.exit_code == 2 and message in result.err, result.err


@pytest.mark.parametrize("kill_after", [1.5, 4.0])
def test_a_killed_update_leaves_a_readable_dataset_and_a_rerun_completes_it(first, prep_cli, kill_after):
    src, out = first
    _jsonl(src / "a.jsonl", 3000, 12, mode="a")
    _jsonl(src / "k.jsonl", 3000, 13)
    job = subprocess.Popen([sys.executable, "-m", "prep.cli.main", "text", f"{src}/*.jsonl", str(out), "--update",
                            "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                           env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    time.sleep(kill_after)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert prep_cli("verify", out).exit_code == 0, "the current version, whichever it is, is whole"
    finished = prep_cli("text", f"{src}/*.jsonl", out, "--update", "--workers", "1")
    assert finished.exit_code == 0, finished.err
    assert len(records(out)) == 130 + 6000
    assert prep_cli("verify", out).exit_code == 0
    assert not list(out.rglob("*.tmp*")), "nothing a killed update left survives its rerun"


def test_updates_run_on_a_bucket_and_of_two_started_together_one_commits():
    """On a filesystem that is not local, a text update reads and writes through Beam's FileSystems
    only (the files' digests, the inventories, the version's files), and of two updates started from
    one version the first to commit wins; the other fails in one line and changes nothing."""
    from beam_jobs.text import ConvertCorpus
    from prep.jobs.launch import run_pipeline
    from prep.jobs.options import ShardingOptions
    from prep.jobs.runner import RunnerOptions
    from prep.text.inputs import resolve_inputs
    from prep.text.options import TextJobOptions
    from prep.text.update import update_options
    from tests.memfs import MEM_SCHEME, MemFileSystem

    root = f"{MEM_SCHEME}://bucket"
    files = MemFileSystem.files
    files.clear()
    rows = [json.dumps({"text": f"{WORDS[i]} {WORDS[-i]} words", "label": "ab"[i % 2]}) + "\n" for i in range(12)]
    try:
        files[f"{root}/src/a.jsonl"] = "".join(rows[:8]).encode()
        files[f"{root}/src/b.jsonl"] = "".join(rows[8:]).encode()
        inputs = resolve_inputs(f"{root}/src/*.jsonl", "auto", "text", "label", False, False)
        first = TextJobOptions(inputs=inputs, out=f"{root}/out", sharding=ShardingOptions(num_shards=2))
        run = RunnerOptions(workers=1)
        run_pipeline(lambda p: p | "ConvertCorpus" >> ConvertCorpus(first), run)
        files[f"{root}/src/a.jsonl"] += rows[0].encode()  # a line appended
        del files[f"{root}/src/b.jsonl"]
        both = [update_options(f"{root}/src/*.jsonl", f"{root}/out", when, False) for when in ("09:00", "09:01")]
        checks.assert_first_of_two_updates_wins(ConvertCorpus, both, f"{root}/out", files, records=9)
    finally:
        files.clear()


def test_relearning_the_vocabulary_makes_the_version_a_first_run_makes_and_keeps_the_old_one(first, tmp_path, prep_cli):
    src, out = first
    before, v1_vocab = records(out), (out / "vocab" / "tokens.txt").read_bytes()
    _jsonl(src / "n.jsonl", 80, 21, words=["zebra", "yak", "gnu", "cat", "dog"])  # new words, counts reordered
    relearned = prep_cli("text", f"{src}/*.jsonl", out, "--update", "--relearn-vocabulary", "--workers", "2")
    assert relearned.exit_code == 0, relearned.err
    assert "the vocabulary was learned anew" in relearned.out

    # exactly what a first run over the same corpus learns and writes, the vocabulary in version 2's folder
    scratch = tmp_path / "learned"
    assert prep_cli("text", *flags(src), scratch).exit_code == 0
    assert (out / "v2" / "vocab" / "tokens.txt").read_bytes() == (scratch / "vocab" / "tokens.txt").read_bytes() != v1_vocab
    assert (out / "v2" / "vocab" / "tokens.counts.tsv").read_bytes() == (scratch / "vocab" / "tokens.counts.tsv").read_bytes()
    assert records(out) == records(scratch)
    schema = json.loads((out / "schema.json").read_text())
    assert [v["file"] for v in schema["vocabularies"] if v["kind"] == "tokens"] == ["v2/vocab/tokens.txt"]
    stats, fresh = (json.loads((d / "stats.json").read_text()) for d in (out, scratch))
    assert stats["vocabulary"] == fresh["vocabulary"] and stats["update"]["vocabulary_relearned"] is True
    # version 1 is as it was: its records, its ids, its vocabulary file
    assert records(out, version=1) == before and (out / "vocab" / "tokens.txt").read_bytes() == v1_vocab
    assert prep_cli("verify", out).exit_code == 0
    found = json.loads(prep_cli("diff", out, "--json").out)["vocabulary"]
    assert found["from"]["file"] == "vocab/tokens.txt" and found["to"]["file"] == "v2/vocab/tokens.txt"
    assert found["same"] is False and found["tokens_added"] >= 3

    # the next update encodes with the relearned vocabulary
    _jsonl(src / "p.jsonl", 5, 22, words=["zebra", "the", "okapi"])
    assert prep_cli("text", f"{src}/*.jsonl", out, "--update", "--workers", "1").exit_code == 0
    given = tmp_path / "given"
    assert prep_cli("text", *flags(src), given, "--vocab", out / "v2" / "vocab" / "tokens.txt").exit_code == 0
    assert records(out) == records(given)
    # removing versions 1 and 2 removes version 1's vocabulary, which no kept version reads
    assert prep_cli("versions", out, "--keep", "1").exit_code == 0
    assert not (out / "vocab" / "tokens.txt").exists() and (out / "v2" / "vocab" / "tokens.txt").exists()
    assert prep_cli("verify", out).exit_code == 0


def test_a_relearned_vocabulary_may_be_cut_anew_and_later_updates_keep_the_cut(first, tmp_path, prep_cli):
    src, out = first
    relearned = prep_cli("text", f"{src}/*.jsonl", out, "--update", "--relearn-vocabulary", "--max-tokens", "7",
                         "--workers", "1")
    assert relearned.exit_code == 0, relearned.err
    scratch = tmp_path / "cut"
    assert prep_cli("text", *flags(src), scratch, "--max-tokens", "7").exit_code == 0
    assert (out / "v2" / "vocab" / "tokens.txt").read_bytes() == (scratch / "vocab" / "tokens.txt").read_bytes()
    assert len((out / "v2" / "vocab" / "tokens.txt").read_text().splitlines()) == 5
    assert records(out) == records(scratch)
    # the cut is recorded: relearning again, without --max-tokens, learns the same 5 tokens from the
    # same files, so nothing changes, and the user is told
    schema = (out / "schema.json").read_bytes()
    again = prep_cli("text", f"{src}/*.jsonl", out, "--update", "--relearn-vocabulary", "--workers", "1")
    assert again.exit_code == 0 and "nothing changed" in again.out, again.err
    assert (out / "schema.json").read_bytes() == schema and not (out / "v3").exists() and not list(out.rglob("*.tmp*"))
    _jsonl(src / "r.jsonl", 4, 31)  # with a new file, the relearned version is a new one, with the cut
    assert prep_cli("text", f"{src}/*.jsonl", out, "--update", "--relearn-vocabulary", "--workers", "1").exit_code == 0
    assert len((out / "v3" / "vocab" / "tokens.txt").read_text().splitlines()) == 5


def test_relearning_needs_an_update_of_a_learned_vocabulary(first, tmp_path, prep_cli):
    src, out = first
    alone = prep_cli("text", *flags(src), tmp_path / "other", "--relearn-vocabulary")
    assert alone.exit_code == 2 and "--relearn-vocabulary goes with --update" in alone.err
    given = tmp_path / "given"
    assert prep_cli("text", *flags(src), given, "--vocab", out / "vocab" / "tokens.txt").exit_code == 0
    refused = prep_cli("text", f"{src}/*.jsonl", given, "--update", "--relearn-vocabulary")
    assert refused.exit_code == 2 and "nothing to learn anew" in refused.err and "Traceback" not in refused.err


def test_an_update_may_be_quiet(first, prep_cli):
    src, out = first
    _jsonl(src / "q.jsonl", 3, 23)
    quiet = prep_cli("text", f"{src}/*.jsonl", out, "--update", "--quiet", "--workers", "1")
    assert quiet.exit_code == 0, quiet.err
    assert "version 2 of" in quiet.out and "encoding:" not in quiet.err
