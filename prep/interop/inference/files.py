"""The input files of `prep schema infer`: which files the patterns name, where each sits in the dataset
directory (schema.json lists shards relative to its own folder), and the split each belongs to, from
`--split NAME=GLOB` or from the words of its name. Metadata files are not shards and are skipped."""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from dataclasses import dataclass
from typing import Sequence

from prep.core import launcher_reads
from prep.core.sharding import INDEX_DIR
from prep.core.splits import DEFAULT_SPLIT
from prep.core.versions import INVENTORY_DIR, TFDS_DIR
from prep.interop.inference.errors import InferenceError
from schemas.versions import VERSIONS_DIR

# Tokens in file names that name a split, and the split they mean (TFDS's names).
SPLIT_WORDS = {
    "train": "train", "training": "train",
    "validation": "validation", "valid": "validation", "val": "validation", "dev": "validation",
    "eval": "validation", "evaluation": "validation",
    "test": "test", "testing": "test",
}
# Files of a dataset directory that are never shards: prep's and TFDS's metadata.
METADATA_FILES = ("schema.json", "stats.json", "rejected.jsonl", "dataset_info.json", "features.json")
_TFDS_SHARD = re.compile(r"^[^-]+-(?P<split>[A-Za-z0-9][A-Za-z0-9_]*)\.tfrecord-\d{5}-of-\d{5}$")
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class FileEntry:
    """One input file: `path` as FileSystems knows it, `relative` to the dataset directory, `size` in
    bytes on disk, and its `split`: None when its name places it in no split while the names of other
    files do (it is read, then left out: `scanning.scan_files`)."""

    path: str
    relative: str
    size: int | None
    split: str | None


@dataclass(frozen=True)
class FileSet:
    out: str
    entries: tuple[FileEntry, ...]


def _is_remote(path: str) -> bool:
    return "://" in path


def _absolute(path: str) -> str:
    return path if _is_remote(path) else os.path.abspath(path)


def _is_metadata(relative: str) -> bool:
    parts = relative.split("/")
    name = parts[-1]
    return (any(p.startswith(".") for p in parts) or parts[0] in ("vocab", INDEX_DIR, INVENTORY_DIR, VERSIONS_DIR, TFDS_DIR) or name in METADATA_FILES
            or name.endswith(".labels.txt") or ".tmp" in name)


def _match(pattern: str) -> list[tuple[str, int | None]]:
    """(path, size) of every file `pattern` names: a file, a glob, or every file below a directory."""
    from apache_beam.io.filesystems import FileSystems

    pattern = _absolute(pattern)
    candidates = [pattern]
    if not _is_remote(pattern) and os.path.isdir(pattern):
        candidates = [FileSystems.join(pattern, "**")]
    elif _is_remote(pattern) and not any(c in pattern for c in "*?["):
        candidates.append(FileSystems.join(pattern.rstrip("/"), "**"))  # a bucket folder: every object below
    try:
        launcher_reads.check_reachable(pattern)
    except launcher_reads.UnreadableFile as e:
        raise InferenceError(str(e)) from None
    for candidate in candidates:
        try:
            metadata = FileSystems.match([candidate])[0].metadata_list
        except Exception as e:  # Beam wraps every filesystem failure in its own error types
            raise InferenceError(f"cannot list {candidate!r}: {e}") from None
        found = [(m.path, m.size_in_bytes) for m in metadata if _is_remote(m.path) or os.path.isfile(m.path)]
        if found:
            return found
    return []


def common_folder(paths: Sequence[str]) -> str:
    """The deepest folder holding every path (local, or in one bucket)."""
    if not any(_is_remote(p) for p in paths):
        return os.path.commonpath([os.path.dirname(p) for p in paths])
    prefix = os.path.commonprefix([p.rsplit("/", 1)[0] + "/" for p in paths])
    return prefix[: prefix.rfind("/")]  # cut at the end of the last whole folder name


def relative_to(path: str, out: str) -> str | None:
    """`path` relative to the folder `out`, with '/' separators, or None when it is not inside it."""
    if _is_remote(path) != _is_remote(out):
        return None
    if _is_remote(path):
        root = out.rstrip("/") + "/"
        return path[len(root):] if path.startswith(root) else None
    root = os.path.abspath(out)
    path = os.path.abspath(path)
    if not path.startswith(root.rstrip(os.sep) + os.sep):
        return None
    return os.path.relpath(path, root).replace(os.sep, "/")


def split_of_name(relative: str) -> str | None:
    """The split a file's name says it belongs to, or None.

    TFDS's `<dataset>-<split>.tfrecord-00000-of-00004` gives its split as it is; otherwise the words
    of the file name (then of its folders, nearest first) that name a split: `train-00000-of-00008`,
    `data_validation.tfrecord.gz`, `eval/part-3` (synonyms map to TFDS's train, validation and test).
    """
    parts = relative.split("/")
    tfds = _TFDS_SHARD.match(parts[-1])
    if tfds:
        return tfds.group("split")
    for part in reversed(parts):
        words = {SPLIT_WORDS[w] for w in re.split(r"[-_.\s]+", part.lower()) if w in SPLIT_WORDS}
        if len(words) == 1:
            return words.pop()
        if len(words) > 1:
            return None
    return None


def unplaced_problem(relative: str, splits: Sequence[str]) -> str:
    """Why a file whose name places it in no split is left out, while the names of the others place
    them in `splits`, and how to include it."""
    examples = " ".join(f"--split {name}='*{name}*'" for name in sorted(splits))
    return (f"its name places it in no split, while the other files' names place them in {', '.join(sorted(splits))}: "
            f"to include it, say which split each file is in with --split NAME=GLOB "
            f"(e.g. {examples} --split NAME='{posixpath.basename(relative)}')")


def parse_split_glob(text: str) -> tuple[str, str]:
    """'NAME=GLOB' -> (name, glob); raises ValueError with a message a user can act on."""
    name, sep, glob = text.partition("=")
    name = name.strip()
    if not sep or not glob:
        raise ValueError(f"{text!r} is not NAME=GLOB (e.g. train='*-train-*')")
    if not _SPLIT_NAME.match(name):
        raise ValueError(f"split name {name!r} must be letters, digits, '_' and '.'")
    return name, glob


def _split_from_globs(relative: str, path: str, globs: Sequence[tuple[str, str]]) -> str | None:
    names = {name for name, glob in globs
             if any(fnmatch.fnmatchcase(p, glob) for p in (relative, posixpath.basename(relative), path))}
    if len(names) > 1:
        raise InferenceError(f"{relative} matches the globs of several splits ({', '.join(sorted(names))}): "
                             "make the --split globs exclusive")
    return names.pop() if names else None


def locate_files(patterns: Sequence[str], out: str | None,
                 split_globs: Sequence[tuple[str, str]] = ()) -> FileSet:
    """Every file the patterns name, where it sits in the dataset directory `out`, and its split.

    Metadata files (schema.json, TFDS's JSON, vocab/, hidden files) are not shards and are skipped.
    Splits come from `split_globs` when given (a file no glob matches is an error), else from the names:
    when no name places a file, they all go to 'train'; when some do, the others get split None and are
    left out once they are read (`scanning.scan_files` says why, and how to include them).
    """
    if not patterns:
        raise InferenceError("no files given: name the TFRecord files, a glob or their folder")
    found: dict[str, int | None] = {}
    for pattern in patterns:
        matched = _match(pattern)
        if not matched:
            raise InferenceError(f"{pattern!r} matches no files")
        found.update(matched)
    paths = sorted(found)
    out = (out.rstrip("/") or "/") if out else common_folder(paths)
    entries, outside = [], []
    for path in paths:
        relative = relative_to(path, out)
        if relative is None:
            outside.append(path)
            continue
        if _is_metadata(relative):
            continue
        entries.append((path, relative))
    if outside:
        raise InferenceError(
            f"{outside[0]} is not inside {out}{f' (and {len(outside) - 1} more)' if len(outside) > 1 else ''}: "
            "schema.json lists shard files relative to its own folder, so -o must be a folder that holds every "
            "file (leave -o out to use the folder they share)")
    if not entries:
        raise InferenceError(f"{', '.join(patterns)}: no data files (only metadata such as schema.json)")
    if split_globs:
        splits = [_split_from_globs(rel, path, split_globs) for path, rel in entries]
        unplaced = [rel for (_, rel), split in zip(entries, splits) if split is None]
        if unplaced:
            raise InferenceError(f"{unplaced[0]} matches no --split glob{f' (nor do {len(unplaced) - 1} more)' if len(unplaced) > 1 else ''}: "
                                 "add a glob for it, or leave it out of the file patterns")
    else:
        splits = [split_of_name(rel) for _, rel in entries]
        if all(s is None for s in splits):
            splits = [DEFAULT_SPLIT] * len(splits)
    return FileSet(out, tuple(FileEntry(path, rel, found[path], split) for (path, rel), split in zip(entries, splits)))
