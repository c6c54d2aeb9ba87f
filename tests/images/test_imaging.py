"""Tests for prep.images.imaging.

Every image is made here, in memory, with Pillow (or byte by byte where Pillow cannot write it).
TensorFlow is the oracle for "what training will decode": whatever normalise_image returns must
decode with tf.io.decode_image to (height, width, channels), with the pixels it promises.
"""

from __future__ import annotations

import functools
import io
import os
import pickle
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from prep.images.imaging import (
    KEPT_FORMATS,
    OUTPUT_FORMATS,
    REASONS,
    RESIZE_MODES,
    ImageOptions,
    ImageRecord,
    ImageRejected,
    normalise_image,
    sniff_format,
)

Decode = Callable[[bytes, int], np.ndarray]  # (image bytes, channels) -> (height, width, channels)

# The test picture: four flat quadrants of different colours, so that any flip, turn or channel
# mix-up shows; not square, so that a quarter turn also shows in the shape.
WIDTH, HEIGHT = 48, 32  # pixels
COLOURS = ((220, 30, 30), (30, 200, 40), (40, 50, 210), (240, 240, 240))  # TL, TR, BL, BR
# TR is fully transparent: its colour afterwards tells whether alpha was dropped or composited.
ALPHAS = (255, 0, 128, 255)
CENTRES = ((12, 8), (36, 8), (12, 24), (36, 24))  # (x, y) of each quadrant's centre, pixels

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ADAM7_PASSES = (  # (first column, first row, column step, row step), from the PNG spec
    (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)
)


# --- making test images -------------------------------------------------------------------------


def quadrant_indices() -> np.ndarray:
    """(HEIGHT, WIDTH) uint8 array of quadrant numbers 0..3, in COLOURS order."""
    rows = (np.arange(HEIGHT) >= HEIGHT // 2)[:, None]
    columns = (np.arange(WIDTH) >= WIDTH // 2)[None, :]
    return (rows * 2 + columns).astype(np.uint8)


def opaque(rgba: np.ndarray) -> np.ndarray:
    """The same pixels with alpha 255."""
    out = rgba.copy()
    out[..., 3] = 255
    return out


TRUTH = np.array([(*c, a) for c, a in zip(COLOURS, ALPHAS)], np.uint8)[quadrant_indices()]
OPAQUE = opaque(TRUTH)
# A palette image whose TR index is transparent.
TRANSPARENT_TR = np.where(quadrant_indices()[..., None] == 1, TRUTH, OPAQUE)


def rgb_image() -> Image.Image:
    return Image.fromarray(TRUTH[..., :3])


def rgba_image() -> Image.Image:
    return Image.fromarray(TRUTH, "RGBA")


def palette_image(entries: int = 4) -> Image.Image:
    """Mode P, index = quadrant, palette of the four COLOURS padded with black to `entries`.

    Pillow writes a 4-entry palette at 2 bits per pixel in PNG, a 256-entry one at 8.
    """
    image = Image.fromarray(quadrant_indices(), "P")
    image.putpalette([value for colour in COLOURS for value in colour] + [0] * 3 * (entries - 4))
    return image


def as_rgba(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGBA"))


def inverted(image: Image.Image) -> Image.Image:
    """A second frame that differs everywhere from the first."""
    return Image.fromarray(255 - np.asarray(image.convert("RGB"))).convert(image.mode)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def handmade_png(
    width: int, height: int, depth: int, color_type: int, scanlines: bytes, interlace: int = 0
) -> bytes:
    """A PNG written byte by byte, for what Pillow cannot write (16-bit RGB, Adam7, lies)."""
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, interlace)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(scanlines))
        + png_chunk(b"IEND", b"")
    )


def scanlines(pixels: np.ndarray) -> bytes:
    """Rows with filter type 0 in front of each, as PNG stores them."""
    return b"".join(b"\0" + row.tobytes() for row in pixels)


def rewrite_png_chunk(data: bytes, kind: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    """Replace the payload of the first `kind` chunk by edit(payload), with a correct CRC."""
    start = data.index(kind) - 4
    (length,) = struct.unpack_from(">I", data, start)
    payload = data[start + 8 : start + 8 + length]
    return data[:start] + png_chunk(kind, edit(payload)) + data[start + 12 + length :]


def textured(width: int, height: int, mode: str) -> Image.Image:
    """Gradients plus fixed noise: compresses like a photo, so cuts land in real entropy data."""
    y, x = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(width * height).integers(0, 40, (height, width, 3))
    ramps = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256])
    ramps = ramps.transpose(1, 2, 0)
    return Image.fromarray(np.clip(ramps + noise, 0, 255).astype(np.uint8)).convert(mode)


def with_orientation(upright: np.ndarray, orientation: int, fmt: str, **params: object) -> bytes:
    """Store the upright picture the way a camera would with this EXIF orientation."""
    stored = np.ascontiguousarray(STORED_FROM_UPRIGHT[orientation](upright))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(Image.fromarray(stored), fmt, exif=exif.tobytes(), **params)


# EXIF tag 0x0112: how the stored rows relate to the upright picture (EXIF 2.32, 4.6.4).
STORED_FROM_UPRIGHT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored left to right
    3: lambda a: a[::-1, ::-1],  # turned half way
    4: lambda a: a[::-1],  # mirrored top to bottom
    5: lambda a: a.transpose(1, 0, 2),  # mirrored along the main diagonal
    6: lambda a: np.rot90(a, 1),  # turned a quarter anticlockwise; viewers turn it back clockwise
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],  # mirrored along the other diagonal
    8: lambda a: np.rot90(a, -1),  # turned a quarter clockwise
}


# --- what to expect -----------------------------------------------------------------------------


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, the grey Pillow, libjpeg and libpng all compute (within rounding)."""
    return (rgb.astype(float) @ np.array([299, 587, 114]) / 1000)[..., None]


def expected_pixels(truth: np.ndarray, channels: int) -> np.ndarray:
    """Alpha dropped for 1 and 3 channels, kept for 4 (opaque truths carry alpha 255)."""
    if channels == 4:
        return truth
    return truth[..., :3] if channels == 3 else luma(truth[..., :3])


def centre_means(pixels: np.ndarray) -> np.ndarray:
    """Mean of a 6x4-pixel patch at each quadrant's centre: shape (4, channels).

    Centres stay clear of the edges where JPEG rings and chroma subsampling bleeds.
    """
    patches = [pixels[y - 2 : y + 2, x - 3 : x + 3] for x, y in CENTRES]
    return np.array([patch.reshape(-1, pixels.shape[-1]).mean(axis=0) for patch in patches])


@pytest.fixture(scope="session")
def tf() -> ModuleType:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's start-up chatter out
    import tensorflow

    return tensorflow


@pytest.fixture(scope="session")
def tf_decode(tf: ModuleType) -> Decode:
    """What a training input pipeline does with a stored image."""

    def decode(data: bytes, channels: int) -> np.ndarray:
        return tf.io.decode_image(data, channels=channels, expand_animations=False).numpy()

    return decode


# --- the corpus: one case per kind of input -----------------------------------------------------


@dataclass(frozen=True, eq=False)
class Case:
    data: bytes
    truth: np.ndarray  # (HEIGHT, WIDTH, 4) uint8: the upright first frame; alpha 255 if opaque
    source_format: str  # Pillow's name for the input, lower-case
    kept_for: tuple[int, ...] = ()  # channel counts for which the original bytes are stored
    lossy: bool = False  # lossy source: compare loosely, and re-encode to JPEG by default


def _sixteen_bit_grey() -> Case:
    grey = luma(TRUTH[..., :3])[..., 0].astype(np.uint16)
    # The low byte is all ones: scaling must take the high byte (65535 -> 255), not round.
    image = Image.fromarray(grey * 256 + 255)
    assert image.mode == "I;16"
    return Case(encode(image, "PNG"), as_rgba(Image.fromarray(grey.astype(np.uint8))), "png")


def _sixteen_bit_rgb() -> Case:
    rgb = (TRUTH[..., :3].astype(np.uint16) * 256 + 255).astype(">u2")  # PNG is big-endian
    return Case(handmade_png(WIDTH, HEIGHT, 16, 2, scanlines(rgb)), OPAQUE, "png")


def _interlaced_png() -> Case:
    passes = [TRUTH[y0::dy, x0::dx, :3] for x0, y0, dx, dy in ADAM7_PASSES]
    rows = b"".join(scanlines(p) for p in passes if p.size)
    return Case(handmade_png(WIDTH, HEIGHT, 8, 2, rows, interlace=1), OPAQUE, "png", (1, 3, 4))


def _animated(fmt: str, first: Image.Image) -> bytes:
    return encode(first, fmt, save_all=True, append_images=[inverted(first)])


GREY = as_rgba(rgb_image().convert("L"))
ONE_BIT = rgb_image().convert("1", dither=Image.Dither.NONE)

CASES: dict[str, Callable[[], Case]] = {
    "jpeg_rgb": lambda: Case(encode(rgb_image(), "JPEG"), OPAQUE, "jpeg", (1, 3), lossy=True),
    "jpeg_grey": lambda: Case(
        encode(rgb_image().convert("L"), "JPEG"), GREY, "jpeg", (1, 3), lossy=True
    ),
    "jpeg_progressive": lambda: Case(
        encode(rgb_image(), "JPEG", progressive=True), OPAQUE, "jpeg", (1, 3), lossy=True
    ),
    "jpeg_cmyk": lambda: Case(
        encode(rgb_image().convert("CMYK"), "JPEG"), OPAQUE, "jpeg", lossy=True
    ),
    "mpo": lambda: Case(_animated("MPO", rgb_image()), OPAQUE, "mpo", (1, 3), lossy=True),
    "png_rgb": lambda: Case(encode(rgb_image(), "PNG"), OPAQUE, "png", (1, 3, 4)),
    "png_rgba": lambda: Case(encode(rgba_image(), "PNG"), TRUTH, "png", (1, 3, 4)),
    "png_grey": lambda: Case(encode(rgb_image().convert("L"), "PNG"), GREY, "png", (1, 3, 4)),
    "png_grey_alpha": lambda: Case(
        encode(rgba_image().convert("LA"), "PNG"),
        as_rgba(rgba_image().convert("LA")),
        "png",
        (1, 3, 4),
    ),
    # Bit depths below 8 are re-encoded for 4 channels: TensorFlow gets their alpha wrong.
    "png_palette_2bit": lambda: Case(encode(palette_image(), "PNG"), OPAQUE, "png", (1, 3)),
    "png_palette_2bit_transparent": lambda: Case(
        encode(palette_image(), "PNG", transparency=1), TRANSPARENT_TR, "png", (1, 3)
    ),
    "png_palette_8bit_transparent": lambda: Case(
        encode(palette_image(256), "PNG", transparency=1), TRANSPARENT_TR, "png", (1, 3, 4)
    ),
    "png_1bit": lambda: Case(encode(ONE_BIT, "PNG"), as_rgba(ONE_BIT), "png", (1, 3)),
    "png_interlaced": _interlaced_png,
    "png_16bit_grey": _sixteen_bit_grey,
    "png_16bit_rgb": _sixteen_bit_rgb,
    "apng": lambda: Case(_animated("PNG", rgb_image()), OPAQUE, "png"),
    # Never kept: giflib, inside TensorFlow, refuses GIFs Pillow reads (tests/images/test_tensorflow_decodes.py).
    "gif": lambda: Case(encode(palette_image(), "GIF"), OPAQUE, "gif"),
    "gif_transparent": lambda: Case(
        encode(palette_image(), "GIF", transparency=1), TRANSPARENT_TR, "gif"
    ),
    "gif_animated": lambda: Case(_animated("GIF", palette_image()), OPAQUE, "gif"),
    "bmp_rgb": lambda: Case(encode(rgb_image(), "BMP"), OPAQUE, "bmp", (3, 4)),
    "bmp_grey": lambda: Case(encode(rgb_image().convert("L"), "BMP"), GREY, "bmp", (3, 4)),
    "bmp_palette": lambda: Case(encode(palette_image(), "BMP"), OPAQUE, "bmp"),
    # Pillow writes RGBA as 32-bit BMP and reads it back as RGB; TensorFlow would read alpha.
    "bmp_32bit": lambda: Case(encode(rgba_image(), "BMP"), OPAQUE, "bmp"),
    "tiff": lambda: Case(encode(rgb_image(), "TIFF"), OPAQUE, "tiff"),
    "tiff_multipage": lambda: Case(_animated("TIFF", rgb_image()), OPAQUE, "tiff"),
    "webp_lossy": lambda: Case(encode(rgb_image(), "WEBP", quality=90), OPAQUE, "webp", lossy=True),
    # exact=True: libwebp may otherwise repaint fully transparent pixels.
    "webp_lossless": lambda: Case(
        encode(rgba_image(), "WEBP", lossless=True, exact=True), TRUTH, "webp"
    ),
}


@functools.cache
def case(name: str) -> Case:
    return CASES[name]()


def stored_format(source: Case, channels: int) -> str:
    if channels in source.kept_for:
        return "jpeg" if source.source_format == "mpo" else source.source_format
    return "jpeg" if source.lossy and channels != 4 else "png"


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("name", CASES)
def test_each_kind_of_input_is_kept_or_reencoded_and_decodes_in_tensorflow(
    name: str, channels: int, tf_decode: Decode
) -> None:
    source = case(name)
    options = ImageOptions(channels=channels)
    record = normalise_image(source.data, options)

    kept = channels in source.kept_for
    assert record.reencoded is not kept
    assert (record.data == source.data) is kept
    assert record.format == stored_format(source, channels) == sniff_format(record.data)
    assert record.format in KEPT_FORMATS
    assert record.source_format == source.source_format
    assert (record.height, record.width, record.channels) == (HEIGHT, WIDTH, channels)

    decoded = tf_decode(record.data, channels)
    assert decoded.shape == (record.height, record.width, record.channels)
    lossy = source.lossy or record.format == "jpeg"
    tolerance = 10 if lossy else 2 if channels == 1 else 0
    expected = expected_pixels(source.truth, channels)
    np.testing.assert_allclose(centre_means(decoded), centre_means(expected), atol=tolerance)
    assert normalise_image(source.data, options) == record, "same input, different output"


def test_alpha_is_dropped_the_same_way_whether_kept_or_reencoded(tf_decode: Decode) -> None:
    data = case("png_rgba").data
    kept = normalise_image(data, ImageOptions(channels=3))
    reencoded = normalise_image(data, ImageOptions(channels=3, format="png"))
    assert not kept.reencoded and reencoded.reencoded
    pixels = tf_decode(reencoded.data, 3)
    np.testing.assert_array_equal(tf_decode(kept.data, 3), pixels)
    x, y = CENTRES[1]
    assert tuple(pixels[y, x]) == COLOURS[1], "the colour under alpha 0 is kept, not blackened"


def test_sixteen_bit_grey_keeps_the_high_byte(tf_decode: Decode) -> None:
    values = np.array([[0, 255, 256, 257, 32768, 65280, 65535]], np.uint16)
    record = normalise_image(encode(Image.fromarray(values), "PNG"), ImageOptions(channels=1))
    assert tf_decode(record.data, 1)[..., 0].tolist() == [[0, 0, 1, 1, 128, 255, 255]]


# --- orientation --------------------------------------------------------------------------------


@pytest.mark.parametrize("container", ["JPEG", "PNG"])
@pytest.mark.parametrize("orientation", sorted(STORED_FROM_UPRIGHT))
def test_exif_orientation_is_applied_so_pixels_are_stored_upright(
    orientation: int, container: str, tf_decode: Decode
) -> None:
    upright = TRUTH[..., :3]
    record = normalise_image(with_orientation(upright, orientation, container), ImageOptions())

    assert record.reencoded is (orientation != 1)
    assert record.format == container.lower()
    decoded = tf_decode(record.data, 3)
    assert decoded.shape == (HEIGHT, WIDTH, 3)
    tolerance = 10 if container == "JPEG" else 0
    np.testing.assert_allclose(centre_means(decoded), centre_means(upright), atol=tolerance)


@pytest.mark.parametrize("orientation", [1, 6])
def test_reduced_scale_jpeg_decoding_never_goes_below_the_target_size(
    orientation: int, tf_decode: Decode
) -> None:
    # Upright: 1000x96 with 4-pixel horizontal stripes. Shrinking only the width keeps every
    # stripe, unless the decoder was asked for too small a scale (e.g. with width and height
    # swapped for a quarter-turned photo), which blurs the stripes to grey.
    stripes = np.where((np.arange(96) // 4) % 2 == 0, 255, 0).astype(np.uint8)
    upright = np.repeat(np.repeat(stripes[:, None, None], 1000, axis=1), 3, axis=2)
    data = with_orientation(upright, orientation, "JPEG", quality=95)

    record = normalise_image(data, ImageOptions(resize=(10, 96)))
    column = tf_decode(record.data, 3)[:, 5, 0].astype(int)
    assert column.shape == (96,)
    assert column.max() - column.min() > 200, "stripes blurred: decoded below the target size"


# --- resizing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source_size", [(60, 20), (20, 60), (1, 1)])
@pytest.mark.parametrize("size", [(10, 10), (64, 20), (7, 50), (1, 1)])
@pytest.mark.parametrize("mode", RESIZE_MODES)
def test_resize_gives_exactly_the_requested_size(
    mode: str, size: tuple[int, int], source_size: tuple[int, int], tf_decode: Decode
) -> None:
    data = encode(Image.new("RGB", source_size, (200, 100, 50)), "PNG")
    record = normalise_image(data, ImageOptions(resize=size, resize_mode=mode))
    assert record.reencoded
    assert (record.width, record.height) == size
    assert tf_decode(record.data, 3).shape == (size[1], size[0], 3)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_pad_keeps_the_aspect_ratio_and_fills_with_zeros(channels: int, tf_decode: Decode) -> None:
    data = encode(Image.new("RGB", (60, 20), (255, 255, 255)), "PNG")
    options = ImageOptions(resize=(10, 10), resize_mode="pad", channels=channels)
    pixels = tf_decode(normalise_image(data, options).data, channels)
    content = pixels[..., 0] > 0
    rows, columns = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    # 60x20 at 1/6 is 10x3: the 3:1 aspect kept (to whole pixels), centred top to bottom.
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (3, 5, 0, 9)
    assert (pixels[content] == 255).all()
    assert (pixels[~content] == 0).all(), "padding must be zero in every channel, alpha too"


def test_crop_keeps_the_aspect_ratio_and_takes_the_centre(tf_decode: Decode) -> None:
    strip = np.zeros((20, 60, 3), np.uint8)
    strip[:, 20:40] = 255  # a white square between two black ones
    data = encode(Image.fromarray(strip), "PNG")
    crop = normalise_image(data, ImageOptions(resize=(10, 10), resize_mode="crop"))
    stretch = normalise_image(data, ImageOptions(resize=(10, 10), resize_mode="stretch"))
    assert tf_decode(crop.data, 3).min() > 200, "crop shows only the centre square, undistorted"
    assert tf_decode(stretch.data, 3)[:, 0].max() < 50, "stretch squeezes all three squares in"


# --- output format, quality, tiny images --------------------------------------------------------


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
@pytest.mark.parametrize("name", ["jpeg_rgb", "png_rgba", "gif", "bmp_rgb"])
def test_format_reencodes_every_image(name: str, fmt: str, tf_decode: Decode) -> None:
    record = normalise_image(case(name).data, ImageOptions(format=fmt))
    assert record.reencoded
    assert record.format == fmt == sniff_format(record.data)
    assert tf_decode(record.data, 3).shape == (HEIGHT, WIDTH, 3)


def test_quality_changes_the_jpeg_bytes() -> None:
    data = encode(textured(64, 48, "RGB"), "PNG")
    low, high = (normalise_image(data, ImageOptions(format="jpeg", quality=q)) for q in (30, 90))
    low, high = low.data, high.data
    assert low != high
    assert len(low) < len(high)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP", "WEBP"])
def test_one_pixel_image(fmt: str, channels: int, tf_decode: Decode) -> None:
    data = encode(Image.new("RGB", (1, 1), (90, 160, 30)), fmt)
    record = normalise_image(data, ImageOptions(channels=channels))
    assert (record.height, record.width, record.channels) == (1, 1, channels)
    assert tf_decode(record.data, channels).shape == (1, 1, channels)


# --- rejections ---------------------------------------------------------------------------------


def _jpeg_without_huffman_tables() -> bytes:
    data = bytearray(encode(rgb_image(), "JPEG"))
    table = data.index(b"\xff\xc4")
    data[table + 5 : table + 21] = bytes(16)  # every code-length count zero
    return bytes(data)


def _png_with_damaged_deflate_stream() -> bytes:
    data = encode(textured(64, 48, "RGB"), "PNG")
    return rewrite_png_chunk(data, b"IDAT", lambda payload: payload[:40] + bytes(40) + payload[80:])


def _half(name: str) -> bytes:
    data = case(name).data
    return data[: len(data) // 2]


def _jpeg_cut_after_its_scan_header_length() -> bytes:
    data = case("jpeg_rgb").data
    return data[: data.find(b"\xff\xda") + 4]


def _gif_with_unknown_block_before_its_image() -> bytes:
    data = case("gif").data
    start = 13 + 3 * (2 << (data[10] & 7))  # after the header and the global colour table
    return data[:start] + b"\x99" + data[start:]


def test_junk_after_a_whole_gif_image_is_left_as_giflib_and_pillow_leave_it(tf_decode: Decode) -> None:
    record = normalise_image(case("gif").data[:-1] + b"\x99;", ImageOptions())
    assert record.reencoded and record.format == "png"
    assert tf_decode(record.data, 3).shape == (HEIGHT, WIDTH, 3)


REJECTIONS: list[tuple[str, Callable[[], bytes], dict[str, object]]] = [
    ("empty_file", lambda: b"", {}),
    ("not_an_image", lambda: b"name,label\ncat.jpg,1\n", {}),  # a text file named .jpg
    ("truncated", lambda: _half("jpeg_rgb"), {}),
    ("truncated", _jpeg_cut_after_its_scan_header_length, {}),
    ("truncated", lambda: case("png_rgb").data[:-12], {}),  # IEND cut off
    ("truncated", lambda: case("bmp_rgb").data[:-100], {}),
    ("corrupt", _jpeg_without_huffman_tables, {}),
    ("corrupt", _png_with_damaged_deflate_stream, {}),
    ("corrupt", lambda: _gif_with_unknown_block_before_its_image(), {}),
    ("corrupt", lambda: b"BM" + bytes(100), {}),
    ("too_many_pixels", lambda: encode(Image.new("RGB", (20, 20)), "PNG"), {"max_pixels": 399}),
    ("too_many_pixels", lambda: encode(Image.new("RGB", (20, 20)), "JPEG"), {"max_pixels": 399}),
    ("unsupported_mode", lambda: encode(Image.new("F", (4, 4), 0.5), "TIFF"), {}),
]


@pytest.mark.parametrize(
    ("reason", "make", "options"),
    REJECTIONS,
    ids=[f"{reason}-{i}" for i, (reason, _, _) in enumerate(REJECTIONS)],
)
def test_rejections_name_their_reason(
    reason: str, make: Callable[[], bytes], options: dict[str, object]
) -> None:
    with pytest.raises(ImageRejected) as caught:
        normalise_image(make(), ImageOptions(**options))
    assert caught.value.reason == reason
    assert caught.value.detail
    assert str(caught.value) == f"{reason}: {caught.value.detail}"


def test_every_reason_is_described_and_tested() -> None:
    assert {reason for reason, _, _ in REJECTIONS} == set(REASONS)
    assert all(REASONS.values())


@pytest.mark.parametrize("max_pixels", [399, 400])
@pytest.mark.parametrize("fmt", ["PNG", "GIF", "BMP", "TIFF"])
def test_max_pixels_counts_width_times_height(fmt: str, max_pixels: int) -> None:
    data = encode(Image.new("RGB", (20, 20)), fmt)
    if max_pixels >= 20 * 20:
        assert normalise_image(data, ImageOptions(max_pixels=max_pixels)).width == 20
    else:
        with pytest.raises(ImageRejected, match="too_many_pixels"):
            normalise_image(data, ImageOptions(max_pixels=max_pixels))


def _bomb_png() -> bytes:
    return handmade_png(100_000, 100_000, 8, 2, b"\0" * 300_001)  # one row of data


def _bomb_gif() -> bytes:
    screen = struct.pack("<6sHHBBB", b"GIF89a", 65_535, 65_535, 0, 0, 0)
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 65_535, 65_535, 0) + b"\x02\x02\x4c\x01\x00"
    return screen + frame + b"\x3b"


def _bomb_bmp() -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, 30_000, 30_000, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 64, 0, 0, 54) + info + bytes(64)


@pytest.mark.parametrize("make", [_bomb_png, _bomb_gif, _bomb_bmp], ids=["png", "gif", "bmp"])
def test_decompression_bomb_is_rejected_from_its_header(make: Callable[[], bytes]) -> None:
    # Decoding any of these would need gigabytes (100000 x 100000 x 3 bytes for the PNG), so
    # getting an answer at all shows the size was checked before decoding.
    with pytest.raises(ImageRejected) as caught:
        normalise_image(make(), ImageOptions())
    assert caught.value.reason == "too_many_pixels"


# --- files Pillow decodes but TensorFlow does not -----------------------------------------------


def _jpeg_without_end_marker() -> bytes:
    # Pillow's decoder finishes this one without reading the end marker (its read-ahead happens
    # to hold the last bits); libjpeg inside TensorFlow asks for more data and fails.
    return encode(Image.new("RGB", (8, 100), (129, 129, 129)), "JPEG")[:-2]


def _png_taller_than_its_data() -> bytes:
    data = encode(textured(64, 48, "RGB"), "PNG")
    taller = struct.pack(">I", 60)  # rows; the data holds 48
    return rewrite_png_chunk(data, b"IHDR", lambda ihdr: ihdr[:4] + taller + ihdr[8:])


def _png_with_bad_idat_crc() -> bytes:
    data = bytearray(case("png_rgb").data)
    data[data.index(b"IEND") - 5] ^= 1  # last byte of the IDAT CRC
    return bytes(data)


STRICTER_THAN_PILLOW: dict[str, Callable[[], bytes]] = {
    "jpeg_missing_end_marker": _jpeg_without_end_marker,
    "png_missing_iend": lambda: case("png_rgb").data[:-12],
    "png_bad_idat_crc": _png_with_bad_idat_crc,
    "png_taller_than_its_data": _png_taller_than_its_data,  # Pillow paints the rest black
    "gif_missing_last_blocks": lambda: case("gif").data[:-2],
}


@pytest.mark.parametrize("name", STRICTER_THAN_PILLOW)
def test_files_pillow_accepts_but_tensorflow_refuses_are_rejected(
    name: str, tf: ModuleType
) -> None:
    data = STRICTER_THAN_PILLOW[name]()
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # Pillow alone would let this through
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.io.decode_image(data, channels=3, expand_animations=False)
    with pytest.raises(ImageRejected) as caught:
        normalise_image(data, ImageOptions())
    assert caught.value.reason in ("truncated", "corrupt")


# --- truncation sweep ---------------------------------------------------------------------------


def cut_points(size: int) -> list[int]:
    """Every 1% from 5% to 99% of the file, and the last 1 to 16 bytes removed."""
    percents = {size * percent // 100 for percent in range(5, 100)}
    return sorted(percents | {size - removed for removed in range(1, 17)})


def pillow_decodes(data: bytes, draft: bool) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if draft:
                image.draft("L", (1, 1))  # what prep does to validate a kept JPEG
            image.load()
    except Exception:  # whatever Pillow raises on a damaged file
        return False
    return True


JPEG_VARIANTS: dict[str, dict[str, object]] = {
    "baseline": {},
    "progressive": {"progressive": True},
    "restart_every_2_blocks": {"restart_marker_blocks": 2},
    "restart_every_row": {"restart_marker_rows": 1},
    "progressive_restart": {"progressive": True, "restart_marker_blocks": 4},
}


@pytest.mark.parametrize("mode", ["RGB", "L"])
@pytest.mark.parametrize("size", [(17, 9), (160, 120), (333, 211), (640, 480)])
@pytest.mark.parametrize("variant", JPEG_VARIANTS)
def test_every_cut_of_a_jpeg_is_rejected_and_draft_decoding_agrees_with_full(
    variant: str, size: tuple[int, int], mode: str
) -> None:
    data = encode(textured(*size, mode), "JPEG", **JPEG_VARIANTS[variant])
    if "restart" in variant and size[0] > 100:
        assert b"\xff\xd0" in data, "the encoder wrote no restart markers"
    assert not normalise_image(data, ImageOptions()).reencoded

    slipped, disagree = [], []
    for cut in cut_points(len(data)):
        try:
            normalise_image(data[:cut], ImageOptions())
            slipped.append(cut)
        except ImageRejected as rejected:
            if rejected.reason != "truncated":
                slipped.append((cut, rejected.reason))
        if pillow_decodes(data[:cut], draft=True) != pillow_decodes(data[:cut], draft=False):
            disagree.append(cut)
    assert not slipped, f"cuts of {len(data)} bytes not rejected as truncated: {slipped}"
    assert not disagree, f"draft and full decoding disagree at cuts {disagree}"


@pytest.mark.parametrize(
    ("fmt", "params", "reasons"),
    [
        ("PNG", {}, {"truncated"}),
        ("GIF", {}, {"truncated"}),
        ("BMP", {}, {"truncated"}),
        ("WEBP", {"quality": 80}, {"truncated", "corrupt"}),
        ("WEBP", {"lossless": True}, {"truncated", "corrupt"}),
        ("TIFF", {}, {"truncated", "corrupt"}),
        ("TIFF", {"compression": "tiff_lzw"}, {"truncated", "corrupt"}),
    ],
    ids=["png", "gif", "bmp", "webp", "webp_lossless", "tiff", "tiff_lzw"],
)
@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's TIFF reader warns about each cut
def test_every_cut_of_other_formats_is_rejected(
    fmt: str, params: dict[str, object], reasons: set[str]
) -> None:
    image = textured(80, 64, "RGB")
    data = encode(image.convert("P") if fmt == "GIF" else image, fmt, **params)
    slipped = []
    for cut in cut_points(len(data)):
        try:
            normalise_image(data[:cut], ImageOptions())
            slipped.append(cut)
        except ImageRejected as rejected:
            if rejected.reason not in reasons:
                slipped.append((cut, rejected.reason))
    assert not slipped, f"cuts of {len(data)} bytes not rejected: {slipped}"


# --- damaged bytes: the TensorFlow promise holds for whatever is not rejected -------------------

FUZZED = [  # one of each format that can be kept, so that damage can slip into stored bytes
    "jpeg_rgb",
    "jpeg_progressive",
    "png_palette_8bit_transparent",
    "png_grey_alpha",
    "gif",
    "bmp_grey",
]
BYTE_EDITS = st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), min_size=1, max_size=8)


def damaged(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    """data with the byte at each (position modulo length) set to value."""
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(name=st.sampled_from(FUZZED), channels=st.sampled_from([1, 3, 4]), edits=BYTE_EDITS)
def test_damaged_files_are_rejected_or_decode_as_recorded(
    name: str, channels: int, edits: list[tuple[int, int]], tf_decode: Decode
) -> None:
    try:
        record = normalise_image(damaged(case(name).data, edits), ImageOptions(channels=channels))
    except ImageRejected:
        return
    assert tf_decode(record.data, channels).shape == (record.height, record.width, channels)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(variant=st.sampled_from(sorted(JPEG_VARIANTS)), edits=BYTE_EDITS)
def test_draft_decoding_rejects_exactly_what_full_decoding_rejects(
    variant: str, edits: list[tuple[int, int]]
) -> None:
    data = damaged(encode(textured(96, 64, "RGB"), "JPEG", **JPEG_VARIANTS[variant]), edits)
    assert pillow_decodes(data, draft=True) == pillow_decodes(data, draft=False)


# --- options, sniffing, and the module's own contract -------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"resize": (0, 10)}, "--resize"),
        ({"resize": (10,)}, "--resize"),
        ({"resize": [10, 10]}, "--resize"),
        ({"resize_mode": "fill"}, "--resize-mode must be one of stretch, pad, crop"),
        ({"format": "webp"}, "--format must be one of jpeg, png"),
        ({"quality": 0}, "--quality"),
        ({"quality": 96}, "--quality"),
        ({"channels": 2}, "--channels must be 1, 3 or 4"),
        ({"max_pixels": 0}, "--max-pixels"),
        ({"max_pixels": 10**9}, "--max-pixels"),
        ({"format": "jpeg", "channels": 4}, "--format jpeg cannot store --channels 4"),
    ],
)
def test_invalid_options_name_the_flag(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ImageOptions(**options)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: encode(rgb_image(), "JPEG"), "jpeg"),
        (lambda: encode(rgb_image(), "PNG"), "png"),
        (lambda: encode(palette_image(), "GIF"), "gif"),
        (lambda: encode(rgb_image(), "BMP"), "bmp"),
        (lambda: encode(rgb_image(), "WEBP"), "webp"),
        (lambda: encode(rgb_image(), "TIFF"), "tiff"),
        (lambda: b"name,label\n", None),
        (lambda: b"", None),
    ],
    ids=["jpeg", "png", "gif", "bmp", "webp", "tiff", "text", "empty"],
)
def test_sniff_format_reads_magic_bytes(make: Callable[[], bytes], expected: str | None) -> None:
    assert sniff_format(make()) == expected


def test_what_crosses_beam_workers_pickles() -> None:
    rejected = pickle.loads(pickle.dumps(ImageRejected("corrupt", "bad CRC")))
    assert (rejected.reason, rejected.detail) == ("corrupt", "bad CRC")
    assert str(rejected) == "corrupt: bad CRC"
    options = ImageOptions(resize=(8, 8), resize_mode="crop", channels=1)
    assert pickle.loads(pickle.dumps(options)) == options
    record = normalise_image(case("png_rgb").data, options)
    assert isinstance(record, ImageRecord)
    assert pickle.loads(pickle.dumps(record)) == record


def _reference_fingerprint(im: Image.Image, size: tuple[int, int] | None = None) -> tuple[int, bytes]:
    """The perceptual hash written out from its definition, each DCT-II coefficient as its own sum:
    F(u, v) = mean over pixels p(y, x) * cos(pi u (2y + 1) / 2H) * cos(pi v (2x + 1) / 2W) for u, v < 8
    of each YCbCr plane of the image box-reduced to 32-63 px a side (chroma 128 for grey images); the
    hashed plane is the luma, or where all its F(u, v) but F(0, 0) are under 0.5 in size (flat), the
    chroma plane whose largest such F is larger; none when that one is flat too; a
    frequency's bit is set when it exceeds the median of the 64 by more than 0.05 of the root mean square
    of the 63 but F(0, 0); bits in band order: band b's high byte holds the frequencies 4i + b of the 32
    lowest (by u + v, then 8u + v), its low byte those of the 32 highest, band 3 first. The picture is
    the inverse of the 64 frequencies of each plane on an 8x8 grid, clipped to 0-255: Y, then Cb and Cr
    as the means of its 2x2 cells (4x4)."""
    if min(size or im.size) < 16:
        return 0, b""
    if im.mode == "P":
        im = im.convert("RGBA")
    factor = min(im.size) // 32
    if factor > 1:
        im = im.reduce(factor)
    if im.mode in ("L", "LA", "I", "F"):
        grey = np.asarray(im.convert("L"), np.float64)
        planes = [grey, np.full_like(grey, 128.0), np.full_like(grey, 128.0)]
    else:
        ycc = np.asarray(im.convert("RGB").convert("YCbCr"), np.float64)
        planes = [ycc[..., c] for c in range(3)]
    h, w = planes[0].shape
    ys, xs = np.arange(h), np.arange(w)

    def frequencies(pixels):
        return np.array([[np.sum(pixels * np.cos(np.pi * u * (2 * ys[:, None] + 1) / (2 * h))
                                 * np.cos(np.pi * v * (2 * xs[None, :] + 1) / (2 * w))) / (h * w)
                          for v in range(8)] for u in range(8)])

    every = [frequencies(p) for p in planes]
    contrast = [np.abs(g.ravel()[1:]).max() for g in every]
    hashed = 0 if contrast[0] >= 0.5 else (1 if contrast[1] >= contrast[2] else 2)
    if contrast[hashed] < 0.5:
        return 0, b""
    f = np.round(every[hashed], 6)  # as prep rounds them: noise around zero is zero
    threshold = np.median(f) + 0.05 * np.sqrt(np.mean(f.ravel()[1:] ** 2))
    by_frequency = sorted(((u + v, 8 * u + v) for u in range(8) for v in range(8)))
    low, high = [k for _, k in by_frequency[:32]], [k for _, k in by_frequency[32:]]
    bits = 0
    for band in (3, 2, 1, 0):  # band 3 holds the top 16 bits
        order = 3 - band
        for k in [low[4 * i + order] for i in range(8)] + [high[4 * i + order] for i in range(8)]:
            bits = bits << 1 | int(f[k // 8, k % 8] > threshold)
    scale = [1] + [2] * 7
    grids = [[[min(255.0, max(0.0, sum(g[u, v] * scale[u] * scale[v] * np.cos(np.pi * (2 * i + 1) * u / 16)
                                        * np.cos(np.pi * (2 * j + 1) * v / 16) for u in range(8) for v in range(8))))
               for j in range(8)] for i in range(8)] for g in every]
    picture = [value for row in grids[0] for value in row]
    for grid in grids[1:]:  # chroma: the means of 2x2 cells, 4x4
        picture += [sum(grid[2 * i + di][2 * j + dj] for di in (0, 1) for dj in (0, 1)) / 4 for i in range(4) for j in range(4)]
    return bits, bytes(round(value) for value in picture)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "LA", "I", "F"])
@pytest.mark.parametrize("size", [(15, 40), (16, 16), (9, 8), (80, 60), (333, 211), (640, 480)])
def test_fingerprint_is_the_reference_perceptual_hash(mode: str, size: tuple[int, int]) -> None:
    from prep.images.imaging import fingerprint

    rng = np.random.default_rng(sum(size) + len(mode))
    for i in range(7):
        coarse = rng.integers(0, 256, (max(1, size[1] // 8), max(1, size[0] // 8), 3), dtype=np.uint8)
        if i == 0:
            coarse[:] = 100  # flat: no fingerprint
        elif i == 1:
            coarse = (coarse // 128 + 120).astype(np.uint8)  # nearly flat: 120 or 121
        elif i == 2:  # the same luma everywhere, the colour changing: hashed by its chroma
            red = rng.integers(60, 200, coarse.shape[:2])
            coarse[..., 0], coarse[..., 2] = red, 128
            coarse[..., 1] = np.rint((120 - 0.299 * red - 0.114 * 128) / 0.587)
        im = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
        im = im.convert(mode) if mode not in ("P", "I", "F") else (
            im.quantize(16) if mode == "P" else im.convert("L").convert(mode))
        value, thumbnail = fingerprint(im)
        reference = _reference_fingerprint(im)
        assert value == reference[0]
        assert np.abs(np.frombuffer(thumbnail, np.uint8).astype(int) - np.frombuffer(reference[1], np.uint8)).max(
            initial=0) <= 1, "the same 8x8 pictures, up to rounding"
        assert fingerprint(im, (640, 480))[0] == _reference_fingerprint(im, (640, 480))[0]
        assert fingerprint(im, (8, 480)) == (0, b"")
        if i < 2 or min(size) < 16:
            assert value == 0 and thumbnail == b""
        elif i > 2 or mode not in ("L", "LA", "I", "F"):  # a grey flat luma is flat or nearly: as the reference says
            assert value and len(thumbnail) == 96


def test_an_image_of_flat_luma_is_hashed_by_its_colour() -> None:
    from prep.images.imaging import fingerprint

    x = np.linspace(0, 1, 96)[None, :, None]
    red_to_green = (np.array([200, 0, 0]) * (1 - x) + np.array([0, 102, 0]) * x).repeat(64, 0)  # luma ~60 throughout
    im = Image.fromarray(red_to_green.astype(np.uint8))
    assert np.ptp(np.asarray(im.convert("L"))) < 8, "the test's premise: a flat luma"
    value, picture = fingerprint(im)
    assert value == _reference_fingerprint(im)[0] and value
    blue_to_yellow = Image.fromarray((np.array([0, 0, 255]) * (1 - x) + np.array([100, 100, 0]) * x).repeat(64, 0).astype(np.uint8))
    assert fingerprint(blue_to_yellow)[1][64:] != picture[64:], "their chroma pictures differ"


def test_unknown_reason_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="REASONS"):
        ImageRejected("broken", "no such reason")


def test_importing_the_module_does_not_import_pillow() -> None:
    code = "import sys, prep.images.imaging; sys.exit('PIL' in sys.modules)"
    repo = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=repo).returncode == 0


def test_fingerprints_of_many_images_at_once_are_each_ones_own() -> None:
    """prep images hashes converted images in batches (several shapes, grey and colour, flat and too
    small ones among them): each gets what fingerprint() gives it alone."""
    from prep.images.fingerprint import fingerprint, fingerprints, reduced

    rng = np.random.default_rng(5)
    images = []
    for i in range(24):
        size = [(64, 48), (80, 60), (100, 37), (12, 40)][i % 4]
        coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        if i % 7 == 3:
            coarse[:] = 90  # flat
        im = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
        images.append(im.convert("L") if i % 3 == 0 else im)
    alone = [fingerprint(im) for im in images]
    assert fingerprints([reduced(im) for im in images]) == alone
    assert sum(1 for value, _ in alone if value) >= 12 and (0, b"") in alone
