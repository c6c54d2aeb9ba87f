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

from prep.core import launcher_reads, preflight
from prep.core.layout import Layout
from prep.core.preflight import PreflightError, is_local
from prep.core.splits import DEFAULT_SPLIT, SPLIT_FOLDERS, lookalike
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


def check_vocabulary_splits(fmt: str, layout: Layout | None, names: tuple[str, ...] | None, named: bool,
                            has_split_fractions: bool) -> None:
    """The splits a vocabulary is learned from (`names`; None: every split) are splits SRC's documents go
    to. What is known before the job: without --split (whose names are checked with the flag), a file,
    a glob or a folder read with --input-format puts every document in train, wherever it is; a local
    folder of class folders, its split folders (train alone when it has none). A folder in a bucket is
    not listed here: its documents can only go to train, validation or test, and the job finds which.
    `fmt`: TextInputs.format; `named`: given by --vocab-splits, not the default (train)."""
    if names is None or has_split_fractions:
        return
    if fmt == "folder" and layout is None:
        impossible = [n for n in names if n not in SPLIT_FOLDERS]
        if impossible:
            raise PreflightError(
                f"--vocab-splits names {', '.join(impossible)}, but without --split a folder's documents go to its "
                f"split folders ({', '.join(SPLIT_FOLDERS)}), or all to {DEFAULT_SPLIT}: name some of those, or all"
                f"{_did_you_mean(impossible, SPLIT_FOLDERS)}")
        return
    split_folders = fmt == "folder" and layout.split_folders
    splits = layout.splits if split_folders else (DEFAULT_SPLIT,)
    unknown = [n for n in names if n not in splits]
    if not unknown:
        return
    has = ", ".join(splits)
    if named and not split_folders:
        why = "SRC has no split folders, and --split is not given" if fmt == "folder" else \
            "--split is not given, and only a folder of class folders is split by its folders"
        raise PreflightError(f"--vocab-splits names {', '.join(unknown)}, but every document goes to {DEFAULT_SPLIT} "
                             f"({why}): name {DEFAULT_SPLIT}, or all, or pass --split")
    if named:
        raise PreflightError(f"--vocab-splits names {', '.join(unknown)}, which SRC has no split folder for (it has "
                             f"{has}): name some of those, or all{_did_you_mean(unknown, splits)}")
    raise PreflightError(f"the vocabulary is learned from the train split by default, and SRC has no train folder "
                         f"(its split folders: {has}): pass --vocab-splits with some of those, or all")


def _did_you_mean(unknown: list[str], names: tuple[str, ...]) -> str:
    """' (did you mean NAME?)' when the first unknown name looks like a misspelling of one of `names`."""
    near = lookalike(unknown[0], names)
    return f" (did you mean {near}?)" if near else ""


def check_vocab_output(out: str, src: str, overwrite: bool, sidecars: tuple[str, ...]) -> None:
    """OUT of `prep vocab` is a file that may be written: not a folder, not inside SRC, not there already
    (looked up from the launching machine: on gs:// with no retry, prep.core.launcher_reads)."""
    if is_local(out):
        if os.path.isdir(out):
            raise PreflightError(f"OUT {out!r} is a folder: name the vocabulary file to write (e.g. {out}/vocab.txt)")
        if is_local(src) and os.path.isdir(src) and os.path.realpath(out).startswith(os.path.realpath(src) + os.sep):
            raise PreflightError("OUT is inside SRC, so the vocabulary would be read back as input: choose an OUT outside SRC")
    if not overwrite:
        for path in (out,) + sidecars:
            if launcher_reads.exists(path):
                raise PreflightError(f"{path} already exists: pass --overwrite to replace it, or choose another OUT")
