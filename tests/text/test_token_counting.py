"""prep.text.token_counting: bulk counting gives exactly the counts of Counter(tokens), on any bytes."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prep.text import token_counting
from prep.text.token_counting import TokenCounter, bucket_of, count_whitespace_tokens, into_buckets
from prep.text.tokenizer import Tokenizer
from tests.text_reference import CORPUS, SPLITS, STANDARDIZE

_PIECES = [b"a", b"B", b"zz", b" ", b"\n", b"\t", b"\r", b"\x0b", b"\x0c", b"\x00", b"\x1c", b"\xc3\xa9",
           b"\xf0\x9f\x99\x82", b"12345678", b"123456789", b"long-token-of-many-bytes", b".", b"\xe3\x80\x80"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(_PIECES), max_size=60))
def test_bulk_counts_are_the_counts_of_split(pieces):
    text = b"".join(pieces)
    counts = Counter()
    assert count_whitespace_tokens(text, counts) == len(text.split())
    assert counts == Counter(text.split())


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.binary(max_size=200))
def test_bulk_counts_any_bytes(text):
    counts = Counter({b"already": 2})
    count_whitespace_tokens(text, counts)
    assert counts == Counter(text.split()) + Counter({b"already": 2})


@pytest.mark.parametrize("standardize", STANDARDIZE)
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("width", [None, 2])
def test_a_counter_counts_what_the_tokenizer_makes(standardize, split, width, monkeypatch):
    monkeypatch.setattr(token_counting, "BLOCK_BYTES", 64)  # several bulk blocks
    tokenizer = Tokenizer(standardize, split, width)
    counter = TokenCounter(tokenizer)
    for doc in CORPUS * 3:
        counter.add_document(doc.encode())
    expected = Counter(t for doc in CORPUS * 3 for t in tokenizer.tokens(doc.encode()))
    assert counter.bulk == (split == "whitespace" and width is None)
    assert counter.take() == expected
    assert counter.tokens == sum(expected.values())
    assert counter.take() == Counter()


def test_lines_in_bulk_are_documents_in_turn():
    counter = TokenCounter(Tokenizer())
    counter.add_lines("The cat.\nthe CAT\r\n\n  dog\n".encode())
    assert counter.take() == Counter({b"the": 2, b"cat": 2, b"dog": 1})


def test_buckets_are_stable_and_partition_the_counts():
    counts = Counter({t.encode(): i + 1 for i, t in enumerate("the cat sat on a mat and ran off".split())})
    buckets = into_buckets(counts, 4)
    assert sum(buckets.values(), Counter()) == counts
    assert all(bucket_of(t, 4) == b for b, piece in buckets.items() for t in piece)
    assert bucket_of(b"the", 64) == 1011183078 % 64  # CRC-32 of b"the": the same in every process
