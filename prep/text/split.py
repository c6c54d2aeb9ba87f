"""Splitting standardised text into tokens exactly as `tf.keras.layers.TextVectorization` does.

- "whitespace": Keras calls `tf.strings.split(text)`, which splits on runs of the six ASCII
  whitespace bytes (space, \\t, \\n, \\v, \\f, \\r; absl's ascii_isspace) and drops empty pieces.
  No other character separates tokens: not U+00A0 (no-break space), not U+3000 (ideographic space),
  not U+0085 or U+2028, not the ASCII separators \\x1c-\\x1f that Python's `str.split()` splits on.
  `bytes.split()` splits on exactly those six bytes, so it is used on the UTF-8 bytes.
- "character": Keras calls `tf.strings.unicode_split(text, "UTF-8")`: one token per code point,
  whitespace and line breaks included.

Input is valid UTF-8 (the readers reject anything else), so a character is a lead byte followed by
its continuation bytes (0x80-0xBF).
"""

from __future__ import annotations

import re

SPLITS = ("whitespace", "character")
WHITESPACE = b" \t\n\r\x0b\x0c"  # what tf.strings.split and bytes.split() split on

_CHARACTER = re.compile(rb"[^\x80-\xbf][\x80-\xbf]*")


def check_split(split: str) -> None:
    """Raises ValueError naming the choices for a split setting this module does not know."""
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of: {', '.join(SPLITS)}")


def split_tokens(text: bytes, how: str) -> list[bytes]:
    """The tokens of standardised UTF-8 `text`, split as TextVectorization(split=how) does."""
    if how == "whitespace":
        return text.split()
    return _CHARACTER.findall(text)
