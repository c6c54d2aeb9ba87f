"""`prep images` end to end: a real Beam pipeline writing real TFRecords, read back by TensorFlow."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from prep.core.splits import parse_split_fractions
from tests.conftest import image_bytes, write_image


def read_dataset(out: Path, split: str = "train") -> list[dict]:
    """Every record of a split, parsed by TensorFlow with the schema's spec, in shard order."""
    import tensorflow as tf

    from schemas import feature_spec, load_schema

    schema = load_schema(str(out))
    files = [str(out / s.file) for s in schema.split(split).shards]
    compression = "GZIP" if schema.compression == "gzip" else ""
    spec = feature_spec(schema)
    rows = []
    for record in tf.data.TFRecordDataset(files, compression_type=compression):
        parsed = tf.io.parse_single_example(record, spec)
        rows.append({k: v.numpy() for k, v in parsed.items()})
    return rows


def shard_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.tfrecord*"))}


def rejected(out: Path) -> dict[str, str]:
    lines = (out / "rejected.jsonl").read_text().splitlines()
    return {row["path"]: row["reason"] for row in map(json.loads, lines)}


def stats(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text())


def test_converts_class_folders_into_records_tensorflow_reads(image_folder, tmp_path, prep_cli):
    import tensorflow as tf

    out = tmp_path / "out"
    result = prep_cli("images", image_folder, out, "--workers", "1")
    assert result.exit_code == 0, result.err
    assert "wrote 12 records (train 12)" in result.out
    assert (out / "vocab" / "labels.txt").read_text() == "cat\ndog\nfish\n"
    rows = read_dataset(out)
    assert len(rows) == 12
    by_name = {r["image/filename"].decode(): r for r in rows}
    assert set(by_name) == {f"cat/cat{i}.jpg" for i in range(4)} | {"cat/sub/cat4.jpg"} | {
        f"dog/dog{i}.png" for i in range(4)} | {f"fish/fish {i}.jpg" for i in range(3)}
    for name, row in by_name.items():
        class_name = name.split("/")[0]
        assert row["label"] == ["cat", "dog", "fish"].index(class_name)
        assert row["label/name"].decode() == class_name
        original = (image_folder / name).read_bytes()
        assert row["image"] == original, "original bytes are kept for JPEG and PNG"
        decoded = tf.io.decode_image(row["image"], channels=3, expand_animations=False)
        assert decoded.shape == (row["image/height"], row["image/width"], 3)
        assert row["image/format"].decode() == ("png" if name.endswith(".png") else "jpeg")
    s = stats(out)
    assert s["inputs"] == 12 and s["records"] == 12 and s["rejected"] == 0
    assert s["splits"]["train"]["classes"] == {"cat": 5, "dog": 4, "fish": 3}
    assert s["images"]["width"]["min"] == 16 and s["images"]["width"]["max"] == 40
    assert (out / "rejected.jsonl").read_text() == ""


def test_pinned_labels_fix_the_ids(image_folder, tmp_path, prep_cli):
    labels = tmp_path / "labels.txt"
    labels.write_text("fish\ncat\nbird\ndog\n")
    out = tmp_path / "out"
    assert prep_cli("images", image_folder, out, "--labels", labels, "--workers", "1").exit_code == 0
    assert (out / "vocab" / "labels.txt").read_text() == "fish\ncat\nbird\ndog\n"
    for row in read_dataset(out):
        assert row["label"] == ["fish", "cat", "bird", "dog"].index(row["label/name"].decode())


def test_a_class_missing_from_pinned_labels_is_refused_before_work(image_folder, tmp_path, prep_cli):
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n")
    result = prep_cli("images", image_folder, tmp_path / "out", "--labels", labels)
    assert result.exit_code == 2
    assert "fish" in result.err and "--labels" in result.err
    assert not (tmp_path / "out").exists()


def test_hash_splits_follow_the_path_and_keep_files_in_place_as_the_folder_grows(tmp_path, prep_cli):
    src = tmp_path / "src"
    for i in range(40):
        write_image(src / ("a" if i % 2 else "b") / f"img{i:02d}.png", fmt="PNG", size=(8, 8), color=(i, 0, 0))
    fractions = "train=0.5,validation=0.25,test=0.25"
    split_of = parse_split_fractions(fractions).assign

    def splits_of(out):
        return {r["image/filename"].decode(): split for split in ("train", "validation", "test")
                for r in read_dataset(out, split)}

    first = splits_of_run = None
    assert prep_cli("images", src, tmp_path / "o1", "--split", fractions, "--workers", "1").exit_code == 0
    first = splits_of(tmp_path / "o1")
    assert len(first) == 40 and set(first.values()) == {"train", "validation", "test"}
    assert all(first[name] == split_of(name) for name in first)
    for i in range(40, 60):
        write_image(src / "a" / f"img{i:02d}.png", fmt="PNG", size=(8, 8), color=(i, 1, 0))
    assert prep_cli("images", src, tmp_path / "o2", "--split", fractions, "--workers", "1").exit_code == 0
    splits_of_run = splits_of(tmp_path / "o2")
    assert len(splits_of_run) == 60
    assert all(splits_of_run[name] == split for name, split in first.items())


def test_split_folders_become_splits(tmp_path, prep_cli):
    src = tmp_path / "src"
    for split, n in (("train", 3), ("test", 2)):
        for cls in ("x", "y"):
            for i in range(n):
                write_image(src / split / cls / f"{i}.jpg", color=(i * 50, 0, 0))
    out = tmp_path / "out"
    assert prep_cli("images", src, out, "--workers", "1").exit_code == 0
    from schemas import load_schema

    schema = load_schema(str(out))
    assert schema.split_names == ("train", "test")
    assert schema.split("train").num_records == 6 and schema.split("test").num_records == 4
    assert (out / "vocab" / "labels.txt").read_text() == "x\ny\n"
    assert {r["image/filename"].decode().split("/")[0] for r in read_dataset(out, "test")} == {"test"}


def test_split_flag_conflicts_with_split_folders(tmp_path, prep_cli):
    write_image(tmp_path / "src" / "train" / "x" / "a.jpg")
    result = prep_cli("images", tmp_path / "src", tmp_path / "out", "--split", "train=0.5,test=0.5")
    assert result.exit_code == 2 and "already split" in result.err


@pytest.mark.parametrize("flags, expected_shards", [
    (["--num-shards", "3"], 3),
    (["--num-shards", "20"], 20),          # more shards than records: the rest are written empty
    (["--shard-size", "2kB"], None),       # as many as needed for ~2 kB each
])
def test_shards_by_count_and_by_size(image_folder, tmp_path, prep_cli, flags, expected_shards):
    out = tmp_path / "out"
    assert prep_cli("images", image_folder, out, *flags, "--workers", "1").exit_code == 0
    from schemas import load_schema

    schema = load_schema(str(out))
    shards = schema.split("train").shards
    if expected_shards is None:
        total = sum(len(r["image"]) for r in read_dataset(out))
        assert len(shards) > 1 and abs(len(shards) - total / 2000) <= 2
    else:
        assert len(shards) == expected_shards
    assert [s.file for s in shards] == [f"train-{i:05d}-of-{len(shards):05d}.tfrecord" for i in range(len(shards))]
    assert sorted(p.name for p in out.glob("*.tfrecord")) == [s.file for s in shards]
    assert sum(s.num_records for s in shards) == 12
    assert [s.num_bytes for s in shards] == [(out / s.file).stat().st_size for s in shards]
    assert len(read_dataset(out)) == 12


def test_gzip_shards_read_by_tensorflow(image_folder, tmp_path, prep_cli):
    out = tmp_path / "out"
    assert prep_cli("images", image_folder, out, "--compression", "gzip", "--num-shards", "2", "--workers", "1").exit_code == 0
    assert sorted(p.name for p in out.glob("train-*")) == ["train-00000-of-00002.tfrecord.gz", "train-00001-of-00002.tfrecord.gz"]
    assert len(read_dataset(out)) == 12


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header claiming a huge size, with almost no data (a decompression bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def test_bad_inputs_land_in_rejected_jsonl_and_nothing_is_lost(image_folder, tmp_path, prep_cli):
    good = image_bytes(size=(64, 48))
    bad = {
        "cat/empty.jpg": b"",
        "cat/truncated.jpg": good[: len(good) // 2],
        "dog/notes.jpg": b"this is a text file, not a picture\n",
        "dog/bomb.png": _png_claiming(100_000, 100_000),
        "fish/.hidden.jpg": good,
        "fish/.DS_Store": b"\0\0\0\1Bud1",
        "loose.jpg": good,
    }
    for name, data in bad.items():
        (image_folder / name).write_bytes(data)
    out = tmp_path / "out"
    result = prep_cli("images", image_folder, out, "--workers", "1")
    assert result.exit_code == 0, result.err
    assert rejected(out) == {
        "cat/empty.jpg": "empty_file",
        "cat/truncated.jpg": "truncated",
        "dog/notes.jpg": "not_an_image",
        "dog/bomb.png": "too_many_pixels",
        "fish/.hidden.jpg": "hidden_file",
        "fish/.DS_Store": "hidden_file",
        "loose.jpg": "not_in_class_folder",
    }
    paths = [json.loads(line)["path"] for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert paths == sorted(bad), "rejected.jsonl is in path order"
    s = stats(out)
    assert s["inputs"] == 19 == s["records"] + s["rejected"]
    assert s["records"] == 12 == len(read_dataset(out))
    assert s["rejected_by_reason"]["hidden_file"] == 2
    assert "rejected 7 of 19 inputs" in result.out


def test_reruns_give_byte_identical_shards_whatever_the_worker_count(image_folder, tmp_path, prep_cli):
    flags = ["--split", "train=0.6,test=0.4", "--num-shards", "2", "--compression", "gzip"]
    assert prep_cli("images", image_folder, tmp_path / "a", *flags, "--workers", "1").exit_code == 0
    assert prep_cli("images", image_folder, tmp_path / "b", *flags, "--workers", "2").exit_code == 0
    a, b = shard_bytes(tmp_path / "a"), shard_bytes(tmp_path / "b")
    assert len(a) == 4 and a == b
    assert (tmp_path / "a" / "rejected.jsonl").read_bytes() == (tmp_path / "b" / "rejected.jsonl").read_bytes()


def test_without_the_duplicate_check_copies_are_kept_and_stats_say_nothing_about_them(image_folder, tmp_path, prep_cli):
    copy = image_folder / "dog" / "copy of dog0.png"
    copy.write_bytes((image_folder / "dog" / "dog0.png").read_bytes())
    checked, unchecked = tmp_path / "checked", tmp_path / "unchecked"
    assert prep_cli("images", image_folder, checked, "--workers", "1").exit_code == 0
    assert prep_cli("images", image_folder, unchecked, "--no-duplicate-check", "--workers", "1").exit_code == 0
    assert stats(checked)["duplicates"]["exact"]["groups"] == 1
    assert "duplicates" not in stats(unchecked)
    assert stats(unchecked)["records"] == stats(checked)["records"] == 13
    assert shard_bytes(unchecked) == shard_bytes(checked), "the check changes what is known, not what is written"


def test_refuses_to_overwrite_a_dataset_unless_asked(image_folder, tmp_path, prep_cli):
    out = tmp_path / "out"
    assert prep_cli("images", image_folder, out, "--num-shards", "3", "--workers", "1").exit_code == 0
    result = prep_cli("images", image_folder, out, "--workers", "1")
    assert result.exit_code == 2 and "already holds a dataset" in result.err and "--overwrite" in result.err
    assert prep_cli("images", image_folder, out, "--num-shards", "2", "--overwrite", "--workers", "1").exit_code == 0
    assert sorted(p.name for p in out.glob("*.tfrecord")) == ["train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]


@pytest.mark.parametrize("setup, args, message", [
    (lambda t: None, ["{t}/nope", "{t}/out"], "does not exist"),
    (lambda t: (t / "src").mkdir(), ["{t}/src", "{t}/out"], "no class folders"),
    (lambda t: ((t / "src" / "a").mkdir(parents=True), write_image(t / "src" / "b" / "x.jpg")),
     ["{t}/src", "{t}/out"], "'a' has no files"),
    (lambda t: write_image(t / "src" / "a" / "x.jpg"), ["{t}/src", "{t}/out", "--split", "train=0.7,test=0.2"],
     "add up to 0.9"),
    (lambda t: write_image(t / "src" / "a" / "x.jpg"), ["{t}/src", "{t}/out", "--split", "train"], "NAME=FRACTION"),
    (lambda t: write_image(t / "src" / "a" / "x.jpg"), ["{t}/src", "{t}/out", "--num-shards", "2", "--shard-size", "1MB"],
     "not both"),
    (lambda t: write_image(t / "src" / "a" / "x.jpg"), ["{t}/src", "{t}/out", "--shard-size", "lots"], "not a size"),
    (lambda t: write_image(t / "src" / "a" / "x.jpg"), ["{t}/src", "{t}/out", "--resize", "224"], "WIDTHxHEIGHT"),
    (lambda t: write_image(t / "src" / "a" / "x.jpg"), ["{t}/src", "{t}/src/a/out"], "OUT is inside SRC"),
    (lambda t: write_image(t / "src" / "a" / "x.jpg"), ["{t}/src", "{t}/src"], "same folder"),
    (lambda t: write_image(t / "src" / "a" / "x.jpg"), ["{t}/src", "{t}/out", "--labels", "{t}/missing.txt"],
     "cannot read"),
    (lambda t: write_image(t / "src" / "a" / "x.jpg"), ["{t}/src", "{t}/out", "--format", "jpeg", "--channels", "4"],
     "channels"),
    (lambda t: write_image(t / "src" / "a" / "x.jpg"), ["{t}/src", "{t}/out", "--dedupe", "--no-duplicate-check"],
     "--dedupe needs the duplicate check"),
    (lambda t: write_image(t / "src" / "a" / "x.jpg"), ["{t}/src", "{t}/out", "--split", "train=0.8,validaton=0.2"],
     "split name 'validaton' looks like a misspelling of 'validation': write validation, or pass --custom-split-names"),
    (lambda t: write_image(t / "src" / "a" / "x.jpg"), ["{t}/src", "{t}/out", "--custom-split-names"],
     "--custom-split-names keeps the split names --split gives: pass --split"),
    (lambda t: [write_image(t / "src" / split / "a" / "x.jpg") for split in ("train", "validaton")],
     ["{t}/src", "{t}/out"], "SRC's folder 'validaton' looks like a misspelt split folder 'validation' (beside train)"),
])
def test_user_mistakes_are_one_line_and_exit_2(tmp_path, prep_cli, setup, args, message):
    setup(tmp_path)
    result = prep_cli("images", *[a.format(t=tmp_path) for a in args])
    assert result.exit_code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prep images: error:"), result.err
    assert message in lines[0]
    assert "Traceback" not in result.err


@pytest.mark.parametrize("flags, channels, fmt", [
    (["--resize", "24x16", "--channels", "1"], 1, "jpeg"),
    (["--resize", "24x16", "--resize-mode", "pad", "--format", "png", "--channels", "4"], 4, "png"),
    (["--resize", "24x16", "--resize-mode", "crop", "--quality", "50"], 3, "jpeg"),
])
def test_resize_and_reencode_give_the_size_and_channels_the_schema_says(image_folder, tmp_path, prep_cli, flags, channels, fmt):
    import tensorflow as tf

    from schemas import load_schema

    out = tmp_path / "out"
    assert prep_cli("images", image_folder, out, *flags, "--workers", "1").exit_code == 0
    image = load_schema(str(out)).feature("image").image
    assert (image.width, image.height, image.channels) == (24, 16, channels)
    rows = read_dataset(out)
    assert len(rows) == 12
    for row in rows:
        decoded = tf.io.decode_image(row["image"], channels=channels, expand_animations=False)
        assert decoded.shape == (16, 24, channels)
        assert row["image/format"].decode() == ("png" if "--format" in flags else
                                                "png" if row["image/filename"].endswith(b".png") else fmt)
    assert stats(out)["images"]["reencoded"] == 12


def test_beam_flags_after_double_dash_reach_the_pipeline(image_folder, tmp_path, prep_cli):
    result = prep_cli("images", image_folder, tmp_path / "out", "--workers", "1", "--", "--no_such_beam_flag=1")
    assert result.exit_code == 2
    assert "Beam does not know the flag(s) --no_such_beam_flag=1" in result.err
    assert not (tmp_path / "out").exists()
    result = prep_cli("images", image_folder, tmp_path / "out", "--workers", "1", "--", "--direct_num_workers=1",
                      "--direct_running_mode=in_memory")
    assert result.exit_code == 0, result.err
