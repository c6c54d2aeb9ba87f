"""prep.text.vocabulary against TextVectorization.adapt: the same tokens in the same order, and the same ids
through the written file, for every standardisation and split."""

from __future__ import annotations

from collections import Counter

import pytest

from prep.text.token_counting import into_buckets
from prep.text.tokenizer import Tokenizer
from prep.text.vocabulary import (
    EmptyVocabularyError,
    VocabularyRules,
    candidates,
    choose,
    counts_tsv,
    learn,
    tokens_file,
)
from tests.text_reference import CORPUS, SPLITS, STANDARDIZE, adapt_vocabulary, adapted_ids, file_ids


def _counts(docs: list[str], tokenizer: Tokenizer) -> Counter:
    return Counter(t for doc in docs for t in tokenizer.tokens(doc.encode()))


def _line_break(token: bytes) -> bool:
    return b"\n" in token or b"\r" in token


@pytest.mark.parametrize("standardize", STANDARDIZE)
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("max_tokens", [None, 12])
def test_vocabulary_and_ids_are_keras(standardize, split, max_tokens, tmp_path):
    tokenizer = Tokenizer(standardize, split)
    settings = dict(standardize=standardize, split=split, max_tokens=max_tokens)
    vocab = learn(_counts(CORPUS, tokenizer), VocabularyRules(max_tokens))
    adapted = adapt_vocabulary(CORPUS, **settings)
    assert list(vocab.tokens) == [t for t in adapted if not _line_break(t)]
    assert vocab.cut.line_breaks == sum(map(_line_break, adapted))

    path = tmp_path / "vocab.txt"
    path.write_bytes(tokens_file(vocab))
    ids = vocab.ids()
    ours = [[ids.get(t, 1) for t in tokenizer.tokens(doc.encode())] for doc in CORPUS]
    assert ours == file_ids(CORPUS, path, standardize=standardize, split=split)
    if not vocab.cut.line_breaks:
        assert ours == adapted_ids(CORPUS, **settings)


@pytest.mark.parametrize("width", [2, 3])
def test_ngram_vocabulary_is_keras(width, tmp_path):
    tokenizer = Tokenizer(ngrams=width)
    vocab = learn(_counts(CORPUS, tokenizer), VocabularyRules(40))
    assert list(vocab.tokens) == adapt_vocabulary(CORPUS, ngrams=width, max_tokens=40)
    path = tmp_path / "vocab.txt"
    path.write_bytes(tokens_file(vocab))
    ids = vocab.ids()
    assert [[ids.get(t, 1) for t in tokenizer.tokens(d.encode())] for d in CORPUS] == \
        file_ids(CORPUS, path, ngrams=width) == adapted_ids(CORPUS, ngrams=width, max_tokens=40)


def test_order_is_count_then_token_both_highest_first():
    counts = {b"b": 2, b"a": 2, "é".encode(): 2, "É".encode(): 1, b"z": 1, b"Z": 1, b"[UNK]": 9}
    vocab = learn(counts, VocabularyRules())
    assert [t.decode() for t in vocab.tokens] == ["é", "b", "a", "É", "z", "Z"]
    assert vocab.counts == (2, 2, 2, 1, 1, 1)
    assert counts_tsv(vocab).decode().splitlines()[0] == "2\té"


def test_max_tokens_counts_the_two_reserved_ids_and_min_count_cuts_rare_tokens():
    counts = {b"a": 5, b"b": 4, b"c": 3, b"d": 2, b"e": 1}
    assert learn(counts, VocabularyRules(max_tokens=4)).tokens == (b"a", b"b")
    cut = learn(counts, VocabularyRules(min_count=3))
    assert cut.tokens == (b"a", b"b", b"c") and cut.cut.below_min_count == 2
    both = learn(counts, VocabularyRules(max_tokens=4, min_count=5))
    assert both.tokens == (b"a",) and both.cut.beyond_max_tokens == 0
    with pytest.raises(ValueError, match="at least 3"):
        VocabularyRules(max_tokens=2)
    with pytest.raises(EmptyVocabularyError, match="--min-count 9"):
        learn(counts, VocabularyRules(min_count=9))


@pytest.mark.parametrize("rules", [VocabularyRules(), VocabularyRules(max_tokens=7), VocabularyRules(min_count=2)])
def test_buckets_give_the_vocabulary_of_all_counts(rules):
    counts = _counts(CORPUS * 2 + CORPUS[:3], Tokenizer())
    whole = learn(counts, rules)
    by_bucket = choose([candidates(piece, rules) for piece in into_buckets(counts, 5).values()], rules)
    assert by_bucket.tokens == whole.tokens and by_bucket.counts == whole.counts
    assert by_bucket.cut.distinct == whole.cut.distinct == len(counts) - (b"[UNK]" in counts)
