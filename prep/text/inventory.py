"""What a text dataset keeps so that an update never reads a document it has seen again.

- Beside each shard, `inventory/<shard file>.jsonl` (prep.core.versions.inventory_file_name): a
  line per record, in the shard's order (`Lines`).
- `inventory/<shard file>.ids` (prep.core.versions.ids_file_name): the vocabulary ids the shard's records use, so that
  an update that shares the shard counts stats.json's vocabulary coverage without reading it.
- `INPUTS_FILE`: one line per input file of the version (`input_state`): its size, the digest of its
  bytes and its line count. An update compares each file of SRC with its line: a file whose bytes are
  the same keeps its records; a line file that only grew (lines appended) keeps them and only its new
  lines are read; any other file is read again whole (beam_jobs.text_update).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import NamedTuple

import numpy as np

from prep.core import layout as layouts
from prep.core.row_files import LINE_FORMATS, READ_BYTES
from prep.core.versions import INVENTORY_DIR

INPUTS_FILE = f"{INVENTORY_DIR}/inputs.jsonl"
DIGEST_CHARS = 32  # hex characters kept of a file's SHA-256 (128 bits)


# A text shard's inventory is one header line naming these columns, then one JSON array per record
# (prep.core.versions.inventory_rows reads both ways): compact, and made per document with little work.
COLUMNS = ("name", "line", "split", "class_name", "source_digest", "digest", "tokens", "oov", "written", "at")
HEADER = json.dumps({"columns": COLUMNS}, separators=(",", ":")).encode("utf-8") + b"\n"


class Lines:
    """Makes a record's inventory line: the name, line, split and class of a document, the digest of
    its text as read (with its class: what prep diff calls unchanged), the digest duplicate detection
    compares (its normalised text), its tokens, out-of-vocabulary tokens and ids written, and where its
    packed token ids start in the record (`at`, to read them back). What many records share (a split,
    a class) is encoded once."""

    def __init__(self):
        self._parts: dict[tuple, tuple[str, str, str]] = {}

    def line(self, source: str, line: int, split: str, label: str | None, text: bytes, digest: bytes,
             tokens: int, oov: int, written: int, at: int) -> bytes:
        """The line of the document at `line` of `source` (0: the whole file), `text` as read."""
        parts = self._parts.get((source, split, label))
        if parts is None:
            file = json.dumps(source, ensure_ascii=False)
            parts = self._parts[source, split, label] = (
                file[:-1], file, f"{json.dumps(split, ensure_ascii=False)},{json.dumps(label, ensure_ascii=False)}")
        name = f'{parts[0]}:{line}"' if line else parts[1]  # Row.identity, as JSON
        return (f'[{name},{line},{parts[2]},"{hashlib.sha256(text).hexdigest()[:16]}","{digest.hex()}",'
                f'{tokens},{oov},{written},{at}]\n').encode("utf-8", "surrogateescape")


def shard_inventory(lines: list[bytes]) -> bytes:
    """A shard's inventory from its records' lines, in the shard's order."""
    return HEADER + b"".join(lines) if lines else b""


def file_of(row: dict) -> str:
    """The input file a record's document came from: its name, less the line a file of many adds."""
    name, line = row["name"], row["line"]
    return name[:-len(f":{line}")] if line else name


def varints(data: bytes) -> np.ndarray:
    """The values of a run of protobuf varints (packed int64 ids), decoded all at once."""
    a = np.frombuffer(data, dtype=np.uint8)
    if not len(a):
        return np.zeros(0, np.int64)
    ends = np.flatnonzero(a < 0x80)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    low = (a & 0x7F).astype(np.int64)
    values = np.zeros(len(ends), np.int64)
    for k in range(int(lengths.max())):
        more = lengths > k
        values[more] |= low[starts[more] + k] << (7 * k)
    return values


def used_ids(records, offsets) -> np.ndarray:
    """The sorted distinct token ids of serialised records, each record's packed ids starting at its offset."""
    return distinct_varints(b"".join(record[at:] for record, at in zip(records, offsets)))


def distinct_varints(data: bytes) -> np.ndarray:
    """The sorted distinct values of a run of protobuf varints: `np.unique(varints(data))`, without
    decoding each one when none is longer than 3 bytes (values below 2**21: every id of a vocabulary
    of up to two million tokens). Each varint is then read as the number its bytes make, last byte
    lowest (a byte before a varint's last belongs to it only if it is a continuation byte, since the
    varint before ends with one below 0x80), marked in a table of 2**24 flags, and only the distinct
    ones are decoded."""
    a = np.frombuffer(data, dtype=np.uint8)
    more = a >= 0x80
    if len(a) >= 3 and (more[:-2] & more[1:-1] & more[2:]).any():
        return np.unique(varints(data))  # a varint of 4 bytes or more
    b = a.astype(np.uint32)
    key = b.copy()
    key[1:] |= (b[:-1] << 8) * more[:-1]
    key[2:] |= (b[:-2] << 16) * (more[:-2] & more[1:-1])
    seen = np.zeros(1 << 24, dtype=np.bool_)
    seen[key[~more]] = True
    k = np.flatnonzero(seen).astype(np.int64)
    one, two, three = k & 0xFF, (k >> 8) & 0xFF, (k >> 16) & 0xFF
    values = np.where(k < 0x100, one, np.where(k < 0x10000, (two & 0x7F) | one << 7,
                                               (three & 0x7F) | (two & 0x7F) << 7 | one << 14))
    return np.sort(values)


def ids_bytes(ids: np.ndarray) -> bytes:
    """`ids` (sorted, distinct) as an ids file holds them: compressed gaps."""
    gaps = np.diff(np.asarray(ids, np.int64), prepend=0).astype("<u4")
    return zlib.compress(gaps.tobytes(), 6)


def ids_of(data: bytes) -> np.ndarray:
    if not data:
        return np.zeros(0, np.int64)
    return np.cumsum(np.frombuffer(zlib.decompress(data), "<u4").astype(np.int64))


def appendable(path: str, fmt: str) -> bool:
    """Whether lines appended to the file can be read on their own: an uncompressed line file's can
    (a CSV record may span lines; gzip cannot be entered half-way)."""
    return fmt in LINE_FORMATS and not path.endswith(".gz")


def input_state(f, source: str, where: layouts.Location | None = None, prefix: int | None = None) -> tuple[dict, str | None]:
    """The INPUTS_FILE line of the file open as `f` (its raw bytes), named `source` under SRC; `where`:
    its place in class folders. With `prefix`, also the digest of its first `prefix` bytes (None when
    it is shorter, or when those bytes do not end a line)."""
    whole, lines, size, head, last = hashlib.sha256(), 0, 0, None, b""
    while chunk := f.read(READ_BYTES):
        if prefix is not None and head is None and size + len(chunk) >= prefix:
            cut = prefix - size
            before = whole.copy()
            before.update(chunk[:cut])
            head = before.hexdigest()[:DIGEST_CHARS] if (chunk[cut - 1:cut] if cut else last) == b"\n" else ""
        whole.update(chunk)
        lines += chunk.count(b"\n")
        size += len(chunk)
        last = chunk[-1:]
    state = {"file": source, "size": size, "digest": whole.hexdigest()[:DIGEST_CHARS], "lines": lines}
    if where is not None:
        state["where"] = [where.split, where.class_name, where.problem]
    return state, head or None


class Change(NamedTuple):
    """What an update does with an input file: "new" or "changed" (read it whole), "unchanged" (keep
    its records), "appended" (keep them, and read its lines from byte `start`, numbered from `first_line`)."""

    kind: str
    start: int = 0
    first_line: int = 1

    @property
    def keeps_records(self) -> bool:
        return self.kind in ("unchanged", "appended")


def compare(old: dict | None, state: dict, head: str | None, can_append: bool) -> Change:
    """How the file `state` describes (INPUTS_FILE's line of it now; `head`: the digest of its first
    bytes, as many as it had before) differs from `old`, its line in the version before."""
    if old is None:
        return Change("new")
    if old.get("where") != state.get("where"):
        return Change("changed")  # moved to another split or class folder: its records are made again
    if old["digest"] == state["digest"]:
        return Change("unchanged")
    if can_append and 0 < old["size"] < state["size"] and head == old["digest"]:
        return Change("appended", old["size"], old["lines"] + 1)
    return Change("changed")
