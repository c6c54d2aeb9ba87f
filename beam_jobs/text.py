"""`prep text`: a text corpus to sharded TFRecords of token ids, as a Beam pipeline.

Two passes over the inputs. The survey (shared with `prep vocab`) counts inputs, labels, lines per
byte range and, unless a vocabulary is given, the tokens; the vocabulary is chosen from it. Then the
encoding pass reads the inputs again and turns each document into a record with the complete
vocabulary as a side input, so no document waits in memory for the vocabulary to be known. It also
hashes each document's normalised text (prep.text.duplicates): copies are grouped by that hash inside
the job, reported in stats.json and, with --dedupe, left out.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_jobs.commit import Commit
from beam_jobs.duplicates import FindDuplicates
from beam_jobs.sharded_write import WriteShards
from beam_jobs.stats import SummarizeFacts
from beam_jobs.vocab import ChooseVocabulary, DetectTextLayout, MatchCorpus, SurveyCorpus, rules_of
from prep.core import duplicates
from prep.core import layout as layouts
from prep.core.splits import DEFAULT_SPLIT
from prep.core.vocab_files import read_vocabulary
from prep.jobs.progress import Progress
from prep.text import dataset as text_dataset
from prep.text import vocabulary
from prep.text.corpus_survey import first_lines, range_key
from prep.text.duplicates import document_copy, rejection
from prep.text.inputs import Rejection, corpus_items
from prep.text.options import TextJobOptions
from prep.text.records import text_example
from prep.text.tokenizer import Tokenizer


class _Encoded(NamedTuple):
    """A document on its way to its shard: the record, what duplicate detection needs, its stats fact
    (counted only if the record is written)."""

    record: bytes
    copy: duplicates.Copy
    fact: tuple


# (split, identity, _Encoded) records
_DOCUMENTS = duplicates.Content(lambda r: r[2].copy, rejection, lambda r: len(r[2].record))


class _EncodeDocuments(beam.DoFn):
    """(path, start, end) -> (split, identity, _Encoded); rejections and their facts on the side."""

    def __init__(self, options: TextJobOptions):
        self.options = options
        self.encoded = Metrics.counter("prep", "documents_encoded")
        self.rejected = Metrics.counter("prep", "inputs_rejected")
        self._ids: tuple = (None, {})
        self._label_ids: tuple = (None, {})

    def setup(self):
        self.tokenizer = Tokenizer.from_settings(self.options.text)
        self.progress = Progress("text")

    def _vocabulary_ids(self, vocab: vocabulary.TokenVocabulary) -> dict[bytes, int]:
        if self._ids[0] is not vocab:
            self._ids = (vocab, vocab.ids())
        return self._ids[1]

    def _labels(self, labels: tuple[str, ...]) -> dict[str, int]:
        if self._label_ids[0] is not labels:
            self._label_ids = (labels, {name: i for i, name in enumerate(labels)})
        return self._label_ids[1]

    def _reject(self, rejection: Rejection):
        self.rejected.inc()
        self.progress.add("rejected")
        yield beam.pvalue.TaggedOutput("facts", ("rejected", rejection.to_dict()))

    def process(self, element, layout: layouts.Layout, vocab: vocabulary.TokenVocabulary,
                labels: tuple[str, ...] | None, lines: dict[str, int]):
        o = self.options
        path, start, end = element
        first_line = lines.get(range_key(path, start), 1) if start else 1
        ids_of = self._vocabulary_ids(vocab)
        label_ids = self._labels(labels) if labels is not None else None
        for item in corpus_items(path, o.inputs, layout, start, end, first_line):
            if isinstance(item, Rejection):
                yield from self._reject(item)
                continue
            label = None
            if label_ids is not None:
                label = label_ids.get(item.label)
                if label is None:
                    yield from self._reject(Rejection(item.source, item.line, "label_not_in_labels",
                                                      f"label {item.label!r} is not in the --labels list"))
                    continue
            ids = [ids_of.get(token, vocabulary.OOV_ID) for token in self.tokenizer.tokens(item.text)]
            kept = ids[:o.text.max_length] if o.text.max_length is not None else ids
            split = item.split or (o.split_fractions.assign(item.identity) if o.split_fractions else DEFAULT_SPLIT)
            self.encoded.inc()
            self.progress.add("documents")
            yield split, item.identity, _Encoded(
                text_example(item, kept, label, o.raw_text), document_copy(item, split, self.tokenizer),
                text_dataset.record_fact(split, item.label, ids, len(kept), vocabulary.OOV_ID))


def _read_vocabulary(path: str) -> vocabulary.TokenVocabulary:
    return vocabulary.from_lines(read_vocabulary(path), path)


class ConvertCorpus(beam.PTransform):
    """The whole text job: match, survey, vocabulary, encode, shard, and commit the dataset directory."""

    def __init__(self, options: TextJobOptions):
        super().__init__()
        self.options = options

    def expand(self, pipeline):
        o = self.options
        ranges = pipeline | "MatchFiles" >> MatchCorpus(o.inputs)
        layout = beam.pvalue.AsSingleton(ranges | "Layout" >> DetectTextLayout(o.inputs, o.labels))
        survey = ranges | "Survey" >> SurveyCorpus(o.inputs, None if o.vocab_file else o.text, layout)
        summary = beam.pvalue.AsSingleton(survey["summary"])
        if o.vocab_file:
            vocab = pipeline | "VocabularyFile" >> beam.Create([o.vocab_file]) | "ReadVocabulary" >> beam.Map(
                _read_vocabulary)
        else:
            vocab = survey["counts"] | "ChooseVocabulary" >> ChooseVocabulary(rules_of(o.text))
        vocab = beam.pvalue.AsSingleton(vocab)
        labels = beam.pvalue.AsSingleton(
            survey["summary"] | "Labels" >> beam.Map(lambda s, layout: text_dataset.label_names(o, layout, s), layout))
        lines = beam.pvalue.AsSingleton(survey["summary"] | "FirstLines" >> beam.Map(
            lambda s: first_lines(s.get("lines", {}))))
        encoded = ranges | "Encode" >> beam.ParDo(_EncodeDocuments(o), layout, vocab, labels, lines).with_outputs(
            "facts", main="records")
        copies = encoded.records | "FindDuplicates" >> FindDuplicates(o.dedupe, _DOCUMENTS, o.spill_dir)
        written = copies["records"] | "RecordFacts" >> beam.Map(lambda r: r[2].fact)
        facts = (encoded.facts, copies["facts"], written)
        return (
            copies["records"]
            | "Records" >> beam.MapTuple(lambda split, identity, encoded: (split, identity, encoded.record))
            | "WriteShards" >> WriteShards(o.out, o.sharding, spill_dir=o.spill_dir)
            | "Commit" >> Commit(
                o.out, o.sharding, functools.partial(text_dataset.finish_text, o), spill_dir=o.spill_dir,
                split_names=beam.pvalue.AsSingleton(
                    pipeline | "Once" >> beam.Create([None]) | "SplitNames" >> beam.Map(
                        lambda _, layout: text_dataset.split_names(o, layout), layout)),
                layout=layout,
                vocabulary=vocab,
                labels=labels,
                summary=beam.pvalue.AsSingleton(facts | "Summarize" >> SummarizeFacts(text_dataset.add_text_fact)),
                survey=summary,
            )
        )
