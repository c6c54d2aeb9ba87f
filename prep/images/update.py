"""`prep images SRC OUT --update`: the options of the next version of the image dataset in OUT, read
from the dataset itself (an update converts its new inputs exactly as the first run converted its own),
and what the update starts from (prep.jobs.options.UpdateOptions)."""

from __future__ import annotations

import dataclasses
import os

from prep.core import launcher_reads
from prep.core.splits import SplitFractions
from prep.core.versions import inventory_file_name
from prep.images.imaging import ImageOptions
from prep.images.manifest import ManifestSpec
from prep.images.options import ImageJobOptions
from prep.jobs.options import HeldShard, ShardingOptions, UpdateOptions

MIN_UPDATE_SHARD_SIZE = 2**20  # bytes: an update's shards of a dataset written with --num-shards are no smaller


class CannotUpdate(ValueError):
    """The dataset in OUT cannot take an update: the message says why and what to do instead."""


def _tuple(value):
    return tuple(_tuple(v) for v in value) if isinstance(value, list) else value


def _shard_size(schema, sharding: dict) -> int:
    """The shard size of an update's new shards: the first run's --shard-size, or (--num-shards) the
    bytes its shards hold on average."""
    if not sharding.get("num_shards"):
        return sharding["shard_size"]
    sizes = [shard.num_bytes or 0 for split in schema.splits for shard in split.shards]
    return max(MIN_UPDATE_SHARD_SIZE, sum(sizes) // max(1, len(sizes)))


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
    from apache_beam.io.filesystems import FileSystems

    from prep.core.vocab_files import read_vocabulary
    from schemas import SCHEMA_FILE, SchemaError, load_schema
    from schemas.guarded_write import observe

    try:
        schema = load_schema(out)
    except SchemaError as e:
        raise CannotUpdate(f"--update grows a dataset, and {e}") from None
    recorded = schema.provenance.options if schema.provenance else {}
    if schema.kind != "images" or not recorded or schema.provenance.command != "images":
        raise CannotUpdate(f"{out} was not written by prep images, so prep images --update cannot grow it")
    listed = set(launcher_reads.listing(out))
    missing = [s.file for split in schema.splits for s in split.shards
               if FileSystems.join(out, inventory_file_name(s.file)) not in listed]
    if missing:
        raise CannotUpdate(f"{out} has no record of what its shards hold ({inventory_file_name(missing[0])} is "
                           "missing: a prep older than --update wrote it), so an update cannot tell what changed; "
                           "convert it again with --overwrite")
    image = dict(recorded["image"])
    image["resize"] = _tuple(image.get("resize"))
    sharding = recorded["sharding"]
    fractions = recorded.get("split_fractions")
    labels = next((v for v in schema.vocabularies if v.kind == "labels"), None)  # none: regression targets
    classes = read_vocabulary(FileSystems.join(out, labels.file), on_launcher=True) if labels else ()
    shards = tuple(HeldShard(split.name, shard.file, shard.num_records or 0, shard.num_bytes or 0, shard.index, i)
                   for split in schema.splits for i, shard in enumerate(split.shards))
    if recorded.get("manifest"):  # rows name files relative to SRC: as the first run, SRC is absolute
        src, out = (os.path.abspath(p) if "://" not in p else p for p in (src, out))
    return ImageJobOptions(
        src=src, out=out, image=ImageOptions(**image), manifest=_manifest(recorded.get("manifest"), annotations),
        sharding=ShardingOptions(shard_size=_shard_size(schema, sharding), compression=sharding["compression"]),
        split_fractions=SplitFractions(tuple(fractions.items())) if fractions else None,
        labels=_tuple(recorded.get("labels")), include_hidden=recorded.get("include_hidden", False),
        dedupe=recorded.get("dedupe", False), dedupe_near=recorded.get("dedupe_near", False),
        check_duplicates=recorded.get("check_duplicates", True), spill_shuffles=spill_shuffles, created=created,
        update=UpdateOptions(schema.version + 1, observe(FileSystems.join(out, SCHEMA_FILE)), shards,
                             schema.split_names, tuple(classes)),
    )

