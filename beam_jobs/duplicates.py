"""Duplicate detection inside the job (grouping by content, so it runs on Dataflow and no machine holds
every hash), and --dedupe."""

from __future__ import annotations

import apache_beam as beam

from prep import duplicates


def _copy(record) -> duplicates.Copy:
    split, key, image = record
    return duplicates.Copy(key, split, image.digest, image.fingerprint)


def _rejections(group):
    kept, others = duplicates.survivor(group)
    for copy in others:
        yield {"path": copy.relative_path, "reason": "duplicate",
               "detail": f"the same image as {kept.relative_path} (kept: the first by path; --dedupe)"}


class FindDuplicates(beam.PTransform):
    """(split, key, PendingImage) records -> the records to write (without the extra copies when
    `dedupe`), with tagged outputs `rejected` (dropped copies), `facts` (for the stats summary) and
    `summary` (stats.json's "duplicates", one dict)."""

    def __init__(self, dedupe: bool):
        super().__init__()
        self.dedupe = dedupe

    def expand(self, records):
        copies = records | "Copies" >> beam.Map(_copy)
        groups = (
            copies
            | "ByContent" >> beam.Map(lambda c: (c.digest, c))
            | "GroupByContent" >> beam.GroupByKey()
            | "CopiesOnly" >> beam.FlatMap(lambda kv: [list(kv[1])] if len(kv[1]) > 1 else [])
        )
        near = (
            copies
            | "HashBands" >> beam.FlatMap(lambda c: [(band, c) for band in duplicates.bands(c.fingerprint)])
            | "GroupByBand" >> beam.GroupByKey()
            | "ComparePairs" >> beam.FlatMap(lambda kv: duplicates.near_pairs(list(kv[1])))
            | "DistinctPairs" >> beam.Distinct()
        )
        rejected = groups | "Rejections" >> beam.FlatMap(_rejections) if self.dedupe else (
            records.pipeline | "NoRejections" >> beam.Create([]))
        kept = records
        if self.dedupe:
            dropped = beam.pvalue.AsDict(rejected | "DroppedPaths" >> beam.Map(lambda r: (r["path"], True)))
            kept = records | "DropCopies" >> beam.Filter(lambda r, dropped: r[1] not in dropped, dropped)
        summary = (
            groups
            | "AllGroups" >> beam.combiners.ToList()
            | "Summarize" >> beam.Map(
                lambda g, near, dropped: duplicates.summarize(g, near, dropped),
                beam.pvalue.AsList(near),
                beam.pvalue.AsSingleton(rejected | "CountDropped" >> beam.combiners.Count.Globally()))
        )
        facts = rejected | "Facts" >> beam.Map(lambda r: ("rejected", r["reason"]))
        return {"records": kept, "rejected": rejected, "facts": facts, "summary": summary}
