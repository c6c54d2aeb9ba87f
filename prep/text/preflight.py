"""Checks of a text corpus before a job starts, so a user's mistake is one clear line, not a failed job.

Like prep.core.preflight they look at little (folder names near the top, the first row of the first
file) and only on local disk: a bucket is read inside the pipeline instead.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os

from prep.core import preflight
from prep.core.layout import Layout
from prep.core.preflight import PreflightError, is_local
from prep.core.splits import DEFAULT_SPLIT
from prep.text.inputs import TextInputs, file_format, has_glob, open_input


def is_directory(src: str) -> bool:
    """Whether SRC names a folder. In a bucket, where asking would take a request, a path is a folder
    when it ends in '/' or its last part has no extension (gs://b/corpus/ and gs://b/corpus, not
    gs://b/corpus.jsonl)."""
    if has_glob(src):
        return False
    if is_local(src):
        if not os.path.exists(src):
            raise PreflightError(f"SRC {src!r} does not exist")
        return os.path.isdir(src)
    return src.endswith("/") or "." not in src.rstrip("/").rsplit("/", 1)[-1]


def check_class_folders(src: str, labels: tuple[str, ...] | None, has_split_fractions: bool) -> Layout:
    """SRC is a folder of class folders (or of split folders of class folders), each with files."""
    return preflight.check_class_folders(
        src, labels, has_split_fractions,
        "SRC/<class>/<text files>; for a folder of JSON Lines, CSV or plain text files pass --input-format",
        "documents")


def _first_file(inputs: TextInputs) -> str | None:
    if has_glob(inputs.pattern):
        matches = sorted(p for p in glob.glob(inputs.pattern, recursive=True) if os.path.isfile(p))
    elif os.path.isdir(inputs.src):
        matches = sorted(os.path.join(d, f) for d, _, files in os.walk(inputs.src) for f in files
                         if not f.startswith("."))
    else:
        matches = [inputs.src]
    if not matches:
        raise PreflightError(f"SRC {inputs.src!r} matches no file")
    return matches[0]


def _first_fields(path: str, fmt: str) -> list[str] | None:
    """The field names of the first row of a JSON Lines file, or the header of a CSV/TSV file; None
    when the file does not show them (empty, unreadable, not JSON: rows are rejected one by one then)."""
    try:
        with open_input(path) as f:
            head = f.read(1 << 20)
    except OSError:
        return None
    text = head.decode("utf-8-sig", "replace")
    if fmt == "jsonl":
        for line in text.split("\n"):
            if line.strip():
                try:
                    row = json.loads(line)
                except ValueError:
                    return None
                return list(row) if isinstance(row, dict) else None
        return None
    header = next(csv.reader(io.StringIO(text), delimiter="\t" if fmt == "tsv" else ","), None)
    return header or None


def check_text_source(inputs: TextInputs, labels: tuple[str, ...] | None, has_split_fractions: bool) -> Layout | None:
    """SRC exists and, for fielded formats, its first file has the text (and label) field asked for;
    a local folder's layout (None for other inputs)."""
    if not is_local(inputs.src):
        return None
    if inputs.format == "folder":
        return check_class_folders(inputs.src, labels, has_split_fractions)
    first = _first_file(inputs)
    fmt = file_format(first, inputs.format)
    if fmt not in ("jsonl", "csv", "tsv"):
        return None
    fields = _first_fields(first, fmt)
    if fields is None:
        return None
    what = "the first row has" if fmt == "jsonl" else "the header has"
    for flag, name in (("--text-field", inputs.text_field), ("--label-field", inputs.label_field)):
        if name is not None and name not in fields:
            raise PreflightError(f"{first}: no field {name!r} ({what}: {', '.join(fields)[:200]}): pass {flag}")
    return None


def check_vocabulary_splits(layout: Layout | None, names: tuple[str, ...] | None, named: bool,
                            has_split_fractions: bool) -> None:
    """The splits a vocabulary is learned from (`names`; None: every split) are splits a local folder
    SRC's documents go to: its split folders, or train alone when it has none and --split is not given
    (--split's names are checked with the flag). `named`: given by --vocab-splits, not the default."""
    if layout is None or names is None or has_split_fractions:
        return
    splits = layout.splits if layout.split_folders else (DEFAULT_SPLIT,)
    unknown = [n for n in names if n not in splits]
    has = ", ".join(splits)
    if unknown and named and not layout.split_folders:
        raise PreflightError(f"--vocab-splits names {', '.join(unknown)}, but every document goes to {DEFAULT_SPLIT} "
                             f"(SRC has no split folders, and --split is not given): name {DEFAULT_SPLIT}, or all")
    if unknown and named:
        raise PreflightError(f"--vocab-splits names {', '.join(unknown)}, which SRC has no split folder for (it has "
                             f"{has}): name some of those, or all")
    if unknown:
        raise PreflightError(f"the vocabulary is learned from the train split by default, and SRC has no train folder "
                             f"(its split folders: {has}): pass --vocab-splits with some of those, or all")


def check_vocab_output(out: str, src: str, overwrite: bool, sidecars: tuple[str, ...]) -> None:
    """OUT of `prep vocab` is a file that may be written: not a folder, not inside SRC, not there already."""
    from apache_beam.io.filesystems import FileSystems

    if is_local(out):
        if os.path.isdir(out):
            raise PreflightError(f"OUT {out!r} is a folder: name the vocabulary file to write (e.g. {out}/vocab.txt)")
        if is_local(src) and os.path.isdir(src) and os.path.realpath(out).startswith(os.path.realpath(src) + os.sep):
            raise PreflightError("OUT is inside SRC, so the vocabulary would be read back as input: choose an OUT outside SRC")
    if not overwrite:
        for path in (out,) + sidecars:
            if FileSystems.exists(path):
                raise PreflightError(f"{path} already exists: pass --overwrite to replace it, or choose another OUT")
