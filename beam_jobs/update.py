"""An update (`--update`): the next version of a dataset, converting only the inputs that changed.

Held records (those the current version holds) never travel one by one: an update's time and its
workers' memory go to what changed, not to the dataset's size.

1. `ReadHeld`: the records of each shard of the current version, as its inventory describes them
   (prep.images.inventory), packed by a hash of their names into buckets of about NAMES_PER_BUCKET;
   the inputs those records came from are never opened.
2. `Compare`: SRC's listing, batched into the same buckets, joined with them bucket by bucket. An
   input whose file has the digest its record was made from, and whose split and label are what the
   record says, keeps its record; any other input is converted as in a first run, and its old record
   (if any) goes, as does the record of an input that is gone: those go on as ("gone", shard,
   position). A file in a class folder whose size and modification time are those its record was
   made from (prep.images.inventory.stable_stat) is not read again for its digest. The records that
   stay go on only as their copies (prep.core.duplicates.Copy), packed by duplicate bucket, for the
   duplicate search to compare the new records with.
3. `CarryShards`: each shard of the current version, with the positions it loses (gone, or dropped
   by --dedupe): a shard all of whose records stay is shared with the new version as it is; the
   records that stay in any other shard are read out of it and written again with the new records,
   into the new version's folder (prep.core.versions.version_folder). Their facts for stats.json come
   from the inventory.
"""

from __future__ import annotations

import json
import zlib

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam_jobs.batching import BatchPerKey, batched, spill, values_of
from beam_jobs.duplicates import IMAGES, bucketed
from beam_jobs.source_files import image_path, read_file
from prep.core import layout as layouts
from prep.core.duplicates import content_digest
from prep.core.splits import DEFAULT_SPLIT
from prep.core.statistics import Summary
from prep.core.versions import inventory_file_name, inventory_lines, inventory_rows
from prep.images import dataset as image_dataset
from prep.images.inventory import HeldImage, row_name
from prep.images.manifest import annotation_key
from prep.images.options import ImageJobOptions
from prep.jobs.options import HeldShard
from prep.jobs.progress import KEPT, Progress
from prep.jobs.results import PARTIAL_FACT
from prep.records import tfrecord_io

NAMES_PER_BUCKET = 10_000  # held records (and about as many listed inputs) a worker compares at once


def name_buckets(shards: tuple[HeldShard, ...]) -> int:
    """How many buckets an update compares names in: about NAMES_PER_BUCKET held records each."""
    return max(1, -(-sum(shard.num_records for shard in shards) // NAMES_PER_BUCKET))


def name_bucket(name: str, buckets: int) -> int:
    """The bucket of a record's name: the same in every worker (Python's hash() is not)."""
    return zlib.crc32(name.encode("utf-8")) % buckets


def _checked(shard: HeldShard, described: int) -> None:
    if described != shard.num_records:
        raise RuntimeError(f"{inventory_file_name(shard.file)} describes {described} records, but its shard holds "
                           f"{shard.num_records}: the dataset is damaged; convert it again with --overwrite")


def read_inventory(out: str, shard: HeldShard) -> tuple[list[dict], bytes]:
    """The inventory of a shard of the version an update starts from: its rows, and the file as it is;
    an error when it describes another number of records than the shard holds."""
    data = read_file(FileSystems.join(out, inventory_file_name(shard.file)))
    rows = inventory_rows(data)
    _checked(shard, len(rows))
    return rows, data


def _held_images(shard: HeldShard, out: str, buckets: int, spill_dir: str | None):
    """A shard's inventory lines, unparsed, by name bucket: (shard file, position, line) batches. Only
    each line's name is read here; the worker that compares a line parses it (parsing it here too, and
    pickling the dicts, took a sixth of a 100,000-image update: bench/RESULTS.md)."""
    lines = inventory_lines(read_file(FileSystems.join(out, inventory_file_name(shard.file))))
    _checked(shard, len(lines))
    groups: dict[int, list[tuple]] = {}
    for i, line in enumerate(lines):
        groups.setdefault(name_bucket(row_name(line), buckets), []).append((shard.file, i, line))
    return batched(groups, spill_dir)


class ReadHeld(beam.PTransform):
    """The records of the shards an update starts from, as (name bucket, batch of (shard file,
    position, inventory line))."""

    def __init__(self, out: str, shards: tuple[HeldShard, ...], spill_dir: str | None = None):
        super().__init__()
        self.out, self.shards, self.spill_dir = out, shards, spill_dir

    def expand(self, pipeline):
        return (pipeline
                | "Shards" >> beam.Create(list(self.shards))
                | "Spread" >> beam.Reshuffle()
                | "Inventory" >> beam.FlatMap(_held_images, self.out, name_buckets(self.shards), self.spill_dir))


def drops_held(options: ImageJobOptions) -> bool:
    """Whether the duplicate search may drop a held record that stays (--dedupe, --dedupe-near). The
    stats facts of the records that stay are folded where that is known: without it, as they are
    compared (_Compare); with it, once the drops are known, when their shards are carried (_CarryShard)."""
    return options.check_duplicates and (options.dedupe or options.dedupe_near)


def listed_name(options: ImageJobOptions, listed) -> str:
    """The record name of an input as MatchInputs lists it (a file: its path under SRC) or as a
    manifest gives it ((image, row))."""
    return listed[0] if options.manifest is not None else layouts.relative_path(listed[0], options.src)


class _Compare(beam.DoFn):
    """(name bucket, {"listed": [batch of inputs], "held": [ReadHeld's batches]}) -> the inputs to
    convert (main); tagged: "gone" (shard, position) of each held record that does not stay, "copies"
    (duplicate bucket, batch of Copies) of those that stay (with `compare_copies`), and "facts" (one
    INPUT_FACT + (n,) for the class-folder files whose records stay). An input is a file under SRC as
    MatchInputs lists it (class folders: its input is counted here, as converting it would), or
    (image, manifest row) (counted when the rows were read)."""

    def __init__(self, options: ImageJobOptions, compare_copies: bool):
        self.options, self.compare_copies = options, compare_copies
        self.fold_facts = not drops_held(options)

    def setup(self):
        self.progress = Progress()

    def process(self, element, layout: layouts.Layout, count: int = 0):
        _, sides = element
        held = {}
        for file, position, line in values_of(sides["held"]):
            image = HeldImage(json.loads(line), file, position)
            held[image.relative_path] = image
        seen, copies, kept = set(), {}, 0
        facts = Summary() if self.fold_facts else None
        for listed in values_of(sides["listed"]):
            name = listed_name(self.options, listed)
            if name in seen:
                continue  # listed twice (one image in two manifest rows): converted once, as before
            seen.add(name)
            image = held.pop(name, None)
            if image is not None and self._unchanged(listed, name, image, layout):
                kept += 1
                if facts is not None:
                    image_dataset.add_image_fact(facts, image.row["fact"])  # as stored: see held_summary
                if self.compare_copies:
                    for key, copy in bucketed(IMAGES, (image.split, name, image), count):
                        copies.setdefault(key, []).append(copy)
                continue
            yield listed
            if image is not None:
                yield beam.pvalue.TaggedOutput("gone", (image.shard, image.position))
        for image in held.values():  # its input is gone
            yield beam.pvalue.TaggedOutput("gone", (image.shard, image.position))
        if kept:
            self.progress.add(KEPT, kept)
            if self.options.manifest is None:
                yield beam.pvalue.TaggedOutput("facts", image_dataset.INPUT_FACT + (kept,))
            if facts is not None:
                yield beam.pvalue.TaggedOutput("facts", (PARTIAL_FACT, facts))
        for pair in batched(copies, self.options.spill_dir):
            yield beam.pvalue.TaggedOutput("copies", pair)

    def _where(self, listed, name: str, layout: layouts.Layout) -> tuple[str, str | None, str] | None:
        """(path, split from the input or None, annotation) of an input, or None when it is no record's."""
        o = self.options
        if o.manifest is not None:
            _, row = listed
            return image_path(o.src, name), row.split, annotation_key(row, o.label_kind)
        if not o.include_hidden and layouts.is_hidden(name):
            return None
        where = layouts.locate(name, layout)
        return None if where.problem else (listed[0], where.split, where.class_name)

    def _unchanged(self, listed, name: str, held: HeldImage, layout: layouts.Layout) -> bool:
        found = self._where(listed, name, layout)
        if found is None:
            return False
        path, split, annotation = found
        o = self.options
        fractions = o.split_fractions
        split = split or (fractions.assign(name) if fractions else DEFAULT_SPLIT)
        if split != held.split or annotation != held.annotation:
            return False  # moved to another split or class folder, or its row's label changed: relabelled
        if held.source_stat and o.manifest is None and tuple(listed[1:3]) == held.source_stat:
            return True  # the same size and modification time as when its record was made: not read again
        try:
            return content_digest(read_file(path)) == held.source_digest
        except OSError:
            return False  # its conversion says why


class Compare(beam.PTransform):
    """(inputs, ReadHeld's batches) -> {"convert": the inputs to convert, "gone": (shard, position) of
    the held records that do not stay, "copies": the copies of those that stay, by duplicate bucket
    (with `count`, the number of inputs as a PCollection of one int, which sizes the buckets: see
    beam_jobs.duplicates.FindDuplicates), "facts"}."""

    def __init__(self, options: ImageJobOptions, layout, shards: tuple[HeldShard, ...], count=None):
        super().__init__()
        self.options, self.layout, self.shards, self.count = options, layout, shards, count

    def expand(self, inputs):
        files, held = inputs
        o, buckets = self.options, name_buckets(self.shards)
        listed = files | "ByBucket" >> beam.ParDo(BatchPerKey(lambda f: [(name_bucket(listed_name(o, f), buckets), f)],
                                                              spill_dir=o.spill_dir))
        sized = () if self.count is None else (beam.pvalue.AsSingleton(self.count),)
        return ({"listed": listed, "held": held}
                | "JoinByBucket" >> beam.CoGroupByKey()
                | "Compare" >> beam.ParDo(_Compare(self.options, self.count is not None), self.layout, *sized)
                .with_outputs("gone", "copies", "facts", main="convert"))


def carried_result(shard: HeldShard) -> dict:
    """The shard result (as WriteShards outputs them) of a shard an update shares with the version before."""
    return {"split": shard.split, "index": shard.position, "num_shards": None, "file": shard.file,
            "num_records": shard.num_records, "num_bytes": shard.num_bytes, "index_file": shard.index,
            "inventory_file": inventory_file_name(shard.file), "staging": None, "carried": True}


def held_summary(rows: list[dict]) -> Summary:
    """The stats facts of records an update keeps, folded from their inventory lines. A fact is folded
    as the line stores it (JSON lists where the fact had tuples, which add_image_fact reads alike):
    making it a tuple again took a tenth of a 100,000-image update's time (bench/RESULTS.md)."""
    summary = Summary()
    for row in rows:
        image_dataset.add_image_fact(summary, row["fact"])
    return summary


class _CarryShard(beam.DoFn):
    """(shard file, {"gone": positions of its records that do not stay}) -> the shard's result as it is,
    when every record stays (main); else its staying records, read out of it (tagged "records", to be
    written again); and with `fold_facts` (see drops_held), the staying records' facts (tagged
    "facts"). `dropped` (a side input): the names of the records --dedupe drops. With `spill_dir` (a
    local run) the records wait in a spill file there and only where they are travels on: Beam's local
    runner would hold (and, with several workers, loses: bench/RESULTS.md) a shuffle of the bytes."""

    def __init__(self, out: str, shards: tuple[HeldShard, ...], compression: str, spill_dir: str | None,
                 fold_facts: bool):
        self.out, self.compression, self.spill_dir, self.fold_facts = out, compression, spill_dir, fold_facts
        self.shards = {shard.file: shard for shard in shards}

    def process(self, element, dropped: dict):
        file, sides = element
        shard, gone = self.shards[file], set(sides["gone"])
        if not gone and not dropped and not self.fold_facts:
            yield carried_result(shard)  # its inventory is not even read again
            return
        rows = read_inventory(self.out, shard)[0]
        stay = [i for i, row in enumerate(rows) if i not in gone and row["name"] not in dropped]
        if stay and self.fold_facts:
            yield beam.pvalue.TaggedOutput("facts", (PARTIAL_FACT, held_summary([rows[i] for i in stay])))
        if len(stay) == shard.num_records:
            yield carried_result(shard)
            return
        if not stay:
            return
        wanted, found, read = set(stay), [], 0
        for position, record in enumerate(tfrecord_io.read_records(FileSystems.join(self.out, file), self.compression)):
            read += 1
            if position in wanted:
                found.append((position, record))
        if read != shard.num_records or len(found) != len(stay):
            raise RuntimeError(f"{file} holds {read} records, {shard.num_records} by schema.json, and {len(stay)} "
                               f"to keep were found {len(found)} times: the dataset changed while the update ran")
        places = spill(self.spill_dir, found) if self.spill_dir else found
        for position, place in places:
            row = rows[position]
            yield beam.pvalue.TaggedOutput("records", (row["split"], row["name"], HeldImage(row, file, position, place)))


class CarryShards(beam.PTransform):
    """(shard, position) of the held records that do not stay -> {"results": the shards shared as they
    are (shard results, marked "carried"), "records": the staying records of the other shards, to write
    again, "facts": the staying records' (PARTIAL_FACTs), with --dedupe}; `dropped`: (name, row) of the
    records --dedupe drops, or None."""

    def __init__(self, options: ImageJobOptions, shards: tuple[HeldShard, ...], dropped=None):
        super().__init__()
        self.options, self.shards, self.dropped = options, shards, dropped

    def expand(self, gone):
        o, pipeline = self.options, gone.pipeline
        shards = (pipeline | "Shards" >> beam.Create([(shard.file, None) for shard in self.shards]))
        dropped = self.dropped if self.dropped is not None else pipeline | "NoneDropped" >> beam.Create([])
        return ({"shard": shards, "gone": gone}
                | "JoinByShard" >> beam.CoGroupByKey()
                | "Spread" >> beam.Reshuffle()
                | "Carry" >> beam.ParDo(_CarryShard(o.out, self.shards, o.sharding.compression, o.spill_dir,
                                                    drops_held(o)), beam.pvalue.AsDict(dropped))
                .with_outputs("records", "facts", main="results"))
