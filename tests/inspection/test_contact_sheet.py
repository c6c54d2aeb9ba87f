"""The contact sheet: records decoded in plain Python, samples chosen by shard order, the grid drawn with
Pillow, and `prep inspect --sheet`."""

from __future__ import annotations

import io
import struct
import sys

import pytest

from prep.inspection import contact_sheet as sheets
from prep.inspection.contact_sheet import SheetLayout, decode_example, fit_text
from prep.records.example_codec import encode_example

COLOURS = {"blue": (20, 40, 220), "green": (30, 200, 60), "red": (230, 30, 30)}
IMAGES = {"blue": 3, "green": 2, "red": 1}     # per class: red has fewer than the sheet's 2 columns


@pytest.fixture(scope="module")
def coloured(tmp_path_factory):
    """A dataset of solid-colour PNGs (lossless, so every pixel of a tile is its class's colour), of
    varied shapes, in three classes."""
    from PIL import Image

    from prep.cli.main import main

    base = tmp_path_factory.mktemp("coloured")
    for name, count in IMAGES.items():
        for i in range(count):
            path = base / "src" / name / f"{name}_{i}_with_a_rather_long_file_name.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (40 + 30 * i, 30 + 10 * i), COLOURS[name]).save(path)
    out = base / "out"
    assert main(["images", str(base / "src"), str(out), "--num-shards", "2", "--workers", "1"]) == 0
    return out


@pytest.mark.parametrize("features", [
    {"image": ("string", [b"\x89PNG\x00\xff" * 50]), "label": ("int64", [2])},
    {"ids": ("int64", [0, 1, 127, 128, 2**40, -1, -(2**63), 2**63 - 1]), "empty": ("int64", [])},
    {"f": ("float32", [0.5, -2.0, 1e10]), "names": ("string", ["é", "", "a/b.jpg"]), "nofloats": ("float32", [])},
])
def test_decode_example_inverts_encode_example(features):
    decoded = decode_example(encode_example(features))
    assert set(decoded) == set(features)
    for key, (dtype, values) in features.items():
        expected = [v.encode() if isinstance(v, str) else v for v in values]
        if dtype == "float32":
            expected = [struct.unpack("<f", struct.pack("<f", v))[0] for v in values]
        assert decoded[key] == expected


def test_decode_example_reads_unpacked_lists():
    """Other writers may store int64 and float lists unpacked (one tagged field per value)."""
    ints = b"\x08\x05\x08\x96\x01"                                # Int64List{value: 5, value: 150}
    floats = b"\x0d" + struct.pack("<f", 1.5)                      # FloatList{value: 1.5}
    feature_i, feature_f = b"\x1a" + bytes([len(ints)]) + ints, b"\x12" + bytes([len(floats)]) + floats
    entries = b""
    for key, feature in ((b"n", feature_i), (b"x", feature_f)):
        entry = b"\x0a" + bytes([len(key)]) + key + b"\x12" + bytes([len(feature)]) + feature
        entries += b"\x0a" + bytes([len(entry)]) + entry
    record = b"\x0a" + bytes([len(entries)]) + entries
    assert decode_example(record) == {"n": [5, 150], "x": [1.5]}


@pytest.mark.parametrize("text", ["cat", "a_very_long_file_name_that_never_fits_in_a_tile_0042.jpg", "x" * 300, ""])
def test_fit_text_keeps_both_ends_within_the_width(text):
    typeface = sheets.font(sheets.LABEL_SIZE)
    fitted = fit_text(text, typeface, sheets.TILE)
    assert typeface.getlength(fitted) <= sheets.TILE
    if typeface.getlength(text) <= sheets.TILE:
        assert fitted == text
    else:
        head, _, tail = fitted.partition(sheets.ELLIPSIS)
        assert text.startswith(head) and text.endswith(tail) and len(head) >= len(tail)


def _pixel(sheet, layout, row, column):
    x, y = layout.tile_origin(row, column)
    return sheet.getpixel((x + layout.tile // 2, y + layout.tile // 2))


def test_sheet_has_the_expected_grid_and_each_tile_shows_its_class(coloured):
    from PIL import Image

    made = sheets.make_sheet(str(coloured), per_class=2)
    sheet = Image.open(io.BytesIO(made.png)).convert("RGB")
    layout = SheetLayout(columns=2, rows=3)
    grid_width = 2 * sheets.MARGIN + 2 * sheets.TILE + sheets.GAP
    grid_height = (2 * sheets.MARGIN + layout.title_height + 3 * (sheets.TILE + layout.label_height)
                   + 2 * sheets.ROW_GAP)
    assert sheet.size == layout.size == made.size == (max(sheets.MIN_WIDTH, grid_width), grid_height)
    wide = SheetLayout(columns=8, rows=3)
    assert wide.size[0] == 2 * sheets.MARGIN + 8 * sheets.TILE + 7 * sheets.GAP
    assert (made.rows, made.columns) == (3, 2)
    for row, name in enumerate(sorted(COLOURS)):    # rows follow label ids: blue, green, red
        shown = min(2, IMAGES[name])
        for column in range(shown):
            assert _pixel(sheet, layout, row, column) == COLOURS[name]
        for column in range(shown, 2):
            assert _pixel(sheet, layout, row, column) == sheets.BACKGROUND, "a class with fewer images leaves blanks"
    assert made.records_read <= sum(IMAGES.values())


def test_sampling_reads_only_until_every_class_is_full_and_is_repeatable(coloured):
    from schemas import load_schema

    schema = load_schema(str(coloured))
    stats = sheets.read_stats(str(coloured))
    first = sheets.sample_images(str(coloured), schema, 1, stats=stats)
    again = sheets.sample_images(str(coloured), schema, 1, stats=stats)
    assert [(c, [s.filename for s in ss]) for c, ss in first.rows] == [(c, [s.filename for s in ss]) for c, ss in again.rows]
    assert [len(ss) for _, ss in first.rows] == [1, 1, 1]
    seen, needed = set(), 0
    for needed, record in enumerate(sheets.scan_records(str(coloured), schema), 1):
        seen.add(record.features["label"][0])
        if len(seen) == len(IMAGES):
            break
    assert first.records_read == needed, "stops as soon as each class has its sample"
    assert [s.filename for _, ss in first.rows for s in ss] == [
        next(r.features["image/filename"][0].decode() for r in sheets.scan_records(str(coloured), schema)
             if r.features["label"][0] == label) for label in range(len(IMAGES))], "the first of each class"
    bounded = sheets.sample_images(str(coloured), schema, 5, stats=None, max_records=2)
    assert bounded.records_read == 2


def test_inspect_writes_the_sheet(coloured, tmp_path, prep_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # the report extra is not needed by inspect
    out = tmp_path / "sheet.png"
    result = prep_cli("inspect", coloured, "--samples", "0", "--sheet", out, "--per-class", "3")
    assert result.exit_code == 0, result.err
    # blue, green and red hold 3, 2 and 1 images: the line says what the sheet holds, not what was asked
    assert "wrote contact sheet" in result.out and "3 classes x 1-3 samples each (3 asked for)" in result.out
    from PIL import Image

    assert Image.open(out).size == SheetLayout(columns=3, rows=3).size


@pytest.mark.parametrize("per_class, holds", [
    (1, "3 classes x 1 sample each"),
    (8, "3 classes x 1-3 samples each (8 asked for)"),
])
def test_the_sheet_says_what_it_holds(coloured, per_class, holds):
    from PIL import Image

    made = sheets.make_sheet(str(coloured), per_class=per_class)
    assert made.holds == holds and made.per_row == ((1, 1, 1) if per_class == 1 else (3, 2, 1))
    assert Image.open(io.BytesIO(made.png)).size == SheetLayout(columns=per_class, rows=3).size


@pytest.mark.parametrize("per_row, text", [((1, 1), "1 sample"), ((8, 8), "8 samples"), ((1, 8, 3), "1-8 samples")])
def test_samples_per_row(per_row, text):
    assert sheets.samples_per_row(per_row) == text


def test_inspect_sheet_of_a_dataset_without_images_is_a_usage_error(tmp_path, prep_cli):
    from schemas import DatasetSchema, Feature, Shard, Split, save_schema

    schema = DatasetSchema("docs", "text", (Feature("text", "string", (), "text"),),
                           (Split("train", (Shard("train-00000-of-00001.tfrecord", 0, 0),), 0),))
    save_schema(schema, str(tmp_path))
    result = prep_cli("inspect", tmp_path, "--sheet", tmp_path / "s.png")
    assert result.exit_code == 2
    assert "--sheet" in result.err and "no image feature" in result.err
    assert not (tmp_path / "s.png").exists()


def test_a_tile_of_a_record_pillow_warns_about_shows_it_and_prints_nothing():
    import warnings

    from PIL import Image

    encoded = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 10, 10)).save(encoded, "JPEG")
    data = encoded.getvalue()
    mpf = b"MPF\x00II*\x00\x08\x00\x00\x00" + b"\xff" * 8  # a broken MPO header: Pillow warns, then reads the JPEG
    data = data[:2] + b"\xff\xe2" + struct.pack(">H", len(mpf) + 2) + mpf + data[2:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tile = sheets.thumbnail(data, 48)
    assert tile.size == (48, 36) and tile.getpixel((24, 18))[0] > 150
