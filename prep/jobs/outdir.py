"""The output directory: refused when it already holds something, emptied of prep's files on --overwrite.

schema.json goes first on overwrite, so a crash half-way through never leaves an old schema
describing new, half-written shards. The job's hold on OUT (prep.jobs.hold) is taken before these
checks and is not part of what OUT holds: it is never counted, nor deleted.
"""

from __future__ import annotations

import posixpath
import re

from prep.core import launcher_reads
from prep.core.sharding import INDEX_DIR
from prep.core.versions import INVENTORY_DIR, TFDS_DIR
from schemas import SCHEMA_FILE
from schemas.versions import VERSIONS_DIR

SPILL_DIR = ".shuffle"  # a local run's shuffled batches (beam_jobs.batching), deleted when it commits
LOCK_FILE = ".prep-lock"  # the hold of the job writing OUT, and who it is (prep.jobs.hold)
CLAIM_FILE = ".prep-commit.json"  # the job committing OUT (beam_jobs.commit), there while it moves its files in

# Files and folders a prep job writes into OUT (shards, metadata, temporaries).
_OURS = re.compile(
    r"^(schema\.json|stats\.json|rejected\.jsonl|vocab|dataset_info\.json|features\.json|[^/]+\.labels\.txt"
    rf"|{re.escape(SPILL_DIR)}|{re.escape(INDEX_DIR)}|{re.escape(CLAIM_FILE)}|{re.escape(INVENTORY_DIR)}|{re.escape(VERSIONS_DIR)}|v\d+|{re.escape(TFDS_DIR)}"
    r"|[a-z][a-z0-9_]*-\d{5}-of-\d{5}\.tfrecord(\.gz|\.zz)?)(\.tmp.*)?$")


class OutputExistsError(Exception):
    """OUT holds something and --overwrite was not given (or it holds files prep did not write)."""


class OutputTakenError(OutputExistsError):
    """Another job committed a dataset to OUT, or is committing one, while this job ran: this job's
    result was not kept (beam_jobs.commit)."""


def _entries(out: str) -> list[str]:
    """What OUT holds, listed once from the launching machine (on gs:// with no retry: a bucket it cannot
    reach is one line at once, prep.core.launcher_reads), less this job's own hold."""
    from apache_beam.io.filesystems import FileSystems

    lock = FileSystems.join(out, LOCK_FILE)  # this job's own hold, taken before OUT is checked
    return [path for path in launcher_reads.listing(out) if path != lock]


def prepare_output(out: str, overwrite: bool) -> None:
    """Checks OUT can take a new dataset; with `overwrite`, deletes the files a previous run left."""
    from apache_beam.io.filesystems import FileSystems

    entries = _entries(out)
    if not entries:
        return
    if not overwrite:
        what = "a dataset" if any(posixpath.basename(p) == SCHEMA_FILE for p in entries) else "files"
        raise OutputExistsError(f"{out} already holds {what}: pass --overwrite to replace it, or choose another OUT")
    relative = [p[len(out.rstrip('/')) + 1:] for p in entries]
    foreign = [r for r in relative if not _OURS.match(r.split("/")[0])]
    if foreign:
        raise OutputExistsError(
            f"{out} holds files prep did not write (e.g. {foreign[0]!r}); --overwrite only replaces a prep dataset: "
            "choose an empty OUT")
    schema = [p for p in entries if posixpath.basename(p) == SCHEMA_FILE]
    if schema:
        FileSystems.delete(schema)
    rest = [p for p in entries if p not in schema]
    if rest:
        FileSystems.delete(rest)


def clear_dead_update(out: str, version: int) -> None:
    """Deletes what a killed job left in a local OUT that the job now holding it (prep.jobs.hold) knows
    no live job owns: the commit claim (beam_jobs.commit), and every file of version `version`, the
    one an update makes, which no committed version lists (its shards, indexes, inventories and own
    files). An update, which keeps OUT's dataset, needs this where a first run's --overwrite would
    have cleared OUT. A gs:// OUT has no hold: what a killed job left there stays."""
    import os
    import shutil

    from prep.core.versions import version_folder

    if "://" in out or version < 2:  # version 1's shards are the dataset's top level: never an update's
        return
    try:
        os.remove(os.path.join(out, CLAIM_FILE))
    except FileNotFoundError:
        pass
    folder = version_folder(version)
    for place in (folder, f"{INDEX_DIR}/{folder}", f"{INVENTORY_DIR}/{folder}", f"{VERSIONS_DIR}/{version}"):
        shutil.rmtree(os.path.join(out, place), ignore_errors=True)
