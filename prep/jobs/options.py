"""The options of each job: one frozen dataclass, built once by the CLI from its flags, passed down."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from prep.imaging import ImageOptions
from prep.outdir import SPILL_DIR
from prep.splits import SplitFractions
from prep.text_inputs import TextInputs
from schemas import TextSettings

DEFAULT_SHARD_SIZE = 128 * 2**20  # bytes of records per shard when --num-shards is not given


@dataclass(frozen=True)
class ShardingOptions:
    """`num_shards` shards per split, or as many as needed for about `shard_size` bytes each."""

    num_shards: int | None = None
    shard_size: int = DEFAULT_SHARD_SIZE
    compression: str = "none"


class _SpillsUnderOut:
    """For job options with `out` and `spill_shuffles`: where the job's shuffled batches go."""

    @property
    def spill_dir(self) -> str | None:
        """OUT/.shuffle when the job spills its shuffles (None: they go through the runner's shuffle)."""
        if not self.spill_shuffles:
            return None
        from apache_beam.io.filesystems import FileSystems

        return FileSystems.join(self.out, SPILL_DIR)


def _provenance_dict(options) -> dict:
    """A job's options as plain JSON values, recorded in schema.json's provenance."""
    d = dataclasses.asdict(options)
    del d["spill_shuffles"]  # how this run shuffled, not what it made
    d["split_fractions"] = dict(options.split_fractions.items) if options.split_fractions else None
    return d


@dataclass(frozen=True)
class ImageJobOptions(_SpillsUnderOut):
    src: str
    out: str
    image: ImageOptions = ImageOptions()
    sharding: ShardingOptions = ShardingOptions()
    split_fractions: SplitFractions | None = None
    labels: tuple[str, ...] | None = None
    include_hidden: bool = False
    dedupe: bool = False  # drop exact copies (kept: the first by path)
    check_duplicates: bool = True  # find exact and near copies (stats.json's "duplicates")
    spill_shuffles: bool = False  # shuffle batches through files under OUT (local runs: see beam_jobs.batching)
    created: str = ""  # ISO time the run was launched, for provenance

    def to_dict(self) -> dict:
        return _provenance_dict(self)


@dataclass(frozen=True)
class VocabJobOptions:
    """`prep vocab`: learn a token vocabulary from `inputs` and write it to the file `out`."""

    inputs: TextInputs
    out: str
    text: TextSettings = TextSettings()
    created: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TextJobOptions(_SpillsUnderOut):
    """`prep text`: documents to records of token ids. `vocab_file` reuses a vocabulary instead of
    learning one; `raw_text` keeps the text itself in every record too."""

    inputs: TextInputs
    out: str
    text: TextSettings = TextSettings()
    sharding: ShardingOptions = ShardingOptions()
    split_fractions: SplitFractions | None = None
    labels: tuple[str, ...] | None = None
    vocab_file: str | None = None
    raw_text: bool = True
    dedupe: bool = False  # drop exact copies (prep.text_duplicates; kept: the first by path and line)
    spill_shuffles: bool = False  # shuffle batches through files under OUT (local runs: see beam_jobs.batching)
    created: str = ""  # ISO time the run was launched, for provenance

    def to_dict(self) -> dict:
        return _provenance_dict(self)
