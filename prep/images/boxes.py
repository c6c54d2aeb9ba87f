"""Object boxes, kept in step with the pixels: from an annotation's pixel coordinates to the [0, 1]
coordinates of the image as stored in the record.

Pure arithmetic, unit-tested without Beam. The steps, in the order the pixels go through them
(prep.images.imaging):

1. The annotation's frame. Annotation tools show a photo as it is displayed, its EXIF orientation
   applied, so boxes are taken to be in that upright frame. Only when the size the annotation
   claims is the stored (not upright) size of a photo turned by 90 degrees are its boxes in the
   stored frame, and they are turned with the pixels (`orient`). A claimed size that is neither,
   with the same aspect ratio within 1%, was an annotation of a scaled copy: its boxes scale with
   it (they are normalised by the claimed size). Any other size is a mismatch and the image is
   rejected (`size_mismatch`), because no box on it can be trusted.
2. Normalise by the annotation's size, clip to the image (counted as `clipped`), and drop boxes of
   zero or negative size (`degenerate`) or wholly outside the image (`outside`).
3. The resize: stretch keeps normalised coordinates; pad (letterbox) scales and shifts them into the
   inner picture; crop keeps the centred window, clipping boxes that cross its edge and dropping
   those left outside (`cropped_out`).

A box is (xmin, ymin, xmax, ymax); its area is in pixels of the stored image.
"""

from __future__ import annotations

from typing import NamedTuple

# Why a box is left out, or changed, for stats.json's box counts.
BOX_FATES = {
    "clipped": "the box reached outside the image and was clipped to it",
    "degenerate": "the box has zero or negative width or height",
    "outside": "the box lies wholly outside the image",
    "cropped_out": "--resize-mode crop cut the box away",
    "cropped": "--resize-mode crop cut part of the box away",
    "unknown_class": "the box names a category that the annotation file does not define",
    "empty_mask": "--masks: the object has no polygon or RLE that can be drawn, so its mask is empty",
}
ASPECT_TOLERANCE = 0.01  # a claimed size of the same aspect ratio within 1%: a scaled copy


class Box(NamedTuple):
    """One object: its box, class name, and the attributes detection datasets carry."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float
    label: str
    area: float | None = None  # pixels, as the annotation gives it (COCO: of the segmentation); None: the box's
    is_crowd: bool = False
    difficult: bool = False
    truncated: bool = False
    segmentation: object = None  # COCO's polygons or RLE, as the annotation gives them (--coco --masks)


# Where the stored-frame point (x, y), normalised, lands in the upright frame, per EXIF orientation:
# the inverse of what the orientation says was done to the pixels (PIL's transposes in imaging.upright).
_ORIENT = {
    1: lambda x, y: (x, y),
    2: lambda x, y: (1 - x, y),
    3: lambda x, y: (1 - x, 1 - y),
    4: lambda x, y: (x, 1 - y),
    5: lambda x, y: (y, x),
    6: lambda x, y: (1 - y, x),
    7: lambda x, y: (1 - y, 1 - x),
    8: lambda x, y: (y, 1 - x),
}


def upright_size(stored: tuple[int, int], orientation: int) -> tuple[int, int]:
    """(width, height) in pixels of a stored image once its EXIF orientation is applied."""
    return (stored[1], stored[0]) if orientation >= 5 else stored


def orient(box: tuple[float, float, float, float], orientation: int) -> tuple[float, float, float, float]:
    """A normalised box of the stored frame, in the upright frame."""
    turn = _ORIENT[orientation]
    x1, y1 = turn(box[0], box[1])
    x2, y2 = turn(box[2], box[3])
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def annotation_frame(claimed: tuple[int, int] | None, stored: tuple[int, int], orientation: int) -> str | None:
    """How an annotation's boxes relate to the image: "upright" (or a scaled copy of it), "stored"
    (boxes drawn on the unturned pixels of a photo turned by 90 degrees), or None when the claimed
    size fits neither."""
    upright = upright_size(stored, orientation)
    if claimed is None or tuple(claimed) == upright:
        return "upright"
    if tuple(claimed) == tuple(stored):
        return "stored"
    ratio = (claimed[0] / claimed[1]) / (upright[0] / upright[1]) if claimed[1] and upright[1] else 0
    return "upright" if abs(ratio - 1) <= ASPECT_TOLERANCE else None


def crop_window(size: tuple[int, int], target: tuple[int, int]) -> tuple[float, float, float, float]:
    """The normalised window of an upright image of `size` (width, height) that --resize-mode crop
    keeps for `target`: the centred window of the target's aspect ratio (PIL.ImageOps.fit)."""
    width, height = size
    live, wanted = width / height, target[0] / target[1]
    if live == wanted:
        return 0.0, 0.0, 1.0, 1.0
    if live > wanted:
        crop = wanted * height / width
        return (1 - crop) / 2, 0.0, (1 + crop) / 2, 1.0
    crop = (width / wanted) / height
    return 0.0, (1 - crop) / 2, 1.0, (1 + crop) / 2


def pad_placement(size: tuple[int, int], target: tuple[int, int]) -> tuple[int, int, int, int]:
    """(left, top, width, height) in whole pixels of the picture of an upright image of `size` (width,
    height) that --resize-mode pad letterboxes into `target`: scaled to fit, rounded, centred. The one
    geometry of the pixels (imaging), their boxes and their masks (prep.images.masks)."""
    width, height = target
    scale = min(width / size[0], height / size[1])
    # at least 1 pixel: a 1x1000 strip padded into 10x10 still shows something
    inner = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
    return (width - inner[0]) // 2, (height - inner[1]) // 2, inner[0], inner[1]


def pad_window(size: tuple[int, int], target: tuple[int, int]) -> tuple[float, float, float, float]:
    """Where the picture lands, normalised, in the frame --resize-mode pad letterboxes it into."""
    width, height = target
    left, top, inner_width, inner_height = pad_placement(size, target)
    return left / width, top / height, (left + inner_width) / width, (top + inner_height) / height


def place(boxes: list[Box], claimed: tuple[int, int] | None, stored: tuple[int, int], orientation: int,
          resize: tuple[int, int] | None, resize_mode: str, out_size: tuple[int, int]) -> tuple[list[Box], dict[str, int]] | None:
    """The boxes of one image (pixels of the annotated frame) as normalised boxes of the image as
    stored in the record (`out_size`: its width, height), and how many boxes met each fate of
    BOX_FATES; None when the claimed size fits the image in no frame (`size_mismatch`)."""
    frame = annotation_frame(claimed, stored, orientation)
    if frame is None:
        return None
    upright = upright_size(stored, orientation)
    scale = tuple(claimed) if claimed else upright
    fates: dict[str, int] = {}

    def count(fate: str) -> None:
        fates[fate] = fates.get(fate, 0) + 1

    window = None
    if resize is not None and resize_mode == "crop":
        window = crop_window(upright, resize)
    elif resize is not None and resize_mode == "pad":
        window = pad_window(upright, resize)
    placed = []
    for box in boxes:
        x1, y1, x2, y2 = box.xmin / scale[0], box.ymin / scale[1], box.xmax / scale[0], box.ymax / scale[1]
        if not (x2 > x1 and y2 > y1):
            count("degenerate")
            continue
        if x2 <= 0 or y2 <= 0 or x1 >= 1 or y1 >= 1:
            count("outside")
            continue
        if x1 < 0 or y1 < 0 or x2 > 1 or y2 > 1:
            count("clipped")
            x1, y1, x2, y2 = max(x1, 0.0), max(y1, 0.0), min(x2, 1.0), min(y2, 1.0)
        before = (x2 - x1) * (y2 - y1)
        if frame == "stored" and orientation != 1:
            x1, y1, x2, y2 = orient((x1, y1, x2, y2), orientation)
        if window is not None and resize_mode == "crop":
            left, top, right, bottom = window
            w, h = right - left, bottom - top
            cx1, cy1 = max((x1 - left) / w, 0.0), max((y1 - top) / h, 0.0)
            cx2, cy2 = min((x2 - left) / w, 1.0), min((y2 - top) / h, 1.0)
            if not (cx2 > cx1 and cy2 > cy1):
                count("cropped_out")
                continue
            if (cx1, cy1, cx2, cy2) != ((x1 - left) / w, (y1 - top) / h, (x2 - left) / w, (y2 - top) / h):
                count("cropped")
            x1, y1, x2, y2 = cx1, cy1, cx2, cy2
        elif window is not None:
            left, top, right, bottom = window
            w, h = right - left, bottom - top
            x1, y1, x2, y2 = left + x1 * w, top + y1 * h, left + x2 * w, top + y2 * h
        pixels = (x2 - x1) * (y2 - y1) * out_size[0] * out_size[1]
        # The annotation's own area (a segmentation's) scales as the box's area in pixels does.
        area = pixels if box.area is None else box.area * pixels / (before * scale[0] * scale[1])
        placed.append(box._replace(xmin=x1, ymin=y1, xmax=x2, ymax=y2, area=area))
    return placed, fates
