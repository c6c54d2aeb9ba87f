"""Duplicate images: exact copies within and across splits, near copies, and --dedupe."""

from __future__ import annotations

import io
import json
import re
import shlex

import pytest

from prep.core import duplicates
from prep.core.duplicates import Copy
from prep.core.statistics import Summary


def _photo(seed: int, size=(160, 120)) -> bytes:
    """A distinct picture per seed: a smooth random field, so the perceptual hash has structure."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    coarse.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _reencoded(data: bytes, quality: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture
def folder_with_copies(tmp_path):
    src = tmp_path / "src"
    for i in range(12):
        path = src / ("a" if i % 2 else "b") / f"img{i:02d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_photo(i))
    (src / "a" / "copy_of_01.jpg").write_bytes((src / "a" / "img01.jpg").read_bytes())     # same class
    (src / "b" / "zz_copy_of_03.jpg").write_bytes((src / "a" / "img03.jpg").read_bytes())  # other class
    (src / "b" / "recompressed_05.jpg").write_bytes(_reencoded((src / "a" / "img05.jpg").read_bytes(), 40))
    return src


def _stats(out):
    return json.loads((out / "stats.json").read_text())


def test_exact_and_near_copies_are_reported(folder_with_copies, tmp_path, prep_cli):
    out = tmp_path / "out"
    assert prep_cli("images", folder_with_copies, out, "--split", "train=0.5,test=0.5", "--workers", "1").exit_code == 0
    found = _stats(out)["duplicates"]
    exact = found["exact"]
    assert exact["groups"] == 2 and exact["extra_copies"] == 2 and exact["dropped_by_dedupe"] == 0
    groups = {tuple(e["paths"]) for e in exact["examples"]}
    assert groups == {("a/copy_of_01.jpg", "a/img01.jpg"), ("a/img03.jpg", "b/zz_copy_of_03.jpg")}
    assert exact["groups_across_splits"] + exact["groups_within_a_split"] == 2
    for example in exact["examples"][:exact["groups_across_splits"]]:
        assert len(set(example["splits"])) > 1, "groups that leak across splits are listed first"
    near = {tuple(e["paths"]): e for e in found["near"]["examples"]}
    assert list(near) == [("a/img05.jpg", "b/recompressed_05.jpg")], "one near group, the recompressed copy"
    assert 0 <= near[("a/img05.jpg", "b/recompressed_05.jpg")]["max_differing_bits"] <= duplicates.NEAR_BITS
    assert found["near"]["groups"] == found["near"]["pairs"] == 1
    assert found["near"]["threshold_bits"] == duplicates.NEAR_BITS
    assert _stats(out)["records"] == 15, "without --dedupe every copy is kept"


def test_dedupe_keeps_the_first_by_path_whatever_the_worker_count(folder_with_copies, tmp_path, prep_cli):
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        assert prep_cli("images", folder_with_copies, out, "--dedupe", "--workers", workers).exit_code == 0
        rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
        assert [(r["path"], r["reason"]) for r in rejected] == [
            ("a/img01.jpg", "duplicate"), ("b/zz_copy_of_03.jpg", "duplicate")]
        assert "a/copy_of_01.jpg" in rejected[0]["detail"] and "a/img03.jpg" in rejected[1]["detail"]
        stats = _stats(out)
        assert stats["records"] == 13 and stats["rejected"] == 2 and stats["inputs"] == 15
        assert stats["duplicates"]["exact"]["dropped_by_dedupe"] == 2
    shards = [sorted(p.read_bytes() for p in (tmp_path / f"out{w}").glob("*.tfrecord")) for w in ("1", "2")]
    assert shards[0] == shards[1]


def test_near_pairs_need_few_differing_bits_and_different_bytes():
    a = Copy("a.jpg", "train", b"1", 0b1111)
    assert duplicates.near_pairs([a, Copy("b.jpg", "test", b"2", 0b0111)]) == [("a.jpg", "train", "b.jpg", "test", 1)]
    assert duplicates.near_pairs([a, Copy("b.jpg", "test", b"1", 0b1111)]) == [], "exact copies are not near copies"
    far = (1 << 64) - 1
    assert duplicates.near_pairs([a, Copy("c.jpg", "test", b"3", far)]) == []


@pytest.mark.parametrize("bits, shared", [
    ((3, 20, 40), True),                  # up to 3 differing bits: always a band in common
    ((3, 20, 21, 22, 40, 41), True),      # 6 bits leaving band 3 alone: found
    ((3, 20, 40, 50, 61, 62), False),     # 6 bits touching all 4 bands: not compared (documented)
])
def test_which_near_copies_share_a_band(bits, shared):
    value = 0x0123456789ABCDEF
    flipped = value
    for bit in bits:
        flipped ^= 1 << bit
    assert bool(set(duplicates.bands(value)) & set(duplicates.bands(flipped))) == shared


def test_buckets_find_what_comparing_every_pair_finds():
    """The batched shuffle (copies bucketed by digest byte and band) against brute force over all pairs."""
    import random

    rng = random.Random(7)
    bases = [rng.getrandbits(64) for _ in range(40)]
    copies = []
    for i in range(400):
        fingerprint = bases[i % 40]
        for _ in range(rng.choice([0, 1, 2, 3])):
            fingerprint ^= 1 << rng.randrange(64)
        digest = b"\x00same" if i % 97 == 0 else bytes([i % 7]) + i.to_bytes(4, "big")
        copies.append(Copy(f"{i:03d}.jpg", "train", digest, fingerprint))
    buckets: dict = {}
    for copy in copies:
        for key in duplicates.buckets(copy, near=True):
            buckets.setdefault(key, []).append(copy)
    groups, pairs = [], set()
    for key, members in buckets.items():
        found_groups, found_pairs, _, _ = duplicates.compare_bucket(key, members)
        groups += found_groups
        pairs |= set(found_pairs)
    brute = {sum(sorted(((a.name, a.split), (b.name, b.split))), ()) + (duplicates.hamming(a.fingerprint, b.fingerprint),)
             for i, a in enumerate(copies) for b in copies[i + 1:]
             if duplicates.hamming(a.fingerprint, b.fingerprint) <= 3 and a.digest != b.digest}
    assert brute and brute <= pairs, "pairs up to 3 bits apart always share a band bucket"
    assert all(pair.bits <= duplicates.NEAR_BITS for pair in pairs)
    assert sorted(sorted(c.name for c in g) for g in groups) == [["000.jpg", "097.jpg", "194.jpg", "291.jpg", "388.jpg"]]
    assert duplicates.buckets(copies[0], near=False) == [("exact", 0, 8)], "text: no bands"


def test_fingerprints_survive_recompression_but_tell_pictures_apart():
    from prep.images.imaging import ImageOptions, normalise_image

    options = ImageOptions()
    one, other = _photo(1), _photo(2)
    fingerprint = normalise_image(one, options).fingerprint
    assert duplicates.hamming(fingerprint, normalise_image(_reencoded(one, 30), options).fingerprint) <= duplicates.NEAR_BITS
    assert duplicates.hamming(fingerprint, normalise_image(other, options).fingerprint) > duplicates.NEAR_BITS
    resized = normalise_image(one, ImageOptions(resize=(64, 48))).fingerprint
    assert duplicates.hamming(fingerprint, resized) <= duplicates.NEAR_BITS


def test_documents_survive_by_path_then_line_and_are_named_with_their_line():
    copies = [Copy("b.txt", "train", b"d", line=1), Copy("a.txt", "test", b"d", line=10),
              Copy("a.txt", "train", b"d", line=9)]
    kept, others = duplicates.survivor(copies)
    assert kept.name == "a.txt:9", "line 9 before line 10, not by the name's string order"
    assert [c.name for c in others] == ["b.txt:1", "a.txt:10"], "by split (train first), then path and line"
    kept, _ = duplicates.survivor([Copy("a.jpg", "test", b"d"), Copy("z.jpg", "train", b"d"), Copy("b.jpg", "validation", b"d")])
    assert kept.name == "z.jpg", "a copy across splits keeps the training one, whatever the paths"
    assert Copy("whole.txt", "train", b"d").name == "whole.txt", "a file that is one document: its path alone"


def test_without_near_copies_the_summary_has_no_near_section():
    group = [Copy("a.txt", "train", b"d", line=10), Copy("a.txt", "test", b"d", line=9)]
    summary = duplicates.summarize([group], None, dropped=1)
    assert "near" not in summary
    assert summary["exact"]["examples"] == [{"paths": ["a.txt:9", "a.txt:10"], "splits": ["test", "train"]}]
    assert summary["exact"]["groups_across_splits"] == 1 and summary["exact"]["dropped_by_dedupe"] == 1


def _pair(a: str, b: str, bits: int, splits=("train", "train")) -> duplicates.NearPair:
    return duplicates.NearPair(a, splits[0], b, splits[1], bits)


def test_near_groups_are_the_connected_components_of_the_pairs_leakage_first():
    pairs = [_pair("a", "b", 2), _pair("b", "c", 5), _pair("c", "d", 1),          # a chain: one group of 4
             _pair("x", "y", 3, ("train", "test")),                               # across splits
             _pair("p", "q", 4), _pair("p", "q", 4)]                              # found in two bands: one pair
    groups = duplicates.near_groups(pairs)
    assert groups == [
        {"paths": ["x", "y"], "splits": ["train", "test"], "max_differing_bits": 3},
        {"paths": ["a", "b", "c", "d"], "splits": ["train"] * 4, "max_differing_bits": 5},
        {"paths": ["p", "q"], "splits": ["train", "train"], "max_differing_bits": 4},
    ]
    summary = duplicates.summarize([], duplicates.near_found(pairs))["near"]
    assert (summary["groups"], summary["pairs"], summary["groups_across_splits"], summary["groups_within_a_split"]) == (3, 5, 1, 2)


def test_near_groups_merge_components_whatever_the_order_of_the_pairs():
    import random

    rng = random.Random(3)
    pairs = [_pair(f"{i:02d}", f"{j:02d}", rng.randrange(7)) for i, j in
             [(1, 2), (3, 4), (2, 3), (5, 6), (7, 8), (6, 7), (9, 10), (8, 1)]]
    expected = [{"paths": [f"{i:02d}" for i in range(1, 9)], "splits": ["train"] * 8,
                 "max_differing_bits": max(p.bits for p in pairs[:8] if p.first != "09")},
                {"paths": ["09", "10"], "splits": ["train"] * 2, "max_differing_bits": pairs[6].bits}]
    for _ in range(20):
        rng.shuffle(pairs)
        assert duplicates.near_groups(pairs) == expected


def test_dedupe_near_keeps_the_first_split_of_each_group_spanning_splits():
    groups = duplicates.near_groups([
        _pair("test/a.jpg", "train/a.jpg", 3, ("test", "train")),
        _pair("train/a.jpg", "validation/a.jpg", 2, ("train", "validation")),
        _pair("test/b.jpg", "validation/b.jpg", 1, ("test", "validation")),   # no train copy: validation's kept
        _pair("train/c.jpg", "train/d.jpg", 1),                               # within a split: kept
    ])
    rows = duplicates.near_drops(groups)
    assert [(r["path"], r["reason"]) for r in rows] == [
        ("test/a.jpg", duplicates.NEAR_REASON), ("validation/a.jpg", duplicates.NEAR_REASON),
        ("test/b.jpg", duplicates.NEAR_REASON)]
    assert "of train/a.jpg in split train" in rows[0]["detail"] and "--dedupe-near" in rows[0]["detail"]
    assert "of validation/b.jpg in split validation" in rows[2]["detail"]


def _resized(data: bytes, factor: float) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    buffer = io.BytesIO()
    image.resize((int(image.width * factor), int(image.height * factor))).save(buffer, "PNG")
    return buffer.getvalue()


NEAR_LEAKS = {"test/b/resaved_01.jpg": "train/a/img01.jpg", "test/b/small_03.png": "train/a/img03.jpg"}
NEAR_WITHIN = ("train/a/img02.jpg", "train/b/recompressed_02.jpg")


@pytest.fixture
def split_folders_with_near_copies(tmp_path):
    """train/ and test/ folders; two near copies of training images in test (re-saved at JPEG quality
    55, halved and saved as PNG) and one near copy within train."""
    src = tmp_path / "src"
    files = {f"{'train' if i < 8 else 'test'}/a/img{i:02d}.jpg": _photo(i) for i in range(12)}
    files["test/b/resaved_01.jpg"] = _reencoded(files["train/a/img01.jpg"], 55)
    files["test/b/small_03.png"] = _resized(files["train/a/img03.jpg"], 0.5)
    files[NEAR_WITHIN[1]] = _reencoded(files[NEAR_WITHIN[0]], 40)
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    return src


def test_near_copies_across_splits_are_leakage_and_dedupe_near_drops_them(split_folders_with_near_copies, tmp_path,
                                                                         prep_cli):
    src = split_folders_with_near_copies
    result = prep_cli("images", src, tmp_path / "found", "--workers", "1")
    assert result.exit_code == 0, result.err
    assert "leakage: 2 groups of near copies span splits (drop them with --dedupe-near" in result.out
    near = _stats(tmp_path / "found")["duplicates"]["near"]
    groups = [(tuple(g["paths"]), tuple(g["splits"])) for g in near["examples"]]
    assert groups == [(("test/b/resaved_01.jpg", "train/a/img01.jpg"), ("test", "train")),
                      (("test/b/small_03.png", "train/a/img03.jpg"), ("test", "train")),
                      (NEAR_WITHIN, ("train", "train"))], "groups across splits first"
    assert (near["groups_across_splits"], near["groups_within_a_split"], near["dropped_by_dedupe_near"]) == (2, 1, 0)
    assert near["groups_left_across_splits"] == 2

    shards = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        result = prep_cli("images", src, out, "--dedupe-near", "--workers", workers)
        assert result.exit_code == 0, result.err
        rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
        assert [(r["path"], r["reason"]) for r in rejected] == [
            (name, duplicates.NEAR_REASON) for name in sorted(NEAR_LEAKS)]
        for row in rejected:
            assert f"of {NEAR_LEAKS[row['path']]} in split train" in row["detail"]
        stats = _stats(out)
        assert (stats["inputs"], stats["records"], stats["rejected"]) == (15, 13, 2)
        assert stats["duplicates"]["near"]["dropped_by_dedupe_near"] == 2
        assert stats["splits"]["test"]["records"] == 4, "the test split keeps only its own pictures"
        assert stats["duplicates"]["near"]["groups_left_across_splits"] == 0
        assert "leakage:" not in result.out
        assert ("leakage dropped: 2 groups of near copies spanned splits; --dedupe-near kept each near group's "
                "copies in its first split") in result.out
        shards.append({p.name: p.read_bytes() for p in out.glob("*.tfrecord")})
    assert shards[0] == shards[1], "the same records, byte for byte, at 1 and 2 workers"
    from prep.inspection.report import page as report

    page = report.build_report(str(tmp_path / "out1"))
    assert "Leakage:" not in page, "copies dropped are no longer leakage"
    assert "2 groups of near copies spanned splits: prep images --dedupe-near kept" in page
    assert "Near copies across splits: 2 groups (dropped by --dedupe-near)" in page


def test_the_report_command_the_summary_prints_runs_as_it_is(split_folders_with_near_copies, tmp_path, prep_cli,
                                                             monkeypatch):
    out = tmp_path / "a dataset"  # a space, so the command must quote it
    result = prep_cli("images", split_folders_with_near_copies, out, "--workers", "1")
    assert result.exit_code == 0, result.err
    command = re.search(r"; (prep report .+) shows them\)$", result.out, re.MULTILINE).group(1)
    monkeypatch.chdir(tmp_path)
    report = prep_cli(*shlex.split(command)[1:])
    assert report.exit_code == 0, report.err
    page = (tmp_path / "report.html").read_text()
    assert "Leakage: 2 groups of near copies" in page and "test/b/resaved_01.jpg" in page


def test_dedupe_and_dedupe_near_reject_each_file_once(split_folders_with_near_copies, tmp_path, prep_cli):
    src = split_folders_with_near_copies
    (src / "test" / "b" / "exact_01.jpg").write_bytes((src / "train" / "a" / "img01.jpg").read_bytes())
    out = tmp_path / "out"
    assert prep_cli("images", src, out, "--dedupe", "--dedupe-near", "--workers", "1").exit_code == 0
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    reasons = {r["path"]: r["reason"] for r in rejected}
    assert len(reasons) == len(rejected), "one line per dropped file"
    assert reasons["test/b/exact_01.jpg"] == duplicates.REASON, "an exact copy is dropped as one"
    assert reasons["test/b/resaved_01.jpg"] == reasons["test/b/small_03.png"] == duplicates.NEAR_REASON
    stats = _stats(out)
    assert stats["inputs"] == stats["records"] + stats["rejected"] == 16


def test_in_a_job_crowded_band_values_are_split_and_counted(split_folders_with_near_copies, tmp_path, prep_cli,
                                                           monkeypatch):
    """With the bound at 1 image every band value two images share is crowded: the job splits it by the
    other bands (test_a_crowded_band_value_is_split_by_the_other_bands_not_skipped shows what that
    finds), counts it in stats.json, and finds no group the unbounded search does not."""
    assert prep_cli("images", split_folders_with_near_copies, tmp_path / "all", "--workers", "1").exit_code == 0
    monkeypatch.setattr(duplicates, "MAX_BUCKET", 1)  # workers=1 runs in this process
    result = prep_cli("images", split_folders_with_near_copies, tmp_path / "bounded", "--workers", "1")
    assert result.exit_code == 0, result.err
    unbounded = {tuple(g["paths"]) for g in _stats(tmp_path / "all")["duplicates"]["near"]["examples"]}
    near = _stats(tmp_path / "bounded")["duplicates"]["near"]
    assert {tuple(g["paths"]) for g in near["examples"]} <= unbounded
    assert near["split_by_other_bands"]["band_values"] >= 3 and near["split_by_other_bands"]["limit"] == 1
    assert _stats(tmp_path / "all")["duplicates"]["near"]["split_by_other_bands"]["band_values"] == 0


def test_without_spilled_shuffles_dedupe_drops_by_a_join_with_the_same_result(split_folders_with_near_copies,
                                                                            tmp_path, prep_cli, monkeypatch):
    """A Dataflow run does not spill its shuffles: --dedupe and --dedupe-near then drop copies by a
    CoGroupByKey on the record's name instead of a side input of every dropped name. Same bytes."""
    from prep.jobs.options import SpillsUnderOut

    src = split_folders_with_near_copies
    flags = ["--dedupe", "--dedupe-near", "--workers", "1", "--num-shards", "2"]
    assert prep_cli("images", src, tmp_path / "spilled", *flags).exit_code == 0
    monkeypatch.setattr(SpillsUnderOut, "spill_dir", property(lambda self: None))
    assert prep_cli("images", src, tmp_path / "joined", *flags).exit_code == 0
    for name in ("train-00000-of-00002.tfrecord", "test-00001-of-00002.tfrecord", "stats.json", "rejected.jsonl"):
        assert (tmp_path / "spilled" / name).read_bytes() == (tmp_path / "joined" / name).read_bytes(), name
    assert _stats(tmp_path / "joined")["duplicates"]["near"]["dropped_by_dedupe_near"] == 2


def test_dedupe_near_needs_the_duplicate_check(split_folders_with_near_copies, tmp_path, prep_cli):
    result = prep_cli("images", split_folders_with_near_copies, tmp_path / "out", "--dedupe-near", "--no-duplicate-check")
    assert result.exit_code == 2 and "--dedupe-near needs the duplicate check" in result.err


def test_a_crowded_band_value_is_split_by_the_other_bands_not_skipped(monkeypatch):
    monkeypatch.setattr(duplicates, "MAX_BUCKET", 3)
    # 6 images share band 0; bands 1-3 tell apart two triples, each of near copies (1 bit apart within)
    crowd = [Copy(f"{i}.jpg", "train", bytes([i]), 0xABCD | (0x1111 if i < 3 else 0x2222) << 16 | 1 << (40 + i))
             for i in range(6)]
    same = [Copy(f"s{i}.jpg", "train", bytes([50 + i]), 0x5555_5555_5555_5555) for i in range(5)]  # one hash, 5 images
    pair = [Copy("x.jpg", "train", b"x", 0x1234 | 1 << 63), Copy("y.jpg", "test", b"y", 0x1234 | 3 << 62)]
    found = duplicates.compare_bucket(("band", 0, 0xAB, 8), crowd + pair)
    names = {(p.first, p.second) for p in found.pairs}
    assert {("0.jpg", "1.jpg"), ("0.jpg", "2.jpg"), ("3.jpg", "4.jpg"), ("x.jpg", "y.jpg")} <= names
    assert not any(a[0] < "3" <= b[0] for a, b in names if a[0].isdigit() and b[0].isdigit()), "not across the triples"
    assert found.split == [6] and found.crowded == []
    found = duplicates.compare_bucket(("band", 0, 0x55, 8), same)
    assert found.split == [5] and found.crowded == [5] and found.pairs == []  # every band agrees: not compared
    summary = Summary()
    for fact in [(duplicates.SPLIT_FACT, 6), (duplicates.SPLIT_FACT, 5), (duplicates.CROWDED_FACT, 5)]:
        assert duplicates.add_fact(summary, fact)
    near = duplicates.from_summary(summary.to_dict(), near=True)["near"]
    assert near["split_by_other_bands"] == {"band_values": 2, "images": 11, "limit": 3}
    assert near["not_compared"] == {"hashes": 1, "images": 5, "limit": 3}


@pytest.mark.parametrize("count, exact, band", [(0, 8, 8), (1_000_000, 8, 8), (10_000_000, 12, 12),
                                                 (100_000_000, 15, 15), (1_000_000_000, 18, 16),
                                                 (10**12, 28, 16)])
def test_bucket_keys_grow_with_the_input_so_no_bucket_does(count, exact, band):
    """At 1B images: 2**18 exact buckets of about 3,800 copies, 2**16 buckets per band (one band value
    each) of about 15,000 (bench/RESULTS.md has the arithmetic)."""
    copy = Copy("a.jpg", "train", bytes(range(16)), 0x0123_4567_89AB_CDEF)
    keys = duplicates.buckets(copy, near=True, count=count)
    assert keys[0] == ("exact", int.from_bytes(bytes(range(4)), "big") >> (32 - exact), exact)
    assert keys[1] == ("band", 0, 0xCDEF >> (16 - band), band)
    if count:
        assert count / 2**exact <= duplicates.EXACT_PER_BUCKET or exact == 32
        assert count / 2**band <= duplicates.BAND_PER_BUCKET or band == 16


@pytest.mark.parametrize("bit, found", [(0, True), (6, False)])
def test_with_longer_band_keys_only_the_low_bits_left_out_are_searched(bit, found):
    """At 100M images the band keys have 15 bits: values apart in the 1 bit left out still share a bucket
    and are compared; apart in a bit of the key, they are not (the price of bounded buckets)."""
    value = 0x0123456789ABCDEF
    other = value ^ 1 << bit ^ 1 << (16 + bit) ^ 1 << (32 + bit) ^ 1 << (48 + bit)  # one bit in every band
    a, b = Copy("a.jpg", "train", b"1" * 16, value), Copy("b.jpg", "test", b"2" * 16, other)
    pairs = set()
    for key in set(duplicates.buckets(a, near=True, count=10**8)) & set(duplicates.buckets(b, near=True, count=10**8)):
        pairs |= set(duplicates.compare_bucket(key, [a, b]).pairs)
    assert bool(pairs) == found


def _picture(luma: list[int], cb: int = 128, cr: int = 128) -> bytes:
    """A YCbCr picture as prep.images.fingerprint makes it: 64 luma bytes (8x8), then 16 Cb, 16 Cr (4x4)."""
    return bytes(luma) + bytes([cb] * 16) + bytes([cr] * 16)


def test_a_near_pair_also_needs_alike_pictures():
    ramp = [40 + 2 * i for i in range(64)]  # 40..166
    a = Copy("a.jpg", "train", b"1", 0b1111, thumbnail=_picture(ramp))
    assert duplicates.near_pairs([a, Copy("b.jpg", "test", b"2", 0b0111, thumbnail=_picture([v + 4 for v in ramp]))])
    other = _picture(ramp[::-1])
    assert duplicates.near_pairs([a, Copy("b.jpg", "test", b"2", 0b0111, thumbnail=other)]) == [], \
        "hashes 1 bit apart, pictures far apart: not a near copy"
    picture = _picture(ramp)
    brighter = _picture([round(v * 1.1) for v in ramp])
    assert duplicates.alike(picture, brighter) and duplicates.alike(brighter, picture), "10% brighter: a copy"
    assert not duplicates.alike(picture, _picture([round(v * 1.15) for v in ramp])), \
        f"brightness beyond {duplicates.NEAR_GAIN}x"
    lifted = [v + duplicates.NEAR_GREY_LEVELS * 2 for v in ramp]  # the same mean gain, a different contrast
    near, far = 128 + duplicates.NEAR_COLOUR_LEVELS, 129 + duplicates.NEAR_COLOUR_LEVELS
    assert duplicates.alike(picture, _picture(ramp, cb=near, cr=near))
    assert not duplicates.alike(picture, _picture(ramp, cb=far, cr=far)), \
        "the same luma in another colour: a red ramp is not a blue one"
    assert duplicates.alike(picture, _picture(lifted)) == duplicates.alike(_picture(lifted), picture), "symmetric"
    assert duplicates.alike(picture, b"") and duplicates.alike(b"", b""), "a side without a picture passes"


def test_band_values_one_low_bit_apart_are_compared_too():
    """Four differing bits, one in the low byte of each band: no band is shared, but each band's
    bucket compares values one low bit apart, so the pair is found."""
    value = 0x0123456789ABCDEF
    flipped = value ^ (1 << 3) ^ (1 << 20) ^ (1 << 37) ^ (1 << 50)
    a, b = Copy("a.jpg", "train", b"1", value), Copy("b.jpg", "test", b"2", flipped)
    assert not set(duplicates.bands(value)) & set(duplicates.bands(flipped))
    found = set()
    for key in set(duplicates.buckets(a, near=True)) & set(duplicates.buckets(b, near=True)):
        found |= set(duplicates.compare_bucket(key, [a, b]).pairs)
    assert found == {("a.jpg", "train", "b.jpg", "test", 4)}


def test_band_values_two_low_bits_apart_are_compared_too():
    """Eight differing bits, two in the low byte of each band: still compared in each band's bucket."""
    value = 0x0123456789ABCDEF
    flipped = value
    for bit in (1, 6, 16, 23, 34, 39, 48, 55):
        flipped ^= 1 << bit
    a, b = Copy("a.jpg", "train", b"1", value), Copy("b.jpg", "test", b"2", flipped)
    found = set()
    for key in set(duplicates.buckets(a, near=True)) & set(duplicates.buckets(b, near=True)):
        found |= set(duplicates.compare_bucket(key, [a, b]).pairs)
    assert found == {("a.jpg", "train", "b.jpg", "test", 8)}



@pytest.mark.parametrize("bits, found", [((0, 5, 9, 13, 18, 22, 27, 31, 41, 48, 51, 54), True),
                                         ((8, 24, 40, 56), False)])
def test_a_bucket_compares_every_two_of_its_images(bits, found, monkeypatch):
    """A bucket (a band's high byte, below a million images) compares every two of its images: 12 bits
    apart, the same in band 3's high byte only, they are found; one bit apart in each high byte, they
    share no bucket. Past MAX_COMPARED images a bucket compares only band values up to 2 low bits apart
    (band 3's low bytes are 3 apart)."""
    value = 0x0123456789ABCDEF
    other = value
    for bit in bits:
        other ^= 1 << bit
    a, b = Copy("a.jpg", "train", b"1", value), Copy("b.jpg", "test", b"2", other)

    def search() -> set:
        found = set()
        for key in set(duplicates.buckets(a, near=True)) & set(duplicates.buckets(b, near=True)):
            found |= set(duplicates.compare_bucket(key, [a, b]).pairs)
        return found

    assert search() == ({("a.jpg", "train", "b.jpg", "test", len(bits))} if found else set())
    monkeypatch.setattr(duplicates, "MAX_COMPARED", 1)
    assert search() == set(), "beyond the band values compared in a bucket past MAX_COMPARED"


def test_hash_distances_without_numpys_bitwise_count(monkeypatch):
    """numpy before 2.0 (the TensorFlow 2.15 environment) has no bitwise_count: a byte table counts."""
    import numpy as np

    words = np.array([0, 1, 0xFFFF_FFFF_FFFF_FFFF, 0x0123_4567_89AB_CDEF], np.uint64)
    expected = [bin(int(w)).count("1") for w in words]
    assert duplicates._popcount(words).tolist() == expected
    monkeypatch.delattr(np, "bitwise_count")
    assert duplicates._popcount(words).tolist() == expected
    assert duplicates._popcount(words[:, None] ^ words[None, :]).shape == (4, 4)


def test_leaks_say_what_the_dataset_still_holds_across_splits():
    summary = duplicates.summarize([[Copy("a.jpg", "train", b"d"), Copy("b.jpg", "test", b"d")]], None, dropped=1,
                                   dedupe=True)
    assert duplicates.leaks(summary) == {"exact": duplicates.Leak(1, 0)} and duplicates.leaks(summary)["exact"].dropped
    kept = duplicates.summarize([[Copy("a.jpg", "train", b"d"), Copy("b.jpg", "test", b"d")]], None)
    assert duplicates.leaks(kept) == {"exact": duplicates.Leak(1, 1)} and not duplicates.leaks(kept)["exact"].dropped
    older = {"exact": {"groups_across_splits": 2, "dropped_by_dedupe": 0},  # stats written before the field
             "near": {"groups_across_splits": 3, "dropped_by_dedupe_near": 4}}
    assert duplicates.leaks(older) == {"exact": duplicates.Leak(2, 2), "near": duplicates.Leak(3, 0)}
    assert duplicates.leaks({}) == {}
