"""The record of one image: its feature keys, its `tf.train.Example` bytes, and its schema features.

Keys follow TensorFlow Datasets (`image`, `label`; what describes the image under `image/`), so a
prep image dataset is also a TFDS dataset once its metadata files sit beside the shards.
"""

from __future__ import annotations

from prep.example_codec import encode_example
from prep.imaging import ImageOptions, ImageRecord
from schemas import Feature, ImageInfo

IMAGE_KEY = "image"
LABEL_KEY = "label"
LABELS_VOCABULARY = "labels"


def image_example(image: ImageRecord, label: int, class_name: str, relative_path: str) -> bytes:
    """The serialised `tf.train.Example` of one image."""
    return encode_example({
        IMAGE_KEY: ("string", [image.data]),
        "image/format": ("string", [image.format]),
        "image/height": ("int64", [image.height]),
        "image/width": ("int64", [image.width]),
        "image/channels": ("int64", [image.channels]),
        "image/filename": ("string", [relative_path]),
        LABEL_KEY: ("int64", [label]),
        "label/name": ("string", [class_name]),
    })


def image_features(options: ImageOptions, formats: set[str]) -> tuple[Feature, ...]:
    """The schema's features for images converted with `options`; `formats` are those written."""
    fmt = next(iter(formats)) if len(formats) == 1 else "mixed"
    height, width = (options.resize[1], options.resize[0]) if options.resize else (None, None)
    return (
        Feature(IMAGE_KEY, "string", (), "image", "encoded image bytes",
                image=ImageInfo(fmt, options.channels, height, width)),
        Feature("image/format", "string", (), "text", "format of the encoded bytes: jpeg, png, gif or bmp"),
        Feature("image/height", "int64", (), "number", "height in pixels"),
        Feature("image/width", "int64", (), "number", "width in pixels"),
        Feature("image/channels", "int64", (), "number", "channels the image decodes to"),
        Feature("image/filename", "string", (), "text", "source path relative to SRC"),
        Feature(LABEL_KEY, "int64", (), "class_id", "class id: line i of vocab/labels.txt names id i",
                vocabulary=LABELS_VOCABULARY),
        Feature("label/name", "string", (), "text", "class name (the class folder)"),
    )
