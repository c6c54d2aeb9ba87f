"""An update (`--update`): the next version of a dataset, converting only the inputs that changed.

1. `ReadHeld`: the records the current version holds, as their shards' inventories describe them
   (prep.images.inventory), keyed by name; the inputs those records came from are never opened.
2. `Compare`: a join of SRC's listing with them, by name. An input whose file has the digest its
   record was made from, and whose split and label are what the record says, keeps its record (a
   HeldImage goes on); any other input is converted as in a first run; a record whose input is gone is
   left out. A file in a class folder whose size and modification time are those its record was made
   from (prep.images.inventory.stable_stat) is not read again for its digest.
3. After the duplicate search (which sees the held records beside the new ones), `CarryShards`
   groups the held records that stay by shard: a shard all of whose records stay is shared with the
   new version as it is; the records that stay in any other shard are read out of it and written again
   with the new records, into the new version's folder (prep.core.versions.version_folder).
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam_jobs.batching import spill
from beam_jobs.source_files import image_path, read_file
from prep.core import layout as layouts
from prep.core.duplicates import content_digest
from prep.core.splits import DEFAULT_SPLIT
from prep.core.versions import inventory_file_name, inventory_rows
from prep.images import dataset as image_dataset
from prep.images.inventory import HeldImage
from prep.images.manifest import annotation_key
from prep.images.options import ImageJobOptions
from prep.jobs.options import HeldShard
from prep.jobs.progress import KEPT, Progress
from prep.records import tfrecord_io


def read_inventory(out: str, shard: HeldShard) -> tuple[list[dict], bytes]:
    """The inventory of a shard of the version an update starts from: its rows, and the file as it is;
    an error when it describes another number of records than the shard holds."""
    data = read_file(FileSystems.join(out, inventory_file_name(shard.file)))
    rows = inventory_rows(data)
    if len(rows) != shard.num_records:
        raise RuntimeError(f"{inventory_file_name(shard.file)} describes {len(rows)} records, but its shard holds "
                           f"{shard.num_records}: the dataset is damaged; convert it again with --overwrite")
    return rows, data


def _held_images(shard: HeldShard, out: str):
    rows = read_inventory(out, shard)[0]
    return [(row["name"], HeldImage(row, shard.file, i)) for i, row in enumerate(rows)]


class ReadHeld(beam.PTransform):
    """The records of the shards an update starts from, as (name, HeldImage)."""

    def __init__(self, out: str, shards: tuple[HeldShard, ...]):
        super().__init__()
        self.out, self.shards = out, shards

    def expand(self, pipeline):
        out = self.out
        return (pipeline
                | "Shards" >> beam.Create(list(self.shards))
                | "Spread" >> beam.Reshuffle()
                | "Inventory" >> beam.FlatMap(_held_images, out))


class _Compare(beam.DoFn):
    """(name, {"listed": [input], "held": [HeldImage]}) -> the held record that stays, as (split, name,
    HeldImage); or the input to convert (tagged "convert"); a record whose input is gone or changed goes
    no further. An input is a file under SRC as MatchInputs lists it (class folders: its input is
    counted here, as converting it would), or (image, manifest row) (counted when the rows were read)."""

    def __init__(self, options: ImageJobOptions):
        self.options = options

    def setup(self):
        self.progress = Progress()

    def process(self, element, layout: layouts.Layout):
        name, sides = element
        listed, held = list(sides["listed"]), list(sides["held"])
        if not listed:
            return
        if held and self._unchanged(listed[0], name, held[0], layout):
            self.progress.add(KEPT)
            yield held[0].split, name, held[0]
            if self.options.manifest is None:
                yield beam.pvalue.TaggedOutput("facts", image_dataset.INPUT_FACT)
            return
        yield beam.pvalue.TaggedOutput("convert", listed[0])

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
    """(inputs, held records) -> {"held": the held records that stay, "convert": the inputs to
    convert, "facts": an INPUT_FACT for each class-folder file whose record stays}."""

    def __init__(self, options: ImageJobOptions, layout):
        super().__init__()
        self.options, self.layout = options, layout

    def expand(self, inputs):
        files, held = inputs
        src = self.options.src
        if self.options.manifest is None:
            listed = files | "ByName" >> beam.Map(lambda f: (layouts.relative_path(f[0], src), f))
        else:
            listed = files | "ByName" >> beam.Map(lambda image: (image[0], image))
        return ({"listed": listed, "held": held}
                | "JoinByName" >> beam.CoGroupByKey()
                | "Compare" >> beam.ParDo(_Compare(self.options), self.layout).with_outputs("convert", "facts", main="held"))


def carried_result(shard: HeldShard) -> dict:
    """The shard result (as WriteShards outputs them) of a shard an update shares with the version before."""
    return {"split": shard.split, "index": shard.position, "num_shards": None, "file": shard.file,
            "num_records": shard.num_records, "num_bytes": shard.num_bytes, "index_file": shard.index,
            "inventory_file": inventory_file_name(shard.file), "staging": None, "carried": True}


class _CarryShard(beam.DoFn):
    """(shard file, its HeldImages that stay) -> the shard's result as it is, when every record stays;
    else its staying records, read out of it (tagged "records", to be written again). With `spill_dir`
    (a local run) the records wait in a spill file there and only where they are travels on: Beam's
    local runner would hold (and, with several workers, loses: bench/RESULTS.md) a shuffle of the bytes."""

    def __init__(self, out: str, shards: tuple[HeldShard, ...], compression: str, spill_dir: str | None):
        self.out, self.compression, self.spill_dir = out, compression, spill_dir
        self.shards = {shard.file: shard for shard in shards}

    def process(self, element):
        file, images = element
        images = list(images)
        shard = self.shards[file]
        if len(images) == shard.num_records:
            yield carried_result(shard)
            return
        wanted = {image.position: image for image in images}
        found, read = [], 0
        for position, record in enumerate(tfrecord_io.read_records(FileSystems.join(self.out, file), self.compression)):
            read += 1
            if position in wanted:
                found.append((position, record))
        if read != shard.num_records or len(found) != len(images):
            raise RuntimeError(f"{file} holds {read} records, {shard.num_records} by schema.json, and {len(images)} "
                               f"to keep were found {len(found)} times: the dataset changed while the update ran")
        places = spill(self.spill_dir, found) if self.spill_dir else found
        for position, place in places:
            image = wanted[position]
            yield beam.pvalue.TaggedOutput("records", (image.split, image.relative_path,
                                                       HeldImage(image.row, image.shard, position, place)))


class CarryShards(beam.PTransform):
    """The held records that stay (split, name, HeldImage) -> {"results": the shards shared as they
    are (shard results, marked "carried"), "records": the records of the other shards, to write again};
    `spill_dir`: see _CarryShard."""

    def __init__(self, out: str, shards: tuple[HeldShard, ...], compression: str, spill_dir: str | None = None):
        super().__init__()
        self.out, self.shards, self.compression, self.spill_dir = out, shards, compression, spill_dir

    def expand(self, held):
        return (held
                | "ByShard" >> beam.Map(lambda r: (r[2].shard, r[2]))
                | "GroupByShard" >> beam.GroupByKey()
                | "Carry" >> beam.ParDo(_CarryShard(self.out, self.shards, self.compression, self.spill_dir))
                .with_outputs("records", main="results"))
