"""Text standardisation exactly as `tf.keras.layers.TextVectorization` does it, in plain Python.

Keras (3.x, with TensorFlow 2.21) standardises with two TensorFlow ops, and both are ASCII-only:

- "lower": `tf.strings.lower(text)` with its default encoding '' (ASCII), which lower-cases A-Z and
  nothing else: 'É', 'Σ' and fullwidth 'Ａ' stay as they are.
- "strip_punctuation": `tf.strings.regex_replace(text, DEFAULT_STRIP_REGEX, "")`, an RE2 character
  class that lists the 32 ASCII punctuation characters (Python's `string.punctuation`) and nothing
  else: Unicode punctuation such as '¿', '«', '…' or '、' is kept.

Both were checked against TensorFlow on every Unicode code point (tests/text/test_standardize.py
does so on arbitrary text). Because both only touch ASCII bytes, and in UTF-8 an ASCII byte is
always an ASCII character (the bytes of multi-byte characters are all >= 0x80), they are done on the
UTF-8 bytes with one `bytes.translate`: no decoding, at C speed, in Beam workers without TensorFlow.
"""

from __future__ import annotations

import string

# CLI and schema names; None (no standardisation) is "none" on the command line and null in schema.json.
STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", None)

# Keras' regex, as written in keras/src/layers/preprocessing/text_vectorization.py (for the record).
KERAS_STRIP_REGEX = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
PUNCTUATION = string.punctuation.encode("ascii")  # the characters that regex matches

_IDENTITY = bytes(range(256))
_LOWER = bytes.maketrans(string.ascii_uppercase.encode("ascii"), string.ascii_lowercase.encode("ascii"))

# standardize -> (bytes.translate table, bytes to delete)
_TRANSLATIONS: dict[str | None, tuple[bytes, bytes]] = {
    "lower_and_strip_punctuation": (_LOWER, PUNCTUATION),
    "lower": (_LOWER, b""),
    "strip_punctuation": (_IDENTITY, PUNCTUATION),
    None: (_IDENTITY, b""),
}


def check_standardize(standardize: str | None) -> None:
    """Raises ValueError naming the choices for a standardize setting this module does not know."""
    if standardize not in _TRANSLATIONS:
        choices = ", ".join("none" if s is None else s for s in STANDARDIZE)
        raise ValueError(f"standardize {standardize!r} is not one of: {choices}")


def translation(how: str | None) -> tuple[bytes, bytes]:
    """The `bytes.translate` table and the bytes to delete that standardise as `how` says."""
    return _TRANSLATIONS[how]


def standardize(text: bytes, how: str | None) -> bytes:
    """`text` (UTF-8) standardised as TextVectorization(standardize=how) does it, as UTF-8."""
    table, delete = _TRANSLATIONS[how]
    return text.translate(table, delete)
