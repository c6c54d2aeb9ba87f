"""Where a dataset that grows keeps what its versions need: each version's shards, and each shard's
inventory (the facts an update needs of its records, so that it never opens an input it has seen).

A first run is version 1 and writes its shards at the top of the dataset directory, as ever. An
update writes only the shards that changed, in a folder of its own (`version_folder`), and shares the
others with the version before; each version's schema.json lists its own shards (schemas.versions).
"""

from __future__ import annotations

import json
from typing import Iterable

INVENTORY_DIR = "inventory"
TFDS_DIR = "tfds"


def version_folder(version: int) -> str:
    """The folder, relative to the dataset directory, of the shards version `version` writes: '' for
    version 1 (a first run), 'v<N>/' for an update's, so the shards of every version keep their names."""
    return "" if version == 1 else f"v{version}/"


def inventory_file_name(shard_file: str) -> str:
    """Where a shard's inventory goes, relative to the dataset directory: 'inventory/<shard file>.jsonl',
    one JSON line per record in the shard's order (line i describes record i)."""
    return f"{INVENTORY_DIR}/{shard_file}.jsonl"


def ids_file_name(shard_file: str) -> str:
    """Where a text shard keeps the vocabulary ids its records use (prep.text.inventory), relative to
    the dataset directory: 'inventory/<shard file>.ids'."""
    return f"{INVENTORY_DIR}/{shard_file}.ids"


def shard_inventory_files(shard_file: str) -> tuple[str, str]:
    """Every file a shard's inventory may have: its lines, and (text) its ids."""
    return inventory_file_name(shard_file), ids_file_name(shard_file)


def inventory_bytes(rows: Iterable[dict]) -> bytes:
    return b"".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n" for row in rows)


def inventory_lines(data: bytes) -> list[bytes]:
    """An inventory's lines, unparsed (blank lines left out)."""
    return [line for line in data.splitlines() if line.strip()]


def inventory_rows(data: bytes) -> list[dict]:
    """An inventory's rows, as dicts: one JSON object per line, or (text) a first line naming the
    columns, {"columns": [...]}, and a JSON array per record."""
    lines = inventory_lines(data)
    if lines and lines[0].startswith(b'{"columns"'):
        columns = json.loads(lines[0])["columns"]
        return [dict(zip(columns, json.loads(line))) for line in lines[1:]]
    return [json.loads(line) for line in lines]


def tfds_folder_name(version: int) -> str:
    """Where a version of a dataset that grew has its shards linked under TFDS's names, relative to the
    dataset directory (prep.interop.tfds): 'tfds/v<N>'."""
    return f"{TFDS_DIR}/v{version}"
