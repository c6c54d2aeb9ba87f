"""The versions of a dataset that grows: which one schema.json describes, and the schema of each kept one.

schema.json always describes the current version (its `version`, 1 for a dataset never updated). An
update also writes its schema.json as `versions/<N>/schema.json` (with that version's stats.json and
rejected.jsonl), before it makes itself current by replacing schema.json; the version before it is
kept there too. A version stays readable, its shards in place, until `prep versions --keep` removes it.
"""

from __future__ import annotations

import re

from schemas.jsonio import SCHEMA_FILE, join, load_schema, loads
from schemas.model import DatasetSchema, SchemaError

VERSIONS_DIR = "versions"


def version_dir(version: int) -> str:
    """The folder of version `version`'s own files, relative to the dataset directory."""
    return f"{VERSIONS_DIR}/{version}"


def kept_versions(dataset_dir: str, current: DatasetSchema | None = None) -> list[int]:
    """The versions of the dataset that can be read, oldest first: those under versions/ up to the
    current one (a later one there is an update that has not committed), and the current one."""
    from apache_beam.io.filesystems import FileSystems

    current = current or load_schema(dataset_dir)
    pattern = join(dataset_dir, VERSIONS_DIR, "*", SCHEMA_FILE)
    found = set()
    for match in FileSystems.match([pattern])[0].metadata_list:
        number = re.search(r"/(\d+)/" + re.escape(SCHEMA_FILE) + "$", match.path)
        if number and int(number.group(1)) < current.version:
            found.add(int(number.group(1)))
    return sorted(found | {current.version})


def load_version(dataset_dir: str, version: int | None = None) -> DatasetSchema:
    """The schema of version `version` of the dataset (None: the current one); a SchemaError naming the
    versions there are when it has no such version, or no longer has it."""

    current = load_schema(dataset_dir)
    if version is None or version == current.version:
        return current
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SchemaError(f"version must be a version number (1, 2, ...), not {version!r}")
    kept = kept_versions(dataset_dir, current)
    listed = ", ".join(map(str, kept))
    if version > current.version:
        raise SchemaError(f"{dataset_dir} has no version {version}: its current version is {current.version} "
                          f"(versions kept: {listed})")
    if version not in kept:
        raise SchemaError(f"version {version} of {dataset_dir} is no longer kept (`prep versions --keep` removed "
                          f"it); versions kept: {listed}")
    path = join(dataset_dir, version_dir(version), SCHEMA_FILE)
    schema = read_schema_file(path)
    if schema.version != version:
        raise SchemaError(f"{path} describes version {schema.version}, not {version}")
    return schema


def read_schema_file(path: str) -> DatasetSchema:
    """The schema in the schema.json at `path` (a version's own, under versions/)."""
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as f:
        return loads(f.read().decode("utf-8", "replace"), source=path)


def read_version_file(dataset_dir: str, version: int, name: str) -> tuple[bytes, bool]:
    """The file `name` (stats.json, rejected.jsonl, schema.json) of version `version`: its copy under
    versions/ when there is one (an update writes it before the dataset's own, which a killed update
    may have replaced already), else the dataset's own; and whether it was the kept copy."""
    from apache_beam.io.filesystems import FileSystems

    kept = join(dataset_dir, version_dir(version), name)
    found = FileSystems.exists(kept)
    with FileSystems.open(kept if found else join(dataset_dir, name), compression_type="uncompressed") as f:
        return f.read(), found
