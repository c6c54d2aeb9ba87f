"""The contact sheet: a grid of sample images per class, decoded from the shards themselves.

Samples are chosen deterministically: the first N records of each class in shard order (splits in
schema order, shards in file order, records in their stored order). The job orders every shard by a
hash of each record's path, so "first in shard order" is a fair draw, not the alphabetically first
files, and the same dataset always shows the same samples. Only as many records are read as it takes
to fill every class (bounded by `MAX_RECORDS`): a sheet of a million-image dataset reads a few hundred.

Records are decoded in plain Python (no TensorFlow import: seconds saved) and tiles drawn with Pillow.
"""

from __future__ import annotations

import io
import json
import posixpath
import struct
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Collection, Iterable, Iterator, Mapping, Sequence

from prep.records import tfrecord_io
from schemas import DatasetSchema

if TYPE_CHECKING:
    from PIL import Image, ImageFont

PER_CLASS = 8           # samples per class on a sheet
MAX_CLASSES = 100       # classes drawn (in label id order); a sheet of 1,000 rows helps nobody
MAX_RECORDS = 20_000    # records read at most while looking for samples (a class may be rare or empty)

TILE = 128              # pixels: the square each image is fitted into
GAP = 12                # pixels between tiles, across
ROW_GAP = 10            # pixels between a row's labels and the next row's tiles
MARGIN = 20             # pixels around the grid
MIN_WIDTH = 560         # pixels: a sheet of one or two columns is widened (grid on the left) so the title fits
LABEL_SIZE = 13         # pixels: font size of the two lines under each tile
TITLE_SIZE = 22         # pixels: font size of the title (the subtitle uses LABEL_SIZE + 1)
BACKGROUND = (255, 255, 255)
TILE_BACKGROUND = (236, 236, 236)
INK = (34, 34, 34)
MUTED = (110, 110, 110)
ELLIPSIS = "\u2026"


class SheetError(ValueError):
    """The dataset cannot give a contact sheet (no image feature); the message says why."""


# ---- records, decoded in plain Python -------------------------------------------------------------

def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: memoryview) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) of each field of a protobuf message: a memoryview for
    length-delimited fields, an int for varints, raw bytes for fixed 32/64-bit fields."""
    pos, end = 0, len(data)
    while pos < end:
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = bytes(data[pos:pos + 4]), pos + 4
        elif wire == 1:
            value, pos = bytes(data[pos:pos + 8]), pos + 8
        else:
            raise ValueError(f"not a tf.train.Example: wire type {wire} at byte {pos}")
        yield number, wire, value


def _int64(n: int) -> int:
    return n - (1 << 64) if n >= 1 << 63 else n


def _values(kind: int, message: memoryview) -> list:
    """The values of a BytesList (1), FloatList (2) or Int64List (3), packed or not."""
    values: list = []
    for number, wire, value in _fields(message):
        if number != 1:
            continue
        if kind == 1:
            values.append(bytes(value))
        elif kind == 2:
            values.extend(struct.unpack(f"<{len(value) // 4}f", value) if wire == 2 else struct.unpack("<f", value))
        elif wire == 2:
            pos = 0
            while pos < len(value):
                n, pos = _varint(value, pos)
                values.append(_int64(n))
        else:
            values.append(_int64(value))
    return values


def decode_example(record: bytes) -> dict[str, list]:
    """A serialised `tf.train.Example` as {key: list of values}: bytes, floats or ints as stored.

    The inverse of `prep.records.example_codec.encode_example`, for any writer's records (packed or unpacked
    lists); a key with an empty list decodes to []."""
    features: dict[str, list] = {}
    for number, _, message in _fields(memoryview(record)):
        if number != 1:
            continue
        for entry_number, _, entry in _fields(message):
            if entry_number != 1:
                continue
            key, values = "", []
            for part, _, value in _fields(entry):
                if part == 1:
                    key = bytes(value).decode("utf-8", "surrogateescape")
                elif part == 2:
                    values = [v for kind, _, lst in _fields(value) if kind in (1, 2, 3) for v in _values(kind, lst)]
            features[key] = values
    return features


def read_text(root: str, relative: str) -> str | None:
    """A small file of the dataset directory (stats.json, a vocabulary) as text, or None if absent."""
    from apache_beam.io.filesystems import FileSystems

    path = FileSystems.join(root, relative)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return f.read().decode("utf-8", "replace")


def read_stats(root: str) -> dict:
    """stats.json, or {} when the dataset has none (foreign records)."""
    text = read_text(root, "stats.json")
    return json.loads(text) if text else {}


def label_names(root: str, schema: DatasetSchema) -> list[str] | None:
    """Class names in label id order, from the label feature's vocabulary file, or None without one."""
    if not schema.label_key:
        return None
    vocabulary = schema.feature(schema.label_key).vocabulary
    if not vocabulary:
        return None
    text = read_text(root, schema.vocabulary(vocabulary).file)
    if text is None:
        return None
    lines = text.split("\n")  # line i is id i; TensorFlow splits on '\n' only, and drops a '\r' before it
    if lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


@dataclass(frozen=True)
class ReadRecord:
    """One record read from a shard, decoded."""

    split: str
    shard: str
    features: dict[str, list]


def scan_records(root: str, schema: DatasetSchema, shards: Iterable[tuple[str, str]] | None = None,
                 prefilter: Callable[[bytes], bool] | None = None) -> Iterator[ReadRecord]:
    """Every record of the given (split, shard file) pairs (default: all, in schema order), streamed:
    stop iterating and no more is read. Records for which `prefilter(serialised bytes)` is false are
    skipped undecoded (a byte search is a hundred times faster than decoding in Python)."""
    from apache_beam.io.filesystems import FileSystems

    if shards is None:
        shards = [(s.name, shard.file) for s in schema.splits for shard in s.shards if shard.num_records != 0]
    for split, file in shards:
        for data in tfrecord_io.read_records(FileSystems.join(root, file), schema.compression):
            if prefilter is None or prefilter(data):
                yield ReadRecord(split, file, decode_example(data))


# ---- choosing the samples -------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageKeys:
    """Where a record keeps its image and what describes it; None where the dataset has no such key."""

    image: str
    label: str | None
    label_name: str | None
    filename: str | None
    width: str | None
    height: str | None
    format: str | None
    channels: str | None
    first_id: int = 0  # the label's first class id (a detection dataset's: 1)
    boxes: tuple[str, str, str, str] | None = None  # a detection dataset's xmin, ymin, xmax, ymax keys
    mask: str | None = None  # a segmentation dataset's mask of class ids
    ignore: int | None = None  # its value of pixels of no class
    object_masks: str | None = None  # an instance segmentation dataset's masks, one per object (box)

    @classmethod
    def of(cls, schema: DatasetSchema) -> "ImageKeys":
        images = [f.name for f in schema.features if f.encoding == "image"]
        if not images:
            raise SheetError(f"dataset {schema.name!r} ({schema.kind}) has no image feature: a contact sheet needs images")
        image = images[0]
        names = {f.name for f in schema.features}

        def key(name: str) -> str | None:
            return name if name in names else None

        def about(name: str) -> str | None:  # image/filename beside image, or beside image/encoded
            return key(f"{image}/{name}") or key(f"{image.rsplit('/', 1)[0]}/{name}")

        label = schema.label_key
        vocabulary = schema.feature(label).vocabulary if label else None
        corners = tuple(f"image/object/bbox/{c}" for c in ("xmin", "ymin", "xmax", "ymax"))
        mask = schema.feature(label) if label and schema.feature(label).encoding == "segmentation_mask" else None
        object_masks = [f.name for f in schema.features if f.encoding == "instance_mask"]
        return cls(image, label, key(f"{label}/name") if label else None, about("filename"), about("width"),
                   about("height"), about("format"), about("channels"),
                   schema.vocabulary(vocabulary).first_id if vocabulary else 0,
                   corners if all(key(c) for c in corners) else None,
                   mask.name if mask else None, mask.ignore_value if mask else None,
                   object_masks[0] if object_masks else None)


@dataclass(frozen=True)
class SampledImage:
    """An image record chosen for the sheet (or read on the way)."""

    split: str
    shard: str
    label: int
    class_name: str
    filename: str
    data: bytes
    width: int | None
    height: int | None
    format: str | None
    channels: int | None
    labels: tuple = ()  # every value of the label: a multi-label record's class ids, a regression target's values
    boxes: tuple = ()  # a detection record's boxes: (xmin, ymin, xmax, ymax) normalised, class index, class name
    mask: object = None  # a segmentation record's mask: class ids, [height, width] uint8 (numpy)
    mask_names: tuple = ()  # (class id, name) of each class its mask holds


def sampled_image(record: ReadRecord, keys: ImageKeys, names: list[str] | None) -> SampledImage:
    f = record.features

    def one(key: str | None, default=None):
        values = f.get(key) if key else None
        return values[0] if values else default

    def text(key: str | None) -> str | None:
        value = one(key)
        return None if value is None else value.decode("utf-8", "replace")

    mask = _mask_ids(one(keys.mask, b"")) if keys.mask else None
    if keys.mask:  # a segmentation record is in the rows of the classes its mask holds
        import numpy as np

        present = [] if mask is None else [int(v) for v in np.unique(mask) if v != keys.ignore]
        values = tuple(v for v in present if names is None or v < len(names))
    else:
        values = tuple(f.get(keys.label) or ()) if keys.label else ()
    if keys.first_id and values:  # class ids from 1: as indices into the class names
        values = tuple(v - keys.first_id for v in values)
    label = values[0] if values and isinstance(values[0], int) else (one(keys.label, -1) if keys.label else -1)
    if names is not None and 0 <= label < len(names):
        class_name = names[label]
    else:
        class_name = text(keys.label_name) or ("all records" if label == -1 else str(label))
    boxes = ()
    if keys.boxes:
        corners = [f.get(k) or [] for k in keys.boxes]
        indices = [values[i] if i < len(values) else -1 for i in range(len(corners[0]))]
        boxes = tuple((*box, index, names[index] if names is not None and 0 <= index < len(names) else "?")
                      for box, index in zip(zip(*corners), indices))
    mask_names = tuple((v, names[v] if names is not None and v < len(names) else str(v)) for v in values) if keys.mask else ()
    if keys.object_masks and boxes:  # each object's pixels as its class, drawn like a segmentation mask
        mask = _objects_as_classes(f.get(keys.object_masks) or [], [box[4] for box in boxes])
    return SampledImage(record.split, record.shard, label, class_name, text(keys.filename) or "", one(keys.image, b""),
                        one(keys.width), one(keys.height), text(keys.format), one(keys.channels), values, boxes, mask,
                        mask_names)


def _objects_as_classes(masks: list[bytes], classes: list[int]):
    """Objects' masks (PNGs of 0 and 1) as one mask of class ids, [height, width] uint8: each object's
    pixels hold its class index (a later object over an earlier one), the rest NO_CLASS. None when no
    mask decodes."""
    import numpy as np

    decoded = [(m, c) for m, c in ((_mask_ids(data), c) for data, c in zip(masks, classes)) if m is not None and c >= 0]
    if not decoded:
        return None
    ids = np.full(decoded[0][0].shape, NO_CLASS, np.uint8)
    for binary, index in decoded:
        if binary.shape == ids.shape:
            ids[binary > 0] = index
    return ids


def _mask_ids(data: bytes):
    """A mask's class ids, [height, width] uint8; None if its bytes do not decode."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("L") if im.mode != "L" else im)
    except Exception:  # noqa: BLE001 - an undecodable mask is only not drawn
        return None


TARGET_ROWS = 5  # a regression dataset's sheet: rows of equal ranges of its (first) target


def _target_rows(schema: DatasetSchema, stats: Mapping | None) -> tuple[str, float, float] | None:
    """(target name, min, max) when the label is a regression target and stats.json knows its range."""
    label = schema.feature(schema.label_key) if schema.label_key else None
    if label is None or label.dtype != "float32":
        return None
    name = (label.value_names or (label.name,))[0]
    target = ((stats or {}).get("manifest") or {}).get("targets", {}).get(name)
    if not target or target.get("min") is None:
        return None
    return name, float(target["min"]), float(target["max"])


def _rows_of(image: SampledImage, targets: tuple[str, float, float] | None, names: list[str] | None) -> list[tuple[int, str]]:
    """The sheet rows (key, title) an image belongs in: each of a multi-label record's classes; a
    regression target's range; else its class."""
    if targets is not None:
        name, low, high = targets
        step = (high - low) / TARGET_ROWS or 1.0
        row = min(int((image.labels[0] - low) / step), TARGET_ROWS - 1) if image.labels else 0
        return [(row, f"{name} {low + row * step:g} to {low + (row + 1) * step:g}")]
    if names is not None and len(image.labels) > 1:
        return [(i, names[i]) for i in dict.fromkeys(image.labels) if 0 <= i < len(names)]  # once per class
    return [(image.label, image.class_name)]


@dataclass
class ImageSample:
    """What sampling found: the samples per class row, and the size of every record read."""

    rows: list[tuple[str, list[SampledImage]]]   # (class name, samples), in label id order
    classes: int                                  # classes in the dataset (rows may show fewer)
    records_read: int
    sizes: list[tuple[int, int]] = field(default_factory=list)  # (width, height) in pixels of each record read
    found: dict[str, SampledImage] = field(default_factory=dict)  # records read whose file name was wanted


def class_totals(stats: Mapping) -> dict[str, int]:
    """Records per class over every split, from stats.json (empty if it has none)."""
    totals: dict[str, int] = {}
    for split in (stats.get("splits") or {}).values():
        for name, n in (split.get("classes") or {}).items():
            totals[name] = totals.get(name, 0) + n
    return totals


def sample_images(root: str, schema: DatasetSchema, per_class: int = PER_CLASS, *, stats: Mapping | None = None,
                  max_records: int = MAX_RECORDS, max_classes: int = MAX_CLASSES, wanted: Collection[str] = ()
                  ) -> ImageSample:
    """The first `per_class` records of each class in shard order, reading shards only until every
    class has its samples (a class's quota is lowered to its record count in `stats`, so a small or
    empty class does not make the scan read everything) or `max_records` records were read.
    Records read on the way whose file name is in `wanted` are kept too (the report's duplicates)."""
    keys = ImageKeys.of(schema)
    names = label_names(root, schema)
    targets = _target_rows(schema, stats)
    totals = class_totals(stats or {})
    found: dict[int, list[SampledImage]] = {}
    order: dict[int, str] = {}
    if names is not None:
        for i, name in enumerate(names[:max_classes]):
            found[i], order[i] = [], name
        quotas = {i: min(per_class, totals.get(name, per_class)) if totals else per_class for i, name in order.items()}
    else:
        quotas = None
    sizes: list[tuple[int, int]] = []
    found_wanted: dict[str, SampledImage] = {}
    count = 0

    def done() -> bool:
        return quotas is not None and all(len(found[i]) >= q for i, q in quotas.items())

    records = scan_records(root, schema)
    try:
        while not done() and count < max_records:
            record = next(records, None)
            if record is None:
                break
            count += 1
            image = sampled_image(record, keys, names)
            if image.width is not None and image.height is not None:
                sizes.append((image.width, image.height))
            if image.filename in wanted:
                found_wanted[image.filename] = image
            for row, title in _rows_of(image, targets, names):
                if quotas is None and row not in found and len(found) < max_classes:
                    found[row], order[row] = [], title
                if row in found and len(found[row]) < per_class:
                    found[row].append(image)
    finally:
        records.close()
    rows = [(order[i], found[i]) for i in sorted(found)]
    return ImageSample(rows, len(names) if names is not None else len(rows), count, sizes, found_wanted)


# ---- drawing --------------------------------------------------------------------------------------

def font(size: int) -> "ImageFont.FreeTypeFont | ImageFont.ImageFont":
    """Pillow's own font at `size` pixels (bundled with Pillow >= 10.1, so no font file is needed)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def fit_text(text: str, typeface, width: int) -> str:
    """`text`, shortened with an ellipsis in the middle (keeping both ends: a file's number and
    extension are as telling as its start) until it is at most `width` pixels wide."""
    if typeface.getlength(text) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the most characters kept that still fit
        mid = (low + high + 1) // 2
        head = (mid + 1) // 2
        candidate = text[:head] + ELLIPSIS + text[len(text) - (mid - head):] if mid else ELLIPSIS
        if typeface.getlength(candidate) <= width:
            low = mid
        else:
            high = mid - 1
    head = (low + 1) // 2
    return text[:head] + ELLIPSIS + text[len(text) - (low - head):] if low else ELLIPSIS


def thumbnail(data: bytes, size: int) -> "Image.Image | None":
    """An encoded image fitted into a `size` x `size` square (aspect ratio kept), as RGB; None if the
    bytes do not decode. Small images are scaled up by whole pixels (nearest neighbour), so an 8x8
    digit stays a crisp 8x8 grid rather than a blur."""
    from PIL import Image

    try:
        # Pillow's warnings on a stored record ("malformed MPO file", ...) are about bytes prep already
        # checked, not the reader's to act on: kept off the terminal of prep report and prep inspect.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))
            image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster for photos
            image.load()
    except Exception:  # noqa: BLE001 - any undecodable record becomes a placeholder tile, not a crash
        return None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        flat = Image.new("RGB", image.size, TILE_BACKGROUND)
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    else:
        image = image.convert("RGB")
    width, height = image.size
    scale = size / max(width, height)
    if scale >= 2:
        whole = int(scale)
        return image.resize((width * whole, height * whole), Image.Resampling.NEAREST)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image if new == image.size else image.resize(new, Image.Resampling.LANCZOS)


@dataclass(frozen=True)
class SheetLayout:
    """Where everything goes on a sheet of `rows` classes by `columns` samples; all numbers in pixels."""

    columns: int
    rows: int
    tile: int = TILE
    gap: int = GAP
    row_gap: int = ROW_GAP
    margin: int = MARGIN
    label_size: int = LABEL_SIZE
    title_size: int = TITLE_SIZE

    @property
    def line_height(self) -> int:
        return self.label_size + self.label_size // 2   # a font's ascent + descent, with air

    @property
    def label_height(self) -> int:
        return 4 + 2 * self.line_height              # class name and file name under each tile

    @property
    def title_height(self) -> int:
        return self.title_size + self.title_size // 2 + self.line_height + 12  # title, subtitle, space

    @property
    def size(self) -> tuple[int, int]:
        width = max(MIN_WIDTH, 2 * self.margin + self.columns * self.tile + (self.columns - 1) * self.gap)
        height = (2 * self.margin + self.title_height + self.rows * (self.tile + self.label_height)
                  + (self.rows - 1) * self.row_gap)
        return width, height

    def tile_origin(self, row: int, column: int) -> tuple[int, int]:
        """Top-left corner of a tile."""
        return (self.margin + column * (self.tile + self.gap),
                self.margin + self.title_height + row * (self.tile + self.label_height + self.row_gap))


def render_sheet(rows: list[tuple[str, list[SampledImage]]], columns: int, title: str, subtitle: str,
                 layout: SheetLayout | None = None) -> "Image.Image":
    """The sheet as an RGB image: one row per class, `columns` tiles each, class name and file name
    under every tile (shortened to the tile's width), the title and subtitle above."""
    from PIL import Image, ImageDraw

    layout = layout or SheetLayout(max(1, columns), max(1, len(rows)))
    sheet = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    width = layout.size[0] - 2 * layout.margin
    title_font, sub_font, label_font = font(layout.title_size), font(layout.label_size + 1), font(layout.label_size)
    draw.text((layout.margin, layout.margin), fit_text(title, title_font, width), fill=INK, font=title_font)
    draw.text((layout.margin, layout.margin + layout.title_size + layout.title_size // 2),
              fit_text(subtitle, sub_font, width), fill=MUTED, font=sub_font)
    for r, (class_name, samples) in enumerate(rows):
        for c in range(layout.columns):
            x, y = layout.tile_origin(r, c)
            if c >= len(samples):
                if c == 0:
                    draw.rectangle((x, y, x + layout.tile - 1, y + layout.tile - 1), fill=TILE_BACKGROUND)
                    draw.text((x + layout.tile // 2, y + layout.tile // 2), "no records", fill=MUTED,
                              font=label_font, anchor="mm")
                    draw.text((x, y + layout.tile + 4), fit_text(class_name, label_font, layout.tile), fill=INK,
                              font=label_font)
                continue
            sample = samples[c]
            draw.rectangle((x, y, x + layout.tile - 1, y + layout.tile - 1), fill=TILE_BACKGROUND)
            thumb = thumbnail(sample.data, layout.tile)
            if thumb is None:
                draw.text((x + layout.tile // 2, y + layout.tile // 2), "undecodable", fill=MUTED, font=label_font,
                          anchor="mm")
            else:
                left, top = x + (layout.tile - thumb.width) // 2, y + (layout.tile - thumb.height) // 2
                classes = [v for v, _ in sample.mask_names] or sorted({box[4] for box in sample.boxes})
                sheet.paste(thumb if sample.mask is None else overlay_mask(thumb, sample.mask, classes), (left, top))
                draw_boxes(draw, sample.boxes, (left, top, thumb.width, thumb.height), label_font)
                if sample.mask_names:
                    draw_mask_names(draw, sample.mask_names, (left, top, thumb.width, thumb.height), label_font)
            label_y = y + layout.tile + 4
            draw.text((x, label_y), fit_text(class_name, label_font, layout.tile), fill=INK, font=label_font)
            draw.text((x, label_y + layout.line_height), fit_text(posixpath.basename(sample.filename), label_font,
                                                                  layout.tile), fill=MUTED, font=label_font)
    return sheet


BOX_COLOURS = ((230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
               (70, 240, 240), (240, 50, 230))  # a class's colour: its index, round these


def draw_boxes(draw, boxes: tuple, where: tuple[int, int, int, int], typeface) -> None:
    """A detection record's boxes, and their class names, over its thumbnail at `where` (left, top,
    width, height in pixels)."""
    left, top, width, height = where
    for xmin, ymin, xmax, ymax, index, name in boxes:
        colour = BOX_COLOURS[index % len(BOX_COLOURS)] if index >= 0 else (255, 255, 255)
        x0, y0 = left + xmin * width, top + ymin * height
        draw.rectangle((x0, y0, max(x0, left + xmax * width - 1), max(y0, top + ymax * height - 1)), outline=colour, width=2)
        draw.text((x0 + 3, y0 + 2), fit_text(name, typeface, max(8, int((xmax - xmin) * width) - 4)), fill=colour, font=typeface)


MASK_OPACITY = 0.5  # of a class's colour over its pixels
NO_CLASS = 255  # in the class-id mask drawn from objects' masks: pixels of no object


def overlay_mask(thumb: "Image.Image", mask, classes: list[int]) -> "Image.Image":
    """The thumbnail with each of `classes`' pixels of the mask (class ids, resized by nearest neighbour
    to the thumbnail) tinted with the class's colour; other values (the ignore value) left as they are."""
    import numpy as np
    from PIL import Image

    ids = np.asarray(Image.fromarray(mask).resize(thumb.size, Image.Resampling.NEAREST))
    pixels = np.asarray(thumb, dtype=np.float32).copy()
    for index in classes:
        where = ids == index
        pixels[where] = (1 - MASK_OPACITY) * pixels[where] + MASK_OPACITY * np.array(BOX_COLOURS[index % len(BOX_COLOURS)])
    return Image.fromarray(pixels.round().astype(np.uint8))


def draw_mask_names(draw, names: tuple, where: tuple[int, int, int, int], typeface) -> None:
    """The names of the classes a mask holds, each in its colour, down the thumbnail's left edge."""
    left, top, width, height = where
    step = typeface.size + 2 if hasattr(typeface, "size") else 12
    for i, (index, name) in enumerate(names[: max(1, height // step)]):
        draw.text((left + 3, top + 2 + i * step), fit_text(name, typeface, max(8, width - 6)),
                  fill=BOX_COLOURS[index % len(BOX_COLOURS)], font=typeface, stroke_width=1, stroke_fill=(0, 0, 0))


# ---- the whole sheet, for `prep inspect --sheet` --------------------------------------------------

@dataclass(frozen=True)
class Sheet:
    """A finished sheet: the PNG bytes and what it shows."""

    png: bytes
    size: tuple[int, int]   # pixels
    rows: int               # classes shown
    columns: int            # samples per class asked for
    records_read: int
    per_row: tuple[int, ...] = ()  # samples each row holds: fewer than `columns` when its class has no more

    @property
    def holds(self) -> str:
        """What the sheet holds, for a person: '3 classes x 1-2 samples each (2 asked for)'."""
        from prep.core.wording import plural

        asked = "" if all(n == self.columns for n in self.per_row) else f" ({self.columns} asked for)"
        return f"{plural(self.rows, 'class', 'classes')} x {samples_per_row(self.per_row)} each{asked}"


def samples_per_row(per_row: Sequence[int]) -> str:
    """'1 sample', '8 samples' or '1-8 samples': how many the rows of a sheet hold."""
    low, high = (min(per_row), max(per_row)) if per_row else (0, 0)
    return f"{low if low == high else f'{low}-{high}'} sample{'' if high == 1 else 's'}"


def sheet_titles(schema: DatasetSchema, sample: ImageSample, per_class: int) -> tuple[str, str]:
    """The title and subtitle of a sheet of `sample`."""
    records = "" if schema.num_records is None else f"{schema.num_records:,} records, "
    shown = (f"{sample.classes:,} classes" if len(sample.rows) == sample.classes
             else f"first {len(sample.rows):,} of {sample.classes:,} classes")
    samples = samples_per_row([len(images) for _, images in sample.rows]) if sample.rows else \
        f"{per_class} sample{'s' if per_class != 1 else ''}"
    subtitle = f"{records}{shown}; the first of each class in shard order ({sample.records_read:,} records read)"
    return f"{schema.name}: {samples} per class", subtitle


def make_sheet(root: str, per_class: int = PER_CLASS, max_records: int = MAX_RECORDS) -> Sheet:
    """The contact sheet of the dataset at `root`, reading only the records it needs."""
    from schemas import load_schema

    schema = load_schema(root)
    ImageKeys.of(schema)  # refuse a text dataset before reading anything
    sample = sample_images(root, schema, per_class, stats=read_stats(root), max_records=max_records)
    title, subtitle = sheet_titles(schema, sample, per_class)
    image = render_sheet(sample.rows, per_class, title, subtitle)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return Sheet(buffer.getvalue(), image.size, len(sample.rows), per_class, sample.records_read,
                 tuple(len(images) for _, images in sample.rows))


def write_file(path: str, data: bytes) -> None:
    """Write `data` to a local or gs:// path."""
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.create(path, mime_type="application/octet-stream", compression_type="uncompressed") as f:
        f.write(data)
