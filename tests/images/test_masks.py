"""prep.images.masks: what a mask's values mean, and a mask placed on the very pixels its image is stored
as, through EXIF turns, JPEG's reduced decodes and every resize mode (the image's own pixels are the
check: a scene whose colours say each pixel's class)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from prep.images.imaging import ImageOptions, normalise_image
from prep.images.masks import MaskRejected, MaskSpec, class_ids, place_mask, read_classes

# The scene's colours and the class each paints; black is letterbox padding, whose mask is the ignore value.
COLOURS = {(0, 160, 0): 0, (255, 0, 0): 1, (0, 0, 255): 2, (0, 0, 0): 255}
TURNS = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def scene(size=(64, 48)) -> tuple[Image.Image, np.ndarray]:
    """An upright picture of a red and a blue rectangle on green, and its mask of class ids."""
    w, h = size
    mask = np.zeros((h, w), np.uint8)
    mask[h // 8: h // 2, w // 8: w // 2] = 1
    mask[h // 2: h - h // 8, w // 2: w - w // 10] = 2
    colours = {v: c for c, v in COLOURS.items()}
    return Image.fromarray(np.array([colours[v] for v in range(3)], np.uint8)[mask]), mask


def stored_jpeg(picture: Image.Image, orientation: int) -> bytes:
    """The picture as a camera stores it: turned so that its EXIF `orientation` makes it upright."""
    stored = picture.transpose(TURNS[orientation]) if TURNS[orientation] else picture
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def png(array: np.ndarray, mode: str | None = None, palette: bool = False) -> bytes:
    im = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    if palette:
        im = Image.fromarray(array, "L").convert("P")
        im.putpalette([c for i in range(256) for c in (i * 3 % 256, i * 7 % 256, i * 11 % 256)])
    buffer = io.BytesIO()
    im.save(buffer, "PNG")
    return buffer.getvalue()


def colour_classes(pixels: np.ndarray) -> np.ndarray:
    """Each pixel's class by its nearest scene colour."""
    colours = np.array(list(COLOURS), np.int32)
    distance = ((pixels[..., None, :].astype(np.int32) - colours) ** 2).sum(-1)
    return np.array(list(COLOURS.values()), np.int32)[distance.argmin(-1)]


def assert_on_its_pixels(image_bytes: bytes, mask_png: bytes) -> None:
    """Every pixel away from an edge of the mask has the class its colour says, and both classes show."""
    import tensorflow as tf

    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False).numpy()
    mask = tf.io.decode_png(mask_png, channels=1).numpy()[..., 0]
    assert image.shape[:2] == mask.shape
    # interior: the 5x5 neighbourhood holds one value (resampling blurs the pixels along an edge)
    padded = np.pad(mask, 2, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (5, 5))
    interior = (windows.min(axis=(-1, -2)) == windows.max(axis=(-1, -2)))
    assert interior.mean() > 0.4 and {1, 2} <= set(np.unique(mask[interior]))
    np.testing.assert_array_equal(colour_classes(image)[interior], mask[interior])


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize("resize", [None, ("stretch", (40, 40)), ("crop", (40, 40)), ("pad", (40, 40)), ("pad", (30, 70))])
def test_a_mask_lands_on_its_pixels_through_exif_turns_and_every_resize(orientation, resize):
    picture, mask = scene((240, 180))  # big enough that a JPEG is decoded at a reduced scale before resizing
    options = ImageOptions(resize=resize[1] if resize else None, resize_mode=resize[0] if resize else "stretch")
    image = normalise_image(stored_jpeg(picture, orientation), options)
    placed = place_mask(png(mask), image, options, MaskSpec("masks", ("background", "red", "blue")))
    assert_on_its_pixels(image.data, placed.data)
    counts = dict(placed.pixels)
    assert sum(counts.values()) == image.width * image.height
    assert (255 in counts) == (resize is not None and resize[0] == "pad")  # the letterbox is ignore


def test_a_mask_drawn_on_the_stored_pixels_of_a_turned_photo_turns_with_them():
    picture, mask = scene()
    options = ImageOptions()
    image = normalise_image(stored_jpeg(picture, 6), options)
    stored_mask = np.asarray(Image.fromarray(mask).transpose(TURNS[6]))  # 48x64: the stored frame
    assert_on_its_pixels(image.data, place_mask(png(stored_mask), image, options, MaskSpec("m")).data)


def test_a_scaled_copy_of_the_mask_is_scaled_and_another_size_is_a_mismatch():
    picture, mask = scene((64, 48))
    options = ImageOptions()
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    image = normalise_image(buffer.getvalue(), options)
    half = np.asarray(Image.fromarray(mask).resize((128, 96), Image.Resampling.NEAREST))
    assert_on_its_pixels(image.data, place_mask(png(half), image, options, MaskSpec("m")).data)
    with pytest.raises(MaskRejected) as e:
        place_mask(png(np.zeros((50, 50), np.uint8)), image, options, MaskSpec("m"))
    assert e.value.reason == "mask_size_mismatch" and "50x50" in e.value.detail and "64x48" in e.value.detail


def ids(im: Image.Image, spec: MaskSpec) -> np.ndarray:
    """The class ids class_ids reads, checked against the pixel counts it gives with them."""
    values, counts = class_ids(im, spec)
    values = np.asarray(values)
    assert counts == np.bincount(values.ravel(), minlength=256).tolist()
    return values


def test_what_a_masks_values_mean_in_each_mode():
    values = np.array([[0, 1, 2], [255, 1, 0]], np.uint8)
    spec = MaskSpec("m", ("a", "b", "c"))
    for data in (png(values), png(values, palette=True), png(np.stack([values] * 3, -1)),
                 png(values.astype(np.uint16))):
        with Image.open(io.BytesIO(data)) as im:
            np.testing.assert_array_equal(ids(im, spec), values)
    with Image.open(io.BytesIO(png(np.array([[True, False]]), "1"))) as im:
        np.testing.assert_array_equal(ids(im, MaskSpec("m")), [[1, 0]])
    with Image.open(io.BytesIO(png(np.array([[7, 255]], np.uint8)))) as im:
        with pytest.raises(MaskRejected, match=r"values 7 \(1 pixels\) are neither a class id \(0-2\) nor the ignore value 255"):
            class_ids(im, spec)
        assert ids(im, MaskSpec("m")).tolist() == [[7, 255]]  # no class list: every value is a class
    colour = np.array([[[10, 20, 30], [1, 2, 3]]], np.uint8)
    with Image.open(io.BytesIO(png(colour))) as im:
        with pytest.raises(MaskRejected, match="in colour: give each class's colour"):
            class_ids(im, spec)
        table = MaskSpec("m", ("sky", "road"), ((1, 2, 3), (10, 20, 30)))
        assert ids(im, table).tolist() == [[1, 0]]
        with pytest.raises(MaskRejected, match=r"colours \(10, 20, 30\) are no class's"):
            class_ids(im, MaskSpec("m", ("road",), ((1, 2, 3),)))


def test_a_mask_that_does_not_decode_is_unreadable():
    image = normalise_image(png(np.zeros((4, 4, 3), np.uint8)), ImageOptions())
    whole = png(np.zeros((4, 4), np.uint8))
    for data in (b"", b"not an image", whole[:-20]):
        with pytest.raises(MaskRejected) as e:
            place_mask(data, image, ImageOptions(), MaskSpec("m"))
        assert e.value.reason == "unreadable_mask"


def test_a_class_file_is_names_or_a_colour_table():
    assert read_classes("background\ncat\ndog\n") == (("background", "cat", "dog"), ())
    assert read_classes("name,r,g,b\nSky,128,128,128\nRoad,128,64,128\n") == (
        ("Sky", "Road"), ((128, 128, 128), (128, 64, 128)))
    for text, message in (("a\n\nb\n", "line 2 names no class"), ("", "names no class"),
                          ("name,r,g,b\nSky,300,0,0\n", "line 2: r, g and b"),
                          ("name,r,g,b\nSky,1,2,3\nSea,1,2,3\n", "line 3: colour \\(1, 2, 3\\) is already class 'Sky'"),
                          ("r,g,b\n1,2,3\n", "a name"), ("\n".join(map(str, range(256))), "at most 255")):
        with pytest.raises(ValueError, match=message):
            read_classes(text)
    with pytest.raises(ValueError, match="the ignore value 1 is the id of class 'b'"):
        MaskSpec("m", ("a", "b"), ignore=1)


def test_a_grey_mask_that_needs_no_change_is_stored_as_it_is_and_any_other_is_reencoded():
    import tensorflow as tf

    picture, mask = scene()
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    options = ImageOptions()
    image = normalise_image(buffer.getvalue(), options)
    grey, palette = png(mask), png(mask, palette=True)
    assert place_mask(grey, image, options, MaskSpec("m")).data == grey  # its own values are the class ids
    placed = place_mask(palette, image, options, MaskSpec("m"))  # TensorFlow would decode the palette's colours
    assert placed.data != palette
    np.testing.assert_array_equal(tf.io.decode_png(placed.data, channels=1).numpy()[..., 0], mask)
    assert dict(placed.pixels) == {v: int((mask == v).sum()) for v in (0, 1, 2)}
    coloured = MaskSpec("m", ("a", "b", "c"), ((2, 2, 2), (1, 1, 1), (0, 0, 0)))  # grey levels as colours: mapped
    mapped = place_mask(grey, image, options, coloured).data
    np.testing.assert_array_equal(tf.io.decode_png(mapped, channels=1).numpy()[..., 0], 2 - mask)
