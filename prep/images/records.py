"""The record of one image: its feature keys, its `tf.train.Example` bytes, and its schema features.

Keys follow TensorFlow Datasets (`image`, `label`; what describes the image under `image/`), so a
prep image dataset is also a TFDS dataset once its metadata files sit beside the shards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from prep.core.duplicates import content_digest
from prep.images.imaging import ImageOptions, ImageRecord
from prep.images.masks import MASK_FORMAT_KEY, MASK_KEY, PlacedMask
from prep.records.example_codec import FixedExample, encode_example
from schemas import Feature, ImageInfo

IMAGE_KEY = "image"
LABEL_KEY = "label"
MULTI_LABEL_KEY = "labels"  # a manifest's multi-label rows: class ids, and their names under labels/name
TARGET_KEY = "target"  # a manifest's regression targets
LABELS_VOCABULARY = "labels"
# A detection record's keys: those the Object Detection API and the Model Garden's TfExampleDecoder read.
ENCODED_KEY = "image/encoded"
OBJECT = "image/object"
BOX_KEYS = tuple(f"{OBJECT}/bbox/{c}" for c in ("xmin", "ymin", "xmax", "ymax"))
OBJECT_LABEL_KEY = f"{OBJECT}/class/label"
OBJECT_MASK_KEY = f"{OBJECT}/mask"  # each object's mask, a PNG (the Model Garden's key)
OBJECTS_GROUP = "objects"
FIRST_OBJECT_ID = 1  # the Object Detection API's label maps start at 1 (0 is the background)
# What a record's label is: one class (class folders, or a manifest's label column), several classes,
# float regression targets, objects with boxes, or a mask of class ids. The key the schema names as its
# label, for each.
LABEL_KEYS = {"class": LABEL_KEY, "multi_label": MULTI_LABEL_KEY, "regression": TARGET_KEY, "detection": OBJECT_LABEL_KEY,
              "segmentation": MASK_KEY}
# The kinds whose records keep their image under the Object Detection API's and Model Garden's key
ENCODED_KINDS = ("detection", "segmentation")
RECORD_OVERHEAD = 200  # bytes of a record besides the image: keys, path, numbers (for --shard-size)


class SourceChangedError(RuntimeError):
    """An input file changed between its check and its writing: the run must not commit stale data."""


@dataclass(frozen=True, slots=True)
class PendingImage:
    """A checked image on its way to its shard.

    Small on purpose: this is what the shuffle between checking and writing carries (and on Beam's
    local runner, what it holds in memory until the shards are written). An image kept as it is
    travels as its path under SRC and its digest and is read again when its shard is written (from
    the page cache, locally); only re-encoded images carry their new bytes in `data`.
    """

    relative_path: str  # under SRC; a manifest's image outside SRC: its full path
    label: int | tuple  # the class id; multi-label: the class ids; regression: the targets (floats)
    class_name: str | tuple[str, ...]  # the class name; multi-label: the class names; regression: ()
    format: str
    height: int
    width: int
    channels: int
    size: int  # bytes of the encoded image
    digest: bytes
    data: bytes | None = None
    fingerprint: int = 0  # perceptual hash (prep.images.fingerprint)
    split: str = ""
    source_format: str = ""
    thumbnail: bytes = b""  # the hash's YCbCr picture (prep.images.fingerprint)
    # a detection image's objects, placed (prep.images.boxes.Box, normalised), and its source id
    objects: tuple = ()
    source_id: str = ""
    source_digest: bytes = b""  # of the file as read: what an update compares the file with (prep.images.inventory)
    annotation: str = ""  # what its label was made from (its class folder, or its row's: prep.images.manifest.annotation_key)
    source_stat: tuple = ()  # the file's (size, modification time), when an update may trust them (prep.images.inventory)
    mask: bytes = b""  # a segmentation image's mask, as its record stores it (prep.images.masks)
    mask_pixels: tuple = ()  # its ((value, pixels), ...)
    object_masks: tuple = ()  # a detection image's objects' masks (--coco --masks): a PNG each, in the order of `objects`

    @property
    def record_size(self) -> int:
        return self.size + len(self.mask) + sum(map(len, self.object_masks)) + RECORD_OVERHEAD


def pending_image(relative_path: str, label: int | tuple, class_name: str | tuple[str, ...], image: ImageRecord,
                  split: str, objects: tuple = (), source_id: str = "", source: bytes = b"",
                  annotation: str = "", stat: tuple = (), mask: PlacedMask | None = None,
                  object_masks: tuple = ()) -> PendingImage:
    """`source`: the file's bytes as read (a kept image's are `image.data`: its digest is taken once)."""
    digest = content_digest(image.data)
    return PendingImage(
        relative_path, label, class_name, image.format, image.height, image.width, image.channels,
        len(image.data), digest, image.data if image.reencoded else None,
        image.fingerprint, split, image.source_format, image.thumbnail, objects, source_id,
        content_digest(source) if image.reencoded else digest, annotation, stat,
        mask.data if mask else b"", mask.pixels if mask else (), object_masks)


# The features every image record has, in the order image_example gives their values.
_IMAGE_FEATURES = {
    IMAGE_KEY: "string",
    "image/format": "string",
    "image/height": "int64",
    "image/width": "int64",
    "image/channels": "int64",
    "image/filename": "string",
}
_CLASS_RECORD = FixedExample(_IMAGE_FEATURES | {LABEL_KEY: "int64", "label/name": "string"})


def image_example(image: PendingImage, read: Callable[[str], bytes], label_kind: str = "class") -> bytes:
    """The serialised `tf.train.Example` of one image; `read(relative path)` gives a kept file's bytes
    again. `label_kind` (a key of LABEL_KEYS) says what `image.label` holds."""
    data = image.data
    if data is None:
        data = read(image.relative_path)
        if content_digest(data) != image.digest:
            raise SourceChangedError(f"{image.relative_path} changed while the job ran: rerun it on a stable SRC")
    values = (data, image.format, image.height, image.width, image.channels, image.relative_path)
    if label_kind == "class":
        return _CLASS_RECORD.encode(*values, image.label, image.class_name)
    features = {key: (dtype, [value]) for (key, dtype), value in zip(_IMAGE_FEATURES.items(), values)}
    if label_kind == "detection":
        return encode_example(_detection_features(features, image))
    if label_kind == "segmentation":
        features[ENCODED_KEY] = features.pop(IMAGE_KEY)
        features[MASK_KEY] = ("string", [image.mask])
        features[MASK_FORMAT_KEY] = ("string", ["png"])
        return encode_example(features)
    if label_kind == "multi_label":
        features[MULTI_LABEL_KEY] = ("int64", list(image.label))
        features[f"{MULTI_LABEL_KEY}/name"] = ("string", list(image.class_name))
    else:
        features[TARGET_KEY] = ("float32", list(image.label))
    return encode_example(features)


def _detection_features(features: dict, image: PendingImage) -> dict:
    """An image's features under the Object Detection API's keys, and its objects'."""
    features[ENCODED_KEY] = features.pop(IMAGE_KEY)
    features["image/source_id"] = ("string", [image.source_id])
    objects = image.objects
    for i, key in enumerate(BOX_KEYS):
        features[key] = ("float32", [box[i] for box in objects])
    # the same boxes as one list, [ymin, xmin, ymax, xmax] per object: what TFDS's BBoxFeature reads
    features[f"{OBJECT}/bbox"] = ("float32", [v for box in objects for v in (box.ymin, box.xmin, box.ymax, box.xmax)])
    features[OBJECT_LABEL_KEY] = ("int64", list(image.label))
    features[f"{OBJECT}/class/text"] = ("string", [box.label for box in objects])
    features[f"{OBJECT}/area"] = ("float32", [box.area for box in objects])
    for flag in ("is_crowd", "difficult", "truncated"):
        features[f"{OBJECT}/{flag}"] = ("int64", [int(getattr(box, flag)) for box in objects])
    if image.object_masks:
        features[OBJECT_MASK_KEY] = ("string", list(image.object_masks))
    return features


def _object_features(instance_masks: bool = False, size: tuple[int, int] | None = None) -> tuple[Feature, ...]:
    """A detection record's label: its image's id and one group of per-object features (with each
    object's mask, with `instance_masks`: `size` is the (height, width) of every mask, when they all
    have one)."""
    def per_object(name: str, dtype: str, description: str, **more) -> Feature:
        return Feature(f"{OBJECT}/{name}", dtype, None, more.pop("encoding", "number"), description,
                       group=OBJECTS_GROUP, **more)

    return (
        Feature("image/source_id", "string", (), "text", "the image's id in its annotations (COCO's image id, VOC's file stem)"),
        *(per_object(f"bbox/{c}", "float32", f"box {c}, normalised to [0, 1] of the image's {'width' if c[0] == 'x' else 'height'}")
          for c in ("xmin", "ymin", "xmax", "ymax")),
        Feature(f"{OBJECT}/bbox", "float32", None, "number",
                "the boxes again as one list, [ymin, xmin, ymax, xmax] per object (TFDS's BBoxFeature in a Sequence)"),
        per_object("class/label", "int64", f"class id from {FIRST_OBJECT_ID}: line i of vocab/labels.txt names id i + {FIRST_OBJECT_ID} "
                   "(vocab/label_map.pbtxt is the Object Detection API's label map)", encoding="class_id",
                   vocabulary=LABELS_VOCABULARY),
        per_object("class/text", "string", "class name", encoding="text"),
        per_object("area", "float32", "area in pixels of the stored image (COCO: of the segmentation, scaled with the image)"),
        per_object("is_crowd", "int64", "1: a crowd of objects in one box (COCO's iscrowd)"),
        per_object("difficult", "int64", "1: marked difficult (Pascal VOC)"),
        per_object("truncated", "int64", "1: marked truncated (Pascal VOC)"),
    ) + ((per_object("mask", "string", "the object's mask: a one-channel PNG of 0 and 1 the stored image's size (the "
                     "Model Garden's create_coco_tf_record --include_masks)", encoding="instance_mask",
                     image=ImageInfo("png", 1, *(size or (None, None)))),)
         if instance_masks else ())


def label_map(classes: tuple[str, ...]) -> bytes:
    """The Object Detection API's label map (label_map.pbtxt) of the class list, ids from FIRST_OBJECT_ID."""
    # a name quoted as JSON quotes it: protobuf text format reads JSON's escapes
    items = "".join(f"item {{\n  id: {i}\n  name: {json.dumps(name, ensure_ascii=False)}\n}}\n"
                    for i, name in enumerate(classes, FIRST_OBJECT_ID))
    return items.encode("utf-8")


def label_features(label_kind: str = "class", targets: tuple[str, ...] = (), size: tuple[int, int] | None = None,
                   ignore: int | None = None, instance_masks: bool = False) -> tuple[Feature, ...]:
    """The schema's features of a record's label: one class, several classes (class ids in ascending
    order and their names), the regression targets named `targets` (a scalar for one), objects, or a
    mask of class ids (`size`: the (height, width) of every mask, when they all have one; `ignore`: the
    value of pixels of no class)."""
    if label_kind == "detection":
        return _object_features(instance_masks, size)
    if label_kind == "segmentation":
        height, width = size or (None, None)
        return (
            Feature(MASK_KEY, "string", (), "segmentation_mask",
                    f"one-channel PNG of class ids, the image's size: line i of vocab/labels.txt names id i; "
                    f"{ignore} marks pixels of no class", vocabulary=LABELS_VOCABULARY,
                    image=ImageInfo("png", 1, height, width), ignore_value=ignore),
            Feature(MASK_FORMAT_KEY, "string", (), "text", "format of the mask's bytes: png"),
        )
    if label_kind == "multi_label":
        return (
            Feature(MULTI_LABEL_KEY, "int64", None, "class_id",
                    "class ids of the image's labels, ascending: line i of vocab/labels.txt names id i",
                    vocabulary=LABELS_VOCABULARY),
            Feature(f"{MULTI_LABEL_KEY}/name", "string", None, "text", "the labels' class names, in the order of their ids"),
        )
    if label_kind == "regression":
        shape = () if len(targets) == 1 else (len(targets),)
        return (Feature(TARGET_KEY, "float32", shape, "number", f"regression target: {', '.join(targets)}",
                        value_names=tuple(targets)),)
    return (
        Feature(LABEL_KEY, "int64", (), "class_id", "class id: line i of vocab/labels.txt names id i",
                vocabulary=LABELS_VOCABULARY),
        Feature("label/name", "string", (), "text", "class name (the class folder, or the manifest's label)"),
    )


def image_features(options: ImageOptions, formats: set[str], size: tuple[int, int] | None = None,
                   label_kind: str = "class", targets: tuple[str, ...] = (), ignore: int | None = None,
                   instance_masks: bool = False) -> tuple[Feature, ...]:
    """The schema's features for images converted with `options`; `formats` are those written, `size`
    the (height, width) in pixels every written image has, when they all have one (after --resize, or
    a folder of same-sized images such as the UCI digits), so readers need no image_size; the label's
    as `label_features` gives them."""
    fmt = next(iter(formats)) if len(formats) == 1 else "mixed"
    if options.resize:
        size = (options.resize[1], options.resize[0])
    height, width = size or (None, None)
    return (
        # a detection or segmentation record keeps its image under the Object Detection API's key
        Feature(ENCODED_KEY if label_kind in ENCODED_KINDS else IMAGE_KEY, "string", (), "image", "encoded image bytes",
                image=ImageInfo(fmt, options.channels, height, width)),
        Feature("image/format", "string", (), "text", "format of the encoded bytes: jpeg, png, gif or bmp"),
        Feature("image/height", "int64", (), "number", "height in pixels"),
        Feature("image/width", "int64", (), "number", "width in pixels"),
        Feature("image/channels", "int64", (), "number", "channels the image decodes to"),
        Feature("image/filename", "string", (), "text", "source path relative to SRC"),
    ) + label_features(label_kind, targets, size, ignore, instance_masks)
