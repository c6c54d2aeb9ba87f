"""Benchmark: near-copy detection of images. Does a perceptual hash find planted near copies without
calling distinct pictures near copies? prep's hash ("prep": prep.images.fingerprint, a dead-zoned
pHash taken straight from the reduced image, at NEAR_BITS, with its YCbCr picture as the second check,
prep.core.duplicates.alike) against the dHash prep used before ("dhash (before)"), classic pHash, PDQ
and other second checks; target: recall >= 95% of planted copies, <= 1 false pair per 10,000 distinct
images.

The labelled set (built once, cached in --workdir):

- Distinct pictures. Real photos: crops of scikit-image's sample photos (read with zipfile from the
  scikit-image wheel's skimage/data/, which is downloaded, never installed; two crops of one photo
  overlap by IoU < 0.5) and its 200 LFW 25x25 patches (100 faces, 100 not) scaled up. Synthetic: linear and radial
  gradients, smooth and white noise fields, ellipses, flat fields, and pairs of "the same scene
  shifted" by 10-20% of a side (photo crops and synthetic scenes): similar but distinct pictures.
  200-500 px a side, JPEG (quality 75-95) or PNG.
- Planted near copies of some of them (not of flat fields or white noise, which no hash can match):
  re-encoded as JPEG at quality 50-95, resized 0.5x-2x, PNG<->JPEG, brightness +-3-10%, cropped by
  1-5% a side in all, and all of these at once ("combined").

Each file is hashed as prep hashes it: prep.images.imaging.normalise_image runs with default options
(originals kept) while its fingerprint() is wrapped to record its arguments. "prep" is that call's
result; the other hashes are taken from the same image (for a kept JPEG, the 1/8-scale grey
draft decode prep validates with) or, where named "full", from a full RGB decode of the file.

- pHash: imagehash.phash's method (32x32 LANCZOS greyscale thumbnail, 2-D DCT-II, the 8x8 lowest
  frequencies, DC included as imagehash does, bit = coefficient > their median), in numpy, after the
  box reduce prep's dHash does first; checked against imagehash where it imports. "bilinear": the
  same from a bilinear 32x32 (half the cost); "direct": no 32x32 at all, the 8x8 lowest DCT
  frequencies computed straight from the box-reduced image (dHash's cost); "full": from a full decode.
- PDQ: Meta's 256-bit hash through the pdqhash binding (optional: --extra-path); "q50" drops hashes
  of PDQ quality < 50 (ThreatExchange's cut-off for featureless images) from comparison.
- Second checks of a pair within the hash threshold, each distance at most a limit: "9x8 MAD", the
  mean absolute difference (grey levels) of the 9x8 thumbnails dHash compares (free beside it);
  "16x16 MAD", of 16x16 thumbnails (2x2 means of the bilinear pHash's 32x32: free beside it);
  "8x8 MAD", of the 8x8 low-pass images the direct pHash's coefficients describe (free beside it);
  "colour", the largest difference of the mean colour's R, G, B shares (percentage points), from a
  1/8-scale colour decode where prep's decodes a kept JPEG in grey (its cost: the difference).

Positives: every (original, planted copy) pair. Recall = pairs within the threshold / all planted
pairs; a side without a hash (prep: under 16 px or flat) is a miss. "bands" is the recall prep's
search would have: the pair must also meet in a bucket, the same high byte of one 16-bit band of the
hash (prep.core.duplicates.compare_bucket, below a million images).
Negatives: every pair of distinct images (planted copies left out) that both have a hash; distances
from the hashes packed into uint64 words: XOR, np.bitwise_count, all pairs. "photos" columns: the
copies of real photos (crops, LFW) and the pairs among them alone. With F false pairs
among N distinct images:
    per 10k images  = F * 10,000 / N             (the target read literally, at this set's size)
    in a 10k set    = F / C(N,2) * C(10,000, 2)  (the per-pair rate scaled to a set of 10,000:
                                                 false pairs grow with the square of the set)
The second is the one to hold to the target. F = 0 bounds it at 3 / C(N,2) * C(10,000, 2) (95%,
rule of three): a set of 17,321 distinct images is the smallest that can show "<= 1" that way.

Timing: per image on 640x480 JPEGs (photo crops, quality 90), each hash from its input as above
(a full decode is part of a "full" hash's cost), against normalise_image with fingerprint=False;
prep's as `prep images` takes it (prep_cost: the YCbCr decode, and fingerprints 256 at a time).
The recommendation: a candidate meeting the target within 5% of that time; else, within the time,
the one with the fewest false pairs of those that find >= 95% of the copies of real photos.

    .venv/bin/python bench/duplicates.py --extra-path /tmp/dupbench/venv/lib/python3.11/site-packages
"""

from __future__ import annotations

import argparse
import functools
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

BUILD_VERSION = 2  # bump when the generated set changes, so a cached one is rebuilt
PHOTOS = ("astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png", "coffee.png",
          "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png", "moon.png",
          "motorcycle_left.png", "page.png", "retina.jpg", "rocket.jpg", "text.png")  # not charts, logos, stereo twins
FACES = "lfw_subset.npy"
KIND_SHARES = {  # of the distinct images; photo crops that do not fit (IoU) go to the synthetic kinds
    "photo": 0.30, "lfw": 0.05, "gradient": 0.14, "radial": 0.05, "smooth-noise": 0.10, "white-noise": 0.03,
    "ellipses": 0.14, "flat": 0.03, "shifted-photo": 0.08, "shifted-scene": 0.08,
}
SYNTHETIC = ("gradient", "radial", "smooth-noise", "white-noise", "ellipses", "flat")
NOT_COPIED = ("flat", "white-noise")
TRANSFORMS = ("jpeg", "resize", "format", "brightness", "crop", "combined")
MAX_CROP_IOU = 0.5
TARGET_RECALL = 0.95
TARGET_FALSE_IN_10K = 1.0
BUDGET = 0.05  # of normalise_image's time per image
PQ_MIN_QUALITY = 50
FLAT_RANGE = 8  # grey levels: what the hashes other than prep's take as flat (prep's dHash and pHash before did)
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
    want["lfw"] = min(want["lfw"], len(photos[FACES]))
    singles, twins = plan_photo_crops(rng, photos, want["photo"], want["shifted-photo"] // 2)
    scenes = want["shifted-scene"] // 2
    short = distinct - len(singles) - 2 * len(twins) - want["lfw"] - 2 * scenes - sum(want[k] for k in SYNTHETIC)
    synthetic_share = sum(KIND_SHARES[k] for k in SYNTHETIC)
    for kind in SYNTHETIC:  # what the photos could not give
        want[kind] += int(round(short * KIND_SHARES[kind] / synthetic_share))
    items: list[dict] = []

    def add(kind: str, source: str = "", **recipe) -> None:
        items.append({"name": f"{len(items):06d}-{kind}", "kind": kind, "group": len(items), "source": source,
                      "transform": "", "recipe": recipe})

    for name, rects in singles:
        add("photo", name, photo=name, rect=rects[0])
    for face in rng.choice(len(photos[FACES]), want["lfw"], replace=False):
        add("lfw", "", face=int(face))
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
    """A synthetic distinct image of `kind`, w x h, RGB floats (clipped to 0-255 when encoded)."""
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
    elif kind == "lfw":
        im = Image.fromarray(photos[FACES][recipe["face"]])
        side = int(rng.integers(100, 251))
        im = im.resize((side, side), Image.Resampling.BICUBIC)
    else:
        if kind == "shifted-scene":
            pixels = shifted_scene(seed, recipe)
        else:
            pixels = synthetic_pixels(kind, rng, int(rng.integers(200, 501)), int(rng.integers(200, 501)))
        im = Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8))
    lossy = rng.random() < (0.6 if "photo" in recipe or kind == "lfw" else 0.5)
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


def pixels_of(im) -> np.ndarray:
    """A PIL image's bytes as a flat uint8 array (np.asarray(im) costs ~100 us more on a small image)."""
    return np.frombuffer(im.tobytes(), np.uint8)


def words_of(bits: np.ndarray) -> np.ndarray:
    """Bits (any order, length a multiple of 64) packed into big-endian uint64 words."""
    return np.frombuffer(np.packbits(bits.astype(bool)).tobytes(), ">u8").astype(np.uint64)


def dhash_before(inp: HashInput) -> tuple[np.ndarray | None, int]:
    """The 64-bit difference hash prep used before this bench (a 9x8 grey thumbnail of the box-reduced
    image, one bit per pair of neighbours), kept here for the comparison."""
    from PIL import Image

    if min(inp.size or inp.image.size) < 16:
        return None, 100
    grey = grey_reduced(inp.image, 32)
    thumbnail = grey.resize((9, 8), Image.Resampling.BILINEAR)
    low, high = thumbnail.getextrema()
    if high - low < 8:
        return None, 100
    pixels = pixels_of(thumbnail).reshape(8, 9)
    return packed(pixels[:, :-1] < pixels[:, 1:])


def prep_hash(inp: HashInput) -> tuple[np.ndarray | None, int]:
    """What prep computes today: prep.images.imaging.fingerprint, as normalise_image calls it."""
    from prep.images.imaging import fingerprint

    value, _ = fingerprint(inp.image, inp.size)
    return (np.array([value], np.uint64) if value else None), 100


def prep_thumbnail(inp: HashInput) -> np.ndarray:
    """prep's YCbCr picture beside its hash (96 bytes: what prep.core.duplicates.alike compares)."""
    from prep.images.imaging import fingerprint

    _, picture = fingerprint(inp.image, inp.size)
    return np.frombuffer(picture, np.uint8).astype(np.float32) if picture else np.zeros(96, np.float32)


def prep_alike(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """0 where prep.core.duplicates.alike calls aligned rows of pictures alike, else 1 (prep's own
    check, called pair by pair: the few pairs within the hash threshold)."""
    from prep.core.duplicates import alike

    def picture(row: np.ndarray) -> bytes:
        return row.astype(np.uint8).tobytes() if row.any() else b""

    return np.array([0 if alike(picture(x), picture(y)) else 1 for x, y in zip(a, b)], np.int32)


_DCT8x32 = 2 * np.cos(np.pi * np.outer(np.arange(8), 2 * np.arange(32) + 1) / 64)  # scipy.fftpack.dct II's first 8 rows


def phash_bits(im, reduce: bool = True, lanczos: bool = True) -> np.ndarray | None:
    """imagehash.phash's 64 bits (row-major 8x8 low frequencies > their median) of a PIL image;
    None for a flat thumbnail (range < FLAT_RANGE, the range prep's hashes before took as flat), as prep leaves flat images out.
    `reduce`: box-reduce first, as prep's dHash does; not `lanczos`: a bilinear 32x32 (cheaper)."""
    from PIL import Image

    grey = grey_reduced(im, 32) if reduce else im.convert("L")
    resample = Image.Resampling.LANCZOS if lanczos else Image.Resampling.BILINEAR
    pixels = pixels_of(grey.resize((32, 32), resample)).astype(np.float64).reshape(32, 32)
    if np.ptp(pixels) < FLAT_RANGE:
        return None
    low = (_DCT8x32 @ pixels @ _DCT8x32.T).ravel()
    middle = np.partition(low, (31, 32))
    return low > (middle[31] + middle[32]) / 2  # np.median's value, without its overhead


@functools.lru_cache(maxsize=256)
def dct_rows(n: int) -> np.ndarray:
    """The 8 lowest-frequency DCT-II basis functions sampled at n points (rows of an 8 x n matrix)."""
    return np.cos(np.pi * np.outer(np.arange(8), 2 * np.arange(n) + 1) / (2 * n)).astype(np.float32)


def dct_low(im) -> np.ndarray | None:
    """The 8x8 lowest DCT frequencies straight from the box-reduced grey image prep's dHash starts
    from (32-63 px a side; a 1/8-scale JPEG decode often is that already), with no 32x32 resize:
    the frequencies of pHash's thumbnail up to a scale per axis. None for a flat image (range <
    FLAT_RANGE, the range prep's hashes before took as flat)."""
    grey = grey_reduced(im, 32)
    pixels = pixels_of(grey).reshape(grey.height, grey.width).astype(np.float32)
    if np.ptp(pixels) < FLAT_RANGE:
        return None
    return dct_rows(grey.height) @ pixels @ dct_rows(grey.width).T / (grey.height * grey.width)


def phash_direct_bits(im) -> np.ndarray | None:
    """pHash's 64 bits (coefficients > their median; scale-free) from dct_low."""
    low = dct_low(im)
    if low is None:
        return None
    low = low.ravel()
    middle = np.partition(low, (31, 32))
    return low > (middle[31] + middle[32]) / 2


def packed(bits: np.ndarray | None) -> tuple[np.ndarray | None, int]:
    return (None if bits is None else words_of(bits)), 100


def phash(inp: HashInput) -> tuple[np.ndarray | None, int]:
    return packed(phash_bits(inp.image))


def phash_bilinear(inp: HashInput) -> tuple[np.ndarray | None, int]:
    return packed(phash_bits(inp.image, lanczos=False))


def phash_direct(inp: HashInput) -> tuple[np.ndarray | None, int]:
    return packed(phash_direct_bits(inp.image))


def phash_full(inp: HashInput) -> tuple[np.ndarray | None, int]:
    return packed(phash_bits(full_decode(inp.data)))


def pdq_of(im) -> tuple[np.ndarray, int]:
    import pdqhash

    bits, quality = pdqhash.compute(np.ascontiguousarray(np.asarray(im.convert("RGB"))))
    return words_of(bits), int(quality)


def pdq(inp: HashInput) -> tuple[np.ndarray | None, int]:
    return pdq_of(inp.image)


def pdq_full(inp: HashInput) -> tuple[np.ndarray | None, int]:
    return pdq_of(full_decode(inp.data))


class Hash(NamedTuple):
    name: str
    bits: int
    compute: Callable[[HashInput], tuple[np.ndarray | None, int]]  # (uint64 words or None: no hash, quality)
    needs_pdq: bool = False


HASHES = (
    Hash("prep", 64, prep_hash),
    Hash("dhash (before)", 64, dhash_before),
    Hash("phash", 64, phash),
    Hash("phash bilinear", 64, phash_bilinear),
    Hash("phash direct", 64, phash_direct),
    Hash("phash full", 64, phash_full),
    Hash("pdq", 256, pdq, True),
    Hash("pdq full", 256, pdq_full, True),
)


# ---------------------------------------------------------------------------------------------- second checks

def thumbnail_9x8(inp: HashInput) -> np.ndarray:
    """The 9x8 greyscale thumbnail prep's dHash compares neighbours of (its steps, redone): beside
    the dHash it costs no image work, only 72 bytes."""
    from PIL import Image

    from prep.images.fingerprint import FINGERPRINT_REDUCE_TO

    grey = grey_reduced(inp.image, FINGERPRINT_REDUCE_TO)
    return pixels_of(grey.resize((9, 8), Image.Resampling.BILINEAR)).astype(np.float32)


_LOWPASS8 = (np.cos(np.pi * np.outer(2 * np.arange(8) + 1, np.arange(8)) / 16) * np.r_[1, [2] * 7]).astype(np.float32)


def thumbnail_8x8_lowpass(inp: HashInput) -> np.ndarray:
    """The 8x8 image dct_low's coefficients describe (inverse DCT sampled on an 8x8 grid, grey
    levels): beside the direct pHash it costs two 8x8 products."""
    low = dct_low(inp.image)
    return np.zeros(64, np.float32) if low is None else (_LOWPASS8 @ low @ _LOWPASS8.T).ravel()


def thumbnail_16x16(inp: HashInput) -> np.ndarray:
    """A 16x16 greyscale thumbnail: 2x2 means of the bilinear pHash's 32x32 (beside it, next to free)."""
    from PIL import Image

    grey = pixels_of(grey_reduced(inp.image, 32).resize((32, 32), Image.Resampling.BILINEAR))
    return grey.reshape(16, 2, 16, 2).mean((1, 3), dtype=np.float32).ravel()


def colour_decode(data: bytes):
    """The file decoded as prep validates a kept JPEG (1/8 scale) but in RGB, not grey."""
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (1, 1))  # a no-op but for JPEG
    return im.convert("RGB")


def mean_chromaticity(inp: HashInput) -> np.ndarray:
    """The image's mean colour as shares of R, G and B in percent (brightness drops out): prep's
    grey hashes cannot tell a red ramp from a blue one of the same luma."""
    from PIL import Image

    mean = colour_decode(inp.data).resize((1, 1), Image.Resampling.BOX)
    rgb = pixels_of(mean).astype(np.float32) + 1
    return 100 * rgb / rgb.sum()


def mean_abs_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b).mean(-1)


def max_abs_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b).max(-1)


class Check(NamedTuple):
    """A second check of a pair within the hash threshold: distance(feature a, feature b) <= a limit."""

    name: str
    feature: Callable[[HashInput], np.ndarray]
    distance: Callable[[np.ndarray, np.ndarray], np.ndarray]
    free_with: str = ""  # a hash that computes the feature anyway


CHECKS = {
    "9x8 MAD": Check("9x8 MAD", thumbnail_9x8, mean_abs_difference, "dhash (before)"),        # grey levels
    "16x16 MAD": Check("16x16 MAD", thumbnail_16x16, mean_abs_difference, "phash bilinear"),  # grey levels
    "8x8 MAD": Check("8x8 MAD", thumbnail_8x8_lowpass, mean_abs_difference, "phash direct"),  # grey levels
    "colour": Check("colour", mean_chromaticity, max_abs_difference),                       # percentage points
    "prep picture": Check("prep picture", prep_thumbnail, prep_alike, "prep"),                # 0: alike
}


class Candidate(NamedTuple):
    hash: str
    threshold: int
    checks: tuple[tuple[str, float], ...] = ()  # (CHECKS name, limit): every one must pass
    min_quality: int = 0                        # PDQ: hashes of lower quality are not compared

    @property
    def label(self) -> str:
        quality = f" q{self.min_quality}" if self.min_quality else ""
        return f"{self.hash}{quality} <= {self.threshold}" + "".join(f" + {c} <= {v:g}" for c, v in self.checks)


def candidates(available: list[str]) -> list[Candidate]:
    from prep.core.duplicates import NEAR_BITS

    rows = [Candidate("prep", NEAR_BITS), Candidate("prep", NEAR_BITS, (("prep picture", 0),))]
    rows += [Candidate("dhash (before)", t) for t in (4, 6, 8, 10, 12)]
    rows += [Candidate("phash", t) for t in (6, 8, 10, 12)]
    rows += [Candidate("phash bilinear", t) for t in (10, 12)]
    rows += [Candidate("phash direct", t) for t in (6, 8, 10, 12, 14)]
    rows += [Candidate("phash full", t) for t in (10, 12)]
    rows += [Candidate("pdq", t) for t in (31, 50)] + [Candidate("pdq", 31, min_quality=PQ_MIN_QUALITY)]
    rows += [Candidate("pdq full", t) for t in (31, 50, 60)]
    rows += [Candidate("pdq full", t, min_quality=PQ_MIN_QUALITY) for t in (31, 50)]
    rows += [Candidate("dhash (before)", t, (("9x8 MAD", m),)) for t, m in ((6, 8), (10, 8), (10, 12))]
    rows += [Candidate("dhash (before)", 10, (("colour", 2),)),
             Candidate("dhash (before)", 10, (("colour", 2), ("9x8 MAD", 12)))]
    rows += [Candidate("phash direct", t, (("8x8 MAD", m),)) for t in (10, 12) for m in (8, 12, 16, 20)]
    rows += [Candidate("phash direct", t, (("colour", 2),)) for t in (8, 10, 12)]
    rows += [Candidate("phash direct", t, (("colour", 2), ("8x8 MAD", 16))) for t in (8, 10, 12, 14)]
    return [c for c in rows if c.hash in available]


def candidate_cost(c: Candidate, costs: dict[str, float]) -> float:
    """Seconds per image of a candidate's hash and of its checks' features."""
    return costs[c.hash] + sum(costs[name] for name, _ in c.checks if CHECKS[name].free_with != c.hash)


# ---------------------------------------------------------------------------------------------- hashing the set

def hash_worker(args: tuple) -> tuple[dict, dict]:
    """Pool task: every hash of one file, and its second checks' features."""
    path, names, extra_path = args
    if extra_path and extra_path not in sys.path:
        sys.path.append(extra_path)
    inp, _ = prep_hash_input(Path(path).read_bytes())
    return ({h.name: h.compute(inp) for h in HASHES if h.name in names},
            {name: check.feature(inp) for name, check in CHECKS.items()})


class Hashed(NamedTuple):
    words: dict[str, np.ndarray]     # hash name -> (N, bits/64) uint64, zeros where there is none
    quality: dict[str, np.ndarray]   # hash name -> (N,) PDQ quality (100 for the others)
    has: dict[str, np.ndarray]       # hash name -> (N,) bool: a hash was taken
    features: dict[str, np.ndarray]  # check name -> (N, values) float32

    def usable(self, c: Candidate) -> np.ndarray:
        return self.has[c.hash] & (self.quality[c.hash] >= c.min_quality)


def hash_set(folder: Path, items: list[dict], names: list[str], extra_path: str | None, jobs: int) -> Hashed:
    tasks = [(str(folder / item["name"]), names, extra_path) for item in items]
    words = {h.name: np.zeros((len(items), h.bits // 64), np.uint64) for h in HASHES if h.name in names}
    quality = {name: np.zeros(len(items), np.int16) for name in words}
    has = {name: np.zeros(len(items), bool) for name in words}
    features: dict[str, np.ndarray] = {}
    with ProcessPoolExecutor(jobs) as pool:
        for i, (hashes, values) in enumerate(pool.map(hash_worker, tasks, chunksize=16)):
            for name, (value, q) in hashes.items():
                if value is not None:
                    words[name][i], has[name][i] = value, True
                quality[name][i] = q
            for name, value in values.items():
                features.setdefault(name, np.zeros((len(items), value.size), np.float32))[i] = value
    return Hashed(words, quality, has, features)


# ---------------------------------------------------------------------------------------------- pairs

def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances of aligned rows of packed hashes (..., words)."""
    return np.bitwise_count(a ^ b).sum(-1, dtype=np.int32)


def share_band(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether aligned rows of packed hashes meet in prep's candidate search (prep.core.duplicates.
    compare_bucket, below a million images and MAX_COMPARED images a bucket): the same high byte in at
    least one 16-bit band, the bucket key, whose images are compared every two."""
    x = a ^ b
    high = np.stack([(x >> np.uint64(16 * k + 8)) & np.uint64(0xFF) for k in range(4)], -1)
    return np.any(high == 0, axis=(-1, -2))


def all_pairs(words: np.ndarray, within: int, block: int = 256) -> tuple[np.ndarray, ...]:
    """Over all pairs i < j of `words` rows: the histogram of their distances, and the pairs (i, j,
    distance) at most `within` apart."""
    n, bits = len(words), 64 * words.shape[1]
    histogram = np.zeros(bits + 1, np.int64)
    close_i, close_j, close_d = [], [], []
    for start in range(0, n, block):
        d = distances(words[start:start + block, None, :], words[None, :, :])
        upper = np.arange(n)[None, :] > np.arange(start, min(start + block, n))[:, None]
        histogram += np.bincount(d[upper], minlength=bits + 1)
        i, j = np.nonzero(upper & (d <= within))
        close_i.append(i + start)
        close_j.append(j)
        close_d.append(d[i, j])
    return histogram, np.concatenate(close_i), np.concatenate(close_j), np.concatenate(close_d)


def check_distances(hashed: Hashed, check: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    values = hashed.features[check]
    return CHECKS[check].distance(values[i], values[j])


def histogram_quantile(histogram: np.ndarray, q: float) -> int:
    """The smallest distance d with at least a fraction q of the pairs at or below it."""
    return int(np.searchsorted(np.cumsum(histogram), q * histogram.sum()))


PHOTO_KINDS = ("photo", "lfw", "shifted-photo")  # real pictures: the "photos" columns
CROP_KINDS = ("photo", "shifted-photo")


def pair_category(a: dict, b: dict) -> str:
    """What kind of distinct pair two items are, for the false-pair breakdown."""
    if a["source"] and a["source"] == b["source"]:
        return f"{a['kind']}: the same scene shifted"
    if a["kind"] in CROP_KINDS and b["kind"] in CROP_KINDS and a["source"].split("#")[0] == b["source"].split("#")[0]:
        return "two crops of one photo"
    return " / ".join(sorted((a["kind"], b["kind"])))


class Planted(NamedTuple):
    """The (original, copy) pairs, as item indices, and their copies' transforms and originals' kinds."""

    original: np.ndarray
    copy: np.ndarray
    transform: np.ndarray
    kind: np.ndarray


def planted_pairs(items: list[dict]) -> Planted:
    of_group = {item["group"]: n for n, item in enumerate(items) if not item["transform"]}
    copies = np.array([n for n, item in enumerate(items) if item["transform"]])
    return Planted(np.array([of_group[items[n]["group"]] for n in copies]), copies,
                   np.array([items[n]["transform"] for n in copies]), np.array([items[n]["kind"] for n in copies]))


def found_pairs(c: Candidate, hashed: Hashed, i: np.ndarray, j: np.ndarray, d: np.ndarray | None = None) -> np.ndarray:
    """Which pairs (i, j) the candidate calls near copies (d: their hash distances, if known)."""
    usable = hashed.usable(c)
    d = distances(hashed.words[c.hash][i], hashed.words[c.hash][j]) if d is None else d
    found = usable[i] & usable[j] & (d <= c.threshold)
    for check, limit in c.checks:
        found &= check_distances(hashed, check, i, j) <= limit
    return found


class Evaluation(NamedTuple):
    candidate: Candidate
    recall: float
    recall_bands: float    # found and sharing a 16-bit band
    recall_photos: float   # of copies of real photos (PHOTO_KINDS)
    recall_photos_bands: float
    false_pairs: int
    distinct_hashed: int
    false_photo_pairs: int  # both pictures real photos
    photos_hashed: int
    false_categories: dict

    @property
    def false_in_10k(self) -> float:
        return false_in_set(self.false_pairs, self.distinct_hashed)

    @property
    def false_photos_in_10k(self) -> float:
        return false_in_set(self.false_photo_pairs, self.photos_hashed)


def evaluate(c: Candidate, items: list[dict], hashed: Hashed, planted: Planted, negatives: dict) -> Evaluation:
    """Recall of planted pairs and false pairs among distinct images for one candidate."""
    o, k = planted.original, planted.copy
    found = found_pairs(c, hashed, o, k)
    banded = found & share_band(hashed.words[c.hash][o], hashed.words[c.hash][k])
    index, _, ci, cj, cd = negatives[c.hash]
    false = found_pairs(c, hashed, index[ci], index[cj], cd)
    categories: dict[str, int] = {}
    for i, j in zip(index[ci[false]], index[cj[false]], strict=True):
        category = pair_category(items[i], items[j])
        categories[category] = categories.get(category, 0) + 1
    photo = np.array([item["kind"] in PHOTO_KINDS for item in items])
    usable = hashed.usable(c)[index]
    photo_copies = np.isin(planted.kind, PHOTO_KINDS)
    return Evaluation(c, found.mean(), banded.mean(), found[photo_copies].mean(), banded[photo_copies].mean(),
                      int(false.sum()), int(usable.sum()), int((false & photo[index[ci]] & photo[index[cj]]).sum()),
                      int((usable & photo[index]).sum()), categories)


def distinct_negatives(hashed: Hashed, distinct: np.ndarray, within: dict[str, int]) -> dict:
    """Per hash: (indices of the distinct images with a hash, histogram of all their pair distances,
    the pairs (i, j, d) at most within[hash] apart, i and j positions in those indices)."""
    out = {}
    for name in within:
        index = distinct[hashed.has[name][distinct]]
        out[name] = (index, *all_pairs(hashed.words[name][index], within[name]))
    return out


def false_in_set(false_pairs: int, n: int, size: int = SET_SIZE) -> float:
    """False pairs expected among `size` distinct images at the per-pair rate false_pairs / C(n, 2)."""
    return false_pairs / math.comb(n, 2) * math.comb(size, 2) if n > 1 else float("nan")


# ---------------------------------------------------------------------------------------------- timing

def time_steps(steps: dict[str, tuple[Callable, list]], repeats: int = 7) -> dict[str, float]:
    """Seconds per input of each (function, inputs) step: every step timed in turn, `repeats` times
    (so that a busy moment of the machine does not favour one), the fastest pass of each."""
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(repeats):
        for name, (fn, inputs) in steps.items():
            start = time.perf_counter()
            for x in inputs:
                fn(x)
            best[name] = min(best[name], (time.perf_counter() - start) / len(inputs))
    return best


def grey_draft_decode(data: bytes):
    """What prep's validation of a kept JPEG decodes (1/8 scale, grey)."""
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.draft("L", (1, 1))
    im.load()
    return im


def time_hashes(paths: list[Path], names: list[str]) -> tuple[float, dict[str, float]]:
    """normalise_image's seconds per file without a fingerprint, and each hash's and check feature's
    from its input. The colour check's cost is its feature's less the grey draft decode prep does
    anyway (what decoding the 1/8 scale in colour instead adds; a difference of two ~1 ms decodes)."""
    from prep.images.imaging import ImageOptions, normalise_image

    data = [p.read_bytes() for p in paths]
    options = ImageOptions(fingerprint=False)
    inputs = [prep_hash_input(d)[0] for d in data]
    steps = {"convert": (lambda d: normalise_image(d, options), data)}
    steps.update({h.name: (h.compute, inputs) for h in HASHES if h.name in names})
    steps.update({name: (check.feature, inputs) for name, check in CHECKS.items()})
    steps.pop("colour")
    costs = time_steps(steps)
    costs["colour"] = colour_cost(inputs)
    costs["prep"] = prep_cost(data)
    return costs.pop("convert"), costs


def prep_cost(data: list[bytes], repeats: int = 5) -> float:
    """Seconds per image prep's fingerprint adds to normalise_image as `prep images` runs it: the
    1/8-scale decode of a kept JPEG in YCbCr instead of grey and the reduced image it keeps (the median
    of paired differences: normalise_image with its fingerprint deferred and without one, back to back
    in alternating order), and then fingerprints() over them 256 at a time, as the conversion does."""
    from prep.images.fingerprint import fingerprints
    from prep.images.imaging import ImageOptions, normalise_image

    options = {True: ImageOptions(), False: ImageOptions(fingerprint=False)}
    extra, kept = [], []
    for repeat in range(repeats):
        for k, d in enumerate(data):
            seconds = {}
            for fingerprinted in ((True, False) if (k + repeat) % 2 else (False, True)):
                start = time.perf_counter()
                record = normalise_image(d, options[fingerprinted], defer_fingerprint=True)
                seconds[fingerprinted] = time.perf_counter() - start
                if fingerprinted and repeat == 0:
                    kept.append(record.reduced)
            extra.append(seconds[True] - seconds[False])
    batches = [kept[i:i + 256] for i in range(0, len(kept), 256)]
    hashing = min(_seconds(lambda: [fingerprints(batch) for batch in batches]) for _ in range(repeats)) / len(kept)
    return max(0.0, float(np.median(extra))) + hashing


def _seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def colour_cost(inputs: list[HashInput], repeats: int = 5) -> float:
    """Seconds per image the colour feature adds to the grey draft decode prep does anyway: the
    median over files and repeats of the two timed back to back (a difference of two ~1 ms
    decodes: the median of paired differences keeps a busy moment of the machine out of it)."""
    extra = []
    for _ in range(repeats):
        for inp in inputs:
            start = time.perf_counter()
            grey_draft_decode(inp.data)
            middle = time.perf_counter()
            mean_chromaticity(inp)
            extra.append(time.perf_counter() - 2 * middle + start)
    return max(0.0, float(np.median(extra)))


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
    for item in items:
        kinds.setdefault(item["kind"], [0, 0])[bool(item["transform"])] += 1
    copy = np.array([bool(item["transform"]) for item in items])
    print(table(["kind", "distinct", "planted copies of it"], [[k, v[0], v[1]] for k, v in kinds.items()]
                + [["all", int((~copy).sum()), int(copy.sum())]]))
    print("\nwithout a hash (never compared): " + "; ".join(
        f"{name} {int((~has[~copy]).sum())} distinct + {int((~has[copy]).sum())} copies"
        for name, has in hashed.has.items()))
    low = {name: q < PQ_MIN_QUALITY for name, q in hashed.quality.items() if name.startswith("pdq")}
    if low:
        print(f"PDQ quality < {PQ_MIN_QUALITY} (left out by the q{PQ_MIN_QUALITY} rows): " + "; ".join(
            f"{name} {int(q[~copy].sum())} distinct + {int(q[copy].sum())} copies" for name, q in low.items()))


def print_candidates(evaluations: list[Evaluation], costs: dict[str, float], convert: float, n: int) -> None:
    rows = []
    for e in evaluations:
        cost = candidate_cost(e.candidate, costs)
        rows.append([e.candidate.label, f"{pct(e.recall)} ({pct(e.recall_bands)})",
                     f"{pct(e.recall_photos)} ({pct(e.recall_photos_bands)})", e.false_pairs,
                     f"{e.false_pairs * 1e4 / n:,.1f}", f"{e.false_in_10k:,.1f}", e.false_photo_pairs,
                     f"{e.false_photos_in_10k:,.0f}", f"{cost * 1e6:.0f}", pct(cost / convert)])
    print(table(["candidate (distance <= bits)", "recall (16-bit bands)", "recall, photos (bands)", "false pairs",
                 "per 10k images", "in a 10k set", "false, photo pairs", "photos: in a 10k set", "us/image",
                 "of conversion"], rows))


def print_distributions(hashed: Hashed, planted: Planted, negatives: dict) -> None:
    o, k = planted.original, planted.copy
    rows = []
    for name, (_, histogram, *_) in negatives.items():
        words, has = hashed.words[name], hashed.has[name]
        valid = has[o] & has[k]
        d = distances(words[o], words[k])
        needed = next((t for t in range(histogram.size) if (valid & (d <= t)).mean() >= TARGET_RECALL), None)
        rows.append([name, int((~valid).sum()), *np.percentile(d[valid], [50, 90, 95, 99]).round().astype(int),
                     int(d[valid].max()), int(np.flatnonzero(histogram)[0]),
                     *[histogram_quantile(histogram, q) for q in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.5)],
                     "-" if needed is None else needed, "-" if needed is None else int(histogram[:needed + 1].sum())])
    print(table(["hash", "planted: no hash", "p50", "p90", "p95", "p99", "max", "distinct: min", "q 1e-6", "q 1e-5",
                 "q 1e-4", "q 0.1%", "q 1%", "q 50%", "bits for 95% recall", "false pairs there"], rows))


def print_recall_by(label: str, keys: np.ndarray, order: list[str], hashed: Hashed, planted: Planted,
                    chosen: list[Candidate]) -> None:
    found = {c: found_pairs(c, hashed, planted.original, planted.copy) for c in chosen}
    rows = [[key, int((keys == key).sum()), *[pct(found[c][keys == key].mean()) for c in chosen]]
            for key in order if (keys == key).any()]
    print(table([label, "pairs", *[c.label for c in chosen]], rows))


def print_categories(evaluations: list[Evaluation]) -> None:
    categories = sorted({cat for e in evaluations for cat in e.false_categories},
                        key=lambda cat: -max(e.false_categories.get(cat, 0) for e in evaluations))
    rows = [[cat, *[e.false_categories.get(cat, 0) for e in evaluations]] for cat in categories]
    print(table(["false pairs: kinds", *[e.candidate.label for e in evaluations]], rows or [["none"]]))


def print_checks(hashed: Hashed, planted: Planted, negatives: dict, bases: list[tuple[str, int]]) -> None:
    """Second-check distances of planted pairs and of the distinct pairs a hash threshold lets through."""
    o, k = planted.original, planted.copy
    rows = []
    for check in CHECKS:
        m = check_distances(hashed, check, o, k)
        rows.append([f"{check}: planted pairs, all", len(m), *np.percentile(m, [50, 90, 95, 99, 100]).round(1)])
        for name, threshold in bases:
            index, _, ci, cj, cd = negatives[name]
            sel = cd <= threshold
            m = check_distances(hashed, check, index[ci[sel]], index[cj[sel]])
            if len(m):
                rows.append([f"{check}: distinct pairs {name} <= {threshold}", len(m),
                             *np.percentile(m, [0, 0.1, 1, 5, 50]).round(1)])
    print(table(["pairs", "count", "p50 / min", "p90 / p0.1", "p95 / p1", "p99 / p5", "max / p50"], rows))
    print("(planted pairs: p50 p90 p95 p99 max; distinct pairs: min p0.1 p1 p5 p50. MAD in grey levels, "
          "colour in percentage points of the mean colour's R, G, B shares)")


def recommend(evaluations: list[Evaluation], costs: dict[str, float], convert: float) -> str:
    """The target met within the time budget, or else the candidate within the budget that finds
    >= 95% of the copies of real photos with the fewest false pairs."""
    def describe(e: Evaluation) -> str:
        cost = candidate_cost(e.candidate, costs)
        return (f"{e.candidate.label}: recall {pct(e.recall)} ({pct(e.recall_bands)} through 16-bit bands), "
                f"{pct(e.recall_photos)} of photo copies ({pct(e.recall_photos_bands)}), "
                f"{e.false_pairs} false pairs among {e.distinct_hashed:,} "
                f"distinct images = {e.false_in_10k:,.1f} in a 10k set ({e.false_photo_pairs} among the photos = "
                f"{e.false_photos_in_10k:,.0f} in a 10k set of photos), {cost * 1e6:.0f} us/image = "
                f"{pct(cost / convert)} of conversion")

    cheap = [e for e in evaluations if candidate_cost(e.candidate, costs) <= BUDGET * convert]
    meets = [e for e in cheap if e.recall >= TARGET_RECALL and e.false_in_10k <= TARGET_FALSE_IN_10K]
    if meets:
        return "RECOMMENDATION: " + describe(max(meets, key=lambda e: (e.recall_bands, e.recall)))
    photos = [e for e in cheap if e.recall_photos >= TARGET_RECALL]
    if photos:
        best = min(photos, key=lambda e: (e.false_pairs, -e.recall))
        return ("RECOMMENDATION (no candidate meets the target within the time budget; of those finding >= 95% "
                "of the photo copies, the fewest false pairs): " + describe(best))
    return "RECOMMENDATION: no candidate within the time budget finds 95% of the photo copies"


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
    return (f"pHash vs imagehash {imagehash.__version__} phash() on {len(diffs)} images: identical without the box "
            f"reduce {same}/{len(diffs)}; with it (as benchmarked) {same_reduced}/{len(diffs)}, "
            f"{np.mean(diffs):.2f} bits apart on average")


DETAILED = (  # the candidates the per-transform, per-kind and false-pair tables show
    Candidate("prep", 12, (("prep picture", 0),)), Candidate("dhash (before)", 6), Candidate("dhash (before)", 10, (("9x8 MAD", 8),)), Candidate("pdq full", 31),
    Candidate("phash", 10), Candidate("phash direct", 10), Candidate("phash direct", 10, (("8x8 MAD", 16),)),
    Candidate("phash direct", 10, (("colour", 2),)), Candidate("phash direct", 10, (("colour", 2), ("8x8 MAD", 16))),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="/tmp/prep-bench-duplicates", help="generated images, cached between runs")
    parser.add_argument("--distinct", type=int, default=4000, help="distinct images in the set")
    parser.add_argument("--copies", type=int, default=800, help="planted near copies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes to build and hash with")
    parser.add_argument("--wheel", help="scikit-image wheel (default: one in workdir or /tmp/dupbench, or downloaded)")
    parser.add_argument("--extra-path", help="site-packages folder with pdqhash (and imagehash), put last on sys.path")
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

    planted = planted_pairs(items)
    distinct = np.array([n for n, item in enumerate(items) if not item["transform"]])
    rows = candidates(names)
    negatives = distinct_negatives(hashed, distinct, {name: max(c.threshold for c in rows if c.hash == name)
                                                      for name in names})
    evaluations = [evaluate(c, items, hashed, planted, negatives) for c in rows]
    chosen = [c for c in DETAILED if c.hash in names]
    photos = sum(item["kind"] in PHOTO_KINDS for item in items if not item["transform"])

    print(f"\n## The set: {len(distinct):,} distinct images ({photos:,} of them real photos), "
          f"{len(planted.copy):,} planted copies\n")
    print_set_summary(items, hashed)
    print(f"\n## Candidates: {len(planted.copy)} planted pairs, all pairs of {len(distinct):,} distinct images\n")
    print(f"per 10k images = F * 10,000 / N; in a 10k set = F / C(N,2) * C(10,000,2), N = distinct images with a "
          f"hash; F = 0 bounds the latter at {false_in_set(3, len(distinct)):.1f} (95%), and at "
          f"{false_in_set(3, photos):.0f} among the photos\n")
    print_candidates(evaluations, costs, convert, len(distinct))
    print("\n## Distances: planted (original, copy) pairs, and quantiles of all distinct pairs\n")
    print_distributions(hashed, planted, negatives)
    print("\n## Recall by transform\n")
    print_recall_by("transform", planted.transform, list(TRANSFORMS), hashed, planted, chosen)
    print("\n## Recall by kind of original\n")
    print_recall_by("original", planted.kind, list(KIND_SHARES), hashed, planted, chosen)
    print("\n## False pairs by kind of pair\n")
    print_categories([e for e in evaluations if e.candidate in chosen])
    print("\n## Second checks: distances of planted pairs and of the distinct pairs a hash lets through\n")
    print_checks(hashed, planted, negatives, [("dhash (before)", 10), ("phash direct", 12)])
    print(f"\n## Time per image ({args.timing_images} JPEGs of 640x480, one process)\n")
    print(table(["step", "us/image", "of conversion"],
                [["normalise_image, no fingerprint", f"{convert * 1e6:.0f}", "100%"]]
                + [[name, f"{t * 1e6:.0f}", pct(t / convert)] for name, t in costs.items()]))
    print("\n" + cross_check_imagehash(workdir / "images", items))
    print("\n" + recommend(evaluations, costs, convert))


if __name__ == "__main__":
    main()
