"""Reading files of rows (plain lines, JSON Lines, CSV/TSV) in blocks and byte ranges: what `prep text`
reads its corpus with and `prep images --manifest` its manifest.

Text is UTF-8: a UTF-8 byte order mark at the start of a file is dropped, a UTF-16/32 one rejects the
file; a line's '\\n' and a '\\r' before it are not part of its row (TextLineDataset agrees). A file
ending in .gz is decompressed as it is read. Lines are read in blocks of `READ_BYTES`, never a whole
file at once. Uncompressed line formats can be read by byte ranges, so that one large file is shared
among workers: a range holds the lines whose first byte lies inside it.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import os
import re
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator

from prep.core import launcher_reads

LINE_FORMATS = ("lines", "jsonl")  # one row per line: readable by byte ranges
READ_BYTES = 4 << 20  # bytes read from a file at a time
RANGE_BYTES = 16 << 20  # an uncompressed line file larger than this is read in ranges of about this size
# A smaller file is still cut into RANGES_PER_FILE ranges of at least MIN_RANGE_BYTES: the local runner
# deals a stage's ranges out to its workers once, and three ranges kept one of two workers idle a third
# of the time on a 34 MB file (bench/text.py: 18.2 s with 16 MiB ranges, 16.3-16.8 s with 2-4 MiB).
RANGES_PER_FILE = 8
MIN_RANGE_BYTES = 1 << 20
CSV_FIELD_LIMIT = 2**31 - 1  # the csv module's default limit (131,072 characters) would refuse long fields
UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32", b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16"}
_LINE_END = re.compile(rb"(?<=\n)")

# Why a row (or a whole file) of a row file is left out, for rejected.jsonl.
REASONS = {
    "empty_file": "the file holds no document or row",
    "not_utf8": "the text is not valid UTF-8",
    "bad_json": "the line is not valid JSON",
    "not_an_object": "the line is JSON but not an object with fields",
    "bad_csv": "the CSV/TSV record is malformed",
    "unreadable": "the file cannot be read (or stopped being readable half-way)",
    "corrupt_gzip": "the gzip stream is damaged or cut short",
}


@dataclass(frozen=True)
class Rejection:
    source: str
    line: int  # 0: the file as a whole
    reason: str
    detail: str
    # What the rejected row names, as written (an image manifest's row: its image), when it names
    # something: the job that reads the rows finds it and names it in rejected.jsonl's "path".
    reference: str = ""

    def to_dict(self) -> dict:
        """The rejected.jsonl row."""
        return {"path": self.source, "line": self.line or None, "reason": self.reason, "detail": self.detail}



def byte_ranges(path: str, size: int, fmt: str, range_bytes: int | None = None) -> list[tuple[int, int | None]]:
    """(start, end) byte ranges of about `range_bytes` that together read the file once; (0, None)
    reads it whole. By default ranges of RANGE_BYTES, or RANGES_PER_FILE of at least MIN_RANGE_BYTES
    for a smaller file.

    Only uncompressed line formats are cut: a CSV record may span lines, and gzip cannot be entered
    half-way."""
    range_bytes = range_bytes or min(RANGE_BYTES, max(MIN_RANGE_BYTES, -(-size // RANGES_PER_FILE)))
    if fmt not in LINE_FORMATS or path.endswith(".gz") or size <= range_bytes:
        return [(0, None)]
    count = -(-size // range_bytes)
    step = -(-size // count)
    return [(start, min(start + step, size) if start + step < size else None) for start in range(0, size, step)]


@contextlib.contextmanager
def open_input(path: str, on_launcher: bool = False) -> Iterator[BinaryIO]:
    """A file's bytes (local or any Beam filesystem), gunzipped when the name ends in .gz.
    `on_launcher`: read by the launching machine before the job, as prep.core.launcher_reads reads
    (no retries; a file it cannot read is an UnreadableFile)."""
    with (launcher_reads.opened(path) if on_launcher else _opened(path)) as raw:
        if path.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield unzipped
        else:
            yield raw


def _opened(path: str) -> BinaryIO:
    from apache_beam.io.filesystems import FileSystems

    if "://" not in path and not os.path.isfile(path):
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such file: {path}")
        # a FIFO or device would block or never end
        raise OSError("not a regular file (a FIFO, socket or device)")
    return FileSystems.open(path, compression_type="uncompressed")


def read_error(error: BaseException) -> tuple[str, str]:
    if isinstance(error, (gzip.BadGzipFile, EOFError, zlib.error)):
        return "corrupt_gzip", f"the gzip stream breaks off ({error or type(error).__name__}); rows after it are lost"
    return "unreadable", f"cannot read the file: {error}"


READ_ERRORS = (OSError, EOFError, zlib.error)


def line_blocks(f: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
    """Blocks of whole lines (each ends in '\n' but perhaps the file's last) of the lines whose first
    byte lies in [start, end) (end None: the end of the file)."""
    data, offset = b"", start  # bytes read and not handed out yet, and the file offset of their first
    if start > 0:
        f.seek(start - 1)
        offset = start - 1
        while True:  # skip the line that began in the previous range (or just its '\n' at start - 1)
            piece = f.read(READ_BYTES)
            if not piece:
                return
            i = piece.find(b"\n")
            if i >= 0:
                data, offset = piece[i + 1:], offset + i + 1
                break
            offset += len(piece)
    while True:
        if end is not None and offset >= end:
            return
        last = data.rfind(b"\n")
        if last >= 0:
            block, data = data[:last + 1], data[last + 1:]
            if end is not None and offset + len(block) > end:
                yield block[:block.find(b"\n", end - offset - 1) + 1]
                return
            yield block
            offset += len(block)
            continue
        parts = [data]  # no whole line yet: read on until one ends (a long line), or the file does
        while True:
            piece = f.read(READ_BYTES)
            if not piece:
                rest = b"".join(parts)
                if rest:
                    yield rest
                return
            parts.append(piece)
            if b"\n" in piece:
                break
        data = b"".join(parts)


def range_rows(path: str, start: int = 0, end: int | None = None) -> int:
    """How many rows a byte range of a line file holds, as `read_rows` numbers them (every line, blank
    or not), from its bytes alone: a newline count, no decoding. A file that cannot be read (wholly or
    from some point) counts the lines read before; its rows after that are a rejection anyway."""
    rows = 0
    try:
        with open_input(path) as f:
            for block in line_blocks(f, start, end):
                rows += block.count(b"\n") + (0 if not block or block.endswith(b"\n") else 1)
    except Exception:  # as read_rows: an unreadable file is that file's rejection, not the job's end
        pass
    return rows


def lines_of(block: bytes) -> list[bytes]:
    """The lines of a block without their '\\n'."""
    lines = block.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def without_cr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def not_utf8(source: str, line: int, error: UnicodeError) -> Rejection:
    if isinstance(error, UnicodeEncodeError):
        return Rejection(source, line, "not_utf8", "the text holds an escaped lone surrogate (\\ud800-\\udfff), which UTF-8 cannot hold")
    return Rejection(source, line, "not_utf8", f"invalid UTF-8 at byte {error.start} (convert the file to UTF-8)")


def other_bom(head: bytes) -> str | None:
    for bom, name in _OTHER_BOMS.items():
        if head.startswith(bom):
            return name
    return None


def without_bom(blocks: Iterator[bytes], source: str, start: int) -> Iterator[bytes | Rejection]:
    """The blocks of a file, its byte order mark dropped (or the file rejected for a non-UTF-8 one)."""
    for i, block in enumerate(blocks):
        if i == 0 and start == 0:
            encoding = other_bom(block)
            if encoding:
                yield Rejection(source, 0, "not_utf8", f"{encoding} text (it starts with a {encoding} byte order mark): convert it to UTF-8")
                return
            if block.startswith(UTF8_BOM):
                block = block[len(UTF8_BOM):]
        yield block


def json_kind(value) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__)




def json_object(source: str, n: int, line: bytes) -> dict | Rejection | None:
    """The JSON object on line `n` (its '\\r' dropped), a rejection, or None when the line is blank."""
    line = without_cr(line)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        return not_utf8(source, n, e)
    if not text.strip():
        return None
    try:
        obj = json.loads(text)
    except ValueError as e:
        return Rejection(source, n, "bad_json", f"{getattr(e, 'msg', e)} at column {getattr(e, 'colno', '?')}")
    except RecursionError:
        return Rejection(source, n, "bad_json", "the line nests lists or objects too deeply")
    if not isinstance(obj, dict):
        return Rejection(source, n, "not_an_object", f"the line holds {json_kind(obj)}, not an object")
    return obj


def csv_records(blocks: Iterable[bytes | Rejection], source: str, fmt: str) -> Iterator[tuple[int, list[str]] | Rejection]:
    """The records of a CSV (or, `fmt` "tsv", tab-separated) file as (first line, fields), the header
    row too, or a `bad_csv` rejection naming its lines; a rejection among `blocks` (the file cut short)
    comes last. A record may span lines inside quotes; fields hold bad UTF-8 as surrogate escapes, so
    only the rows that hold them are rejected by whoever encodes them."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    bad_block: list[Rejection] = []

    def lines() -> Iterator[str]:
        for block in blocks:
            if isinstance(block, Rejection):
                bad_block.append(block)
                return
            # One string per '\n'-line (so the reader's line_num counts lines as the other formats do)
            for piece in _LINE_END.split(block):
                if piece:
                    yield piece.decode("utf-8", "surrogateescape")

    reader = csv.reader(lines(), delimiter="\t" if fmt == "tsv" else ",", strict=True)
    while True:
        first = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            yield Rejection(source, first, "bad_csv", f"{e} (lines {first}-{reader.line_num})")
            continue
        yield first, record
    if bad_block:
        yield bad_block[0]
