"""Tests for prep.core.vocab_files: vocabulary files as Keras reads them, one UTF-8 entry per line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prep.core.vocab_files import parse_vocabulary, read_vocabulary, vocabulary_bytes

SOURCE = "vocab/labels.txt"


@pytest.mark.parametrize(
    ("text", "entries"),
    [
        ("cats\ndogs\n", ("cats", "dogs")),
        ("cats\ndogs", ("cats", "dogs")),
        ("cats\r\ndogs\r\n", ("cats", "dogs")),
        ("cats\r\ndogs", ("cats", "dogs")),
        ("cats\ndogs\r\n", ("cats", "dogs")),
        ("only", ("only",)),
        ("only\n", ("only",)),
        ("été\n猫\n😀\n", ("été", "猫", "😀")),
        ("dogs\ncats\n", ("dogs", "cats")),  # file order is id order, never sorted
        (" a\na \n", (" a", "a ")),  # spaces are part of an entry
        ("a\tb\n[UNK]\n", ("a\tb", "[UNK]")),
        ("Cat\ncat\n", ("Cat", "cat")),
    ],
)
def test_parse_vocabulary(text: str, entries: tuple[str, ...]) -> None:
    assert parse_vocabulary(text, SOURCE) == entries


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "vocab/labels.txt: the file is empty"),
        ("\n", "vocab/labels.txt: line 1 is empty (Keras refuses vocabularies with empty lines)"),
        ("\r\n", "vocab/labels.txt: line 1 is empty"),
        ("\ncats\n", "vocab/labels.txt: line 1 is empty"),
        ("cats\n\ndogs\n", "vocab/labels.txt: line 2 is empty"),
        ("cats\r\n\r\ndogs\r\n", "vocab/labels.txt: line 2 is empty"),
        ("cats\ndogs\n\n", "vocab/labels.txt: line 3 is empty"),
        ("cats\ndogs\ncats\n", "vocab/labels.txt: line 3 repeats 'cats'"),
        ("cats\ncats", "vocab/labels.txt: line 2 repeats 'cats'"),
        ("cats\r\ncats\n", "vocab/labels.txt: line 2 repeats 'cats'"),
        ("été\nx\nété\n", "vocab/labels.txt: line 3 repeats 'été'"),
    ],
)
def test_parse_vocabulary_names_the_line_at_fault(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_vocabulary(text, SOURCE)


@pytest.mark.parametrize("name", ["labels.txt", "tokens.txt", "été.txt"])
@pytest.mark.parametrize("data", [b"cats\ndogs\n", b"cats\r\ndogs", "chats\nchiens\nété\n".encode("utf-8")])
def test_read_vocabulary_reads_a_file(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert read_vocabulary(str(path)) == parse_vocabulary(data.decode("utf-8"), str(path))


def test_read_vocabulary_refuses_a_missing_file(tmp_path: Path) -> None:
    path = str(tmp_path / "vocab" / "missing.txt")
    with pytest.raises(ValueError, match=re.escape(f"{path}: cannot read it (")):
        read_vocabulary(path)


@pytest.mark.parametrize("data", [b"caf\xe9\n", b"\xff\xfe" + "cats\n".encode("utf-16-le"), b"ok\n\x80\n"])
def test_read_vocabulary_refuses_text_that_is_not_utf8(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "labels.txt"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=re.escape(f"{path}: not UTF-8 text")):
        read_vocabulary(str(path))


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "the file is empty"), (b"a\n\nb\n", "line 2 is empty"), (b"a\nb\na\n", "line 3 repeats 'a'")],
)
def test_read_vocabulary_names_the_file_in_parse_errors(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "tokens.txt"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=re.escape(f"{path}: {message}")):
        read_vocabulary(str(path))


@pytest.mark.parametrize(
    "entries",
    [("cats",), ("cats", "dogs"), ("été", "猫", "😀", "a b", "[UNK]"), tuple(f"token{i}" for i in range(1000))],
)
def test_vocabulary_bytes_round_trip(tmp_path: Path, entries: tuple[str, ...]) -> None:
    data = vocabulary_bytes(entries)
    assert data.endswith(b"\n") and data.count(b"\n") == len(entries)
    assert vocabulary_bytes(list(entries)) == data
    assert parse_vocabulary(data.decode("utf-8"), SOURCE) == entries
    path = tmp_path / "vocab.txt"
    path.write_bytes(data)
    assert read_vocabulary(str(path)) == entries


def test_vocabulary_bytes_is_plain_utf8_one_entry_a_line() -> None:
    assert vocabulary_bytes(["cats", "été"]) == b"cats\n\xc3\xa9t\xc3\xa9\n"
    assert vocabulary_bytes([]) == b""
