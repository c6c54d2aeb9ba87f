"""One input file's bytes in, one image ready for a TFRecord out (or a reason it was rejected).

`normalise_image` is pure per-record logic called from Beam DoFns: Pillow only, imported lazily so
that `prep --help` stays instant and DoFns pickle cleanly. What it guarantees for every record it
returns: `tf.io.decode_image(record.data, channels=options.channels, expand_animations=False)`
decodes to exactly `(record.height, record.width, record.channels)`.

Kept or re-encoded. The original bytes are stored unchanged when no `--resize` or `--format` is
asked for, the EXIF orientation is absent or 1, and TensorFlow decodes the file to the same pixels
Pillow sees:

- JPEG (and MPO, a JPEG with extra images appended by phones and cameras; TensorFlow reads the
  first one) in mode L or RGB, for channels 1 or 3 (TensorFlow cannot decode JPEG to 4 channels).
- PNG of bit depth 8 in any colour type (L, LA, RGB, RGBA, P, with or without tRNS), or 1, 2, 4
  for channels 1 and 3 (TensorFlow decodes those to alpha 2**depth - 1, not 255), single frame
  (not APNG).
- BMP, uncompressed 24-bit, or 8-bit with a grey-ramp palette, whose rows end exactly at the end
  of the file, for channels 3 or 4 (TensorFlow ignores BMP palettes, treats the 4th byte of
  32-bit BMPs as alpha where Pillow does not, and insists on the exact file size).

Everything else is decoded and re-encoded: to `--format` if given, else to JPEG when the source
was lossy (JPEG, MPO, lossy WebP; e.g. a CMYK JPEG or one with an EXIF rotation) and the output
has no alpha, and to PNG otherwise (PNG, GIF, BMP, TIFF, lossless WebP, ... and channels 4). GIF
is always re-encoded: giflib, which TensorFlow decodes GIF with, refuses files Pillow reads (an
extension whose first sub-block is empty, an LZW code size over 8, codes its decoder finds defective),
and only an LZW decode by giflib's rules could tell which; a GIF is small, and its PNG is lossless.
Re-encoding applies, in order:

1. EXIF orientation (the pixels are stored upright; TensorFlow ignores EXIF).
2. First frame only: animated GIF/PNG/WebP and multi-page TIFF keep frame 0.
3. Channels: 16-bit, 32-bit and float grey (I;16 in every byte order, I, F) go to 8 bits as
   `--high-bit-depth` says (prep.images.depth: by default the high byte, x >> 8, so 65535 -> 255,
   the same rule as TensorFlow's uint16 -> uint8 and Pillow's 16-bit RGB reading; or each image's
   own range stretched to 0-255); CMYK, YCbCr, ... go to RGB; palette or key-colour transparency goes to RGBA first. Alpha is
   *dropped* for channels 1 and 3 (the colour under it is kept as stored, not composited onto
   black), because that is what TensorFlow does when it decodes a kept RGBA PNG to 1 or 3
   channels: one rule whether a file was kept or re-encoded. Channels 4 from an opaque image
   gets alpha 255. A mode Pillow opens but cannot convert is rejected as unsupported_mode.
4. Resize with bilinear filtering: stretch to the size, pad (keep aspect, centre, fill with
   zeros: black, and transparent for channels 4, like tf.image.resize_with_pad), or crop (keep
   aspect, scale to cover, centre crop). A JPEG is first decoded at the smallest DCT scale
   (1/2, 1/4 or 1/8) that still covers the target size, several times faster than a full decode.
5. Encode deterministically: no metadata (ICC profile, EXIF, comments and text are dropped;
   TensorFlow ignores them), JPEG at `--quality` with Pillow's default 4:2:0 subsampling, PNG
   at zlib's default level without `optimize`.

Validity. Every image is decoded in full, so a cut or damaged file is rejected rather than
stored. Pillow alone is not strict enough: it accepts a PNG without its IEND chunk, with a bad
CRC, or whose compressed data ends before the last row (it paints the rest black), a GIF missing
its last blocks, and a JPEG whose markers after its last row are broken (Pillow stops reading at
the last row; TensorFlow reads on to the end-of-image marker and fails on a segment that runs past
the end of the file, a malformed table, a second frame), all of which TensorFlow refuses. So JPEG,
PNG and GIF files also get a walk over their structure before decoding; for PNG this includes
inflating the image data once more (about half the cost of Pillow's decode). The test suite
decodes every record with TensorFlow over Pillow's own test images and seeded mutations of valid
files (tests/images/test_tensorflow_decodes.py). A kept JPEG is validated with Pillow's
reduced-scale `draft()` decoding, which still entropy-decodes every scan: the tests cut JPEGs at
every 1% and in their last 16 bytes and show draft and full decoding reject exactly the same cuts.
"""

from __future__ import annotations

import contextlib
import io
import re
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prep.images import depth
from prep.images.boxes import crop_window, pad_placement, upright_size
from prep.images.fingerprint import Reduced, fingerprint, reduced

if TYPE_CHECKING:
    from PIL import Image

RESIZE_MODES = ("stretch", "pad", "crop")
OUTPUT_FORMATS = ("jpeg", "png")
# What prep stores as it is, when TensorFlow decodes it to Pillow's pixels. GIF is not among them: giflib,
# inside TensorFlow, refuses GIFs Pillow reads (an empty extension, an LZW code size over 8, codes it
# finds defective) and knowing needs an LZW decode with giflib's rules, so GIFs are re-encoded.
KEPT_FORMATS = ("jpeg", "png", "bmp")

REASONS: dict[str, str] = {
    "empty_file": "the file has zero bytes",
    "not_an_image": "Pillow cannot identify the file as an image",
    "truncated": "the image data ends early (file cut short)",
    "corrupt": "the image data is damaged and cannot be decoded",
    "too_many_pixels": "the header claims more pixels than --max-pixels (decompression bomb guard)",
    "unsupported_mode": "pixel mode cannot be converted to the requested channels",
}

# Image.open refuses anything over 2 * Image.MAX_IMAGE_PIXELS (default 89_478_485) before prep
# sees the size, so a larger --max-pixels could never be honoured.
_PILLOW_HARD_LIMIT = 2 * 89_478_485
_CHANNEL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
_EXIF_ORIENTATION = 0x0112
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
_PNG_BIT_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_ADAM7_PASSES = (  # (first column, first row, column step, row step) of each interlace pass
    (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)
)


@dataclass(frozen=True)
class ImageOptions:
    """How every image of a job is normalised; built once by the CLI from its flags.

    resize is (width, height) in pixels; max_pixels is a width*height count read from the header.
    """

    resize: tuple[int, int] | None = None
    resize_mode: str = "stretch"
    format: str | None = None
    quality: int = 95
    channels: int = 3
    max_pixels: int = 89_478_485
    fingerprint: bool = True  # take each image's perceptual hash, for near-copy detection
    high_bit_depth: str = "shift"  # how 16-bit, 32-bit and float pixels go to 8 bits: prep.images.depth

    def __post_init__(self) -> None:
        if self.resize is not None and not (
            isinstance(self.resize, tuple)
            and len(self.resize) == 2
            and all(isinstance(v, int) and v > 0 for v in self.resize)
        ):
            raise ValueError(
                f"--resize must be two positive integers WIDTH,HEIGHT (pixels), got {self.resize!r}"
            )
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(
                f"--resize-mode must be one of {', '.join(RESIZE_MODES)}, got {self.resize_mode!r}"
            )
        if self.format is not None and self.format not in OUTPUT_FORMATS:
            raise ValueError(
                f"--format must be one of {', '.join(OUTPUT_FORMATS)} (or left out to keep "
                f"originals), got {self.format!r}"
            )
        if not (isinstance(self.quality, int) and 1 <= self.quality <= 95):
            raise ValueError(
                f"--quality must be an integer from 1 to 95 (Pillow advises against more), "
                f"got {self.quality!r}"
            )
        if self.high_bit_depth not in depth.POLICIES:
            raise ValueError(
                f"--high-bit-depth must be one of {', '.join(depth.POLICIES)}, got {self.high_bit_depth!r}"
            )
        if self.channels not in _CHANNEL_MODES:
            raise ValueError(f"--channels must be 1, 3 or 4, got {self.channels!r}")
        if not (isinstance(self.max_pixels, int) and 1 <= self.max_pixels <= _PILLOW_HARD_LIMIT):
            raise ValueError(
                f"--max-pixels must be an integer from 1 to {_PILLOW_HARD_LIMIT} (Pillow "
                f"refuses to open larger images), got {self.max_pixels!r}"
            )
        if self.format == "jpeg" and self.channels == 4:
            raise ValueError(
                "--format jpeg cannot store --channels 4 (JPEG has no alpha); "
                "use --format png or --channels 3"
            )


@dataclass(frozen=True)
class ImageRecord:
    """The image to store: encoded bytes plus what TensorFlow will decode them to.

    height and width are in pixels, as tf.io.decode_image(data, channels=channels,
    expand_animations=False) returns them.
    """

    data: bytes
    format: str
    height: int
    width: int
    channels: int
    reencoded: bool
    source_format: str
    fingerprint: int = 0  # 64-bit perceptual hash of the picture, for near-duplicate detection (0: none)
    thumbnail: bytes = b""  # its YCbCr picture (prep.images.fingerprint), the second check of a near pair
    # normalise_image(defer_fingerprint=True): what prep.images.fingerprint.fingerprints takes, to hash
    # many images at once (fingerprint and thumbnail are then left empty)
    reduced: Reduced | None = None
    # What boxes on the source need to follow the pixels (prep.images.boxes): the EXIF orientation that
    # was applied, and the (width, height) in pixels of the image as the file stores it.
    orientation: int = 1
    stored_size: tuple[int, int] = (0, 0)


class ImageRejected(Exception):
    """An input file that cannot become a training image; `reason` is a key of REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}; add it to imaging.REASONS")
        # Both go to Exception.__init__ so that pickling (Beam moves errors between workers)
        # rebuilds the exception with the same two arguments.
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def sniff_format(data: bytes) -> str | None:
    """The image format named by the first bytes of a file, without decoding anything.

    Returns one of "jpeg", "png", "gif", "bmp", "webp", "tiff", or None if none matches.
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(_PNG_SIGNATURE):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    return None


def normalise_image(data: bytes, options: ImageOptions, defer_fingerprint: bool = False) -> ImageRecord:
    """Validate one file's bytes and return the image to store, or raise ImageRejected.

    The original bytes are kept when TensorFlow decodes them faithfully and no resize or format
    change is asked for; otherwise the pixels are re-encoded (see the module docstring). With
    `defer_fingerprint`, the record carries its `reduced` image instead of its fingerprint, for a caller
    that hashes many at once (prep.images.fingerprint.fingerprints).
    """
    if not data:
        raise ImageRejected("empty_file", "the file has zero bytes")
    kind = sniff_format(data)
    _check_structure(data, kind, options.max_pixels)
    with _open(data, kind, options.max_pixels) as im:
        with _decoding_errors():
            if kind != "jpeg":
                # Load before reading EXIF: PNG may keep eXIf after the pixels, and only JPEG
                # needs to stay unloaded here so that draft() can still pick a scale.
                im.load()
            orientation = _exif_orientation(im)
            stored_size = im.size  # before draft() scales a JPEG down
            kept_format = _kept_format(im, data, orientation, options)
            if kept_format is not None:
                width, height = im.size
                # 1/8 scale is the cheapest JPEG decode that still reads every scan; the fingerprint
                # needs the colour, which costs about 57 us more than greyscale (draft is a no-op for
                # other formats, already loaded above).
                im.draft("YCbCr" if options.fingerprint else "L", (1, 1))
                im.load()
                return ImageRecord(
                    data=data,
                    format=kept_format,
                    height=height,
                    width=width,
                    channels=options.channels,
                    reencoded=False,
                    source_format=im.format.lower(),
                    **_perceptual(im, (width, height), options, defer_fingerprint),
                    stored_size=stored_size,
                )
            # A JPEG decodes straight to luma for channels 1 (as TensorFlow does) and, when
            # shrinking, at the smallest DCT scale still at least the target size.
            luma = "L" if options.channels == 1 else None
            im.draft(luma, _draft_size(options.resize, orientation))
            im.load()
        return _reencode(im, data, orientation, options, stored_size, defer_fingerprint)


def decoded(data: bytes, max_pixels: int) -> Image.Image:
    """The loaded pixels of one file, as strictly checked as normalise_image checks an image (for a
    file that is not stored as an image itself: a segmentation mask); ImageRejected when they cannot be."""
    if not data:
        raise ImageRejected("empty_file", "the file has zero bytes")
    kind = sniff_format(data)
    _check_structure(data, kind, max_pixels)
    im = _open(data, kind, max_pixels)
    with _decoding_errors():
        im.load()
    return im


def _check_structure(data: bytes, kind: str | None, max_pixels: int) -> None:
    """Reject cut or damaged JPEG, PNG and GIF files that Pillow would decode anyway."""
    if kind == "jpeg":
        _check_jpeg_markers(data)
    elif kind == "png":
        _check_png(data, max_pixels)
    elif kind == "gif":
        _check_gif_blocks(data)


def _check_jpeg_markers(data: bytes) -> None:
    """Walk the JPEG's markers to its end-of-image marker, as libjpeg inside TensorFlow reads them.

    Pillow stops reading a single-scan JPEG once it has its last row; TensorFlow reads on to the end of
    the image (jpeg_finish_decompress) and fails on what it meets there, where Pillow never looks: a
    segment that runs past the end of the file (a byte of the scan damaged into a marker such as
    0xFFEB), a malformed table, a second scan, frame or start-of-image, a reserved marker, or no
    end-of-image marker at all. The header segments before the scan are walked by their lengths (an
    EXIF thumbnail carries its own end marker); inside entropy-coded data 0xFF is always stuffed or a
    restart marker, so the first other marker ends a scan, as in libjpeg.
    """
    pos, size = 2, len(data)
    components, progressive = 0, False
    while True:
        pos = data.find(b"\xff", pos)  # libjpeg skips junk between segments, so do we
        if pos == -1 or pos + 4 > size:
            raise ImageRejected("truncated", f"JPEG ends at byte {size}, inside its header")
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan
            break
        if marker == 0xD9:
            raise ImageRejected("corrupt", f"JPEG ends (byte {pos}) before any scan")
        if marker in _JPEG_FRAMES and pos + 10 <= size:
            components, progressive = data[pos + 9], marker in _JPEG_PROGRESSIVE_FRAMES
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    # libjpeg reads every scan of a progressive or multi-scan file before its first row, in Pillow too
    multiple_scans = progressive or pos + 4 >= size or data[pos + 4] < components  # cut there: truncated below
    marker, scans = 0xDA, 0
    while marker != 0xD9:
        if marker == 0xDA and (scans == 0 or multiple_scans):
            scans += 1
            found = _JPEG_SCAN_END.search(data, _jpeg_segment_end(data, pos))
        elif marker in _JPEG_SEGMENTS_AFTER_SCAN:
            found = _JPEG_MARKER.search(data, _jpeg_segment_end(data, pos))
        else:
            raise ImageRejected("corrupt", f"JPEG has marker 0xFF{marker:02X} after its scan (byte {pos})")
        if found is None:
            raise ImageRejected(
                "truncated", f"JPEG has no end-of-image marker after its scan (byte {pos} of {size})"
            )
        pos = found.start()
        marker = data[pos + 1]


_JPEG_FRAMES = frozenset([0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF])
_JPEG_PROGRESSIVE_FRAMES = frozenset([0xC2, 0xC6, 0xCA, 0xCE])
# The first marker that ends entropy-coded data: 0xFF, then neither a stuffed 0, a restart marker nor fill.
_JPEG_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# The next marker between segments, as libjpeg's next_marker finds it (junk, fill and 0xFF00 skipped).
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xff]")
# What libjpeg reads without failing after a scan: tables (0xC4 Huffman, 0xCC arithmetic conditioning,
# 0xDB quantisation, 0xDD restart interval), 0xDC DNL, APPn, comments, restart and TEM markers without a
# length, and (in a file of several scans) the next scan. SOF, SOI and reserved markers are fatal there.
_JPEG_SEGMENTS_AFTER_SCAN = frozenset([0x01, 0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xFE, *range(0xD0, 0xD8),
                                      *range(0xE0, 0xF0)])


def _jpeg_segment_end(data: bytes, pos: int) -> int:
    """Where the marker segment at `pos` ends, inside the file, its tables read as libjpeg reads them."""
    marker = data[pos + 1]
    if marker == 0x01 or 0xD0 <= marker <= 0xD7:
        return pos + 2
    length = int.from_bytes(data[pos + 2 : pos + 4], "big")
    end = pos + 2 + length
    if end > len(data) or pos + 4 > len(data):
        raise ImageRejected(
            "truncated", f"JPEG marker 0xFF{marker:02X} at byte {pos} runs past the end of the file ({len(data)} bytes)"
        )
    check = _JPEG_TABLE_CHECKS.get(marker)
    if length < 2 or check is not None and not check(data[pos + 4 : end]):
        raise ImageRejected("corrupt", f"JPEG segment 0xFF{marker:02X} at byte {pos} is malformed")
    return end


def _valid_huffman_tables(body: bytes) -> bool:
    """libjpeg-turbo's get_dht: tables of 17 bytes and at most 256 codes, class 0-1, id 0-3, no bytes left."""
    pos = 0
    while len(body) - pos > 16:
        index, codes = body[pos], sum(body[pos + 1 : pos + 17])
        pos += 17 + codes
        if codes > 256 or pos > len(body) or (index & ~0x10) > 3:
            return False
    return pos == len(body)


def _valid_quant_tables(body: bytes) -> bool:
    """libjpeg-turbo's get_dqt: id 0-3, 64 values of 8 or 16 bits (fewer in a short last table)."""
    left = len(body)
    while left > 0:
        precision, table = body[len(body) - left] >> 4, body[len(body) - left] & 15
        left -= 1
        if table > 3:
            return False
        count = min(64, left >> 1 if precision else left)
        left -= count * 2 if precision else count
    return left == 0


def _valid_arithmetic_conditioning(body: bytes) -> bool:
    """libjpeg's get_dac: pairs of (table 0-31, value), a DC table's low nibble at most its high one."""
    pairs = [body[i : i + 2] for i in range(0, len(body), 2)]
    return len(body) % 2 == 0 and all(
        index < 32 and (index >= 16 or value & 15 <= value >> 4) for index, value in pairs
    )


_JPEG_TABLE_CHECKS = {
    0xC4: _valid_huffman_tables,
    0xDB: _valid_quant_tables,
    0xCC: _valid_arithmetic_conditioning,
    0xDD: lambda body: len(body) == 2,  # get_dri: a restart interval and nothing else
}


def _check_png(data: bytes, max_pixels: int) -> None:
    """Walk the chunks to IEND checking every CRC, then inflate the image data to its end.

    libpng, inside TensorFlow, fails on a missing IEND, a bad CRC, a compressed stream that ends
    before the last row or fails its checksum. Pillow checks none of these: it fills missing rows
    with black. Inflating a second time costs about half of Pillow's own decode.
    """
    pos, size = 8, len(data)
    idat: list[tuple[int, int]] = []  # (start, end) byte offsets of each IDAT chunk's payload
    palette_entries = 0
    with memoryview(data) as view:
        while True:
            if pos + 12 > size:
                raise ImageRejected("truncated", f"PNG ends at byte {size} before its IEND chunk")
            length, chunk_type = struct.unpack_from(">I4s", data, pos)
            name = chunk_type.decode("latin-1")
            end = pos + 12 + length
            if end > size:
                raise ImageRejected(
                    "truncated",
                    f"PNG chunk {name} at byte {pos} runs past the end of the file ({size} bytes)",
                )
            if zlib.crc32(view[pos + 4 : end - 4]) != int.from_bytes(view[end - 4 : end], "big"):
                raise ImageRejected("corrupt", f"PNG chunk {name} (byte {pos}) fails its CRC check")
            if pos == 8 and (chunk_type != b"IHDR" or length != 13):
                raise ImageRejected("corrupt", f"PNG starts with chunk {name}, not a 13-byte IHDR")
            if chunk_type == b"IDAT":
                idat.append((pos + 8, end - 4))
            elif chunk_type == b"PLTE":
                palette_entries = length // 3 if length % 3 == 0 else 0
            elif chunk_type == b"IEND":
                break
            elif chunk_type not in (b"IHDR", b"PLTE") and chunk_type[0] & 0x20 == 0:
                # An upper-case first letter marks a chunk a decoder must understand.
                raise ImageRejected("corrupt", f"PNG has an unknown critical chunk {name}")
            pos = end
        width, height, depth, color_type, compression, filtering, interlace = struct.unpack_from(
            ">IIBBBBB", data, 16
        )
        _check_pixel_count(width, height, max_pixels)  # before inflating anything
        valid_depth = depth in _PNG_BIT_DEPTHS.get(color_type, ())
        if not valid_depth or compression or filtering or interlace > 1:
            raise ImageRejected(
                "corrupt",
                f"PNG header is invalid: colour type {color_type}, bit depth {depth}, "
                f"compression {compression}, filter {filtering}, interlace {interlace}",
            )
        if color_type == 3 and not 1 <= palette_entries <= 1 << depth:
            raise ImageRejected("corrupt", "PNG palette image has no valid PLTE chunk")
        expected = _png_raw_size(width, height, depth, color_type, interlace)
        inflater = zlib.decompressobj()
        produced = 0
        try:
            for start, stop in idat:
                pending = view[start:stop]
                while pending and not inflater.eof:
                    # Bounded output per call: the inflated image is counted, never held.
                    produced += len(inflater.decompress(pending, 1 << 20))
                    pending = inflater.unconsumed_tail
                if produced > expected:
                    break
        except zlib.error as exc:
            raise ImageRejected("corrupt", f"PNG image data does not inflate: {exc}") from exc
    if produced > expected:
        raise ImageRejected("corrupt", f"PNG image data inflates past the {expected} bytes needed")
    if not inflater.eof or produced < expected:
        raise ImageRejected(
            "truncated", f"PNG image data ends after {produced} of the {expected} bytes needed"
        )


def _png_raw_size(width: int, height: int, bit_depth: int, color_type: int, interlace: int) -> int:
    """Bytes of filtered scanlines (one filter byte per row) a valid PNG IHDR calls for."""
    bits = _PNG_SAMPLES[color_type] * bit_depth
    if not interlace:
        return height * (1 + (width * bits + 7) // 8)
    total = 0
    for x0, y0, dx, dy in _ADAM7_PASSES:
        pass_width = (width - x0 + dx - 1) // dx
        pass_height = (height - y0 + dy - 1) // dy
        if pass_width > 0 and pass_height > 0:
            total += pass_height * (1 + (pass_width * bits + 7) // 8)
    return total


def _check_gif_blocks(data: bytes) -> None:
    """Walk the GIF blocks to the trailer: Pillow stops early and accepts a cut file, so a GIF whose
    blocks do not reach their trailer is rejected rather than re-encoded from what Pillow guessed."""
    size = len(data)
    if size < 13:
        raise ImageRejected("truncated", f"GIF ends at byte {size}, inside its header")
    pos, images = 13 + 3 * _gif_colours(data[10]), 0
    while pos < size:
        block = data[pos]
        if block == 0x3B:  # trailer
            return
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_gif_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image: 10-byte descriptor, colour table, LZW code size, sub-blocks
            if pos + 10 > size:
                break
            pos = _skip_gif_sub_blocks(data, pos + 11 + 3 * _gif_colours(data[pos + 9]))
            images += 1
        elif images:
            return  # junk after a whole image: Pillow reads the frames before it, and prep keeps the first
        else:
            raise ImageRejected("corrupt", f"GIF has unknown block type 0x{block:02x} (byte {pos})")
    raise ImageRejected("truncated", f"GIF ends at byte {size} before its trailer")


def _gif_colours(flags: int) -> int:
    """Entries in the colour table announced by a GIF screen or image descriptor's flags."""
    return 2 << (flags & 7) if flags & 0x80 else 0


def _skip_gif_sub_blocks(data: bytes, pos: int) -> int:
    """Position after the zero-length block that ends a run of GIF sub-blocks starting at pos."""
    size = len(data)
    while pos < size:
        length = data[pos]
        pos += 1 + length
        if length == 0:
            return pos
    raise ImageRejected("truncated", f"GIF ends at byte {size} inside a data block")


def _open(data: bytes, kind: str | None, max_pixels: int) -> Image.Image:
    """Identify the image and check its header size; nothing is decoded yet."""
    from PIL import Image, UnidentifiedImageError

    try:
        # prep enforces its own --max-pixels below, so Pillow's warning for sizes between its
        # default limit and twice that is noise. catch_warnings is not thread-safe: threads
        # racing here can at worst leave this one ignore filter installed, which is harmless.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        if kind is None:
            raise ImageRejected(
                "not_an_image", "Pillow does not recognise the contents as any image format"
            ) from None
        raise ImageRejected(
            "corrupt", f"starts like a {kind.upper()} file but Pillow cannot read its header"
        ) from None
    except Exception as exc:  # a plugin parsing untrusted bytes can fail in many ways
        raise _decode_failure(exc) from exc
    try:
        _check_pixel_count(*im.size, max_pixels)
    except ImageRejected:
        im.close()
        raise
    return im


def _check_pixel_count(width: int, height: int, max_pixels: int) -> None:
    """Reject a header whose width*height (pixels) is over the --max-pixels limit."""
    if width * height > max_pixels:
        raise ImageRejected(
            "too_many_pixels",
            f"header says {width}x{height} = {width * height} pixels, over --max-pixels "
            f"{max_pixels}",
        )


@contextlib.contextmanager
def _decoding_errors() -> Iterator[None]:
    """Turn whatever Pillow raises while decoding untrusted bytes into an ImageRejected."""
    try:
        yield
    except ImageRejected:
        raise
    except Exception as exc:  # OSError, SyntaxError, ValueError, struct.error, ... all occur
        raise _decode_failure(exc) from exc


def _decode_failure(exc: Exception) -> ImageRejected:
    """Classify a Pillow exception: cut short, over Pillow's own pixel limit, or damaged."""
    from PIL import Image

    if isinstance(exc, Image.DecompressionBombError):
        return ImageRejected("too_many_pixels", str(exc))
    message = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError) or "truncated" in message.lower():
        return ImageRejected("truncated", message)
    return ImageRejected("corrupt", message)


def _exif_orientation(im: Image.Image) -> int:
    """The EXIF (or XMP) orientation, 1..8; 1 when absent."""
    try:
        orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # damaged EXIF is not damaged pixels, and TensorFlow never reads it
        return 1
    return orientation if orientation in range(1, 9) else 1


def _kept_format(im: Image.Image, data: bytes, orientation: int, options: ImageOptions) -> str | None:
    """The format to store the original bytes as, or None if they must be re-encoded.

    Called after the pixels are loaded, except for JPEG, whose decision needs only the header.
    """
    if options.format is not None or options.resize is not None or orientation != 1:
        return None
    channels = options.channels
    if im.format in ("JPEG", "MPO"):
        keep = im.mode in ("L", "RGB") and channels in (1, 3)
        return "jpeg" if keep else None
    if im.format == "PNG":
        bit_depth = data[24]  # IHDR comes first, checked by _check_png
        # TensorFlow gives a 1, 2 or 4-bit PNG an alpha of 2**depth - 1 instead of 255.
        depth_ok = bit_depth == 8 or (bit_depth < 8 and channels != 4)
        return "png" if depth_ok and getattr(im, "n_frames", 1) == 1 else None
    if im.format == "BMP":
        return "bmp" if channels in (3, 4) and _is_plain_bmp(data, im.mode) else None
    return None


def _is_plain_bmp(data: bytes, mode: str) -> bool:
    """Whether TensorFlow's BMP decoder reads this file to the pixels Pillow reads.

    It reads only uncompressed 8/24/32-bit pixels, takes 8-bit indices as grey levels (so the
    palette must be Pillow's grey ramp, mode L), takes the spare byte of 32-bit pixels as alpha,
    and insists the pixel rows end exactly at the end of the file.
    """
    (header_size,) = struct.unpack_from("<I", data, 14)
    if header_size < 40:  # OS/2 headers
        return False
    (pixel_offset,) = struct.unpack_from("<I", data, 10)
    width, height, _, bits, compression = struct.unpack_from("<iiHHI", data, 18)
    row_size = (bits // 8 * width + 3) // 4 * 4
    return (
        compression == 0
        and width > 0
        and (bits == 24 or (bits == 8 and mode == "L"))
        and pixel_offset + row_size * abs(height) == len(data)
    )


def _draft_size(resize: tuple[int, int] | None, orientation: int) -> tuple[int, int] | None:
    """The stored-orientation size (pixels) a JPEG may be DCT-scaled down to before resizing."""
    if resize is None:
        return None
    width, height = resize
    return (height, width) if orientation >= 5 else (width, height)  # 5..8 turn by 90 degrees


def _reencode(im: Image.Image, data: bytes, orientation: int, options: ImageOptions,
              stored_size: tuple[int, int], defer_fingerprint: bool = False) -> ImageRecord:
    """Upright, convert, resize and encode a loaded image."""
    source_format = im.format.lower()
    fmt = options.format or _default_format(source_format, data, options.channels)
    if _palette_png_will_do(im, fmt, options):
        out = upright(im, orientation)
    else:
        out = _to_channels(upright(im, orientation), options.channels, options.high_bit_depth)
    if options.resize is not None:
        out = _resize(out, options.resize, options.resize_mode, upright_size(stored_size, orientation))
    return ImageRecord(
        data=encode_pixels(out, fmt, options.quality),
        format=fmt,
        height=out.height,
        width=out.width,
        channels=options.channels,
        reencoded=True,
        source_format=source_format,
        **_perceptual(out, None, options, defer_fingerprint),
        orientation=orientation,
        stored_size=stored_size,
    )


def _palette_png_will_do(im: Image.Image, fmt: str, options: ImageOptions) -> bool:
    """Whether an opaque palette image (a GIF, say) can be stored as a palette PNG: TensorFlow decodes it
    to the RGB pixels its palette says, as converting would, and it encodes several times faster than its
    RGB (a quarter of the bytes to compress) into about the size of the GIF."""
    return (im.mode == "P" and fmt == "png" and options.channels == 3 and options.resize is None
            and "transparency" not in im.info
            # every index inside the palette the PNG will carry (libpng refuses others; Pillow paints them black)
            and im.getextrema()[1] < len(im.getpalette() or ()) // 3)


def _perceptual(im: Image.Image, size: tuple[int, int] | None, options: ImageOptions, defer: bool) -> dict:
    """The fingerprint fields of an ImageRecord (none without options.fingerprint; its reduced image
    when deferred)."""
    if not options.fingerprint:
        return {}
    if defer:
        return {"reduced": reduced(im, size)}
    value, thumbnail = fingerprint(im, size)
    return {"fingerprint": value, "thumbnail": thumbnail}


def upright(im: Image.Image, orientation: int) -> Image.Image:
    """Undo an EXIF orientation (1..8) so that row 0 is the top and column 0 the left."""
    from PIL import Image

    if orientation == 1:
        return im
    # The table of PIL.ImageOps.exif_transpose, which is not called itself because it also
    # rewrites the EXIF block and raises on damaged EXIF that prep drops anyway.
    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }[orientation]
    return im.transpose(method)


def _to_channels(im: Image.Image, channels: int, high_bit_depth: str) -> Image.Image:
    """Convert to L, RGB or RGBA for 1, 3 or 4 channels; alpha policy in the module docstring."""
    target = _CHANNEL_MODES[channels]
    if im.mode in depth.HIGH_DEPTH_MODES:
        try:
            im = depth.to_eight_bits(im, high_bit_depth)
        except depth.DepthRejected as exc:
            raise ImageRejected("unsupported_mode", str(exc)) from None
    elif im.mode == "PA" or "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode == target:
        return im
    try:
        return im.convert(target)
    except ValueError as exc:
        raise ImageRejected(
            "unsupported_mode", f"Pillow cannot convert mode {im.mode} to {target}"
        ) from exc


def _resize(im: Image.Image, size: tuple[int, int], mode: str, upright: tuple[int, int]) -> Image.Image:
    """Resize to exactly size (width, height) in pixels: stretch, pad or crop. `upright`: the (width,
    height) of the whole upright image, of which `im` may be a JPEG's reduced decode: the pad and crop
    geometry is that of the whole image (prep.images.boxes), which its boxes and masks follow too."""
    from PIL import Image

    bilinear = Image.Resampling.BILINEAR
    if mode == "crop":
        # the centred window of the target's aspect ratio, as PIL.ImageOps.fit takes it
        left, top, right, bottom = crop_window(upright, size)
        return im.resize(size, bilinear, box=(left * im.width, top * im.height, right * im.width, bottom * im.height))
    if mode == "pad":
        left, top, width, height = pad_placement(upright, size)
        out = Image.new(im.mode, size, 0)
        out.paste(im.resize((width, height), bilinear), (left, top))
        return out
    return im if im.size == size else im.resize(size, bilinear)


def _default_format(source_format: str, data: bytes, channels: int) -> str:
    """JPEG for lossy sources without alpha in the output, PNG for everything else."""
    lossy = source_format in ("jpeg", "mpo") or (
        source_format == "webp" and not _is_lossless_webp(data)
    )
    return "jpeg" if lossy and channels != 4 else "png"


def _is_lossless_webp(data: bytes) -> bool:
    """Whether the first image chunk of a WebP file is VP8L (lossless) rather than VP8 (lossy)."""
    pos = 12
    while pos + 8 <= len(data):
        fourcc = data[pos : pos + 4]
        if fourcc in (b"VP8 ", b"VP8L"):
            return fourcc == b"VP8L"
        if fourcc == b"ANMF":  # an animation frame's own chunks follow its 16-byte header
            pos += 8 + 16
            continue
        (length,) = struct.unpack_from("<I", data, pos + 4)
        pos += 8 + length + (length & 1)
    return False


def encode_pixels(im: Image.Image, fmt: str, quality: int, png_level: int = 6) -> bytes:
    """Encode pixels only, so equal pixels give equal bytes; a PNG at zlib level `png_level` (6: zlib's
    default)."""
    # Pillow copies ICC profiles, comments and PNG text from info into the output.
    im.info = {}
    buffer = io.BytesIO()
    if fmt == "jpeg":
        im.save(buffer, "JPEG", quality=quality)
    else:
        im.save(buffer, "PNG", optimize=False, compress_level=png_level)
    return buffer.getvalue()
