"""What every job concludes from the shards it wrote: the schema's splits, and inputs = records + rejected.

Shared by the image and text jobs' finishing steps (`image_dataset`, `text_dataset`), which add what
is their own (features, vocabularies, stats).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Iterable

from prep.core.duplicates import add_fact as add_duplicate_fact
from prep.core.layout import Layout
from prep.core.splits import DEFAULT_SPLIT, SplitFractions
from schemas import SCHEMA_FILE, DatasetSchema, Shard, Split, dumps
from schemas.versions import read_version_file, version_dir

LABELS_FILE = "vocab/labels.txt"
STATS_FILE = "stats.json"
REJECTED_FILE = "rejected.jsonl"
REJECTED_ROWS = "rejected_rows"  # the summary's list of rejected.jsonl rows


class LostInputsError(RuntimeError):
    """Inputs != records + rejected: something was dropped silently, so the run must not commit."""


def check_accounted(inputs: int, written: int, rejected: int) -> None:
    """Refuses (LostInputsError) a run whose records and rejections do not add up to its inputs."""
    if written + rejected != inputs:
        raise LostInputsError(
            f"{inputs} inputs but {written} records + {rejected} rejected: refusing to commit a dataset that lost inputs")


def split_names(split_fractions: SplitFractions | None, layout: Layout) -> list[str]:
    """Every split a dataset has, records or not: --split's, else SRC's split folders, else `train`."""
    if split_fractions is not None:
        return list(split_fractions.names)
    if layout.split_folders:
        return list(layout.splits)
    return [DEFAULT_SPLIT]


def _shard_order(result: dict) -> tuple[int, int]:
    """A split's shards in order: those an update shares with the version before (in their order
    there), then those written now."""
    return (0, result["index"]) if result.get("carried") else (1, result["index"])


def splits_from_results(results: Iterable[dict], names: Iterable[str]) -> tuple[Split, ...]:
    """The schema's splits, in the order of `names`, from the shard dicts WriteShards and Commit made."""
    by_split: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        by_split[r["split"]].append(r)
    return tuple(
        Split(name, tuple(Shard(r["file"], r["num_records"], r["num_bytes"], r.get("index_file")) for r in sorted(rs, key=_shard_order)),
              sum(r["num_records"] for r in rs))
        for name in names
        for rs in [by_split[name]]
    )


def add_rejection(summary, row: dict) -> None:
    """Counts one input left out (a row of rejected.jsonl: path, reason, detail) in a job's `Summary`,
    and keeps the row for the file."""
    summary.count("rejected", row["reason"])
    summary.collect(REJECTED_ROWS, row)


PARTIAL_FACT = "records_summary"  # (PARTIAL_FACT, Summary): the facts of many records, already folded


def add_shared_fact(summary, fact: tuple) -> bool:
    """Folds a fact every job gathers (a rejection, one of duplicate detection, or a PARTIAL_FACT) into
    its `Summary`; False for a fact of the job's own."""
    if fact[0] == "rejected":
        add_rejection(summary, fact[1])
        return True
    if fact[0] == PARTIAL_FACT:
        summary.merge(fact[1])
        return True
    return add_duplicate_fact(summary, fact)


def rejected_rows(summary: dict) -> list[dict]:
    return summary.get(REJECTED_ROWS, [])


def rejected_jsonl(rows: Iterable[dict]) -> bytes:
    """rejected.jsonl: one JSON object per input left out, in path (then line) order."""
    rows = sorted(rows, key=lambda r: (r["path"], r.get("line") or 0, r["reason"], r.get("detail", "")))
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode("utf-8")


def json_bytes(data: dict) -> bytes:
    """A JSON file as prep writes them: indented, UTF-8, ending in a newline."""
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


VERSION_FILES = (STATS_FILE, REJECTED_FILE)  # kept for each version beside its schema.json (schemas.versions)


def version_files(out: str, schema: DatasetSchema, files: dict[str, bytes], more: tuple[str, ...] = ()) -> dict[str, bytes]:
    """What an update writes of its version (`schema.version`) under versions/ besides the dataset's
    own files: its schema.json, stats.json and rejected.jsonl (and the files `more` names); and the
    version before's, read from OUT, if they are not there yet (a dataset written once keeps them only
    at its top)."""
    mine = version_dir(schema.version)
    names = VERSION_FILES + more
    written = {f"{mine}/{SCHEMA_FILE}": dumps(schema).encode("utf-8")} | {f"{mine}/{name}": files[name] for name in names}
    for name in (SCHEMA_FILE, *names):
        data, kept = read_version_file(out, schema.version - 1, name)
        if not kept:
            written[f"{version_dir(schema.version - 1)}/{name}"] = data
    return written


def same_as_before(out: str, results: list[dict], files: dict[str, bytes], version: int, shards: Iterable[str]) -> bool:
    """Whether an update of version `version` found nothing to change: it shares every shard of that
    version (the files `shards`) and writes none, and its stats.json and rejected.jsonl are that version's."""
    if any(not r.get("carried") for r in results) or {r["file"] for r in results} != set(shards):
        return False
    return all(read_version_file(out, version, name)[0] == files[name] for name in VERSION_FILES)
