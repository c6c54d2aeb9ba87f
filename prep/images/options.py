"""The options of `prep images`: one frozen dataclass, built once by the CLI from its flags, passed down."""

from __future__ import annotations

from dataclasses import dataclass

from prep.core.splits import SplitFractions
from prep.images.imaging import ImageOptions
from prep.images.manifest import ManifestSpec
from prep.images.masks import MaskSpec
from prep.jobs.options import ShardingOptions, SpillsUnderOut, UpdateOptions, provenance_dict


@dataclass(frozen=True)
class ImageJobOptions(SpillsUnderOut):
    src: str
    out: str
    image: ImageOptions = ImageOptions()
    sharding: ShardingOptions = ShardingOptions()
    split_fractions: SplitFractions | None = None
    labels: tuple[str, ...] | None = None
    include_hidden: bool = False
    dedupe: bool = False  # drop exact copies (kept: the first by split, train first, then path)
    dedupe_near: bool = False  # drop near copies that span splits (kept: those of the first split, train first)
    check_duplicates: bool = True  # find exact and near copies (stats.json's "duplicates")
    spill_shuffles: bool = False  # shuffle batches through files under OUT (local runs: see beam_jobs.batching)
    created: str = ""  # ISO time the run was launched, for provenance
    manifest: ManifestSpec | None = None  # labels from a manifest's rows instead of class folders
    update: UpdateOptions | None = None  # --update: the dataset in OUT, which this run makes the next version of
    masks: MaskSpec | None = None  # --masks: a segmentation mask for each image (prep.images.masks)

    @property
    def label_kind(self) -> str:
        """What a record's label is: a key of prep.images.records.LABEL_KEYS."""
        if self.masks is not None:
            return "segmentation"
        return self.manifest.kind if self.manifest else "class"

    def to_dict(self) -> dict:
        return provenance_dict(self)
