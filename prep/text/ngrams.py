"""N-grams as `TextVectorization(ngrams=N)` makes them: `tf.strings.ngrams(tokens, (1, ..., N), " ")`.

For each width from 1 to N in turn, every run of that many consecutive tokens joined by one space;
a document shorter than a width has no n-grams of that width (TensorFlow's default
`preserve_short_sequences=False`), and nothing is padded.
"""

from __future__ import annotations

SEPARATOR = b" "


def ngrams(tokens: list[bytes], max_width: int | None) -> list[bytes]:
    """The tokens, then their 2-grams, ... up to `max_width`-grams (None or 1: the tokens alone)."""
    if not max_width or max_width == 1:
        return tokens
    out = list(tokens)
    for width in range(2, max_width + 1):
        out += [SEPARATOR.join(tokens[i:i + width]) for i in range(len(tokens) - width + 1)]
    return out
