"""`prep vocab`: a token vocabulary learned from a corpus at Beam scale, and the corpus pass that
`prep text` shares with it.

Counting never sends one element per token through a shuffle: each worker counts the tokens of a
whole bundle of files into one table (in bulk, see prep.text.token_counting), hands the table on in
buckets by a stable hash of the token when it grows large and when the bundle ends, and the buckets
are merged per bucket (a combiner, lifted before the shuffle). Each bucket then keeps only the
tokens that can still make the vocabulary (prep.text.vocabulary.candidates), and one step merges those.
"""

from __future__ import annotations

import heapq
from collections import Counter

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from beam_jobs.commit import write_file
from beam_jobs.matching import ListFiles
from beam_jobs.progress import CountListed, ReportTotal
from beam_jobs.stats import SummarizeFn, merge_summary
from prep.core import layout as layouts
from prep.core.row_files import byte_ranges, range_rows
from prep.jobs.progress import RANGES, SURVEYED, Progress
from prep.text import dataset as text_dataset
from prep.text import vocabulary
from prep.text.corpus_survey import InSplits, Survey, first_lines, range_key
from prep.text.inputs import Row, TextInputs, corpus_items, file_format
from prep.text.options import VocabJobOptions
from prep.text.sentencepiece_learner import sample_key
from prep.text.tokenizer import counting_tokenizer
from schemas import TextSettings


def _ranges(match: fileio.FileMetadata, fmt: str) -> list[tuple[str, int, int | None]]:
    return [(match.path, start, end) for start, end in byte_ranges(match.path, match.size_in_bytes,
                                                                     file_format(match.path, fmt))]


class CorpusRanges(beam.PTransform):
    """Matched input files (FileMetadata) as (path, start, end) byte ranges (end None: to the end of
    the file), spread over the workers: a large uncompressed line file becomes several ranges, read in
    parallel."""

    def __init__(self, inputs: TextInputs):
        super().__init__()
        self.inputs = inputs

    def expand(self, files):
        return _spread_ranges(files, self.inputs.format)


def _spread_ranges(files, fmt: str):
    return files | "ByteRanges" >> beam.FlatMap(_ranges, fmt) | "Spread" >> beam.Reshuffle()


class MatchCorpus(beam.PTransform):
    """Every input file as byte ranges (CorpusRanges)."""

    def __init__(self, inputs: TextInputs):
        super().__init__()
        self.inputs = inputs

    def expand(self, pipeline):
        files = pipeline | "Match" >> ListFiles(self.inputs.pattern) | "Listed" >> CountListed()
        ranges = _spread_ranges(files, self.inputs.format)
        ranges | "Parts" >> ReportTotal(RANGES)
        return ranges


class DetectTextLayout(beam.PTransform):
    """The layout of a folder of class folders (one Layout); for other inputs a layout with no classes."""

    def __init__(self, inputs: TextInputs, labels: tuple[str, ...] | None, known: tuple[str, ...] = ()):
        """`known`: the classes of the dataset an update adds to (layouts.detect_layout)."""
        super().__init__()
        self.inputs, self.labels, self.known = inputs, labels, known

    def expand(self, ranges):
        root, labels = self.inputs.root, self.labels
        if self.inputs.format != "folder":
            return ranges.pipeline | "NoClassFolders" >> beam.Create([layouts.Layout(False, ())])
        return (
            ranges
            | "FolderPairs" >> beam.FlatMap(
                lambda r: [p] if r[1] == 0 and (p := layouts.folder_pair(layouts.relative_path(r[0], root))) else [])
            | "DistinctPairs" >> beam.Distinct()
            | "AllPairs" >> beam.combiners.ToList()
            | "DetectLayout" >> beam.Map(layouts.detect_layout, labels, self.known)
        )


def _at_bundle_end(value):
    return WindowedValue(value, MIN_TIMESTAMP, [GlobalWindow()])


class _SurveyFn(beam.DoFn):
    """(path, start, end) -> Summary per bundle (main), and token counts by bucket (tagged "counts");
    with `sample` (documents, at most), the bundle's documents with the smallest sample keys (tagged
    "sample": see `_drawn`), drawn as the survey reads them."""

    def __init__(self, inputs: TextInputs, settings: TextSettings | None, counted: InSplits | None,
                 keep_rejected: bool = False, sample: int | None = None):
        self.inputs, self.settings, self.counted, self.keep_rejected = inputs, settings, counted, keep_rejected
        self.sample = sample

    def setup(self):
        self.progress = Progress()

    def start_bundle(self):
        self.survey = Survey(counting_tokenizer(self.settings) if self.settings else None, self.counted,
                             self.keep_rejected)
        self.drawn: list[tuple] = []

    def process(self, element, layout: layouts.Layout, lines: dict[str, int] | None = None):
        path, start, end = element
        first_line = lines.get(range_key(path, start), 1) if start and lines else 1
        items = corpus_items(path, self.inputs, layout, start, end, first_line, bulk=self.survey.bulk)
        self.survey.add_all(items if self.sample is None else self._drawn(items, start))
        self.progress.add(SURVEYED)
        if self.survey.full:
            for bucket in self.survey.take_counts().items():
                yield beam.pvalue.TaggedOutput("counts", bucket)

    def _drawn(self, items, start: int):
        """`items` as they are, each document also kept as (sample key, file, range start, place, text)
        among the bundle's `sample` smallest (prep.text.sentencepiece_learner.sample_key)."""
        documents = 0
        for item in items:
            if type(item) is Row:
                self.drawn.append((sample_key(item.source, start, documents), item.source, start, documents, item.text))
                documents += 1
                if len(self.drawn) >= 2 * self.sample:
                    self.drawn = heapq.nsmallest(self.sample, self.drawn)
            yield item

    def finish_bundle(self):
        for bucket in self.survey.take_counts().items():
            yield beam.pvalue.TaggedOutput("counts", _at_bundle_end(bucket))
        for drawn in heapq.nsmallest(self.sample, self.drawn) if self.sample is not None else ():
            yield beam.pvalue.TaggedOutput("sample", _at_bundle_end(drawn))
        yield _at_bundle_end(self.survey.take_summary())


class SurveyCorpus(beam.PTransform):
    """Byte ranges -> {"summary": the corpus' Summary as a dict (one element), "counts": (bucket,
    Counter) pieces of token counts, "sample": the `sample` documents with the smallest sample keys
    (one list, as beam_jobs.vocab's learners take it; None without `sample`)}; tokens are counted
    only when `settings` is given, and only in the documents `counted` accepts (their splits need
    their line numbers: `lines`, from NumberLines). With `keep_rejected` the summary keeps every
    rejection's rejected.jsonl row too."""

    def __init__(self, inputs: TextInputs, settings: TextSettings | None, layout,
                 counted: InSplits | None = None, lines=None, keep_rejected: bool = False, sample: int | None = None):
        super().__init__()
        self.inputs, self.settings, self.layout = inputs, settings, layout
        self.counted, self.lines, self.keep_rejected, self.sample = counted, lines, keep_rejected, sample

    def expand(self, ranges):
        fn = _SurveyFn(self.inputs, self.settings, self.counted, self.keep_rejected, self.sample)
        side = (self.layout,) if self.counted is None else (self.layout, self.lines)
        surveyed = ranges | "Read" >> beam.ParDo(fn, *side).with_outputs("counts", "sample", main="summaries")
        summary = surveyed.summaries | "Merge" >> beam.CombineGlobally(SummarizeFn(merge_summary))
        sample = None if self.sample is None else surveyed.sample | "Sample" >> beam.combiners.Top.Smallest(self.sample)
        return {"summary": summary, "counts": surveyed.counts, "sample": sample}


def _range_rows(element: tuple[str, int, int | None]) -> list[tuple[str, int]]:
    path, start, end = element
    return [] if start == 0 and end is None else [(range_key(path, start), range_rows(path, start, end))]


class NumberLines(beam.PTransform):
    """Byte ranges -> {range_key: the number of its first line} for every range after a file's first
    (one dict), from a count of each range's newlines."""

    def __init__(self, bases=None):
        """`bases`: (range key of a file's start, lines) pairs for files read from further on (an
        update reads a grown file from its old end): the lines before the ranges read."""
        super().__init__()
        self.bases = bases

    def expand(self, ranges):
        rows = ranges | "RangeRows" >> beam.FlatMap(_range_rows)
        if self.bases is not None:
            rows = (rows, self.bases) | "WithBases" >> beam.Flatten()
        return (
            rows
            | "AllRanges" >> beam.combiners.ToDict()
            | "FirstLines" >> beam.Map(first_lines)
        )


class _MergeCounts(beam.CombineFn):
    def create_accumulator(self):
        return Counter()

    def add_input(self, counts, piece):
        counts.update(piece)
        return counts

    def merge_accumulators(self, accumulators):
        accumulators = iter(accumulators)
        first = next(accumulators)
        for other in accumulators:
            first.update(other)
        return first

    def extract_output(self, counts):
        return counts


class ChooseVocabulary(beam.PTransform):
    """(bucket, Counter) pieces -> the TokenVocabulary (one element), by adapt's rules."""

    def __init__(self, rules: vocabulary.VocabularyRules, empty_hint: str | None, survey,
                 empty_without_documents: bool = False):
        """`survey`: the corpus' summary as a singleton side input (it says whether any document was read);
        `empty_without_documents`: see vocabulary.choose."""
        super().__init__()
        self.rules, self.empty_hint, self.survey = rules, empty_hint, survey
        self.empty_without_documents = empty_without_documents

    def expand(self, counts):
        rules = self.rules
        return (
            counts
            | "MergeByBucket" >> beam.CombinePerKey(_MergeCounts())
            | "Candidates" >> beam.MapTuple(lambda _, bucket: vocabulary.candidates(bucket, rules))
            | "AllCandidates" >> beam.combiners.ToList()
            | "Choose" >> beam.Map(vocabulary.choose, rules, self.empty_hint, self.survey,
                                   empty_without_documents=self.empty_without_documents)
        )


def rules_of(settings: TextSettings) -> vocabulary.VocabularyRules:
    return vocabulary.VocabularyRules(settings.max_tokens, settings.min_count)


def _write_vocab_files(vocab: vocabulary.TokenVocabulary, survey: dict, options: VocabJobOptions) -> int:
    for path, data in text_dataset.finish_vocab(options, vocab, survey):
        write_file(path, data)
    return len(vocab.tokens)


def _write_wordpiece_files(words: list, survey: dict, options: VocabJobOptions) -> int:
    """The WordPiece vocabulary learned from every bucket's word counts, and its files."""
    counts = {word.decode("utf-8"): n for bucket in words for word, n in bucket.items()}
    files = text_dataset.finish_wordpiece_vocab(options, counts, survey)
    for path, data in files:
        write_file(path, data)
    return len(files)


def _write_sampled_files(sample: list, survey: dict, options: VocabJobOptions) -> int:
    """The SentencePiece model or byte-pair files learned from the sample, and the other files."""
    for path, data in text_dataset.finish_sampled_vocab(options, sample, survey):
        write_file(path, data)
    return len(sample)


class LearnVocabulary(beam.PTransform):
    """The whole `prep vocab` job: match, survey and count, choose (or learn WordPiece's from the word
    counts, prep.text.wordpiece_learner, in one step: it needs every count; or a SentencePiece model
    or byte-pair files from a sample of the documents, prep.text.sentencepiece_learner and
    prep.text.bytepair_learner), write the files (the vocabulary last)."""

    def __init__(self, options: VocabJobOptions):
        super().__init__()
        self.options = options

    def expand(self, pipeline):
        o = self.options
        ranges = pipeline | "MatchFiles" >> MatchCorpus(o.inputs)
        layout = beam.pvalue.AsSingleton(ranges | "Layout" >> DetectTextLayout(o.inputs, None))
        sampled = o.text.tokenizer in ("sentencepiece", "bpe")  # learned from a sample of the documents, not counts
        survey = ranges | "Survey" >> SurveyCorpus(o.inputs, None if sampled else o.text, layout, keep_rejected=True,
                                                   sample=o.sample if sampled else None)
        summary = beam.pvalue.AsSingleton(survey["summary"])
        if sampled:
            return survey["sample"] | "LearnAndWrite" >> beam.Map(_write_sampled_files, summary, o)
        if o.text.tokenizer == "wordpiece":
            return (
                survey["counts"]
                | "MergeByBucket" >> beam.CombinePerKey(_MergeCounts())
                | "Buckets" >> beam.Values()
                | "AllBuckets" >> beam.combiners.ToList()
                | "LearnAndWrite" >> beam.Map(_write_wordpiece_files, summary, o)
            )
        return (
            survey["counts"]
            | "ChooseVocabulary" >> ChooseVocabulary(rules_of(o.text), None, summary)
            | "WriteFiles" >> beam.Map(_write_vocab_files, summary, o)
        )
