"""WordPiece tokenisation exactly as `keras_hub.tokenizers.WordPieceTokenizer` does it, in plain Python.

KerasHub (0.32, with tensorflow-text 2.21) tokenises in two steps, both checked against it by
tests/text/test_wordpiece.py over arbitrary Unicode text:

1. Pre-tokenisation (`keras_hub.src.tokenizers.word_piece_tokenizer.pretokenize`): CJK ideographs
   become words of their own (`split_on_cjk`); with `strip_accents`, NFD then every nonspacing mark
   (\\p{Mn}) removed; the text is split on whitespace (RE2's \\s, \\p{Cc}, \\p{Cf}), punctuation (the
   32 ASCII characters and \\p{P}) and CJK ideographs, keeping the punctuation and ideographs as words;
   with `lowercase`, each word gets ICU's NFKC_Casefold (`tf_text.case_fold_utf8`).
2. `tf_text.FastWordpieceTokenizer(no_pretokenization=True)` on each word: greedy longest match
   first, pieces after the first carry the suffix indicator ("##"); a word that cannot be covered,
   or longer than 100 bytes, is the one out-of-vocabulary token.

One quirk is kept, so that the ids are those a tf.data pipeline gets: `tf_text.regex_split` reads a
text only up to its first NUL character, so a document's tokens end there.

Python's Unicode tables are not TensorFlow's: RE2 and ICU in TensorFlow 2.21 know Unicode 16,
Python 3.11's `unicodedata` Unicode 14, the `regex` module a newer one still. So the character
classes (whitespace, punctuation, nonspacing marks) are the ranges RE2 matches, and a character
Python does not know yet (about 5,000 code points, none of them in everyday text) is normalised as
ICU does it; both come from prep.text.unicode_tables.

A document's words repeat, so each distinct word's pieces are kept once made (`WordPiece.cache_size`
words per process): tokenising is then a regex split and a dict look-up per word.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import regex

from prep.text.unicode_tables import property_class, tables
from prep.text.word_cache import CachedWords
from schemas import WordPieceSettings

MAX_BYTES_PER_WORD = 100  # FastWordpieceTokenizer's default max_bytes_per_word, as KerasHub builds it

_CJK = (r"\u4E00-\u9FFF\u3400-\u4DBF\U00020000-\U0002A6DF\U0002A700-\U0002B73F\U0002B740-\U0002B81F"
        r"\U0002B820-\U0002CEAF\uF900-\uFAFF\U0002F800-\U0002FA1F")  # KerasHub's CJK_REGEX


@lru_cache(maxsize=2)
def _words_pattern(split_on_cjk: bool) -> regex.Pattern:
    """A word is a run of characters that are none of whitespace, punctuation and (with
    split_on_cjk) CJK ideographs; a punctuation character and a CJK ideograph are words of their own."""
    # KerasHub's classes as the `regex` module's own, corrected to RE2's (property lookups are 8x faster
    # than searching hundreds of ranges for every character)
    whitespace = property_class("whitespace", r"\t\n\f\r \p{Cc}\p{Cf}")
    punctuation = property_class("punctuation", r"!-/:-@\[-`{-~\p{P}")
    kept = f"[{punctuation}]" + (f"||[{_CJK}]" if split_on_cjk else "")
    return regex.compile(f"[^[{whitespace}]||{kept}]+|[{kept}]", regex.V1)


@lru_cache(maxsize=1)
def _marks() -> regex.Pattern:
    marks = property_class("marks", r"\p{Mn}")
    return regex.compile(f"[{marks}]+", regex.V1)


def _unknown_to_python(text: str) -> bool:
    return any(unicodedata.category(c) == "Cn" for c in text)


def _strip_accents(text: str) -> str:
    # per document: one translate in C (it maps only the characters Python cannot decompose yet),
    # not a Python loop over the characters to see whether it is needed
    return _marks().sub("", unicodedata.normalize("NFD", text.translate(tables()["nfd"])))


# Default ignorable code points, which NFKC_Casefold removes (DerivedCoreProperties.txt)
_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")


def _case_fold(word: str) -> str:
    """ICU's NFKC_Casefold of a word, as `tf_text.case_fold_utf8` applies it."""
    if not _unknown_to_python(word):
        return _IGNORABLE.sub("", unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", word).casefold()))
    t = tables()
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", word.translate(t["casefold"])).casefold())
    for composed, parts in t["compositions"]:  # compositions Python's tables cannot make yet
        folded = folded.replace(parts, t["casefold"].get(composed, chr(composed)))
    return _IGNORABLE.sub("", folded)


class _Pretokenized(CachedWords):
    """KerasHub's pre-tokenisation of a document into words (`words`, then `folded`)."""

    def __init__(self, options: WordPieceSettings):
        self.options = options
        self._words = _words_pattern(options.split_on_cjk).findall
        super().__init__()

    def folded(self, word: str) -> str:
        """A word as WordPiece looks it up: case-folded with `lowercase`."""
        return _case_fold(word) if self.options.lowercase else word

    def words(self, text: str) -> list[str]:
        """The pre-tokenised words of a document, before lower-casing."""
        text = text.partition("\0")[0]  # tf_text.regex_split ends a text at its first NUL (see the module doc)
        if self.options.strip_accents:
            text = _strip_accents(text)
        return self._words(text)


class PretokenizedWords(_Pretokenized):
    """A document (UTF-8) -> the words (UTF-8) KerasHub's `pretokenize` gives, lower-cased with
    `lowercase`: what `compute_word_piece_vocabulary` counts to learn a vocabulary
    (prep.text.wordpiece_learner); prep.text.token_counting counts them as it counts tokens."""

    splits_on_whitespace_only = False  # a word may hold no whitespace, but folding may make one

    def word_pieces(self, word: str) -> list[bytes]:
        return [self.folded(word).encode("utf-8")]


class WordPiece(_Pretokenized):
    """A document (UTF-8) -> its WordPiece tokens (UTF-8), as KerasHub's tokenizer gives them; what
    prep.text.tokenizer.Tokenizer offers the encoder, for WordPiece."""

    def __init__(self, vocabulary: tuple[str, ...], options: WordPieceSettings = WordPieceSettings()):
        if options.oov_token not in vocabulary:
            raise ValueError(f"the vocabulary has no {options.oov_token!r} (the out-of-vocabulary token)")
        self.vocabulary = frozenset(vocabulary)
        self._oov = [options.oov_token.encode("utf-8")]
        super().__init__(options)

    def word_pieces(self, word: str) -> list[bytes]:
        """One word's pieces: greedy longest match first, as FastWordpieceTokenizer; the OOV token
        when the word cannot be covered or is longer than MAX_BYTES_PER_WORD bytes."""
        o = self.options
        word = self.folded(word)
        if not word:
            return []
        if len(word.encode("utf-8")) > MAX_BYTES_PER_WORD:
            return self._oov
        pieces, start, vocabulary = [], 0, self.vocabulary
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else o.suffix_indicator + word[start:end]
                if piece in vocabulary:
                    pieces.append(piece.encode("utf-8"))
                    start = end
                    break
            else:
                return self._oov
        return pieces
