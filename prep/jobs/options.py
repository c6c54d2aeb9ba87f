"""What every job's options share: sharding, where shuffles spill, provenance.

Each job has one frozen dataclass of options (prep.images.options, prep.text.options), built once by
the CLI from its flags and passed down.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from prep.jobs.outdir import SPILL_DIR

DEFAULT_SHARD_SIZE = 128 * 2**20  # bytes of records per shard when --num-shards is not given


@dataclass(frozen=True)
class HeldShard:
    """A shard of the version an update starts from: `position` is its place in its split's list."""

    split: str
    file: str
    num_records: int
    num_bytes: int
    index: str | None
    position: int


@dataclass(frozen=True)
class UpdateOptions:
    """What an update (`--update`) knows of the dataset it adds to, read by the launcher from its
    schema.json: the version it makes, what it saw of schema.json (its commit happens only if that is
    unchanged: schemas.guarded_write), the current version's shards, splits and classes (ids kept),
    and (text) its tokens vocabulary's file, relative to OUT. `relearn` (text): learn
    the vocabulary anew from every document, write it into the version's folder, and make every
    record again with it (`prep text --update --relearn-vocabulary`)."""

    version: int
    expect: object  # schemas.guarded_write.FileState of OUT/schema.json
    shards: tuple[HeldShard, ...]
    splits: tuple[str, ...]
    classes: tuple[str, ...] = ()
    tokens_file: str | None = None
    relearn: bool = False

    @property
    def folder(self) -> str:
        from prep.core.versions import version_folder

        return version_folder(self.version)


@dataclass(frozen=True)
class ShardingOptions:
    """`num_shards` shards per split, or as many as needed for about `shard_size` bytes each."""

    num_shards: int | None = None
    shard_size: int = DEFAULT_SHARD_SIZE
    compression: str = "none"


class SpillsUnderOut:
    """For job options with `out` and `spill_shuffles`: where the job's shuffled batches go."""

    @property
    def spill_dir(self) -> str | None:
        """OUT/.shuffle when the job spills its shuffles (None: they go through the runner's shuffle)."""
        if not self.spill_shuffles:
            return None
        from apache_beam.io.filesystems import FileSystems

        return FileSystems.join(self.out, SPILL_DIR)


def provenance_dict(options) -> dict:
    """A job's options as plain JSON values, recorded in schema.json's provenance."""
    d = dataclasses.asdict(options)
    del d["spill_shuffles"]  # how this run shuffled, not what it made
    if "update" in d:  # what an update started from: schema.json's own `version` says which it made
        del d["update"]
    d["split_fractions"] = dict(options.split_fractions.items) if options.split_fractions else None
    return d
