"""Reading a text corpus into rows (one document each) or rejections (why an input is left out).

Inputs, and what one *input* is (inputs = records + rejected counts these):

- "folder": SRC/<class>/.../file, the layout `tf.keras.utils.text_dataset_from_directory` reads
  (or SRC/<split>/<class>/... as in the image job): each file is one document, labelled by its
  class folder. An input is a file.
- "jsonl", "csv", "tsv": one row per line (CSV/TSV: per record, which may span lines inside quotes,
  after a header row naming the columns), the text in a named field and optionally a label in
  another. An input is a row; blank lines are rows too (rejected as empty).
- "lines": plain text, one document per line, unlabelled. An input is a line.
- "auto" (files and globs): each file by its extension: .jsonl/.ndjson/.json -> jsonl, .csv, .tsv/.tab,
  anything else -> lines.

A file ending in .gz is decompressed as it is read. A file that yields no row at all (zero bytes, a
CSV with only a header) is one input, rejected as `empty_file`; a file that cannot be read, or whose
reading fails half-way, contributes the rows read so far plus one rejected input for the rest (`conversion_error` when the
failure is none that reading foresees: prep.core.failures).

Text is UTF-8: a UTF-8 byte order mark at the start of a file is dropped, a UTF-16/32 one rejects the
file; a line's '\\n' and a '\\r' before it are not part of the document (TextLineDataset agrees).

Lines are read in blocks of `READ_BYTES`, never a whole file at once (except a folder document,
which is one document). Uncompressed line formats can be read by byte ranges, so that one large file
is shared among workers: a range holds the lines whose first byte lies inside it.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from typing import Iterable, Iterator, NamedTuple, Union

from prep.core import layout as layouts
from prep.core import row_files
from prep.core.failures import CONVERSION_ERROR, unforeseen
from prep.core.row_files import (
    READ_ERRORS,
    UTF8_BOM,
    Rejection,
    csv_records,
    json_kind,
    json_object,
    line_blocks,
    lines_of,
    not_utf8,
    open_input,
    other_bom,
    read_error,
    without_bom,
    without_cr,
)
from prep.core.splits import DEFAULT_SPLIT, SplitFractions

FORMATS = ("folder", "lines", "jsonl", "csv", "tsv")
INPUT_FORMATS = ("auto",) + FORMATS
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv"}
_BLANK_AFTER_NEWLINE = re.compile(rb"\n[ \t\r\x0b\x0c]*(?=\n)")  # starts at a '\n': fast to search for
_BLANK_FIRST_LINE = re.compile(rb"[ \t\r\x0b\x0c]*\n")

# Why an input is left out, for rejected.jsonl (the folder layout's own reasons come from prep.core.layout).
REASONS = row_files.REASONS | {
    "empty_document": "the document is empty or only whitespace",
    "missing_text": "the row has no text field (or it is null)",
    "bad_text": "the text field is not a string",
    "missing_label": "the row has no label (or it is null or empty)",
    "bad_label": "the label is a list or an object, or holds a line break (it must fit on a line of labels.txt)",
    "label_not_in_labels": "the label is not in the --labels list",
    "hidden_file": "a hidden file or OS junk (--include-hidden reads them)",
}


@dataclass(frozen=True)
class TextInputs:
    """Where the corpus is and how to read it.

    `pattern` is what is matched (a file, a glob, or `root/**`); paths in records and rejected.jsonl
    are relative to `root`. `format` is "folder", "auto" (each file by its extension) or one of
    lines/jsonl/csv/tsv for every file.
    """

    src: str
    root: str
    pattern: str
    format: str
    text_field: str = "text"
    label_field: str | None = None
    include_hidden: bool = False

    @property
    def labelled(self) -> bool:
        return self.format == "folder" or self.label_field is not None


class Row(NamedTuple):
    """One document: `line` is the 1-based line it starts on, 0 when the whole file is the document.
    (A named tuple: a frozen dataclass took 2.4 us to make, a third of the time of reading a short
    JSON Lines document.)"""

    source: str
    line: int
    text: bytes  # valid UTF-8
    label: str | None = None
    split: str | None = None  # the split folder it sits in, if SRC is split by folders

    @property
    def identity(self) -> str:
        """What the split and shard of the record are hashed from: stable across reruns."""
        return f"{self.source}:{self.line}" if self.line else self.source

    def assigned_split(self, fractions: SplitFractions | None) -> str:
        """The document's split: its split folder's, else by --split's hash of its identity, else train."""
        return self.split or (fractions.assign(self.identity) if fractions else DEFAULT_SPLIT)


@dataclass(frozen=True)
class LineBlock:
    """Many lines at once, all valid UTF-8, for counting tokens in bulk: `rows` inputs, of which
    `blank` are blank (rejected as empty_document: lines `blank_at` of file `source`) and the rest
    documents."""

    data: bytes
    rows: int
    blank: int
    source: str = ""
    blank_at: tuple[int, ...] = ()

    def rejections(self) -> Iterator[Rejection]:
        """The blank lines, as the rejections reading line by line gives."""
        for line in self.blank_at:
            yield Rejection(self.source, line, "empty_document", "the line is blank")


Item = Union[Row, Rejection, LineBlock]


def has_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def resolve_inputs(src: str, input_format: str, text_field: str | None, label_field: str | None,
                   include_hidden: bool, is_directory: bool) -> TextInputs:
    """The inputs for SRC as given on the command line; ValueError for a combination that cannot work.

    A directory is a folder of class folders unless `input_format` names how to read its files; a file
    or glob is read by its extension unless `input_format` says otherwise.
    """
    src = src.rstrip("/") or "/"
    if input_format not in INPUT_FORMATS:
        raise ValueError(f"input format {input_format!r} is not one of: {', '.join(INPUT_FORMATS)}")
    if has_glob(src):
        root = posixpath.dirname(src.split("*")[0].split("?")[0].split("[")[0])
        if input_format == "folder":
            raise ValueError("--input-format folder needs SRC to be a folder of class folders, not a glob")
        pattern, fmt = src, input_format
    elif is_directory:
        root, pattern = src, posixpath.join(src, "**")
        fmt = "folder" if input_format == "auto" else input_format
    else:
        if input_format == "folder":
            raise ValueError(f"--input-format folder needs SRC to be a folder of class folders; {src} is a file")
        root, pattern, fmt = posixpath.dirname(src), src, input_format
    if fmt == "folder":
        if label_field is not None:
            raise ValueError("--label-field does not apply to a folder of class folders (the class folder is the label)")
        if text_field is not None:
            raise ValueError("--text-field does not apply to a folder of class folders (each file is one document)")
    if fmt == "lines" and (label_field is not None or text_field is not None):
        raise ValueError("--text-field and --label-field do not apply to plain text (one document per line, no label)")
    return TextInputs(src, root or ".", pattern, fmt, text_field or "text", label_field, include_hidden)


def file_format(path: str, fmt: str) -> str:
    """The format one file is read in: `fmt`, or from the extension (after .gz) when `fmt` is "auto"."""
    if fmt != "auto":
        return fmt
    name = path[:-3] if path.endswith(".gz") else path
    return _EXTENSIONS.get(posixpath.splitext(name)[1].lower(), "lines")


def _blank_lines(block: bytes) -> int:
    """How many lines of a block hold nothing but whitespace."""
    return len(blank_line_numbers(block, 1))


def blank_line_numbers(block: bytes, first: int) -> tuple[int, ...]:
    """The numbers of the lines of a block (its first line is line `first`) that hold nothing but
    whitespace, found by searching the bytes, not by a Python step per line."""
    found = [first] if _BLANK_FIRST_LINE.match(block) else []
    line, at = first, 0
    for match in _BLANK_AFTER_NEWLINE.finditer(block):  # each starts at the '\n' before a blank line
        line += block.count(b"\n", at, match.start() + 1)
        at = match.start() + 1
        found.append(line)
    if not block.endswith(b"\n") and not block[block.rfind(b"\n") + 1:].strip():
        found.append(first + block.count(b"\n"))
    return tuple(found)


def _text_row(source: str, line: int, text, label, inputs: TextInputs, has_label: bool) -> Row | Rejection:
    """A row from its text and label values (str for CSV, any JSON value for JSON Lines)."""
    if text is None:
        return Rejection(source, line, "missing_text", f"no field {inputs.text_field!r} (or it is null)")
    if not isinstance(text, str):
        return Rejection(source, line, "bad_text", f"field {inputs.text_field!r} is {json_kind(text)}, not a string")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as e:
        return not_utf8(source, line, e)
    if not data.strip():
        return Rejection(source, line, "empty_document", f"field {inputs.text_field!r} is empty or only whitespace")
    name = None
    if inputs.label_field is not None:
        if not has_label or label is None or label == "":
            return Rejection(source, line, "missing_label", f"no field {inputs.label_field!r} (or it is null or empty)")
        if isinstance(label, (list, dict)):
            return Rejection(source, line, "bad_label", f"field {inputs.label_field!r} is {json_kind(label)}")
        name = label if isinstance(label, str) else json.dumps(label)
        if "\n" in name or "\r" in name:
            return Rejection(source, line, "bad_label", f"label {name[:40]!r} holds a line break")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError as e:
            return not_utf8(source, line, e)
    return Row(source, line, data, name)


def _plain_line(source: str, n: int, line: bytes, inputs: TextInputs) -> Row | Rejection:
    line = without_cr(line)
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as e:
        return not_utf8(source, n, e)
    if not line.strip():
        return Rejection(source, n, "empty_document", "the line is blank")
    if inputs.label_field is not None:
        return Rejection(source, n, "missing_label", "a line of plain text has no label field")
    return Row(source, n, line)


def _json_line(source: str, n: int, line: bytes, inputs: TextInputs) -> Row | Rejection:
    obj = json_object(source, n, line)
    if obj is None:
        return Rejection(source, n, "empty_document", "the line is blank")
    if isinstance(obj, Rejection):
        return obj
    return _text_row(source, n, obj.get(inputs.text_field), obj.get(inputs.label_field) if inputs.label_field else None,
                     inputs, inputs.label_field in obj if inputs.label_field else False)


_scan_json = json.JSONDecoder().scan_once  # what json.loads runs, without its checks around it


def _json_block(source: str, first: int, block: bytes, inputs: TextInputs) -> list[Row | Rejection]:
    """`_json_line` of each line of a block, the block decoded at once: a line that is one JSON object
    and nothing else (the usual case) is scanned directly; any other goes through `_json_line`."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        return [_json_line(source, n, line, inputs) for n, line in enumerate(lines_of(block), first)]
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    field, label_field = inputs.text_field, inputs.label_field
    out = []
    for n, raw in enumerate(lines, first):
        line = raw[:-1] if raw.endswith("\r") else raw
        if line[:1] == "{":
            try:
                obj, end = _scan_json(line, 0)
            except (StopIteration, ValueError, RecursionError):
                end = -1
            if end == len(line) or end >= 0 and not line[end:].strip(" \t\n\r"):
                out.append(_text_row(source, n, obj.get(field), obj.get(label_field) if label_field else None,
                                     inputs, label_field in obj if label_field else False))
                continue
        out.append(_json_line(source, n, raw.encode("utf-8"), inputs))
    return out


def _line_items(blocks: Iterable[bytes | Rejection], source: str, first_line: int, fmt: str,
                inputs: TextInputs, bulk: bool) -> Iterator[Item]:
    n = first_line
    for block in blocks:
        if isinstance(block, Rejection):
            yield block
            return
        if bulk:
            try:
                block.decode("utf-8")
                rows = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
                blank_at = blank_line_numbers(block, n)
                yield LineBlock(block, rows, len(blank_at), source, blank_at)
                n += rows
                continue
            except UnicodeDecodeError:
                pass  # row by row, to find the bad lines
        if fmt == "jsonl":
            rows = _json_block(source, n, block, inputs)
            yield from rows
            n += len(rows)
            continue
        for line in lines_of(block):
            yield _plain_line(source, n, line, inputs)
            n += 1


def _csv_items(blocks: Iterable[bytes | Rejection], source: str, fmt: str, inputs: TextInputs) -> Iterator[Item]:
    header: list[str] | None = None
    rows = 0
    for item in csv_records(blocks, source, fmt):
        if isinstance(item, Rejection):
            yield item
            continue
        first, record = item
        if header is None:
            header = record
            if not header:
                yield Rejection(source, first, "bad_csv", "the first line must be a header naming the columns")
                return
            continue
        rows += 1
        if not record:
            yield Rejection(source, first, "empty_document", "the line is blank")
            continue
        if len(record) != len(header):
            yield Rejection(source, first, "bad_csv", f"the record has {len(record)} fields, the header {len(header)}")
            continue
        fields = dict(zip(reversed(header), reversed(record)))  # reversed: the first of repeated names wins
        if inputs.text_field not in fields:
            yield Rejection(source, first, "missing_text",
                            f"no column {inputs.text_field!r} in the header (columns: {', '.join(header)[:200]})")
            continue
        label = fields.get(inputs.label_field) if inputs.label_field else None
        yield _text_row(source, first, fields[inputs.text_field], label, inputs,
                        inputs.label_field in fields if inputs.label_field else False)
    if header is not None and not rows:
        yield Rejection(source, 0, "empty_file", "the file holds only a header row")


def read_rows(path: str, source: str, inputs: TextInputs, start: int = 0, end: int | None = None,
              first_line: int = 1, *, bulk: bool = False) -> Iterator[Item]:
    """The rows of (a byte range of) one JSON Lines, CSV/TSV or plain text file, and its rejections.

    `source` is the path as records name it (relative to SRC); `first_line` the number of the range's
    first line. With `bulk`, runs of valid lines of a plain text file come as `LineBlock`s.
    """
    fmt = file_format(path, inputs.format)
    produced = False
    try:
        with open_input(path) as f:
            if start > 0 and other_bom(f.read(4)):
                return  # the file's first range rejects it as a whole
            blocks = without_bom(line_blocks(f, start, end), source, start)
            items = _csv_items(blocks, source, fmt, inputs) if fmt in ("csv", "tsv") else \
                _line_items(blocks, source, first_line, fmt, inputs, bulk and fmt == "lines" and inputs.label_field is None)
            for item in items:
                produced = True
                yield item
    except READ_ERRORS as e:
        produced = True
        yield Rejection(source, 0, *read_error(e))
    except Exception as e:  # no single input may stop the job: prep.core.failures
        produced = True
        yield Rejection(source, 0, CONVERSION_ERROR, f"{unforeseen(e)}; rows after it are lost")
    if not produced and start == 0:
        yield Rejection(source, 0, "empty_file", REASONS["empty_file"])


def read_document(path: str, source: str, label: str | None) -> Row | Rejection:
    """A whole file as one document (the folder layout); whatever goes wrong is a rejection."""
    try:
        return _read_document(path, source, label)
    except Exception as e:  # no single input may stop the job: prep.core.failures
        return Rejection(source, 0, CONVERSION_ERROR, unforeseen(e))


def _read_document(path: str, source: str, label: str | None) -> Row | Rejection:
    try:
        with open_input(path) as f:
            data = f.read()
    except READ_ERRORS as e:
        return Rejection(source, 0, *read_error(e))
    if not data:
        return Rejection(source, 0, "empty_file", "the file is empty (0 bytes)")
    encoding = other_bom(data)
    if encoding:
        return Rejection(source, 0, "not_utf8", f"{encoding} text (it starts with a {encoding} byte order mark): convert it to UTF-8")
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return not_utf8(source, 0, e)
    if not data.strip():
        return Rejection(source, 0, "empty_document", "the file holds only whitespace")
    return Row(source, 0, data, label)


def corpus_items(path: str, inputs: TextInputs, layout: layouts.Layout, start: int = 0, end: int | None = None,
                 first_line: int = 1, *, bulk: bool = False) -> Iterator[Item]:
    """Everything (a byte range of) one matched file holds: documents, rejections, or blocks of lines
    with `bulk`. The one place that decides what is an input and whether it is rejected, used by every
    pass over the corpus, so they all agree."""
    source = layouts.relative_path(path, inputs.root)
    if not inputs.include_hidden and layouts.is_hidden(source):
        if start == 0:
            yield Rejection(source, 0, "hidden_file", "hidden file or OS junk, skipped (--include-hidden reads them)")
        return
    if inputs.format != "folder":
        yield from read_rows(path, source, inputs, start, end, first_line, bulk=bulk)
        return
    where = layouts.locate(source, layout)
    if where.problem:
        yield Rejection(source, 0, where.problem, layouts.PROBLEMS[where.problem])
        return
    document = read_document(path, source, where.class_name)
    yield document._replace(split=where.split) if isinstance(document, Row) else document


def input_count(item: Item) -> int:
    """How many inputs an item stands for."""
    return item.rows if isinstance(item, LineBlock) else 1
