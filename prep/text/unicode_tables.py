"""Unicode as TensorFlow sees it: unicode_updates.json, made from TensorFlow itself by
tests/text/unicode_updates.py and checked by the test suite.

RE2 and ICU in TensorFlow 2.21 know Unicode 16, Python 3.11's `unicodedata` Unicode 14 and the
`regex` module a newer one still, so a character class written in Python (\\s, \\p{P}, \\p{L}, ...)
is not the one tensorflow-text applies. `property_class` gives the classes KerasHub's tokenizers use
as RE2 matches them, ready for a `regex` character class, and `tables` how ICU normalises the code
points Python does not know yet (prep.text.wordpiece).
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from importlib import resources

import regex


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(resources.files("prep.text").joinpath("unicode_updates.json").read_text("utf-8"))


@lru_cache(maxsize=1)
def tables() -> dict:
    """`nfd`, `casefold`: {code point: what ICU makes of it}; `compositions`: the `nfd` entries, the
    longest first."""
    data = _data()
    out = {name: {int(k, 16): v for k, v in data[name].items()} for name in ("nfd", "casefold")}
    out["compositions"] = sorted(out["nfd"].items(), key=lambda item: -len(item[1]))  # the longest first
    return out


@lru_cache(maxsize=1)
def _every_code_point() -> str:
    return "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)


def _code_points(ranges: list[list[int]]) -> set[int]:
    return {c for first, last in ranges for c in range(first, last + 1)}


def _class(points: set[int]) -> str:
    out, run = [], None
    for c in sorted(points):
        if run and run[1] == c - 1:
            run[1] = c
        else:
            run = [c, c]
            out.append(run)
    return "".join(f"\\U{first:08X}-\\U{last:08X}" for first, last in out)


@lru_cache(maxsize=None)
def property_class(name: str, prop: str) -> str:
    """The inside of a `regex.V1` character class that matches the code points RE2 in TensorFlow
    puts in the class `name`: the `regex` module's own class `prop` (such as \\p{L}), with the code
    points their Unicode versions disagree on added or taken away. A property is looked up in a table;
    a class of hundreds of ranges is searched range by range (8x slower on every character)."""
    python = {ord(c) for match in regex.finditer(f"[{prop}]+", _every_code_point()) for c in match.group()}
    re2 = _code_points(_data()[name])
    added, removed = re2 - python, python - re2
    return prop + _class(added) + (f"--[{_class(removed)}]" if removed else "")
