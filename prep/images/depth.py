"""Images deeper than 8 bits (16-bit grey in every byte order, 32-bit integer grey, float grey) to 8 bits.

What `--high-bit-depth` chooses (`ImageOptions.high_bit_depth`):

- `shift` (the default): keep the high byte, x >> 8, so 65535 -> 255: the rule of TensorFlow's
  uint16 -> uint8 conversion, right for images that use the whole 16-bit range (photographs,
  scans). 32-bit integers are shifted the same way and clipped to 0..255. Float pixels have no fixed
  range and are rejected as `unsupported_mode`.
- `stretch`: map each image's own darkest..brightest value to 0..255 (rounded), for the 10- to 12-bit
  data of microscopy, medical and satellite imaging, which `shift` turns almost black (values 291-694
  shift to 1-2). A flat image becomes 0. Float pixels are stretched too; NaN or infinite ones are
  rejected.

Pillow opens these modes as `I;16`, `I;16L`, `I;16B`, `I;16N`, `I` and `F`; its `point` and `convert`
do not support all of them (`I;16B` has no `point`), so the pixels go through numpy, read in the
byte order the mode says. numpy is imported only here, when such an image is met.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

POLICIES = ("shift", "stretch")
HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


class DepthRejected(ValueError):
    """Pixels that cannot be brought to 8 bits under the chosen policy (why, in one sentence)."""


def to_eight_bits(im: Image.Image, policy: str) -> Image.Image:
    """A mode-L copy of a high-depth grey image (a mode of HIGH_DEPTH_MODES), by `policy`."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(im)
    if policy == "shift":
        if im.mode == "F":
            raise DepthRejected("float (F) pixels have no fixed 8-bit range (--high-bit-depth stretch maps "
                                "each image's own range to 0-255)")
        out = np.clip(pixels.astype(np.int64) >> 8, 0, 255)
    elif policy == "stretch":
        values = pixels.astype(np.float64)
        if not np.isfinite(values).all():
            raise DepthRejected("some float pixels are NaN or infinite")
        low, high = values.min(), values.max()
        out = np.zeros(values.shape) if high == low else np.rint((values - low) * (255 / (high - low)))
    else:
        raise ValueError(f"unknown high-bit-depth policy {policy!r}: one of {', '.join(POLICIES)}")
    return Image.fromarray(out.astype(np.uint8))  # 2-D uint8: mode L
