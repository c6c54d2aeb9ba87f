"""schemas.guarded_write: a file is written only if it is still as the job saw it, on a local disk, on a
filesystem with generations (the in-memory one, as GCS), on gs:// (through a stand-in for
google-cloud-storage's client) and, best effort, on any other Beam filesystem."""

from __future__ import annotations

import json

import pytest
from google.api_core.exceptions import NotFound, PreconditionFailed

from schemas import save_schema
from schemas.guarded_write import ChangedFileError, FileState, delete_if_unchanged, observe, write_if_unchanged
from tests.memfs import MEM_SCHEME, MemFileSystem
from tests.schemas.test_schemas import image_schema, text_schema

PLAIN_SCHEME = "tfrplain"


class PlainFileSystem(MemFileSystem):
    """A Beam filesystem without generations (S3, Azure, HDFS, ...): only the best-effort check applies."""

    generation = write_if_generation_match = delete_if_generation_match = None

    @classmethod
    def scheme(cls) -> str:
        return PLAIN_SCHEME


@pytest.fixture(params=["local", "generations", "best effort"])
def root(request, tmp_path):
    MemFileSystem.files.clear()
    yield {"local": str(tmp_path), "generations": f"{MEM_SCHEME}://bucket/d",
           "best effort": f"{PLAIN_SCHEME}://bucket/d"}[request.param]
    MemFileSystem.files.clear()


def _read(path: str) -> bytes:
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path, compression_type="uncompressed") as f:
        return f.read()


def test_of_two_jobs_that_saw_no_file_one_writes_it_and_the_other_is_refused(root):
    path = f"{root}/schema.json"
    first, second = observe(path), observe(path)
    assert not first.exists and first == second
    written = write_if_unchanged(path, b"first", first)
    assert written.exists and written == observe(path)
    with pytest.raises(ChangedFileError, match="did not exist when this job looked, and another job has written it"):
        write_if_unchanged(path, b"second", second)
    assert _read(path) == b"first"


def test_a_file_replaced_since_the_job_looked_is_not_replaced_again(root):
    path = f"{root}/schema.json"
    original = write_if_unchanged(path, b"v1", observe(path))
    write_if_unchanged(path, b"v2 by another job", original)
    with pytest.raises(ChangedFileError, match="existed when this job looked, and another job has written it"):
        write_if_unchanged(path, b"v2 by this job", original)
    assert _read(path) == b"v2 by another job"


def test_a_retried_write_of_the_same_bytes_is_no_conflict(root):
    path = f"{root}/schema.json"
    seen = observe(path)
    write_if_unchanged(path, b"same", seen)
    assert write_if_unchanged(path, b"same", seen) == observe(path)  # its first attempt landed


def test_delete_only_what_the_job_wrote(root):
    path = f"{root}/.prep-commit.json"
    mine = write_if_unchanged(path, b"job a", observe(path))
    delete_if_unchanged(path, mine)
    assert not observe(path).exists
    theirs = write_if_unchanged(path, b"job b", observe(path))
    with pytest.raises(ChangedFileError):
        delete_if_unchanged(path, mine)
    assert observe(path) == theirs


def test_save_schema_with_expect_is_a_commit_only_one_job_wins(root):
    seen = observe(f"{root}/schema.json")
    save_schema(image_schema(), root, expect=seen)
    with pytest.raises(ChangedFileError, match="schema.json did not exist"):
        save_schema(text_schema(), root, expect=seen)
    assert json.loads(_read(f"{root}/schema.json"))["kind"] == image_schema().kind


# --- gs:// ----------------------------------------------------------------------------------------------


class _Bucket:
    """google-cloud-storage's Bucket and Blob, as far as guarded_write uses them, with GCS's generations."""

    def __init__(self, objects: dict, calls: list):
        self.objects, self.calls = objects, calls  # name -> (data, generation)

    def blob(self, name):
        return _Blob(self, name)

    def get_blob(self, name):
        return _Blob(self, name, self.objects[name][1]) if name in self.objects else None


class _Blob:
    def __init__(self, bucket: _Bucket, name: str, generation: int | None = None):
        self.bucket, self.name, self.generation = bucket, name, generation

    def _check(self, if_generation_match):
        current = self.bucket.objects.get(self.name, (None, 0))[1]
        if if_generation_match is not None and current != if_generation_match:
            raise PreconditionFailed(f"{self.name}: generation {current}, not {if_generation_match}")

    def upload_from_string(self, data, content_type=None, if_generation_match=None):
        self.bucket.calls.append(("upload", self.name, if_generation_match))
        self._check(if_generation_match)
        self.generation = max([g for _, g in self.bucket.objects.values()] + [1000]) + 1
        self.bucket.objects[self.name] = (data, self.generation)

    def delete(self, if_generation_match=None):
        self.bucket.calls.append(("delete", self.name, if_generation_match))
        if self.name not in self.bucket.objects:
            raise NotFound(self.name)
        self._check(if_generation_match)
        del self.bucket.objects[self.name]


class _Client:
    def __init__(self):
        self.objects, self.calls = {}, []

    def bucket(self, name):
        assert name == "my-bucket"
        return _Bucket(self.objects, self.calls)


def test_on_gcs_the_write_is_an_upload_with_a_generation_precondition(monkeypatch):
    from schemas import guarded_write

    client = _Client()
    monkeypatch.setattr(guarded_write, "_gcs_client", lambda: client)
    path = "gs://my-bucket/out/schema.json"
    seen = observe(path)
    assert not seen.exists
    written = write_if_unchanged(path, b"first", seen)
    assert client.calls == [("upload", "out/schema.json", 0)], "0: only if there is no such object"
    monkeypatch.setattr(guarded_write, "_holds", lambda path, data: client.objects["out/schema.json"][0] == data)
    with pytest.raises(ChangedFileError):
        write_if_unchanged(path, b"second", seen)
    assert client.objects["out/schema.json"][0] == b"first"
    write_if_unchanged(path, b"replaced", written)
    assert client.calls[-1] == ("upload", "out/schema.json", int(written.version))
    with pytest.raises(ChangedFileError):
        delete_if_unchanged(path, written)
    delete_if_unchanged(path, observe(path))
    assert client.objects == {}


def test_a_state_names_its_file_and_says_whether_it_existed(tmp_path):
    assert FileState(str(tmp_path / "x")) == observe(str(tmp_path / "x"))
    (tmp_path / "x").write_bytes(b"1")
    assert observe(str(tmp_path / "x")).exists
