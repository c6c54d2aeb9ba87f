"""Checks of SRC and OUT before a job starts, so a user's mistake is one clear line, not a failed job.

They look only at folder names near the top of SRC (never every file), and only on local disk: a
bucket's layout is read inside the pipeline instead.
"""

from __future__ import annotations

import os

from prep.core.layout import Layout, detect_layout, usable_class_name
from prep.core.splits import SPLIT_FOLDERS, lookalike


class PreflightError(Exception):
    """A problem with the user's input, said in one line."""


def is_local(path: str) -> bool:
    return "://" not in path


def check_not_nested(src: str, out: str) -> None:
    """OUT inside SRC would feed the output back in; SRC inside OUT would be deleted by --overwrite."""
    if not (is_local(src) and is_local(out)):
        if src.rstrip("/") == out.rstrip("/"):
            raise PreflightError("OUT is the same as SRC: choose another OUT")
        return
    s, o = os.path.realpath(src), os.path.realpath(out)
    if s == o:
        raise PreflightError("OUT is the same folder as SRC: choose another OUT")
    if o.startswith(s + os.sep):
        raise PreflightError("OUT is inside SRC, so the output would be read back as input: choose an OUT outside SRC")
    if s.startswith(o + os.sep):
        raise PreflightError("SRC is inside OUT, which --overwrite would delete: choose an OUT outside SRC")


def check_manifest_source(src: str, out: str) -> None:
    """A manifest job's SRC is a folder (the images its rows name relative to it); OUT may be inside
    it (the job leaves OUT out of SRC's files), but not SRC itself or a folder SRC is in."""
    if src.rstrip("/") == out.rstrip("/"):
        raise PreflightError("OUT is the same as SRC: choose another OUT")
    if not is_local(src):
        return
    if not os.path.isdir(src):
        raise PreflightError(f"SRC {src!r} is not a folder (the folder the manifest's image paths are under)")
    if is_local(out) and os.path.realpath(src).startswith(os.path.realpath(out) + os.sep):
        raise PreflightError("SRC is inside OUT, which --overwrite would delete: choose an OUT outside SRC")


def check_mask_folders(src: str, out: str, masks: str, has_split_fractions: bool) -> None:
    """A segmentation job's SRC is a folder of images in any layout (split folders at its top name
    splits) and MASKS a folder of their masks, which may sit inside SRC but is neither SRC nor in OUT."""
    check_not_nested(src, out)
    if not (is_local(src) and is_local(masks)):
        if masks.rstrip("/") == src.rstrip("/"):
            raise PreflightError("--masks is SRC itself: masks and images need folders of their own")
        return
    for path, name, what in ((src, "SRC", "images"), (masks, "--masks", "masks")):
        if not os.path.isdir(path):
            raise PreflightError(f"{name} {path!r} is not a folder (expected a folder of {what})")
    s, m = os.path.realpath(src), os.path.realpath(masks)
    if s == m or s.startswith(m + os.sep):
        raise PreflightError("--masks is SRC or holds it: masks and images need folders of their own")
    if is_local(out) and (m + os.sep).startswith(os.path.realpath(out) + os.sep):
        raise PreflightError("--masks is inside OUT, which --overwrite would delete: keep the masks elsewhere")
    if not _has_file(masks):
        raise PreflightError(f"--masks {masks!r} has no files")
    top = _subfolders(src)
    if has_split_fractions and top and set(top) <= set(SPLIT_FOLDERS):
        raise PreflightError(f"SRC is already split into folders ({', '.join(sorted(top))}); drop --split, or point SRC at unsplit data")


def _subfolders(path: str) -> list[str]:
    try:
        with os.scandir(path) as entries:
            return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
    except FileNotFoundError:
        raise
    except OSError as e:  # no permission, say: prep would see none of the files in it
        raise PreflightError(f"{path} cannot be read ({e.strerror or e}): make it readable, or move it out of SRC") from None


def _has_file(path: str) -> bool:
    for _, _, files in os.walk(path):
        if any(not f.startswith(".") for f in files):
            return True
    return False


def _check_split_folder_names(top: list[str]) -> None:
    """SRC's top folders are split folders only when every one is named train, validation or test: a
    misspelt one (train/ beside validaton/) would silently make each a class. Refused when some are split
    folders and each other looks like a misspelt one."""
    others = [name for name in top if name not in SPLIT_FOLDERS]
    if len(others) == len(top) or not others:
        return
    meant = {name: lookalike(name, SPLIT_FOLDERS) for name in others}
    if all(meant.values()):
        name = others[0]
        raise PreflightError(f"SRC's folder {name!r} looks like a misspelt split folder {meant[name]!r} (beside "
                             f"{', '.join(n for n in top if n in SPLIT_FOLDERS)}): rename it, or every top folder "
                             "is taken for a class")


def check_image_folder(src: str, labels: tuple[str, ...] | None, has_split_fractions: bool) -> None:
    """SRC is a folder of class folders (or of split folders of class folders), each with files."""
    if not is_local(src):
        return
    if not os.path.exists(src):
        raise PreflightError(f"SRC {src!r} does not exist")
    if not os.path.isdir(src):
        raise PreflightError(f"SRC {src!r} is not a folder (expected SRC/<class>/<image files>)")
    check_class_folders(src, labels, has_split_fractions, "SRC/<class>/<image files>", "images")


def check_class_folders(src: str, labels: tuple[str, ...] | None, has_split_fractions: bool, expected: str,
                        items: str) -> Layout:
    """The class folders of a local SRC (or its split folders of class folders), each with files;
    `expected` describes the layout and `items` what a class folder holds, in the messages. Returns
    the layout they make."""
    pairs = [(first, second) for first in _subfolders(src)
             for second in (_subfolders(os.path.join(src, first)) or [""])]
    layout = detect_layout(pairs)
    if not layout.classes:
        raise PreflightError(f"SRC {src!r} has no class folders (expected {expected})")
    _check_split_folder_names(sorted({first for first, _ in pairs}))
    if layout.split_folders and has_split_fractions:
        raise PreflightError(
            f"SRC is already split into folders ({', '.join(layout.splits)}); drop --split, or point SRC at unsplit data")
    class_dirs = ([os.path.join(src, split, c) for split in layout.splits for c in _subfolders(os.path.join(src, split))]
                  if layout.split_folders else [os.path.join(src, c) for c in layout.classes])
    for folder in class_dirs:
        if not _has_file(folder):
            raise PreflightError(f"class folder {os.path.relpath(folder, src)!r} has no files: add {items} or remove it")
    if labels is not None:
        unknown = sorted(set(layout.classes) - set(labels))
        if unknown:
            raise PreflightError(f"class folders not in --labels: {', '.join(unknown)} (add them to the labels file)")
    bad = [c for first, second in pairs for c in (first, second) if c and not usable_class_name(c)]
    if bad:
        raise PreflightError(f"folder name {bad[0]!r} has a line break: rename it")
    return layout
