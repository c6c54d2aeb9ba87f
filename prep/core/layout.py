"""Where a file sits in SRC, and what that says: its class, and its split when SRC is split by folders.

SRC is the layout `tf.keras.utils.image_dataset_from_directory` reads (SRC/<class>/.../file), or TFDS's
ImageFolder layout (SRC/<split>/<class>/.../file) when every top-level folder is a split name.
The same pure functions decide this on the launching machine (checks before the job) and in the job
(from the matched paths), so both always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from prep.core.splits import SPLIT_FOLDERS

# Why a file has no place in the dataset, for rejected.jsonl.
PROBLEMS = {
    "not_in_class_folder": "the file is not inside a class folder (SRC/<class>/...)",
    "class_not_in_labels": "its class folder is not in the --labels list",
    "bad_class_name": "its class folder name has a line break, which cannot be a line of vocab/labels.txt",
}

# OS junk and hidden files: never images, skipped by default and counted as such.
JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", "Icon\r", ".directory"})


@dataclass(frozen=True)
class Layout:
    """`split_folders`: SRC's top level is split folders; `classes`: sorted class names (label id order)."""

    split_folders: bool
    classes: tuple[str, ...]
    splits: tuple[str, ...] = ()  # the split folders present, when split_folders


@dataclass(frozen=True)
class Location:
    """Where one file belongs; `problem` is set (a rejection reason) when it belongs nowhere."""

    split: str | None
    class_name: str | None
    problem: str | None = None


def relative_path(path: str, root: str) -> str:
    """`path` relative to `root`, with '/' separators (also for gs:// paths)."""
    root = root.rstrip("/") + "/"
    if not path.startswith(root):
        raise ValueError(f"{path} is not under {root}")
    return path[len(root):]


def source_path(relative: str, root: str) -> str:
    """The path under `root` that `relative_path` made `relative` of."""
    return root.rstrip("/") + "/" + relative


def is_hidden(relative: str) -> bool:
    """Dot-files, files inside dot-folders, and OS junk (.DS_Store, Thumbs.db, ...)."""
    parts = relative.split("/")
    return any(p.startswith(".") for p in parts) or parts[-1] in JUNK_NAMES


def folder_pair(relative: str) -> tuple[str, str] | None:
    """The first two folder names of a file's path (the second may be ''), or None for a top-level file."""
    parts = relative.split("/")
    if len(parts) < 2:
        return None
    return parts[0], parts[1] if len(parts) > 2 else ""


def detect_layout(pairs: Iterable[tuple[str, str]], labels: tuple[str, ...] | None = None,
                  known: tuple[str, ...] = ()) -> Layout:
    """The layout of SRC from the (first, second) folder names of its files.

    `labels`, when given (from --labels), fixes the class list and its order. `known`: the classes of
    the dataset an update adds to, which keep their ids (first, in their order; new classes follow,
    sorted), present in SRC or not.
    """
    pairs = set(pairs)
    top = {first for first, _ in pairs}
    split_folders = bool(top) and top <= set(SPLIT_FOLDERS)
    splits = tuple(name for name in SPLIT_FOLDERS if name in top) if split_folders else ()
    if labels is not None:
        return Layout(split_folders, tuple(labels), splits)
    classes = {second for _, second in pairs if second} if split_folders else top
    return Layout(split_folders, extend_classes(known, sorted(classes)), splits)


def folder_layout(tops: Iterable[str], classes: tuple[str, ...] = ()) -> Layout:
    """The layout of a SRC whose folders name no classes (a segmentation dataset's: its masks hold the
    classes) from the top-level folder of each of its files ('' for a file at the top): split folders
    when every file sits in one."""
    tops = set(tops)
    split_folders = bool(tops) and tops <= set(SPLIT_FOLDERS)
    return Layout(split_folders, tuple(classes), tuple(n for n in SPLIT_FOLDERS if n in tops) if split_folders else ())


def top_folder(relative: str) -> str:
    """The top-level folder of a file's path relative to SRC, '' for a file at the top."""
    head, sep, _ = relative.partition("/")
    return head if sep else ""


def extend_classes(known: tuple[str, ...], names) -> tuple[str, ...]:
    """The class list of a dataset whose `known` classes keep their ids (first, in their order), with
    each of `names`, in the order given, that it lacks and that can be a class name after them."""
    return tuple(known) + tuple(n for n in names if usable_class_name(n) and n not in known)


def usable_class_name(name: str) -> bool:
    """A class name must fit on one line of vocab/labels.txt."""
    return bool(name) and "\n" not in name and "\r" not in name


def locate(relative: str, layout: Layout) -> Location:
    """The split (None: assign by hash) and class of one file, or why it has none."""
    parts = relative.split("/")
    if layout.split_folders:
        if len(parts) < 3:
            return Location(None, None, "not_in_class_folder")
        split, class_name = parts[0], parts[1]
    else:
        if len(parts) < 2:
            return Location(None, None, "not_in_class_folder")
        split, class_name = None, parts[0]
    if not usable_class_name(class_name):
        return Location(split, class_name, "bad_class_name")
    if class_name not in layout.classes:
        return Location(split, class_name, "class_not_in_labels")
    return Location(split, class_name)
