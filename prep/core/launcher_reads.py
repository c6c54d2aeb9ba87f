"""The files the launching machine reads before a job starts: a manifest's first row, the annotation
file a flag names, a --labels or --vocab file. Each read fails in one line that names the file and
the cause (`UnreadableFile`, a ValueError, which the CLI reports against its flag), and fails fast.

Fast, because Beam's Cloud Storage client is made for workers: it retries a request for two minutes,
so a laptop without network or credentials waited that long for a page of tracebacks. Here a gs://
file is read with the storage client itself, one attempt of at most READ_TIMEOUT seconds a request;
credentials are looked up once, and without them the read is anonymous (public buckets still read).
Other paths go through Beam's FileSystems. Reads inside the job keep Beam's retries.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from typing import BinaryIO, Callable, Iterator

READ_TIMEOUT = 20  # seconds a request to Cloud Storage may wait to connect, and then between bytes
CHUNK_BYTES = 1 << 20  # bytes fetched from Cloud Storage a request, unless a read asks for more
LOGIN = "gcloud auth application-default login"
_NONE_FOUND = "Your default credentials were not found"  # google.auth's words when there are none at all


class UnreadableFile(ValueError):
    """A file the launching machine cannot read, said in one line naming the file and the cause."""


@contextlib.contextmanager
def opened(path: str) -> Iterator[BinaryIO]:
    """`path`'s bytes (local, gs:// or any Beam filesystem) as the launching machine reads them; any
    failure, on opening or on reading, is an UnreadableFile."""
    try:
        raw, describe = _open(path)
    except UnreadableFile:
        raise
    except Exception as e:  # each filesystem and client has exceptions of its own
        raise UnreadableFile(_cannot_read(path, _cause(e))) from None
    reads = _OneLineReads(raw, path, describe)
    try:
        yield reads
    finally:
        reads.close()


def read_bytes(path: str) -> bytes:
    """The whole file, read on the launching machine."""
    with opened(path) as f:
        return f.read()


def check_readable(path: str) -> None:
    """That `path` is a file the launching machine can read: its first byte is read."""
    with opened(path) as f:
        f.read(1)


def _cannot_read(path: str, cause: str) -> str:
    return f"{path}: cannot read it ({cause})"


def _open(path: str) -> tuple[BinaryIO, Callable[[BaseException], str]]:
    """The file opened, and what describes a failure to read it."""
    if "://" not in path and not os.path.isfile(path):  # a FIFO or device would block: not read either
        what = "no such file" if not os.path.lexists(path) else "a folder" if os.path.isdir(path) else "not a file"
        raise UnreadableFile(_cannot_read(path, what))
    if path.startswith("gs://"):
        opened_gcs = _open_gcs(path)
        if opened_gcs is not None:
            return opened_gcs
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(path, compression_type="uncompressed"), _cause


def listing(folder: str) -> list[str]:
    """The paths of every file under `folder` (local, gs:// or any Beam filesystem; [] when there is no
    such folder), as the launching machine lists them. A gs:// folder is listed with no retry, and a
    failure is an UnreadableFile in one line naming the folder and the cause."""
    if folder.startswith("gs://"):
        bucket, _, prefix = folder[len("gs://"):].partition("/")
        listed = _list_gcs(folder, bucket, prefix.rstrip("/") + "/" if prefix.strip("/") else "")
        if listed is not None:
            return listed
    import os

    from apache_beam.io.filesystems import FileSystems

    if "://" not in folder and not os.path.isdir(folder):
        return []
    # not FileSystems.exists(folder) first: on an object store (S3, Azure...) a folder is no object of
    # its own, so it "does not exist" while it holds a dataset
    return [m.path for m in FileSystems.match([FileSystems.join(folder, "**")])[0].metadata_list]


def exists(path: str) -> bool:
    """Whether `path` is a file (local, gs:// or any Beam filesystem), as the launching machine sees it;
    a gs:// object is looked up with no retry, and a failure is an UnreadableFile in one line."""
    if path.startswith("gs://"):
        found = _gcs_client()
        if found is not None:
            client, no_credentials = found
            bucket, _, name = path[len("gs://"):].partition("/")
            try:
                return client.bucket(bucket).blob(name).exists(retry=None, timeout=READ_TIMEOUT)
            except Exception as e:  # see _list_gcs
                raise UnreadableFile(f"{path}: cannot look it up ({_gcs_cause(e, no_credentials)})") from None
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.exists(path)


def check_reachable(pattern: str) -> None:
    """That the launching machine can list where a gs:// path or glob points: one request for at most one
    object under the part before any wildcard, no retry (Beam's own listing retries for two minutes); an
    UnreadableFile in one line when it cannot. Other paths need no check."""
    if pattern.startswith("gs://"):
        bucket, _, rest = pattern[len("gs://"):].partition("/")
        _list_gcs(pattern, bucket, re.split(r"[*?\[]", rest, maxsplit=1)[0], max_results=1)


def _gcs_client():
    """(a google-cloud-storage client with this machine's credentials, or an anonymous one; None, or why
    there are no credentials, for `_gcs_cause`); None without google-cloud-storage (Beam without its gcp
    extra, whose FileSystems then says what is missing)."""
    try:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError
        from google.cloud import storage
    except ImportError:
        return None
    try:
        credentials, project = google.auth.default()
        return storage.Client(credentials=credentials, project=project), None
    except DefaultCredentialsError as e:
        why = str(e).split(". ")[0].rstrip(".")
        why = "" if why.startswith(_NONE_FOUND) else f" ({why})"  # say why, unless it is only that there are none
        return storage.Client.create_anonymous_client(), f"this machine has no Google Cloud credentials{why}: run `{LOGIN}`"


def _list_gcs(shown: str, bucket: str, prefix: str, max_results: int | None = None) -> list[str] | None:
    """The objects of gs:// `bucket` under `prefix` (at most `max_results`), one attempt a page; None without
    google-cloud-storage. A failure is an UnreadableFile naming `shown`."""
    found = _gcs_client()
    if found is None:
        return None
    client, no_credentials = found
    try:
        blobs = client.list_blobs(bucket, prefix=prefix, max_results=max_results, retry=None, timeout=READ_TIMEOUT)
        return [f"gs://{bucket}/{blob.name}" for blob in blobs]
    except Exception as e:  # the client's and the transport's exceptions alike: _gcs_cause tells them apart
        raise UnreadableFile(f"{shown}: cannot list it ({_gcs_cause(e, no_credentials)})") from None


def _open_gcs(path: str) -> tuple[BinaryIO, Callable[[BaseException], str]] | None:
    """A gs:// object opened for reading with no retry; None without google-cloud-storage."""
    bucket, _, name = path[len("gs://"):].partition("/")
    if not bucket or not name:
        raise UnreadableFile(f"{path}: not a gs://BUCKET/OBJECT path")
    found = _gcs_client()
    if found is None:
        return None
    client, no_credentials = found
    blob = client.bucket(bucket).blob(name)
    reader = blob.open("rb", chunk_size=CHUNK_BYTES, retry=None, timeout=READ_TIMEOUT)
    return reader, lambda error: _gcs_cause(error, no_credentials)


def _gcs_cause(error: BaseException, no_credentials: str | None) -> str:
    """Why a read from Cloud Storage failed, for a person; `no_credentials`: the read was anonymous, and why."""
    import requests
    from google.api_core import exceptions as api
    from google.auth.exceptions import TransportError

    if isinstance(error, api.NotFound):
        return "no such object, or no such bucket"
    if isinstance(error, (api.Unauthorized, api.Forbidden)):
        if no_credentials:
            return f"the bucket refuses anonymous reads, and {no_credentials}"
        return f"permission denied: {_first_line(error)}"
    if isinstance(error, (requests.ConnectionError, requests.Timeout, TransportError, ConnectionError, TimeoutError)):
        unreachable = f"Cloud Storage cannot be reached: {_innermost(error)}; is this machine online?"
        return f"{unreachable} And {no_credentials}" if no_credentials else unreachable
    return _cause(error)


def _innermost(error: BaseException) -> str:
    """The message of the first error in the chain that caused `error` (a DNS failure, say)."""
    seen: set[int] = set()
    while id(error) not in seen:
        seen.add(id(error))
        error = error.__cause__ or error.__context__ or error
    return _first_line(error)


def _first_line(message) -> str:
    text = str(message).strip().splitlines()
    return (text[0] if text else "")[:200]


def _cause(error: BaseException) -> str:
    return _first_line(error) or type(error).__name__


class _OneLineReads(io.RawIOBase):
    """A file whose read failures are UnreadableFile: a remote file may fail half-way, after it opened."""

    def __init__(self, raw: BinaryIO, path: str, describe: Callable[[BaseException], str]):
        super().__init__()
        self._raw, self._path, self._describe = raw, path, describe

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._raw.read(size)
        except Exception as e:  # see opened()
            raise UnreadableFile(_cannot_read(self._path, self._describe(e))) from None

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):  # what was read is read; a failure to close changes nothing
                self._raw.close()
        super().close()
