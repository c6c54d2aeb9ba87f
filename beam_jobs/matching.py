"""Finding the input files inside the pipeline, so the launching machine never walks a bucket."""

from __future__ import annotations

import glob
import os

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.localfilesystem import LocalFileSystem

from beam_jobs.batching import BatchPerKey, unbatched
from beam_jobs.progress import CountEach, ReportTotal
from prep.jobs.progress import LISTED

FILES_PER_BATCH = 64


def _local_entries(folder: str, strict: bool = False):
    """("tree", path) of each folder and ("file", FileMetadata) of each file directly in a local
    folder, as Beam's own listing (os.walk, then a stat of each file) sees it: a linked folder is not
    entered, a linked file is listed with its target's size and time, and a link to nothing or a file
    gone since is left out, as is a folder that cannot be read (os.walk's default). One stat a file
    (scandir's), where Beam's listing makes two. `strict` (an update, which would take the files of a
    folder it cannot read for gone): OSError for a folder that is there and cannot be read."""
    try:
        entries = os.scandir(folder)
    except FileNotFoundError:
        return
    except OSError as e:
        if strict:
            raise OSError(f"{folder} cannot be listed ({e.strerror or e}): an update would take the inputs in it "
                          "for removed; make it readable and run the update again") from None
        return
    with entries:
        for entry in entries:
            try:
                if entry.is_dir():
                    if not entry.is_symlink():
                        yield "tree", entry.path
                    continue
                found = entry.stat()
            except OSError:
                continue
            yield "file", FileMetadata(entry.path, found.st_size, found.st_mtime)


def _local_tree(folder: str, strict: bool = False):
    """Every file under a local folder (FileMetadata), as _local_entries sees each folder."""
    pending = [folder]
    while pending:
        for kind, what in _local_entries(pending.pop(), strict):
            if kind == "tree":
                pending.append(what)
            else:
                yield what


def _gcs_parts(root: str) -> list[tuple[str, object]]:
    from apache_beam.io.gcp.gcsio import GcsIO, parse_gcs_path

    bucket, prefix = parse_gcs_path(root.rstrip("/") + "/", object_optional=True)
    blobs = GcsIO().client.list_blobs(bucket, prefix=prefix, delimiter="/")
    parts: list[tuple[str, object]] = [
        ("file", FileMetadata(f"gs://{bucket}/{blob.name}", blob.size, blob.updated.timestamp() if blob.updated else None))
        for blob in blobs if not blob.name.endswith("/")]
    return parts + [("match", glob.escape(f"gs://{bucket}/{folder}") + "**") for folder in sorted(blobs.prefixes)]


def listing_parts(root: str, strict: bool = False) -> list[tuple[str, object]]:
    """What listing every file under `root` fans out into: for each folder directly under it, ("tree",
    its path) on a local disk or ("match", pattern) elsewhere (its name's `*?[` escaped as Beam's
    patterns take them), whose files the worker that gets it lists; and ("file", FileMetadata) for
    each file directly in it. A local folder and a gs:// prefix are split so; any other file system is
    listed whole, as one ("match", root/**). `strict`: see _local_entries."""
    if isinstance(FileSystems.get_filesystem(root), LocalFileSystem):
        return list(_local_entries(root, strict))
    if FileSystems.get_scheme(root) == "gs":
        return _gcs_parts(root)
    return [("match", FileSystems.join(glob.escape(root), "**"))]


def listed_files(part: tuple[str, object], strict: bool = False):
    """The files (FileMetadata) of one of listing_parts' parts (`strict`: see _local_entries)."""
    kind, what = part
    if kind == "file":
        yield what
    elif kind == "tree":
        yield from _local_tree(what, strict)
    else:
        yield from FileSystems.match([what])[0].metadata_list


def tree_root(pattern: str) -> str | None:
    """The folder of a pattern that matches a whole tree (`root/**`, no wildcard in root), else None."""
    root, tail = pattern[:-3], pattern[-3:]
    return root if tail in ("/**", os.sep + "**") and not glob.has_magic(root) else None


class ListFiles(beam.PTransform):
    """Every file `pattern` matches (FileMetadata), listed on the workers: a whole tree (`root/**`, or
    `root` given as such) fans out as listing_parts says, so that no worker holds its whole listing;
    any other pattern (a file, a glob) is one match, as fileio.MatchFiles makes it."""

    def __init__(self, pattern: str | None = None, root: str | None = None, strict: bool = False):
        """`strict` (an update): a local folder that cannot be read fails the job (see _local_entries)."""
        super().__init__()
        self.pattern, self.root, self.strict = pattern, root, strict

    def expand(self, pipeline):
        root = self.root or tree_root(self.pattern)
        if root is None:
            return pipeline | "Match" >> fileio.MatchFiles(self.pattern)
        return (pipeline
                | "Root" >> beam.Create([root])
                | "ListRoot" >> beam.FlatMap(listing_parts, self.strict)
                | "SpreadFolders" >> beam.Reshuffle()
                | "Match" >> beam.FlatMap(listed_files, self.strict))


class MatchInputs(beam.PTransform):
    """Every file under `root` (recursively) as (path, size in bytes, modification time in seconds),
    spread over the workers.

    The listing runs on the workers and fans out (listing_parts): one worker lists what is directly
    under `root`, and each folder there is listed by whichever worker gets it, so no worker holds the
    whole listing of a large tree (about 30 MB of metadata per 100,000 files). The Reshuffle after it
    breaks fusion, so reading and decoding are parallel. Files travel through it in batches of
    FILES_PER_BATCH, which is enough to spread the work and costs the shuffle little per file. The files
    are counted for the progress display as they go on, and their number is reported once all are listed.
    """

    def __init__(self, root: str, inputs: bool = True, strict: bool = False):
        super().__init__()
        self.root, self.strict = root, strict  # strict: see ListFiles
        self.inputs = inputs  # whether the files are the job's inputs, which the progress display counts

    def expand(self, pipeline):
        files = (
            pipeline
            | "List" >> ListFiles(root=self.root, strict=self.strict)
            | "Batch" >> beam.ParDo(BatchPerKey(lambda m: [(None, (m.path, m.size_in_bytes, m.last_updated_in_seconds))],
                                                max_values=FILES_PER_BATCH))
            | "Spread" >> beam.Reshuffle()
        )
        if not self.inputs:
            return files | "OneByOne" >> beam.FlatMap(unbatched)
        files = files | "OneByOne" >> beam.ParDo(CountEach(LISTED, unbatched))
        files | "Listed" >> ReportTotal(LISTED)
        return files
