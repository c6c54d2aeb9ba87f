"""`prep text`: a text corpus to sharded TFRecords of token ids, as a Beam pipeline.

Two passes over the inputs, after a count of each byte range's lines (to number the lines of a file
read in ranges). The survey (shared with `prep vocab`) counts inputs, labels and, unless a vocabulary
is given, the tokens of the documents the vocabulary is learned from (the train split, unless
--vocab-splits says otherwise); the vocabulary is chosen from it. Then the
encoding pass reads the inputs again and turns each document into a record with the complete
vocabulary as a side input, so no document waits in memory for the vocabulary to be known. It also
hashes each document's normalised text (prep.text.duplicates): copies are grouped by that hash inside
the job, reported in stats.json and, with --dedupe, left out.
"""

from __future__ import annotations

import functools

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

from beam_jobs import record_batches
from beam_jobs.batching import packed_groups, values_of
from beam_jobs.commit import Commit
from beam_jobs.duplicates import dropped_copies
from beam_jobs.matching import ListFiles
from beam_jobs.progress import CountListed, ReportTotal
from beam_jobs.record_batches import WriteShardBatches
from beam_jobs.stats import SummarizeFacts
from beam_jobs.text_update import CarryTextShards, CompareInputs, HeldRecords, documents, read_state
from beam_jobs.vocab import ChooseVocabulary, CorpusRanges, DetectTextLayout, NumberLines, SurveyCorpus, rules_of
from prep.core import duplicates
from prep.core import layout as layouts
from prep.core.failures import CONVERSION_ERROR, unforeseen
from prep.core.statistics import Summary
from prep.jobs.progress import DOCUMENTS, ENCODED, RANGES, REJECTED, Progress
from prep.jobs.results import PARTIAL_FACT
from prep.text import dataset as text_dataset
from prep.text import inventory, vocabulary
from prep.text.corpus_survey import range_key
from prep.text.duplicates import rejection
from prep.text.encoder import DocumentEncoder, RecordColumns
from prep.text.inputs import Rejection, corpus_items
from prep.text.options import TextJobOptions
from prep.text.tokenizer import read_token_vocabulary


class _EncodeRanges(beam.DoFn):
    """(path, start, end) -> batches of records (`record_batches.packed` columns), and tagged:
    "sizes" (split, bytes of records) per batch, "copies" (bucket, batch of `duplicates.Copy`) for
    duplicate detection, "facts" (rejections, and the records' facts as one partial summary per batch;
    with --dedupe the facts wait in the batches). The documents of a whole bundle are encoded together
    (prep.text.encoder), so what Beam handles per document is nothing."""

    def __init__(self, options: TextJobOptions):
        self.options = options
        self._encoder: tuple = (None, None, None)  # (vocabulary, labels, DocumentEncoder)

    def setup(self):
        self.progress = Progress()

    def _reject(self, rejection: Rejection, at=lambda value: value):
        self.progress.add(REJECTED)
        yield beam.pvalue.TaggedOutput("facts", at(("rejected", rejection.to_dict())))

    def process(self, element, layout: layouts.Layout, vocab: vocabulary.TokenVocabulary,
                labels: tuple[str, ...] | None, lines: dict[str, int], survey: dict):
        path, start, end = element
        first_line = lines.get(range_key(path, start), 1) if start else 1
        if self._encoder[0] is not vocab or self._encoder[1] is not labels:
            yield from self._flush(bundle_end=False)
            self._encoder = (vocab, labels, DocumentEncoder(self.options, vocab, labels,
                                                            documents=documents(self.options, survey)))
        encoder = self._encoder[2]
        for item in corpus_items(path, self.options.inputs, layout, start, end, first_line):
            try:
                rejection = item if isinstance(item, Rejection) else encoder.add(item)
            except Exception as e:  # no single input may stop the job: prep.core.failures
                rejection = Rejection(item.source, item.line, CONVERSION_ERROR, unforeseen(e))
            if rejection is not None:
                yield from self._reject(rejection)
            yield from self._failed(encoder)
            if encoder.full:
                yield from self._flush(bundle_end=False)
        self.progress.add(ENCODED)

    def _failed(self, encoder: DocumentEncoder, at=lambda value: value):
        """The rejections of documents that failed once tokenised with their batch (DocumentEncoder.failed)."""
        while encoder.failed:
            yield from self._reject(encoder.failed.pop(0), at)

    def finish_bundle(self):
        yield from self._flush(bundle_end=True)

    def _flush(self, bundle_end: bool):
        encoder = self._encoder[2]
        if encoder is None:
            return
        batch = encoder.take()
        at = GlobalWindows.windowed_value if bundle_end else (lambda value: value)
        yield from self._failed(encoder, at)
        n = len(batch.records.records)
        if not n:
            return
        self.progress.add(DOCUMENTS, n)
        spill_dir = self.options.spill_dir
        yield at(record_batches.packed(batch.records, spill_dir))
        if batch.summary is not None:
            yield beam.pvalue.TaggedOutput("facts", at((PARTIAL_FACT, batch.summary)))
            for size in batch.records.sizes().items():
                yield beam.pvalue.TaggedOutput("sizes", at(size))
        for bucket in packed_groups(batch.copies, spill_dir):  # _compare_copies makes the Copy tuples again
            yield beam.pvalue.TaggedOutput("copies", at(bucket))


def _kept_batch(kept: RecordColumns, spill_dir: str | None, at=lambda value: value):
    """A batch of the records --dedupe keeps, its facts (one partial summary) and its sizes, as
    _EncodeRanges outputs them without --dedupe."""
    summary = Summary()
    for fact in kept.facts:
        text_dataset.add_text_fact(summary, fact)
    kept = kept._replace(facts=None)
    yield at(record_batches.packed(kept, spill_dir))
    yield beam.pvalue.TaggedOutput("facts", at((PARTIAL_FACT, summary)))
    for size in kept.sizes().items():
        yield beam.pvalue.TaggedOutput("sizes", at(size))


class _DropCopies(beam.DoFn):
    """--dedupe on a local run: batches -> batches without the copies dropped (every dropped name a
    side input: one machine's dataset)."""

    def __init__(self, spill_dir: str | None):
        self.spill_dir = spill_dir

    def process(self, batch, dropped: dict):
        columns = record_batches.unpacked(batch)
        yield from _kept_batch(columns.keep([i for i, name in enumerate(columns.identities) if name not in dropped]),
                               self.spill_dir)


def _records_of(batch) -> list[tuple[str, tuple]]:
    """A batch's records one by one, keyed by identity (the name a dropped copy has), for the join."""
    return [(row[1], row) for row in zip(*record_batches.unpacked(batch))]


class _KeepUndropped(beam.DoFn):
    """--dedupe at scale: (identity, {"records", "dropped"}) -> batches of the records no rejection
    drops, as _DropCopies makes them, so that no worker holds every dropped name."""

    def __init__(self, max_values: int = 20_000):
        self.max_values = max_values

    def start_bundle(self):
        self._rows: list[tuple] = []

    def process(self, joined):
        _, sides = joined
        if not any(True for _ in sides["dropped"]):
            self._rows.extend(sides["records"])
        if len(self._rows) >= self.max_values:
            yield from self._flush()

    def finish_bundle(self):
        yield from self._flush(GlobalWindows.windowed_value)

    def _flush(self, at=lambda value: value):
        rows, self._rows = self._rows, []
        if rows:
            yield from _kept_batch(RecordColumns(*(list(column) for column in zip(*rows))), None, at)


def _compare_copies(bucket) -> list[list[duplicates.Copy]]:
    key, batches = bucket
    return duplicates.compare_bucket(key, (duplicates.Copy._make(c) for c in values_of(batches)))[0]


class _GroupCopies(beam.PTransform):
    """(bucket, batch of copies as tuples) -> groups of exact copies ([Copy, ...]), as FindDuplicates
    finds them."""

    def expand(self, copies):
        return copies | "GroupByBucket" >> beam.GroupByKey() | "Compare" >> beam.FlatMap(_compare_copies)


def _input_state(match, inputs, layout) -> dict:
    return read_state(match.path, layouts.relative_path(match.path, inputs.root), inputs, layout)[0]


class ConvertCorpus(beam.PTransform):
    """The whole text job: match, survey, vocabulary, encode, shard, and commit the dataset directory.
    With `options.update`, the next version of the dataset in OUT: only the documents of new and
    changed files are read and encoded, with the dataset's vocabulary (beam_jobs.text_update)."""

    def __init__(self, options: TextJobOptions):
        super().__init__()
        self.options = options

    def expand(self, pipeline):
        o, update = self.options, self.options.update
        files = pipeline | "MatchFiles" >> ListFiles(o.inputs.pattern, strict=bool(update)) | "Listed" >> CountListed()
        ranges = files | "Ranges" >> CorpusRanges(o.inputs)
        layout = beam.pvalue.AsSingleton(ranges | "Layout" >> DetectTextLayout(
            o.inputs, o.labels, update.classes if update else ()))
        bases = None
        carries = update and not update.relearn  # an update that relearns the vocabulary makes every record again
        if update:  # only the new documents are read: the ranges of new, changed and grown files
            compared = files | "CompareInputs" >> CompareInputs(o, layout)
            ranges, states, bases = compared["ranges"], compared["states"], compared["bases"]
            kept = beam.pvalue.AsDict(compared["kept"])
        else:
            states = (files | "SpreadFiles" >> beam.Reshuffle()
                      | "InputStates" >> beam.Map(_input_state, o.inputs, layout))
        ranges | "Parts" >> ReportTotal(RANGES)
        lines = beam.pvalue.AsSingleton(ranges | "NumberLines" >> NumberLines(bases))
        counted = text_dataset.vocabulary_documents(o)
        learn = not (o.vocab_file or carries)
        survey = ranges | "Survey" >> SurveyCorpus(o.inputs, o.text if learn else None, layout, counted, lines)
        summary = beam.pvalue.AsSingleton(survey["summary"])
        if not learn:  # a given vocabulary, or (an update) the dataset's own
            paths = (tuple(FileSystems.join(o.out, f) for f in text_dataset.vocabulary_files(o.text, update.tokens_file)) if update
                     else tuple(p for p in (o.vocab_file, o.merges_file) if p))
            vocab = pipeline | "VocabularyFile" >> beam.Create([paths]) | "ReadVocabulary" >> beam.Map(
                read_token_vocabulary, o.text)
        else:
            vocab = survey["counts"] | "ChooseVocabulary" >> ChooseVocabulary(
                rules_of(o.text), text_dataset.empty_vocabulary_hint(o), summary, empty_without_documents=True)
        vocab = beam.pvalue.AsSingleton(vocab)
        labels = beam.pvalue.AsSingleton(
            survey["summary"] | "Labels" >> beam.Map(lambda s, layout: text_dataset.label_names(o, layout, s), layout))
        encoded = ranges | "Encode" >> beam.ParDo(_EncodeRanges(o), layout, vocab, labels, lines, summary).with_outputs(
            "facts", "sizes", "copies", main="batches")
        copies, facts = encoded.copies, [encoded.facts]
        if carries:
            held = pipeline | "Held" >> HeldRecords(o, kept, summary, compared["rejected"])
            copies = (copies, held["copies"]) | "AllCopies" >> beam.Flatten()
            facts.append(held["facts"])
        groups = copies | "FindDuplicates" >> _GroupCopies()
        facts.append(groups | "GroupFacts" >> beam.Map(lambda g: (duplicates.GROUP_FACT, g)))
        batches, sizes = encoded.batches, encoded.sizes
        names = None
        if o.dedupe:
            dropped = groups | "Dropped" >> beam.FlatMap(dropped_copies)
            facts.append(dropped | "Rejections" >> beam.MapTuple(lambda kept, copy: ("rejected", rejection(kept, copy))))
            names = dropped | "DroppedNames" >> beam.MapTuple(lambda _, copy: (copy.name, True))
            if o.spill_dir:
                kept_new = batches | "DropCopies" >> beam.ParDo(_DropCopies(o.spill_dir), beam.pvalue.AsDict(names)).with_outputs(
                    "facts", "sizes", main="batches")
            else:  # at scale (Dataflow): a join on the record's identity, not a side input of every dropped name
                kept_new = (
                    {"records": batches | "Records" >> beam.FlatMap(_records_of), "dropped": names}
                    | "JoinDropped" >> beam.CoGroupByKey()
                    | "DropCopies" >> beam.ParDo(_KeepUndropped()).with_outputs("facts", "sizes", main="batches")
                )
            batches, sizes = kept_new.batches, kept_new.sizes
            facts.append(kept_new.facts)
        carried = None
        if carries:
            if names is None:
                names = pipeline | "NoneDropped" >> beam.Create([])
            carried = held["shards"] | "CarryShards" >> CarryTextShards(o, kept, beam.pvalue.AsDict(names))
            batches = (batches, carried["batches"]) | "ToWrite" >> beam.Flatten()
            sizes = (sizes, carried["sizes"]) | "AllSizes" >> beam.Flatten()
            facts.append(carried["facts"])
        facts = tuple(facts)
        written = batches | "WriteShards" >> WriteShardBatches(o.out, o.sharding, sizes, spill_dir=o.spill_dir,
                                                               folder=update.folder if update else "")
        if carried is not None:
            written = (written, carried["results"]) | "AllShards" >> beam.Flatten()
        return (
            written
            | "Commit" >> Commit(
                o.out, o.sharding, functools.partial(text_dataset.finish_text, o), spill_dir=o.spill_dir,
                split_names=beam.pvalue.AsSingleton(
                    pipeline | "Once" >> beam.Create([None]) | "SplitNames" >> beam.Map(
                        lambda _, layout: text_dataset.split_names(o, layout), layout)),
                folder=update.folder if update else "", expect=update.expect if update else None,
                empty_shard={"inventory": b"", "ids": inventory.ids_bytes([])},
                layout=layout,
                vocabulary=vocab,
                labels=labels,
                summary=beam.pvalue.AsSingleton(facts | "Summarize" >> SummarizeFacts(text_dataset.add_text_fact)),
                survey=summary,
                states=beam.pvalue.AsList(states),
            )
        )
