"""Duplicate detection inside the job (grouping by content, so it runs on Dataflow and no machine holds
every hash), and --dedupe."""

from __future__ import annotations

import apache_beam as beam

from prep import duplicates


def _image_copy(record) -> duplicates.Copy:
    split, key, image = record
    return duplicates.Copy(key, split, image.digest, image.fingerprint)


def _image_rejection(kept: duplicates.Copy, dropped: duplicates.Copy) -> dict:
    return {"path": dropped.relative_path, "reason": duplicates.REASON,
            "detail": duplicates.dropped_detail(kept, "image")}


IMAGES = duplicates.Content(_image_copy, _image_rejection, near=True)  # (split, relative path, PendingImage)


def _dropped(group: list[duplicates.Copy]):
    kept, others = duplicates.survivor(group)
    return [(kept, copy) for copy in others]


class FindDuplicates(beam.PTransform):
    """(split, key, value) records -> the records to write (without the extra copies when `dedupe`),
    with tagged outputs `rejected` (dropped copies), `facts` (for the stats summary) and `summary`
    (stats.json's "duplicates", one dict). `content` says what the records are (default: images)."""

    def __init__(self, dedupe: bool, content: duplicates.Content = IMAGES):
        super().__init__()
        self.dedupe, self.content = dedupe, content

    def _near_pairs(self, copies):
        return (
            copies
            | "HashBands" >> beam.FlatMap(lambda c: [(band, c) for band in duplicates.bands(c.fingerprint)])
            | "GroupByBand" >> beam.GroupByKey()
            | "ComparePairs" >> beam.FlatMap(lambda kv: duplicates.near_pairs(list(kv[1])))
            | "DistinctPairs" >> beam.Distinct()
        )

    def expand(self, records):
        content = self.content
        copies = records | "Copies" >> beam.Map(content.copy)
        groups = (
            copies
            | "ByContent" >> beam.Map(lambda c: (c.digest, c))
            | "GroupByContent" >> beam.GroupByKey()
            | "CopiesOnly" >> beam.FlatMap(lambda kv: [list(kv[1])] if len(kv[1]) > 1 else [])
        )
        dropped = groups | "Dropped" >> beam.FlatMap(_dropped) if self.dedupe else (
            records.pipeline | "NoneDropped" >> beam.Create([]))
        rejected = dropped | "Rejections" >> beam.MapTuple(content.rejection)
        kept = records
        if self.dedupe:
            names = beam.pvalue.AsDict(dropped | "DroppedNames" >> beam.MapTuple(lambda _, copy: (copy.name, True)))
            kept = records | "DropCopies" >> beam.Filter(lambda r, names: content.copy(r).name not in names, names)
        near = beam.pvalue.AsList(self._near_pairs(copies)) if content.near else None
        summary = (
            groups
            | "AllGroups" >> beam.combiners.ToList()
            | "Summarize" >> beam.Map(
                lambda g, near, dropped: duplicates.summarize(g, near, dropped),
                near,
                beam.pvalue.AsSingleton(rejected | "CountDropped" >> beam.combiners.Count.Globally()))
        )
        facts = rejected | "Facts" >> beam.Map(lambda r: ("rejected", r["reason"]))
        return {"records": kept, "rejected": rejected, "facts": facts, "summary": summary}
