"""Fixtures shared by the tests: small image folders made with Pillow, and running the `prep` CLI."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Dataflow settings Beam's dry run accepts offline (it refuses ids like `p` and buckets like `gs://b`): as
# RunnerOptions fields, and as the `prep` command's flags.
DATAFLOW = dict(runner="dataflow", project="my-proj-123", region="us-central1", temp_location="gs://my-bucket/tmp")
DATAFLOW_FLAGS = [arg for name, value in DATAFLOW.items() for arg in (f"--{name.replace('_', '-')}", value)]


def image_bytes(size=(32, 24), color=(200, 30, 30), fmt="JPEG", mode="RGB", **save) -> bytes:
    """An encoded image: a colour block with a gradient so that it is not trivially compressible."""
    from PIL import Image

    image = Image.new("RGB", size, color)
    pixels = image.load()
    for x in range(size[0]):
        for y in range(size[1]):
            pixels[x, y] = ((color[0] + 7 * x) % 256, (color[1] + 5 * y) % 256, color[2])
    if mode != "RGB":
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def write_image(path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(**kwargs))
    return path


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """SRC with classes cat (5 JPEGs, one nested), dog (4 PNGs) and fish (3 JPEGs)."""
    src = tmp_path / "src"
    for i in range(5):
        write_image(src / "cat" / ("sub" if i == 4 else "") / f"cat{i}.jpg", size=(30 + i, 20), color=(250, 10 * i, 0))
    for i in range(4):
        write_image(src / "dog" / f"dog{i}.png", fmt="PNG", size=(16, 16 + i), color=(0, 200, 20 * i))
    for i in range(3):
        write_image(src / "fish" / f"fish {i}.jpg", size=(40, 30), color=(0, 0, 100 + 40 * i))
    return src


@dataclass
class Result:
    exit_code: int
    out: str
    err: str


@pytest.fixture
def prep_cli(capsys):
    """Runs `prep ARGS...` in this process and returns its exit code and output."""
    from prep.cli.main import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def made_dataset(tmp_path_factory) -> Path:
    """An image dataset written once per session by `prep images` (train/test, 2 shards each); copy it
    before changing it."""
    from prep.cli.main import main

    base = tmp_path_factory.mktemp("made")
    src = base / "src"
    for i in range(12):
        write_image(src / ("cat" if i % 3 else "dog") / f"{i}.jpg", size=(20 + i, 16), color=(20 * i, 0, 0))
    out = base / "out"
    code = main(["images", str(src), str(out), "--split", "train=0.5,test=0.5", "--num-shards", "2", "--workers", "1"])
    assert code == 0
    return out


@pytest.fixture
def dataset_copy(made_dataset, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(made_dataset, tmp_path / "dataset"))


@pytest.fixture(autouse=True, scope="session")
def _worker_sdist_built_once():
    """Every Dataflow dry run makes Beam build an sdist of the worker package prep ships
    (prep.jobs.packaging): two Python processes, about 5 seconds here, and dozens of tests dry-run a
    job. The package is the same each time, so Beam's own build runs once per distinct content (the
    folder's files, hashed) and later runs get a copy of the tarball it built."""
    import hashlib
    import shutil

    from apache_beam.runners.portability.stager import Stager

    build = Stager._build_setup_package
    built: dict[str, tuple[str, str]] = {}  # content -> (a copy of the tarball, its name)

    def once(setup_file: str, temp_dir: str, build_setup_args=None) -> str:
        folder = Path(setup_file).parent
        digest = hashlib.sha256()
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "egg-info" not in str(p)):
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
        key = f"{digest.hexdigest()}:{build_setup_args}"
        if key not in built or not os.path.exists(built[key][0]):
            tarball = build(setup_file, temp_dir, build_setup_args)
            kept = Path(os.environ.get("TMPDIR", "/tmp")) / f"prep-test-sdist-{os.getpid()}-{len(built)}.tar.gz"
            shutil.copyfile(tarball, kept)
            built[key] = (str(kept), os.path.basename(tarball))
            return tarball
        kept, name = built[key]
        return shutil.copyfile(kept, os.path.join(temp_dir, name))

    Stager._build_setup_package = staticmethod(once)
    yield
    Stager._build_setup_package = staticmethod(build)
    for kept, _ in built.values():
        Path(kept).unlink(missing_ok=True)
