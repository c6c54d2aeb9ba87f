"""Detection annotations as manifest rows: one ManifestRow per image, its objects as
prep.images.boxes.Box in pixels of the annotated image.

Formats:
- "boxes": a CSV of one row per box, `filename,width,height,class,xmin,ymin,xmax,ymax` (pixels), the
  file the many copies of `generate_tfrecord.py` read. Rows are grouped by image inside the job
  (`box_rows` per row, `image_of_boxes` per image); a row with the class and coordinates empty is an
  image with no box.
- "coco": COCO's instances JSON (`images`, `annotations` with `bbox` [x, y, width, height],
  `categories`), read whole by one worker (`coco_images`). Classes keep COCO's category order.
- "voc": Pascal VOC, one XML file per image beside `JPEGImages/` (`voc_image`); the ids come from an
  `ImageSets/Main/*.txt` file or are every file in `Annotations/`.

An image an annotation names but that is missing, a malformed row or file, is a rejection; a box
that is bad is counted by its fate (prep.images.boxes.BOX_FATES) and its image kept.
"""

from __future__ import annotations

import json
import math
import posixpath
from typing import Iterator

from prep.core import row_files
from prep.core.row_files import Rejection
from prep.images.boxes import Box
from prep.images.manifest import ManifestRow, ManifestSpec

FORMATS = ("boxes", "coco", "voc", "voc_segmentation")
BOX_COLUMNS = {"filename": ("filename", "file", "path", "image", "image_path"), "width": ("width",), "height": ("height",),
               "class": ("class", "label", "category", "name"), "xmin": ("xmin",), "ymin": ("ymin",),
               "xmax": ("xmax",), "ymax": ("ymax",)}
VOC_ANNOTATIONS, VOC_IMAGES = "Annotations", "JPEGImages"
VOC_CLASS_MASKS = "SegmentationClass"  # palette PNGs whose indices are class ids (255: the boundary, ignored)
# palette PNGs whose index i marks the pixels of the i-th <object> of the image's XML (0: background, 255: boundary)
VOC_OBJECT_MASKS = "SegmentationObject"
# Pascal VOC's classes by id (VOC2012's devkit, DeepLab's and TFDS's voc/2012 segmentation labels)
VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor")

REASONS = {
    "bad_box_row": "the CSV row's size or coordinates are not numbers, or it has no class",
    "conflicting_sizes": "rows of the same image claim different image sizes",
    "bad_coco": "the COCO file is not the JSON object COCO's instances files are",
    "bad_image_entry": "a COCO image entry has no id or file_name",
    "missing_annotation": "the VOC split names an id with no XML file in Annotations/",
    "bad_xml": "the VOC annotation is not well-formed XML, or has no filename",
    "size_mismatch": "the image's size fits the size its annotation claims in no orientation or scale",
}


def _number(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


# ---- boxes CSV -----------------------------------------------------------------------------------


def _columns(header: list[str]) -> dict[str, int] | None:
    by_name = {name.strip().lower(): i for i, name in enumerate(header)}
    found = {}
    for key, names in BOX_COLUMNS.items():
        index = next((by_name[n] for n in names if n in by_name), None)
        if index is None and key not in ("width", "height"):
            return None
        found[key] = index
    return found


def box_rows(spec: ManifestSpec) -> Iterator[tuple[str, tuple] | Rejection]:
    """The rows of a boxes CSV as (image, (line, claimed size, Box or None)), or rejections; a rejected
    row that names its image carries it (Rejection.reference)."""
    source = spec.name
    columns = None
    try:
        with row_files.open_input(spec.path) as f:
            blocks = row_files.without_bom(row_files.line_blocks(f, 0, None), source, 0)
            for item in row_files.csv_records(blocks, source, spec.format):
                if isinstance(item, Rejection):
                    yield item
                    continue
                line, record = item
                if columns is None:
                    columns = _columns(record)
                    if columns is None:
                        yield Rejection(source, line, "bad_csv", "the header must name filename, class, xmin, ymin, xmax, "
                                        f"ymax (and width, height); it has: {', '.join(record)[:200]}")
                        return
                    continue
                if not any(field.strip() for field in record):
                    continue
                yield from _box_row(source, line, record, columns)
    except row_files.READ_ERRORS as e:
        yield Rejection(source, 0, *row_files.read_error(e))


def _box_row(source: str, line: int, record: list[str], columns: dict[str, int | None]):
    def field(key: str) -> str:
        index = columns[key]
        return record[index].strip() if index is not None and index < len(record) else ""

    image = field("filename")
    if not image:
        yield Rejection(source, line, "missing_path", "the row names no image")
        return
    size = None
    if field("width") or field("height"):
        width, height = _number(field("width")), _number(field("height"))
        if not width or not height or width < 1 or height < 1:
            yield Rejection(source, line, "bad_box_row", "width and height must be positive numbers of pixels", image)
            return
        size = (int(width), int(height))
    label = field("class")
    coordinates = [field(k) for k in ("xmin", "ymin", "xmax", "ymax")]
    if not label and not any(coordinates):
        yield image, (line, size, None)
        return
    numbers = [_number(c) for c in coordinates]
    if not label or None in numbers or "\n" in label:
        yield Rejection(source, line, "bad_box_row", f"class {label!r} and coordinates {', '.join(coordinates)} "
                        "must be a name and four numbers of pixels", image)
        return
    yield image, (line, size, Box(*numbers, label))


def image_of_boxes(image: str, rows: list[tuple]) -> ManifestRow | Rejection:
    """One image's rows of a boxes CSV as its ManifestRow (line: its first row's), or a rejection."""
    rows = sorted(rows, key=lambda r: r[0])
    sizes = {r[1] for r in rows if r[1] is not None}
    if len(sizes) > 1:
        return Rejection("", rows[0][0], "conflicting_sizes",
                         f"rows {', '.join(str(r[0]) for r in rows[:8])} claim the sizes {', '.join(f'{w}x{h}' for w, h in sorted(sizes))}",
                         image)
    objects = tuple(r[2] for r in rows if r[2] is not None)
    return ManifestRow(rows[0][0], image, tuple(sorted({b.label for b in objects})), objects=objects,
                       size=next(iter(sizes), None), source_id=image)


# ---- COCO --------------------------------------------------------------------------------------------


def coco_images(spec: ManifestSpec) -> Iterator[ManifestRow | Rejection | tuple]:
    """COCO's instances JSON as one ManifestRow per image (line: its place in `images`, from 1), the
    rejections, ("categories", names in id order) first, and ("fates", {fate: boxes}) for the boxes
    left out (unknown categories, unknown images, malformed entries)."""
    source = spec.name
    try:
        with row_files.open_input(spec.path) as f:
            data = json.loads(f.read().decode("utf-8-sig"))
    except row_files.READ_ERRORS as e:
        yield Rejection(source, 0, *row_files.read_error(e))
        return
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        yield Rejection(source, 0, "bad_coco", f"not valid JSON: {str(e)[:120]}")
        return
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        yield Rejection(source, 0, "bad_coco", "no list of 'images' at the top level")
        return
    categories = {}
    for c in data.get("categories") or []:
        if isinstance(c, dict) and isinstance(c.get("id"), int) and isinstance(c.get("name"), str):
            categories[c["id"]] = c["name"].strip()
    yield ("categories", tuple(categories[i] for i in sorted(categories)))
    fates: dict[str, int] = {}
    by_image: dict = {}
    for a in data.get("annotations") or []:
        box = a.get("bbox") if isinstance(a, dict) else None
        if not isinstance(box, list) or len(box) != 4 or any(_number(v) is None for v in box):
            fates["malformed"] = fates.get("malformed", 0) + 1
            continue
        if a.get("category_id") not in categories:
            fates["unknown_class"] = fates.get("unknown_class", 0) + 1
            continue
        x, y, w, h = (float(v) for v in box)
        area = _number(a.get("area"))
        by_image.setdefault(a.get("image_id"), []).append(
            (a.get("id") if isinstance(a.get("id"), int) else 0,
             Box(x, y, x + w, y + h, categories[a["category_id"]], area if area and area > 0 else None,
                 bool(a.get("iscrowd")), segmentation=a.get("segmentation") if spec.instance_masks else None)))
    known = set()
    for n, image in enumerate(data["images"], 1):
        if not isinstance(image, dict) or not isinstance(image.get("file_name"), str) or "id" not in image:
            yield Rejection(source, n, "bad_image_entry", "an image entry needs an id and a file_name")
            continue
        known.add(image["id"])
        width, height = _number(image.get("width")), _number(image.get("height"))
        size = (int(width), int(height)) if width and height else None
        objects = tuple(box for _, box in sorted(by_image.get(image["id"], []), key=lambda p: p[0]))
        yield ManifestRow(n, image["file_name"], tuple(sorted({b.label for b in objects})), objects=objects,
                          size=size, source_id=str(image["id"]))
    orphans = sum(len(v) for k, v in by_image.items() if k not in known)
    if orphans:
        fates["unknown_image"] = orphans
    yield ("fates", fates)


# ---- Pascal VOC --------------------------------------------------------------------------------------


def voc_ids(spec: ManifestSpec) -> Iterator[tuple[int, str] | Rejection]:
    """The ids a VOC split file lists, with their lines (`id` or `id  1`, as ImageSets/Main's
    per-class files write them; `id -1` lines, images without that class, are left out)."""
    source = spec.name
    try:
        with row_files.open_input(spec.path) as f:
            blocks = row_files.without_bom(row_files.line_blocks(f, 0, None), source, 0)
            n = 0
            for block in blocks:
                if isinstance(block, Rejection):
                    yield block
                    return
                for raw in row_files.lines_of(block):
                    n += 1
                    parts = raw.decode("utf-8", "replace").split()
                    if parts and not (len(parts) > 1 and parts[1] == "-1"):
                        yield n, parts[0]
    except row_files.READ_ERRORS as e:
        yield Rejection(source, 0, *row_files.read_error(e))


def voc_segmentation_rows(spec: ManifestSpec) -> Iterator[ManifestRow | Rejection]:
    """The ids of a VOC segmentation split file (ImageSets/Segmentation/train.txt) as rows: each image,
    JPEGImages/<id>.jpg, with its class mask, SegmentationClass/<id>.png."""
    for item in voc_ids(spec):
        if isinstance(item, Rejection):
            yield item
            continue
        line, image_id = item
        yield ManifestRow(line, f"{VOC_IMAGES}/{image_id}.jpg", source_id=image_id, mask=f"{VOC_CLASS_MASKS}/{image_id}.png")


def with_voc_object_masks(row: ManifestRow, image_id: str) -> ManifestRow:
    """A VOC image's row with its objects' masks: SegmentationObject/<id>.png, each object the pixels of
    its place among the XML's objects (from 1), kept as its `segmentation`."""
    return row._replace(mask=f"{VOC_OBJECT_MASKS}/{image_id}.png",
                        objects=tuple(box._replace(segmentation=i) for i, box in enumerate(row.objects, 1)))


def voc_image(source: str, line: int, xml: bytes) -> ManifestRow | Rejection:
    """One VOC annotation file as its image's ManifestRow (reference: JPEGImages/<filename>)."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as e:
        return Rejection(source, line, "bad_xml", str(e)[:120])
    filename = (root.findtext("filename") or "").strip()
    if not filename:
        return Rejection(source, line, "bad_xml", "no <filename>")
    width, height = _number(root.findtext("size/width")), _number(root.findtext("size/height"))
    size = (int(width), int(height)) if width and height else None
    objects = []
    for obj in root.findall("object"):
        name = (obj.findtext("name") or "").strip()
        corners = [_number(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
        if not name or None in corners:
            objects.append(Box(0, 0, 0, 0, ""))  # counted as degenerate when placed
            continue
        # VOC's pixel coordinates are 1-based and inclusive: pixel 1..W is the whole width
        x1, y1, x2, y2 = corners
        objects.append(Box(x1 - 1, y1 - 1, x2, y2, name, None, False,
                           (obj.findtext("difficult") or "0").strip() == "1",
                           (obj.findtext("truncated") or "0").strip() == "1"))
    return ManifestRow(line, posixpath.join(VOC_IMAGES, filename), tuple(sorted({b.label for b in objects} - {""})),
                       objects=tuple(objects), size=size, source_id=posixpath.splitext(filename)[0])
