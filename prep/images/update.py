"""`prep images SRC OUT --update`: the options of the next version of the image dataset in OUT, read
from the dataset itself (an update converts its new inputs exactly as the first run converted its own),
and what the update starts from (prep.jobs.options.UpdateOptions)."""

from __future__ import annotations

from prep.core import launcher_reads
from prep.core.splits import SplitFractions
from prep.core.versions import inventory_file_name
from prep.images.imaging import ImageOptions
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


def update_options(src: str, out: str, created: str, spill_shuffles: bool) -> ImageJobOptions:
    """The options of an update of the image dataset in `out` from `src`; CannotUpdate when there is
    no dataset there that an update can grow."""
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
    if recorded.get("manifest"):
        raise CannotUpdate(f"{out} was made from a manifest or annotations: --update grows a dataset made from "
                           "class folders for now; convert it again with --overwrite")
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
    classes = read_vocabulary(FileSystems.join(out, "vocab/labels.txt"), on_launcher=True)
    shards = tuple(HeldShard(split.name, shard.file, shard.num_records or 0, shard.num_bytes or 0, shard.index, i)
                   for split in schema.splits for i, shard in enumerate(split.shards))
    return ImageJobOptions(
        src=src, out=out, image=ImageOptions(**image),
        sharding=ShardingOptions(shard_size=_shard_size(schema, sharding), compression=sharding["compression"]),
        split_fractions=SplitFractions(tuple(fractions.items())) if fractions else None,
        labels=_tuple(recorded.get("labels")), include_hidden=recorded.get("include_hidden", False),
        dedupe=recorded.get("dedupe", False), dedupe_near=recorded.get("dedupe_near", False),
        check_duplicates=recorded.get("check_duplicates", True), spill_shuffles=spill_shuffles, created=created,
        update=UpdateOptions(schema.version + 1, observe(FileSystems.join(out, SCHEMA_FILE)), shards,
                             schema.split_names, tuple(classes)),
    )

