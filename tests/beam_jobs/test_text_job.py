"""`prep text` end to end: a real Beam pipeline writing records that TensorFlow reads, whose token ids
are TextVectorization's, from every input format."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest

from prep.core import row_files
from prep.text.tokenizer import Tokenizer
from tests.text_reference import CORPUS, adapt_vocabulary, file_ids


def read_records(out: Path, split: str | None = None) -> list[dict]:
    """Every record (of one split, or all), parsed by TensorFlow with the schema's spec, in shard order."""
    import tensorflow as tf

    from schemas import feature_spec, load_schema

    schema = load_schema(str(out))
    files = [str(out / s.file) for sp in schema.splits if split in (None, sp.name) for s in sp.shards]
    spec = feature_spec(schema)
    rows = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP" if schema.compression == "gzip" else ""):
        parsed = tf.io.parse_single_example(record, spec)
        rows.append({k: v.numpy().tolist() if hasattr(v.numpy(), "tolist") else v.numpy() for k, v in parsed.items()})
    return rows


def stats(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text())


def rejected(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]


def shard_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.tfrecord*"))}


def _labelled_rows() -> list[dict]:
    return [{"body": doc, "topic": ["animals", "misc", "numbers"][i % 3]} for i, doc in enumerate(CORPUS)]


@pytest.fixture
def jsonl_corpus(tmp_path) -> Path:
    """CORPUS as JSON Lines with a topic, plus four bad lines (lines 14-17)."""
    lines = [json.dumps(r, ensure_ascii=False) for r in _labelled_rows()]
    lines += ['{"body": "no topic"}', "[1, 2]", "{broken", ""]
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _check_keras(out: Path, settings: dict) -> list[dict]:
    """The vocabulary is adapt's on the documents written (minus tokens a line cannot hold), and every
    record's ids are what TextVectorization(vocabulary=vocab/tokens.txt) gives its text."""
    rows = read_records(out)
    texts = [r["text"].decode() for r in rows]
    tokens = (out / "vocab" / "tokens.txt").read_bytes().split(b"\n")[:-1]
    assert tokens == [t for t in adapt_vocabulary(texts, **settings) if b"\n" not in t and b"\r" not in t]
    keras = file_ids(texts, out / "vocab" / "tokens.txt", **{k: v for k, v in settings.items() if k != "max_tokens"})
    assert [r["text/token_ids"] for r in rows] == keras
    return rows


@pytest.mark.parametrize("standardize", ["lower_and_strip_punctuation", "lower", "strip_punctuation", "none"])
def test_vocabulary_and_ids_are_textvectorization_s(jsonl_corpus, tmp_path, prep_cli, standardize):
    out = tmp_path / "out"
    result = prep_cli("text", jsonl_corpus, out, "--text-field", "body", "--label-field", "topic",
                      "--standardize", standardize, "--max-tokens", "30", "--workers", "1")
    assert result.exit_code == 0, result.err
    assert "wrote 13 records (train 13)" in result.out
    rows = _check_keras(out, {"standardize": None if standardize == "none" else standardize, "max_tokens": 30})
    assert len((out / "vocab" / "tokens.txt").read_text().splitlines()) == 28
    assert (out / "vocab" / "labels.txt").read_text() == "animals\nmisc\nnumbers\n"
    for row in rows:
        name = row["label/name"].decode()
        assert row["label"] == ["animals", "misc", "numbers"].index(name)
        assert row["text/filename"] == b"corpus.jsonl" and 1 <= row["text/line"] <= 13
        assert _labelled_rows()[row["text/line"] - 1]["topic"] == name


def test_character_split_and_ngrams(jsonl_corpus, tmp_path, prep_cli):
    out = tmp_path / "chars"
    assert prep_cli("text", jsonl_corpus, out, "--text-field", "body", "--split-on", "character",
                    "--workers", "1").exit_code == 0
    _check_keras(out, {"split": "character"})
    s = stats(out)
    assert s["vocabulary"]["left_out"]["line_break_tokens"] == 2  # '\n' and '\r': a line cannot hold them
    out = tmp_path / "bigrams"
    assert prep_cli("text", jsonl_corpus, out, "--text-field", "body", "--ngrams", "2", "--workers", "1").exit_code == 0
    _check_keras(out, {"ngrams": 2})


def test_the_schema_says_what_the_records_hold(jsonl_corpus, tmp_path, prep_cli):
    from schemas import load_schema

    out = tmp_path / "out"
    result = prep_cli("text", jsonl_corpus, out, "--text-field", "body", "--label-field", "topic", "--max-length", "5",
                      "--split-on", "whitespace", "--min-count", "2", "--workers", "1")
    assert result.exit_code == 0
    schema = load_schema(str(out))
    assert schema.kind == "text" and schema.label_key == "label"
    ids = schema.feature("text/token_ids")
    assert (ids.dtype, ids.shape, ids.encoding, ids.vocabulary, ids.max_length) == ("int64", None, "token_ids", "tokens", 5)
    tokens = schema.vocabulary("tokens")
    assert (tokens.file, tokens.first_id, tokens.reserved) == ("vocab/tokens.txt", 2, ((0, ""), (1, "[UNK]")))
    assert tokens.size == len((out / "vocab" / "tokens.txt").read_text().splitlines())
    assert schema.text.standardize == "lower_and_strip_punctuation" and schema.text.min_count == 2
    counts = [int(line.split("\t")[0]) for line in (out / "vocab" / "tokens.counts.tsv").read_text().splitlines()]
    assert len(counts) == tokens.size and min(counts) >= 2 and counts == sorted(counts, reverse=True)
    rows = read_records(out)
    assert max(len(r["text/token_ids"]) for r in rows) == 5
    s = stats(out)
    assert s["text"]["truncated"] == sum(1 for r in rows if len(Tokenizer().tokens(r["text"])) > 5) > 0
    assert s["text"]["ids_per_record"]["max"] == 5 < s["text"]["tokens_per_document"]["max"]
    truncated = s["text"]["truncated"]
    assert f"{s['text']['tokens']:,} tokens in the documents" in result.out, "counted before the cut, and said so"
    assert f"{truncated} document{'s' if truncated != 1 else ''} cut at --max-length" in result.out
    assert 0 < s["text"]["oov_rate"] < 1 and s["vocabulary"]["coverage"] == 1.0


def test_bad_rows_land_in_rejected_jsonl_with_file_line_and_reason(jsonl_corpus, tmp_path, prep_cli):
    out = tmp_path / "out"
    result = prep_cli("text", jsonl_corpus, out, "--text-field", "body", "--label-field", "topic", "--workers", "1")
    assert result.exit_code == 0, result.err
    assert [(r["path"], r["line"], r["reason"]) for r in sorted(rejected(out), key=lambda r: r["line"])] == [
        ("corpus.jsonl", 14, "missing_label"), ("corpus.jsonl", 15, "not_an_object"),
        ("corpus.jsonl", 16, "bad_json"), ("corpus.jsonl", 17, "empty_document")]
    s = stats(out)
    assert s["inputs"] == 17 == s["records"] + s["rejected"]
    assert "rejected 4 of 17 inputs" in result.out


def _write_formats(src: Path) -> None:
    rows = [{"text": f"document {i} about Topic {i % 2}!", "label": f"t{i % 2}"} for i in range(12)]
    src.mkdir()
    (src / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    for name, delimiter in (("b.csv", ","), ("c.tsv", "\t")):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, ["label", "text"], delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows[3:6] if name == "b.csv" else rows[6:9])
        (src / name).write_text(buffer.getvalue())
    (src / "d.jsonl.gz").write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows[9:]).encode(), mtime=0))
    (src / "e.txt").write_text("a plain line\n")


def test_every_format_through_one_glob_and_gzip(tmp_path, prep_cli):
    src = tmp_path / "src"
    _write_formats(src)
    out = tmp_path / "out"
    result = prep_cli("text", f"{src}/*", out, "--label-field", "label", "--workers", "1")
    assert result.exit_code == 0, result.err
    rows = read_records(out)
    assert sorted((r["text/filename"].decode(), r["text/line"]) for r in rows) == sorted(
        [("a.jsonl", i) for i in (1, 2, 3)] + [("b.csv", i) for i in (2, 3, 4)] + [("c.tsv", i) for i in (2, 3, 4)]
        + [("d.jsonl.gz", i) for i in (1, 2, 3)])
    for row in rows:
        number = int(row["text"].decode().split()[1])
        assert row["label/name"].decode() == f"t{number % 2}" and row["label"] == number % 2
    assert [(r["path"], r["reason"]) for r in rejected(out)] == [("e.txt", "missing_label")]


def test_pinned_labels_fix_the_ids_and_reject_other_labels(jsonl_corpus, tmp_path, prep_cli):
    labels = tmp_path / "labels.txt"
    labels.write_text("numbers\nanimals\nspare\n")
    out = tmp_path / "out"
    result = prep_cli("text", jsonl_corpus, out, "--text-field", "body", "--label-field", "topic", "--labels", labels,
                      "--workers", "1")
    assert result.exit_code == 0, result.err
    assert (out / "vocab" / "labels.txt").read_text() == "numbers\nanimals\nspare\n"
    rows = read_records(out)
    assert {r["label/name"].decode() for r in rows} == {"numbers", "animals"}
    assert all(r["label"] == ["numbers", "animals"].index(r["label/name"].decode()) for r in rows)
    assert sum(r["reason"] == "label_not_in_labels" for r in rejected(out)) == 4  # the four "misc" rows


def test_unlabelled_plain_text_has_no_label_key(tmp_path, prep_cli):
    from schemas import load_schema

    (tmp_path / "lines.txt.gz").write_bytes(gzip.compress("\n".join(CORPUS[:4]).encode() + b"\n\n", mtime=0))
    out = tmp_path / "out"
    assert prep_cli("text", tmp_path / "lines.txt.gz", out, "--no-raw-text", "--workers", "1").exit_code == 0
    schema = load_schema(str(out))
    assert schema.label_key is None and [f.name for f in schema.features] == ["text/token_ids", "text/filename", "text/line"]
    assert not (out / "vocab" / "labels.txt").exists()
    rows = read_records(out)
    assert sorted(r["text/line"] for r in rows) == [1, 2, 3, 4]
    assert [(r["line"], r["reason"]) for r in rejected(out)] == [(5, "empty_document")]


def test_class_folders_and_split_folders(tmp_path, prep_cli):
    src = tmp_path / "src"
    for split, n in (("train", 3), ("test", 2)):
        for label in ("neg", "pos"):
            for i in range(n):
                (src / split / label).mkdir(parents=True, exist_ok=True)
                (src / split / label / f"{i}.txt").write_text(f"A {label} review, number {i}.\nSecond line.")
    (src / "train" / "pos" / "empty.txt").write_text("")
    out = tmp_path / "out"
    result = prep_cli("text", src, out, "--workers", "1")
    assert result.exit_code == 0, result.err
    assert "wrote 10 records (train 6, test 4)" in result.out
    assert (out / "vocab" / "labels.txt").read_text() == "neg\npos\n"
    for row in read_records(out, "test"):
        assert row["text/filename"].decode().startswith("test/") and row["text/line"] == 0
        assert row["text"].decode().startswith(f"A {row['label/name'].decode()} review")
    assert stats(out)["splits"]["train"]["classes"] == {"neg": 3, "pos": 3}
    assert [(r["path"], r["reason"]) for r in rejected(out)] == [("train/pos/empty.txt", "empty_file")]


def test_a_reused_vocabulary_gives_its_ids(jsonl_corpus, tmp_path, prep_cli):
    vocab = tmp_path / "v" / "vocab.txt"
    assert prep_cli("vocab", jsonl_corpus, vocab, "--text-field", "body", "--max-tokens", "12", "--workers", "1").exit_code == 0
    out = tmp_path / "out"
    result = prep_cli("text", jsonl_corpus, out, "--text-field", "body", "--vocab", vocab, "--workers", "1")
    assert result.exit_code == 0, result.err
    assert (out / "vocab" / "tokens.txt").read_bytes() == vocab.read_bytes()
    rows = read_records(out)
    assert [r["text/token_ids"] for r in rows] == file_ids([r["text"] for r in rows], vocab)
    s = stats(out)
    assert s["vocabulary"]["source"] == str(vocab) and s["text"]["oov_rate"] > 0
    assert not (out / "vocab" / "tokens.counts.tsv").exists()


def test_reruns_are_byte_identical_whatever_the_worker_count_and_byte_ranges(jsonl_corpus, tmp_path, prep_cli,
                                                                           monkeypatch):
    flags = ["--text-field", "body", "--label-field", "topic", "--split", "train=0.6,test=0.4", "--num-shards", "2",
             "--compression", "gzip"]
    assert prep_cli("text", jsonl_corpus, tmp_path / "a", *flags, "--workers", "2").exit_code == 0
    monkeypatch.setattr(row_files, "RANGE_BYTES", 100)  # read in byte ranges (in this process: one worker)
    assert len(row_files.byte_ranges(str(jsonl_corpus), jsonl_corpus.stat().st_size, "jsonl")) > 10
    assert prep_cli("text", jsonl_corpus, tmp_path / "b", *flags, "--workers", "1").exit_code == 0
    a, b = shard_bytes(tmp_path / "a"), shard_bytes(tmp_path / "b")
    assert len(a) == 4 and a == b
    for name in ("rejected.jsonl", "vocab/tokens.txt", "vocab/labels.txt", "stats.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_refuses_to_overwrite_a_dataset_unless_asked(jsonl_corpus, tmp_path, prep_cli):
    out = tmp_path / "out"
    assert prep_cli("text", jsonl_corpus, out, "--text-field", "body", "--workers", "1").exit_code == 0
    result = prep_cli("text", jsonl_corpus, out, "--text-field", "body", "--workers", "1")
    assert result.exit_code == 2 and "already holds a dataset" in result.err
    result = prep_cli("text", jsonl_corpus, out, "--text-field", "body", "--num-shards", "2", "--overwrite",
                      "--workers", "1")
    assert result.exit_code == 0, result.err
    assert sorted(p.name for p in out.glob("*.tfrecord")) == ["train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]


@pytest.mark.parametrize("args, message", [
    (["{t}/nope.jsonl", "{t}/out"], "does not exist"),
    (["{t}/corpus.jsonl", "{t}/out", "--text-field", "content"], "no field 'content' (the first row has: body, topic)"),
    (["{t}/corpus.jsonl", "{t}/out", "--text-field", "body", "--label-field", "label"], "pass --label-field"),
    (["{t}/corpus.jsonl", "{t}/out", "--text-field", "body", "--max-tokens", "2"], "at least 3"),
    (["{t}/corpus.jsonl", "{t}/out", "--text-field", "body", "--vocab", "{t}/corpus.jsonl", "--min-count", "2"],
     "used as it is"),
    (["{t}/corpus.jsonl", "{t}/out", "--text-field", "body", "--vocab", "{t}/missing.txt"], "cannot read"),
    (["{t}/corpus.jsonl", "{t}/out", "--text-field", "body", "--labels", "{t}/corpus.jsonl"], "--labels needs"),
    (["{t}/corpus.jsonl", "{t}/out", "--input-format", "folder"], "is a file"),
    (["{t}/empty", "{t}/out"], "no class folders"),
    (["{t}/corpus.jsonl", "{t}/out", "--split", "train=0.5"], "add up to 0.5"),
    (["{t}/corpus.jsonl", "{t}/out", "--text-field", "body", "--split", "trian=0.5,test=0.5"],
     "split name 'trian' looks like a misspelling of 'train': write train, or pass --custom-split-names"),
])
def test_user_mistakes_are_one_line_and_exit_2(jsonl_corpus, tmp_path, prep_cli, args, message):
    (tmp_path / "empty").mkdir()
    result = prep_cli("text", *[a.format(t=tmp_path) for a in args])
    assert result.exit_code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prep text: error:"), result.err
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.fixture
def mem_corpus():
    from tests.memfs import MEM_SCHEME, MemFileSystem

    MemFileSystem.files.clear()
    root = f"{MEM_SCHEME}://bucket"
    for i, doc in enumerate(CORPUS[:6]):
        MemFileSystem.files[f"{root}/src/{'a' if i % 2 else 'b'}/{i}.txt"] = doc.encode()
    MemFileSystem.files[f"{root}/rows.jsonl.gz"] = gzip.compress(
        "".join(json.dumps({"text": doc}) + "\n" for doc in CORPUS[:6]).encode(), mtime=0)
    yield root, MemFileSystem.files
    MemFileSystem.files.clear()


def test_both_jobs_run_on_a_non_local_filesystem(mem_corpus, prep_cli):
    root, files = mem_corpus
    result = prep_cli("text", f"{root}/src", f"{root}/out", "--workers", "1")
    assert result.exit_code == 0, result.err
    assert {p[len(root) + 5:] for p in files if p.startswith(f"{root}/out/")} == {
        "schema.json", "stats.json", "rejected.jsonl", "vocab/labels.txt", "vocab/tokens.txt",
        "vocab/tokens.counts.tsv", "train-00000-of-00001.tfrecord", "index/train-00000-of-00001.tfrecord.idx",
        "inventory/inputs.jsonl", "inventory/train-00000-of-00001.tfrecord.jsonl",
        "inventory/train-00000-of-00001.tfrecord.ids"}
    assert prep_cli("verify", f"{root}/out").exit_code == 0
    result = prep_cli("vocab", f"{root}/rows.jsonl.gz", f"{root}/v/vocab.txt", "--workers", "1")
    assert result.exit_code == 0, result.err
    assert files[f"{root}/v/vocab.txt"] == files[f"{root}/out/vocab/tokens.txt"]
    assert f"{root}/v/vocab.counts.tsv" in files and f"{root}/v/vocab.stats.json" in files
