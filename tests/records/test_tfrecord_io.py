"""Tests for prep.records.tfrecord_io: TFRecord framing written and read in plain Python."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prep.records import tfrecord_io
from prep.records.tfrecord_io import (
    RecordError,
    count_records,
    detect_compression,
    encode_record,
    frame_size,
    index_text,
    read_records,
    shard_suffix,
    write_records,
)
from tests.memfs import MEM_SCHEME
from tests.memfs import MemFileSystem as _MemFileSystem

# A record over 1 MiB crosses the reader's chunk boundary and takes its big-record path.
MIXED_RECORDS = [b"", b"a", bytes(range(256)) * 20, b"", os.urandom(1_500_000), b"tail"]
TF_COMPRESSION = {"none": "", "gzip": "GZIP", "zlib": "ZLIB"}
class Store:
    """Where a test keeps its files: a local directory or the in-memory Beam filesystem."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self._root = str(tmp_path) if kind == "local" else f"{MEM_SCHEME}://bucket/{tmp_path.name}"

    def path(self, name: str) -> str:
        return f"{self._root}/{name}"

    def put(self, name: str, data: bytes) -> str:
        path = self.path(name)
        if self.kind == "local":
            Path(path).write_bytes(data)
        else:
            _MemFileSystem.files[path] = data
        return path

    def get(self, name: str) -> bytes:
        path = self.path(name)
        return Path(path).read_bytes() if self.kind == "local" else _MemFileSystem.files[path]

    def names(self) -> list[str]:
        if self.kind == "local":
            return sorted(os.listdir(self._root))
        prefix = self._root + "/"
        return sorted(p[len(prefix):] for p in _MemFileSystem.files if p.startswith(prefix))


@pytest.fixture(params=["local", "mem"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    _MemFileSystem.files.clear()
    yield Store(request.param, tmp_path)
    _MemFileSystem.files.clear()


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("tensorflow")


def _framed(records: list[bytes]) -> bytes:
    return b"".join(encode_record(r) for r in records)


def _compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "zlib":
        return zlib.compress(data)
    return data


def _starts(records: list[bytes]) -> list[int]:
    """Byte offset of each record's start in the uncompressed stream, then the stream's end."""
    offsets = [0]
    for record in records:
        offsets.append(offsets[-1] + 16 + len(record))
    return offsets


# --- interoperability with TensorFlow -------------------------------------------------------


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_tensorflow_reads_what_we_write(tf, tmp_path: Path, compression: str) -> None:
    path = str(tmp_path / f"shard{shard_suffix(compression)}")
    num, size = write_records(path, iter(MIXED_RECORDS), compression)

    got = [t.numpy() for t in tf.data.TFRecordDataset(path, TF_COMPRESSION[compression])]

    assert got == MIXED_RECORDS
    assert (num, size) == (len(MIXED_RECORDS), os.path.getsize(path))


@pytest.mark.parametrize("compression", ["none", "gzip", "zlib"])
def test_we_read_what_tensorflow_writes(tf, tmp_path: Path, compression: str) -> None:
    path = str(tmp_path / "from_tf.tfrecord")
    options = tf.io.TFRecordOptions(compression_type=TF_COMPRESSION[compression])
    with tf.io.TFRecordWriter(path, options) as writer:
        for record in MIXED_RECORDS:
            writer.write(record)

    assert list(read_records(path, compression)) == MIXED_RECORDS
    assert count_records(path, compression) == len(MIXED_RECORDS)
    assert detect_compression(path) == compression


def test_uncompressed_bytes_equal_tensorflows(tf, tmp_path: Path) -> None:
    ours, theirs = str(tmp_path / "ours.tfrecord"), str(tmp_path / "theirs.tfrecord")
    with tf.io.TFRecordWriter(theirs) as writer:
        for record in MIXED_RECORDS:
            writer.write(record)
    write_records(ours, MIXED_RECORDS, "none")

    assert Path(ours).read_bytes() == Path(theirs).read_bytes() == _framed(MIXED_RECORDS)


# --- writing --------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["none", "gzip"])
@pytest.mark.parametrize("records", [[], [b""], [b"", b""]], ids=["no-records", "one-empty", "two-empty"])
def test_empty_records_and_empty_files(store: Store, compression: str, records: list[bytes]) -> None:
    path = store.path("empty" + shard_suffix(compression))

    num, size = write_records(path, records, compression)

    assert (num, size) == (len(records), len(store.get("empty" + shard_suffix(compression))))
    assert list(read_records(path, compression)) == records
    if compression == "none" and not records:
        assert size == 0


@pytest.mark.parametrize("compression", ["none", "gzip", "zlib"])
def test_zero_byte_file_holds_zero_records(store: Store, compression: str) -> None:
    path = store.put("zero", b"")  # TensorFlow reads such a file as empty in every compression

    assert list(read_records(path, compression)) == []
    assert detect_compression(path) == "none"


def test_gzip_output_is_deterministic(store: Store) -> None:
    records = [os.urandom(3000) for _ in range(700)] + [b"end"]  # > 2 MiB: several deflate calls
    first, second = store.path("a.tfrecord.gz"), store.path("b.tfrecord.gz")
    write_records(first, records, "gzip")
    write_records(second, iter(records), "gzip")

    data = store.get("a.tfrecord.gz")
    assert data == store.get("b.tfrecord.gz")
    assert data[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # mtime 0, no name, OS unknown
    assert gzip.decompress(data) == _framed(records)


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_records_framed_beforehand_give_the_same_file(store: Store, compression: str) -> None:
    records = [os.urandom(n) for n in (0, 1, 300, 3000) for _ in range(200)] + MIXED_RECORDS
    write_records(store.path("a"), records, compression)
    write_records(store.path("b"), [encode_record(r) for r in records], compression, framed=True)
    assert store.get("a") == store.get("b")


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_successful_write_leaves_only_the_final_file(store: Store, compression: str) -> None:
    name = "train-00000-of-00001" + shard_suffix(compression)
    write_records(store.path(name), MIXED_RECORDS, compression)

    assert store.names() == [name]


@pytest.mark.parametrize("compression", ["none", "gzip"])
@pytest.mark.parametrize("previous", [None, b"an earlier complete shard"], ids=["new", "rewrite"])
def test_failed_write_leaves_no_partial_or_temporary_file(
    store: Store, compression: str, previous: bytes | None
) -> None:
    name = "train-00000-of-00001" + shard_suffix(compression)
    if previous is not None:
        store.put(name, previous)

    def records() -> Iterator[bytes]:
        for _ in range(30):  # 3 MiB: some bytes reach the temporary file before the failure
            yield os.urandom(100_000)
        raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        write_records(store.path(name), records(), compression)

    assert store.names() == ([] if previous is None else [name])
    if previous is not None:
        assert store.get(name) == previous


@settings(max_examples=40, deadline=None)
@given(records=st.lists(st.binary(max_size=300), max_size=20),
       compression=st.sampled_from(["none", "gzip"]))
def test_round_trip_any_records(records: list[bytes], compression: str) -> None:
    path = f"{MEM_SCHEME}://bucket/hypothesis/shard"
    write_records(path, records, compression)

    assert list(read_records(path, compression)) == records
    assert list(read_records(path, compression, check_crc=False)) == records
    _MemFileSystem.files.clear()


def test_encode_record_layout() -> None:
    framed = encode_record(b"hello")

    assert len(framed) == 16 + 5
    assert struct.unpack("<Q", framed[:8]) == (5,)
    assert framed[12:17] == b"hello"


@pytest.mark.parametrize(("compression", "suffix"), [("none", ".tfrecord"), ("gzip", ".tfrecord.gz")])
def test_shard_suffix(compression: str, suffix: str) -> None:
    assert shard_suffix(compression) == suffix


@pytest.mark.parametrize("call", [
    lambda p: shard_suffix("GZIP"),
    lambda p: write_records(p, [b"x"], "zlib"),
    lambda p: list(read_records(p, "snappy")),
], ids=["suffix", "write", "read"])
def test_unknown_compression_is_named(tmp_path: Path, call) -> None:
    with pytest.raises(ValueError, match=r"compression '\w+' is not supported: use one of none, gzip"):
        call(str(tmp_path / "x.tfrecord"))


# --- reading broken files -------------------------------------------------------------------

# Record 1 is the target: it starts at byte 28 (16 + 12 bytes for record 0) and holds 1000 bytes.
BROKEN_RECORDS = [b"first record", b"x" * 1000, b"third"]
TARGET_START = _starts(BROKEN_RECORDS)[1]


@pytest.mark.parametrize("compression", ["none", "gzip"])
@pytest.mark.parametrize(("cut", "kind"), [
    (1, "truncated_header"),
    (11, "truncated_header"),
    (12, "truncated_data"),
    (12 + 500, "truncated_data"),
    (12 + 1000 + 2, "truncated_data"),  # inside the data CRC
])
def test_truncated_file_names_record_and_offset(
    store: Store, compression: str, cut: int, kind: str
) -> None:
    data = _framed(BROKEN_RECORDS)[: TARGET_START + cut]
    path = store.put("cut.tfrecord", _compress(data, compression))

    reader = read_records(path, compression)
    assert next(reader) == BROKEN_RECORDS[0]
    with pytest.raises(RecordError) as caught:
        next(reader)

    err = caught.value
    assert (err.path, err.index, err.offset, err.kind) == (path, 1, TARGET_START, kind)
    assert str(err).startswith(f"{path}: record 1 at byte {TARGET_START}: ")
    assert "truncated" in err.problem and "\n" not in str(err)


def test_truncation_at_a_record_boundary_is_a_shorter_file(store: Store) -> None:
    path = store.put("cut.tfrecord", _framed(BROKEN_RECORDS)[:TARGET_START])

    assert list(read_records(path, "none")) == BROKEN_RECORDS[:1]


@pytest.mark.parametrize("compression", ["none", "gzip"])
@pytest.mark.parametrize(("flip", "kind"), [
    (0, "length_crc"),  # lowest length byte
    (7, "length_crc"),  # highest length byte
    (8, "length_crc"),  # length CRC
    (11, "length_crc"),
    (12, "data_crc"),  # first data byte
    (12 + 999, "data_crc"),  # last data byte
    (12 + 1000, "data_crc"),  # data CRC
    (12 + 1003, "data_crc"),
])
def test_flipped_byte_names_record_and_offset(
    store: Store, compression: str, flip: int, kind: str
) -> None:
    data = bytearray(_framed(BROKEN_RECORDS))
    data[TARGET_START + flip] ^= 0x01
    path = store.put("flipped.tfrecord", _compress(bytes(data), compression))

    with pytest.raises(RecordError) as caught:
        list(read_records(path, compression))

    err = caught.value
    assert (err.index, err.offset, err.kind) == (1, TARGET_START, kind)
    assert "CRC mismatch" in str(err)


def test_without_crc_check_a_flipped_data_byte_goes_unnoticed(store: Store) -> None:
    data = bytearray(_framed(BROKEN_RECORDS))
    data[TARGET_START + 12] ^= 0x01
    path = store.put("flipped.tfrecord", bytes(data))

    assert list(read_records(path, "none", check_crc=False))[1] == b"y" + b"x" * 999


@pytest.mark.parametrize("compression", ["none", "gzip"])
@pytest.mark.parametrize("length", [2**40, 2**31 + 1])
def test_absurd_length_is_refused_before_reading(store: Store, compression: str, length: int) -> None:
    data = bytearray(_framed(BROKEN_RECORDS))
    data[TARGET_START : TARGET_START + 8] = struct.pack("<Q", length)
    path = store.put("huge.tfrecord", _compress(bytes(data), compression))

    with pytest.raises(RecordError) as caught:
        list(read_records(path, compression, check_crc=False))

    assert (caught.value.index, caught.value.offset, caught.value.kind) == (1, TARGET_START, "bad_length")


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_length_past_the_end_is_refused(store: Store, compression: str) -> None:
    data = bytearray(_framed(BROKEN_RECORDS))
    data[TARGET_START : TARGET_START + 8] = struct.pack("<Q", 5000)  # 1000 bytes would be right
    path = store.put("long.tfrecord", _compress(bytes(data), compression))

    with pytest.raises(RecordError) as caught:
        list(read_records(path, compression, check_crc=False))

    # The size of a plain seekable file is known up front; otherwise the end is met while reading.
    size_known = compression == "none" and store.kind == "local"
    expected_kind = "bad_length" if size_known else "truncated_data"
    assert (caught.value.index, caught.value.offset, caught.value.kind) == (1, TARGET_START, expected_kind)


GZIP_RECORDS = [os.urandom(20_000) for _ in range(4)]  # random bytes: compressed size ~ raw size


@pytest.mark.parametrize("keep", [5, 10, 100, 30_000, 60_001, -8, -1], ids=lambda k: f"keep{k}")
def test_truncated_gzip_stream(store: Store, keep: int) -> None:
    whole = gzip.compress(_framed(GZIP_RECORDS), mtime=0)
    cut = whole[:keep]
    path = store.put("cut.tfrecord.gz", cut)
    # The reader fails at the first record the surviving bytes cannot complete.
    available = len(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut))
    ends = _starts(GZIP_RECORDS)[1:]
    index = sum(end <= available for end in ends)

    reader = read_records(path, "gzip")
    assert [next(reader) for _ in range(index)] == GZIP_RECORDS[:index]
    with pytest.raises(RecordError) as caught:
        next(reader)

    err = caught.value
    assert (err.index, err.offset, err.kind) == (index, _starts(GZIP_RECORDS)[index], "bad_stream")
    assert "gzip stream ends early" in str(err)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda gz: gz[:-8] + bytes([gz[-8] ^ 1]) + gz[-7:], "incorrect data check"),  # gzip CRC
    (lambda gz: gz + b"junk", "garbage after the end of the gzip stream"),
    (lambda gz: gz[:10] + b"\xff" * 20 + gz[30:], "gzip stream is corrupted"),
], ids=["trailer-crc", "trailing-garbage", "broken-deflate"])
def test_damaged_gzip_stream(store: Store, damage, message: str) -> None:
    path = store.put("bad.tfrecord.gz", damage(gzip.compress(_framed(BROKEN_RECORDS), mtime=0)))

    with pytest.raises(RecordError, match=message) as caught:
        list(read_records(path, "gzip"))

    assert caught.value.kind == "bad_stream"


def _stored_gzip_member(size: int) -> tuple[bytes, bytes]:
    """Return (record, gzip member of exactly ``size`` bytes holding it), stored uncompressed."""
    length = size - 200
    while True:
        record = b"s" * length
        member = gzip.compress(encode_record(record), compresslevel=0, mtime=0)
        if len(member) == size:
            return record, member
        length += size - len(member)


@pytest.mark.parametrize("shift", [-1, 0, 1, None], ids=["chunk-1", "chunk", "chunk+1", "small"])
def test_concatenated_gzip_members_read_as_one_stream(store: Store, shift: int | None) -> None:
    # A first member ending one byte before, at, or after the reader's chunk boundary splits
    # the second member's magic bytes across reads, or not.
    if shift is None:
        first, member = b"small", gzip.compress(encode_record(b"small"))
    else:
        first, member = _stored_gzip_member(tfrecord_io._CHUNK_BYTES + shift)
    path = store.put("two.tfrecord.gz", member + gzip.compress(_framed(BROKEN_RECORDS)))

    assert list(read_records(path, "gzip")) == [first, *BROKEN_RECORDS]


def test_record_error_pickles_and_reads_as_one_line() -> None:
    err = RecordError("train-00003-of-00016.tfrecord", 41, 1048576,
                      "data CRC mismatch (file corrupted; write it again)", "data_crc")
    copy = pickle.loads(pickle.dumps(err))

    assert str(copy) == ("train-00003-of-00016.tfrecord: record 41 at byte 1048576: "
                         "data CRC mismatch (file corrupted; write it again)")
    assert (copy.path, copy.index, copy.offset, copy.kind) == (err.path, 41, 1048576, "data_crc")


# --- detecting compression ------------------------------------------------------------------


@pytest.mark.parametrize(("first_length", "compression"), [
    (5, "none"),
    (0x8B1F, "none"),  # a plain file whose first bytes are the gzip magic
    (0x9C78, "none"),  # ... or a valid zlib header
    (5, "gzip"),
    (5, "zlib"),
])
def test_detect_compression(store: Store, first_length: int, compression: str) -> None:
    path = store.put("shard", _compress(_framed([b"z" * first_length, b"next"]), compression))

    assert detect_compression(path) == compression
    assert count_records(path, detect_compression(path)) == 2


@pytest.mark.parametrize("data", [b"\x1f\x8b\x08", b"x\x9c", b"not a tfrecord file at all"],
                         ids=["gzip-magic", "zlib-header", "garbage"])
def test_detect_compression_of_short_or_foreign_files(store: Store, data: bytes) -> None:
    expected = {b"\x1f": "gzip", b"x": "zlib"}.get(data[:1], "none")

    assert detect_compression(store.put("odd", data)) == expected


def test_module_imports_without_beam_or_tensorflow() -> None:
    code = ("import sys, prep.records.tfrecord_io; "
            "heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('apache_beam', 'tensorflow', 'crcmod')]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(tfrecord_io.__file__).parents[2])

    assert out.stdout.strip() == "[]"


# --- the record index --------------------------------------------------------------------------


def _dali_index(data: bytes) -> bytes:
    """What NVIDIA DALI's tfrecord2idx writes for a file: it reads each length header and skips the
    record, writing "{offset} {size}" (the frame's start and its whole size) per record."""
    lines, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack_from("<q", data, offset)
        lines.append(f"{offset} {16 + length}\n")
        offset += 16 + length
    return "".join(lines).encode("ascii")


@pytest.mark.parametrize("framed", [False, True], ids=["records", "framed"])
def test_the_record_index_is_the_one_dalis_tfrecord2idx_makes(store: Store, framed: bool) -> None:
    records = [os.urandom(n) for n in (0, 1, 300, 3000) for _ in range(20)] + MIXED_RECORDS
    written = [encode_record(r) for r in records] if framed else records
    write_records(store.path("s.tfrecord"), written, "none", framed=framed, index_path=store.path("index/s.idx"))
    data = store.get("s.tfrecord")
    index = store.get("index/s.idx")
    assert index == _dali_index(data) == index_text(frame_size(r) for r in records)
    for line, record in zip(index.decode().splitlines(), records):
        offset, size = map(int, line.split())
        assert data[offset + 12:offset + size - 4] == record
    assert store.names() == (["index/s.idx", "s.tfrecord"] if store.kind == "mem" else ["index", "s.tfrecord"])


def test_an_empty_shard_has_an_empty_index(store: Store) -> None:
    write_records(store.path("e.tfrecord"), [], "none", index_path=store.path("e.idx"))
    assert store.get("e.idx") == b"" and store.get("e.tfrecord") == b""


def test_a_compressed_shard_gets_no_index(store: Store) -> None:
    with pytest.raises(ValueError, match="uncompressed shards, and this one is gzip"):
        write_records(store.path("g.tfrecord.gz"), [b"x"], "gzip", index_path=store.path("g.idx"))
    assert store.names() == []
