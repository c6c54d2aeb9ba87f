"""What a text job concludes from its results: the vocabulary files, stats.json and the schema.

Pure functions of the job's options and the facts the pipeline gathered, so they are tested without
Beam and the pipeline stays a sentence of transforms.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import prep
from prep.core.duplicates import from_summary as duplicates_from_summary
from prep.core.layout import Layout, extend_classes
from prep.core.statistics import Summary
from prep.core.versions import inventory_bytes
from prep.core.vocab_files import counts_file, vocabulary_bytes
from prep.jobs import results as job_results
from prep.jobs.results import (
    LABELS_FILE,
    REJECTED_FILE,
    STATS_FILE,
    add_shared_fact,
    check_accounted,
    json_bytes,
    rejected_jsonl,
    rejected_rows,
    same_as_before,
    splits_from_results,
    version_files,
)
from prep.text.bytepair_learner import merges_file, train_bytepair
from prep.text.corpus_survey import InSplits
from prep.text.inventory import INPUTS_FILE
from prep.text.options import TextJobOptions, VocabJobOptions
from prep.text.records import LABEL_KEY, LABELS_VOCABULARY, TOKENS_VOCABULARY, text_features
from prep.text.sentencepiece_learner import train_model
from prep.text.vocabulary import (
    FIRST_ID,
    RESERVED,
    EmptyVocabularyError,
    TokenVocabulary,
    counts_tsv,
    require_documents,
    tokens_file,
)
from prep.text.wordpiece_learner import LearnerSettings, NothingToLearn, learn_wordpiece
from schemas import DatasetSchema, Provenance, TextSettings, Vocabulary
from schemas.versions import read_version_file

TOKENS_FILE = "vocab/tokens.txt"

# A fact about one input, gathered by the pipeline for stats.json:
#   ("record", split, label name or None, tokens, out-of-vocabulary tokens, ids written, distinct ids)
#   ("rejected", rejected.jsonl row)
#   (PARTIAL_FACT, Summary): the facts of many records already folded (prep.text.encoder; prep.jobs.results)
#   (HELD_FACT, n): n inputs an update keeps from the version before (records, or rejections)
HELD_FACT = "held_inputs"
HELD_TOKENS = "held_tokens"  # Summary counts of the records an update keeps: tokens, oov_tokens, records


class SourceChangedError(RuntimeError):
    """The corpus read differently in the job's two passes: it changed while the job ran."""


def record_fact(split: str, label: str | None, ids: list[int], written: int, oov_id: int) -> tuple:
    """The fact of one record: `ids` are all its token ids (before --max-length), `written` how many were kept."""
    return ("record", split, label, len(ids), ids.count(oov_id), written, frozenset(ids))


def add_text_fact(summary: Summary, fact: tuple) -> None:
    if fact[0] == HELD_FACT:
        summary.count(HELD_FACT, HELD_FACT, fact[1])
        return
    if add_shared_fact(summary, fact):
        return
    _, split, label, tokens, oov, written, ids = fact
    summary.count("records", split)
    if label is not None:
        summary.count(f"classes/{split}", label)
    summary.count("tokens", split, tokens)
    summary.count("oov_tokens", split, oov)
    if written < tokens:
        summary.count("truncated", split)
    summary.observe("tokens_per_document", tokens)
    summary.observe("ids_per_record", written)
    summary.counts.setdefault("vocabulary_ids", Counter()).update(ids)


def label_names(options: TextJobOptions, layout: Layout, survey: dict) -> tuple[str, ...] | None:
    """The class names in label id order (None for unlabelled data): --labels, the class folders, or
    the sorted labels the corpus holds."""
    if not options.inputs.labelled:
        return None
    if options.labels is not None:
        return options.labels
    if options.inputs.format == "folder":
        return layout.classes
    if options.update:  # the dataset's classes keep their ids; new ones follow, sorted
        return extend_classes(options.update.classes, sorted(survey.get("labels", {})))
    return tuple(sorted(survey.get("labels", {})))


def vocabulary_documents(options: TextJobOptions) -> InSplits | None:
    """The documents a learned vocabulary counts (None: every one): those of --vocab-splits, when the
    job can put documents in other splits."""
    if options.vocab_file or options.vocabulary_splits is None:
        return None
    if options.split_fractions is None and options.inputs.format != "folder":
        return None  # every document is in train
    return InSplits(frozenset(options.vocabulary_splits), options.split_fractions)


def empty_vocabulary_hint(options: TextJobOptions) -> str | None:
    """What to say when the vocabulary's splits hold no token at all."""
    if vocabulary_documents(options) is None:
        return None
    names = ", ".join(options.vocabulary_splits or ())
    return (f"it is learned from the documents of the split(s) {names} only, and none holds a token "
            "(--vocab-splits names the splits to learn from; all: every split)")


def learned_from(options: TextJobOptions, splits: list[str]) -> tuple[str, ...] | None:
    """The splits (of the dataset's `splits`) a learned vocabulary was counted from; None: given as a file."""
    if options.vocab_file:
        return None
    if vocabulary_documents(options) is None:  # every document was counted, whatever --vocab-splits said
        return tuple(splits)
    return tuple(s for s in splits if s in options.vocabulary_splits)


def split_names(options: TextJobOptions, layout: Layout) -> list[str]:
    names = job_results.split_names(options.split_fractions, layout)
    kept = list(options.update.splits) if options.update else []  # an update keeps every split, emptied or not
    return kept + [name for name in names if name not in kept]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def learned_source(splits) -> str:
    """What a learned vocabulary was counted from, said in words: the splits named (None: the corpus)."""
    if not splits:
        return "learned from the corpus"
    return f"learned from the {splits[0]} split" if len(splits) == 1 else f"learned from the splits {', '.join(splits)}"


def vocabulary_stats(vocabulary: TokenVocabulary, survey: dict, splits: tuple[str, ...] | None = None) -> dict:
    """How the vocabulary was made: from a file, or from the corpus counts (of the documents of
    `splits`, when the dataset has splits) and what the rules cut."""
    if vocabulary.source is not None:
        return {"size": len(vocabulary.tokens), "source": vocabulary.source}
    cut = vocabulary.cut
    return {
        "size": len(vocabulary.tokens),
        "source": learned_source(splits),
        **({"learned_from": list(splits)} if splits is not None else {}),
        "corpus_tokens": survey.get("inputs", {}).get("tokens", 0),
        "distinct_tokens": cut.distinct,
        "left_out": {"below_min_count": cut.below_min_count, "beyond_max_tokens": cut.beyond_max_tokens,
                     "line_break_tokens": cut.line_breaks},
        "occurrences_covered": _rate(sum(vocabulary.counts), cut.occurrences),
    }


def text_stats(summary: dict, survey: dict, vocabulary: TokenVocabulary, labels: tuple[str, ...] | None,
               inputs: int, splits: list[str], duplicates: dict | None,
               vocabulary_splits: tuple[str, ...] | None = None) -> dict:
    """stats.json of a text dataset, from the summaries the pipeline combined; `splits` are the
    dataset's split names (a split without records is listed too); `duplicates` is what
    beam_jobs.duplicates found, if it looked; `vocabulary_splits` those a learned vocabulary was counted from."""
    records = summary.get("records", {})
    rejected = summary.get("rejected", {})
    tokens, oov = summary.get("tokens", {}), summary.get("oov_tokens", {})
    not_tokens = {i for i, _ in RESERVED} if vocabulary.first_id == FIRST_ID else {vocabulary.oov_id}
    used = len(summary.get("vocabulary_ids", {}).keys() - not_tokens)

    def split_stats(split: str, n: int) -> dict:
        out = {"records": n}
        if labels is not None:
            out["classes"] = {c: summary.get(f"classes/{split}", {}).get(c, 0) for c in labels}
        out.update(tokens=tokens.get(split, 0), oov_tokens=oov.get(split, 0),
                   oov_rate=_rate(oov.get(split, 0), tokens.get(split, 0)),
                   truncated=summary.get("truncated", {}).get(split, 0))
        return out

    total_tokens, total_oov = sum(tokens.values()), sum(oov.values())
    stats = {
        "inputs": inputs,
        "records": sum(records.values()),
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
        "splits": {split: split_stats(split, records.get(split, 0)) for split in splits},
        "text": {
            "tokens": total_tokens,
            "oov_tokens": total_oov,
            "oov_rate": _rate(total_oov, total_tokens),
            "tokens_per_document": summary.get("tokens_per_document"),
            "ids_per_record": summary.get("ids_per_record"),
            "truncated": sum(summary.get("truncated", {}).values()),
        },
        "vocabulary": {
            **vocabulary_stats(vocabulary, survey, vocabulary_splits),
            "used": used,
            "coverage": _rate(used, len(vocabulary.tokens)),
        },
    }
    if duplicates is not None:
        stats["duplicates"] = duplicates
    return stats


def vocabulary_files(settings: TextSettings, tokens_file: str) -> tuple[str, ...]:
    """The dataset's files its tokens vocabulary is read back from (an update): a KerasHub tokenizer's
    own files, or the tokens file (`tokens_file`: the version's, TOKENS_FILE or a relearned one)."""
    return settings.tokenizer_files or (tokens_file,)


def tokens_path(options: TextJobOptions) -> str:
    """Where the job's tokens vocabulary is in OUT: TOKENS_FILE, as the first run wrote it, or the one
    an update that relearned the vocabulary wrote into its version's folder (earlier versions keep
    theirs); an update that relearns writes its own."""
    update = options.update
    if update is None:
        return TOKENS_FILE
    return f"{update.folder}{TOKENS_FILE}" if update.relearn else update.tokens_file or TOKENS_FILE


# A KerasHub vocabulary's padding token, where it has one (BERT's WordPiece; SentencePiece models and
# RoBERTa's byte-pair): what its preprocessors pad with, and so what the readers pad with.
PADDING_TOKENS = (b"[PAD]", b"<pad>")


def token_vocabulary_entry(vocabulary: TokenVocabulary, learned_from: tuple[str, ...] | None = None,
                           file: str = TOKENS_FILE) -> Vocabulary:
    """The schema's entry for the tokens file (`file`): Keras' layout (two reserved ids before the first
    line), or a KerasHub tokenizer's (every id a line)."""
    reserved = RESERVED if vocabulary.first_id == FIRST_ID else ()
    padding = None if reserved else next(
        (vocabulary.first_id + vocabulary.tokens.index(token) for token in PADDING_TOKENS if token in vocabulary.tokens), None)
    return Vocabulary(TOKENS_VOCABULARY, file, "tokens", len(vocabulary.tokens), vocabulary.first_id, reserved,
                      learned_from, padding)


def check_inputs(survey: dict, summary: dict, written: int, rejected: int) -> int:
    """The number of inputs, checked: both passes over the corpus saw the same inputs, and every one is
    a record or a rejection (an update's: those it read, and those it kept from the version before)."""
    first = survey.get("inputs", {}).get("rows", 0) + summary.get(HELD_FACT, {}).get(HELD_FACT, 0)
    second = sum(summary.get("records", {}).values()) + sum(summary.get("rejected", {}).values())
    if first != second:
        raise SourceChangedError(
            f"the corpus changed while the job ran ({first} inputs at the first read, {second} at the second): "
            "rerun it on inputs that stay put")
    check_accounted(first, written, rejected)
    return first


def _kept_vocabulary(options: TextJobOptions, stats: dict) -> dict:
    """An update's stats.json vocabulary: as the version before describes it (an update keeps it),
    with what this version's records use of it."""
    before = json.loads(read_version_file(options.out, options.update.version - 1, STATS_FILE)[0])
    return {**before["vocabulary"], "used": stats["vocabulary"]["used"], "coverage": stats["vocabulary"]["coverage"]}


def _update_stats(stats: dict, summary: dict, relearned: bool) -> None:
    """How an update's new documents' tokens compare with those of the records it kept (none, when it
    relearned the vocabulary: every record is new)."""
    held = summary.get(HELD_TOKENS, {})
    t = stats["text"]
    new_tokens, new_oov = t["tokens"] - held.get("tokens", 0), t["oov_tokens"] - held.get("oov_tokens", 0)
    stats["update"] = {"records_kept": held.get("records", 0), "records_new": stats["records"] - held.get("records", 0),
                       "tokens_new": new_tokens, "oov_rate_new": _rate(new_oov, new_tokens),
                       "oov_rate_kept": _rate(held.get("oov_tokens", 0), held.get("tokens", 0)),
                       "vocabulary_relearned": relearned}


def finish_text(options: TextJobOptions, results: list[dict], layout: Layout, vocabulary: TokenVocabulary,
                labels: tuple[str, ...] | None, summary: dict, survey: dict,
                states: list[dict] = ()) -> tuple[DatasetSchema, dict[str, bytes]] | None:
    """The schema and the files (vocabularies, stats, the input files' lines: prep.text.inventory) of a
    finished text job; refuses to lose inputs. None for an update that found nothing to change."""
    rejected = rejected_rows(summary)
    inputs = check_inputs(survey, summary, sum(r["num_records"] for r in results), len(rejected))
    names = split_names(options, layout)
    found = duplicates_from_summary(summary, near=False, dedupe=options.dedupe)
    learned = learned_from(options, names)
    stats = text_stats(summary, survey, vocabulary, labels, inputs, names, found, learned)
    writes_vocabulary = not options.update or options.update.relearn  # else the update keeps the dataset's
    if not writes_vocabulary:
        stats["vocabulary"] = _kept_vocabulary(options, stats)
    ids = summary.get("ids_per_record") or {}
    value_count = (int(ids["min"]), int(ids["max"])) if ids.get("count") else None
    tokens = tokens_path(options)
    vocabularies = [token_vocabulary_entry(vocabulary, learned, tokens)]
    files = {STATS_FILE: json_bytes(stats), REJECTED_FILE: rejected_jsonl(rejected),
             INPUTS_FILE: inventory_bytes(sorted(states, key=lambda state: state["file"]))}
    if writes_vocabulary:
        files[tokens] = tokens_file(vocabulary)
        files.update(vocabulary.files)
        if vocabulary.counts is not None:
            files[counts_file(tokens)] = counts_tsv(vocabulary)
    if labels is not None:
        vocabularies.append(Vocabulary(LABELS_VOCABULARY, LABELS_FILE, "labels", len(labels)))
        files[LABELS_FILE] = vocabulary_bytes(labels)
    schema = DatasetSchema(
        name=options.out.rstrip("/").rsplit("/", 1)[-1],
        kind="text",
        features=text_features(options.text, options.raw_text, labels is not None, value_count),
        splits=splits_from_results(results, names),
        compression=options.sharding.compression,
        label_key=LABEL_KEY if labels is not None else None,
        vocabularies=tuple(vocabularies),
        text=options.text,
        provenance=Provenance("prep", prep.__version__, options.created, options.inputs.src, "text", options.to_dict()),
        version=options.update.version if options.update else 1,
    )
    if options.update:
        if same_as_before(options.out, results, files, options.update.version - 1, (s.file for s in options.update.shards)) \
                or _relearned_the_same(options, files, tokens):
            return None
        _update_stats(stats, summary, options.update.relearn)
        files[STATS_FILE] = json_bytes(stats)
        files |= version_files(options.out, schema, files, (INPUTS_FILE,))
    return schema, files


def _relearned_the_same(options: TextJobOptions, files: dict[str, bytes], tokens: str) -> bool:
    """Whether an update that relearned the vocabulary found nothing to change: the same vocabulary as
    the version before, learned from the same input files, which it read as that version did (so its
    records are that version's too)."""
    from apache_beam.io.filesystems import FileSystems

    update = options.update
    if not update.relearn or update.tokens_file is None:
        return False
    before = update.version - 1
    with FileSystems.open(FileSystems.join(options.out, update.tokens_file), compression_type="uncompressed") as f:
        if f.read() != files[tokens]:
            return False
    return all(read_version_file(options.out, before, name)[0] == files[name] for name in (INPUTS_FILE, REJECTED_FILE))


def vocab_sidecars(out: str) -> tuple[str, str, str]:
    """The files `prep vocab OUT` writes beside OUT: token counts, stats, and the inputs it rejected
    (rejected.jsonl rows)."""
    stem = out[:-4] if out.endswith(".txt") else out
    return counts_file(out), stem + ".stats.json", stem + ".rejected.jsonl"


def vocab_stats(options: VocabJobOptions, vocabulary: dict, survey: dict) -> dict:
    """The stats file of `prep vocab`: inputs, rejections, and how the vocabulary was made (`vocabulary`)."""
    inputs = survey.get("inputs", {})
    rejected = survey.get("rejected", {})
    return {
        "inputs": inputs.get("rows", 0),
        "documents": inputs.get("documents", 0),
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
        "vocabulary": vocabulary,
        "text": dataclasses.asdict(options.text),
        "provenance": {"tool": "prep", "version": prep.__version__, "created": options.created,
                       "source": options.inputs.src, "command": "vocab", "options": options.to_dict()},
    }


def finish_vocab(options: VocabJobOptions, vocabulary: TokenVocabulary, survey: dict) -> list[tuple[str, bytes]]:
    """The files of `prep vocab`, in the order to write them: the vocabulary itself last."""
    counts, stats, rejected = vocab_sidecars(options.out)
    return [(counts, counts_tsv(vocabulary)), (stats, json_bytes(vocab_stats(options, vocabulary_stats(vocabulary, survey), survey))),
            (rejected, rejected_jsonl(rejected_rows(survey))), (options.out, tokens_file(vocabulary))]


def finish_wordpiece_vocab(options: VocabJobOptions, counts: dict[str, int], survey: dict) -> list[tuple[str, bytes]]:
    """The files of `prep vocab --tokenizer wordpiece`, in the order to write them: the counts of the
    words it was learned from (most frequent first: a vocabulary of another size can be learned from
    them again), stats, rejections, and the vocab.txt KerasHub's compute_word_piece_vocabulary would
    write (the reserved tokens first), last. EmptyVocabularyError when there is nothing to learn from."""
    require_documents(survey)
    settings = options.text.wordpiece
    try:
        tokens = learn_wordpiece(counts, options.text.max_tokens, options.reserved_tokens, settings.suffix_indicator)
    except NothingToLearn as e:
        raise EmptyVocabularyError(f"{e}: every document is empty or whitespace once pre-tokenised") from None
    facts = {"size": len(tokens), "source": "learned: WordPiece (keras_hub.tokenizers.compute_word_piece_vocabulary)",
             "corpus_words": survey.get("inputs", {}).get("tokens", 0), "distinct_words": len(counts),
             "reserved_tokens": list(options.reserved_tokens), "learner": dataclasses.asdict(LearnerSettings())}
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    counts_file, stats, rejected = vocab_sidecars(options.out)
    return [(counts_file, "".join(f"{n}\t{word}\n" for word, n in ordered).encode("utf-8")),
            (stats, json_bytes(vocab_stats(options, facts, survey))),
            (rejected, rejected_jsonl(rejected_rows(survey))),
            (options.out, "".join(token + "\n" for token in tokens).encode("utf-8"))]


def finish_sampled_vocab(options: VocabJobOptions, sample: list[tuple], survey: dict) -> list[tuple[str, bytes]]:
    """The files of `prep vocab --tokenizer sentencepiece|bpe`, in the order to write them: stats,
    rejections, and what the learner (prep.text.sentencepiece_learner, prep.text.bytepair_learner)
    learned from `sample` ((key, file, range start, place, text) of each document drawn): the model,
    or the merges and then the vocabulary, last."""
    require_documents(survey)
    ordered = [drawn[4] for drawn in sorted(sample, key=lambda drawn: drawn[1:4])]  # the corpus' order
    size = options.text.max_tokens
    if options.text.tokenizer == "bpe":
        vocabulary, merges = train_bytepair(ordered, size, options.reserved_tokens)
        learned = [(merges_file(options.out), merges), (options.out, vocabulary)]
        facts = {"size": len(json.loads(vocabulary)), "source": "learned: byte-level BPE, as GPT-2's (Hugging Face tokenizers)",
                 "special_tokens": list(options.reserved_tokens)}
    else:
        learned = [(options.out, train_model(ordered, size, options.sentencepiece))]
        facts = {"size": size, "source": "learned: SentencePiece (keras_hub.tokenizers.compute_sentence_piece_proto)",
                 "training": dataclasses.asdict(options.sentencepiece)}
    documents = survey.get("inputs", {}).get("documents", 0)
    facts["sample"] = {"documents": len(ordered), "of": documents, "whole_corpus": len(ordered) >= documents,
                       "at_most": options.sample,
                       "drawn": "the documents with the smallest SHA-256 of their place (file, byte range, index)"}
    _, stats, rejected = vocab_sidecars(options.out)
    return [(stats, json_bytes(vocab_stats(options, facts, survey))),
            (rejected, rejected_jsonl(rejected_rows(survey))), *learned]
