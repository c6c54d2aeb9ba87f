"""prep.text.dataset: what a text job concludes from the facts its pipeline gathered."""

from __future__ import annotations

import json

import pytest

from prep.core.layout import Layout
from prep.core.splits import parse_split_fractions
from prep.core.statistics import Summary
from prep.jobs.results import LostInputsError
from prep.text.dataset import (
    SourceChangedError,
    add_text_fact,
    check_inputs,
    finish_text,
    label_names,
    learned_from,
    record_fact,
    vocab_sidecars,
)
from prep.text.inputs import TextInputs
from prep.text.options import TextJobOptions
from prep.text.vocabulary import VocabularyRules, learn

_INPUTS = TextInputs("/c.jsonl", "/", "/c.jsonl", "auto", "text", "topic")


def _rejected(reason: str) -> tuple:
    return "rejected", {"path": "c.jsonl", "line": 2, "reason": reason, "detail": "..."}


def _summary(facts) -> dict:
    s = Summary()
    for fact in facts:
        add_text_fact(s, fact)
    return s.to_dict()


def test_inputs_must_agree_between_the_passes_and_with_the_records():
    survey = {"inputs": {"rows": 3}}
    summary = _summary([record_fact("train", "a", [2, 3], 2, 1), record_fact("train", "a", [1], 1, 1), _rejected("bad_json")])
    assert check_inputs(survey, summary, written=2, rejected=1) == 3
    with pytest.raises(SourceChangedError, match="3 inputs at the first read, 4 at the second"):
        check_inputs(survey, _summary([record_fact("train", "a", [2], 1, 1)] * 4), written=4, rejected=0)
    with pytest.raises(LostInputsError):
        check_inputs(survey, summary, written=1, rejected=1)


def test_labels_come_from_the_flag_the_folders_or_the_corpus():
    options = TextJobOptions(_INPUTS, "/out")
    assert label_names(options, Layout(False, ()), {"labels": {"b": 1, "a": 2}}) == ("a", "b")
    assert label_names(TextJobOptions(_INPUTS, "/out", labels=("z", "a")), Layout(False, ()), {}) == ("z", "a")
    unlabelled = TextJobOptions(TextInputs("/c.txt", "/", "/c.txt", "auto"), "/out")
    assert label_names(unlabelled, Layout(False, ()), {"labels": {"a": 1}}) is None
    folders = TextJobOptions(TextInputs("/d", "/d", "/d/**", "folder"), "/out")
    assert label_names(folders, Layout(False, ("neg", "pos")), {}) == ("neg", "pos")


def test_finish_writes_vocabularies_stats_and_a_schema_with_every_split():
    vocab = learn({b"the": 3, b"cat": 1}, VocabularyRules())
    options = TextJobOptions(_INPUTS, "/out/news")
    summary = _summary([record_fact("train", "a", [2, 3, 1], 3, 1), _rejected("missing_text")])
    results = [{"split": "train", "index": 0, "num_shards": 1, "file": "train-00000-of-00001.tfrecord",
                "num_records": 1, "num_bytes": 40}]
    schema, files = finish_text(options, results, Layout(False, ()), vocab, ("a",), summary,
                                {"inputs": {"rows": 2, "tokens": 4}})
    assert files["vocab/tokens.txt"] == b"the\ncat\n" and files["vocab/tokens.counts.tsv"] == b"3\tthe\n1\tcat\n"
    assert files["vocab/labels.txt"] == b"a\n"
    assert [json.loads(line)["reason"] for line in files["rejected.jsonl"].splitlines()] == ["missing_text"]
    assert schema.name == "news" and schema.feature("text/token_ids").value_count == (3, 3)
    assert [v.name for v in schema.vocabularies] == ["tokens", "labels"]
    stats = json.loads(files["stats.json"])
    assert stats["splits"]["train"]["oov_rate"] == round(1 / 3, 6)
    assert stats["vocabulary"]["used"] == 2 and stats["vocabulary"]["coverage"] == 1.0


def test_vocab_sidecars_sit_beside_the_file():
    assert vocab_sidecars("/o/vocab.txt") == ("/o/vocab.counts.tsv", "/o/vocab.stats.json", "/o/vocab.rejected.jsonl")
    assert vocab_sidecars("gs://b/tokens") == ("gs://b/tokens.counts.tsv", "gs://b/tokens.stats.json",
                                               "gs://b/tokens.rejected.jsonl")


@pytest.mark.parametrize("fmt, fractions, named, learned", [
    ("auto", None, ("validation",), ("train",)),  # every document is in train, and every one was counted
    ("auto", None, None, ("train",)),
    ("auto", "train=0.5,validation=0.5", ("validation",), ("validation",)),
    ("folder", None, ("validation",), ("validation",)),  # split folders: only validation's documents counted
])
def test_learned_from_names_the_splits_whose_documents_were_counted(fmt, fractions, named, learned):
    inputs = TextInputs("/c", "/", "/c/**", fmt, "text", None)
    options = TextJobOptions(inputs=inputs, out="/out", vocabulary_splits=named,
                             split_fractions=parse_split_fractions(fractions) if fractions else None)
    splits = ["train", "validation"] if fractions or fmt == "folder" else ["train"]
    assert learned_from(options, splits) == learned
