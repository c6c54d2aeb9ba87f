"""Every image prep keeps or writes decodes with TensorFlow's own decoders, to the size prep records.

The oracle is TensorFlow itself (run in both environments: TensorFlow 2.21 and 2.15), over two corpora:
every file of Pillow's own Tests/images (hundreds of odd, damaged and unusual files in every format Pillow
reads, from the sdist of the Pillow that is installed) and seeded random mutations (bit flips, cuts,
insertions, and for PNG flips with their chunk CRCs made right again) of valid GIF, PNG, JPEG and BMP files.
A file prep rejects is fine; a record TensorFlow refuses, or decodes to another shape, is the failure a
training run would meet in hour three.
"""

from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path

import pytest

from prep.images.imaging import ImageOptions, ImageRejected, normalise_image, sniff_format

CHANNELS = (1, 3, 4)
MUTATIONS_PER_SEED = 400
CACHE = Path(__file__).resolve().parents[2] / ".cache"


def _tensorflow_problems(data: bytes, channels: int) -> list[str]:
    """What TensorFlow says of the record prep makes of `data` with `channels` ([] when prep rejects it)."""
    import tensorflow as tf

    try:
        record = normalise_image(data, ImageOptions(channels=channels))
    except ImageRejected:
        return []
    expected = (record.height, record.width, record.channels)
    own = getattr(tf.io, f"decode_{record.format}")  # as its image/format says
    decoders = {"decode_image": lambda b: tf.io.decode_image(b, channels=channels, expand_animations=False),
                # decode_gif takes no channels and gives [frames, height, width, 3]
                f"decode_{record.format}": (lambda b: own(b)[0]) if record.format == "gif"
                else lambda b: own(b, channels=channels)}
    problems = []
    for name, decode in decoders.items():
        kind = "kept" if not record.reencoded else "re-encoded"
        try:
            shape = tuple(decode(record.data).shape)
        except Exception as e:  # TensorFlow's InvalidArgumentError, whose text names the decoder's complaint
            problems.append(f"{kind} {record.format}: {name} fails: {str(e).splitlines()[0][-160:]}")
            continue
        if shape != expected:
            problems.append(f"{kind} {record.format}: {name} gives {shape}, the record says {expected}")
    return problems


def _listed(failures: list[str], shown: int = 20) -> str:
    more = f"\n... and {len(failures) - shown} more" if len(failures) > shown else ""
    return f"{len(failures)} records TensorFlow does not decode as prep says:\n" + "\n".join(failures[:shown]) + more


@pytest.fixture(scope="session")
def pillow_test_images() -> list[tuple[str, bytes]]:
    """(name, bytes) of every file in Tests/images of the installed Pillow's sdist, fetched once from PyPI."""
    import PIL

    sdist = CACHE / f"pillow-{PIL.__version__}.tar.gz"
    if not sdist.exists():  # fetched beside, then renamed: the suite of .venv-tf215 may fetch it at the same time
        CACHE.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as fetched:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                            "--no-binary", ":all:", f"pillow=={PIL.__version__}", "-d", fetched],
                           check=True, capture_output=True)
            os.replace(Path(fetched) / sdist.name, sdist)
    with tarfile.open(sdist) as tar:
        return [(member.name.split("/Tests/images/", 1)[1], tar.extractfile(member).read())
                for member in tar.getmembers() if member.isfile() and "/Tests/images/" in member.name]


def test_every_record_made_from_pillows_test_images_decodes_with_tensorflow(pillow_test_images):
    """Every channel count where prep may keep the file's bytes; 3 where Pillow's encoders always write the
    record (TIFF, WebP, JPEG 2000, DDS, ...: their decoding is most of this test's time, not the question)."""
    assert len(pillow_test_images) > 1000, "Pillow's sdist no longer ships its test images"
    failures = [f"{name} (channels {channels}): {problem}"
                for name, data in pillow_test_images
                for channels in (CHANNELS if sniff_format(data) in ("jpeg", "png", "gif", "bmp") else (3,))
                for problem in _tensorflow_problems(data, channels)]
    assert not failures, _listed(failures)


def _seeds() -> dict[str, bytes]:
    """Valid files of each format prep may keep, in the modes that keep them."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 190, 56)[None, :, None]
    image = Image.fromarray((rng.random((40, 56, 3)) * 64 + ramp).astype("uint8"))

    def encode(im, fmt, **options) -> bytes:
        out = io.BytesIO()
        im.save(out, fmt, **options)
        return out.getvalue()

    return {
        "gif": encode(image.convert("P"), "GIF"),
        "gif_grey": encode(image.convert("L"), "GIF"),
        "png_rgb": encode(image, "PNG"),
        "png_palette": encode(image.convert("P"), "PNG"),
        "png_grey_interlaced": encode(image.convert("L"), "PNG", interlace=True),
        "jpeg": encode(image, "JPEG", quality=90),
        "jpeg_progressive": encode(image, "JPEG", quality=90, progressive=True),
        "jpeg_grey": encode(image.convert("L"), "JPEG"),
        "bmp_rgb": encode(image, "BMP"),
        "bmp_grey": encode(image.convert("L"), "BMP"),
    }


def _with_png_crcs_made_right(data: bytearray) -> bytearray:
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        end = pos + 12 + length
        if end > len(data):
            break
        struct.pack_into(">I", data, end - 4, zlib.crc32(data[pos + 4:end - 4]))
        pos = end
    return data


def _mutations(data: bytes, rng: random.Random, count: int):
    kinds = ["flip", "flip", "cut", "insert"]
    if data.startswith(b"\x89PNG"):
        kinds += ["flip, CRCs made right"] * 4
    if data.startswith(b"\xff\xd8"):
        kinds += ["a byte of the scan made a marker"]
    for _ in range(count):
        kind, mutated = rng.choice(kinds), bytearray(data)
        if kind == "a byte of the scan made a marker":  # 0xFF then a marker code, where the last scan's data is
            at = rng.randrange(data.rindex(b"\xff\xda") + 16, len(data) - 4)
            mutated[at:at + 2] = bytes([0xFF, rng.choice([0xC4, 0xDB, 0xDD, 0xFE, 0xC0, 0xD8, *range(0xE0, 0xF0)])])
        elif kind.startswith("flip"):
            for _ in range(rng.randint(1, 4)):
                mutated[rng.randrange(8 if kind == "flip" else 33, len(mutated))] ^= 1 << rng.randrange(8)
            if kind != "flip":
                mutated = _with_png_crcs_made_right(mutated)
        elif kind == "cut":
            mutated = mutated[:rng.randrange(1, len(mutated))]
        else:
            at = rng.randrange(len(mutated))
            mutated[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        yield kind, bytes(mutated)


@pytest.mark.parametrize("seed", list(_seeds()))
def test_every_record_made_from_a_mutated_file_decodes_with_tensorflow(seed):
    rng = random.Random(f"mutations of {seed}")
    failures = [f"mutation {n} ({kind}), channels {channels}: {problem}"
                for n, (kind, data) in enumerate(_mutations(_seeds()[seed], rng, MUTATIONS_PER_SEED))
                for channels in CHANNELS
                for problem in _tensorflow_problems(data, channels)]
    assert not failures, _listed(failures)
