"""The versions of a dataset that grows (`prep images --update`): what each is, how two differ, and
removing the old ones (`prep versions`, `prep diff`).

How two versions differ, record by record, comes from their shards' inventories (prep.core.versions):
a shard both list holds the same records in both and is not read, so comparing a version with the one
before reads only what the update wrote and what it replaced. How their data drifted comes from their
two stats.json (prep.inspection.drift).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from prep.core import launcher_reads
from prep.core.duplicates import leaks
from prep.core.versions import (
    INVENTORY_DIR,
    inventory_file_name,
    inventory_rows,
    shard_inventory_files,
    tfds_folder_name,
)
from prep.core.vocab_files import counts_file
from prep.inspection.drift import stats_drift
from prep.jobs.results import STATS_FILE
from schemas import SCHEMA_FILE, DatasetSchema
from schemas.versions import kept_versions, load_version, read_version_file, version_dir


def _join(root: str, *parts: str) -> str:
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.join(root, *parts)


def version_stats(out: str, schema: DatasetSchema) -> dict:
    """stats.json of the version `schema` describes (schemas.versions.read_version_file)."""
    return json.loads(read_version_file(out, schema.version, STATS_FILE)[0])


def shard_files(schema: DatasetSchema) -> set[str]:
    return {shard.file for split in schema.splits for shard in split.shards}


def _rows(out: str, files) -> dict[str, dict]:
    return {row["name"]: row for file in sorted(files) for row in inventory_rows(launcher_reads.read_bytes(_join(out, inventory_file_name(file))))}


def _class(row: dict) -> str:
    name = row.get("class_name")
    return " | ".join(name) if isinstance(name, list) else str(name)


def _same(a: dict, b: dict) -> bool:
    return all(a.get(k) == b.get(k) for k in ("source_digest", "digest", "split", "label", "class_name", "annotation"))


@dataclass
class Changes:
    """Records added, replaced (same input, new content or label) and removed between two versions,
    per (split, class); `unchanged` counts the records both hold as they were."""

    added: Counter
    replaced: Counter
    removed: Counter
    unchanged: int

    def totals(self) -> dict:
        return {"added": sum(self.added.values()), "replaced": sum(self.replaced.values()),
                "removed": sum(self.removed.values()), "unchanged": self.unchanged}

    def by_split(self) -> dict:
        splits = sorted({split for c in (self.added, self.replaced, self.removed) for split, _ in c})
        return {split: {kind: {cls: n for (s, cls), n in sorted(getattr(self, kind).items()) if s == split}
                        for kind in ("added", "replaced", "removed")} for split in splits}


def record_changes(out_a: str, a: DatasetSchema, out_b: str, b: DatasetSchema) -> Changes:
    """How the records of `b` differ from those of `a` (two versions of one dataset, or two datasets),
    by record name, from the inventories of the shards they do not share."""
    same_place = out_a == out_b
    shared = shard_files(a) & shard_files(b) if same_place else set()
    old, new = _rows(out_a, shard_files(a) - shared), _rows(out_b, shard_files(b) - shared)
    added, replaced, removed = Counter(), Counter(), Counter()
    unchanged = sum(shard.num_records or 0 for split in b.splits for shard in split.shards if shard.file in shared)
    for name, row in new.items():
        before = old.get(name)
        if before is None:
            added[row["split"], _class(row)] += 1
        elif _same(before, row):
            unchanged += 1
        else:
            replaced[row["split"], _class(row)] += 1
    for name, row in old.items():
        if name not in new:
            removed[row["split"], _class(row)] += 1
    return Changes(added, replaced, removed, unchanged)


def has_inventory(out: str, schema: DatasetSchema) -> bool:
    from apache_beam.io.filesystems import FileSystems

    files = sorted(shard_files(schema))
    return not files or FileSystems.exists(_join(out, inventory_file_name(files[0])))


def diff(out_a: str, from_version: int | None, out_b: str, to_version: int | None) -> dict:
    """How version `to_version` of the dataset in `out_b` differs from version `from_version` of the
    one in `out_a` (None: the current version; with one dataset, the one before it): records added,
    replaced and removed per split and class, and the drift of its stats (prep.inspection.drift)."""
    b = load_version(out_b, to_version)
    if from_version is None and out_a == out_b:
        if b.version == 1:
            raise ValueError(f"{out_b} has one version only: nothing to compare it with (prep diff A B compares two datasets)")
        from_version = b.version - 1
    a = load_version(out_a, from_version)
    if not (has_inventory(out_a, a) and has_inventory(out_b, b)):
        raise ValueError("a dataset written by a prep older than --update keeps no record of its shards' records: "
                         "prep diff compares datasets written by this prep")
    changes = record_changes(out_a, a, out_b, b)
    old_stats, new_stats = version_stats(out_a, a), version_stats(out_b, b)
    return {
        "from": {"dataset": out_a, "version": a.version, "created": a.provenance.created if a.provenance else None},
        "to": {"dataset": out_b, "version": b.version, "created": b.provenance.created if b.provenance else None},
        "records": changes.totals() | {"by_split": changes.by_split()},
        "drift": stats_drift(old_stats, new_stats),
        "leakage": _leakage(old_stats, new_stats),
        **({"vocabulary": vocabulary} if (vocabulary := _vocabulary_change(out_a, a, out_b, b)) else {}),
    }


def _tokens(schema: DatasetSchema):
    return next((v for v in schema.vocabularies if v.kind == "tokens"), None)


def _vocabulary_change(out_a: str, a: DatasetSchema, out_b: str, b: DatasetSchema) -> dict | None:
    """How the tokens vocabulary of `b` differs from that of `a` (text datasets; None otherwise): the
    tokens each has that the other has not, and the tokens both have under other ids. An update keeps
    its vocabulary file; one that relearned it (`--relearn-vocabulary`) wrote its own."""
    from prep.core.vocab_files import read_vocabulary

    old, new = _tokens(a), _tokens(b)
    if old is None or new is None:
        return None
    facts = {"from": {"file": old.file, "size": old.size}, "to": {"file": new.file, "size": new.size}}
    if out_a == out_b and old.file == new.file and old.first_id == new.first_id:
        return facts | {"same": True, "tokens_added": 0, "tokens_removed": 0, "ids_moved": 0}
    before = {t: old.first_id + i for i, t in enumerate(read_vocabulary(_join(out_a, old.file))[:old.size])}
    after = {t: new.first_id + i for i, t in enumerate(read_vocabulary(_join(out_b, new.file))[:new.size])}
    moved = sum(1 for t, i in after.items() if t in before and before[t] != i)
    added, removed = len(after.keys() - before.keys()), len(before.keys() - after.keys())
    return facts | {"same": not (added or removed or moved), "tokens_added": added, "tokens_removed": removed,
                    "ids_moved": moved}


def _leakage(old: dict, new: dict) -> dict:
    """Groups of copies (exact, near) the dataset holds in more than one split, in each version."""
    before, after = leaks(old.get("duplicates") or {}), leaks(new.get("duplicates") or {})
    return {kind: {"old": before[kind].left if kind in before else None, "new": after[kind].left}
            for kind in after}


def versions_table(out: str) -> list[dict]:
    """Each kept version, oldest first: its number, when it was made, from what, its records, and the
    records it added, replaced and removed since the version before it (when that one is kept)."""
    from schemas import load_schema

    current = load_schema(out)
    rows, before = [], None
    for number in kept_versions(out, current):
        schema = load_version(out, number)
        changes = None
        if before is not None and before.version == number - 1 and has_inventory(out, schema):
            changes = record_changes(out, before, out, schema).totals()
        rows.append({"version": number, "current": number == current.version,
                     "created": schema.provenance.created if schema.provenance else None,
                     "source": schema.provenance.source if schema.provenance else None,
                     "records": schema.num_records, "shards": len(shard_files(schema)), "changes": changes})
        before = schema
    return rows


def removable(out: str, keep: int) -> tuple[list[int], list[str]]:
    """What `prep versions --keep KEEP` removes: the versions before the newest `keep`, and the files
    (shards, their record indexes and inventories) only those versions list."""
    from schemas import load_schema

    current = load_schema(out)
    kept = kept_versions(out, current)
    gone = kept[:-keep] if keep < len(kept) else []
    staying = [load_version(out, v) for v in kept if v not in gone]
    needed = {f for schema in staying for f in _files(schema)}
    files = sorted({f for v in gone for f in _files(load_version(out, v))} - needed)
    return gone, files


def _files(schema: DatasetSchema) -> set[str]:
    """The files of a version's shards: each shard, its record index and its inventory (a text
    shard's: its lines and its ids, prep.text.inventory); and its tokens vocabulary with its counts
    (an update that relearned it wrote its own)."""
    inventories = shard_inventory_files if schema.kind == "text" else lambda file: (inventory_file_name(file),)
    tokens = _tokens(schema)
    return {name for split in schema.splits for shard in split.shards
            for name in (shard.file, shard.index, *inventories(shard.file)) if name} | (
        {tokens.file, counts_file(tokens.file)} if tokens else set())


def remove_versions(out: str, keep: int) -> tuple[list[int], int]:
    """Removes the versions before the newest `keep` and the files only they list; returns the
    versions removed and how many files went. A version's schema.json goes first, so a version is
    either whole or no longer listed, whatever moment this stops at."""
    from apache_beam.io.filesystems import FileSystems

    gone, files = removable(out, keep)
    for version in gone:
        FileSystems.delete([_join(out, version_dir(version), SCHEMA_FILE)])
    if files:
        FileSystems.delete([_join(out, f) for f in files])
    # each removed version's own files (a text version's inputs under its inventory/ too), and its
    # shards' TFDS names (prep.interop.tfds.tfds_folder)
    found = {m.path for v in gone for folder in (version_dir(v), f"{version_dir(v)}/{INVENTORY_DIR}", tfds_folder_name(v))
             for m in FileSystems.match([_join(out, folder, "*")])[0].metadata_list}
    leftovers = sorted(p for p in found if not any(p.startswith(f"{q}/") for q in found))  # a folder's, not its files
    if leftovers:
        FileSystems.delete(leftovers)
    return gone, len(files)

