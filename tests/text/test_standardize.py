"""prep.text.standardize against TextVectorization's own standardisation, on every code point and on
arbitrary Unicode text."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prep.text.standardize import KERAS_STRIP_REGEX, PUNCTUATION, STANDARDIZE, check_standardize, standardize
from tests.text_reference import CORPUS, keras_standardize

_CODE_POINTS = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]  # UTF-8 cannot hold surrogates


def _every_code_point(width: int = 512) -> list[str]:
    """All of Unicode, `width` code points per string, each next to an ASCII capital so lowering shows."""
    chunks = [_CODE_POINTS[i:i + width] for i in range(0, len(_CODE_POINTS), width)]
    return ["".join(chr(c) + "Q" for c in chunk) for chunk in chunks]


@pytest.mark.parametrize("how", STANDARDIZE)
def test_every_code_point_standardises_as_keras_does(how):
    docs = _every_code_point()
    assert [standardize(d.encode(), how) for d in docs] == keras_standardize(docs, how)


@pytest.mark.parametrize("how", STANDARDIZE)
def test_the_test_corpus_standardises_as_keras_does(how):
    assert [standardize(d.encode(), how) for d in CORPUS] == keras_standardize(CORPUS, how)


def test_only_ascii_is_touched():
    assert standardize("ÉCOLE École ΣΑΣ İ Ａ".encode(), "lower") == "École École ΣΑΣ İ Ａ".encode()
    assert standardize("«¿Qué?» — …".encode(), "strip_punctuation") == "«¿Qué» — …".encode()
    assert PUNCTUATION == string.punctuation.encode() and len(PUNCTUATION) == 32
    assert "'" in KERAS_STRIP_REGEX


def test_unknown_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="lower_and_strip_punctuation, lower, strip_punctuation, none"):
        check_standardize("upper")


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=40), min_size=1, max_size=8))
def test_arbitrary_unicode_standardises_as_keras_does(docs):
    for how in STANDARDIZE:
        assert [standardize(d.encode(), how) for d in docs] == keras_standardize(docs, how)
