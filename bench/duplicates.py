"""Benchmark: near-copy detection of images. Does a perceptual hash find planted near copies without
calling distinct pictures near copies? prep's dHash at NEAR_BITS against pHash, PDQ and a thumbnail
second check; target: recall >= 95% of planted copies, <= 1 false pair per 10,000 distinct images.

The labelled set (built once, cached in --workdir):

- Distinct pictures. Real photos: crops of scikit-image's sample photos (read with zipfile from the
  scikit-image wheel's skimage/data/, which is downloaded, never installed; two crops of one photo
  overlap by IoU < 0.5) and its 200 LFW 25x25 patches scaled up. Synthetic: linear and radial
  gradients, smooth and white noise fields, ellipses, flat fields, and pairs of "the same scene
  shifted" by 10-20% of a side (photo crops and synthetic scenes): similar but distinct pictures.
  200-500 px a side, JPEG (quality 75-95) or PNG.
- Planted near copies of some of them (not of flat fields or white noise, which no hash can match):
  re-encoded as JPEG at quality 50-95, resized 0.5x-2x, PNG<->JPEG, brightness +-3-10%, cropped by
  1-5% a side in all, and all of these at once ("combined").

Each file is hashed as prep hashes it: prep.images.imaging.normalise_image runs with default options
(originals kept) while its fingerprint() is wrapped to record its arguments. prep's dHash is that
call's result; the other hashes are taken from the same image (for a kept JPEG, the 1/8-scale grey
draft decode prep validates with) or, where named "full", from a full RGB decode of the file.

- pHash: imagehash.phash's method (32x32 LANCZOS greyscale thumbnail, 2-D DCT-II, the 8x8 lowest
  frequencies, DC included as imagehash does, bit = coefficient > their median), in numpy, after the
  box reduce prep's dHash does first; checked against imagehash where it imports.
- PDQ: Meta's 256-bit hash through the pdqhash binding (optional: --extra-path); "q50" drops hashes
  of PDQ quality < 50 (ThreatExchange's cut-off for featureless images) from comparison.
- Second check: a pair within the hash threshold is kept only if its 16x16 greyscale thumbnails
  (box reduce, bilinear) differ by at most a mean absolute difference, in grey levels.

Positives: every (original, planted copy) pair. Recall = pairs within the threshold / all planted
pairs; a side without a hash (prep: under 16 px or flat) is a miss. "bands" is the recall prep's
search would have: the pair must also share one 16-bit band of the hash (prep.core.duplicates).
Negatives: every pair of distinct images (planted copies left out) that both have a hash; distances
from the hashes packed into uint64 words: XOR, np.bitwise_count, all pairs. With F false pairs
among N distinct images:
    per 10k images  = F * 10,000 / N             (the target read literally, at this set's size)
    in a 10k set    = F / C(N,2) * C(10,000, 2)  (the per-pair rate scaled to a set of 10,000:
                                                 false pairs grow with the square of the set)
The second is the one to hold to the target. F = 0 bounds it at 3 / C(N,2) * C(10,000, 2) (95%,
rule of three): a set of 17,321 distinct images is the smallest that can show "<= 1" that way.

Timing: per image on 640x480 JPEGs (photo crops, quality 90), each hash from its input as above
(a full decode is part of a "full" hash's cost), against normalise_image with fingerprint=False.

    .venv/bin/python bench/duplicates.py --extra-path /tmp/dupbench/venv/lib/python3.11/site-packages
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import math
import os
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUILD_VERSION = 1  # bump when the generated set changes, so a cached one is rebuilt
PHOTOS = ("astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png", "coffee.png",
          "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png", "moon.png",
          "motorcycle_left.png", "page.png", "retina.jpg", "rocket.jpg", "text.png")  # not charts, logos, stereo twins
FACES = "lfw_subset.npy"
KIND_SHARES = {  # of the distinct images; photo crops that do not fit (IoU) go to the synthetic kinds
    "photo": 0.30, "face": 0.05, "gradient": 0.14, "radial": 0.05, "smooth-noise": 0.10, "white-noise": 0.03,
    "ellipses": 0.14, "flat": 0.03, "shifted-photo": 0.08, "shifted-scene": 0.08,
}
SYNTHETIC = ("gradient", "radial", "smooth-noise", "white-noise", "ellipses", "flat")
NOT_COPIED = ("flat", "white-noise")
TRANSFORMS = ("jpeg", "resize", "format", "brightness", "crop", "combined")
MAX_CROP_IOU = 0.5
THUMB = 16  # side of the second check's greyscale thumbnail
TARGET_RECALL = 0.95
TARGET_FALSE_IN_10K = 1.0
BUDGET = 0.05  # of normalise_image's time per image
PQ_MIN_QUALITY = 50
SET_SIZE = 10_000


# ---------------------------------------------------------------------------------------------- the set

def skimage_wheel(workdir: Path, given: str | None) -> Path:
    """The scikit-image wheel to read photos from: `given`, one already in workdir or /tmp/dupbench,
    else `pip download scikit-image --no-deps` into workdir (nothing is installed)."""
    if given:
        return Path(given)
    found = sorted(glob.glob(str(workdir / "scikit_image-*.whl")) + glob.glob("/tmp/dupbench/scikit_image-*.whl"))
    if found:
        return Path(found[-1])
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "scikit-image", "--no-deps", "--only-binary", ":all:",
                    "-d", str(workdir)], check=True, stdout=subprocess.DEVNULL)
    return Path(sorted(glob.glob(str(workdir / "scikit_image-*.whl")))[-1])


_PHOTOS: dict = {}


def load_photos(wheel: Path) -> dict:
    """PHOTOS as PIL images (L or RGB) and the LFW patches as a uint8 array, from the wheel's skimage/data/."""
    from PIL import Image

    if not _PHOTOS:
        with zipfile.ZipFile(wheel) as z:
            for name in PHOTOS:
                im = Image.open(io.BytesIO(z.read(f"skimage/data/{name}")))
                _PHOTOS[name] = im.convert("L" if im.mode in ("L", "I", "I;16") else "RGB")
            faces = np.load(io.BytesIO(z.read(f"skimage/data/{FACES}")))
            _PHOTOS[FACES] = np.round(faces * 255).astype(np.uint8)
    return _PHOTOS


def iou(a: tuple, b: tuple) -> float:
    """Intersection over union of two (x, y, width, height) rectangles."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def random_crop(rng, size: tuple[int, int], shift: float = 0.0) -> tuple | None:
    """A crop of 30-100% of each side (aspect 0.5-2, at least 64 px) and, with `shift`, the same
    crop moved by that fraction of its width or height; None if it does not fit."""
    W, H = size
    cw, ch = int(W * rng.uniform(0.3, 1.0)), int(H * rng.uniform(0.3, 1.0))
    if min(cw, ch) < 64 or not 0.5 <= cw / ch <= 2:
        return None
    dx, dy = (int(cw * shift), 0) if rng.random() < 0.5 else (0, int(ch * shift))
    if cw + dx > W or ch + dy > H:
        return None
    x, y = int(rng.integers(0, W - cw - dx + 1)), int(rng.integers(0, H - ch - dy + 1))
    return (x, y, cw, ch), (x + dx, y + dy, cw, ch)


def plan_photo_crops(rng, photos: dict, crops: int, pairs: int) -> tuple[list, list]:
    """`crops` single crops and `pairs` shifted pairs of photo crops, no two of them (but a pair's
    twins) overlapping by IoU MAX_CROP_IOU or more; fewer where the photos run out of room."""
    taken: dict[str, list] = {name: [] for name in PHOTOS}
    singles, twins = [], []
    for want, shifted, out in ((pairs, True, twins), (crops, False, singles)):
        tries = 0
        while len(out) < want and tries < 300 * want:
            tries += 1
            name = PHOTOS[int(rng.integers(len(PHOTOS)))]
            found = random_crop(rng, photos[name].size, rng.uniform(0.10, 0.20) if shifted else 0.0)
            if found is None:
                continue
            rects = found if shifted else found[:1]
            if all(iou(r, t) < MAX_CROP_IOU for r in rects for t in taken[name]):
                taken[name] += rects
                out.append((name, rects))
    return singles, twins


def plan_set(rng, photos: dict, distinct: int, copies: int) -> list[dict]:
    """The items of the set: distinct images first, then planted copies (each naming its original)."""
    want = {kind: int(round(share * distinct)) for kind, share in KIND_SHARES.items()}
    want["face"] = min(want["face"], len(photos[FACES]))
    singles, twins = plan_photo_crops(rng, photos, want["photo"], want["shifted-photo"] // 2)
    scenes = want["shifted-scene"] // 2
    short = distinct - len(singles) - 2 * len(twins) - want["face"] - 2 * scenes - sum(want[k] for k in SYNTHETIC)
    synthetic_share = sum(KIND_SHARES[k] for k in SYNTHETIC)
    for kind in SYNTHETIC:  # what the photos could not give
        want[kind] += int(round(short * KIND_SHARES[kind] / synthetic_share))
    items: list[dict] = []

    def add(kind: str, source: str = "", **recipe) -> None:
        items.append({"name": f"{len(items):06d}-{kind}", "kind": kind, "group": len(items), "source": source,
                      "transform": "", "recipe": recipe})

    for name, rects in singles:
        add("photo", name, photo=name, rect=rects[0])
    for face in rng.choice(len(photos[FACES]), want["face"], replace=False):
        add("face", "", face=int(face))
    for kind in SYNTHETIC:
        for _ in range(want[kind]):
            add(kind)
    for p, (name, rects) in enumerate(twins):
        for rect in rects:
            add("shifted-photo", f"{name}#{p}", photo=name, rect=rect)
    for s in range(scenes):
        shift, vertical = rng.uniform(0.10, 0.20), bool(rng.random() < 0.5)
        for which in (0, 1):
            add("shifted-scene", f"scene#{s}", scene=s, shift=shift, vertical=vertical, which=which)
    eligible = [item for item in items if item["kind"] not in NOT_COPIED]
    for n, original in enumerate(rng.choice(len(eligible), min(copies, len(eligible)), replace=False)):
        of = eligible[int(original)]
        transform = TRANSFORMS[n % len(TRANSFORMS)]
        items.append({"name": f"{len(items):06d}-copy-{transform}", "kind": of["kind"], "group": of["group"],
                      "source": of["source"], "transform": transform, "recipe": {"of": of["name"]}})
    return items


def encode(im, fmt: str, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    if fmt == "jpeg":
        im.save(buffer, "JPEG", quality=int(quality))
    else:
        im.save(buffer, "PNG")
    return buffer.getvalue()


def output_size(rng, size: tuple[int, int]) -> tuple[int, int]:
    """`size` scaled so that its longer side is 200-500 px."""
    scale = rng.uniform(200, 500) / max(size)
    return max(16, round(size[0] * scale)), max(16, round(size[1] * scale))


def gradient_field(rng, w: int, h: int, radial: bool) -> np.ndarray:
    """A smooth two-colour ramp along a random direction (or out from a random centre), random gamma."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    if radial:
        cx, cy = rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h
        t = np.hypot(x - cx, y - cy)
    else:
        angle = rng.uniform(0, 2 * np.pi)
        t = x * np.cos(angle) + y * np.sin(angle)
    t = ((t - t.min()) / max(np.ptp(t), 1e-9)) ** rng.uniform(0.5, 2.0)
    start, end = rng.uniform(0, 255, (2, 3))
    return start + (end - start) * t[..., None]


def smooth_noise(rng, w: int, h: int) -> np.ndarray:
    """Random values on a coarse 2-12 cell grid, bicubic-interpolated: blotches of colour or grey."""
    from PIL import Image

    cells = int(rng.integers(2, 13))
    channels = 3 if rng.random() < 0.7 else 1
    coarse = rng.uniform(0, 255, (cells, max(2, round(cells * w / h)), channels)).astype(np.uint8)
    planes = [np.asarray(Image.fromarray(coarse[..., c]).resize((w, h), Image.Resampling.BICUBIC), np.float64)
              for c in range(channels)]
    return np.repeat(np.stack(planes, -1), 3 // channels, -1)


def ellipses(rng, w: int, h: int, background: np.ndarray | None = None) -> np.ndarray:
    """1-8 filled, rotated ellipses of random colours on a flat or gradient background."""
    if background is None:
        background = gradient_field(rng, w, h, False) if rng.random() < 0.5 else np.broadcast_to(
            rng.uniform(0, 255, 3), (h, w, 3))
    image = np.array(background, np.float64)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    for _ in range(int(rng.integers(1, 9))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        a, b = rng.uniform(0.05, 0.4, 2) * min(w, h)
        angle = rng.uniform(0, np.pi)
        u = (x - cx) * np.cos(angle) + (y - cy) * np.sin(angle)
        v = -(x - cx) * np.sin(angle) + (y - cy) * np.cos(angle)
        image[(u / a) ** 2 + (v / b) ** 2 <= 1] = rng.uniform(0, 255, 3)
    return image


def synthetic_pixels(kind: str, rng, w: int, h: int) -> np.ndarray:
    if kind in ("gradient", "radial"):
        image = gradient_field(rng, w, h, kind == "radial") + rng.normal(0, rng.uniform(0, 2), (h, w, 1))
    elif kind == "smooth-noise":
        image = smooth_noise(rng, w, h)
    elif kind == "white-noise":
        image = rng.normal(rng.uniform(40, 215, 3), rng.uniform(10, 60), (h, w, 3))
    elif kind == "ellipses":
        image = ellipses(rng, w, h)
    elif kind == "flat":
        image = rng.uniform(0, 255, 3) + (rng.normal(0, rng.uniform(0.5, 3), (h, w, 1)) if rng.random() < 0.5 else 0)
        image = np.broadcast_to(image, (h, w, 3))
    else:
        raise ValueError(kind)
    return image


def shifted_scene(seed: int, item: dict) -> np.ndarray:
    """One of the two crops of a synthetic scene (ellipses on smooth noise), the second moved by
    item's shift; both crops are drawn from the scene's own seed."""
    rng = np.random.default_rng([seed, 1, item["scene"]])
    w, h = int(rng.integers(200, 501)), int(rng.integers(200, 501))
    extra_w, extra_h = (0, int(h * item["shift"])) if item["vertical"] else (int(w * item["shift"]), 0)
    scene = ellipses(rng, w + extra_w, h + extra_h, smooth_noise(rng, w + extra_w, h + extra_h))
    dx, dy = (extra_w, extra_h) if item["which"] else (0, 0)
    return scene[dy:dy + h, dx:dx + w]


def render_distinct(seed: int, index: int, item: dict, photos: dict) -> bytes:
    """The encoded file of a distinct image."""
    from PIL import Image

    rng = np.random.default_rng([seed, 0, index])
    recipe, kind = item["recipe"], item["kind"]
    if "photo" in recipe:
        x, y, w, h = recipe["rect"]
        im = photos[recipe["photo"]].crop((x, y, x + w, y + h))
        im = im.resize(output_size(rng, im.size), Image.Resampling.LANCZOS)
    elif kind == "face":
        im = Image.fromarray(photos[FACES][recipe["face"]])
        side = int(rng.integers(100, 251))
        im = im.resize((side, side), Image.Resampling.BICUBIC)
    else:
        if kind == "shifted-scene":
            pixels = shifted_scene(seed, recipe)
        else:
            pixels = synthetic_pixels(kind, rng, int(rng.integers(200, 501)), int(rng.integers(200, 501)))
        im = Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8))
    lossy = rng.random() < (0.6 if "photo" in recipe or kind == "face" else 0.5)
    return encode(im, "jpeg" if lossy else "png", int(rng.integers(75, 96)))


def plant_copy(seed: int, index: int, transform: str, original: bytes) -> tuple[bytes, str]:
    """A near copy of `original`'s file by `transform`, and what was done, e.g. "jpeg q63"."""
    from PIL import Image, ImageEnhance

    rng = np.random.default_rng([seed, 2, index])
    with Image.open(io.BytesIO(original)) as source:
        fmt = source.format.lower()
        im = source.convert("L" if source.mode == "L" else "RGB")
    same_format_quality = int(rng.integers(85, 96))  # when the copy keeps a JPEG original's format
    steps = []
    if transform in ("crop", "combined"):
        w, h = im.size
        top = 0.05 if transform == "crop" else 0.03
        cut_w, cut_h = rng.uniform(0.01, top) * w, rng.uniform(0.01, top) * h
        left, upper = rng.uniform(0, cut_w), rng.uniform(0, cut_h)
        im = im.crop((round(left), round(upper), round(w - (cut_w - left)), round(h - (cut_h - upper))))
        steps.append(f"crop {cut_w / w:.0%}x{cut_h / h:.0%}")
    if transform in ("resize", "combined"):
        factor = math.exp(rng.uniform(math.log(0.5), math.log(2.0)))
        method = [Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS][int(rng.integers(3))]
        im = im.resize((max(8, round(im.width * factor)), max(8, round(im.height * factor))), method)
        steps.append(f"resize x{factor:.2f}")
    if transform in ("brightness", "combined"):
        top = 0.10 if transform == "brightness" else 0.05
        factor = 1 + rng.choice([-1, 1]) * rng.uniform(0.03, top)
        im = ImageEnhance.Brightness(im).enhance(factor)
        steps.append(f"brightness {factor - 1:+.0%}")
    if transform in ("jpeg", "combined"):
        quality = int(rng.integers(50 if transform == "jpeg" else 60, 96))
        return encode(im, "jpeg", quality), " ".join(steps + [f"jpeg q{quality}"])
    if transform == "format":
        to = "png" if fmt == "jpeg" else "jpeg"
        return encode(im, to, same_format_quality), f"{fmt}->{to}"
    return encode(im, fmt, same_format_quality), " ".join(steps)


def build_worker(args: tuple) -> tuple[str, str]:
    """Pool task: write one item's file; returns (name, detail)."""
    seed, index, item, folder, wheel = args
    path = folder / item["name"]
    if item["transform"]:
        data, detail = plant_copy(seed, index, item["transform"], (folder / item["recipe"]["of"]).read_bytes())
    else:
        data, detail = render_distinct(seed, index, item, load_photos(wheel)), ""
    path.write_bytes(data)
    return item["name"], detail


def timing_files(wheel: Path, folder: Path, count: int, seed: int) -> list[Path]:
    """`count` 640x480 JPEGs at quality 90 cut from the photos (cached)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"timing-{i:04d}.jpg" for i in range(count)]
    if all(p.exists() for p in paths):
        return paths
    photos, rng = load_photos(wheel), np.random.default_rng([seed, 3])
    for path in paths:
        photo = photos[PHOTOS[int(rng.integers(len(PHOTOS)))]].convert("RGB")
        w, h = photo.size
        cw = int(w * rng.uniform(0.5, 1.0))
        ch = min(h, int(cw * 0.75))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        im = photo.crop((x, y, x + cw, y + ch)).resize((640, 480), Image.Resampling.LANCZOS)
        path.write_bytes(encode(im, "jpeg", 90))
    return paths


def build_set(workdir: Path, wheel: Path, distinct: int, copies: int, seed: int, jobs: int) -> list[dict]:
    """The labelled set's items, each with its file in workdir/images; built once per parameters."""
    params = {"version": BUILD_VERSION, "distinct": distinct, "copies": copies, "seed": seed}
    folder, manifest = workdir / "images", workdir / "manifest.json"
    if manifest.exists():
        saved = json.loads(manifest.read_text())
        if saved["params"] == params and all((folder / item["name"]).exists() for item in saved["items"]):
            return saved["items"]
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        stale.unlink()
    items = plan_set(np.random.default_rng(seed), load_photos(wheel), distinct, copies)
    start = time.perf_counter()
    originals = [(seed, i, item, folder, wheel) for i, item in enumerate(items) if not item["transform"]]
    planted = [(seed, i, item, folder, wheel) for i, item in enumerate(items) if item["transform"]]
    details = {}
    with ProcessPoolExecutor(jobs) as pool:
        for batch in (originals, planted):  # copies read their originals' files
            details.update(pool.map(build_worker, batch, chunksize=16))
    for item in items:
        item["detail"] = details[item["name"]]
    manifest.write_text(json.dumps({"params": params, "items": items}))
    print(f"built {len(items):,} images in {time.perf_counter() - start:.0f} s", flush=True)
    return items


# ---------------------------------------------------------------------------------------------- hashes

class HashInput(NamedTuple):
    """What prep's fingerprint() was called with for a file, and the file."""

    image: object  # PIL image
    size: tuple[int, int] | None
    data: bytes


def prep_hash_input(data: bytes) -> tuple[HashInput, int]:
    """normalise_image(data) with default options, as `prep images` runs it; returns the arguments
    its fingerprint() call got and the fingerprint it stored in the record."""
    from prep.images import imaging

    real, seen = imaging.fingerprint, []

    def recording(im, size=None):
        seen.append((im.copy(), size))
        return real(im, size)

    imaging.fingerprint = recording
    try:
        record = imaging.normalise_image(data, imaging.ImageOptions())
    finally:
        imaging.fingerprint = real
    image, size = seen[0]
    return HashInput(image, size, data), record.fingerprint


def grey_reduced(im, side: int):
    """`im` box-reduced to about `side` px (as prep's fingerprint does first), in greyscale."""
    if im.mode == "P":
        im = im.convert("RGBA")
    factor = min(im.size) // side
    if factor > 1:
        im = im.reduce(factor)
    return im if im.mode == "L" else im.convert("L")


def full_decode(data: bytes):
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def words_of(bits: np.ndarray) -> np.ndarray:
    """Bits (any order, length a multiple of 64) packed into big-endian uint64 words."""
    return np.frombuffer(np.packbits(bits.astype(bool)).tobytes(), ">u8").astype(np.uint64)


def dhash_prep(inp: HashInput) -> tuple[np.ndarray | None, int]:
    from prep.images.imaging import fingerprint

    value = fingerprint(inp.image, inp.size)
    return (np.array([value], np.uint64) if value else None), 100


_DCT8x32 = 2 * np.cos(np.pi * np.outer(np.arange(8), 2 * np.arange(32) + 1) / 64)  # scipy.fftpack.dct II's first 8 rows


def phash_bits(im, reduce: bool = True) -> np.ndarray | None:
    """imagehash.phash's 64 bits (row-major 8x8 low frequencies > their median) of a PIL image;
    None for a flat thumbnail (range < prep's MIN_FINGERPRINT_RANGE), as prep leaves flat images out."""
    from PIL import Image

    from prep.images.imaging import MIN_FINGERPRINT_RANGE

    grey = grey_reduced(im, 32) if reduce else im.convert("L")
    pixels = np.asarray(grey.resize((32, 32), Image.Resampling.LANCZOS), np.float64)
    if np.ptp(pixels) < MIN_FINGERPRINT_RANGE:
        return None
    low = (_DCT8x32 @ pixels @ _DCT8x32.T).ravel()
    middle = np.partition(low, (31, 32))
    return low > (middle[31] + middle[32]) / 2  # np.median's value, without its overhead


def phash(inp: HashInput) -> tuple[np.ndarray | None, int]:
    bits = phash_bits(inp.image)
    return (None if bits is None else words_of(bits)), 100


def phash_full(inp: HashInput) -> tuple[np.ndarray | None, int]:
    bits = phash_bits(full_decode(inp.data))
    return (None if bits is None else words_of(bits)), 100


def pdq_of(im) -> tuple[np.ndarray, int]:
    import pdqhash

    bits, quality = pdqhash.compute(np.ascontiguousarray(np.asarray(im.convert("RGB"))))
    return words_of(bits), int(quality)


def pdq(inp: HashInput) -> tuple[np.ndarray | None, int]:
    return pdq_of(inp.image)


def pdq_full(inp: HashInput) -> tuple[np.ndarray | None, int]:
    return pdq_of(full_decode(inp.data))


def thumbnail_16x16(inp: HashInput) -> np.ndarray:
    """A 16x16 greyscale thumbnail of the image prep hashes, for the second check."""
    from PIL import Image

    return np.asarray(grey_reduced(inp.image, 32).resize((16, 16), Image.Resampling.BILINEAR), np.uint8).ravel()


def thumbnail_9x8(inp: HashInput) -> np.ndarray:
    """The 9x8 greyscale thumbnail prep's dHash compares neighbours of (its steps, redone): a second
    check on it costs no image work, only its 72 bytes beside the hash."""
    from PIL import Image

    from prep.images.imaging import FINGERPRINT_REDUCE_TO

    return np.asarray(grey_reduced(inp.image, FINGERPRINT_REDUCE_TO).resize((9, 8), Image.Resampling.BILINEAR),
                      np.uint8).ravel()


THUMBNAILS = {"16x16": thumbnail_16x16, "9x8": thumbnail_9x8}


class Hash(NamedTuple):
    name: str
    bits: int
    compute: Callable[[HashInput], tuple[np.ndarray | None, int]]  # (uint64 words or None: no hash, quality)
    needs_pdq: bool = False


HASHES = (
    Hash("dhash (prep)", 64, dhash_prep),
    Hash("phash", 64, phash),
    Hash("phash full", 64, phash_full),
    Hash("pdq", 256, pdq, True),
    Hash("pdq full", 256, pdq_full, True),
)


class Candidate(NamedTuple):
    hash: str
    threshold: int
    max_mad: float | None = None  # second check: thumbnails' mean absolute difference at most this
    min_quality: int = 0

    @property
    def label(self) -> str:
        quality = f" q{self.min_quality}" if self.min_quality else ""
        check = f" + thumb MAD<={self.max_mad:g}" if self.max_mad is not None else ""
        return f"{self.hash}{quality} <= {self.threshold}{check}"


def candidates(available: list[str]) -> list[Candidate]:
    rows = [Candidate("dhash (prep)", t) for t in (4, 6, 8, 10)]
    rows += [Candidate("phash", t) for t in (6, 8, 10, 12)]
    rows += [Candidate("phash full", t) for t in (8, 10, 12)]
    for name in ("pdq", "pdq full"):
        rows += [Candidate(name, t) for t in (31, 40, 50, 60)]
        rows += [Candidate(name, t, min_quality=PQ_MIN_QUALITY) for t in (31, 50)]
    rows += [Candidate("dhash (prep)", t, m) for t in (6, 10, 12) for m in (8, 12, 16)]
    rows += [Candidate("phash", t, m) for t in (10, 12, 14) for m in (8, 12, 16)]
    return [c for c in rows if c.hash in available]


def hash_worker(args: tuple) -> tuple:
    """Pool task: every hash of one file, and its thumbnail."""
    path, names, extra_path = args
    if extra_path and extra_path not in sys.path:
        sys.path.append(extra_path)
    inp, _ = prep_hash_input(Path(path).read_bytes())
    out = {}
    for h in HASHES:
        if h.name in names:
            out[h.name] = h.compute(inp)
    return out, thumbnail(inp)


class Hashed(NamedTuple):
    words: dict[str, np.ndarray]    # hash name -> (N, bits/64) uint64, zeros where there is none
    quality: dict[str, np.ndarray]  # hash name -> (N,) PDQ quality (100 for the others)
    has: dict[str, np.ndarray]      # hash name -> (N,) bool: a hash was taken
    thumbs: np.ndarray              # (N, THUMB*THUMB) uint8


def hash_set(folder: Path, items: list[dict], names: list[str], extra_path: str | None, jobs: int) -> Hashed:
    tasks = [(str(folder / item["name"]), names, extra_path) for item in items]
    words = {h.name: np.zeros((len(items), h.bits // 64), np.uint64) for h in HASHES if h.name in names}
    quality = {name: np.zeros(len(items), np.int16) for name in words}
    has = {name: np.zeros(len(items), bool) for name in words}
    thumbs = np.zeros((len(items), THUMB * THUMB), np.uint8)
    with ProcessPoolExecutor(jobs) as pool:
        for i, (out, thumb) in enumerate(pool.map(hash_worker, tasks, chunksize=16)):
            for name, (value, q) in out.items():
                if value is not None:
                    words[name][i], has[name][i] = value, True
                quality[name][i] = q
            thumbs[i] = thumb.ravel()
    return Hashed(words, quality, has, thumbs)


# ---------------------------------------------------------------------------------------------- pairs

def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances of aligned rows of packed hashes (..., words)."""
    return np.bitwise_count(a ^ b).sum(-1, dtype=np.int32)


def share_band(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether aligned rows of packed hashes agree on at least one 16-bit band (prep's candidate search)."""
    x = a ^ b
    return np.any(np.stack([(x >> np.uint64(16 * k)) & np.uint64(0xFFFF) for k in range(4)], -1) == 0, axis=(-1, -2))


def all_pairs(words: np.ndarray, within: int, block: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Over all pairs i < j of `words` rows: the histogram of their distances, and the pairs (i, j,
    distance) at most `within` apart."""
    n, bits = len(words), 64 * words.shape[1]
    histogram = np.zeros(bits + 1, np.int64)
    close_i, close_j, close_d = [], [], []
    for start in range(0, n, block):
        d = distances(words[start:start + block, None, :], words[None, :, :])
        rows = np.arange(start, min(start + block, n))[:, None]
        upper = np.arange(n)[None, :] > rows
        histogram += np.bincount(d[upper], minlength=bits + 1)
        i, j = np.nonzero(upper & (d <= within))
        close_i.append(i + start)
        close_j.append(j)
        close_d.append(d[i, j])
    return histogram, np.concatenate(close_i), np.concatenate(close_j), np.concatenate(close_d)


def mad(thumbs: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Mean absolute difference in grey levels of the thumbnails of pairs (i, j)."""
    return np.abs(thumbs[i].astype(np.int16) - thumbs[j]).mean(1)


def histogram_quantile(histogram: np.ndarray, q: float) -> int:
    """The smallest distance d with at least a fraction q of the pairs at or below it."""
    return int(np.searchsorted(np.cumsum(histogram), q * histogram.sum()))


def pair_category(a: dict, b: dict) -> str:
    if a["source"] and a["source"] == b["source"]:
        return f"{a['kind']}: the same scene shifted"
    if a["kind"] in ("photo", "shifted-photo") and b["kind"] in ("photo", "shifted-photo") and \
            a["source"].split("#")[0] == b["source"].split("#")[0]:
        return "crops of one photo"
    return " / ".join(sorted((a["kind"], b["kind"])))


class Evaluation(NamedTuple):
    candidate: Candidate
    recall: float
    recall_bands: float
    false_pairs: int
    distinct_hashed: int
    false_categories: dict


def evaluate(c: Candidate, items: list[dict], hashed: Hashed, planted: tuple[np.ndarray, np.ndarray],
             negatives: dict) -> Evaluation:
    """Recall of planted pairs and false pairs among distinct images for one candidate."""
    words = hashed.words[c.hash]
    has = hashed.has[c.hash] & (hashed.quality[c.hash] >= c.min_quality)
    o, k = planted
    d = distances(words[o], words[k])
    found = has[o] & has[k] & (d <= c.threshold)
    if c.max_mad is not None:
        found &= mad(hashed.thumbs, o, k) <= c.max_mad
    banded = found & share_band(words[o], words[k])
    index, histogram, ci, cj, cd = negatives[c.hash]
    keep = (cd <= c.threshold) & has[index[ci]] & has[index[cj]]
    if c.max_mad is not None:
        keep &= mad(hashed.thumbs, index[ci], index[cj]) <= c.max_mad
    categories: dict[str, int] = {}
    for i, j in zip(index[ci[keep]], index[cj[keep]]):
        category = pair_category(items[i], items[j])
        categories[category] = categories.get(category, 0) + 1
    return Evaluation(c, found.mean(), banded.mean(), int(keep.sum()), int(has[index].sum()), categories)


def distinct_negatives(hashed: Hashed, distinct: np.ndarray, within: dict[str, int]) -> dict:
    """Per hash: (indices of the distinct images with a hash, histogram of all their pair distances,
    the close pairs (i, j, d) as positions in those indices)."""
    out = {}
    for name, words in hashed.words.items():
        index = distinct[hashed.has[name][distinct]]
        histogram, i, j, d = all_pairs(words[index], within[name])
        out[name] = (index, histogram, i, j, d)
    return out


def false_in_set(false_pairs: int, n: int, size: int = SET_SIZE) -> float:
    """False pairs expected among `size` distinct images at the per-pair rate false_pairs / C(n, 2)."""
    return false_pairs / math.comb(n, 2) * math.comb(size, 2) if n > 1 else float("nan")


# ---------------------------------------------------------------------------------------------- timing

def time_per_image(fn: Callable, inputs: list, repeats: int = 3) -> float:
    """Seconds per input of fn, the fastest of `repeats` passes."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for x in inputs:
            fn(x)
        best = min(best, time.perf_counter() - start)
    return best / len(inputs)


def time_hashes(paths: list[Path], names: list[str]) -> tuple[float, dict[str, float]]:
    """normalise_image's seconds per file without a fingerprint, and each hash's from its input."""
    from prep.images.imaging import ImageOptions, normalise_image

    data = [p.read_bytes() for p in paths]
    options = ImageOptions(fingerprint=False)
    convert = time_per_image(lambda d: normalise_image(d, options), data)
    inputs = [prep_hash_input(d)[0] for d in data]
    costs = {h.name: time_per_image(h.compute, inputs) for h in HASHES if h.name in names}
    costs["thumbnail 16x16"] = time_per_image(thumbnail, inputs)
    return convert, costs


# ---------------------------------------------------------------------------------------------- report

def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def print_set_summary(items: list[dict], hashed: Hashed) -> None:
    kinds: dict[str, list[int]] = {}
    for n, item in enumerate(items):
        row = kinds.setdefault(item["kind"], [0, 0])
        row[bool(item["transform"])] += 1
    distinct = np.array([not item["transform"] for item in items])
    print(table(["kind", "distinct", "planted copies of it"], [[k, v[0], v[1]] for k, v in kinds.items()]
                + [["all", int(distinct.sum()), int((~distinct).sum())]]))
    print("\nimages without a hash (never compared): " + ", ".join(
        f"{name} {int((~has[distinct]).sum())} distinct + {int((~has[~distinct]).sum())} copies"
        for name, has in hashed.has.items()))
    if "pdq" in hashed.quality:
        print(f"PDQ quality < {PQ_MIN_QUALITY} (left out by the q{PQ_MIN_QUALITY} rows): " + ", ".join(
            f"{name} {int((q[distinct] < PQ_MIN_QUALITY).sum())} distinct + {int((q[~distinct] < PQ_MIN_QUALITY).sum())} copies"
            for name, q in hashed.quality.items() if name.startswith("pdq")))


def print_candidates(evaluations: list[Evaluation], costs: dict[str, float], convert: float, n: int) -> None:
    rows = []
    for e in evaluations:
        cost = costs.get(e.candidate.hash, float("nan")) + (costs["thumbnail 16x16"] if e.candidate.max_mad else 0)
        rows.append([e.candidate.label, pct(e.recall), pct(e.recall_bands), e.false_pairs,
                     f"{e.false_pairs * 1e4 / n:.1f}", f"{false_in_set(e.false_pairs, e.distinct_hashed):.1f}",
                     f"{cost * 1e6:.0f}", pct(cost / convert)])
    print(table(["candidate (distance <= bits)", "recall", "recall, 16-bit bands", "false pairs", "per 10k images",
                 "in a 10k set", "us/image", "of conversion"], rows))


def print_distributions(items: list[dict], hashed: Hashed, planted: tuple, negatives: dict) -> None:
    o, k = planted
    rows = []
    for name, words in hashed.words.items():
        has = hashed.has[name]
        valid = has[o] & has[k]
        d = distances(words[o], words[k])
        pq = np.percentile(d[valid], [50, 90, 95, 99]).round().astype(int)
        needed = next((t for t in range(words.shape[1] * 64 + 1) if (valid & (d <= t)).mean() >= TARGET_RECALL), None)
        _, histogram, *_ = negatives[name]
        nq = [histogram_quantile(histogram, q) for q in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.5)]
        false_at = int(histogram[:needed + 1].sum()) if needed is not None else "-"
        rows.append([name, f"{int((~valid).sum())}", *pq, int(d[valid].max()), int(np.flatnonzero(histogram)[0]), *nq,
                     needed if needed is not None else "-", false_at])
    print(table(["hash", "planted: no hash", "p50", "p90", "p95", "p99", "max", "distinct: min", "q1e-6", "q1e-5",
                 "q1e-4", "q0.1%", "q1%", "q50%", "bits for 95% recall", "false pairs there"], rows))


def print_recall_by_transform(items: list[dict], hashed: Hashed, planted: tuple, chosen: list[Candidate]) -> None:
    o, k = planted
    transforms = np.array([items[c]["transform"] for c in k])
    rows = []
    for transform in TRANSFORMS:
        sel = transforms == transform
        row = [transform, int(sel.sum())]
        for c in chosen:
            words, has = hashed.words[c.hash], hashed.has[c.hash] & (hashed.quality[c.hash] >= c.min_quality)
            found = has[o] & has[k] & (distances(words[o], words[k]) <= c.threshold)
            if c.max_mad is not None:
                found &= mad(hashed.thumbs, o, k) <= c.max_mad
            row.append(pct(found[sel].mean()))
        rows.append(row)
    print(table(["transform", "pairs", *[c.label for c in chosen]], rows))


def print_mad(hashed: Hashed, planted: tuple, negatives: dict, bases: list[tuple[str, int]]) -> None:
    """Thumbnail MAD of planted pairs and of the distinct pairs a hash threshold lets through."""
    o, k = planted
    quantiles = [50, 90, 95, 99, 100]
    rows = [["planted pairs (all)", len(o), *np.percentile(mad(hashed.thumbs, o, k), quantiles).round(1)]]
    for name, threshold in bases:
        index, _, ci, cj, cd = negatives[name]
        sel = cd <= threshold
        m = mad(hashed.thumbs, index[ci[sel]], index[cj[sel]])
        if len(m):
            low = np.percentile(m, [0, 1, 5, 10, 50]).round(1)
            rows.append([f"distinct pairs, {name} <= {threshold}", len(m), *low])
    print(table(["pairs", "count", "p50 / min", "p90 / p1", "p95 / p5", "p99 / p10", "max / p50"], rows))
    print("(planted pairs: p50 p90 p95 p99 max; distinct pairs: min p1 p5 p10 p50)")


def print_categories(evaluations: list[Evaluation]) -> None:
    categories = sorted({cat for e in evaluations for cat in e.false_categories},
                        key=lambda cat: -max(e.false_categories.get(cat, 0) for e in evaluations))
    rows = [[cat, *[e.false_categories.get(cat, 0) for e in evaluations]] for cat in categories]
    print(table(["false pairs: kinds", *[e.candidate.label for e in evaluations]], rows or [["none"]]))


def recommend(evaluations: list[Evaluation], costs: dict[str, float], convert: float) -> str:
    def cost(e: Evaluation) -> float:
        return costs.get(e.candidate.hash, float("inf")) + (costs["thumbnail 16x16"] if e.candidate.max_mad else 0)

    def describe(e: Evaluation) -> str:
        return (f"{e.candidate.label}: recall {pct(e.recall)} ({pct(e.recall_bands)} through 16-bit bands), "
                f"{e.false_pairs} false pairs among {e.distinct_hashed:,} distinct images "
                f"({false_in_set(e.false_pairs, e.distinct_hashed):.1f} in a 10k set), "
                f"{cost(e) * 1e6:.0f} us/image = {pct(cost(e) / convert)} of conversion")

    good = [e for e in evaluations if e.recall >= TARGET_RECALL and cost(e) <= BUDGET * convert]
    meets = [e for e in good if false_in_set(e.false_pairs, e.distinct_hashed) <= TARGET_FALSE_IN_10K]
    if meets:
        best = max(meets, key=lambda e: (e.recall_bands, e.recall, -cost(e)))
        return "RECOMMENDATION: " + describe(best)
    if good:
        best = min(good, key=lambda e: (e.false_pairs, -e.recall))
        return "RECOMMENDATION (no candidate meets both targets; the fewest false pairs): " + describe(best)
    return "RECOMMENDATION: none reaches 95% recall within the time budget"


def cross_check_imagehash(folder: Path, items: list[dict], count: int = 300) -> str:
    """How this script's pHash compares with imagehash.phash on the images prep hashes."""
    try:
        import imagehash
    except ImportError:
        return "imagehash not importable: pHash not cross-checked"
    same, same_reduced, diffs = 0, 0, []
    for item in items[:: max(1, len(items) // count)][:count]:
        inp, _ = prep_hash_input((folder / item["name"]).read_bytes())
        reference = imagehash.phash(inp.image).hash.ravel()
        plain, reduced = phash_bits(inp.image, reduce=False), phash_bits(inp.image)
        if plain is None or reduced is None:
            continue
        same += bool(np.array_equal(plain, reference))
        same_reduced += bool(np.array_equal(reduced, reference))
        diffs.append(int((reduced != reference).sum()))
    return (f"pHash vs imagehash {imagehash.__version__}.phash on {len(diffs)} images: identical without the box reduce "
            f"{same}/{len(diffs)}; with it (as benchmarked) {same_reduced}/{len(diffs)}, mean {np.mean(diffs):.2f} bits apart")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="/tmp/prep-bench-duplicates", help="generated images, cached between runs")
    parser.add_argument("--distinct", type=int, default=4000, help="distinct images in the set")
    parser.add_argument("--copies", type=int, default=800, help="planted near copies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes to build and hash with")
    parser.add_argument("--wheel", help="a scikit-image wheel (default: found in workdir or /tmp/dupbench, else downloaded)")
    parser.add_argument("--extra-path", help="a site-packages folder with pdqhash (and imagehash), appended to sys.path")
    parser.add_argument("--timing-images", type=int, default=200, help="640x480 JPEGs to time the hashes on")
    args = parser.parse_args()
    if args.extra_path:
        sys.path.append(args.extra_path)
    workdir = Path(args.workdir)
    wheel = skimage_wheel(workdir, args.wheel)
    try:
        import pdqhash  # noqa: F401
        names = [h.name for h in HASHES]
    except ImportError:
        names = [h.name for h in HASHES if not h.needs_pdq]
        print("pdqhash not importable (see --extra-path): PDQ left out")

    print(f"photos from {wheel.name}; set in {workdir} ...", flush=True)
    items = build_set(workdir, wheel, args.distinct, args.copies, args.seed, args.jobs)
    start = time.perf_counter()
    hashed = hash_set(workdir / "images", items, names, args.extra_path, args.jobs)
    print(f"hashed {len(items):,} images in {time.perf_counter() - start:.0f} s", flush=True)
    convert, costs = time_hashes(timing_files(wheel, workdir / "timing", args.timing_images, args.seed), names)

    group_index = {item["group"]: n for n, item in enumerate(items) if not item["transform"]}
    copies = np.array([n for n, item in enumerate(items) if item["transform"]])
    planted = (np.array([group_index[items[n]["group"]] for n in copies]), copies)
    distinct = np.array([n for n, item in enumerate(items) if not item["transform"]])
    rows = candidates(names)
    within = {name: max(c.threshold for c in rows if c.hash == name) for name in names}
    negatives = distinct_negatives(hashed, distinct, within)
    evaluations = [evaluate(c, items, hashed, planted, negatives) for c in rows]

    print(f"\n## The set: {len(distinct):,} distinct images, {len(copies):,} planted copies\n")
    print_set_summary(items, hashed)
    print(f"\n## Candidates: {len(copies)} planted pairs, all pairs of {len(distinct):,} distinct images\n")
    print("per 10k images = F * 10,000 / N; in a 10k set = F / C(N,2) * C(10,000,2), N = distinct images with a hash; "
          f"F = 0 bounds the latter at {false_in_set(3, len(distinct)):.1f} (95%)\n")
    print_candidates(evaluations, costs, convert, len(distinct))
    print("\n## Distances: planted (original, copy) pairs and all distinct pairs (quantiles of the distinct pairs)\n")
    print_distributions(items, hashed, planted, negatives)
    chosen = [c for c in rows if c in (Candidate("dhash (prep)", 6), Candidate("phash", 10), Candidate("pdq", 31),
                                       Candidate("pdq full", 31), Candidate("phash", 12, 12), Candidate("dhash (prep)", 10, 12))]
    print("\n## Recall by transform\n")
    print_recall_by_transform(items, hashed, planted, chosen)
    print("\n## False pairs by kind of pair\n")
    print_categories([e for e in evaluations if e.candidate in chosen])
    print("\n## Second check: thumbnail mean absolute difference (grey levels)\n")
    print_mad(hashed, planted, negatives, [("dhash (prep)", 6), ("dhash (prep)", 10), ("phash", 12)])
    print(f"\n## Time per image ({args.timing_images} JPEGs of 640x480, one process)\n")
    print(table(["step", "us/image", "of conversion"], [["normalise_image, no fingerprint", f"{convert * 1e6:.0f}", "100%"]]
                + [[name, f"{t * 1e6:.0f}", pct(t / convert)] for name, t in costs.items()]))
    print("\n" + cross_check_imagehash(workdir / "images", items))
    print("\n" + recommend(evaluations, costs, convert))


if __name__ == "__main__":
    main()
