"""prep.text.wordpiece_learner against `keras_hub.tokenizers.compute_word_piece_vocabulary` itself: the
same corpus gives the same vocabulary file, line for line, for every pre-tokenisation option, on real
text and on arbitrary Unicode."""

from __future__ import annotations

import itertools
from collections import Counter

import keras_hub
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prep.text.wordpiece import PretokenizedWords
from prep.text.wordpiece_learner import DEFAULT_RESERVED, NothingToLearn, learn_wordpiece
from schemas import WordPieceSettings
from tests.text.test_wordpiece import texts as unicode_texts
from tests.text_reference import package_description_lines


def keras_hub_vocabulary(texts: list[str], size: int, options: WordPieceSettings,
                         reserved: tuple[str, ...] = DEFAULT_RESERVED) -> list[str]:
    data = tf.data.Dataset.from_tensor_slices(tf.constant([t.encode("utf-8") for t in texts], tf.string))
    return keras_hub.tokenizers.compute_word_piece_vocabulary(
        data, size, lowercase=options.lowercase, strip_accents=options.strip_accents,
        split_on_cjk=options.split_on_cjk, suffix_indicator=options.suffix_indicator, reserved_tokens=list(reserved))


def word_counts(texts: list[str], options: WordPieceSettings) -> Counter:
    """The words as prep counts them (what prep vocab's job gathers from every worker)."""
    words = PretokenizedWords(options)
    counts: Counter = Counter()
    for text in texts:
        counts.update(word.decode("utf-8") for word in words.tokens(text.encode("utf-8")))
    return counts


def prep_vocabulary(texts: list[str], size: int, options: WordPieceSettings,
                    reserved: tuple[str, ...] = DEFAULT_RESERVED) -> list[str]:
    return learn_wordpiece(word_counts(texts, options), size, reserved, options.suffix_indicator)


def test_keras_hubs_own_example():
    texts = ["bat sat pat mat rat"]
    expected = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]", "a", "b", "m", "p", "r", "s", "t", "##at"]
    assert keras_hub_vocabulary(texts, 13, WordPieceSettings()) == expected
    assert prep_vocabulary(texts, 13, WordPieceSettings()) == expected


@pytest.fixture(scope="module")
def real_lines() -> list[str]:
    return package_description_lines()[:2000]


OPTIONS = [WordPieceSettings(lowercase=lower, strip_accents=strip, split_on_cjk=cjk)
           for lower, strip, cjk in itertools.product((False, True), repeat=3)]


@pytest.mark.parametrize("size", [60, 3000])
def test_real_text_learns_keras_hubs_vocabulary(real_lines, size):
    """Prose, tables and code, for a small vocabulary and a large one."""
    options = WordPieceSettings(lowercase=size == 60)
    assert prep_vocabulary(real_lines, size, options) == keras_hub_vocabulary(real_lines, size, options)


@pytest.mark.parametrize("options", [*OPTIONS[1:], WordPieceSettings(suffix_indicator="@@")], ids=repr)
def test_every_pretokenisation_option(real_lines, options):
    texts = real_lines[:400] + ["École naïve Straße 中文字 日本語のテキスト ǅemal İstanbul ΣΊΣΥΦΟΣ"] * 20
    reserved = ("<pad>", "<unk>")
    assert prep_vocabulary(texts, 400, options, reserved) == keras_hub_vocabulary(texts, 400, options, reserved)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.lists(unicode_texts, min_size=1, max_size=30), size=st.integers(5, 120),
       options=st.sampled_from(OPTIONS))
def test_arbitrary_unicode_learns_keras_hubs_vocabulary(batch, size, options):
    counts = word_counts(batch, options)
    if not counts:  # KerasHub's learner fails on a corpus without a word (max() of nothing): prep says so
        with pytest.raises(NothingToLearn):
            learn_wordpiece(counts, size)
        return
    assert prep_vocabulary(batch, size, options) == keras_hub_vocabulary(batch, size, options)
