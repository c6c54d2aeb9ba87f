"""`prep images --update`: the next version of a dataset holds exactly what a first run over the same
SRC would hold, converting only what changed, sharing the shards that did not, and every version
before it stays readable as it was."""

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
from tests.conftest import image_bytes, write_image
from tests.update_checks import (
    assert_all_shared,
    assert_first_of_two_updates_wins,
    assert_nothing_changed,
    parsed_records,
    shard_bytes,
    shard_files,
)

SPLIT = "train=0.5,test=0.5"
FLAGS = ("--split", SPLIT, "--num-shards", "2", "--workers", "1")


def _src(root: Path) -> Path:
    src = root / "src"
    for i in range(10):
        write_image(src / ("cat" if i % 2 else "dog") / f"{i}.jpg", size=(24 + i, 20), color=(25 * i, 90, 40))
    write_image(src / "dog" / "p.png", fmt="PNG", size=(18, 18), color=(0, 0, 200))
    return src


def records(out: Path, version: int | None = None) -> dict[str, tuple]:
    """Every record of the version, by name: (split, image bytes, label id, label name), parsed by TensorFlow."""
    return {name: (f["split"], f["image"][0], f["label"][0], f["label/name"][0].decode())
            for name, f in all_features(out, version).items()}


def _path_in(split: str, folder: str, stem: str) -> str:
    """A file name under `folder` that --split SPLIT puts in `split`."""
    fractions = SplitFractions((("train", 0.5), ("test", 0.5)))
    return next(f"{folder}/{stem}{i}.jpg" for i in range(1000) if fractions.assign(f"{folder}/{stem}{i}.jpg") == split)


@pytest.fixture
def first(tmp_path, prep_cli):
    src, out = _src(tmp_path), tmp_path / "out"
    made = prep_cli("images", src, out, *FLAGS)
    assert made.exit_code == 0, made.err
    return src, out


def test_an_update_holds_what_a_first_run_over_the_same_files_holds(first, tmp_path, prep_cli):
    src, out = first
    before, v1_shards = records(out), shard_files(out)
    write_image(src / "cat" / "new0.jpg", size=(40, 30), color=(1, 2, 3))
    write_image(src / "dog" / "new1.jpg", size=(41, 30), color=(3, 2, 1))
    (src / "cat" / "1.jpg").write_bytes(image_bytes(size=(50, 20), color=(200, 200, 0)))  # changed content
    (src / "dog" / "2.jpg").rename(src / "cat" / "2.jpg")  # relabelled: moved to another class folder
    (src / "cat" / "3.jpg").unlink()

    # two worker processes: the records of rewritten shards wait in spill files, as on every local run
    updated = prep_cli("images", src, out, "--update", "--workers", "2")
    assert updated.exit_code == 0, updated.err
    assert "version 2 of" in updated.out
    assert "3 added, 1 replaced, 2 removed, 8 unchanged" in updated.out, updated.out

    scratch = tmp_path / "scratch"
    assert prep_cli("images", src, scratch, *FLAGS).exit_code == 0
    # Record for record what a first run makes (shard boundaries and shard names may differ: an update
    # writes its records into shards of its own, and shares untouched shards with the version before).
    assert records(out) == records(scratch)
    assert prep_cli("verify", out).exit_code == 0
    # version 1 is still there, exactly as it was, for readers that pin it
    assert records(out, version=1) == before
    assert shard_files(out, version=1) == v1_shards
    assert all(f.startswith("v2/") or f in v1_shards for f in shard_files(out))
    stats = json.loads((out / "stats.json").read_text())
    assert stats["inputs"] == stats["records"] + stats["rejected"] == 12
    assert_same_stats(out, scratch)


def assert_same_stats(out: Path, scratch: Path) -> None:
    """stats.json of an update counts what a first run's counts: records, splits, classes, image facts
    (the held records' from their inventories), duplicates."""
    updated, first = (json.loads((d / "stats.json").read_text()) for d in (out, scratch))
    for key in ("inputs", "records", "rejected", "rejected_by_reason", "splits", "images", "duplicates"):
        assert updated.get(key) == first.get(key), key


def test_unchanged_inputs_are_not_decoded_again_and_their_shards_are_shared(first, prep_cli, monkeypatch):
    import beam_jobs.images

    src, out = first
    write_image(src / "cat" / "extra.jpg", size=(33, 21), color=(9, 9, 9))
    decoded = []
    real = beam_jobs.images.normalise_image
    # one local worker runs the job in this process: count the images it decodes (each still decoded for real)
    monkeypatch.setattr(beam_jobs.images, "normalise_image", lambda data, *a, **k: decoded.append(1) or real(data, *a, **k))
    untouched = shard_bytes(out)
    assert prep_cli("images", src, out, "--update", "--workers", "1").exit_code == 0
    assert len(decoded) == 1, "only the new image is decoded"
    assert_all_shared(out, untouched, "adding one image rewrites no shard: it goes into a new one")
    assert len(records(out)) == 12


def test_a_file_whose_size_and_time_are_unchanged_is_not_read_again(tmp_path, prep_cli, monkeypatch):
    import beam_jobs.update

    src, out = _src(tmp_path), tmp_path / "out"
    an_hour_ago = time.time() - 3600
    for path in src.rglob("*.*"):
        os.utime(path, (an_hour_ago, an_hour_ago))
    assert prep_cli("images", src, out, *FLAGS).exit_code == 0
    os.utime(src / "cat" / "1.jpg")  # touched: a new modification time, the same bytes
    write_image(src / "cat" / "new.jpg", size=(33, 21), color=(9, 9, 9))
    reads = []
    real = beam_jobs.update.read_file
    # one local worker runs the job in this process: see which inputs the comparison reads
    monkeypatch.setattr(beam_jobs.update, "read_file", lambda path: reads.append(path) or real(path))
    updated = prep_cli("images", src, out, "--update", "--workers", "1")
    assert updated.exit_code == 0, updated.err
    assert "1 added, 0 replaced, 0 removed, 11 unchanged" in updated.out, updated.out
    assert [os.path.relpath(p, src) for p in reads if p.startswith(str(src))] == ["cat/1.jpg"], \
        "only the touched file is read again, and its digest keeps its record"


def test_a_new_class_gets_the_next_id_and_a_vanished_class_keeps_its_own(first, prep_cli):
    src, out = first
    ids = {name: (label, label_name) for name, (_, _, label, label_name) in records(out).items()}
    write_image(src / "ant" / "a.jpg", size=(30, 30), color=(5, 50, 5))  # sorts before cat and dog
    shutil.rmtree(src / "dog")
    updated = prep_cli("images", src, out, "--update", "--workers", "1")
    assert updated.exit_code == 0, updated.err
    assert "new classes, numbered after the dataset's: ant" in updated.out
    assert (out / "vocab" / "labels.txt").read_text().splitlines() == ["cat", "dog", "ant"]
    now = records(out)
    assert now["ant/a.jpg"][2:] == (2, "ant")
    assert all(now[name][2:] == ids[name] for name in now if name in ids)
    assert not any(label_name == "dog" for *_, label_name in now.values())


def test_an_update_that_finds_nothing_to_do_changes_nothing(first, prep_cli):
    src, out = first
    schema = (out / "schema.json").read_bytes()
    assert_nothing_changed(prep_cli("images", src, out, "--update", "--workers", "1"), out, schema)


def test_a_class_folder_that_cannot_be_read_is_one_line_and_the_dataset_stays_as_it_was(first, tmp_path, prep_cli,
                                                                                         monkeypatch):
    """An update would take its images for removed; a first run would leave them out unseen."""
    from tests.beam_jobs.test_matching import _unreadable

    src, out = first
    schema, before = (out / "schema.json").read_bytes(), records(out)
    _unreadable(monkeypatch, src / "cat")  # the job runs in this process (--workers 1): it sees the patch
    for args in ((out, "--update"), (tmp_path / "fresh", *FLAGS)):
        failed = prep_cli("images", src, *args, "--workers", "1")
        assert failed.exit_code == 2 and "cat cannot be read (Permission denied)" in failed.err, failed.err
        assert len(failed.err.strip().splitlines()) == 1
    assert (out / "schema.json").read_bytes() == schema and records(out) == before


def test_a_new_test_image_that_copies_an_old_training_image_is_leakage(first, prep_cli):
    src, out = first
    train = next(name for name, (split, *_) in records(out).items() if split == "train")
    copy = _path_in("test", "cat", "copy")
    shutil.copy(src / train, src / copy)
    updated = prep_cli("images", src, out, "--update", "--workers", "1")
    assert updated.exit_code == 0, updated.err
    assert "leakage: 1 group of exact copies spans splits" in updated.out
    exact = json.loads((out / "stats.json").read_text())["duplicates"]["exact"]
    assert exact["groups_across_splits"] == 1
    assert sorted(exact["examples"][0]["paths"]) == sorted([train, copy])


def test_dedupe_applies_across_versions_and_drops_a_held_copy(tmp_path, prep_cli):
    src, out = _src(tmp_path), tmp_path / "out"
    assert prep_cli("images", src, out, *FLAGS, "--dedupe").exit_code == 0
    test_image = next(name for name, (split, *_) in records(out).items() if split == "test")
    # a new training image that copies an old test image: the copy kept is the training one, so the held
    # test record goes and its shard is no longer shared (written again without it, or gone if empty)
    copy = _path_in("train", "cat", "copy")
    shutil.copy(src / test_image, src / copy)
    v1_shards = shard_files(out)
    updated = prep_cli("images", src, out, "--update", "--workers", "2")
    assert updated.exit_code == 0, updated.err
    now = records(out)
    assert test_image not in now and copy in now
    assert len(set(v1_shards) - set(shard_files(out))) == 1, "only the shard that held the dropped copy changes"
    scratch = tmp_path / "scratch"
    assert prep_cli("images", src, scratch, *FLAGS, "--dedupe").exit_code == 0
    assert now == records(scratch)
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert [(r["path"], r["reason"]) for r in rejected] == [(test_image, "duplicate")]
    assert_same_stats(out, scratch)
    assert prep_cli("verify", out).exit_code == 0


def test_a_reader_pinned_to_version_1_reads_it_after_version_3_and_fails_clearly_once_it_is_removed(
        first, tmp_path, prep_cli):
    from readers import make_input_fn
    from schemas import SchemaError

    src, out = first
    v1 = records(out)
    module = tmp_path / "v1_input.py"
    assert prep_cli("reader", out, "-o", module).exit_code == 0
    for i in range(2):
        write_image(src / "cat" / f"more{i}.jpg", size=(30, 22 + i), color=(7, 70 * i, 7))
        assert prep_cli("images", src, out, "--update", "--workers", "1").exit_code == 0
    assert json.loads((out / "schema.json").read_text())["version"] == 3

    def names(input_fn):
        return sorted(n.decode() for features, _ in input_fn() for n in features["image/filename"].numpy())

    pinned = make_input_fn(out, "train", batch_size=64, mode="eval", image_size=(8, 8), version=1)
    assert names(pinned) == sorted(n for n, (split, *_) in v1.items() if split == "train")
    assert len(names(make_input_fn(out, "train", batch_size=64, mode="eval", image_size=(8, 8)))) > len(names(pinned))
    listed = prep_cli("versions", out)
    assert [line.split(":")[0] for line in listed.out.splitlines()] == ["version 1", "version 2", "version 3"]
    assert all("1 added, 0 replaced, 0 removed" in line for line in listed.out.splitlines()[1:])

    removed = prep_cli("versions", out, "--keep", "1")
    assert removed.exit_code == 0 and "removed 2 versions (1, 2)" in removed.out
    with pytest.raises(SchemaError, match="version 1 of .* is no longer kept"):
        make_input_fn(out, "train", version=1)
    assert prep_cli("verify", out).exit_code == 0
    assert names(make_input_fn(out, "train", batch_size=64, mode="eval", image_size=(8, 8)))
    # the module generated from version 1 never reads a mixture: its shards are gone, and it says so
    spec = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import v1_input; "
                           "v1_input.make_input_fn('train')"], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if any(f not in shard_files(out) for f in shard_files_of_module(module)):
        assert spec.returncode != 0 and "version 1 of the dataset was removed" in spec.stderr


def shard_files_of_module(module: Path) -> list[str]:
    namespace: dict = {}
    text = module.read_text()
    exec(text[text.index("SPLITS = "):text.index("# How each feature")], namespace)  # noqa: S102 - our own output
    return [file for shards in namespace["SPLITS"].values() for file, _ in shards]


def test_prep_diff_counts_the_changes_and_measures_drift(first, prep_cli):
    src, out = first
    for i in range(6):
        write_image(src / "cat" / f"d{i}.jpg", size=(30, 30), color=(i, 0, 0))
    assert prep_cli("images", src, out, "--update", "--workers", "1").exit_code == 0
    shown = prep_cli("diff", out, "--json")
    assert shown.exit_code == 0, shown.err
    found = json.loads(shown.out)
    assert found["records"]["added"] == 6 and found["records"]["removed"] == 0
    assert found["from"]["version"] == 1 and found["to"]["version"] == 2
    assert found["drift"]["classes"]["counts"]["cat"]["change"] == 6
    refused = prep_cli("diff", out, "--max-class-drift", "0.05")
    assert refused.exit_code == 1 and "over --max-class-drift 0.05" in refused.err
    page = out.parent / "report.html"
    assert prep_cli("report", out, "-o", page).exit_code == 0
    html = page.read_text()
    assert "Version 2: what changed since version 1" in html and "6 records added, 0 replaced, 0 removed" in html


def test_prep_diff_compares_two_datasets(first, tmp_path, prep_cli):
    src, out = first
    other_src = tmp_path / "other"
    shutil.copytree(src, other_src)
    (other_src / "cat" / "1.jpg").unlink()
    write_image(other_src / "dog" / "extra.jpg", size=(35, 25), color=(5, 5, 5))
    other = tmp_path / "other_out"
    assert prep_cli("images", other_src, other, *FLAGS).exit_code == 0
    shown = prep_cli("diff", out, other, "--json")
    assert shown.exit_code == 0, shown.err
    records = json.loads(shown.out)["records"]
    assert (records["added"], records["replaced"], records["removed"], records["unchanged"]) == (1, 0, 1, 10)


@pytest.mark.parametrize("args, message", [
    (("--update", "--resize", "8x8"), "drop --resize"),
    (("--update", "--overwrite"), "give one"),
])
def test_update_refuses_options_that_would_change_how_records_are_made(first, prep_cli, args, message):
    src, out = first
    result = prep_cli("images", src, out, *args)
    assert result.exit_code == 2 and message in result.err and "Traceback" not in result.err


def test_update_of_a_folder_with_no_dataset_is_one_line(tmp_path, prep_cli):
    src = _src(tmp_path)
    result = prep_cli("images", src, tmp_path / "none", "--update")
    assert result.exit_code == 2 and "--update grows a dataset" in result.err


@pytest.mark.parametrize("kill_after", [1.0, 3.0, 5.0])
def test_a_killed_update_leaves_a_readable_dataset_and_a_rerun_completes_it(first, prep_cli, kill_after):
    src, out = first
    for i in range(40):
        write_image(src / ("cat" if i % 2 else "dog") / f"k{i}.png", fmt="PNG", size=(64, 64), color=(i, 9, 9))
    job = subprocess.Popen([sys.executable, "-m", "prep.cli.main", "images", str(src), str(out), "--update", "--workers",
                            "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                           env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    time.sleep(kill_after)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert prep_cli("verify", out).exit_code == 0, "the current version, whichever it is, is whole"
    finished = prep_cli("images", src, out, "--update", "--workers", "1")
    assert finished.exit_code == 0, finished.err
    assert len(records(out)) == 51
    assert prep_cli("verify", out).exit_code == 0
    assert not list(out.rglob("*.tmp*")), "nothing a killed update left survives its rerun"
    listed = {f for version in (1, 2) for f in shard_files(out, version)}
    assert {str(p.relative_to(out)) for p in out.rglob("*.tfrecord")} == listed, "no shard no version lists"


def all_features(out: Path, version: int | None = None) -> dict[str, dict]:
    """Every record of the version by its image, all its features as TensorFlow parses them (a
    detection record's boxes, classes, areas...), with the shard it sits in left out."""
    found = parsed_records(out, version, lambda values: values["image/filename"][0].decode())
    return {name: {"split": split} | values for name, (split, values) in found.items()}


def test_a_manifest_update_takes_new_rows_changed_labels_and_removed_rows(tmp_path, prep_cli):
    src = tmp_path / "images"
    rows = [(f"img{i}.jpg", "cat" if i % 2 else "dog") for i in range(8)]
    for name, _ in rows:
        write_image(src / name, size=(30 + len(name), 20), color=(10 * len(name), 40, 0))
    manifest = tmp_path / "labels.csv"

    def write_manifest(rows):
        manifest.write_text("path,label\n" + "".join(f"{name},{label}\n" for name, label in rows))

    write_manifest(rows)
    out = tmp_path / "out"
    assert prep_cli("images", "--manifest", manifest, src, out, "--split", SPLIT, "--workers", "1").exit_code == 0
    write_image(src / "new.jpg", size=(44, 20), color=(1, 1, 1))
    rows = [(n, "bird" if n == "img2.jpg" else label) for n, label in rows if n != "img5.jpg"] + [("new.jpg", "cat")]
    write_manifest(rows)
    updated = prep_cli("images", src, out, "--update", "--workers", "1")
    assert updated.exit_code == 0, updated.err
    assert "1 added, 1 replaced, 1 removed, 6 unchanged" in updated.out, updated.out
    scratch = tmp_path / "scratch"
    assert prep_cli("images", "--manifest", manifest, src, scratch, "--split", SPLIT, "--workers", "1").exit_code == 0
    # bird is new: the update numbers it after cat and dog, a first run by name (bird, cat, dog)
    names = {n: (split, image, name) for n, (split, image, _, name) in records(out).items()}
    assert names == {n: (split, image, name) for n, (split, image, _, name) in records(scratch).items()}
    assert (out / "vocab" / "labels.txt").read_text().splitlines() == ["cat", "dog", "bird"]
    # this week's rows in a file of another name: the update names it; its records are all kept, and the
    # version records the file it was made from
    moved = tmp_path / "labels_week2.csv"
    manifest.rename(moved)
    again = prep_cli("images", src, out, "--update", "--manifest", moved, "--workers", "1")
    assert again.exit_code == 0 and "0 added, 0 replaced, 0 removed, 8 unchanged" in again.out, again.err
    assert json.loads((out / "stats.json").read_text())["manifest"]["file"] == str(moved)
    wrong = prep_cli("images", src, out, "--update", "--coco", moved)
    assert wrong.exit_code == 2 and "made with --manifest" in wrong.err


def test_a_coco_update_replaces_an_image_whose_boxes_changed(tmp_path, prep_cli):
    src = tmp_path / "images"
    coco = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "car"}]}
    for i in range(6):
        write_image(src / f"{i}.jpg", size=(80, 60), color=(30 * i, 10, 10))
        coco["images"].append({"id": i + 1, "file_name": f"{i}.jpg", "width": 80, "height": 60})
        coco["annotations"].append({"id": i, "image_id": i + 1, "category_id": 1 + i % 2, "bbox": [5, 5, 30, 20],
                                    "area": 600.0, "iscrowd": 0})
    instances = tmp_path / "instances.json"
    instances.write_text(json.dumps(coco))
    out = tmp_path / "out"
    assert prep_cli("images", "--coco", instances, src, out, "--workers", "1").exit_code == 0
    coco["annotations"][0]["bbox"] = [10, 10, 40, 30]  # image 0.jpg: its box moved
    coco["annotations"].append({"id": 99, "image_id": 3, "category_id": 1, "bbox": [1, 1, 9, 9], "area": 81.0,
                                "iscrowd": 0})  # image 2.jpg: one more object
    write_image(src / "6.jpg", size=(80, 60), color=(0, 200, 0))
    coco["images"].append({"id": 7, "file_name": "6.jpg", "width": 80, "height": 60})
    coco["annotations"].append({"id": 7, "image_id": 7, "category_id": 2, "bbox": [2, 2, 20, 20], "area": 400.0,
                                "iscrowd": 0})
    instances.write_text(json.dumps(coco))
    updated = prep_cli("images", src, out, "--update", "--workers", "1")
    assert updated.exit_code == 0, updated.err
    assert "1 added, 2 replaced, 0 removed, 4 unchanged" in updated.out, updated.out
    scratch = tmp_path / "scratch"
    assert prep_cli("images", "--coco", instances, src, scratch, "--workers", "1").exit_code == 0
    assert all_features(out) == all_features(scratch)


def test_updates_run_on_a_bucket_and_of_two_started_together_one_commits():
    """On a filesystem that is not local (a bucket: nothing holds OUT), an update reads and writes
    through Beam's FileSystems only, and of two updates started from one version the first to commit
    wins; the other fails in one line and leaves the dataset as the winner made it."""
    from beam_jobs.images import ConvertImageFolder
    from prep.images.options import ImageJobOptions
    from prep.images.update import update_options
    from prep.jobs.launch import run_pipeline
    from prep.jobs.options import ShardingOptions
    from prep.jobs.runner import RunnerOptions
    from tests.memfs import MEM_SCHEME, MemFileSystem

    root = f"{MEM_SCHEME}://bucket"
    files = MemFileSystem.files
    files.clear()
    try:
        for i in range(6):
            files[f"{root}/src/{'cat' if i % 2 else 'dog'}/{i}.jpg"] = image_bytes(size=(20 + i, 12), color=(9 * i, 0, 0))
        first = ImageJobOptions(src=f"{root}/src", out=f"{root}/out", sharding=ShardingOptions(num_shards=2))
        run = RunnerOptions(workers=1)
        run_pipeline(lambda p: p | "ConvertImageFolder" >> ConvertImageFolder(first), run)
        files[f"{root}/src/cat/new.jpg"] = image_bytes(size=(31, 12), color=(0, 99, 0))
        del files[f"{root}/src/dog/0.jpg"]
        both = [update_options(f"{root}/src", f"{root}/out", when, False) for when in ("09:00", "09:01")]
        assert_first_of_two_updates_wins(ConvertImageFolder, both, f"{root}/out", files, records=6)
    finally:
        files.clear()
