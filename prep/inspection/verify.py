"""`prep verify`: prove a dataset is whole by reading every shard end to end.

Checks, for every shard the schema lists: the file exists, every record's framing and both CRCs,
the record count against schema.json, that every record parses with the schema's feature spec, and
that its class and token ids lie inside their vocabularies; that every segmentation mask decodes, has
its image's size and holds only class ids and the ignore value; the shard's record index, when the schema
lists one, against the records' frames. Also: shard files in the directory that
the schema does not list, and vocabulary files and sizes.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from typing import Callable, Iterator, Sequence

from prep.core import sharding
from prep.core.file_findings import Finding
from prep.records import tfrecord_io
from schemas import SCHEMA_FILE, DatasetSchema, SchemaError, Shard, feature_spec, load_schema, save_schema
from schemas.guarded_write import observe
from schemas.versions import kept_versions, load_version, read_schema_file, version_dir

PARSE_BATCH = 1024  # records parsed per tf.io.parse_example call
_SHARD_NAME = re.compile(r"^[^/]+-\d{5}-of-\d{5}\.tfrecord(\.gz|\.zz)?$")


def _batches(records: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def id_limits(schema: DatasetSchema) -> dict[str, tuple[int, str]]:
    """For each feature of ids into a vocabulary (class ids, token ids): (the first id past the
    vocabulary, its file)."""
    limits = {}
    for f in schema.features:
        if f.encoding in ("class_id", "token_ids") and f.vocabulary is not None:
            v = schema.vocabulary(f.vocabulary)
            limits[f.name] = (v.first_id + v.size, v.file)
    return limits


def mask_limits(schema: DatasetSchema) -> dict[str, tuple[int, str | None, int | None]]:
    """For each mask feature: (the first value past its classes, their file, its ignore value); an
    instance mask's values are 0 and 1 (limit 2, no file, no ignore value)."""
    limits: dict[str, tuple[int, str | None, int | None]] = {
        f.name: (schema.vocabulary(f.vocabulary).size, schema.vocabulary(f.vocabulary).file, f.ignore_value)
        for f in schema.features if f.encoding == "segmentation_mask" and f.vocabulary is not None}
    return limits | {f.name: (2, None, None) for f in schema.features if f.encoding == "instance_mask"}


def _bad_mask(parsed: dict, masks: dict[str, tuple[int, str | None, int | None]]) -> tuple[int, str] | None:
    """(index in batch, problem) of the first record whose mask (or one of its objects' masks) does not
    decode, is not its image's size (image/height and image/width), or holds a value that is neither a
    class id nor the ignore value (0 or 1 for an object's mask)."""
    import numpy as np
    import tensorflow as tf

    sized = "image/height" in parsed and "image/width" in parsed
    heights, widths = (parsed["image/height"].numpy(), parsed["image/width"].numpy()) if sized else ((), ())
    for name, (limit, file, ignore) in sorted(masks.items()):
        values = parsed[name]
        per_record = values.to_list() if isinstance(values, tf.RaggedTensor) else [[v] for v in values.numpy()]
        for i, encoded in enumerate(per_record):
            for data in encoded:
                try:
                    mask = tf.io.decode_png(data, channels=1).numpy()[..., 0]
                except tf.errors.InvalidArgumentError as e:
                    return i, f"has a {name} that does not decode: {e.message.splitlines()[0]}"
                if sized and mask.shape != (heights[i], widths[i]):
                    return i, f"has a {name} of {mask.shape[1]}x{mask.shape[0]} pixels for an image of {widths[i]}x{heights[i]}"
                bad = [int(v) for v in np.unique(mask) if v >= limit and v != ignore]
                if bad and file is None:
                    return i, f"has {name} value {bad[0]}, not 0 or 1"
                if bad:
                    return i, (f"has {name} value {bad[0]}, neither a class id of {file} (0 to {limit - 1}) nor the "
                               f"ignore value {ignore}")
    return None


def _bad_id(parsed: dict, limits: dict[str, tuple[int, str]]) -> tuple[int, str] | None:
    """(index in batch, problem) of the first record holding an id outside its vocabulary, or None."""
    import tensorflow as tf

    for name, (limit, file) in sorted(limits.items()):
        values = parsed[name]
        flat = values.flat_values if isinstance(values, tf.RaggedTensor) else tf.reshape(values, [-1])
        bad = tf.where((flat < 0) | (flat >= limit))[:, 0]
        if tf.size(bad):
            first = int(bad[0])
            index = int(values.value_rowids()[first]) if isinstance(values, tf.RaggedTensor) else first
            return index, f"has {name} id {int(flat[first])}, outside {file} (ids 0 to {limit - 1})"
    return None


def _unparseable(batch: list[bytes], spec: dict, limits: dict[str, tuple[int, str]],
                 masks: dict[str, tuple[int, str | None, int | None]] | None = None) -> tuple[int, str] | None:
    """(index in batch, error) of the first record that does not parse, or whose ids fall outside
    their vocabulary, or whose mask is bad (`masks`: mask_limits); None when all is well."""
    import tensorflow as tf

    try:
        parsed = tf.io.parse_example(batch, spec)
        return _bad_id(parsed, limits) or (_bad_mask(parsed, masks) if masks else None)
    except tf.errors.InvalidArgumentError:
        pass
    for i, record in enumerate(batch):
        try:
            tf.io.parse_example([record], spec)
        except tf.errors.InvalidArgumentError as e:
            return i, "does not parse: " + e.message.splitlines()[0]
    return None


def verify_shard(root: str, file: str, expected: int | None, compression: str, spec: dict | None,
                 limits: dict[str, tuple[int, str]] | None = None, index: str | None = None,
                 write_index: str | None = None, masks: dict[str, tuple[int, str | None, int | None]] | None = None) -> Finding:
    """The finding for one shard: read end to end, its records parsed (with `spec`), counted against
    `expected`, its record `index` checked; a sound shard with no index gets one at `write_index`."""
    from apache_beam.io.filesystems import FileSystems

    path = FileSystems.join(root, file)
    if not FileSystems.exists(path):
        return Finding(file, None, "missing: schema.json lists it but the file is not there")
    count, frames = 0, []
    try:
        for batch in _batches(tfrecord_io.read_records(path, compression), PARSE_BATCH):
            if spec is not None:
                bad = _unparseable(batch, spec, limits or {}, masks)
                if bad is not None:
                    return Finding(file, None, f"record {count + bad[0]} {bad[1]}")
            count += len(batch)
            frames += [tfrecord_io.frame_size(record) for record in batch]
    except tfrecord_io.RecordError as e:
        return Finding(file, None, f"record {e.index} at byte {e.offset}: {e.problem}")
    if expected is not None and count != expected:
        return Finding(file, count, f"holds {count} records but schema.json says {expected}")
    problem = None if index is None else _index_problem(FileSystems.join(root, index), index, frames)
    if problem is None and write_index is not None:
        tfrecord_io.write_file(FileSystems.join(root, write_index), tfrecord_io.index_text(frames))
        return Finding(file, count, index_written=write_index)
    return Finding(file, count, problem)


def _index_problem(path: str, index: str, frames: list[int]) -> str | None:
    """What is wrong with a shard's record index, given its records' frame sizes; None if nothing."""
    from apache_beam.io.filesystems import FileSystems

    if not FileSystems.exists(path):
        return f"its record index {index} is missing (readers then fail: write the dataset again)"
    with FileSystems.open(path, compression_type="uncompressed") as f:
        written = f.read().decode("ascii", "replace").splitlines()
    expected = tfrecord_io.index_text(frames).decode("ascii").splitlines()
    if written == expected:
        return None
    first = next((i for i, (a, b) in enumerate(zip(written, expected)) if a != b), min(len(written), len(expected)))
    return (f"its record index {index} does not match it from record {first} on ({len(written)} lines for "
            f"{len(expected)} records; readers then fail: write the dataset again)")


def _appended_by_update(root: str, schema: DatasetSchema, vocab, lines: int) -> bool:
    """Whether a class list longer than the schema says is the next version's, written by an update
    that has not committed (killed, or running): label ids never change, so the first lines are this
    version's own, as they were."""
    from apache_beam.io.filesystems import FileSystems

    following = FileSystems.join(root, version_dir(schema.version + 1), SCHEMA_FILE)
    if vocab.kind != "labels" or lines < vocab.size or not FileSystems.exists(following):
        return False
    try:
        return read_schema_file(following).vocabulary(vocab.name).size == lines
    except SchemaError:
        return False


def _listed_files(root: str) -> list[str]:
    from apache_beam.io.filesystems import FileSystems

    matched = FileSystems.match([FileSystems.join(root, "*")])[0].metadata_list
    return sorted(posixpath.basename(m.path) for m in matched)


def verify_dataset(root: str, *, parse: bool = True, progress: Callable[[Finding], None] = lambda finding: None,
                   write_indexes: bool = False,
                   checks: Sequence[Callable[[str, DatasetSchema], list[Finding]]] = ()) -> tuple[DatasetSchema, list[Finding]]:
    """Every finding about the dataset in `root` (load_schema's SchemaError if it has no usable schema),
    with those of `checks` (a modality's own files: prep.text.tokenizer_files, passed in by the CLI).
    With `write_indexes`, each uncompressed shard without a record index gets one (a dataset written
    before prep wrote them, or foreign shards), and when every file is sound schema.json lists them
    (and the record counts it did not know): the returned schema is the one written."""
    from apache_beam.io.filesystems import FileSystems

    # what schema.json is before it is read, so that the write below replaces only that (a change is seen)
    seen = observe(FileSystems.join(root, SCHEMA_FILE)) if write_indexes else None
    schema = load_schema(root)
    spec = feature_spec(schema) if parse else None
    limits, masks = id_limits(schema), mask_limits(schema)
    findings: list[Finding] = []
    for split in schema.splits:
        for shard in split.shards:
            new_index = (sharding.index_file_name(shard.file, schema.compression)
                         if write_indexes and shard.index is None else None)
            finding = verify_shard(root, shard.file, shard.num_records, schema.compression, spec, limits, shard.index,
                                   write_index=new_index, masks=masks)
            findings.append(finding)
            progress(finding)
    # the shards of every version the dataset keeps (a dataset that grows shares them: schemas.versions)
    listed = {shard.file for version in kept_versions(root, schema) for split in load_version(root, version).splits
              for shard in split.shards}
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
            problem = None if lines == vocab.size or _appended_by_update(root, schema, vocab, lines) else (
                f"has {lines} lines but schema.json says {vocab.size}")
            finding = Finding(vocab.file, lines, problem, unit="lines")
        findings.append(finding)
        progress(finding)
    for check in checks:
        for finding in check(root, schema):
            findings.append(finding)
            progress(finding)
    indexed = {f.file: (f.index_written, f.records) for f in findings if f.index_written}
    if indexed and not any(f.problem for f in findings):
        schema = _with_indexes(schema, indexed)
        save_schema(schema, root, expect=seen)  # ChangedFileError if another job rewrote it meanwhile
    return schema, findings


def _with_indexes(schema: DatasetSchema, indexed: dict[str, tuple[str, int]]) -> DatasetSchema:
    """`schema` with the record index (and the record count, where it was unknown) of each shard named
    in `indexed` (file -> (index file, records))."""
    def shard(s: Shard) -> Shard:
        if s.file not in indexed:
            return s
        index, records = indexed[s.file]
        return dataclasses.replace(s, index=index, num_records=records if s.num_records is None else s.num_records)

    splits = []
    for split in schema.splits:
        shards = tuple(shard(s) for s in split.shards)
        counts = [s.num_records for s in shards]
        total = split.num_records if split.num_records is not None or None in counts else sum(counts)
        splits.append(dataclasses.replace(split, shards=shards, num_records=total))
    return dataclasses.replace(schema, splits=tuple(splits))
