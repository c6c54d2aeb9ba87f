"""A folder of everything users' image folders really hold, converted in one run: each input is a
correct record or a line in rejected.jsonl with a reason, the job never dies, and nothing is lost."""

from __future__ import annotations

import io
import json
import os

import pytest

from tests.conftest import image_bytes


def _save(image, fmt, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _inputs() -> dict[str, bytes | None]:
    """name -> bytes (None: made specially below)."""
    from PIL import Image

    rgb = Image.new("RGB", (24, 16), (200, 40, 40))
    frames = [Image.new("P", (12, 12), i) for i in range(3)]
    exif = Image.Exif()
    exif[0x0112] = 6
    palette = Image.new("P", (10, 10), 1)
    palette.info["transparency"] = 1
    jpeg = image_bytes(size=(40, 30))
    return {
        "ok/plain.jpg": jpeg,
        "ok/with space.jpg": jpeg,
        "ok/naïve ünïcödé.jpg": jpeg,
        "ok/new\nline.jpg": jpeg,
        "ok/-leading-dash.jpg": jpeg,
        "ok/--help.jpg": jpeg,
        "ok/png-named.jpg": image_bytes(fmt="PNG"),
        "ok/jpeg-named.png": jpeg,
        "ok/cmyk.jpg": _save(rgb.convert("CMYK"), "JPEG"),
        "ok/16bit.png": _save(Image.new("I;16", (8, 8), 60000), "PNG"),
        "ok/palette-transparent.png": _save(palette, "PNG"),
        "ok/animated.gif": _save(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "ok/multipage.tiff": _save(rgb, "TIFF", save_all=True, append_images=[rgb]),
        "ok/rotated.jpg": _save(rgb, "JPEG", exif=exif),
        "ok/one-pixel.png": _save(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"),
        "ok/webp.webp": _save(rgb, "WEBP"),
        "bad/empty.jpg": b"",
        "bad/text.jpg": b"just some text\n",
        "bad/truncated.png": image_bytes(fmt="PNG", size=(64, 64))[:-40],
        "bad/.DS_Store": b"\0\0\0\1Bud1",
        "bad/Thumbs.db": b"\xd0\xcf\x11\xe0",
        "bad/.hidden.jpg": jpeg,
    }


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from prep.cli.main import main

    base = tmp_path_factory.mktemp("hostile")
    src = base / "src"
    for name, data in _inputs().items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    os.symlink("plain.jpg", src / "ok" / "link-to-file.jpg")
    os.symlink("..", src / "ok" / "loop")               # a folder symlink back up: not followed, no loop
    os.mkfifo(src / "bad" / "fifo.jpg")                  # would block a naive reader forever
    out = base / "out"
    assert main(["images", str(src), str(out), "--workers", "1"]) == 0
    rejected = {r["path"]: r for r in map(json.loads, (out / "rejected.jsonl").read_text().splitlines())}
    return out, rejected


def test_every_input_is_a_record_or_a_reason(converted):
    from tests.beam_jobs.test_images_job import read_dataset

    out, rejected = converted
    records = {r["image/filename"].decode("utf-8", "surrogateescape") for r in read_dataset(out)}
    expected_records = {n for n in _inputs() if n.startswith("ok/")} | {"ok/link-to-file.jpg"}
    assert records == expected_records
    assert {path: r["reason"] for path, r in rejected.items()} == {
        "bad/empty.jpg": "empty_file",
        "bad/text.jpg": "not_an_image",
        "bad/truncated.png": "truncated",
        "bad/.DS_Store": "hidden_file",
        "bad/Thumbs.db": "hidden_file",
        "bad/.hidden.jpg": "hidden_file",
        "bad/fifo.jpg": "unreadable",
    }
    stats = json.loads((out / "stats.json").read_text())
    assert stats["inputs"] == len(records) + len(rejected) == stats["records"] + stats["rejected"]


def test_every_record_decodes_in_tensorflow_to_the_size_it_claims(converted):
    import tensorflow as tf

    from tests.beam_jobs.test_images_job import read_dataset

    for row in read_dataset(converted[0]):
        decoded = tf.io.decode_image(row["image"], channels=3, expand_animations=False)
        assert decoded.shape == (row["image/height"], row["image/width"], 3), row["image/filename"]


def test_reasons_are_sentences_a_person_understands(converted):
    for row in converted[1].values():
        assert len(row["detail"]) > 15 and " " in row["detail"], row
