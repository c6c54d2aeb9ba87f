"""The listing of SRC fans out over the workers (beam_jobs.matching): one part per folder directly
under SRC, and what it lists is exactly what Beam's own match of SRC/** lists."""

from __future__ import annotations

import os

import apache_beam as beam
import pytest
from apache_beam.io.filesystems import FileSystems
from apache_beam.testing.util import assert_that, equal_to

from beam_jobs.matching import MatchInputs, listed_files, listing_parts, tree_root
from tests.fake_gcs import fake_gcs  # noqa: F401  (a fixture)


def _tree(root):
    for name in ("top.jpg", ".hidden.jpg", "cat/a.jpg", "cat/deep/er/b.png", "dog/c.jpg", "dog/.d.jpg",
                 "odd [1] *?/e.jpg", "train/cat/f.jpg", "empty/.keep"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode() * 3)
    (root / "nothing").mkdir()
    outside = root.parent / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"secret")
    os.symlink(outside, root / "linked")  # a linked folder: Beam's listing does not enter it
    os.symlink(root / "cat" / "a.jpg", root / "link.jpg")  # a linked file: listed, as Beam lists it


def _beam_listing(root) -> set[tuple]:
    return {(m.path, m.size_in_bytes, m.last_updated_in_seconds)
            for m in FileSystems.match([FileSystems.join(str(root), "**")])[0].metadata_list}


def test_a_local_listing_is_one_part_per_folder_and_lists_what_beam_lists(tmp_path):
    root = tmp_path / "src"
    _tree(root)
    parts = listing_parts(str(root))
    folders = sorted(p[1] for p in parts if p[0] == "tree")
    assert folders == sorted(f"{root}/{name}" for name in ("cat", "dog", "odd [1] *?", "train", "empty", "nothing"))
    assert {p[1].path for p in parts if p[0] == "file"} == {f"{root}/top.jpg", f"{root}/.hidden.jpg", f"{root}/link.jpg"}
    listed = {(m.path, m.size_in_bytes, m.last_updated_in_seconds) for part in parts for m in listed_files(part)}
    assert listed == _beam_listing(root)
    assert len(listed) == 10 and not any("secret" in f[0] for f in listed)


def test_match_inputs_in_a_job_lists_every_file_once(tmp_path):
    root = tmp_path / "src"
    _tree(root)
    with beam.Pipeline(runner="FnApiRunner") as pipeline:
        files = pipeline | MatchInputs(str(root), inputs=False)
        assert_that(files, equal_to(sorted(_beam_listing(root))))


def test_a_bucket_listing_is_one_part_per_folder(fake_gcs):  # noqa: F811
    fake_gcs.objects = {f"bkt/{name}": 7 for name in
                        ("src/top.jpg", "src/cat/a.jpg", "src/cat/b/c.jpg", "src/odd[1]/d.jpg", "srcx/e.jpg",
                         "other/f.jpg", "src/")}
    parts = listing_parts("gs://bkt/src")
    assert sorted(p[1] for p in parts if p[0] == "match") == ["gs://bkt/src/cat/**", "gs://bkt/src/odd[[]1]/**"]
    files = [p[1] for p in parts if p[0] == "file"]
    assert [(m.path, m.size_in_bytes) for m in files] == [("gs://bkt/src/top.jpg", 7)]
    assert files[0].last_updated_in_seconds == pytest.approx(1796119200.0)  # 2026-12-01T10:00:00Z


def test_only_a_whole_tree_fans_out():
    assert tree_root("corpus/news/**") == "corpus/news"
    assert tree_root("gs://bkt/corpus/**") == "gs://bkt/corpus"
    for pattern in ("corpus/*.jsonl", "corpus/a.jsonl", "corpus/*/**", "corpus/[ab]/**", "corpus/**/x.txt"):
        assert tree_root(pattern) is None, pattern


def test_a_folder_gone_before_it_is_listed_lists_nothing_as_beams_match_does(tmp_path):
    gone = tmp_path / "gone"
    assert list(listed_files(("tree", str(gone)))) == [] == list(_beam_listing(gone))
    assert listing_parts(str(gone)) == []


def _unreadable(monkeypatch, folder) -> None:
    """os.scandir refuses `folder` as it refuses a folder without read permission (this suite runs as
    root, which chmod cannot stop)."""
    real = os.scandir

    def scandir(path="."):
        if not isinstance(path, int) and os.path.realpath(path) == os.path.realpath(folder):  # not a descriptor
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_a_folder_that_cannot_be_read_is_skipped_by_a_first_run_and_fails_an_update(tmp_path, monkeypatch):
    _tree(tmp_path / "src")
    _unreadable(monkeypatch, tmp_path / "src" / "cat")
    parts = listing_parts(str(tmp_path / "src"), strict=True)
    cat = next(part for part in parts if part == ("tree", str(tmp_path / "src" / "cat")))
    assert list(listed_files(cat)) == []  # a first run skips it, as os.walk does
    with pytest.raises(OSError, match="cat cannot be listed .Permission denied.: an update would take the inputs"):
        list(listed_files(cat, strict=True))
    _unreadable(monkeypatch, tmp_path / "src")
    assert listing_parts(str(tmp_path / "src")) == []
    with pytest.raises(OSError, match="cannot be listed"):
        listing_parts(str(tmp_path / "src"), strict=True)


def test_an_update_s_listing_job_fails_on_a_folder_it_cannot_read(tmp_path, monkeypatch):
    """Below the class folders the launcher looks at, the listing itself refuses (the job runs in this process)."""
    root = tmp_path / "src"
    _tree(root)
    _unreadable(monkeypatch, root / "cat" / "deep")
    with pytest.raises(Exception, match="deep cannot be listed .Permission denied."):
        with beam.Pipeline(runner="FnApiRunner") as pipeline:
            pipeline | MatchInputs(str(root), inputs=False, strict=True)
    with beam.Pipeline(runner="FnApiRunner") as pipeline:  # a first run's listing leaves it out, as os.walk does
        files = pipeline | MatchInputs(str(root), inputs=False)
        assert_that(files, equal_to(sorted(f for f in _beam_listing(root) if "/deep/" not in f[0])))
