"""Tests for prep.core.layout: relative paths, hidden files, and the class/split layout of SRC."""

from __future__ import annotations

import re

import pytest

from prep.core.layout import (
    PROBLEMS,
    Layout,
    Location,
    detect_layout,
    folder_pair,
    is_hidden,
    locate,
    relative_path,
    source_path,
    usable_class_name,
)

CLASSES = Layout(split_folders=False, classes=("cats", "dogs"))
SPLITS = Layout(split_folders=True, classes=("cats", "dogs"), splits=("train", "test"))


def _pairs(relatives: list[str]) -> list[tuple[str, str]]:
    return [pair for r in relatives if (pair := folder_pair(r)) is not None]


@pytest.mark.parametrize(
    ("path", "root", "relative"),
    [
        ("/data/src/cats/1.jpg", "/data/src", "cats/1.jpg"),
        ("/data/src/cats/1.jpg", "/data/src/", "cats/1.jpg"),
        ("/data/src/cats/1.jpg", "/data/src//", "cats/1.jpg"),
        ("/data/src/1.jpg", "/data/src", "1.jpg"),
        ("/data/src/a/b/c/1.jpg", "/data/src", "a/b/c/1.jpg"),
        ("/cats/1.jpg", "/", "cats/1.jpg"),
        ("relative/src/cats/1.jpg", "relative/src", "cats/1.jpg"),
        ("/data/src/chats/été 1.jpg", "/data/src", "chats/été 1.jpg"),
        ("gs://bucket/src/cats/1.jpg", "gs://bucket/src", "cats/1.jpg"),
        ("gs://bucket/src/cats/1.jpg", "gs://bucket/src/", "cats/1.jpg"),
        ("gs://bucket/src/cats/1.jpg", "gs://bucket/src///", "cats/1.jpg"),
        ("gs://bucket/cats/1.jpg", "gs://bucket", "cats/1.jpg"),
        ("gs://bucket/cats/1.jpg", "gs://bucket/", "cats/1.jpg"),
    ],
)
def test_relative_path(path: str, root: str, relative: str) -> None:
    assert relative_path(path, root) == relative
    assert source_path(relative, root) == path  # the shard writer finds a kept image again by it


@pytest.mark.parametrize(
    ("path", "root"),
    [
        ("/data/src2/cats/1.jpg", "/data/src"),
        ("/data/other/cats/1.jpg", "/data/src"),
        ("/data/src", "/data/src"),
        ("gs://bucket/src2/cats/1.jpg", "gs://bucket/src"),
        ("gs://other/src/cats/1.jpg", "gs://bucket/src"),
        ("/bucket/src/cats/1.jpg", "gs://bucket/src"),
    ],
)
def test_relative_path_refuses_a_path_outside_the_root(path: str, root: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{path} is not under ")):
        relative_path(path, root)


@pytest.mark.parametrize(
    ("relative", "hidden"),
    [
        ("cats/1.jpg", False),
        ("cats/sub/1.jpg", False),
        ("cats/a.b.jpg", False),
        ("cats/1.jpg.", False),
        ("cats/.1.jpg", True),
        (".hidden.jpg", True),
        (".git/objects/ab", True),
        ("cats/.thumbnails/1.jpg", True),
        (".cats/1.jpg", True),
        ("cats/.DS_Store", True),
        (".DS_Store", True),
        ("cats/Thumbs.db", True),
        ("Thumbs.db", True),
        ("cats/desktop.ini", True),
        ("cats/Icon\r", True),
        ("cats/Icon", False),
        ("train/cats/.directory", True),
        ("cats/Thumbs.db.jpg", False),
    ],
)
def test_is_hidden(relative: str, hidden: bool) -> None:
    assert is_hidden(relative) is hidden


@pytest.mark.parametrize(
    ("relative", "pair"),
    [
        ("1.jpg", None),
        ("cats/1.jpg", ("cats", "")),
        ("train/cats/1.jpg", ("train", "cats")),
        ("train/cats/sub/deeper/1.jpg", ("train", "cats")),
        ("chats/été/1.jpg", ("chats", "été")),
    ],
)
def test_folder_pair(relative: str, pair: tuple[str, str] | None) -> None:
    assert folder_pair(relative) == pair


@pytest.mark.parametrize(
    ("relatives", "labels", "layout"),
    [
        pytest.param([], None, Layout(False, ()), id="empty"),
        pytest.param(
            ["dogs/1.jpg", "cats/1.jpg", "cats/2.jpg", "cats/sub/3.jpg"],
            None,
            Layout(False, ("cats", "dogs")),
            id="class-folders-sorted",
        ),
        pytest.param(
            ["Zebra/1.jpg", "apple/1.jpg", "Été/1.jpg", "10/1.jpg", "9/1.jpg"],
            None,
            Layout(False, ("10", "9", "Zebra", "apple", "Été")),
            id="class-folders-code-point-order",
        ),
        pytest.param(
            ["train/cats/1.jpg", "train/dogs/1.jpg", "validation/cats/2.jpg", "test/dogs/3.jpg"],
            None,
            Layout(True, ("cats", "dogs"), ("train", "validation", "test")),
            id="split-folders",
        ),
        pytest.param(
            ["test/dogs/3.jpg", "train/cats/1.jpg"],
            None,
            Layout(True, ("cats", "dogs"), ("train", "test")),
            id="subset-of-split-folders-in-canonical-order",
        ),
        pytest.param(
            ["validation/birds/1.jpg"],
            None,
            Layout(True, ("birds",), ("validation",)),
            id="one-split-folder",
        ),
        pytest.param(
            ["train/cats/1.jpg", "train/2.jpg", "test/dogs/sub/3.jpg"],
            None,
            Layout(True, ("cats", "dogs"), ("train", "test")),
            id="split-folders-ignore-loose-files",
        ),
        pytest.param(
            ["train/cats/1.jpg", "cats/1.jpg", "dogs/1.jpg"],
            None,
            Layout(False, ("cats", "dogs", "train")),
            id="mixed-top-level-names-are-classes",
        ),
        pytest.param(
            ["Train/cats/1.jpg", "TEST/dogs/1.jpg"],
            None,
            Layout(False, ("TEST", "Train")),
            id="split-names-are-case-sensitive",
        ),
        pytest.param(
            ["cats/1.jpg", "dogs/1.jpg", "birds/1.jpg"],
            ("dogs", "cats"),
            Layout(False, ("dogs", "cats")),
            id="pinned-labels-keep-their-order",
        ),
        pytest.param(
            ["train/cats/1.jpg", "test/dogs/1.jpg"],
            ("zebra", "dogs", "cats"),
            Layout(True, ("zebra", "dogs", "cats"), ("train", "test")),
            id="pinned-labels-with-split-folders",
        ),
        pytest.param(
            ["cats/1.jpg", "bad\nname/1.jpg", "bad\rname/1.jpg", "dogs/1.jpg"],
            None,
            Layout(False, ("cats", "dogs")),
            id="line-breaks-excluded",
        ),
        pytest.param(
            ["train/cats/1.jpg", "train/a\r\nb/1.jpg"],
            None,
            Layout(True, ("cats",), ("train",)),
            id="line-breaks-excluded-under-split-folders",
        ),
    ],
)
def test_detect_layout(relatives: list[str], labels: tuple[str, ...] | None, layout: Layout) -> None:
    assert detect_layout(_pairs(relatives), labels) == layout
    # A generator of pairs, with repeats, gives the same answer.
    assert detect_layout((p for p in _pairs(relatives) * 2), labels) == layout


@pytest.mark.parametrize(
    ("name", "usable"),
    [("cats", True), ("été", True), ("a b", True), ("", False), ("a\nb", False), ("a\rb", False), ("a\r\n", False)],
)
def test_usable_class_name(name: str, usable: bool) -> None:
    assert usable_class_name(name) is usable


@pytest.mark.parametrize(
    ("relative", "layout", "location"),
    [
        ("cats/1.jpg", CLASSES, Location(None, "cats")),
        ("dogs/sub/deeper/1.jpg", CLASSES, Location(None, "dogs")),
        ("1.jpg", CLASSES, Location(None, None, "not_in_class_folder")),
        ("birds/1.jpg", CLASSES, Location(None, "birds", "class_not_in_labels")),
        ("bad\nname/1.jpg", CLASSES, Location(None, "bad\nname", "bad_class_name")),
        ("bad\rname/1.jpg", CLASSES, Location(None, "bad\rname", "bad_class_name")),
        ("train/cats/1.jpg", SPLITS, Location("train", "cats")),
        ("test/dogs/sub/1.jpg", SPLITS, Location("test", "dogs")),
        ("train/1.jpg", SPLITS, Location(None, None, "not_in_class_folder")),
        ("train", SPLITS, Location(None, None, "not_in_class_folder")),
        ("train/birds/1.jpg", SPLITS, Location("train", "birds", "class_not_in_labels")),
        ("test/x\ny/1.jpg", SPLITS, Location("test", "x\ny", "bad_class_name")),
    ],
)
def test_locate(relative: str, layout: Layout, location: Location) -> None:
    assert locate(relative, layout) == location


@pytest.mark.parametrize("relative", ["1.jpg", "birds/1.jpg", "a\nb/1.jpg", "train/1.jpg", "train/birds/1.jpg"])
@pytest.mark.parametrize("layout", [CLASSES, SPLITS], ids=["classes", "splits"])
def test_every_problem_has_a_reason_a_person_reads(relative: str, layout: Layout) -> None:
    problem = locate(relative, layout).problem
    assert problem is None or (problem in PROBLEMS and PROBLEMS[problem])


def test_each_problem_is_reachable() -> None:
    found = {
        locate(r, layout).problem
        for r in ["1.jpg", "birds/1.jpg", "a\nb/1.jpg", "train/1.jpg"]
        for layout in (CLASSES, SPLITS)
    }
    assert found - {None} == set(PROBLEMS)


@pytest.mark.parametrize(
    "relatives",
    [
        ["cats/1.jpg", "dogs/2.jpg", "loose.jpg", "birds\n/3.jpg", "cats/sub/4.jpg"],
        ["train/cats/1.jpg", "validation/dogs/2.jpg", "train/loose.jpg", "test/a\rb/3.jpg"],
    ],
    ids=["class-folders", "split-folders"],
)
def test_detected_classes_and_locate_agree(relatives: list[str]) -> None:
    layout = detect_layout(_pairs(relatives))
    for relative in relatives:
        where = locate(relative, layout)
        if where.problem is None:
            assert where.class_name in layout.classes
            assert where.split in (layout.splits if layout.split_folders else (None,))
        else:
            assert where.problem in {"not_in_class_folder", "bad_class_name"}


def test_a_backslash_in_a_posix_file_name_is_part_of_the_name() -> None:
    assert relative_path("/data/src/x\\y.jpg", "/data/src") == "x\\y.jpg"
