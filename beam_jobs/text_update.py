"""`prep text --update`: the next version of a text dataset, encoding only the documents that are new.

The unit an update compares is the input file (prep.text.inventory):
1. `CompareInputs`: a join of SRC's listing with the version's input files (its INPUTS_FILE), by path.
   A file whose bytes are unchanged keeps its records and its rejections; a line file that only grew
   keeps them and only its new lines are read (byte ranges from its old end, numbered on from its old
   line count); a new file, or any other change, is read whole. A file with a copy --dedupe dropped is
   read again whole, so that the copies are chosen again among every document. A file that is gone
   loses its records and rejections. An update that relearns the vocabulary reads every file whole,
   learns the vocabulary as a first run does, and keeps nothing of the version before (steps 2 and 3
   do not run) but its split and class names.
2. `HeldCopies`: the kept records' digests, from the shards' inventories, join the new documents' in
   the exact-copy search, so copies and leakage are found across versions and --dedupe applies to the
   whole dataset.
3. `CarryTextShards`: a shard all of whose records stay is shared with the new version as it is; the
   records that stay in any other shard are read out of it and written again with the new records.
   Their facts (stats.json) come from the inventory, never from reading the documents again.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam_jobs import record_batches
from beam_jobs.batching import packed_groups
from beam_jobs.source_files import read_file
from beam_jobs.update import carried_result, read_inventory
from prep.core import layout as layouts
from prep.core.duplicates import EXACT_PER_BUCKET, REASON, Copy, key_bits
from prep.core.row_files import byte_ranges
from prep.core.statistics import Summary
from prep.core.versions import ids_file_name, inventory_file_name, inventory_rows
from prep.jobs.options import HeldShard
from prep.jobs.results import PARTIAL_FACT, REJECTED_FILE
from prep.records import tfrecord_io
from prep.text import dataset as text_dataset
from prep.text import inventory
from prep.text.corpus_survey import range_key
from prep.text.encoder import RecordColumns, RecordTally, exact_bucket, placement
from prep.text.inputs import TextInputs, file_format
from prep.text.options import TextJobOptions
from schemas.versions import read_version_file


def _version_rows(_, out: str, version: int, name: str) -> list[dict]:
    """The JSON lines of a file of version `version` (schemas.versions.read_version_file)."""
    return inventory_rows(read_version_file(out, version, name)[0])


def read_state(path: str, source: str, inputs: TextInputs, layout: layouts.Layout,
               prefix: int | None = None) -> tuple[dict, str | None]:
    """prep.text.inventory.input_state of an input file; a file that cannot be read gets a state no
    file has (its reading rejects it, and the next update reads it again)."""
    where = layouts.locate(source, layout) if inputs.format == "folder" else None
    try:
        with FileSystems.open(path, compression_type="uncompressed") as f:
            return inventory.input_state(f, source, where, prefix)
    except Exception:  # noqa: BLE001 - the encoding pass says why, in rejected.jsonl
        state = {"file": source, "size": -1, "digest": "", "lines": 0}
        if where is not None:
            state["where"] = [where.split, where.class_name, where.problem]
        return state, None


class _CompareInputs(beam.DoFn):
    """(file, {"listed": [FileMetadata], "before": [its INPUTS_FILE line]}) -> its INPUTS_FILE line now
    (main); tagged: "ranges" to encode, "kept" (file, True) for a file whose records stay, "bases"
    (range key of its start, lines before) for a file that grew (beam_jobs.vocab.NumberLines)."""

    def __init__(self, inputs: TextInputs, relearn: bool):
        self.inputs, self.relearn = inputs, relearn

    def process(self, element, layout: layouts.Layout, copied: dict):
        source, sides = element
        listed = list(sides["listed"])
        if not listed:
            return  # gone: its records and rejections go with it
        meta, before = listed[0], next(iter(sides["before"]), None)
        fmt = file_format(meta.path, self.inputs.format)
        state, head = read_state(meta.path, source, self.inputs, layout, before["size"] if before else None)
        change = inventory.compare(before, state, head, inventory.appendable(meta.path, fmt))
        if change.keeps_records and (source in copied or self.relearn):
            # its copies are chosen again, among every document; or every record is made again
            change = inventory.Change("changed")
        yield state
        if change.keeps_records:
            yield beam.pvalue.TaggedOutput("kept", (source, True))
        if change.kind == "unchanged":
            return
        if change.kind == "appended":
            yield beam.pvalue.TaggedOutput("bases", (range_key(meta.path, 0), change.first_line - 1))
        start = change.start
        for s, e in byte_ranges(meta.path, meta.size_in_bytes - start, fmt):
            yield beam.pvalue.TaggedOutput("ranges", (meta.path, start + s, None if e is None else start + e))


class CompareInputs(beam.PTransform):
    """Matched files (FileMetadata) -> {"states": the new version's INPUTS_FILE lines, "ranges": byte
    ranges to encode, "kept": (file, True) per file whose records stay, "bases": see _CompareInputs,
    "rejected": the rejected.jsonl rows of the version before}."""

    def __init__(self, options: TextJobOptions, layout):
        super().__init__()
        self.options, self.layout = options, layout

    def expand(self, files):
        o, before = self.options, self.options.update.version - 1
        root = o.inputs.root
        listed = files | "ByFile" >> beam.Map(lambda m: (layouts.relative_path(m.path, root), m))
        pipeline = files.pipeline
        old = (pipeline | "Once" >> beam.Create([None])
               | "ReadInputs" >> beam.FlatMap(_version_rows, o.out, before, inventory.INPUTS_FILE)
               | "InputByFile" >> beam.Map(lambda state: (state["file"], state)))
        rejected = (pipeline | "Rejections" >> beam.Create([None])
                    | "ReadRejected" >> beam.FlatMap(_version_rows, o.out, before, REJECTED_FILE))
        copied = rejected | "Copies" >> beam.FlatMap(lambda row: [(row["path"], True)] if row.get("reason") == REASON else [])
        compared = ({"listed": listed, "before": old}
                    | "JoinByFile" >> beam.CoGroupByKey()
                    | "Spread" >> beam.Reshuffle()
                    | "Compare" >> beam.ParDo(_CompareInputs(o.inputs, o.update.relearn), self.layout, beam.pvalue.AsDict(copied))
                    .with_outputs("ranges", "kept", "bases", main="states"))
        return {"states": compared.states, "ranges": compared.ranges | "SpreadRanges" >> beam.Reshuffle(),
                "kept": compared.kept, "bases": compared.bases, "rejected": rejected}


def _kept_rejection(row: dict, kept: dict):
    """A rejection of the version before, as facts, if its file keeps its records."""
    if kept.get(row.get("path")):
        yield "rejected", row
        yield text_dataset.HELD_FACT, 1


def documents(options: TextJobOptions, survey: dict) -> int:
    """The documents the duplicate search sizes its buckets for: those read, and an update's held ones."""
    held = sum(s.num_records for s in options.update.shards) if options.update else 0
    return survey.get("inputs", {}).get("rows", 0) + held


def _inventory(out: str, shard: HeldShard) -> tuple[list[dict], list[bytes]]:
    """A shard's inventory: its rows, and each row's line as it is written (after the header)."""
    rows, data = read_inventory(out, shard)
    lines = data.splitlines(keepends=True)[1:]
    if len(lines) != len(rows):
        raise RuntimeError(f"{inventory_file_name(shard.file)} has lines that are no record's: the dataset is "
                           "damaged; convert it again with --overwrite")
    return rows, lines


class _HeldCopies(beam.DoFn):
    """A shard of the version before -> the copies (prep.core.duplicates.Copy, as plain tuples, by
    exact-copy bucket) of its records whose files keep them (tagged "copies"), and how many those are
    (a HELD_FACT)."""

    def __init__(self, options: TextJobOptions):
        self.options = options

    def process(self, shard: HeldShard, kept: dict, survey: dict):
        rows = [row for row in _inventory(self.options.out, shard)[0] if kept.get(inventory.file_of(row))]
        if not rows:
            return
        bits = key_bits(documents(self.options, survey), EXACT_PER_BUCKET, 8, 32)
        buckets: dict[tuple, list[Copy]] = {}
        for row in rows:
            digest = bytes.fromhex(row["digest"])
            buckets.setdefault(exact_bucket(digest, bits), []).append(
                Copy(inventory.file_of(row), row["split"], digest, line=row["line"]))
        yield from packed_groups(buckets, self.options.spill_dir)
        yield beam.pvalue.TaggedOutput("facts", (text_dataset.HELD_FACT, len(rows)))


def _held_summary(rows: list[dict], ids) -> Summary:
    """The stats facts of records an update keeps, folded (as prep.text.encoder.RecordTally folds
    new ones), with the held tokens counted apart for the summary's out-of-vocabulary comparison."""
    tally, summary = RecordTally(None), Summary()
    for row in rows:
        tally.add_counts(row["split"], row["class_name"], row["tokens"], row["oov"], row["written"])
        summary.count(text_dataset.HELD_TOKENS, "tokens", row["tokens"])
        summary.count(text_dataset.HELD_TOKENS, "oov_tokens", row["oov"])
    summary.count(text_dataset.HELD_TOKENS, "records", len(rows))
    tally.fold(summary, ids)
    return summary


class _CarryTextShard(beam.DoFn):
    """A shard of the version before -> its result as it is, when every record stays (main); else the
    records that stay, read out of it, in batches to write again (tagged "batches", with "sizes", of at
    most `max_records` records or `max_bytes` bytes, as the encoder's: a worker never holds a shard);
    and the staying records' facts (tagged "facts")."""

    def __init__(self, options: TextJobOptions, max_records: int = 20_000, max_bytes: int = 64 * 2**20):
        self.options, self.max_records, self.max_bytes = options, max_records, max_bytes

    def process(self, shard: HeldShard, kept: dict, dropped: dict):
        out = self.options.out
        rows, lines = _inventory(out, shard)
        stay = [i for i, row in enumerate(rows) if kept.get(inventory.file_of(row)) and row["name"] not in dropped]
        if len(stay) == len(rows):
            ids = inventory.ids_of(read_file(FileSystems.join(out, ids_file_name(shard.file))))
            yield beam.pvalue.TaggedOutput("facts", (PARTIAL_FACT, _held_summary(rows, ids)))
            yield carried_result(shard) | {"ids_file": ids_file_name(shard.file)}
            return
        if not stay:
            return
        wanted, chunk, size, found = set(stay), [], 0, 0
        for position, record in enumerate(tfrecord_io.read_records(FileSystems.join(out, shard.file),
                                                                    self.options.sharding.compression)):
            if position in wanted:
                chunk.append((position, record))
                size += len(record)
                if len(chunk) >= self.max_records or size >= self.max_bytes:
                    found += len(chunk)
                    yield from self._batch(chunk, rows, lines)
                    chunk, size = [], 0
        found += len(chunk)
        yield from self._batch(chunk, rows, lines)
        if found != len(stay):
            raise RuntimeError(f"{shard.file} holds other records than its inventory says: the dataset changed "
                               "while the update ran")

    def _batch(self, chunk: list[tuple[int, bytes]], rows: list[dict], lines: list[bytes]):
        """Records read out of a shard (position, record) as a batch to write again, with their facts."""
        if not chunk:
            return
        held = [rows[i] for i, _ in chunk]
        records, offsets = [record for _, record in chunk], [row["at"] for row in held]
        yield beam.pvalue.TaggedOutput("facts", (PARTIAL_FACT, _held_summary(
            held, inventory.used_ids(records, offsets))))
        hashes = [placement(row["name"]) for row in held]
        columns = RecordColumns([row["split"] for row in held], [row["name"] for row in held], records,
                                [h for h, _ in hashes], [o for _, o in hashes], [lines[i] for i, _ in chunk], offsets)
        yield beam.pvalue.TaggedOutput("batches", record_batches.packed(columns, self.options.spill_dir))
        for size in columns.sizes().items():
            yield beam.pvalue.TaggedOutput("sizes", size)


class CarryTextShards(beam.PTransform):
    """The shards of the version before -> {"results": those shared as they are, "batches" and
    "sizes": the records of the others that stay, to write again, "facts": the staying records'}.
    `kept`: files whose records stay (a side input), `dropped`: records --dedupe drops (names)."""

    def __init__(self, options: TextJobOptions, kept, dropped):
        super().__init__()
        self.options, self.kept, self.dropped = options, kept, dropped

    def expand(self, shards):
        return shards | "Carry" >> beam.ParDo(_CarryTextShard(self.options), self.kept, self.dropped).with_outputs(
            "batches", "sizes", "facts", main="results")


class HeldRecords(beam.PTransform):
    """What an update keeps of the version before: {"shards": its shards, spread over the workers,
    "copies": the kept records' copies by bucket, "facts": HELD_FACTs of the kept records and the
    kept rejections (with their rejected.jsonl rows)}."""

    def __init__(self, options: TextJobOptions, kept, survey, rejected):
        """`rejected`: the rejected.jsonl rows of the version before (CompareInputs)."""
        super().__init__()
        self.options, self.kept, self.survey, self.rejected = options, kept, survey, rejected

    def expand(self, pipeline):
        o = self.options
        shards = pipeline | "Shards" >> beam.Create(list(o.update.shards)) | "SpreadShards" >> beam.Reshuffle()
        held = shards | "HeldCopies" >> beam.ParDo(_HeldCopies(o), self.kept, self.survey).with_outputs(
            "facts", main="copies")
        rejections = self.rejected | "KeptRejections" >> beam.FlatMap(_kept_rejection, self.kept)
        return {"shards": shards, "copies": held.copies,
                "facts": (held.facts, rejections) | "HeldFacts" >> beam.Flatten()}
