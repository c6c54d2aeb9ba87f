"""prep.core.launcher_reads: what the launching machine reads fails in one line naming the file and the
cause, and a gs:// read makes one request, never Beam's two minutes of retries."""

from __future__ import annotations

import gzip
import os

import pytest

from prep.core import launcher_reads, row_files
from prep.core.launcher_reads import UnreadableFile
from tests.fake_gcs import fake_gcs  # noqa: F401 (a fixture)


def _one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_a_local_file_is_read(tmp_path):
    (tmp_path / "labels.txt").write_bytes(b"cat\ndog\n")
    assert launcher_reads.read_bytes(str(tmp_path / "labels.txt")) == b"cat\ndog\n"
    launcher_reads.check_readable(str(tmp_path / "labels.txt"))


@pytest.mark.parametrize("make, said", [("missing", "no such file"), ("folder", "a folder"), ("fifo", "not a file")])
def test_what_is_not_a_file_is_one_line_and_never_blocks(tmp_path, make, said):
    path = tmp_path / "x.csv"
    if make == "folder":
        path.mkdir()
    elif make == "fifo":
        os.mkfifo(path)
    with pytest.raises(UnreadableFile) as error:
        launcher_reads.check_readable(str(path))
    assert _one_line(error) == f"{path}: cannot read it ({said})"


def test_a_read_that_fails_half_way_is_one_line(monkeypatch):
    from tests.memfs import MEM_SCHEME, MemFileSystem

    class Breaks:
        def read(self, size=-1):
            raise OSError("connection reset\nby peer")

        def close(self):
            pass

    monkeypatch.setattr(MemFileSystem, "open", lambda self, path, *args, **kwargs: Breaks())
    path = f"{MEM_SCHEME}://bucket/m.csv"
    with pytest.raises(UnreadableFile) as error:
        launcher_reads.read_bytes(path)
    assert _one_line(error) == f"{path}: cannot read it (connection reset)"


def test_a_gzipped_file_is_read_through_row_files(tmp_path):
    (tmp_path / "m.csv.gz").write_bytes(gzip.compress(b"path,label\na.jpg,cat\n"))
    with row_files.open_input(str(tmp_path / "m.csv.gz"), on_launcher=True) as f:
        assert f.read() == b"path,label\na.jpg,cat\n"


@pytest.mark.parametrize("status, cause", [
    (503, "503 GET http://127.0.0.1:"),
    (404, "no such object, or no such bucket"),
    (403, "the bucket refuses anonymous reads, and this machine has no Google Cloud credentials (File "
          "/nonexistent/prep-test-credentials.json was not found): run `gcloud auth application-default login`"),
])
@pytest.mark.parametrize("read", [launcher_reads.read_bytes, launcher_reads.check_readable])
def test_a_gs_read_is_one_request_and_one_line(fake_gcs, status, cause, read):  # noqa: F811
    fake_gcs.status = status
    with pytest.raises(UnreadableFile) as error:
        read("gs://my-bucket/labels.txt")
    assert _one_line(error).startswith(f"gs://my-bucket/labels.txt: cannot read it ({cause}")
    assert fake_gcs.downloads() == ["/download/storage/v1/b/my-bucket/o/labels.txt?alt=media"], "one request, no retry"


def test_a_gs_path_without_an_object_is_one_line():
    with pytest.raises(UnreadableFile) as error:
        launcher_reads.read_bytes("gs://my-bucket")
    assert _one_line(error) == "gs://my-bucket: not a gs://BUCKET/OBJECT path"


def test_cloud_storage_out_of_reach_says_so_in_one_line(monkeypatch):
    """Nothing listens at the endpoint: the connection is refused, as a machine without network fails."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/prep-test-credentials.json")
    with pytest.raises(UnreadableFile) as error:
        launcher_reads.read_bytes("gs://my-bucket/m.csv")
    text = _one_line(error)
    assert text.startswith("gs://my-bucket/m.csv: cannot read it (Cloud Storage cannot be reached: ")
    assert "is this machine online? And this machine has no Google Cloud credentials" in text
