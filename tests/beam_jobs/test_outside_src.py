"""The rows of a manifest or an annotation file (COCO, VOC, boxes CSV) name files inside SRC (a
manifest: or inside its own folder): a row that names a file elsewhere, by an absolute path, by
`../` or in another bucket, is rejected as `outside_src` and the file is never opened, unless
--allow-outside-src says so. Links under SRC keep the class folders' rule. Real Beam jobs, checked by
their rejected.jsonl and by the bytes of their shards."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import image_bytes, write_image

SIZE = (32, 24)  # every image's: an annotation's claimed size fits it, so a file read by mistake would be kept


def _secret(tmp_path: Path, name: str = "secret.png") -> Path:
    """A picture of the user's, outside every SRC of these tests, as distinctive bytes."""
    return write_image(tmp_path / "private" / name, fmt="PNG", size=SIZE, color=(7, 77, 177))


def _rejected(out: Path) -> list[dict]:
    """rejected.jsonl's rows, by line."""
    rows = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    return sorted(rows, key=lambda r: r["line"] or 0)


def _shards(out: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(out.glob("*.tfrecord*")))


def _stats(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text())


def _manifest_csv(tmp_path: Path, secret: Path):
    src = tmp_path / "data" / "src"
    write_image(src / "a.jpg", size=SIZE)
    (src / "labels.csv").write_text(f"path,label\na.jpg,cat\n{secret},dog\n../../private/{secret.name},dog\n")
    return ["--manifest", src / "labels.csv", src], "labels.csv", (3, 4)


def _manifest_jsonl(tmp_path: Path, secret: Path):
    src = tmp_path / "data" / "src"
    write_image(src / "a.jpg", size=SIZE)
    rows = [{"image": "a.jpg", "label": "cat"}, {"image": str(secret), "label": "dog"},
            {"image": f"../../private/{secret.name}", "label": "dog"}]
    (src / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return ["--manifest", src / "labels.jsonl", src], "labels.jsonl", (2, 3)


def _coco_images(names: list[str]) -> list[dict]:
    return [{"id": i, "file_name": n, "width": SIZE[0], "height": SIZE[1]} for i, n in enumerate(names, 1)]


def _coco(tmp_path: Path, secret: Path):
    src = tmp_path / "data" / "train2017"  # the instances file beside it, as COCO's annotations/ is
    write_image(src / "a.jpg", size=SIZE)
    names = ["a.jpg", str(secret), f"../private/{secret.name}"]
    instances = {"images": _coco_images(names),
                 "annotations": [{"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 8, 8]} for i in (1, 2, 3)],
                 "categories": [{"id": 1, "name": "thing"}]}
    (tmp_path / "data" / "instances.json").write_text(json.dumps(instances))
    return ["--coco", tmp_path / "data" / "instances.json", src], "instances.json", (2, 3)


def _boxes(tmp_path: Path, secret: Path):
    src = tmp_path / "data" / "images"
    write_image(src / "a.jpg", size=SIZE)
    rows = ["filename,width,height,class,xmin,ymin,xmax,ymax"] + [
        f"{name},{SIZE[0]},{SIZE[1]},thing,1,1,9,9" for name in ("a.jpg", secret, f"../private/{secret.name}")]
    (tmp_path / "data" / "boxes.csv").write_text("\n".join(rows) + "\n")
    return ["--boxes", tmp_path / "data" / "boxes.csv", src], "boxes.csv", (3, 4)


def _voc_xml(filename: str) -> str:
    box = "<bndbox><xmin>2</xmin><ymin>2</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>"
    return (f"<annotation><filename>{filename}</filename><size><width>{SIZE[0]}</width><height>{SIZE[1]}</height>"
            f"</size><object><name>thing</name>{box}</object></annotation>")


def _voc(tmp_path: Path, secret: Path):
    """Line 2's XML names the secret by its absolute path; line 3's id leads out of SRC to an XML of its
    own, which names the secret too."""
    src = tmp_path / "data" / "VOC2012"
    write_image(src / "JPEGImages" / "a.jpg", size=SIZE)
    (src / "Annotations").mkdir(parents=True)
    (src / "Annotations" / "a.xml").write_text(_voc_xml("a.jpg"))
    (src / "Annotations" / "abs.xml").write_text(_voc_xml(str(secret)))
    (secret.parent / "evil.xml").write_text(_voc_xml(str(secret)))
    (src / "ImageSets" / "Main").mkdir(parents=True)
    (src / "ImageSets" / "Main" / "train.txt").write_text("a\nabs\n../../../private/evil\n")
    return ["--voc", src, "--voc-split", "ImageSets/Main/train.txt"], "train.txt", (2, 3)


KINDS = {"manifest_csv": _manifest_csv, "manifest_jsonl": _manifest_jsonl, "coco": _coco, "voc": _voc, "boxes": _boxes}


@pytest.mark.parametrize("kind", KINDS)
def test_a_row_naming_a_file_outside_src_is_rejected_and_the_file_never_read(kind, tmp_path, prep_cli):
    """The first row names an image in SRC; the second the user's file by its absolute path, the third by `../`."""
    secret = _secret(tmp_path)
    args, annotation, lines = KINDS[kind](tmp_path, secret)
    out = tmp_path / "out"
    result = prep_cli("images", *args, out, "--workers", "1")
    assert result.exit_code == 0, result.err
    rejected = _rejected(out)
    assert [(r["line"], r["reason"], r["manifest"]) for r in rejected] == [
        (n, "outside_src", annotation) for n in lines]
    assert all("--allow-outside-src" in r["detail"] for r in rejected)
    stats = _stats(out)
    assert (stats["inputs"], stats["records"], stats["rejected"]) == (3, 1, 2)
    shards = _shards(out)
    assert secret.read_bytes() not in shards and str(secret.parent).encode() not in shards


def test_allow_outside_src_reads_them_where_they_are(tmp_path, prep_cli):
    secret, other = _secret(tmp_path), _secret(tmp_path, "other.png")
    src = tmp_path / "data" / "src"
    write_image(src / "a.jpg", size=SIZE)
    (src / "labels.csv").write_text(f"path,label\na.jpg,cat\n{secret},dog\n../../private/{other.name},dog\n")
    out = tmp_path / "out"
    result = prep_cli("images", "--manifest", src / "labels.csv", src, out, "--allow-outside-src", "--workers", "1")
    assert result.exit_code == 0, result.err
    assert _stats(out)["records"] == 3 and _rejected(out) == []
    assert secret.read_bytes() in _shards(out)
    assert str(other).encode() in _shards(out), "a file outside SRC is named by its full path in image/filename"


def test_the_allowance_is_for_rows_only(image_folder, tmp_path, prep_cli):
    result = prep_cli("images", image_folder, tmp_path / "out", "--allow-outside-src")
    assert result.exit_code == 2 and "--allow-outside-src is for the files the rows" in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize("flag, outside", [("--manifest", {4}), ("--coco", {2, 3})])
def test_a_manifests_own_folder_counts_as_inside_an_annotation_files_does_not(tmp_path, prep_cli, flag, outside):
    """data/labels.csv may name data/extra/b.jpg beside SRC (data/src) by its path, as it always could;
    a COCO file there may not: COCO's images are in SRC. Neither may name data/../private/."""
    secret = _secret(tmp_path)
    data, src = tmp_path / "data", tmp_path / "data" / "src"
    write_image(src / "a.jpg", size=SIZE)
    extra = write_image(data / "extra" / "b.jpg", size=SIZE, color=(1, 2, 3))
    if flag == "--manifest":
        (data / "labels.csv").write_text(f"path,label\nsrc/a.jpg,cat\n{extra},cat\n../private/{secret.name},cat\n")
        annotation = data / "labels.csv"
    else:
        names = ["a.jpg", str(extra), f"../private/{secret.name}"]
        instances = {"images": _coco_images(names), "annotations": [], "categories": []}
        (data / "instances.json").write_text(json.dumps(instances))
        annotation = data / "instances.json"
    out = tmp_path / "out"
    result = prep_cli("images", flag, annotation, src, out, "--workers", "1")
    assert result.exit_code == 0, result.err
    assert {r["line"] for r in _rejected(out) if r["reason"] == "outside_src"} == outside
    allowed = flag == "--manifest"
    assert (extra.read_bytes() in _shards(out)) == allowed
    assert secret.read_bytes() not in _shards(out)


def test_a_bucket_row_outside_src_s_prefix_is_rejected(prep_cli):
    from tests.memfs import MEM_SCHEME, MemFileSystem

    root = f"{MEM_SCHEME}://bucket"
    secret = image_bytes(size=SIZE, fmt="PNG", color=(7, 77, 177))
    MemFileSystem.files.clear()
    try:
        MemFileSystem.files[f"{root}/src/a.jpg"] = image_bytes(size=SIZE)
        outside = [f"{MEM_SCHEME}://other/secret.png",  # another bucket
                   f"{root}/src/../private/secret.png",  # out of the prefix by `..`
                   f"{root}/srcx/secret.png"]  # a prefix that only starts like SRC's
        for path in outside:
            MemFileSystem.files[path.replace("/src/../", "/")] = secret
        rows = "".join(f"{path},dog\n" for path in outside)
        MemFileSystem.files[f"{root}/src/labels.csv"] = f"path,label\na.jpg,cat\n{rows}".encode()
        result = prep_cli("images", "--manifest", f"{root}/src/labels.csv", f"{root}/src", f"{root}/out",
                          "--workers", "1")
        assert result.exit_code == 0, result.err
        lines = MemFileSystem.files[f"{root}/out/rejected.jsonl"].decode().splitlines()
        rejected = sorted((json.loads(line) for line in lines), key=lambda r: r["line"])
        assert [(r["line"], r["reason"], r["path"]) for r in rejected] == [
            (n, "outside_src", path) for n, path in enumerate(outside, 3)]
        shards = b"".join(data for path, data in MemFileSystem.files.items() if path.endswith(".tfrecord"))
        assert shards and secret not in shards
        stats = json.loads(MemFileSystem.files[f"{root}/out/stats.json"])
        assert (stats["inputs"], stats["records"], stats["rejected"]) == (4, 1, 3)
    finally:
        MemFileSystem.files.clear()


def test_links_under_src_are_followed_as_in_class_folders_but_never_into_a_folder(tmp_path, prep_cli):
    """A link under SRC is the folder owner's, not the annotation file's: a link to a file is followed
    wherever it leads (a class folder's and a row's alike), a link to a folder is not (SRC's files
    are listed, and listing does not enter linked folders), so a row naming a file through one is
    missing_file."""
    secret = _secret(tmp_path)
    src = tmp_path / "src"
    write_image(src / "cat" / "a.jpg", size=SIZE)
    os.symlink(secret, src / "cat" / "linked.png")
    os.symlink(secret.parent, src / "cat" / "elsewhere")
    folders = tmp_path / "folders"
    assert prep_cli("images", src, folders, "--workers", "1").exit_code == 0
    assert _stats(folders)["records"] == 2 and secret.read_bytes() in _shards(folders)

    (tmp_path / "labels.csv").write_text(f"path,label\ncat/linked.png,cat\ncat/elsewhere/{secret.name},cat\n")
    rows = tmp_path / "rows"
    assert prep_cli("images", "--manifest", tmp_path / "labels.csv", src, rows, "--workers", "1").exit_code == 0
    assert [(r["line"], r["reason"]) for r in _rejected(rows)] == [(3, "missing_file")]
    assert _stats(rows)["records"] == 1 and secret.read_bytes() in _shards(rows)
