"""The options of each job: one frozen dataclass, built once by the CLI from its flags, passed down."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from prep.imaging import ImageOptions
from prep.splits import SplitFractions

DEFAULT_SHARD_SIZE = 128 * 2**20  # bytes of records per shard when --num-shards is not given


@dataclass(frozen=True)
class ShardingOptions:
    """`num_shards` shards per split, or as many as needed for about `shard_size` bytes each."""

    num_shards: int | None = None
    shard_size: int = DEFAULT_SHARD_SIZE
    compression: str = "none"


@dataclass(frozen=True)
class ImageJobOptions:
    src: str
    out: str
    image: ImageOptions = ImageOptions()
    sharding: ShardingOptions = ShardingOptions()
    split_fractions: SplitFractions | None = None
    labels: tuple[str, ...] | None = None
    include_hidden: bool = False
    dedupe: bool = False  # drop exact copies (kept: the first by path)
    created: str = ""  # ISO time the run was launched, for provenance

    def to_dict(self) -> dict:
        """The options as plain JSON values, recorded in schema.json's provenance."""
        d = dataclasses.asdict(self)
        d["split_fractions"] = dict(self.split_fractions.items) if self.split_fractions else None
        return d
