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
  8 of the 32 lowest frequencies in its high byte, which copies rarely flip, and 8 of the highest in
  its low byte, where the search also compares values up to two bits apart.
- The picture is the 8x8 image those frequencies describe, in luma and in both chroma planes
  (YCbCr, 192 bytes): grey hashes cannot tell a red ramp from a blue one of the same luma. A kept
  JPEG's validation decodes it at 1/8 scale in YCbCr, which costs what a grey decode does.
- A picture whose luma is flat (range under MIN_FINGERPRINT_RANGE) but whose colour is not is hashed
  from its most varied chroma plane.

Pure numpy on a small image; Pillow and numpy are imported lazily (prep --help stays instant).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

MIN_FINGERPRINT_SIDE = 16  # pixels: thumbnails of smaller images all look alike
MIN_FINGERPRINT_RANGE = 8  # levels between the darkest and brightest pixel of the reduced image's plane
FINGERPRINT_REDUCE_TO = 32  # pixels: larger images are box-reduced to 32-63 px a side before the DCT
DEAD_ZONE = 0.05  # of the frequencies' root mean square: a bit is set only this far above their median
PLANES = 3  # the picture's planes: Y, Cb, Cr, 8x8 each


def _band_order() -> tuple[int, ...]:
    """The frequency (8u + v) of each hash bit, bit 63 first: band b (bits 16b..16b+15) takes every
    fourth of the 32 lowest frequencies (by u + v) into its high byte and of the 32 highest into its
    low byte."""
    by_frequency = sorted(range(64), key=lambda k: (k // 8 + k % 8, k))
    low, high = by_frequency[:32], by_frequency[32:]
    return tuple(k for band in range(4) for k in low[band::4] + high[band::4])


BAND_ORDER = _band_order()


@functools.lru_cache(maxsize=1)
def _band_index():
    """BAND_ORDER as a numpy index."""
    import numpy as np

    return np.array(BAND_ORDER)


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


def _planes(im: Image.Image):
    """An L or YCbCr image as a (3, height * width) uint8 array of Y, Cb, Cr (chroma 128 for grey)."""
    import numpy as np

    pixels = np.frombuffer(im.tobytes(), np.uint8)
    if im.mode == "L":
        planes = np.full((PLANES, pixels.size), 128, np.uint8)
        planes[0] = pixels
        return planes
    return pixels.reshape(-1, PLANES).T.copy()  # contiguous planes: numpy reduces them 50x faster


def fingerprint(im: Image.Image, size: tuple[int, int] | None = None) -> tuple[int, bytes]:
    """The 64-bit hash and the 8x8 YCbCr picture (192 bytes: Y, then Cb, then Cr, row by row) of an
    image (module docstring). For a kept JPEG they are taken from the 1/8-scale decode that validation
    made anyway (`size` is then the image's true size), so they cost next to nothing.

    (0, b"") means "no fingerprint", never compared for near copies: images under 16 pixels on a side
    and flat images, whose hashes are all alike and would make every pair a near copy."""
    import numpy as np

    if min(size or im.size) < MIN_FINGERPRINT_SIDE:
        return 0, b""
    if im.mode == "P":
        im = im.convert("RGBA")  # Pillow wants palette transparency resolved before converting
    factor = min(im.size) // FINGERPRINT_REDUCE_TO
    if factor > 1:
        im = im.reduce(factor)  # box-average first: a DCT of the whole image costs more than the decode
    im = _ycbcr(im)
    planes = _planes(im)
    ranges = (planes.max(1) - planes.min(1)).tolist()
    # the luma, or where it is flat, the more varied chroma plane (the first of equals)
    hashed = 0 if ranges[0] >= MIN_FINGERPRINT_RANGE else (1 if ranges[1] >= ranges[2] else 2)
    if ranges[hashed] < MIN_FINGERPRINT_RANGE:
        return 0, b""
    pixels = planes.reshape(PLANES, im.height, im.width).astype(np.float64)
    frequencies = _dct_rows(im.height) @ pixels @ _dct_rows(im.width).T / (im.height * im.width)
    # rounded, so that what is zero but for rounding noise (a picture with no vertical change has no
    # vertical frequencies) is zero on every machine and compares the same with the median
    flat = np.round(frequencies[hashed], 6).ravel()
    middle = np.partition(flat, (31, 32))
    dead_zone = DEAD_ZONE * np.sqrt(np.mean(flat[1:] ** 2))
    bits = flat > (middle[31] + middle[32]) / 2 + dead_zone
    # Bit 63 first: packbits puts the first of BAND_ORDER in the top bit of the first byte.
    value = int.from_bytes(np.packbits(bits[_band_index()]).tobytes(), "big")
    rows = _lowpass_rows()
    picture = np.clip(np.rint(rows @ frequencies @ rows.T), 0, 255).astype(np.uint8).tobytes()
    return value, picture
