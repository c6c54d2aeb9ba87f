"""`prep images SRC OUT --update`: the options of the next version of the image dataset in OUT, read
from the dataset itself (an update converts its new inputs exactly as the first run converted its own;
what every update starts from: prep.jobs.updates)."""

from __future__ import annotations

import dataclasses
import os

from prep.core.splits import SplitFractions
from prep.images.imaging import ImageOptions
from prep.images.manifest import ManifestSpec
from prep.images.options import ImageJobOptions
from prep.jobs.updates import CannotUpdate, starting_point
from prep.jobs.updates import tuples as _tuple

_ANNOTATION_FLAGS = {"--manifest": None, "--coco": "coco", "--boxes": "boxes"}  # flag -> ManifestSpec.annotations


def _manifest(recorded: dict | None, given: tuple[str, str] | None) -> ManifestSpec | None:
    """The manifest the dataset was made from, as it recorded it; `given`: (flag, file) of the file to
    read now instead (this week's manifest), read as the first was."""
    if not recorded:
        if given:
            raise CannotUpdate(f"the dataset was made from class folders: an update reads SRC's folders, not {given[0]}")
        return None
    spec = ManifestSpec(**{k: _tuple(v) for k, v in recorded.items()})
    if not given:
        return spec
    flag, path = given
    if _ANNOTATION_FLAGS[flag] != spec.annotations:
        made = {v: k for k, v in _ANNOTATION_FLAGS.items()}.get(spec.annotations, "--voc")
        raise CannotUpdate(f"the dataset was made with {made}: name this version's file with {made}, not {flag}")
    return dataclasses.replace(spec, path=os.path.abspath(path) if "://" not in path else path)


def update_options(src: str, out: str, created: str, spill_shuffles: bool,
                   annotations: tuple[str, str] | None = None) -> ImageJobOptions:
    """The options of an update of the image dataset in `out` from `src`; CannotUpdate when there is
    no dataset there that an update can grow. `annotations`: (flag, file) of the manifest or annotations
    file to read (default: the one the dataset was made from)."""
    start = starting_point(out, "images")
    recorded = start.recorded
    if recorded.get("masks") or (recorded.get("manifest") or {}).get("instance_masks"):
        raise CannotUpdate("a dataset with masks (--masks) cannot be updated yet: convert SRC again with --overwrite")
    image = dict(recorded["image"])
    image["resize"] = _tuple(image.get("resize"))
    fractions = recorded.get("split_fractions")
    if recorded.get("manifest"):  # rows name files relative to SRC: as the first run, SRC is absolute
        src, out = (os.path.abspath(p) if "://" not in p else p for p in (src, out))
    return ImageJobOptions(
        src=src, out=out, image=ImageOptions(**image), manifest=_manifest(recorded.get("manifest"), annotations),
        sharding=start.sharding,
        split_fractions=SplitFractions(tuple(fractions.items())) if fractions else None,
        labels=_tuple(recorded.get("labels")), include_hidden=recorded.get("include_hidden", False),
        dedupe=recorded.get("dedupe", False), dedupe_near=recorded.get("dedupe_near", False),
        check_duplicates=recorded.get("check_duplicates", True), spill_shuffles=spill_shuffles, created=created,
        update=start.update,
    )
