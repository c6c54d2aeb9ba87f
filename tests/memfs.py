"""A Beam filesystem kept in memory, under a made-up scheme: proves code paths use Beam's FileSystems
and no local-only file API (the installed Beam ships no importable in-memory filesystem).

Like GCS, its files have generations and it writes and deletes on a generation precondition (the
methods schemas.guarded_write looks for), so tests prove the commit's gs:// path without a bucket."""

from __future__ import annotations

import io
import itertools
import threading
import zlib
from collections.abc import Iterator

from apache_beam.io.filesystem import BeamIOError, CompressionTypes, FileMetadata, FileSystem


def _refuse_compression(path: str, compression_type: str) -> None:
    """prep compresses shards itself: a Beam-side (de)compression of them would be applied twice."""
    if compression_type == CompressionTypes.AUTO:
        compression_type = CompressionTypes.detect_compression_type(path)
    assert compression_type == CompressionTypes.UNCOMPRESSED, f"{path}: compress in tfrecord_io, not in Beam"


MEM_SCHEME = "tfrmem"  # distinctive, so no other test's in-memory filesystem can clash with it


class MemFileSystem(FileSystem):
    """A Beam filesystem kept in a dict: a non-local filesystem that runs in the test process.

    The installed Beam ships no importable in-memory filesystem, so this is the smallest one
    that honours the calls tfrecord_io makes. Its readers are not seekable, as some remote
    filesystems' are not, so the reader must do without the file size.
    """

    files: dict[str, bytes] = {}
    # path -> (the bytes stored, their generation): a file gets a new generation whenever other bytes are
    # stored under its path, however they got there (tests set `files` directly too)
    _generations: dict[str, tuple[bytes, int]] = {}
    _counter = itertools.count(1)
    _conditional = threading.Lock()  # a precondition and its write happen as one step, as in GCS

    @classmethod
    def scheme(cls) -> str:
        return MEM_SCHEME

    def generation(self, path: str) -> int:
        """The file's generation; 0 when there is no such file (GCS's convention)."""
        if path not in self.files:
            return 0
        data = self.files[path]
        known = self._generations.get(path)
        if known is None or known[0] is not data:
            known = self._generations[path] = (data, next(self._counter))
        return known[1]

    def write_if_generation_match(self, path: str, data: bytes, generation: int) -> int | None:
        """Stores `data` at `path` if its generation is `generation` (0: no such file); the new
        generation, or None (nothing stored) if it is another, as GCS's `if_generation_match`."""
        with self._conditional:
            if self.generation(path) != generation:
                return None
            self.files[path] = bytes(bytearray(data))  # a new object: a new generation, even for the same bytes
            return self.generation(path)

    def delete_if_generation_match(self, path: str, generation: int) -> bool:
        with self._conditional:
            if not generation or self.generation(path) != generation:
                return False
            del self.files[path]
            return True

    def join(self, basepath: str, *paths: str) -> str:
        return "/".join([basepath.rstrip("/"), *paths])

    def split(self, path: str) -> tuple[str, str]:
        head, _, tail = path.rpartition("/")
        return head, tail

    def mkdirs(self, path: str) -> None:
        pass

    def has_dirs(self) -> bool:
        return False

    def _list(self, dir_or_prefix: str) -> Iterator[FileMetadata]:
        for path, data in self.files.items():
            if path.startswith(dir_or_prefix):
                yield FileMetadata(path, len(data))

    def create(self, path, mime_type="application/octet-stream",
               compression_type=CompressionTypes.AUTO) -> io.BytesIO:
        _refuse_compression(path, compression_type)
        return _MemWriter(self.files, path)

    def open(self, path, mime_type="application/octet-stream",
             compression_type=CompressionTypes.AUTO) -> io.BytesIO:
        _refuse_compression(path, compression_type)
        if path not in self.files:
            raise BeamIOError(f"no such file {path}")
        return _UnseekableReader(self.files[path])

    def copy(self, source_file_names, destination_file_names) -> None:
        for src, dst in zip(source_file_names, destination_file_names):
            self.files[dst] = self.files[src]

    def rename(self, source_file_names, destination_file_names) -> None:
        for src, dst in zip(source_file_names, destination_file_names):
            self.files[dst] = self.files.pop(src)

    def exists(self, path: str) -> bool:
        return path in self.files

    def size(self, path: str) -> int:
        return len(self.files[path])

    def last_updated(self, path: str) -> float:
        return 0.0

    def checksum(self, path: str) -> str:
        return str(zlib.crc32(self.files[path]))

    def metadata(self, path: str) -> FileMetadata:
        return FileMetadata(path, len(self.files[path]))

    def delete(self, paths) -> None:
        for path in paths:
            del self.files[path]


class _MemWriter(io.BytesIO):
    """Stores its bytes under ``path`` when closed, like an upload that completes on close."""

    def __init__(self, files: dict[str, bytes], path: str) -> None:
        super().__init__()
        self._files = files
        self._path = path

    def close(self) -> None:
        if not self.closed:
            self._files[self._path] = self.getvalue()
        super().close()


class _UnseekableReader(io.BytesIO):
    def seekable(self) -> bool:
        return False
