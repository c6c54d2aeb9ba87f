"""Reading the input files of a job: a local file directly, anything else through Beam's FileSystems."""

from __future__ import annotations

import os

from apache_beam.io.filesystems import FileSystems

from prep.core import layout as layouts


def read_file(path: str) -> bytes:
    if "://" in path:
        with FileSystems.open(path, compression_type="uncompressed") as f:
            return f.read()
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    if not os.path.isfile(path):
        # a FIFO or device would block or never end: it is not an image file
        raise OSError("not a regular file (a FIFO, socket or device)")
    # A local file is read directly: Beam's FileSystems.open looks its file system up among every
    # plugin on each call, a tenth of the per-image cost of a kept JPEG.
    with open(path, "rb") as f:
        return f.read()


def image_path(src: str, name: str) -> str:
    """Where the image a record names is: `name` is relative to SRC, or (a manifest's image outside
    SRC) a full path."""
    return name if "://" in name or name.startswith("/") else layouts.source_path(name, src)


def read_image(src: str, name: str) -> bytes:
    """The bytes of a kept image again, when its shard is written."""
    return read_file(image_path(src, name))
