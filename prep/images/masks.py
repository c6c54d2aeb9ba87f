"""Segmentation masks: one image of class ids per image, kept in step with its pixels from the file to
the record.

Where a mask is: the mask of `SRC/a/b.jpg` is `MASKS/a/b.<any image extension>` (`mask_key`).

What a mask holds (`class_ids`): a grey or palette image whose values (a palette image's indices, as
Pascal VOC's SegmentationClass PNGs store them) are class ids; 1-bit images are 0 and 1; 16-bit grey
images whose values fit in 8 bits; or an RGB image whose colours a table maps to class ids (CamVid's
`class_dict.csv`, Cityscapes' colour masks). The ignore value (255 by default: VOC's boundary) marks
pixels of no class. With a class list, any other value (or a colour not in the table) is
`bad_mask_value`.

How it follows its image (`place_mask`), the geometry of prep.images.boxes:
1. Its frame. Like boxes, a mask is taken to be drawn on the image as it is displayed (its EXIF
   orientation applied); a mask of the stored size of a photo turned by 90 degrees was drawn on the
   unturned pixels and is turned with them; a mask of the same aspect ratio within 1% is a scaled copy
   and is scaled. Any other size is `mask_size_mismatch`.
2. The resize, by nearest neighbour (no interpolation invents a class id between two others): stretch,
   crop (the same centred window as the pixels) or pad (the same placement, the border filled with
   the ignore value).
3. Stored as a one-channel PNG of class ids, the image's width and height: what the Model Garden's and
   DeepLab's segmentation decoders read under `image/segmentation/class/encoded`.

Instance masks (`object_masks`, `--coco --masks`): each object's COCO polygons or RLE drawn as the Model
Garden's create_coco_tf_record --include_masks draws them (pycocotools, at the size the annotation
claims), then placed by the same steps (the border of a letterbox is 0), one PNG of 0 and 1 per object.
"""

from __future__ import annotations

import csv
import io
import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prep.images.boxes import annotation_frame, crop_window, pad_placement, upright_size
from prep.images.imaging import ImageOptions, ImageRecord, ImageRejected, decoded, encode_pixels, sniff_format, upright

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

MASK_KEY = "image/segmentation/class/encoded"
MASK_FORMAT_KEY = "image/segmentation/class/format"
DEFAULT_IGNORE = 255  # Pascal VOC's boundary value, the Model Garden's and DeepLab's ignore_label
SHOWN = 5  # bad values or colours a rejection names

REASONS = {
    "missing_mask": "no file under MASKS has the image's path and name (any image extension)",
    "ambiguous_mask": "several files under MASKS have the image's path and name (with different extensions)",
    "unreadable_mask": "the mask cannot be read or does not decode as an image",
    "mask_size_mismatch": "the mask's size is neither its image's (upright or as stored) nor a scaled copy of it",
    "bad_mask_value": "the mask holds values that are neither a class id nor the ignore value (or colours "
                      "that --mask-classes does not list)",
}


@dataclass(frozen=True)
class MaskSpec:
    """Where a job's masks are and what their values mean. `classes`: the class names by id, from
    --mask-classes (empty: the classes are named by the values the masks hold); `colours`: a
    colour-coded mask's (r, g, b) of each class id; `ignore`: the value of pixels of no class."""

    folder: str
    classes: tuple[str, ...] = ()
    colours: tuple[tuple[int, int, int], ...] = ()
    ignore: int = DEFAULT_IGNORE

    def __post_init__(self):
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "colours", tuple(tuple(c) for c in self.colours))
        if not 0 <= self.ignore <= 255:
            raise ValueError(f"the ignore value must be from 0 to 255 (a mask pixel's value), not {self.ignore}")
        if self.classes and self.ignore < len(self.classes):
            raise ValueError(f"the ignore value {self.ignore} is the id of class {self.classes[self.ignore]!r}: "
                             f"give an ignore value of {len(self.classes)} or more")


class MaskRejected(Exception):
    """An image whose mask cannot go with it; `reason` is a key of REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}; add it to masks.REASONS")
        super().__init__(reason, detail)  # both, so that pickling rebuilds it
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class PlacedMask:
    """A mask as its record stores it: a one-channel PNG of class ids the size of the stored image, and
    how many of its pixels hold each value, as ((value, pixels), ...) in order of value."""

    data: bytes
    pixels: tuple[tuple[int, int], ...]


def mask_key(relative: str) -> str:
    """What an image and its mask share: the path relative to SRC (or MASKS) without its extension."""
    return posixpath.splitext(relative)[0]


def read_classes(text: str) -> tuple[tuple[str, ...], tuple[tuple[int, int, int], ...]]:
    """The class names (line i names id i) of a --mask-classes file, and their colours when it is a CSV
    table with a header naming the columns name, r, g and b (CamVid's class_dict.csv); ValueError
    naming the line at fault."""
    lines = text.splitlines()
    header = [c.strip().lower() for c in next(csv.reader([lines[0]]))] if lines else []
    if {"r", "g", "b"} <= set(header):
        rows = list(csv.DictReader(io.StringIO(text), fieldnames=header))[1:]
        name = next((c for c in header if c in ("name", "class", "label")), None)
        if name is None:
            raise ValueError("a colour table needs a name (or class, label) column beside r, g and b")
        classes, colours = [], []
        for i, row in enumerate(rows, 2):
            try:
                colour = tuple(int(row[c]) for c in ("r", "g", "b"))
            except (TypeError, ValueError):
                raise ValueError(f"line {i}: r, g and b must be whole numbers from 0 to 255") from None
            if not all(0 <= v <= 255 for v in colour):
                raise ValueError(f"line {i}: r, g and b must be whole numbers from 0 to 255")
            if colour in colours:
                raise ValueError(f"line {i}: colour {colour} is already class {classes[colours.index(colour)]!r}")
            classes.append(_class_name(row[name], i))
            colours.append(colour)
    else:
        classes, colours = [_class_name(line, i) for i, line in enumerate(lines, 1)], []
    if not classes:
        raise ValueError("names no class")
    if len(classes) > 255:
        raise ValueError(f"names {len(classes)} classes: a mask of 8-bit class ids holds at most 255 beside the ignore value")
    return tuple(classes), tuple(colours)


def _class_name(name: str | None, line: int) -> str:
    name = (name or "").strip()
    if not name:
        raise ValueError(f"line {line} names no class (line i names class id i: give every id a name)")
    return name


def class_ids(im: Image.Image, spec: MaskSpec) -> tuple[Image.Image, list[int]]:
    """A decoded mask's class id of every pixel, as a grey image (the mask itself when it is one), and the
    pixels of each value 0-255; MaskRejected for values that are no class's."""
    import numpy as np
    from PIL import Image

    mode = im.mode
    if spec.colours:
        ids = Image.fromarray(_colour_ids(np.asarray(im.convert("RGB")), spec), "L")
    elif mode == "L":
        ids = im
    elif mode == "P":  # the indices, not the colours the palette gives them
        ids = Image.frombytes("L", im.size, im.tobytes())
    elif mode in ("RGB", "RGBA", "CMYK", "YCbCr"):
        rgb = np.asarray(im.convert("RGB"))
        if not ((rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])).all():
            raise MaskRejected("bad_mask_value", "the mask is in colour: give each class's colour in --mask-classes "
                                                 "(a CSV with columns name,r,g,b)")
        ids = Image.fromarray(np.ascontiguousarray(rgb[..., 0]), "L")
    elif mode in ("1", "LA", "PA", "I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(im)
        if values.ndim == 3:  # LA, PA: the value, not its alpha
            values = values[..., 0]
        if values.dtype != np.uint8:
            high = int(values.max()) if values.size else 0
            if high > 255 or int(values.min()) < 0:
                raise MaskRejected("bad_mask_value", f"the mask holds the value {high}: class ids go from 0 to 255")
        ids = Image.fromarray(np.ascontiguousarray(values, dtype=np.uint8), "L")
    else:
        raise MaskRejected("bad_mask_value", f"the mask's pixels are {mode}: give grey, palette or RGB class ids")
    counts = ids.histogram()
    if spec.classes:
        bad = [v for v, n in enumerate(counts) if n and v >= len(spec.classes) and v != spec.ignore]
        if bad:
            shown = ", ".join(f"{v} ({counts[v]} pixels)" for v in bad[:SHOWN])
            raise MaskRejected("bad_mask_value", f"values {shown}{' ...' if len(bad) > SHOWN else ''} are neither a "
                                                 f"class id (0-{len(spec.classes) - 1}) nor the ignore value {spec.ignore}")
    return ids, counts


def _colour_ids(rgb: np.ndarray, spec: MaskSpec) -> np.ndarray:
    """The class id of each pixel of a colour-coded mask, by its colour in `spec.colours`."""
    import numpy as np

    packed = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    table = np.array([(r << 16) | (g << 8) | b for r, g, b in spec.colours], dtype=np.uint32)
    order = np.argsort(table)
    at = np.minimum(np.searchsorted(table[order], packed), len(table) - 1)
    known = table[order][at] == packed
    if not known.all():
        unknown = np.unique(packed[~known])
        shown = ", ".join(f"({v >> 16}, {(v >> 8) & 255}, {v & 255})" for v in unknown[:SHOWN].tolist())
        raise MaskRejected("bad_mask_value", f"colours {shown}{' ...' if len(unknown) > SHOWN else ''} are no "
                                             "class's in --mask-classes")
    return order[at].astype(np.uint8)


def place_mask(data: bytes, image: ImageRecord, options: ImageOptions, spec: MaskSpec) -> PlacedMask:
    """The mask file `data` of `image` (as prep.images.imaging.normalise_image made it with `options`),
    on the image's stored pixels; MaskRejected when it cannot be (see the module docstring). An 8-bit grey
    PNG that needs no change is stored as it is (TensorFlow decodes its values as they are); any other
    is re-encoded, at zlib level 1 (a mask of a few flat regions compresses well at any level, and level
    1 encodes it in half the time)."""
    try:
        source = decoded(data, options.max_pixels)
        mask, counts = class_ids(source, spec)
    except ImageRejected as e:
        raise MaskRejected("unreadable_mask", f"{e.reason}: {e.detail}") from None
    stored, orientation = image.stored_size, image.orientation
    up = upright_size(stored, orientation)
    frame = annotation_frame(mask.size, stored, orientation)
    if frame is None:
        raise MaskRejected("mask_size_mismatch", f"the mask is {mask.width}x{mask.height} pixels, its image "
                                                 f"{up[0]}x{up[1]} upright ({stored[0]}x{stored[1]} as stored)")
    if frame == "upright" and mask.size == up and options.resize is None:  # on the image's pixels as it is
        # the file's own values are the class ids (IHDR: bit depth 8, colour type 0)
        kept = mask is source and sniff_format(data) == "png" and data[24:26] == b"\x08\x00"
        return PlacedMask(data if kept else encode_pixels(mask, "png", 0, png_level=1), _present(counts))
    mask = _on_stored_pixels(mask, frame, orientation, up, options, spec.ignore)
    if mask.size != (image.width, image.height):  # the geometry of prep.images.boxes is the pixels' own
        raise AssertionError(f"a placed mask of {mask.size} for an image of {(image.width, image.height)}")
    return PlacedMask(encode_pixels(mask, "png", 0, png_level=1), _present(mask.histogram()))


def _present(counts: list[int]) -> tuple[tuple[int, int], ...]:
    """((value, pixels), ...) of the values a mask holds, from its 256 counts."""
    return tuple((value, n) for value, n in enumerate(counts) if n)


def _on_stored_pixels(mask: Image.Image, frame: str, orientation: int, up: tuple[int, int], options: ImageOptions,
                      fill: int) -> Image.Image:
    """A mask in its `frame` (annotation_frame's: drawn upright, or on the stored pixels of a photo whose
    EXIF `orientation` turns it; or a scaled copy of either) on the stored image's pixels, `up` its upright
    (width, height): turned upright, then resized as the pixels were, by nearest neighbour, a letterbox's
    border filled with `fill`."""
    from PIL import Image

    if frame == "stored" and orientation != 1:
        mask = upright(mask, orientation)
    resize, mode = options.resize, options.resize_mode
    nearest = Image.Resampling.NEAREST
    if resize is None or mode == "stretch":
        size = resize or up
        return mask if mask.size == size else mask.resize(size, nearest)
    if mode == "crop":
        left, top, right, bottom = crop_window(up, resize)
        w, h = mask.size
        return mask.resize(resize, nearest, box=(left * w, top * h, right * w, bottom * h))
    left, top, width, height = pad_placement(up, resize)
    out = Image.new("L", resize, fill)
    out.paste(mask.resize((width, height), nearest), (left, top))
    return out


def instance_mask(segmentation, size: tuple[int, int]):
    """An object's COCO segmentation (polygons; or RLE, as crowds have it, counts listed or compressed)
    as its binary mask on an image of `size` (width, height): [height, width] uint8 of 0 and 1, drawn by
    pycocotools as the Model Garden's create_coco_tf_record draws it; None when it holds nothing that can
    be drawn (no polygon of 3 points, an RLE of another size)."""
    from pycocotools import mask as coco_mask

    width, height = size
    if isinstance(segmentation, list):
        polygons = [p for p in segmentation if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)]
        if not polygons:
            return None
        return coco_mask.decode(coco_mask.frPyObjects(polygons, height, width)).max(axis=2)
    if not isinstance(segmentation, dict) or list(segmentation.get("size") or ()) != [height, width]:
        return None
    counts = segmentation.get("counts")
    if isinstance(counts, str):  # compressed, as COCO's results and panoptic files hold it
        rle = {"size": [height, width], "counts": counts.encode("ascii", "replace")}
    elif isinstance(counts, list) and all(isinstance(n, int) and n >= 0 for n in counts) and sum(counts) == width * height:
        rle = coco_mask.frPyObjects({"size": [height, width], "counts": counts}, height, width)
    else:
        return None
    try:
        return coco_mask.decode(rle)
    except Exception:  # noqa: BLE001 - a damaged compressed RLE draws nothing, like a missing one
        return None


def object_indices(data: bytes, size: tuple[int, int], options: ImageOptions) -> np.ndarray:
    """A mask of object indices (Pascal VOC's SegmentationObject PNG: index i marks the pixels of the
    annotation's i-th object, 0 the background, 255 the boundary) as [height, width] uint8; MaskRejected
    when it does not decode or is not the annotation's `size` (width, height), the frame its boxes are in."""
    import numpy as np

    try:
        indices, _ = class_ids(decoded(data, options.max_pixels), MaskSpec(""))
    except ImageRejected as e:
        raise MaskRejected("unreadable_mask", f"{e.reason}: {e.detail}") from None
    if indices.size != tuple(size):
        raise MaskRejected("mask_size_mismatch", f"the mask is {indices.width}x{indices.height} pixels, its "
                                                 f"annotation {size[0]}x{size[1]}")
    return np.asarray(indices)


def object_masks(objects, claimed: tuple[int, int] | None, image: ImageRecord, options: ImageOptions,
                 indices: np.ndarray | None = None) -> tuple[tuple[bytes, ...], int]:
    """The PNG of each placed object's binary mask on `image`'s stored pixels (`claimed`: the (width,
    height) its annotation claims, which prep.images.boxes.place accepted), and how many of them were
    empty for want of a shape (`empty_mask`). An object's mask is drawn from its COCO segmentation, or
    with `indices` (object_indices) it is the pixels of its index (its `segmentation`)."""
    import numpy as np
    from PIL import Image

    stored, orientation = image.stored_size, image.orientation
    up = upright_size(stored, orientation)
    size = tuple(claimed) if claimed else up
    frame = annotation_frame(size, stored, orientation)
    pngs, empty = [], 0
    for box in objects:
        if indices is None:
            binary = instance_mask(box.segmentation, size)
        else:
            binary = (indices == box.segmentation).astype(np.uint8) if isinstance(box.segmentation, int) else None
            binary = binary if binary is not None and binary.any() else None
        if binary is None:
            empty += 1
            binary = np.zeros((size[1], size[0]), np.uint8)
        mask = _on_stored_pixels(Image.fromarray(binary, "L"), frame, orientation, up, options, 0)
        pngs.append(encode_pixels(mask, "png", 0, png_level=1))
    return tuple(pngs), empty
