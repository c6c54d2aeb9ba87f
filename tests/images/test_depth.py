"""16-bit, 32-bit and float images: every mode and byte order Pillow opens converts to 8 bits by the chosen
policy, or is rejected with a reason; and damaged files of every format end as a record or a rejection."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from prep.images import depth
from prep.images.imaging import ImageOptions, ImageRecord, ImageRejected, normalise_image

# The values of Pillow's own Tests/images/16bit.cropped.tif span 291-694: a 10-bit sensor's range.
TEN_BIT = np.array([[291, 400, 512], [600, 650, 694]])


def saved(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def sixteen_bit(values: np.ndarray, mode: str) -> Image.Image:
    """A 16-bit grey image of `mode` (I;16, I;16L, I;16B, I;16N) holding `values`."""
    order = {"I;16": "<", "I;16L": "<", "I;16B": ">", "I;16N": "="}[mode]
    height, width = values.shape
    return Image.frombytes(mode, (width, height), values.astype(order + "u2").tobytes())


@pytest.fixture(scope="module")
def decode():
    from prep.jobs.terminal import quiet_tensorflow

    tf = quiet_tensorflow()
    return lambda data, channels: tf.io.decode_image(data, channels=channels, expand_animations=False).numpy()


@pytest.mark.parametrize("mode", ["I;16", "I;16L", "I;16B", "I;16N"])
def test_every_byte_order_of_sixteen_bit_grey_reads_the_same_values(mode: str) -> None:
    out = depth.to_eight_bits(sixteen_bit(TEN_BIT, mode), "stretch")
    assert out.mode == "L"
    assert np.asarray(out).tolist() == [[0, 69, 140], [196, 227, 255]]  # round((v - 291) * 255 / 403)


@pytest.mark.parametrize("mode", ["I;16", "I;16L", "I;16B", "I;16N"])
def test_shift_keeps_the_high_byte_in_every_byte_order(mode: str) -> None:
    values = np.array([[0, 255, 256, 257, 32768, 65280, 65535]])
    assert np.asarray(depth.to_eight_bits(sixteen_bit(values, mode), "shift")).tolist() == [[0, 0, 1, 1, 128, 255, 255]]


def test_shift_turns_ten_bit_data_almost_black_and_stretch_uses_the_whole_range(decode) -> None:
    data = saved(sixteen_bit(TEN_BIT, "I;16B"), "TIFF")  # big-endian, as Pillow's 16bit.MM.*.tif
    shifted = decode(normalise_image(data, ImageOptions(channels=1)).data, 1)
    stretched = decode(normalise_image(data, ImageOptions(channels=1, high_bit_depth="stretch")).data, 1)
    assert shifted.max() == 2
    assert (stretched.min(), stretched.max()) == (0, 255)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("policy", depth.POLICIES)
@pytest.mark.parametrize("make", [
    lambda: saved(sixteen_bit(TEN_BIT, "I;16B"), "TIFF"),
    lambda: saved(sixteen_bit(TEN_BIT, "I;16"), "TIFF"),
    lambda: saved(sixteen_bit(TEN_BIT * 64, "I;16"), "PNG"),
    lambda: saved(Image.fromarray(np.array([[-5, 0, 70000], [1, 2, 3]], np.int32)), "TIFF"),
], ids=["tiff-16-big-endian", "tiff-16-little-endian", "png-16", "tiff-32-signed"])
def test_integer_images_deeper_than_8_bits_convert_to_any_channels(make, policy, channels, decode) -> None:
    record = normalise_image(make(), ImageOptions(channels=channels, high_bit_depth=policy))
    assert decode(record.data, channels).shape == (2, 3, channels)


def test_thirty_two_bit_values_shift_and_clip_to_0_255() -> None:
    im = Image.fromarray(np.array([[-5, 0, 300, 70000]], np.int32))
    assert np.asarray(depth.to_eight_bits(im, "shift")).tolist() == [[0, 0, 1, 255]]


def test_float_pixels_are_rejected_by_shift_and_stretched_by_stretch(decode) -> None:
    data = saved(Image.fromarray(np.array([[0.5, 2.0], [-1.0, 3.0]], np.float32)), "TIFF")
    with pytest.raises(ImageRejected) as rejected:
        normalise_image(data, ImageOptions(channels=1))
    assert rejected.value.reason == "unsupported_mode"
    assert "--high-bit-depth stretch" in rejected.value.detail
    pixels = decode(normalise_image(data, ImageOptions(channels=1, high_bit_depth="stretch")).data, 1)
    assert pixels[..., 0].tolist() == [[96, 191], [0, 255]]


def test_non_finite_floats_are_rejected_with_a_reason() -> None:
    data = saved(Image.fromarray(np.array([[0.5, np.nan]], np.float32)), "TIFF")
    with pytest.raises(ImageRejected, match="NaN or infinite"):
        normalise_image(data, ImageOptions(channels=1, high_bit_depth="stretch"))


def test_a_flat_deep_image_stretches_to_black() -> None:
    assert np.asarray(depth.to_eight_bits(sixteen_bit(np.full((2, 2), 700), "I;16"), "stretch")).max() == 0


def test_an_unknown_policy_names_the_flag() -> None:
    with pytest.raises(ValueError, match="--high-bit-depth"):
        ImageOptions(high_bit_depth="squash")


# --- damaged files of every format: a record or a rejection, never another exception -------------------

def _formats() -> dict[str, bytes]:
    rng = np.random.default_rng(7)
    rgb = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    deep = sixteen_bit(rng.integers(0, 4096, (24, 32)), "I;16B")
    return {
        "jpeg": saved(rgb, "JPEG", quality=90),
        "jpeg-progressive": saved(rgb, "JPEG", progressive=True),
        "png": saved(rgb, "PNG"),
        "png-16": saved(sixteen_bit(rng.integers(0, 65535, (24, 32)), "I;16"), "PNG"),
        "gif": saved(rgb.convert("P"), "GIF"),
        "bmp": saved(rgb, "BMP"),
        "tiff": saved(rgb, "TIFF"),
        "tiff-deflate": saved(rgb, "TIFF", compression="tiff_adobe_deflate"),
        "tiff-16-big-endian": saved(deep, "TIFF"),
        "tiff-16-little-endian": saved(sixteen_bit(rng.integers(0, 4096, (24, 32)), "I;16"), "TIFF"),
        "tiff-float": saved(Image.fromarray(rng.random((24, 32), dtype=np.float32)), "TIFF"),
        "webp": saved(rgb, "WEBP", quality=80),
        "webp-lossless": saved(rgb, "WEBP", lossless=True),
    }


FORMATS = _formats()
EDITS = st.lists(
    st.one_of(
        st.tuples(st.just("flip"), st.integers(0, 2**16), st.integers(0, 255)),
        st.tuples(st.just("cut"), st.integers(0, 2**16), st.just(0)),
        st.tuples(st.just("insert"), st.integers(0, 2**16), st.integers(0, 255)),
    ),
    min_size=1, max_size=6,
)


def mutated(data: bytes, edits) -> bytes:
    """`data` with bytes set, cut from a position on, or inserted (positions modulo the length)."""
    out = bytearray(data)
    for kind, position, value in edits:
        at = position % max(len(out), 1)
        if kind == "flip" and out:
            out[at] = value
        elif kind == "cut":
            del out[at:]
        else:
            out[at:at] = bytes([value]) * (1 + value % 16)
    return bytes(out)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(name=st.sampled_from(sorted(FORMATS)), channels=st.sampled_from([1, 3, 4]),
       policy=st.sampled_from(depth.POLICIES), resize=st.sampled_from([None, (16, 12)]), edits=EDITS)
def test_a_mutated_image_of_any_format_is_a_record_or_a_rejection(name, channels, policy, resize, edits) -> None:
    options = ImageOptions(channels=channels, high_bit_depth=policy, resize=resize)
    try:
        record = normalise_image(mutated(FORMATS[name], edits), options)
    except ImageRejected:
        return
    assert isinstance(record, ImageRecord) and record.channels == channels


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_unmutated_format_converts(name: str) -> None:
    options = ImageOptions(channels=1, high_bit_depth="stretch")
    assert normalise_image(FORMATS[name], options).height == 24
