"""Byte-pair encoding exactly as `keras_hub.tokenizers.BytePairTokenizer` does it on TensorFlow's path.

KerasHub (0.32) tokenises GPT-2 style byte-level BPE in TensorFlow ops (`_tokenize_tf`, the path a
tf.data pipeline runs); prep does the same steps in plain Python, checked against it by
tests/text/test_bytepair.py over arbitrary Unicode text:

1. With `add_prefix_space`, a space before the text.
2. Pre-tokenisation (`split_strings_for_bpe`), RE2's rules: a marker "६" before every space that
   precedes a character other than whitespace (RE2's \\s is [\\t\\n\\f\\r ] only) or one of four special
   spaces; the text split around each unsplittable token; then split by GPT-2's pattern (contractions,
   runs of whitespace, letters, numbers, other characters, each with one optional leading space; RE2
   lacks the lookahead GPT-2 uses, hence the marker), each word's last whitespace character split
   off, and the markers dropped. Letters and numbers are \\p{L} and \\p{N} as RE2 in TensorFlow sees them
   (unicode_updates.json). `tf_text.regex_split` reads a text only up to its first NUL, as for WordPiece.
3. Each word's UTF-8 bytes become GPT-2's printable characters, then merges: the adjacent pair of
   lowest rank in merges.txt is merged, the leftmost of equals, *one at a time* (GPT-2's own code
   merges every occurrence of the pair at once, which can give other pieces: the ids here are
   KerasHub's). An unsplittable token is one piece.

Files KerasHub would take but no model can use are refused before a job (`bytepair_vocabulary`): ids
that are not 0 to N-1, a merge whose result is not in the vocabulary, a byte with no token, an
unsplittable token that is not one: KerasHub gives such pieces the id -1.
"""

from __future__ import annotations

import io
import json
from functools import lru_cache

import regex

from prep.text.unicode_tables import property_class
from prep.text.vocabulary import CutCounts, TokenVocabulary
from prep.text.word_cache import CachedWords
from schemas import BytePairSettings

_SPECIAL = "\u00a0\u2009\u202f\u3000"  # KerasHub's SPECIAL_WHITESPACES
_RE2_SPACE = "\t\n\f\r "  # RE2's \s
_MARK = "\u096c"  # "६", KerasHub's stand-in for GPT-2's lookahead


def bytes_to_unicode() -> list[str]:
    """GPT-2's printable character for each byte value."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


@lru_cache(maxsize=1)
def _patterns() -> tuple[regex.Pattern, regex.Pattern, regex.Pattern]:
    letters, numbers, space = property_class("letters", r"\p{L}"), property_class("numbers", r"\p{N}"), _RE2_SPACE
    marked = regex.compile(f"( )([^{space}{_SPECIAL}])")
    end = regex.compile(f"([{space}]{_SPECIAL})\\Z")  # KerasHub's `(\s{SPECIAL})$`: a sequence, not a class
    # one group around it all: split() gives the matches and the text between them (`_split_keeping`)
    words = regex.compile(f"('s|'t|'re|'ve|'m|'ll|'d|[{space}{_SPECIAL}]+[\n\r\t\f{_MARK}{_SPECIAL}]| ?[{letters}]+"
                          f"| ?[{numbers}]+| ?[^[{space}{_SPECIAL}]||[{letters}]||[{numbers}]]+)", regex.V1)
    return marked, end, words


_LAST = frozenset(f" \t\r\f\v{_MARK}{_SPECIAL}")  # KerasHub's SPLIT_PATTERN_2, `[ \t\r\f\v६{SPECIAL}]$`


def _split_keeping(pattern: regex.Pattern, text: str) -> list[str]:
    """`tf_text.regex_split(text, pattern, pattern)`: the matches and the text between them, for a
    pattern that is one capturing group."""
    return [part for part in pattern.split(text) if part]


def _alternate(index: int) -> str:
    """KerasHub's stand-in for the index-th unsplittable token: Ĵ and the index's digits as letters."""
    return "Ĵ" + "".join(chr(ord("A") + int(d)) for d in str(index))


def _merge_lines(merges: bytes) -> list[str]:
    """merges.txt's lines as KerasHub reads them: a text file's lines (any line ending), right-stripped."""
    return [line.rstrip() for line in io.StringIO(merges.decode("utf-8"), newline=None)]


def bytepair_vocabulary(vocabulary: bytes, merges: bytes, sources: tuple[str, str],
                        options: BytePairSettings) -> TokenVocabulary:
    """A vocabulary.json and merges.txt (their bytes) as KerasHub reads them; ValueError naming the
    file when KerasHub would refuse them, or would give some piece the id -1 (see the module doc)."""
    vocab_source, merges_source = sources
    try:
        ids = json.loads(vocabulary.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"{vocab_source}: not a JSON vocabulary (GPT-2's vocab.json: an object of token to id)") from None
    if not isinstance(ids, dict) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids.values()):
        raise ValueError(f"{vocab_source}: not a JSON vocabulary (GPT-2's vocab.json: an object of token to id)")
    if sorted(ids.values()) != list(range(len(ids))):
        raise ValueError(f"{vocab_source}: the ids are not 0 to {len(ids) - 1}, each once")
    try:
        lines = _merge_lines(merges)
    except UnicodeDecodeError:
        raise ValueError(f"{merges_source}: not UTF-8 text") from None
    for number, line in enumerate(lines, 1):
        if "#version:" in line.lstrip():
            continue
        pair = line.split(" ")
        if len(pair) != 2:
            raise ValueError(f"{merges_source}: line {number} is not two tokens and a space between ({line!r})")
        missing = next((p for p in (*pair, "".join(pair)) if p not in ids), None)
        if missing is not None:
            raise ValueError(f"{merges_source}: line {number} ({line!r}) needs {missing!r}, which is not in "
                             f"{vocab_source}")
    byte = next((c for c in bytes_to_unicode() if c not in ids), None)
    if byte is not None:
        raise ValueError(f"{vocab_source}: byte {bytes_to_unicode().index(byte):#04x} ({byte!r}) has no token: a "
                         "byte-level BPE vocabulary has one for each of the 256 bytes")
    bad = next((t for t in options.unsplittable_tokens if t not in ids or " " in t), None)
    if bad is not None:
        raise ValueError(f"unsplittable token {bad!r}: not a token of {vocab_source}" if bad not in ids else
                         f"unsplittable token {bad!r} holds a space, which KerasHub splits it on")
    tokens = sorted(ids, key=ids.__getitem__)
    return TokenVocabulary(tuple(t.encode("utf-8") for t in tokens), None, CutCounts(), vocab_source, 0, len(tokens),
                           ((options.vocabulary, bytes(vocabulary)), (options.merges, bytes(merges))))


class BytePair(CachedWords):
    """A document (UTF-8) -> its BPE pieces (UTF-8), as KerasHub's tokenizer gives them; what
    prep.text.tokenizer.Tokenizer offers the encoder, for byte-pair encoding."""

    def __init__(self, vocabulary: TokenVocabulary, options: BytePairSettings = BytePairSettings()):
        super().__init__({token: [token.encode("utf-8")] for token in options.unsplittable_tokens})
        self.options = options
        merges = dict(vocabulary.files)[options.merges]
        lines = _merge_lines(merges)
        self._ranks = {line: rank for rank, line in reversed(list(enumerate(lines)))}  # the first of repeats
        self._no_rank = len(lines) + 1
        self._chars = bytes_to_unicode()
        self._special = [(token, _alternate(i)) for i, token in enumerate(options.unsplittable_tokens)]

    def words(self, text: str) -> list[str]:
        """The pre-tokenised words of a document."""
        marked, end, words = _patterns()
        if self.options.add_prefix_space:
            text = " " + text
        text = end.sub(f"\\1{_MARK}", marked.sub(f"{_MARK}\\1\\2", text))
        parts = [text.partition("\0")[0]]  # tf_text.regex_split ends a text at its first NUL
        for token, alternate in self._special:
            escaped = regex.compile(f"({regex.escape(token)})")
            parts = [p.replace(token, alternate) for part in parts for p in _split_keeping(escaped, part)]
        out = []
        for part in parts:
            for word in _split_keeping(words, part):
                if len(word) > 1 and word[-1] in _LAST:  # its last whitespace character split off
                    out += (word[:-1], word[-1])
                else:
                    out.append(word)
        for token, alternate in self._special:
            out = [w.replace(alternate, token) for w in out]
        return [w for w in out if w != _MARK]

    def word_pieces(self, word: str) -> list[bytes]:
        """One word's pieces: merges of lowest rank first, one at a time, leftmost first."""
        chars, ranks, no_rank = self._chars, self._ranks, self._no_rank
        symbols = [chars[b] for b in word.encode("utf-8")]
        while len(symbols) > 1:
            pair_ranks = [ranks.get(f"{a} {b}", no_rank) for a, b in zip(symbols, symbols[1:])]
            best = min(pair_ranks)
            if best == no_rank:
                break
            i = pair_ranks.index(best)
            symbols[i:i + 2] = [symbols[i] + symbols[i + 1]]
        return [s.encode("utf-8") for s in symbols]
