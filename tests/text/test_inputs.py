"""prep.text.inputs: every input format into rows or rejections with file, line and reason."""

from __future__ import annotations

import gzip
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prep.core import row_files
from prep.core.layout import Layout, detect_layout
from prep.core.row_files import byte_ranges, lines_of, range_rows
from prep.text import inputs as text_inputs
from prep.text.corpus_survey import first_lines, range_key
from prep.text.inputs import (
    LineBlock,
    Rejection,
    Row,
    TextInputs,
    _blank_lines,
    blank_line_numbers,
    corpus_items,
    file_format,
    read_rows,
    resolve_inputs,
)


def _inputs(tmp_path, fmt="auto", **kwargs) -> TextInputs:
    return TextInputs(str(tmp_path), str(tmp_path), str(tmp_path / "*"), fmt, **kwargs)


def _read(path, inputs, **kwargs) -> list:
    return list(read_rows(str(path), path.name, inputs, **kwargs))


def _summary(items) -> list[tuple]:
    return [(i.line, i.text.decode()) if isinstance(i, Row) else (i.line, i.reason) for i in items]


def test_plain_text_is_one_document_per_line(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"\xef\xbb\xbffirst line\r\n\n  \nsecond \xc3\xa9\nbad \xff byte\nno newline at the end")
    items = _read(path, _inputs(tmp_path))
    assert _summary(items) == [(1, "first line"), (2, "empty_document"), (3, "empty_document"), (4, "second é"),
                               (5, "not_utf8"), (6, "no newline at the end")]
    assert items[4].detail == "invalid UTF-8 at byte 4 (convert the file to UTF-8)"
    assert items[0].identity == "corpus.txt:1"


def test_plain_text_in_bulk_comes_in_blocks_of_valid_lines(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"a b\n\n \r\nc\n")
    [block] = _read(path, _inputs(tmp_path), bulk=True)
    assert block == LineBlock(b"a b\n\n \r\nc\n", rows=4, blank=2, source="corpus.txt", blank_at=(2, 3))
    assert [(r.line, r.reason) for r in block.rejections()] == [(2, "empty_document"), (3, "empty_document")]
    path.write_bytes(b"a b\nbad \xff\nc")  # blocks: the complete lines, then the last line
    first, second, last = _read(path, _inputs(tmp_path), bulk=True)
    assert _summary([first, second]) == [(1, "a b"), (2, "not_utf8")]
    assert last == LineBlock(b"c", rows=1, blank=0, source="corpus.txt")


def test_json_lines_with_text_and_label_fields(tmp_path):
    rows = [
        {"body": "hello world", "topic": "news"},
        {"body": "no label"},
        {"body": "numeric label", "topic": 3},
        {"body": "   ", "topic": "x"},
        {"topic": "no text"},
        {"body": 17, "topic": "x"},
        {"body": "list label", "topic": ["a"]},
        {"body": "line\nbreak label", "topic": "a\nb"},
        {"body": "lone surrogate \ud800", "topic": "x"},
    ]
    lines = [json.dumps(r) for r in rows] + ["[1, 2, 3]", "{not json", ""]
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines) + "\n")
    inputs = _inputs(tmp_path, text_field="body", label_field="topic")
    items = _read(path, inputs)
    assert _summary(items) == [
        (1, "hello world"), (2, "missing_label"), (3, "numeric label"), (4, "empty_document"), (5, "missing_text"),
        (6, "bad_text"), (7, "bad_label"), (8, "bad_label"), (9, "not_utf8"), (10, "not_an_object"), (11, "bad_json"),
        (12, "empty_document")]
    assert items[0].label == "news" and items[2].label == "3"
    assert items[9].detail == "the line holds a list, not an object"
    unlabelled = _read(path, _inputs(tmp_path, text_field="body"))
    assert unlabelled[1] == Row("c.jsonl", 2, b"no label", None)


@pytest.mark.parametrize("fmt, sep", [("csv", ","), ("tsv", "\t")])
def test_csv_and_tsv_records_may_span_lines(tmp_path, fmt, sep):
    text = (f'id{sep}text{sep}label\r\n'
            f'1{sep}"a ""quoted""{sep} text"{sep}pos\r\n'
            f'2{sep}"two\nlines"{sep}neg\n'
            f'3{sep}short\n'
            f'\n'
            f'4{sep}bad "quote{sep}pos\n'
            f'5{sep}{sep}pos\n'
            f'6{sep}x{sep}\n'
            f'7{sep}"never closed\n')
    path = tmp_path / f"c.{fmt}"
    path.write_text(text, newline="")
    items = _read(path, _inputs(tmp_path, label_field="label"))
    assert _summary(items) == [(2, f'a "quoted"{sep} text'), (3, "two\nlines"), (5, "bad_csv"), (6, "empty_document"),
                               (7, 'bad "quote'), (8, "empty_document"),
                               (9, "missing_label"), (10, "bad_csv")]
    assert items[0].label == "pos" and items[1].label == "neg"
    assert items[-1].detail.startswith("unexpected end of data")


def test_csv_with_only_a_header_or_without_the_text_column(tmp_path):
    (tmp_path / "h.csv").write_text("text,label\n")
    assert _summary(_read(tmp_path / "h.csv", _inputs(tmp_path))) == [(0, "empty_file")]
    (tmp_path / "o.csv").write_text("body\nhello\n")
    [row] = _read(tmp_path / "o.csv", _inputs(tmp_path))
    assert row.reason == "missing_text" and "columns: body" in row.detail


def test_gzip_is_read_as_it_is_and_damage_is_one_rejection(tmp_path):
    data = gzip.compress("".join(f"line {i}\n" for i in range(1000)).encode(), mtime=0)
    (tmp_path / "c.txt.gz").write_bytes(data)
    items = _read(tmp_path / "c.txt.gz", _inputs(tmp_path))
    assert len(items) == 1000 and items[-1] == Row("c.txt.gz", 1000, b"line 999")
    (tmp_path / "cut.txt.gz").write_bytes(data[:len(data) // 2])
    items = _read(tmp_path / "cut.txt.gz", _inputs(tmp_path))
    assert isinstance(items[-1], Rejection) and items[-1].reason == "corrupt_gzip"
    assert all(isinstance(i, Row) for i in items[:-1])
    assert file_format("x/c.jsonl.gz", "auto") == "jsonl" and file_format("c.TSV", "auto") == "tsv"


@pytest.mark.parametrize("data, reason", [
    (b"", "empty_file"),
    ("utf-16 text\n".encode("utf-16"), "not_utf8"),
])
def test_empty_and_utf16_files_are_one_rejected_input(tmp_path, data, reason):
    (tmp_path / "x.txt").write_bytes(data)
    assert _summary(_read(tmp_path / "x.txt", _inputs(tmp_path))) == [(0, reason)]


def test_a_fifo_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    [item] = _read(tmp_path / "pipe.txt", _inputs(tmp_path))
    assert item.reason == "unreadable" and "not a regular file" in item.detail


def test_a_long_line_is_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(row_files, "READ_BYTES", 1000)
    line = b"x" * 50_000 + b" \x00 end"
    (tmp_path / "long.txt").write_bytes(b"a\n" + line + b"\nb\n")
    assert [i.text for i in _read(tmp_path / "long.txt", _inputs(tmp_path))] == [b"a", line, b"b"]


@pytest.mark.parametrize("fmt, data", [
    ("lines", b"a\n\n  \nb\r\nc"),                       # blank lines, CRLF, no newline at the end
    ("lines", b"ok\n\xff\xfe bad\nok again\n\n"),         # invalid UTF-8 on a line of its own
    ("jsonl", b'{"text": "a"}\nnot json\n\n[1]\n{"text": "b\\nc"}\n{"text": 1}'),
    ("jsonl", b'\xef\xbb\xbf{"text": "bom"}\n' + b'{"text": "x y"}\n' * 40),
])
def test_range_rows_counts_the_rows_read_rows_numbers(tmp_path, fmt, data):
    path = tmp_path / f"c.{'txt' if fmt == 'lines' else 'jsonl'}"
    path.write_bytes(data)
    inputs = TextInputs(str(tmp_path), str(tmp_path), str(path), fmt, text_field="text" if fmt == "jsonl" else None)
    for range_bytes in (5, 17, 1 << 20):
        for start, end in byte_ranges(str(path), len(data), fmt, range_bytes):
            items = list(read_rows(str(path), "c", inputs, start, end))
            assert range_rows(str(path), start, end) == len([i for i in items if i.line]), (range_bytes, start, items)


def test_range_rows_of_an_unreadable_file_is_what_was_read(tmp_path):
    assert range_rows(str(tmp_path / "missing.txt"), 0, None) == 0


def test_a_small_file_is_still_read_in_several_ranges(tmp_path):
    size = 5 * row_files.MIN_RANGE_BYTES
    assert len(byte_ranges("c.txt", size, "lines")) == 5  # ranges of at least MIN_RANGE_BYTES
    assert len(byte_ranges("c.txt", 40 * row_files.MIN_RANGE_BYTES, "lines")) == row_files.RANGES_PER_FILE
    assert len(byte_ranges("c.txt", 20 * row_files.RANGE_BYTES, "lines")) == 20
    assert byte_ranges("c.txt", row_files.MIN_RANGE_BYTES, "lines") == [(0, None)]


@pytest.mark.parametrize("read_bytes", [7, 1 << 20])
def test_byte_ranges_read_every_line_once_with_its_number(tmp_path, monkeypatch, read_bytes):
    monkeypatch.setattr(row_files, "READ_BYTES", read_bytes)
    lines = [("x" * (i % 13)) + f" {i}" for i in range(300)]
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines) + "\n")
    size = path.stat().st_size
    ranges = byte_ranges(str(path), size, "lines", range_bytes=97)
    assert len(ranges) > 20 and ranges[0][0] == 0 and ranges[-1][1] is None
    inputs = _inputs(tmp_path)
    numbers = first_lines({range_key(str(path), start): range_rows(str(path), start, end) for start, end in ranges})
    rows = [row for start, end in ranges
            for row in read_rows(str(path), "c.txt", inputs, start, end, numbers.get(range_key(str(path), start), 1))]
    assert [(r.line, r.text.decode()) for r in rows] == [(i + 1, line) for i, line in enumerate(lines)]
    assert byte_ranges(str(path) + ".gz", size, "lines", 97) == [(0, None)]
    assert byte_ranges(str(path), size, "csv", 97) == [(0, None)]


def test_folder_documents_are_whole_files_labelled_by_their_folder(tmp_path):
    for name, data in {"pos/a.txt": b"\xef\xbb\xbfGood film.\n", "neg/b.txt.gz": gzip.compress(b"Bad film."),
                       "neg/.hidden": b"x", "neg/blank.txt": b" \n\t", "loose.txt": b"no class"}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    inputs = TextInputs(str(tmp_path), str(tmp_path), str(tmp_path / "**"), "folder")
    layout = detect_layout([("neg", ""), ("pos", "")])
    items = {name: list(corpus_items(str(tmp_path / name), inputs, layout))
             for name in ["pos/a.txt", "neg/b.txt.gz", "neg/.hidden", "neg/blank.txt", "loose.txt"]}
    assert items["pos/a.txt"] == [Row("pos/a.txt", 0, b"Good film.\n", "pos")]
    assert items["neg/b.txt.gz"] == [Row("neg/b.txt.gz", 0, b"Bad film.", "neg")]
    assert [i.reason for name in ["neg/.hidden", "neg/blank.txt", "loose.txt"] for i in items[name]] == [
        "hidden_file", "empty_document", "not_in_class_folder"]
    assert items["pos/a.txt"][0].identity == "pos/a.txt"


@pytest.mark.parametrize("src, fmt, is_dir, expected", [
    ("/d", "auto", True, ("/d", "/d/**", "folder")),
    ("/d/", "jsonl", True, ("/d", "/d/**", "jsonl")),
    ("/d/c.csv", "auto", False, ("/d", "/d/c.csv", "auto")),
    ("/d/part-*.jsonl.gz", "auto", False, ("/d", "/d/part-*.jsonl.gz", "auto")),
    ("gs://b/x/*/y.txt", "lines", False, ("gs://b/x", "gs://b/x/*/y.txt", "lines")),
])
def test_sources_resolve_to_a_root_a_pattern_and_a_format(src, fmt, is_dir, expected):
    inputs = resolve_inputs(src, fmt, None, None, False, is_dir)
    assert (inputs.root, inputs.pattern, inputs.format) == expected


@pytest.mark.parametrize("src, fmt, is_dir, text_field, label_field, message", [
    ("/d/*.txt", "folder", False, None, None, "not a glob"),
    ("/d/c.txt", "folder", False, None, None, "is a file"),
    ("/d", "auto", True, None, "topic", "class folder is the label"),
    ("/d/c.txt", "lines", False, "body", None, "do not apply to plain text"),
])
def test_combinations_that_cannot_work_are_refused(src, fmt, is_dir, text_field, label_field, message):
    with pytest.raises(ValueError, match=message):
        resolve_inputs(src, fmt, text_field, label_field, False, is_dir)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["", " ", "\t", "\r", "x", " y ", "\x0b", "\x0c", "é"]), min_size=1, max_size=8),
       st.booleans())
def test_blank_lines_of_a_block_are_counted_exactly(lines, final_newline):
    block = ("\n".join(lines) + ("\n" if final_newline else "")).encode()
    if not block:
        return
    expected = sum(1 for line in lines_of(block) if not line.strip())
    assert _blank_lines(block) == expected
    assert blank_line_numbers(block, 7) == tuple(7 + i for i, line in enumerate(lines_of(block)) if not line.strip())


_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                            max_leaves=8)
_json_lines = st.one_of(
    st.builds(lambda d, pad, cr: json.dumps(d, ensure_ascii=pad == "") + pad + cr,
              st.dictionaries(st.sampled_from(["text", "label", "x", "tëxt"]), _json_values, max_size=4),
              st.sampled_from(["", " ", "\t ", " x", "}", "\x0c"]), st.sampled_from(["", "\r", "\r\r"])),
    st.sampled_from(['{"text": NaN, "label": Infinity}', '{"text": "a\\ud800b"}', '\ufeff{"text": "x"}', "{",
                     '{"text": "dup", "text": "last"}', "[1]", "  ", "", '{"text": 1e999}', '{"label": 12345678901234567890}',
                     "{" * 3000 + "}" * 3000, '{"text": "x"} {"text": "y"}']),
    st.text(max_size=30))


@settings(max_examples=500, deadline=None)
@given(st.lists(_json_lines, max_size=12), st.booleans(), st.binary(max_size=3))
def test_a_block_of_json_lines_reads_as_line_by_line(lines, labelled, junk):
    """The block path (`_json_block`) gives exactly what `_json_line` gives for each line."""
    inputs = text_inputs.TextInputs("s", "s", "s/*", "jsonl", "text", "label" if labelled else None)
    block = "\n".join(lines).encode("utf-8", "surrogatepass") + (b"\n" + junk if junk else b"") + b"\n"
    expected = [text_inputs._json_line("f", n, line, inputs) for n, line in enumerate(lines_of(block), 5)]
    assert text_inputs._json_block("f", 5, block, inputs) == expected


_GOOD = {
    "jsonl": b'{"text": "one two", "label": "a"}\n{"text": "three", "label": "b"}\n',
    "csv": b'text,label\n"one, two",a\nthree,b\n',
    "tsv": b"text\tlabel\none two\ta\nthree\tb\n",
    "lines": b"one two\nthree\n",
}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(fmt=st.sampled_from(sorted(_GOOD)), bulk=st.booleans(), gz=st.booleans(),
       edits=st.lists(st.tuples(st.integers(0, 200), st.binary(min_size=0, max_size=6)), min_size=1, max_size=5))
def test_any_damaged_file_gives_rows_and_rejections_and_never_raises(tmp_path_factory, fmt, bulk, gz, edits):
    """Bytes set, cut or inserted anywhere in a JSONL, CSV, TSV or plain file (gzipped or not): every
    pass reads items (rows, blocks, rejections), never an exception, and the bulk and row passes count
    the same number of inputs."""
    from prep.text.inputs import input_count

    data = bytearray(_GOOD[fmt])
    for position, piece in edits:
        at = position % (len(data) + 1)
        data[at:at + (len(piece) % 3)] = piece
    data = gzip.compress(bytes(data)) if gz else bytes(data)
    folder = tmp_path_factory.mktemp("damaged")
    path = folder / f"corpus.{fmt}{'.gz' if gz else ''}"
    path.write_bytes(data)
    inputs = TextInputs(str(folder), str(folder), str(folder / "*"), fmt, label_field=None if fmt == "lines" else "label")
    rows = list(corpus_items(str(path), inputs, Layout(False, ())))
    blocks = list(corpus_items(str(path), inputs, Layout(False, ()), bulk=True))
    assert sum(map(input_count, rows)) == sum(map(input_count, blocks))
    assert sum(map(input_count, rows)) >= 1
