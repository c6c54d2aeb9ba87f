"""Writing a file only if it is still as this job saw it: how two jobs writing one dataset cannot both commit.

A job notes a file's state (`observe`: no such file, or a version of it) and later writes it with
`write_if_unchanged`, which raises ChangedFileError, writing nothing, when the file is no longer in that
state. How the check is made depends on where the file lives:

- local files: "no such file" is kept by hard-linking the new file into place, which fails if the name
  exists (atomic); a version (inode, modification time, size) is compared and the new file renamed onto
  it, which is atomic only among prep jobs: the hold on OUT (prep.jobs.hold) keeps other jobs out.
- gs://: a generation precondition on the upload (`if_generation_match`, 0 meaning "no such object"),
  atomic in the bucket. Beam's FileSystems cannot express it, so this one write goes through
  google-cloud-storage (installed with apache-beam[gcp]), with the client Beam's GcsIO builds.
- a Beam filesystem that offers `generation(path)` (0: no such file),
  `write_if_generation_match(path, data, generation)` (the new generation, or None when the file's
  generation is another) and `delete_if_generation_match(path, generation)` (False when it is another),
  as the tests' in-memory filesystem does: the same precondition, through those.
- any other Beam filesystem (S3, Azure, HDFS, ...): check, then write through a temporary name. Best
  effort: a job that writes between the check and the rename is not seen.

Writing the bytes the file already holds succeeds whatever the state: a write retried after its first
attempt landed (a lost response, a worker retried) is not a conflict.
"""

from __future__ import annotations

import errno
import os
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class FileState:
    """What a job saw of the file at `path`: `version` is None when there was no such file, else an opaque
    version (a GCS generation; inode, modification time and size of a local file; ...)."""

    path: str
    version: str | None = None

    @property
    def exists(self) -> bool:
        return self.version is not None


class ChangedFileError(Exception):
    """The file is not as the job saw it: another job wrote or deleted it since. Nothing was written."""


class _Conflict(Exception):
    """A strategy's precondition failed (turned into ChangedFileError once the bytes are compared)."""


def observe(path: str) -> FileState:
    """The state of the file at `path` now, to pass to `write_if_unchanged` later."""
    return FileState(path, _files_for(path).version(path))


def write_if_unchanged(path: str, data: bytes, seen: FileState) -> FileState:
    """Writes `data` to `path` (whole or not at all) if the file is still in the state `seen`; returns its
    new state. Raises ChangedFileError, writing nothing, if another job wrote or deleted it since."""
    files = _files_for(path)
    try:
        return FileState(path, files.write(path, data, seen))
    except _Conflict:
        if _holds(path, data):
            return FileState(path, files.version(path))
        raise ChangedFileError(_changed(path, seen, files.version(path))) from None


def delete_if_unchanged(path: str, seen: FileState) -> None:
    """Deletes the file at `path` if it is still in the state `seen`; ChangedFileError if it is not."""
    files = _files_for(path)
    try:
        files.delete(path, seen)
    except _Conflict:
        raise ChangedFileError(_changed(path, seen, files.version(path))) from None


def _changed(path: str, seen: FileState, now: str | None) -> str:
    then = "did not exist" if not seen.exists else "existed"
    happened = "deleted" if now is None else "written"
    return f"{path} {then} when this job looked, and another job has {happened} it since"


def _holds(path: str, data: bytes) -> bool:
    """Whether the file at `path` holds exactly `data`."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            return f.read() == data
    except Exception:  # noqa: BLE001 - no file, or one that cannot be read: not ours
        return False


def _files_for(path: str):
    if "://" not in path:
        return _LocalFiles()
    from apache_beam.io.filesystems import FileSystems

    filesystem = FileSystems.get_filesystem(path)
    if all(callable(getattr(filesystem, name, None)) for name in _GENERATION_METHODS):
        return _Generations(filesystem)
    if path.startswith("gs://"):
        return _Generations(_GcsGenerations(_gcs_client()))
    return _BeamFiles()


class _LocalFiles:
    def version(self, path: str) -> str | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"

    def write(self, path: str, data: bytes, seen: FileState) -> str | None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        with open(tmp, "wb") as f:
            f.write(data)
        try:
            if seen.exists or not self._link(tmp, path):
                if self.version(path) != seen.version:
                    raise _Conflict
                os.replace(tmp, path)
        finally:
            if os.path.lexists(tmp):
                os.remove(tmp)
        return self.version(path)

    @staticmethod
    def _link(tmp: str, path: str) -> bool:
        """Links `tmp` to the new name `path` (False: this file system makes no hard links)."""
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise _Conflict from None
        except OSError as e:
            if e.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                return False
            raise
        return True

    def delete(self, path: str, seen: FileState) -> None:
        if self.version(path) != seen.version:
            raise _Conflict
        os.remove(path)


_GENERATION_METHODS = ("generation", "write_if_generation_match", "delete_if_generation_match")


class _Generations:
    """A store with object generations (GCS, or a Beam filesystem that offers _GENERATION_METHODS)."""

    def __init__(self, store):
        self.store = store

    def version(self, path: str) -> str | None:
        generation = self.store.generation(path)
        return str(generation) if generation else None

    def write(self, path: str, data: bytes, seen: FileState) -> str | None:
        generation = self.store.write_if_generation_match(path, data, int(seen.version or 0))
        if generation is None:
            raise _Conflict
        return str(generation)

    def delete(self, path: str, seen: FileState) -> None:
        if not seen.exists or not self.store.delete_if_generation_match(path, int(seen.version)):
            raise _Conflict


def _gcs_client():
    """The google-cloud-storage client Beam's GcsIO builds (credentials from the environment, as Beam's)."""
    from apache_beam.io.gcp import gcsio

    return gcsio.GcsIO().client


class _GcsGenerations:
    """GCS objects through google-cloud-storage, whose uploads and deletes take `if_generation_match`."""

    def __init__(self, client):
        self.client = client

    def _blob(self, path: str):
        from apache_beam.io.gcp.gcsio import parse_gcs_path

        bucket, name = parse_gcs_path(path)
        return self.client.bucket(bucket).blob(name)

    def generation(self, path: str) -> int:
        from apache_beam.io.gcp.gcsio import parse_gcs_path

        bucket, name = parse_gcs_path(path)
        blob = self.client.bucket(bucket).get_blob(name)
        return blob.generation if blob is not None else 0

    def write_if_generation_match(self, path: str, data: bytes, generation: int) -> int | None:
        from google.api_core.exceptions import PreconditionFailed

        blob = self._blob(path)
        try:
            blob.upload_from_string(data, content_type="application/octet-stream", if_generation_match=generation)
        except PreconditionFailed:
            return None
        return blob.generation

    def delete_if_generation_match(self, path: str, generation: int) -> bool:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        try:
            self._blob(path).delete(if_generation_match=generation)
        except (PreconditionFailed, NotFound):
            return False
        return True


class _BeamFiles:
    """Any other Beam filesystem: check, then write. Best effort (see the module's docstring)."""

    def version(self, path: str) -> str | None:
        from apache_beam.io.filesystems import FileSystems

        if not FileSystems.exists(path):
            return None
        try:
            return f"checksum {FileSystems.checksum(path)}"
        except Exception:  # noqa: BLE001 - a filesystem without checksums: its size and time instead
            metadata = FileSystems.match([path])[0].metadata_list[0]
            return f"{metadata.size_in_bytes} bytes at {metadata.last_updated_in_seconds}"

    def write(self, path: str, data: bytes, seen: FileState) -> str | None:
        from apache_beam.io.filesystem import CompressionTypes
        from apache_beam.io.filesystems import FileSystems

        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        with FileSystems.create(tmp, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            f.write(data)
        try:
            if self.version(path) != seen.version:
                raise _Conflict
            if seen.exists:
                FileSystems.delete([path])
            FileSystems.rename([tmp], [path])
        finally:
            if FileSystems.exists(tmp):
                FileSystems.delete([tmp])
        return self.version(path)

    def delete(self, path: str, seen: FileState) -> None:
        from apache_beam.io.filesystems import FileSystems

        if self.version(path) != seen.version:
            raise _Conflict
        FileSystems.delete([path])
