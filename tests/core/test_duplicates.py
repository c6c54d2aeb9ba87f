"""Duplicate images: exact copies within and across splits, near copies, and --dedupe."""

from __future__ import annotations

import io
import json

import pytest

from prep.core import duplicates
from prep.core.duplicates import Copy


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
    near = {tuple(e["paths"]) for e in found["near"]["examples"]}
    assert ("a/img05.jpg", "b/recompressed_05.jpg") in near
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
    assert duplicates.near_pairs([a, Copy("b.jpg", "test", b"2", 0b0111)]) == [("a.jpg", "b.jpg", 1)]
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
        found_groups, found_pairs = duplicates.compare_bucket(key, members)
        groups += found_groups
        pairs |= set(found_pairs)
    brute = {tuple(sorted((a.name, b.name))) + (duplicates.hamming(a.fingerprint, b.fingerprint),)
             for i, a in enumerate(copies) for b in copies[i + 1:]
             if duplicates.hamming(a.fingerprint, b.fingerprint) <= 3 and a.digest != b.digest}
    assert brute and brute <= pairs, "pairs up to 3 bits apart always share a band bucket"
    assert all(bits <= duplicates.NEAR_BITS for _, _, bits in pairs)
    assert sorted(sorted(c.name for c in g) for g in groups) == [["000.jpg", "097.jpg", "194.jpg", "291.jpg", "388.jpg"]]
    assert duplicates.buckets(copies[0], near=False) == [("exact", 0)], "text: no bands"


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
    assert [c.name for c in others] == ["a.txt:10", "b.txt:1"]
    assert Copy("whole.txt", "train", b"d").name == "whole.txt", "a file that is one document: its path alone"


def test_without_near_copies_the_summary_has_no_near_section():
    group = [Copy("a.txt", "train", b"d", line=10), Copy("a.txt", "test", b"d", line=9)]
    summary = duplicates.summarize([group], None, dropped=1)
    assert "near" not in summary
    assert summary["exact"]["examples"] == [{"paths": ["a.txt:9", "a.txt:10"], "splits": ["test", "train"]}]
    assert summary["exact"]["groups_across_splits"] == 1 and summary["exact"]["dropped_by_dedupe"] == 1
