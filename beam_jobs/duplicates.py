"""Duplicate detection inside the job (grouping by content, so it runs on Dataflow and no machine holds
every hash), and --dedupe."""

from __future__ import annotations

import functools

import apache_beam as beam

from beam_jobs.batching import BatchPerKey, spilled_records, unbatched, values_of
from prep.core import duplicates


def _image_copy(record) -> duplicates.Copy:
    split, key, image = record
    return duplicates.Copy(key, split, image.digest, image.fingerprint, thumbnail=image.thumbnail)


def _image_rejection(kept: duplicates.Copy, dropped: duplicates.Copy) -> dict:
    return {"path": dropped.relative_path, "reason": duplicates.REASON,
            "detail": duplicates.dropped_detail(kept, "image")}


# (split, relative path, PendingImage) records
IMAGES = duplicates.Content(_image_copy, _image_rejection, lambda r: r[2].record_size, near=True)


def dropped_copies(group: list[duplicates.Copy]):
    kept, others = duplicates.survivor(group)
    return [(kept, copy) for copy in others]


def _near_dropped(found: dict) -> list[tuple[str, dict]]:
    """(name, rejected.jsonl row) of each near copy --dedupe-near drops, from the job's near groups."""
    return [(row["path"], row) for row in duplicates.near_drops(found["groups"])]


def _first_rejection(name_rows) -> dict:
    """One rejection per dropped record: an exact copy's if it is both (the exact copy --dedupe drops)."""
    _, rows = name_rows
    return min(rows, key=lambda row: row["reason"] != duplicates.REASON)


def _not_dropped(content: duplicates.Content, record, names: dict) -> bool:
    return content.copy(record).name not in names


def _unless_dropped(joined) -> list:
    """(name, {"records", "dropped"}) -> the record of that name, unless a rejection drops it."""
    _, sides = joined
    return [] if any(True for _ in sides["dropped"]) else list(sides["records"])


def bucketed(content: duplicates.Content, record, count: int = 0):
    """A record's copy, once for each bucket it must be compared in (see `duplicates.buckets`), the
    buckets sized for `count` inputs."""
    copy = content.copy(record)
    exact = copy._replace(fingerprint=0, thumbnail=b"")  # an exact bucket compares digests only
    return [(key, exact if key[0] == "exact" else copy) for key in duplicates.buckets(copy, content.near, count)]


def compare_bucket(bucket):
    key, batches = bucket
    found = duplicates.compare_bucket(key, values_of(batches))
    yield from found.groups
    for pair in found.pairs:
        yield beam.pvalue.TaggedOutput("near", pair)
    for images in found.split:
        yield beam.pvalue.TaggedOutput("facts", (duplicates.SPLIT_FACT, images))
    for images in found.crowded:
        yield beam.pvalue.TaggedOutput("facts", (duplicates.CROWDED_FACT, images))


class FindDuplicates(beam.PTransform):
    """(split, key, value) records -> `records`, those to write (without the extra copies when
    `dedupe`), and `facts` for the job's summary: groups of copies, near pairs, and ("rejected", row)
    for each copy dropped. `duplicates.from_summary` makes stats.json's "duplicates" of them, so no
    shuffle of its own gathers them. `content` says what the records are (default: images);
    `spill_dir`: see beam_jobs.batching; `count`: the number of inputs (a PCollection of one int), to
    size the buckets (duplicates.key_bits), or None for the smallest; `held`: (bucket, batch) of the
    copies of records that are compared but not among `records` (an update's held records, bucketed
    by `bucketed` and batched as BatchPerKey batches them). Also `dropped`: (name, rejected.jsonl row)
    of each record --dedupe or --dedupe-near drops (None without them)."""

    def __init__(self, dedupe: bool, content: duplicates.Content = IMAGES, spill_dir: str | None = None,
                 dedupe_near: bool = False, count=None, held=None):
        super().__init__()
        self.dedupe, self.content, self.spill_dir, self.dedupe_near = dedupe, content, spill_dir, dedupe_near
        self.count, self.held = count, held

    def expand(self, records):
        content = self.content
        sized = () if self.count is None else (beam.pvalue.AsSingleton(self.count),)
        gathered = records | "GatherCopies" >> beam.ParDo(
            BatchPerKey(functools.partial(bucketed, content), spill_dir=self.spill_dir), *sized)
        if self.held is not None:
            gathered = (gathered, self.held) | "WithHeldCopies" >> beam.Flatten()
        found = (
            gathered
            | "GroupByBucket" >> beam.GroupByKey()
            | "Compare" >> beam.FlatMap(compare_bucket).with_outputs("near", "facts", main="groups")
        )
        groups = found.groups
        facts = [groups | "GroupFacts" >> beam.Map(lambda g: (duplicates.GROUP_FACT, g)), found.facts]
        if content.near:  # the near groups, found once from every pair, for stats.json and --dedupe-near
            near = (found.near | "AllNearPairs" >> beam.combiners.ToList()
                    | "NearGroups" >> beam.Map(duplicates.near_found))
            facts.append(near | "NearFacts" >> beam.Map(lambda n: (duplicates.NEAR_FACT, n)))
        kept, rows = records, None
        if self.dedupe or self.dedupe_near:
            drops = []
            if self.dedupe:
                drops.append(groups | "Dropped" >> beam.FlatMap(dropped_copies) | "ExactRejections" >> beam.MapTuple(
                    lambda survivor, copy: (copy.name, content.rejection(survivor, copy))))
            if self.dedupe_near and content.near:
                drops.append(near | "NearDropped" >> beam.FlatMap(_near_dropped))
            rows = (tuple(drops) | "AllDropped" >> beam.Flatten() | "ByName" >> beam.GroupByKey()
                    | "OnePerName" >> beam.MapTuple(lambda name, rows: (name, _first_rejection((name, rows)))))
            facts.append(rows | "Rejections" >> beam.MapTuple(lambda _, row: ("rejected", row)))
            if self.spill_dir:
                # A local run: the records wait for the dropped names as spilled batches, not in the
                # runner's memory, and the names (one machine's dataset) are each worker's side input.
                names = beam.pvalue.AsDict(rows | "DroppedNames" >> beam.MapTuple(lambda name, _: (name, True)))
                keep = functools.partial(_not_dropped, content)
                waiting = records | "WaitForDuplicates" >> beam.ParDo(spilled_records(self.spill_dir, size=content.size))
                kept = waiting | "DropCopies" >> beam.FlatMap(
                    lambda batch, names: [r for r in unbatched(batch) if keep(r, names)], names)
            else:
                # At scale: a join on the record's name, so that no worker holds every dropped name (5% of
                # a billion images would be 50M names in each worker's memory as a side input).
                kept = (
                    {"records": records | "KeyByName" >> beam.Map(lambda r: (content.copy(r).name, r)), "dropped": rows}
                    | "JoinDropped" >> beam.CoGroupByKey()
                    | "DropCopies" >> beam.FlatMap(_unless_dropped)
                )
        return {"records": kept, "facts": tuple(facts) | "Facts" >> beam.Flatten(), "dropped": rows}
