"""The options of `prep report`: what the page shows and how much of the dataset it may read."""

from __future__ import annotations

from dataclasses import dataclass

from prep.inspection import contact_sheet as sheets


@dataclass(frozen=True)
class ReportOptions:
    """What a report shows and how much it may read."""

    per_class: int = sheets.PER_CLASS        # samples per class
    max_records: int = sheets.MAX_RECORDS    # records read at most for the samples
    rejected_paths: int = 20                 # paths listed per rejection reason
    duplicate_examples: int = 10             # groups (and near pairs) of each kind shown with their images
    extra_bytes: int = 128 * 2**20          # bytes of shards read beyond the samples' to find those images
    documents: int = 4                       # text: documents rendered back from their token ids, per split
    text_sample: int = 500                   # text: documents read per split when stats.json lacks a figure
