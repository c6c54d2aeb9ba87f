"""prep.text.batch_ids: a batch's tokens, ids, counts and copy texts, exactly the per-document path's
(prep.text.tokenizer and TokenPieces, which tests/text/test_standardize.py and tests/text/test_encoder.py
check against TextVectorization), on arbitrary bytes and vocabularies."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from prep.text.batch_ids import BatchIds
from prep.text.encoder import TokenPieces
from prep.text.standardize import STANDARDIZE
from prep.text.tokenizer import Tokenizer

# bytes that make tokens interesting: whitespace, punctuation, upper case, NUL, UTF-8 lead and continuation bytes
_ALPHABET = b" \t\n\r\x0b\x0c\x1c\x85!.,'-aAbBzZ\x00\xc3\xa9\xe4\xb8\xad\xff"
documents = st.lists(st.binary(max_size=60) | st.lists(st.sampled_from(_ALPHABET), max_size=60).map(bytes), max_size=12)
tokens = st.binary(min_size=1, max_size=24) | st.lists(st.sampled_from(b"abAB\x00\xc3\xa9!"), min_size=1, max_size=20).map(bytes)


def check(texts: list[bytes], vocabulary: list[bytes], standardize, max_length, oov_id: int = 1) -> None:
    ids = {token: i + 2 for i, token in enumerate(vocabulary)}
    pieces, tokenizer = TokenPieces(ids, oov_id), Tokenizer(standardize)
    found = BatchIds(ids, oov_id, standardize).encode(texts, max_length)
    used = set()
    for i, text in enumerate(texts):
        expected = tokenizer.tokens(text)
        kept = pieces.of(expected)[:max_length] if max_length else pieces.of(expected)
        at = found.id_bytes[i]
        assert found.packed[at:at + found.kept_bytes[i]] == b"".join(kept), (text, expected)
        assert found.tokens[i] == len(expected)
        assert found.oov[i] == pieces.of(expected).count(pieces.oov)
        assert found.normalized[found.spans[i, 0]:found.spans[i, 1]] == b" ".join(expected)
        assert found.ids[found.first_token[i]:found.first_token[i + 1]].tolist() == [pieces.ids[p] for p in pieces.of(expected)]
        used |= {pieces.ids[p] for p in pieces.of(expected)}
    assert found.used.tolist() == sorted(used)


@settings(max_examples=300)
@given(documents, st.lists(tokens, max_size=30), st.sampled_from(STANDARDIZE), st.none() | st.integers(1, 5))
def test_a_batch_is_what_each_document_gives_alone(texts, vocabulary, standardize, max_length):
    # the vocabulary's own tokens in the text too, so that look-ups find some
    texts = texts + [b" ".join(vocabulary[::2]), b"\t".join(vocabulary[1::3]).upper()]
    check(texts, vocabulary, standardize, max_length)


def test_a_large_vocabulary_long_tokens_and_ids_of_many_bytes():
    vocabulary = [f"w{i}".encode() for i in range(40_000)] + [b"x" * 16, b"y" * 17, "\u4e2d".encode() * 7]
    texts = [b" ".join(vocabulary[i::997]) + b" unknown " + b"x" * 16 + b" " + b"y" * 17 for i in range(50)]
    check(texts, vocabulary, "lower_and_strip_punctuation", None)
    check(texts, vocabulary, None, 3, oov_id=2**22)  # an out-of-vocabulary id of 4 varint bytes


def test_documents_without_tokens_and_an_empty_batch():
    check([b"", b"   ", b"!!!", b"a"], [b"a"], "lower_and_strip_punctuation", None)
    check([], [b"a"], "lower", None)
