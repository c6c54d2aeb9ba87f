"""Makes prep/text/unicode_updates.json from TensorFlow and tensorflow-text themselves: the classes of
characters KerasHub's pre-tokenisation splits on and strips, as RE2 in TensorFlow sees them, and for
every code point Python's Unicode tables leave unassigned, what ICU makes of it where the two differ.

    .venv/bin/python -m tests.text.unicode_updates     # rewrites the file; the test suite checks it
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

FILE = Path(__file__).resolve().parents[2] / "prep" / "text" / "unicode_updates.json"
ABOUT = ("whitespace, punctuation, marks: code point ranges [first, last] KerasHub's WordPiece pre-tokenisation "
         "drops, keeps as words and strips as accents (\\p{Mn}), as RE2 in TensorFlow sees them; letters, numbers: "
         "\\p{L} and \\p{N} as RE2 sees them (KerasHub's BytePairTokenizer). nfd, casefold: code "
         "points Python's unicodedata (Unicode %s) leaves unassigned, as ICU in tensorflow-text %s normalises "
         "them (NFD, NFKC_Casefold). Made by tests/text/unicode_updates.py.")


def unknown_code_points() -> list[int]:
    return [c for c in range(0x110000) if not 0xD800 <= c < 0xE000 and unicodedata.category(chr(c)) == "Cn"]


def _ranges(points: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for c in points:
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def classes() -> dict:
    """Every code point in a word ("a" + c + "b") split as KerasHub splits: dropped (whitespace),
    kept as a word of its own (punctuation) or part of the word; and whether RE2 calls it \\p{Mn},
    \\p{L}, \\p{N}."""
    import tensorflow as tf
    import tensorflow_text as tf_text
    from keras_hub.src.tokenizers.word_piece_tokenizer import PUNCTUATION_REGEX, WHITESPACE_AND_PUNCTUATION_REGEX

    points = [c for c in range(1, 0x110000) if not 0xD800 <= c < 0xE000]
    words = tf_text.regex_split(tf.constant([f"a{chr(c)}b".encode("utf-8") for c in points]),
                                WHITESPACE_AND_PUNCTUATION_REGEX, PUNCTUATION_REGEX).to_list()
    alone = tf.constant([chr(c).encode("utf-8") for c in points])
    marks, letters, numbers = (tf.strings.regex_replace(alone, name, "").numpy() for name in (r"\p{Mn}", r"\p{L}", r"\p{N}"))
    whitespace = [0] + [c for c, w in zip(points, words) if len(w) == 2]  # NUL ends the text (wordpiece.py)
    punctuation = [c for c, w in zip(points, words) if len(w) == 3]
    return {"whitespace": _ranges(whitespace), "punctuation": _ranges(punctuation),
            "marks": _ranges([c for c, m in zip(points, marks) if not m]),
            "letters": _ranges([c for c, m in zip(points, letters) if not m]),
            "numbers": _ranges([c for c, m in zip(points, numbers) if not m])}


def expected() -> dict:
    import tensorflow as tf
    import tensorflow_text as tf_text

    points = unknown_code_points()
    texts = tf.constant([chr(c).encode("utf-8") for c in points])
    nfd = tf_text.normalize_utf8(texts, "NFD").numpy()
    folded = tf_text.case_fold_utf8(texts).numpy()
    out = {"about": ABOUT % (unicodedata.unidata_version, tf_text.__version__), "nfd": {}, "casefold": {}, **classes()}
    for c, d, f in zip(points, nfd, folded):
        for name, value in (("nfd", d), ("casefold", f)):
            value = value.decode("utf-8")
            if value != chr(c):
                out[name][f"{c:X}"] = value
    return out


def main() -> int:
    FILE.write_text(json.dumps(expected(), ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
