"""What every update (`prep images --update`, `prep text --update`) starts from, read by the launcher
from the dataset in OUT: its schema, the options its first run recorded, and the `UpdateOptions` of
the next version (prep.jobs.options). Each job's own module turns the recorded options back into its
options (prep.images.update, prep.text.update), so an update makes its new records exactly as the
first run made its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from prep.core import launcher_reads
from prep.core.versions import inventory_file_name
from prep.jobs.options import HeldShard, ShardingOptions, UpdateOptions

MIN_UPDATE_SHARD_SIZE = 2**20  # bytes: an update's shards of a dataset written with --num-shards are no smaller


class CannotUpdate(ValueError):
    """The dataset in OUT cannot take an update: the message says why and what to do instead."""


def tuples(value):
    """A JSON list back as the tuple it was recorded from (nested lists too)."""
    return tuple(tuples(v) for v in value) if isinstance(value, list) else value


def _shard_size(schema, sharding: dict) -> int:
    """The shard size of an update's new shards: the first run's --shard-size, or (--num-shards) the
    bytes its shards hold on average."""
    if not sharding.get("num_shards"):
        return sharding["shard_size"]
    sizes = [shard.num_bytes or 0 for split in schema.splits for shard in split.shards]
    return max(MIN_UPDATE_SHARD_SIZE, sum(sizes) // max(1, len(sizes)))


@dataclass(frozen=True)
class Start:
    """The dataset an update grows: its schema, the options its first run recorded (schema.json's
    provenance), the sharding of the new shards, and the update's own options."""

    schema: object  # schemas.DatasetSchema
    recorded: dict
    sharding: ShardingOptions
    update: UpdateOptions


def starting_point(out: str, command: str) -> Start:
    """What an update of the dataset `command` (images, text) wrote in `out` starts from; CannotUpdate
    when there is no dataset there that the update can grow."""
    from apache_beam.io.filesystems import FileSystems

    from prep.core.vocab_files import read_vocabulary
    from schemas import SCHEMA_FILE, SchemaError, load_schema
    from schemas.guarded_write import observe

    try:
        schema = load_schema(out)
    except SchemaError as e:
        raise CannotUpdate(f"--update grows a dataset, and {e}") from None
    recorded = schema.provenance.options if schema.provenance else {}
    if schema.kind != command or not recorded or schema.provenance.command != command:
        raise CannotUpdate(f"{out} was not written by prep {command}, so prep {command} --update cannot grow it")
    listed = set(launcher_reads.listing(out))
    missing = [s.file for split in schema.splits for s in split.shards
               if FileSystems.join(out, inventory_file_name(s.file)) not in listed]
    if missing:
        raise CannotUpdate(f"{out} has no record of what its shards hold ({inventory_file_name(missing[0])} is "
                           "missing: a prep older than --update wrote it), so an update cannot tell what changed; "
                           "convert it again with --overwrite")
    labels = next((v for v in schema.vocabularies if v.kind == "labels"), None)  # none: unlabelled, or regression
    classes = read_vocabulary(FileSystems.join(out, labels.file), on_launcher=True) if labels else ()
    tokens = next((v for v in schema.vocabularies if v.kind == "tokens"), None)
    shards = tuple(HeldShard(split.name, shard.file, shard.num_records or 0, shard.num_bytes or 0, shard.index, i)
                   for split in schema.splits for i, shard in enumerate(split.shards))
    sharding = recorded["sharding"]
    return Start(schema, recorded,
                 ShardingOptions(shard_size=_shard_size(schema, sharding), compression=sharding["compression"]),
                 UpdateOptions(schema.version + 1, observe(FileSystems.join(out, SCHEMA_FILE)), shards,
                               schema.split_names, tuple(classes), tokens.file if tokens else None))
