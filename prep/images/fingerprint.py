"""An image's perceptual fingerprint, for near-copy detection (prep.core.duplicates): a 64-bit hash
that re-encoding, resizing, recompressing, a small crop or a brightness change moves by a few bits,
and the small colour picture the second check of a near pair compares.

Chosen by measurement (bench/duplicates.py, figures in bench/RESULTS.md):

- The hash is a pHash taken straight from the box-reduced image (32-63 px a side, no 32x32 resize):
  the 8x8 lowest frequencies of its luma's discrete cosine transform, one bit each, set when the
  frequency is above their median by more than a dead zone of DEAD_ZONE times their root mean square.
  Without the dead zone a smooth picture (a gradient, a sky) has dozens of frequencies that are zero
  but for noise, whose bits any re-encoding flips: its copies were found a third of the time.
- The bits are stored in BAND_ORDER: each 16-bit band of the hash (the keys of the band search) has
  8 of the 32 lowest frequencies in its high byte (a bucket key below a million images), which copies
  rarely flip, and 8 of the highest in its low byte.
- The picture is the 8x8 image those frequencies describe in luma, and at 4x4 (its 2x2 means) in both
  chroma planes (YCbCr, 96 bytes): grey hashes cannot tell a red ramp from a blue one of the same luma. A kept
  JPEG's validation decodes it at 1/8 scale in YCbCr, about 57 µs more than in grey (libjpeg then
  needs the chroma's AC coefficients).
- A picture whose luma is flat (its low frequencies all under MIN_FINGERPRINT_CONTRAST) but whose
  colour is not is hashed from its chroma plane of more contrast.

Pure numpy on small images, many at a time (`fingerprints`: a numpy call costs more than the
arithmetic on 64 numbers); Pillow and numpy are imported lazily (prep --help stays instant).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, NamedTuple, Sequence

if TYPE_CHECKING:
    from PIL import Image

MIN_FINGERPRINT_SIDE = 16  # pixels: thumbnails of smaller images all look alike
MIN_FINGERPRINT_CONTRAST = 0.5  # levels: a plane whose low frequencies (all but the mean) are all smaller is flat
FINGERPRINT_REDUCE_TO = 32  # pixels: larger images are box-reduced to 32-63 px a side before the DCT
DEAD_ZONE = 0.05  # of the frequencies' root mean square: a bit is set only this far above their median
PLANES = 3  # the picture's planes: Y (8x8), Cb and Cr (4x4 each)


def _band_order() -> tuple[int, ...]:
    """The frequency (8u + v) of each hash bit, bit 63 first: band b (bits 16b..16b+15) takes every
    fourth of the 32 lowest frequencies (by u + v) into its high byte and of the 32 highest into its
    low byte."""
    by_frequency = sorted(range(64), key=lambda k: (k // 8 + k % 8, k))
    low, high = by_frequency[:32], by_frequency[32:]
    return tuple(k for band in range(4) for k in low[band::4] + high[band::4])


BAND_ORDER = _band_order()


@functools.lru_cache(maxsize=64)
def _dct_rows(n: int):
    """The 8 lowest-frequency DCT-II basis functions sampled at n points (an 8 x n matrix)."""
    import numpy as np

    return np.cos(np.pi * np.outer(np.arange(8), 2 * np.arange(n) + 1) / (2 * n))


@functools.lru_cache(maxsize=1)
def _lowpass_rows():
    """The inverse of the 8 lowest DCT frequencies on an 8-point grid (8 x 8)."""
    import numpy as np

    return np.cos(np.pi * np.outer(2 * np.arange(8) + 1, np.arange(8)) / 16) * np.r_[1, [2] * 7]


def _ycbcr(im: Image.Image) -> Image.Image:
    """The reduced image in L (grey sources) or YCbCr."""
    if im.mode in ("L", "YCbCr"):
        return im
    if im.mode == "RGB":
        return im.convert("YCbCr")
    if im.mode in ("LA", "I", "F", "I;16", "I;16B", "I;16L", "I;16N", "1"):
        return im.convert("L")
    return im.convert("RGB").convert("YCbCr")  # RGBA, CMYK, P (transparency resolved before), PA, ...


@functools.lru_cache(maxsize=256)
def _dct_matrices(height: int, width: int):
    """(8 x height) and (width x 8): the 8 lowest DCT-II frequencies of a height x width plane are
    left @ plane @ right (the mean over its pixels, so on the scale of its levels)."""
    return _dct_rows(height) / (height * width), _dct_rows(width).T.copy()


class Reduced(NamedTuple):
    """An image box-reduced to 32-63 px a side, in L or YCbCr: what `fingerprints` hashes."""

    height: int
    width: int
    channels: int  # 1 (L) or 3 (YCbCr)
    pixels: bytes


def reduced(im: Image.Image, size: tuple[int, int] | None = None) -> Reduced | None:
    """What `fingerprints` needs of an image (`size`: its true size, where `im` is a reduced decode of
    it); None for an image under MIN_FINGERPRINT_SIDE pixels on a side."""
    if min(size or im.size) < MIN_FINGERPRINT_SIDE:
        return None
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA")  # Pillow wants palette transparency resolved before converting
    elif im.mode == "1":
        im = im.convert("L")  # a kept 1-bit PNG: Pillow reduces no 1-bit image
    factor = min(im.size) // FINGERPRINT_REDUCE_TO
    if factor > 1:
        im = im.reduce(factor)  # box-average first: a DCT of the whole image costs more than the decode
    im = _ycbcr(im)
    return Reduced(im.height, im.width, 1 if im.mode == "L" else PLANES, im.tobytes())


def fingerprint(im: Image.Image, size: tuple[int, int] | None = None) -> tuple[int, bytes]:
    """The 64-bit hash and the YCbCr picture (96 bytes: Y 8x8, then Cb 4x4, then Cr 4x4, row by row) of an
    image (module docstring). For a kept JPEG they are taken from the 1/8-scale decode that validation
    made anyway (`size` is then the image's true size).

    (0, b"") means "no fingerprint", never compared for near copies: images under 16 pixels on a side
    and flat images (no frequency but the mean of MIN_FINGERPRINT_CONTRAST levels or more), whose hashes
    are all alike and would make every pair a near copy."""
    return fingerprints([reduced(im, size)])[0]


def fingerprints(images: Sequence[Reduced | None]) -> list[tuple[int, bytes]]:
    """`fingerprint` of many images at once: those of one shape share each numpy call, which on 64
    numbers costs more than the arithmetic (several microseconds each, right after a decode)."""
    found = [(0, b"")] * len(images)
    shapes: dict = {}
    for i, image in enumerate(images):
        if image is not None:
            shapes.setdefault(image[:3], []).append(i)
    for (height, width, channels), members in shapes.items():
        pixels = b"".join(images[i].pixels for i in members)
        for i, result in zip(members, _same_shape(height, width, channels, pixels)):
            found[i] = result
    return found


def _same_shape(height: int, width: int, channels: int, pixels: bytes) -> list[tuple[int, bytes]]:
    """The fingerprints of n images of one shape, their pixels one after another."""
    import numpy as np

    left, right = _dct_matrices(height, width)
    stacked = np.frombuffer(pixels, np.uint8).reshape(-1, height, width * channels)
    n = len(stacked)
    # (n, 8, width * channels) -> per channel (n, channels, 8, width) @ (width, 8)
    frequencies = (left @ stacked).reshape(n, 8, width, channels).transpose(0, 3, 1, 2) @ right
    if channels == 1:  # grey: chroma 128 everywhere, no frequency but the mean
        grey = np.zeros((n, 2, 8, 8))
        grey[:, :, 0, 0] = 128.0
        frequencies = np.concatenate((frequencies, grey), axis=1)
    planes = frequencies.reshape(n, PLANES, 64)
    contrast = np.abs(planes[:, :, 1:]).max(axis=2)
    # the luma, or where it is flat, the chroma plane of more contrast (the first of equals)
    hashed = np.where(contrast[:, 0] >= MIN_FINGERPRINT_CONTRAST, 0, np.where(contrast[:, 1] >= contrast[:, 2], 1, 2))
    every = np.arange(n)
    sound = contrast[every, hashed] >= MIN_FINGERPRINT_CONTRAST
    # rounded, so that what is zero but for rounding noise (a picture with no vertical change has no
    # vertical frequencies) is zero on every machine and compares the same with the median
    flat = np.round(planes[every, hashed], 6)
    middle = np.partition(flat, (31, 32), axis=1)
    threshold = (middle[:, 31] + middle[:, 32]) / 2 + DEAD_ZONE * np.sqrt(np.mean(flat[:, 1:] ** 2, axis=1))
    # Bit 63 first: packbits puts the first of BAND_ORDER in the top bit of the first byte.
    hashes = np.packbits(flat[:, list(BAND_ORDER)] > threshold[:, None], axis=1)
    rows = _lowpass_rows()
    pictures = np.clip(rows @ frequencies @ rows.T, 0, 255)
    chroma = pictures[:, 1:].reshape(n, 2, 4, 2, 4, 2).mean(axis=(3, 5)).reshape(n, 32)
    picture = np.rint(np.concatenate((pictures[:, 0].reshape(n, 64), chroma), axis=1)).astype(np.uint8)
    return [(int.from_bytes(hashes[k].tobytes(), "big"), picture[k].tobytes()) if sound[k] else (0, b"")
            for k in range(n)]
