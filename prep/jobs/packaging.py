"""Shipping the toolkit to Dataflow workers, so a user needs no setup.py of their own.

The launcher copies its own installed packages (editable checkout or wheel alike) into a temporary
folder with a generated setup.py and passes it as Beam's --setup_file; Beam builds an sdist from it
and installs it on every worker. Workers need no TensorFlow: records are encoded in plain Python.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import shutil
import tempfile
from pathlib import Path

import prep

PACKAGES = ("prep", "beam_jobs", "schemas", "readers")
# What workers import besides apache-beam (which the Dataflow worker image already has), as pyproject.toml
# requires it (a test compares them): regex for WordPiece, sentencepiece for SentencePiece, pycocotools for
# COCO's instance masks, tokenizers for learning byte-pair files.
WORKER_REQUIREMENTS = ("pillow>=10", "click>=8.1", "google-crc32c>=1.5", "regex>=2023.10", "sentencepiece>=0.2,<0.2.2",
                       "pycocotools>=2.0.7", "tokenizers>=0.19")

_SETUP = '''\
import setuptools

setuptools.setup(
    name="tfrecord-prep-worker",
    version={version!r},
    packages=setuptools.find_packages(),
    package_data={{"schemas": ["*.json"], "prep.text": ["*.json"]}},
    install_requires={requirements!r},
)
'''


def worker_package(folder: str | None = None) -> str:
    """Writes the toolkit's packages and a setup.py into `folder`; returns the path of the setup.py,
    for --setup_file. Without `folder`, into one temporary folder per process, written once and
    deleted when the process ends (Beam has built and staged its sdist by then)."""
    if folder is None:
        return _process_package()
    root = Path(folder)
    for name in PACKAGES:
        source = Path(importlib.util.find_spec(name).origin).parent  # found, not imported: no TensorFlow
        shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                        dirs_exist_ok=True)
    (root / "README.txt").write_text("prep's packages, shipped to Beam workers by `prep` itself.\n")
    setup = root / "setup.py"
    setup.write_text(_SETUP.format(version=prep.__version__, requirements=list(WORKER_REQUIREMENTS)))
    return str(setup)


@functools.lru_cache(maxsize=None)
def _process_package() -> str:
    folder = tempfile.mkdtemp(prefix="prep-worker-package-")
    atexit.register(shutil.rmtree, folder, True)
    return worker_package(folder)
