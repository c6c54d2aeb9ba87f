"""prep.images.boxes: boxes follow the pixels through EXIF orientation, scaled annotations and every
resize mode, checked against where a red rectangle drawn in the photo really lands after
prep.images.imaging normalises it."""

from __future__ import annotations

import io

import numpy as np
import pytest

from prep.images import boxes
from prep.images.boxes import Box
from prep.images.imaging import ImageOptions, normalise_image

RED = (x0, y0, x1, y1) = (10, 6, 30, 16)  # the rectangle, in pixels of the upright 48x32 photo


def _photo(orientation: int) -> bytes:
    """A 48x32 (upright) JPEG with a red rectangle at RED, stored turned so that its EXIF
    `orientation` puts it upright again."""
    from PIL import Image

    upright = Image.new("RGB", (48, 32), (0, 90, 0))
    upright.paste((255, 0, 0), RED)
    # what the camera stored: the inverse of the transpose that _upright applies for `orientation`
    inverse = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
               7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}[orientation]
    stored = upright.transpose(inverse) if inverse is not None else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def _red_box(data: bytes) -> tuple[float, float, float, float]:
    """The normalised box of the red pixels of an encoded image."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    red = (pixels[..., 0] > 160) & (pixels[..., 1] < 90)
    ys, xs = np.nonzero(red)
    height, width = red.shape
    return xs.min() / width, ys.min() / height, (xs.max() + 1) / width, (ys.max() + 1) / height


def _place(data: bytes, box: Box, claimed, options: ImageOptions):
    image = normalise_image(data, options)
    placed, fates = boxes.place([box], claimed, image.stored_size, image.orientation, options.resize,
                                options.resize_mode, (image.width, image.height))
    return image, placed, fates


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("resize, mode", [(None, "stretch"), ((24, 24), "stretch"), ((24, 24), "pad"), ((20, 30), "crop")])
def test_boxes_drawn_on_the_upright_photo_land_on_the_same_pixels(orientation, resize, mode):
    options = ImageOptions(resize=resize, resize_mode=mode)
    image, placed, fates = _place(_photo(orientation), Box(*RED, "red"), (48, 32), options)
    assert len(placed) == 1
    box = placed[0]
    assert np.allclose((box.xmin, box.ymin, box.xmax, box.ymax), _red_box(image.data), atol=0.07), (box, _red_box(image.data))


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_boxes_drawn_on_the_stored_pixels_of_a_turned_photo_turn_with_them(orientation):
    """A tool that ignores EXIF annotates the stored 32x48 pixels; the size it claims says so."""
    inverse = {5: 5, 6: 8, 7: 7, 8: 6}[orientation]  # orient's map, upright -> stored
    x1, y1, x2, y2 = boxes.orient((RED[0] / 48, RED[1] / 32, RED[2] / 48, RED[3] / 32), inverse)
    image, placed, _ = _place(_photo(orientation), Box(x1 * 32, y1 * 48, x2 * 32, y2 * 48, "red"), (32, 48), ImageOptions())
    box = placed[0]
    assert np.allclose((box.xmin, box.ymin, box.xmax, box.ymax), _red_box(image.data), atol=0.05)


def test_an_annotation_of_a_scaled_copy_scales_and_another_size_is_a_mismatch():
    data = _photo(1)
    image, placed, _ = _place(data, Box(20, 12, 60, 32, "red"), (96, 64), ImageOptions())
    assert np.allclose(tuple(placed[0][:4]), _red_box(image.data), atol=0.05)
    image = normalise_image(data, ImageOptions())
    assert boxes.place([Box(1, 1, 2, 2, "x")], (50, 50), image.stored_size, 1, None, "stretch", (48, 32)) is None


def test_bad_boxes_are_clipped_or_dropped_and_counted():
    given = [Box(-4, 2, 10, 10, "clip"), Box(5, 5, 5, 9, "flat"), Box(8, 9, 3, 12, "backwards"),
             Box(50, 1, 60, 5, "outside"), Box(2, 2, 4, 4, "fine", area=3.0)]
    placed, fates = boxes.place(given, (48, 32), (48, 32), 1, None, "stretch", (48, 32))
    assert [b.label for b in placed] == ["clip", "fine"]
    assert fates == {"clipped": 1, "degenerate": 2, "outside": 1}
    assert placed[0].xmin == 0.0 and placed[0].area == pytest.approx(10 * 8)
    assert placed[1].area == pytest.approx(3.0)  # the annotation's own area, the image unscaled


def test_a_crop_clips_or_drops_boxes_at_its_edges_and_areas_follow_the_pixels():
    given = [Box(0, 0, 6, 32, "left edge"), Box(4, 0, 20, 32, "across"), Box(18, 10, 30, 20, "inside")]
    placed, fates = boxes.place(given, (48, 32), (48, 32), 1, (32, 32), "crop", (32, 32))
    assert [b.label for b in placed] == ["across", "inside"] and fates == {"cropped_out": 1, "cropped": 1}
    inside = placed[1]
    assert (inside.xmin, inside.xmax) == pytest.approx(((18 - 8) / 32, (30 - 8) / 32))
    assert inside.area == pytest.approx(12 * 10 * (32 / 32) ** 2)
    padded, _ = boxes.place([Box(0, 0, 48, 32, "all")], (48, 32), (48, 32), 1, (48, 48), "pad", (48, 48))
    assert tuple(padded[0][:4]) == pytest.approx((0, 8 / 48, 1, 40 / 48))
