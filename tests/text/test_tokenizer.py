"""prep.text.tokenizer (with prep.text.split and prep.text.ngrams) against the tokens TextVectorization makes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prep.text.ngrams import ngrams
from prep.text.split import WHITESPACE, check_split, split_tokens
from prep.text.tokenizer import Tokenizer
from tests.text_reference import CORPUS, SPLITS, STANDARDIZE, keras_tokens

_CODE_POINTS = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


@pytest.mark.parametrize("standardize", STANDARDIZE)
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("width", [None, 3])
def test_tokens_are_keras_tokens(standardize, split, width):
    tokenizer = Tokenizer(standardize, split, width)
    expected = keras_tokens(CORPUS, standardize=standardize, split=split, ngrams=width)
    assert [tokenizer.tokens(doc.encode()) for doc in CORPUS] == expected


def test_only_six_ascii_bytes_separate_tokens():
    docs = ["x" + "x".join(chr(c) for c in _CODE_POINTS[i:i + 1024]) + "x" for i in range(0, len(_CODE_POINTS), 1024)]
    ours = [split_tokens(d.encode(), "whitespace") for d in docs]
    assert ours == keras_tokens(docs, standardize=None, split="whitespace")
    separators = {c for c in _CODE_POINTS if chr(c).encode() in WHITESPACE}
    assert separators == {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20}
    assert "a\u00a0b\u3000c\x1cd".encode() in split_tokens("a\u00a0b\u3000c\x1cd".encode(), "whitespace")


def test_characters_are_code_points():
    text = "a\nb\r 🙂é\x00"
    assert split_tokens(text.encode(), "character") == [c.encode() for c in text]
    assert split_tokens(b"", "character") == []


def test_ngrams_come_by_width_then_position():
    tokens = [b"a", b"b", b"c"]
    assert ngrams(tokens, 3) == [b"a", b"b", b"c", b"a b", b"b c", b"a b c"]
    assert ngrams(tokens[:1], 2) == [b"a"]
    assert ngrams(tokens, None) == ngrams(tokens, 1) == tokens


def test_unknown_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="whitespace, character"):
        check_split("words")
    with pytest.raises(ValueError, match="at least 1"):
        Tokenizer(ngrams=0)


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(st.characters(codec="utf-8"), max_size=30), min_size=1, max_size=6),
       st.sampled_from(STANDARDIZE), st.sampled_from(SPLITS), st.sampled_from([None, 2]))
def test_arbitrary_text_tokenises_as_keras_does(docs, standardize, split, width):
    tokenizer = Tokenizer(standardize, split, width)
    expected = keras_tokens(docs, standardize=standardize, split=split, ngrams=width)
    assert [tokenizer.tokens(d.encode()) for d in docs] == expected
