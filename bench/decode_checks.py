"""Benchmark: what making every record decodable by TensorFlow costs prep per image.

Two costs, each against the whole conversion of the same image (`normalise_image`, as the job calls it):
- a kept JPEG's marker walk to its end-of-image marker (prep.images.imaging._check_jpeg_markers), which
  reads what libjpeg reads in TensorFlow's jpeg_finish_decompress and Pillow never reads;
- a GIF's re-encoding to PNG (GIFs are never kept: giflib refuses GIFs Pillow reads): the PNG encode of
  its palette image, which is what an opaque GIF becomes (prep.images.imaging._palette_png_will_do).

    .venv/bin/python bench/decode_checks.py                 # 300 photo-like 640x480 images, best of 5
    .venv/bin/python bench/decode_checks.py --images 1000 --repeats 7

Times are per image, in microseconds, the best of --repeats passes over all images (timeit's rule: the
fastest pass is the one least disturbed by the rest of the machine).
"""

from __future__ import annotations

import argparse
import io
import time


def photos(count: int, size: tuple[int, int], fmt: str) -> list[bytes]:
    """Photo-like images (smooth colour fields with fine noise), encoded as `fmt`."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    width, height = size
    out = []
    for _ in range(count):
        base = rng.random((3, 3, 3)) * 255
        field = np.array(Image.fromarray(base.astype("uint8")).resize((width, height), Image.Resampling.BICUBIC))
        noisy = np.clip(field + rng.normal(0, 6, field.shape), 0, 255).astype("uint8")
        image = Image.fromarray(noisy)
        buffer = io.BytesIO()
        if fmt == "GIF":
            image.convert("P").save(buffer, "GIF")
        else:
            image.save(buffer, fmt, quality=90)
        out.append(buffer.getvalue())
    return out


def best_per_image(work, items: list, repeats: int) -> float:
    """The fastest pass of `work` over `items`, in microseconds per item."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for item in items:
            work(item)
        best = min(best, time.perf_counter() - start)
    return best / len(items) * 1e6


def main() -> None:
    from prep.images.imaging import ImageOptions, _check_jpeg_markers, _encode, normalise_image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    options = ImageOptions()

    jpegs = photos(args.images, (640, 480), "JPEG")
    walk = best_per_image(_check_jpeg_markers, jpegs, args.repeats)
    whole = best_per_image(lambda data: normalise_image(data, options), jpegs, args.repeats)
    size = sum(map(len, jpegs)) / len(jpegs) / 1000
    print(f"JPEG 640x480 (~{size:.0f} kB, kept): marker walk {walk:.1f} us of {whole:.0f} us converting "
          f"({walk / whole:.1%})")

    gifs = photos(max(1, args.images // 3), (640, 480), "GIF")
    records = [normalise_image(data, options) for data in gifs]
    assert all(r.reencoded and r.format == "png" for r in records)
    whole = best_per_image(lambda data: normalise_image(data, options), gifs, args.repeats)

    from PIL import Image

    pixels = [Image.open(io.BytesIO(data)) for data in gifs]
    for im in pixels:
        im.load()
    assert all(im.mode == "P" for im in pixels)
    encode = best_per_image(lambda im: _encode(im, "png", options.quality), pixels, args.repeats)
    print(f"GIF 640x480 (re-encoded as PNG): PNG encode {encode:.0f} us of {whole:.0f} us converting "
          f"({encode / whole:.1%}); PNG {sum(len(r.data) for r in records) / sum(map(len, gifs)):.2f}x the GIF's bytes")


if __name__ == "__main__":
    main()
