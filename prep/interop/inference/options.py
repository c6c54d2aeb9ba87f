"""The options of `prep schema infer`, built once by the CLI, and how much of each file a sample reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SampleOptions:
    """How much of each file sampled inference reads: the first `head_records` records (stopping after
    `head_bytes` bytes), then, in an uncompressed file that is longer, `probes` windows of `probe_bytes`
    bytes at evenly spaced offsets, up to `probe_records` records each. Bytes are uncompressed bytes."""

    head_records: int = 100
    head_bytes: int = 256 * 1024
    probes: int = 4
    probe_bytes: int = 64 * 1024
    probe_records: int = 10


@dataclass(frozen=True)
class InferOptions:
    """The options of `prep schema infer`, built once by the CLI.

    `patterns`: files, globs or directories (local or gs://); `out`: the dataset directory that gets
    schema.json (None: the folder holding all files); `split_globs`: (split, glob) pairs that override
    split detection from file names; `label_key`: the label ("" for none, None to propose one).
    """

    patterns: tuple[str, ...]
    out: str | None = None
    name: str | None = None
    label_key: str | None = None
    split_globs: tuple[tuple[str, str], ...] = ()
    full: bool = False
    sample: SampleOptions = SampleOptions()
    created: str = ""
    command: str = "schema infer"
