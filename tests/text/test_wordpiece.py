"""prep.text.wordpiece against KerasHub's WordPieceTokenizer itself, on TensorFlow's path (the one a
tf.data pipeline runs: tensorflow-text's ops), over arbitrary Unicode text and vocabularies."""

from __future__ import annotations

import itertools
import json
import random

import keras_hub
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keras_hub.src.tokenizers.word_piece_tokenizer import pretokenize

from prep.text.wordpiece import MAX_BYTES_PER_WORD, WordPiece
from schemas import WordPieceSettings
from tests.text import unicode_updates

OPTIONS = [WordPieceSettings(lowercase=lower, strip_accents=strip, split_on_cjk=cjk)
           for lower, strip, cjk in itertools.product((False, True), repeat=3)]


def keras_hub_tokens(vocabulary: list[str], options: WordPieceSettings, texts: list[str]) -> list[list[str]]:
    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=vocabulary, lowercase=options.lowercase, strip_accents=options.strip_accents,
        split_on_cjk=options.split_on_cjk, suffix_indicator=options.suffix_indicator,
        oov_token=options.oov_token, dtype="string")
    tokens = tf.function(tokenizer)(tf.constant([t.encode("utf-8") for t in texts], tf.string))
    return [[t.decode("utf-8") for t in row] for row in tokens.to_list()]


def prep_tokens(vocabulary: list[str], options: WordPieceSettings, texts: list[str]) -> list[list[str]]:
    wordpiece = WordPiece(tuple(vocabulary), options)
    return [[t.decode("utf-8") for t in wordpiece.tokens(text.encode("utf-8"))] for text in texts]


# Text that mixes what tokenisers trip on: ASCII words, accents (precomposed and combining), other
# scripts, CJK, punctuation of every kind, whitespace and control characters, and anything at all.
_pieces = st.one_of(
    st.sampled_from(["the", "The", "QUICK", "quick", "fox", "jumped", "un", "##", "aff", "able", "École", "ecole",
                     "e\u0301cole", "naïve", "Straße", "ǅ", "İ", "ﬁ", "Ａ", "中文", "日本語", "한국어", "Ελλάδα",
                     "\u00ad", "\u200b", "\u115f", "\ufeff", "\x00", "\t", "\u3000", "\u2028", "¿", "«", "…", "、",
                     "[UNK]", "[CLS]", " ", "  ", "\n", "a" * 60, "é" * 60]),
    st.characters(codec="utf-8"),
    st.text(max_size=8),
)
texts = st.lists(_pieces, max_size=24).map("".join)


@st.composite
def cases(draw):
    """(vocabulary, texts): a vocabulary of pieces of the texts themselves, so that many words match."""
    batch = draw(st.lists(texts, min_size=1, max_size=6))
    source = "".join(batch) or "a"
    pieces = set()
    for _ in range(draw(st.integers(0, 40))):
        start = draw(st.integers(0, len(source) - 1))
        piece = source[start:start + draw(st.integers(1, 6))]
        piece = draw(st.sampled_from([piece, piece.lower(), piece.casefold()]))
        pieces.add(draw(st.sampled_from(["", "##"])) + piece)
    pieces |= {"the", "quick", "##ick", "qu", "fox", "a", "##a", "école", "ecole", "中", "##s", "!", "."}
    vocabulary = ["[PAD]", "[UNK]"] + sorted(p for p in pieces if p and not {"\n", "\r", "\0"} & set(p)
                                             and p.strip() == p and p not in ("[PAD]", "[UNK]"))
    return vocabulary, batch


def _name(o: WordPieceSettings) -> str:
    return f"lower{o.lowercase:d}-strip{o.strip_accents:d}-cjk{o.split_on_cjk:d}"


@pytest.mark.parametrize("options", OPTIONS, ids=_name)
def test_many_random_documents_are_tokenised_as_keras_hub_does(options):
    """3,000 documents at once (a KerasHub tokenizer takes 0.6 s to build and trace, so hypothesis
    below draws fewer cases): words and characters of many scripts, accents, ignorable and control
    characters, code points of every plane; a vocabulary of pieces of the documents themselves."""
    rng = random.Random(29)
    words = ["the", "The", "QUICK", "quick", "fox", "jumped", "École", "e\u0301cole", "naïve", "Straße", "ǅ", "İ",
             "ﬁ", "Ａ", "中文", "日本語", "한국어", "Ελλάδα", "\u00ad", "\u200b", "\u115f", "\ufeff", "¿", "«", "…",
             "、", "[UNK]", " ", "\n", "\t", "\u3000", "a" * 60, "é" * 60]
    planes = [(0x20, 0x7F), (0xA0, 0x2FFF), (0x3000, 0xD7FF), (0xF900, 0xFFFD), (0x10000, 0x3134F), (0xE0000, 0xE01EF)]

    def character() -> str:
        low, high = rng.choice(planes)
        return chr(rng.randint(low, high))

    documents = ["".join(rng.choice(words) if rng.random() < 0.6 else character() for _ in range(rng.randint(0, 30)))
                 for _ in range(3000)]
    source = "".join(documents)
    pieces = {source[i:i + rng.randint(1, 5)] for i in rng.sample(range(len(source)), 3000)}
    pieces = {p2 for p in pieces for p2 in (p, p.casefold(), "##" + p, "##" + p.casefold())}
    vocabulary = ["[PAD]", "[UNK]"] + sorted(p for p in pieces if p.strip() == p and not {"\n", "\r", "\0"} & set(p)
                                             and p not in ("[PAD]", "[UNK]", "##"))
    assert prep_tokens(vocabulary, options, documents) == keras_hub_tokens(vocabulary, options, documents)


@pytest.mark.parametrize("options", OPTIONS, ids=_name)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=cases())
def test_tokens_are_keras_hubs(options, case):
    vocabulary, batch = case
    assert prep_tokens(vocabulary, options, batch) == keras_hub_tokens(vocabulary, options, batch)


def test_every_code_point_alone_is_pre_tokenised_as_keras_hub_does():
    """Each code point inside a word ("a" + it + "b"), the words compared with KerasHub's
    `pretokenize` on TensorFlow (WordPiece itself would hide a difference behind an [UNK]): every one of
    the planes Unicode assigns characters in (0-3 and 14), every 97th of the others (unassigned or
    private use, treated alike)."""
    points = [f"a{chr(c)}b" for c in range(1, 0x110000) if not 0xD800 <= c < 0xE000
              and (c < 0x40000 or 0xE0000 <= c < 0xF0000 or c % 97 == 0)]
    for options in (WordPieceSettings(split_on_cjk=False), WordPieceSettings(lowercase=True, strip_accents=True)):
        wordpiece = WordPiece(("[UNK]",), options)
        ours = [[w for w in map(wordpiece.folded, wordpiece.words(p)) if w] for p in points]
        expected = pretokenize(tf.constant([p.encode("utf-8") for p in points]), options.lowercase,
                               options.strip_accents, True, options.split_on_cjk).to_list()
        expected = [[w.decode("utf-8") for w in row if w] for row in expected]
        differ = [(hex(ord(p[1])), a, b) for p, a, b in zip(points, ours, expected) if a != b]
        assert not differ, differ[:10]


def test_long_words_are_out_of_vocabulary_as_in_keras_hub():
    vocabulary = ["[UNK]", "a", "##a", "é", "##é"]
    batch = ["a" * MAX_BYTES_PER_WORD, "a" * (MAX_BYTES_PER_WORD + 1), "é" * 50, "é" * 51, "b"]
    assert prep_tokens(vocabulary, WordPieceSettings(), batch) == keras_hub_tokens(vocabulary, WordPieceSettings(), batch)
    assert prep_tokens(vocabulary, WordPieceSettings(), batch)[1] == ["[UNK]"]


def test_unicode_updates_table_is_tensorflow_texts():
    recorded = json.loads(unicode_updates.FILE.read_text(encoding="utf-8"))
    assert recorded == unicode_updates.expected()


def test_a_vocabulary_without_the_oov_token_is_refused():
    with pytest.raises(ValueError, match=r"no '\[UNK\]'"):
        WordPiece(("a", "b"))
