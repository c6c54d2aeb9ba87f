"""TFRecord framing, written and read in plain Python over any Beam filesystem path.

A TFRecord file is a sequence of records, each framed as::

    uint64  length              little endian, in bytes
    uint32  masked_crc32c(length bytes)
    bytes   data                `length` bytes
    uint32  masked_crc32c(data)

with ``masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2**32)``; the whole
stream may be gzip (or zlib) compressed. The Beam jobs write each shard with
``write_records`` (deterministic bytes, temporary name then rename) and ``prep verify``
reads every shard with ``read_records``, which checks both CRCs of every record and says
exactly where a file is broken. Beside an uncompressed shard ``write_records`` can write its record
index: one line ``"{offset} {size}"`` per record (where its frame starts and its size, header and CRCs
included), NVIDIA DALI's tfrecord2idx format, which prep's readers slice records out of the shard's
bytes with (readers/pipeline.py) and DALI's and PyTorch's TFRecord readers take as it is. Paths go through ``apache_beam.io.filesystems.FileSystems``
so they may be local or ``gs://``; Beam is imported only inside the functions that need it.
"""

from __future__ import annotations

import functools
import logging
import struct
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

COMPRESSIONS = ("none", "gzip")
"""Compressions a shard can be written with; the values stored in schema.json."""

READ_COMPRESSIONS = COMPRESSIONS + ("zlib",)
"""Compressions ``read_records`` understands: the written ones plus TensorFlow's "ZLIB"."""

MAX_RECORD_BYTES = 2**31
"""Largest believable record, in bytes: a serialized protobuf (tf.train.Example) is < 2 GiB."""

_SUFFIXES = {"none": ".tfrecord", "gzip": ".tfrecord.gz"}
_HEADER = struct.Struct("<QI")  # length, masked CRC of the 8 length bytes
_FOOTER = struct.Struct("<I")  # masked CRC of the data
_LENGTH = struct.Struct("<Q")
HEADER_BYTES = _HEADER.size  # 12: a framed record's data starts here
FOOTER_BYTES = _FOOTER.size  # 4: ... and ends this many bytes before its end
_CHUNK_BYTES = 1 << 20  # read and write granularity: large enough that per-call overhead vanishes
_MAX_PIECE_BYTES = 1 << 24  # one read for a huge record never asks for more than 16 MiB at once
_GZIP_MAGIC = b"\x1f\x8b"
# A fixed gzip member header: deflate, no flags, mtime 0, no extra flags, OS 255 ("unknown").
# Written by hand because zlib's own header stores the build's OS code and gzip.GzipFile stores
# the file name (here a random temporary name), either of which would make shards differ.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_GZIP_LEVEL = 6  # zlib's and TensorFlow's default trade-off between size and speed
_ZLIB_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "zlib": zlib.MAX_WBITS}


class RecordError(Exception):
    """A TFRecord file is broken at a known place.

    Attributes:
        path: the file, as given to ``read_records``.
        index: 0-based number of the record being read when the problem was found.
        offset: byte offset of that record's start in the uncompressed stream.
        problem: what is wrong, and what to do, for a person.
        kind: a stable short name for the problem, for programs: one of "truncated_header",
            "length_crc", "bad_length", "truncated_data", "data_crc", "bad_stream".
    """

    def __init__(self, path: str, index: int, offset: int, problem: str, kind: str) -> None:
        super().__init__(path, index, offset, problem, kind)
        self.path = path
        self.index = index
        self.offset = offset
        self.problem = problem
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.path}: record {self.index} at byte {self.offset}: {self.problem}"


@functools.cache
def _crc32c_fn() -> Callable[[bytes], int]:
    """Return the fastest available CRC-32C function (built once, on first use)."""
    try:
        import google_crc32c

        return google_crc32c.value
    except ImportError:
        pass
    try:
        import crcmod.predefined
    except ImportError as err:
        raise ImportError(
            "TFRecord CRCs need crcmod or google-crc32c: "
            "pip install 'apache-beam[tfrecord]' (or google-crc32c)"
        ) from err
    return crcmod.predefined.mkPredefinedCrcFun("crc-32c")


def _masked_crc(crc: int) -> int:
    """Apply TFRecord's CRC mask to a 32-bit CRC-32C value."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _check_compression(compression: str, allowed: tuple[str, ...]) -> None:
    """Raise ValueError naming ``compression`` if it is not in ``allowed``."""
    if compression not in allowed:
        raise ValueError(
            f"compression {compression!r} is not supported: use one of {', '.join(allowed)} "
            "(the 'compression' value of schema.json)"
        )


def shard_suffix(compression: str) -> str:
    """Return the file name ending for shards written with ``compression``."""
    _check_compression(compression, COMPRESSIONS)
    return _SUFFIXES[compression]


def encode_record(data: bytes) -> bytes:
    """Return one record framed as TFRecord: header (12 bytes), ``data``, footer (4 bytes)."""
    crc = _crc32c_fn()
    length = struct.pack("<Q", len(data))
    return b"".join(
        (
            length,
            _FOOTER.pack(_masked_crc(crc(length))),
            data,
            _FOOTER.pack(_masked_crc(crc(data))),
        )
    )


class _GzipDeflater:
    """Deterministic gzip encoder: fixed header, raw deflate, CRC-32/size trailer."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._crc = 0
        self._size = 0
        self._started = False

    def compress(self, data: bytes) -> bytes:
        """Return the compressed bytes for ``data`` that are ready (may be empty)."""
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        out = self._deflate.compress(data)
        if not self._started:
            self._started = True
            return _GZIP_HEADER + out
        return out

    def flush(self) -> bytes:
        """Return the rest of the stream: pending deflate output and the gzip trailer."""
        head = b"" if self._started else _GZIP_HEADER
        self._started = True
        tail = struct.pack("<II", self._crc, self._size & 0xFFFFFFFF)
        return head + self._deflate.flush() + tail


def write_records(path: str, records: Iterable[bytes], compression: str, framed: bool = False,
                  index_path: str | None = None) -> tuple[int, int]:
    """Write ``records`` as one TFRecord file at ``path`` (local or any Beam filesystem); with
    ``framed``, each record is already framed by ``encode_record`` (framed where there are cores to
    spare, before the one writer of a shard runs); with ``index_path`` (uncompressed shards only), the
    file's record index there too (``index_text``), written before the shard takes its name.

    The bytes go to a temporary sibling (``path + ".tmp-<uuid>"``) that is renamed onto
    ``path`` only once complete, so a failed or retried worker never leaves a partial file
    under the final name; on any error the temporary file is deleted and the error re-raised.
    The same records always give the same bytes, gzip included (no time or name in the header).

    Returns:
        (number of records written, size of the file on disk in bytes).
    """
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    _check_compression(compression, COMPRESSIONS)
    if index_path is not None and compression != "none":
        raise ValueError(f"a record index points into uncompressed shards, and this one is {compression}")
    frames: list[int] | None = [] if index_path is not None else None
    tmp_path = f"{path}.tmp-{uuid.uuid4().hex}"
    # UNCOMPRESSED: this module compresses itself; Beam's AUTO would choose from the file name.
    handle = FileSystems.create(tmp_path, compression_type=CompressionTypes.UNCOMPRESSED)
    try:
        try:
            counts = _write_framed(handle, records, compression, framed, frames)
        finally:
            handle.close()
        if index_path is not None:
            write_file(index_path, index_text(frames))
        FileSystems.rename([tmp_path], [path])
    except BaseException:
        _delete_quietly(tmp_path)
        raise
    return counts


def frame_size(data: bytes) -> int:
    """Bytes a record of ``data`` takes in an uncompressed file: header, data and CRC."""
    return len(data) + HEADER_BYTES + FOOTER_BYTES


def index_text(frame_sizes: Iterable[int]) -> bytes:
    """The record index of a file whose records' frames (header, data, CRC) have these sizes, in order:
    a line ``"{offset} {size}"`` per record, as DALI's tfrecord2idx writes it."""
    lines, offset = [], 0
    for size in frame_sizes:
        lines.append(f"{offset} {size}\n")
        offset += size
    return "".join(lines).encode("ascii")


def write_file(path: str, data: bytes) -> None:
    """Writes a whole file (an index, a vocabulary, stats) through a temporary sibling renamed onto
    ``path``, so a reader never sees half of it; the temporary file is deleted on failure."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    tmp_path = f"{path}.tmp-{uuid.uuid4().hex}"
    try:
        with FileSystems.create(tmp_path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            handle.write(data)
        if FileSystems.exists(path):
            FileSystems.delete([path])
        FileSystems.rename([tmp_path], [path])
    except BaseException:
        _delete_quietly(tmp_path)
        raise


def _write_framed(handle: BinaryIO, records: Iterable[bytes], compression: str, framed: bool = False,
                  frames: list[int] | None = None) -> tuple[int, int]:
    """Frame ``records`` into ``handle`` in ~1 MiB blocks, appending each frame's size to ``frames``
    when given; return (records, bytes written)."""
    deflater = _GzipDeflater() if compression == "gzip" else None
    num_records = 0
    num_bytes = 0
    pending = bytearray()

    def emit(block: bytes) -> None:
        nonlocal num_bytes
        if block:
            handle.write(block)
            num_bytes += len(block)

    crc = _crc32c_fn()
    pack_length, pack_crc = _LENGTH.pack, _FOOTER.pack
    for data in records:
        if frames is not None:
            frames.append(len(data) if framed else frame_size(data))
        if framed:
            pending += data
        else:  # encode_record, with its look-ups hoisted out of the loop
            length = pack_length(len(data))
            c = crc(length)
            d = crc(data)
            pending += length
            pending += pack_crc((((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF)
            pending += data
            pending += pack_crc((((d >> 15) | (d << 17)) + 0xA282EAD8) & 0xFFFFFFFF)
        num_records += 1
        if len(pending) >= _CHUNK_BYTES:
            block = bytes(pending)
            pending.clear()
            emit(deflater.compress(block) if deflater else block)
    block = bytes(pending)
    emit(deflater.compress(block) + deflater.flush() if deflater else block)
    return num_records, num_bytes


def _delete_quietly(path: str) -> None:
    """Delete ``path`` if it exists, logging (not raising) a failure so the first error wins."""
    from apache_beam.io.filesystems import FileSystems

    try:
        if FileSystems.exists(path):
            FileSystems.delete([path])
    except Exception:  # noqa: BLE001 - cleanup must not hide the error that caused it
        logging.getLogger(__name__).warning(
            "could not delete temporary file %s; delete it by hand", path, exc_info=True
        )


class _StreamError(Exception):
    """The compressed stream itself is broken; turned into a RecordError by the reader."""


class _Inflater:
    """A ``read(n)`` over a gzip or zlib stream, decompressing at most ``n`` bytes at a time."""

    def __init__(self, raw: BinaryIO, compression: str) -> None:
        self._raw = raw
        self._wbits = _ZLIB_WBITS[compression]
        self._compression = compression
        self._inflate = zlib.decompressobj(self._wbits)
        self._seen_input = False

    def read(self, n: int) -> bytes:
        """Return up to ``n`` decompressed bytes (at least 1), or b"" at the stream's clean end."""
        try:
            return self._read(n)
        except zlib.error as err:
            raise _StreamError(
                f"{self._compression} stream is corrupted (zlib: {err}); "
                "the file is damaged, write it again"
            ) from err

    def _read(self, n: int) -> bytes:
        while True:
            if self._inflate.eof:
                rest = self._inflate.unused_data
                while len(rest) < len(_GZIP_MAGIC):  # a chunk boundary may split the next magic
                    more = self._raw.read(_CHUNK_BYTES)
                    if not more:
                        break
                    rest += more
                if not rest:
                    return b""
                if self._compression == "gzip" and rest.startswith(_GZIP_MAGIC):
                    # Concatenated gzip members form one stream (as `cat a.gz b.gz` makes).
                    self._inflate = zlib.decompressobj(self._wbits)
                    out = self._inflate.decompress(rest, n)
                    if out:
                        return out
                    continue
                raise _StreamError(
                    f"garbage after the end of the {self._compression} stream (at least "
                    f"{len(rest)} bytes); the file is damaged, write it again"
                )
            feed = self._inflate.unconsumed_tail or self._raw.read(_CHUNK_BYTES)
            if not feed:
                if not self._seen_input:
                    return b""  # a zero-byte file holds zero records, as TensorFlow reads it
                out = self._inflate.decompress(b"", n)  # output zlib may still hold back
                if out:
                    return out
                if self._inflate.eof:
                    continue
                raise _StreamError(
                    f"{self._compression} stream ends early (file truncated); write it again"
                )
            self._seen_input = True
            out = self._inflate.decompress(feed, n)
            if out:
                return out


class _ByteWindow:
    """Hands out exact-size pieces of a stream, reading it in large chunks; tracks the offset."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self._buf = b""
        self._pos = 0
        self.offset = 0  # bytes handed out so far = offset of the next byte in the stream

    def take(self, n: int) -> bytes:
        """Return the next ``n`` bytes; fewer only when the stream ends first."""
        end = self._pos + n
        if end <= len(self._buf):
            out = self._buf[self._pos : end]
            self._pos = end
            self.offset += n
            return out
        parts = [self._buf[self._pos :]]
        have = len(parts[0])
        self._buf = b""
        self._pos = 0
        while have < n:
            need = n - have
            if need >= _CHUNK_BYTES:  # a big record: read it straight, in bounded pieces
                piece = self._read(min(need, _MAX_PIECE_BYTES))
                if not piece:
                    break
                parts.append(piece)
                have += len(piece)
            else:
                piece = self._read(_CHUNK_BYTES)
                if not piece:
                    break
                if len(piece) > need:
                    parts.append(piece[:need])
                    self._buf = piece
                    self._pos = need
                    have = n
                else:
                    parts.append(piece)
                    have += len(piece)
        out = b"".join(parts)
        self.offset += len(out)
        return out


def _stream_size(handle: BinaryIO) -> int | None:
    """Return the size of a seekable file in bytes (position left at 0), or None if unknown."""
    try:
        if not handle.seekable():
            return None
        size = handle.seek(0, 2)
        handle.seek(0)
        return size if isinstance(size, int) else handle.tell()
    except (OSError, AttributeError, NotImplementedError):
        return None


def _iter_framed(
    window: _ByteWindow, path: str, check_crc: bool, size: int | None
) -> Iterator[bytes]:
    """Yield each record's data from ``window``, raising RecordError where the framing breaks.

    ``size`` is the length of the uncompressed stream in bytes when known, so that a length
    header pointing past the end is reported before anything is read for it.
    """
    crc = _crc32c_fn()
    index = 0
    while True:
        start = window.offset
        try:
            data = _read_framed(window, check_crc, size, crc)
        except _FramingError as err:
            raise RecordError(path, index, start, err.problem, err.kind) from None
        except _StreamError as err:
            raise RecordError(path, index, start, str(err), "bad_stream") from err
        if data is None:
            return
        yield data
        index += 1


class _FramingError(Exception):
    """One record's framing is broken; the caller adds the path, index and offset."""

    def __init__(self, problem: str, kind: str) -> None:
        super().__init__(problem, kind)
        self.problem = problem
        self.kind = kind


def _read_framed(
    window: _ByteWindow, check_crc: bool, size: int | None, crc: Callable[[bytes], int]
) -> bytes | None:
    """Read one record from ``window`` and return its data, or None at a clean end of file."""
    header = window.take(HEADER_BYTES)
    if not header:
        return None
    if len(header) < HEADER_BYTES:
        raise _FramingError(
            f"file ends {len(header)} bytes into the {HEADER_BYTES}-byte length header "
            "(file truncated; write it again)",
            "truncated_header",
        )
    length, length_crc = _HEADER.unpack(header)
    if check_crc and _masked_crc(crc(header[:8])) != length_crc:
        raise _FramingError(
            f"length CRC mismatch (header says {length} bytes; file corrupted, write it again)",
            "length_crc",
        )
    if length > MAX_RECORD_BYTES:
        raise _FramingError(
            f"length header says {length} bytes, more than the {MAX_RECORD_BYTES}-byte maximum "
            "(file corrupted, or not a TFRecord file)",
            "bad_length",
        )
    left = None if size is None else size - window.offset
    if left is not None and length + FOOTER_BYTES > left:
        if check_crc:  # the length passed its CRC, so the file was cut short
            raise _FramingError(
                f"record needs {length + FOOTER_BYTES} bytes (data and CRC) after its header "
                f"but the file ends after {left} (file truncated; write it again)",
                "truncated_data",
            )
        raise _FramingError(
            f"length header says {length} bytes but only {left} bytes follow "
            "(file corrupted or truncated)",
            "bad_length",
        )
    data = window.take(length)
    footer = window.take(FOOTER_BYTES) if len(data) == length else b""
    if len(footer) < FOOTER_BYTES:
        raise _FramingError(
            f"file ends {len(data) + len(footer)} bytes into the record's "
            f"{length + FOOTER_BYTES} bytes of data and CRC (file truncated; write it again)",
            "truncated_data",
        )
    if check_crc and _masked_crc(crc(data)) != _FOOTER.unpack(footer)[0]:
        raise _FramingError("data CRC mismatch (file corrupted; write it again)", "data_crc")
    return data


def read_records(path: str, compression: str, *, check_crc: bool = True) -> Iterator[bytes]:
    """Yield the data of each record in the TFRecord file at ``path``, in order, streaming.

    Reads in 1 MiB chunks, so memory stays at about one chunk plus one record whatever the
    file size. With ``check_crc`` both CRCs of every record are verified.

    Args:
        path: local or Beam filesystem path (e.g. gs://...).
        compression: "none", "gzip" or "zlib" (see ``detect_compression``).
        check_crc: verify the length and data CRCs of every record.

    Raises:
        RecordError: the file is truncated, corrupted or not TFRecord; says which record,
            where (offset in the uncompressed stream), and what is wrong.
        ValueError: ``compression`` is not one of READ_COMPRESSIONS.
    """
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    _check_compression(compression, READ_COMPRESSIONS)
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        if compression == "none":
            size = _stream_size(handle)
            yield from _iter_framed(_ByteWindow(handle.read), path, check_crc, size)
        else:
            inflater = _Inflater(handle, compression)
            yield from _iter_framed(_ByteWindow(inflater.read), path, check_crc, None)


def count_records(path: str, compression: str) -> int:
    """Return the number of records in the file at ``path``, reading it all and checking CRCs."""
    return sum(1 for _ in read_records(path, compression, check_crc=True))


def detect_compression(path: str) -> str:
    """Return "gzip", "zlib" or "none" for the file at ``path``, from its first 12 bytes.

    A valid TFRecord length header (its masked CRC matches) means "none", since a
    record length can itself start with the gzip magic bytes; otherwise the gzip magic
    means "gzip" and a valid zlib header means "zlib". An empty or unrecognisable file is
    "none", and ``read_records`` then reports what is wrong with it.
    """
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        head = handle.read(HEADER_BYTES)
    if len(head) == HEADER_BYTES:
        length_crc = _HEADER.unpack(head)[1]
        if _masked_crc(_crc32c_fn()(head[:8])) == length_crc:
            return "none"
    if head.startswith(_GZIP_MAGIC + b"\x08"):
        return "gzip"
    if len(head) >= 2 and _is_zlib_header(head[0], head[1]):
        return "zlib"
    return "none"


def _is_zlib_header(cmf: int, flg: int) -> bool:
    """True if two bytes form a zlib (RFC 1950) header: deflate, window <= 32 KiB, no dict."""
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf * 256 + flg) % 31 == 0 and not flg & 0x20
