"""`prep verify`: prove a dataset is whole by reading every shard end to end.

Checks, for every shard the schema lists: the file exists, every record's framing and both CRCs,
the record count against schema.json, and that every record parses with the schema's feature spec.
Also: shard files in the directory that the schema does not list, and vocabulary files and sizes.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Callable, Iterator

from prep import tfrecord_io
from schemas import DatasetSchema, feature_spec, load_schema

PARSE_BATCH = 1024  # records parsed per tf.io.parse_example call
_SHARD_NAME = re.compile(r"^[^/]+-\d{5}-of-\d{5}\.tfrecord(\.gz|\.zz)?$")


@dataclass(frozen=True)
class Finding:
    """The outcome for one file: `problem` is None when it is sound."""

    file: str
    records: int | None  # records in a shard, lines in a vocabulary
    problem: str | None = None
    unit: str = "records"


def _batches(records: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _unparseable(batch: list[bytes], spec: dict) -> tuple[int, str] | None:
    """(index in batch, error) of the first record that does not parse, or None."""
    import tensorflow as tf

    try:
        tf.io.parse_example(batch, spec)
        return None
    except tf.errors.InvalidArgumentError:
        pass
    for i, record in enumerate(batch):
        try:
            tf.io.parse_example([record], spec)
        except tf.errors.InvalidArgumentError as e:
            return i, e.message.splitlines()[0]
    return None


def verify_shard(root: str, file: str, expected: int | None, compression: str, spec: dict | None) -> Finding:
    from apache_beam.io.filesystems import FileSystems

    path = FileSystems.join(root, file)
    if not FileSystems.exists(path):
        return Finding(file, None, "missing: schema.json lists it but the file is not there")
    count = 0
    try:
        for batch in _batches(tfrecord_io.read_records(path, compression), PARSE_BATCH):
            if spec is not None:
                bad = _unparseable(batch, spec)
                if bad is not None:
                    return Finding(file, None, f"record {count + bad[0]} does not parse: {bad[1]}")
            count += len(batch)
    except tfrecord_io.RecordError as e:
        return Finding(file, None, f"record {e.index} at byte {e.offset}: {e.problem}")
    if expected is not None and count != expected:
        return Finding(file, count, f"holds {count} records but schema.json says {expected}")
    return Finding(file, count)


def _listed_files(root: str) -> list[str]:
    from apache_beam.io.filesystems import FileSystems

    matched = FileSystems.match([FileSystems.join(root, "*")])[0].metadata_list
    return sorted(posixpath.basename(m.path) for m in matched)


def verify_dataset(root: str, *, parse: bool = True,
                   progress: Callable[[Finding], None] = lambda finding: None) -> tuple[DatasetSchema, list[Finding]]:
    """Every finding about the dataset in `root` (load_schema's SchemaError if it has no usable schema)."""
    from apache_beam.io.filesystems import FileSystems

    schema = load_schema(root)
    spec = feature_spec(schema) if parse else None
    findings: list[Finding] = []
    for split in schema.splits:
        for shard in split.shards:
            finding = verify_shard(root, shard.file, shard.num_records, schema.compression, spec)
            findings.append(finding)
            progress(finding)
    listed = {shard.file for split in schema.splits for shard in split.shards}
    for name in _listed_files(root):
        if _SHARD_NAME.match(name) and name not in listed:
            finding = Finding(name, None, "extra shard: not listed in schema.json (left by another run?)")
            findings.append(finding)
            progress(finding)
    for vocab in schema.vocabularies:
        path = FileSystems.join(root, vocab.file)
        if not FileSystems.exists(path):
            finding = Finding(vocab.file, None, "missing vocabulary file")
        else:
            with FileSystems.open(path, compression_type="uncompressed") as f:
                lines = f.read().decode("utf-8", "replace").count("\n")
            problem = None if lines == vocab.size else f"has {lines} lines but schema.json says {vocab.size}"
            finding = Finding(vocab.file, lines, problem, unit="lines")
        findings.append(finding)
        progress(finding)
    return schema, findings
