"""Assembling an inference: the schema of the usable files (their splits, compression and provenance),
from inferred features or from given ones (checked against the sampled records), and rejected.jsonl
for the files left out."""

from __future__ import annotations

import posixpath
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from prep.core.splits import split_rank
from prep.interop.inference.errors import InferenceError
from prep.interop.inference.feature_stats import RecordStats
from prep.interop.inference.files import FileSet, locate_files
from prep.interop.inference.options import InferOptions
from prep.interop.inference.record_parser import parse_mismatch, tf_message
from prep.interop.inference.rules import infer_features
from prep.interop.inference.scanning import FileScan, merged_stats, scan_files
from prep.jobs.results import rejected_jsonl
from schemas import DatasetSchema, Feature, Provenance, Shard, Split, Vocabulary


@dataclass(frozen=True)
class Inference:
    """A schema and what goes with it: files to write beside it ({relative path: bytes}), the files
    left out as (relative path, reason, problem), and notes for the person who ran it."""

    schema: DatasetSchema
    files: dict[str, bytes]
    left_out: tuple[tuple[str, str, str], ...] = ()
    notes: tuple[str, ...] = ()


def _usable(scans: Sequence[FileScan]) -> tuple[list[FileScan], tuple[tuple[str, str, str], ...], str]:
    """The scans of usable files, the files left out (relative path, reason, problem), and the one
    compression of the usable files. Raises InferenceError when none is usable or they mix compressions."""
    usable = [s for s in scans if s.problem is None]
    left_out = tuple((s.entry.relative, s.reason or "damaged", s.problem) for s in scans if s.problem is not None)
    if not usable:
        raise InferenceError("no usable TFRecord file: " + "; ".join(f"{rel}: {problem}" for rel, _, problem in left_out))
    compressions = Counter(s.compression for s in usable if s.records or s.compression != "none")
    if len(compressions) > 1:
        example = {c: next(s.entry.relative for s in usable if s.compression == c) for c in compressions}
        raise InferenceError(
            "the files mix compressions (" + ", ".join(f"{n} {c}, e.g. {example[c]}" for c, n in sorted(compressions.items()))
            + "): a dataset has one compression: describe them as separate datasets (separate folders)")
    return usable, left_out, next(iter(compressions), "none")


def split_order(name: str) -> int:
    """Sort key of split names: TFDS's train, validation, test first (a stable sort keeps the others)."""
    return split_rank(name)[0]


def _splits(usable: Sequence[FileScan]) -> tuple[Split, ...]:
    """Splits in TFDS's order (train, validation, test, then the others as the files come), each with
    its files; a count is known only for files read to their end."""
    names = list(dict.fromkeys(s.entry.split for s in usable))
    names.sort(key=split_order)
    splits = []
    for name in names:
        shards = tuple(Shard(s.entry.relative, s.records if s.complete else None, s.entry.size)
                       for s in usable if s.entry.split == name)
        counts = [sh.num_records for sh in shards]
        splits.append(Split(name, shards, None if None in counts else sum(counts)))
    return tuple(splits)


def _provenance(options: InferOptions, mode: str, records: int, exact: bool, left_out, notes: list[str]) -> Provenance:
    return Provenance("prep", _version(), options.created, " ".join(options.patterns), options.command, {
        "mode": mode, "records_read": records, "exact": exact,
        "sample": None if mode != "sampled" else vars(options.sample),
        "split_globs": [f"{n}={g}" for n, g in options.split_globs],
        "left_out": [{"file": rel, "reason": reason, "problem": problem} for rel, reason, problem in left_out],
        "notes": notes,
    })


def _name(options: InferOptions, files: FileSet) -> str:
    return options.name or posixpath.basename(files.out.rstrip("/")) or "dataset"


def build_inference(options: InferOptions, files: FileSet, scans: Sequence[FileScan], mode: str,
                    stats: RecordStats | None = None) -> Inference:
    """The schema of the usable files, from their scans (and `stats`, their statistics merged, when the
    caller has merged them already); files with a problem are left out and noted.

    Raises InferenceError when no file is usable, or when the files mix compressions.
    """
    usable, left_out, compression = _usable(scans)
    stats = merged_stats(usable) if stats is None else stats
    if not stats.records:
        raise InferenceError("the files hold no records: there is nothing to infer a schema from")
    exact = all(s.complete for s in usable)
    features, label_key, vocabularies, vocab_files, notes = infer_features(stats, exact, options.label_key)
    if not features:
        raise InferenceError("no key of the records can be described: " + "; ".join(notes))
    notes[:0] = [f"left out {rel}: {problem}" for rel, _, problem in left_out]
    if not exact:
        partly = sum(1 for s in usable if not s.complete)
        notes.append(f"sampled {stats.records:,} records ({partly:,} of {len(usable):,} files only in part): record "
                     "counts are unknown and shapes assume the unread records look like the sampled ones; "
                     "--full reads every record")
    schema = DatasetSchema(
        name=_name(options, files), kind="records", features=features, splits=_splits(usable),
        compression=compression, label_key=label_key, vocabularies=vocabularies,
        provenance=_provenance(options, mode, stats.records, exact, left_out, notes),
    )
    return Inference(schema, vocab_files, left_out, tuple(notes))


def describe_files(options: InferOptions, files: FileSet, scans: Sequence[FileScan], features: Sequence[Feature], *,
                   label_key: str | None, vocabularies: Sequence[Vocabulary] = (), vocab_files: dict[str, bytes] | None = None,
                   text: Any = None, notes: Sequence[str] = (), mode: str) -> Inference:
    """The schema of files whose features are given (a TFX schema, a feature_description), not inferred.

    Vocabularies whose file is neither given nor already in the dataset directory are dropped (with the
    references to them). The sampled records of every usable file must parse with the features:
    InferenceError names the first that does not.
    """
    from apache_beam.io.filesystems import FileSystems

    usable, left_out, compression = _usable(scans)
    notes = [f"left out {rel}: {problem}" for rel, _, problem in left_out] + list(notes)
    vocab_files = dict(vocab_files or {})
    kept = []
    for v in vocabularies:
        if v.file in vocab_files or FileSystems.exists(FileSystems.join(files.out, v.file)):
            kept.append(v)
        else:
            notes.append(f"vocabulary {v.name!r}: {v.file} is not in {files.out}; left out")
    names = {v.name for v in kept}
    features = tuple(f if f.vocabulary is None or f.vocabulary in names else Feature(**{**vars(f), "vocabulary": None})
                     for f in features)
    if label_key is not None and label_key not in {f.name for f in features}:
        raise InferenceError(f"label key {label_key!r} is not one of the features ({', '.join(f.name for f in features)})")
    records = sum(s.records for s in usable)
    exact = all(s.complete for s in usable)
    schema = DatasetSchema(
        name=_name(options, files), kind="records", features=features, splits=_splits(usable),
        compression=compression, label_key=label_key, vocabularies=tuple(kept), text=text,
        provenance=_provenance(options, mode, records, exact, left_out, notes),
    )
    check_parses(usable, schema)
    return Inference(schema, vocab_files, left_out, tuple(notes))


def check_parses(scans: Sequence[FileScan], schema: DatasetSchema) -> None:
    """Raises InferenceError naming the first sampled record that `tf.io.parse_example` refuses with the
    schema's feature spec (the scans must have kept samples)."""
    import tensorflow as tf

    from schemas import feature_spec

    spec = feature_spec(schema)
    for scan in scans:
        if not scan.samples:
            continue
        try:
            tf.io.parse_example(scan.samples, spec)
            continue
        except tf.errors.InvalidArgumentError:
            pass
        for i, record in enumerate(scan.samples):
            try:
                tf.io.parse_example([record], spec)
            except tf.errors.InvalidArgumentError as e:
                why = parse_mismatch(record, schema.features) or tf_message(e.message)
                raise InferenceError(f"{scan.entry.relative}: record {i} does not parse with the given features: "
                                     f"{why}") from None


def _version() -> str:
    import prep

    return prep.__version__


def infer_sampled(options: InferOptions) -> tuple[FileSet, list[FileScan], Inference]:
    """Sampled inference from start to end: the files, their scans and the inference (nothing written)."""
    files = locate_files(options.patterns, options.out, options.split_globs)
    scans = scan_files(files.entries, options.sample)
    return files, scans, build_inference(options, files, scans, "sampled")


def rejected_lines(inference: Inference) -> bytes:
    """rejected.jsonl of an inference: one line per file left out, as prep's jobs write it."""
    return rejected_jsonl({"path": rel, "reason": reason, "detail": problem} for rel, reason, problem in inference.left_out)
