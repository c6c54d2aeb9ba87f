"""What an image dataset keeps of each record so that an update never opens an input it has seen.

Beside each shard, `inventory/<shard file>.jsonl` (prep.core.versions.inventory_file_name) holds one
JSON line per record, in the shard's record order (line i describes record i): the record's name
(its path under SRC), the digest of its source file as read, its split and label, the digest, the
perceptual fingerprint and the small picture duplicate detection compares, and the facts stats.json
counts. An update (beam_jobs.update) reads these lines, never the inputs they came from, to decide
which inputs changed, to look for copies across versions and to count the new version's stats.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from prep.images.records import RECORD_OVERHEAD, PendingImage


def inventory_row(image: PendingImage, fact: tuple) -> dict:
    """The inventory line of a record about to be written; `fact` is its stats fact
    (prep.images.dataset.record_fact)."""
    return {
        "name": image.relative_path,
        "source_digest": image.source_digest.hex(),
        "split": image.split,
        "label": image.label,
        "class_name": image.class_name,
        "annotation": image.annotation,
        "digest": image.digest.hex(),
        "fingerprint": image.fingerprint,
        "thumbnail": base64.b64encode(image.thumbnail).decode("ascii"),
        "fact": fact,
        "source_stat": list(image.source_stat) or None,
    }


_NAME_FIRST = b'{"name":'  # how every line inventory_row makes begins (compact JSON, its first key)
_DECODER = json.JSONDecoder()


def row_name(line: bytes) -> str:
    """The record name of an inventory line, read without parsing the rest of the line (the whole
    line is parsed if it does not begin with the name)."""
    if line.startswith(_NAME_FIRST):
        try:
            name, _ = _DECODER.raw_decode(line.decode("utf-8"), len(_NAME_FIRST))
        except ValueError:
            name = None  # not compact JSON: parsed whole below
        if isinstance(name, str):
            return name
    return json.loads(line)["name"]


STAT_MARGIN = 2.0  # seconds a file's modification time must be older than the run that reads it


def started_at(created: str) -> float | None:
    """When the run began (its options' ISO `created`), in seconds since the epoch; None if unknown."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(created).timestamp()
    except ValueError:
        return None


def stable_stat(size: int, mtime: float | None, started: float | None) -> tuple:
    """A file's (size, modification time) as the listing gave them, when an update may take them as
    standing for its bytes: it was modified at least STAT_MARGIN before the run that read it began,
    so any later change moves its modification time on (git's rule for racy files; rsync's quick check
    compares the same two). () when it may not."""
    if mtime is None or started is None or not mtime < started - STAT_MARGIN:
        return ()
    return size, mtime


def _tuples(value):
    """A JSON list back as the tuple it was written from (nested: a fact's class names and sides)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


@dataclass(frozen=True, slots=True)
class HeldImage:
    """A record the dataset already holds, as its inventory line describes it: record `position` of
    `shard`. On its way through an update it stands where a PendingImage stands in a first run (the
    duplicate search reads the same attributes); once its shard had to be rewritten, `record` is its
    serialised bytes, or (a local run) where they wait in a spill file (beam_jobs.batching.Spilled),
    so that what the shuffles carry stays small, as for a PendingImage (beam_jobs.update)."""

    row: dict
    shard: str
    position: int
    record: object = None

    def __reduce__(self):
        # pickled as a tuple of its fields: a slotted dataclass's own pickling calls dataclasses.fields()
        # for every object, which was 3.9 s of a 20,000-image update's profile (bench/RESULTS.md)
        return HeldImage, (self.row, self.shard, self.position, self.record)

    @property
    def relative_path(self) -> str:
        return self.row["name"]

    @property
    def split(self) -> str:
        return self.row["split"]

    @property
    def class_name(self):
        return _tuples(self.row["class_name"])

    @property
    def annotation(self) -> str:
        return self.row.get("annotation", "")  # none: the record is made again, as if its label had changed

    @property
    def source_stat(self) -> tuple:
        return tuple(self.row.get("source_stat") or ())

    @property
    def source_digest(self) -> bytes:
        return bytes.fromhex(self.row["source_digest"])

    @property
    def digest(self) -> bytes:
        return bytes.fromhex(self.row["digest"])

    @property
    def fingerprint(self) -> int:
        return self.row["fingerprint"]

    @property
    def thumbnail(self) -> bytes:
        return base64.b64decode(self.row["thumbnail"])

    @property
    def fact(self) -> tuple:
        return _tuples(self.row["fact"])

    @property
    def size(self) -> int:
        return self.fact[8]

    @property
    def record_size(self) -> int:
        if isinstance(self.record, bytes):
            return len(self.record)
        return self.record.length if self.record is not None else self.size + RECORD_OVERHEAD
