"""rejected.jsonl: every input left out of the dataset, with why, sorted by path."""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

REJECTED_FILE = "rejected.jsonl"


def _write_sorted(element, path):
    _, rows = element
    rows = sorted(rows, key=lambda r: (r["path"], r.get("line", 0), r["reason"], r.get("detail", "")))
    lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in rows]
    with FileSystems.create(path + ".tmp") as f:
        f.write("".join(line + "\n" for line in lines).encode("utf-8"))
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([path + ".tmp"], [path])
    return len(lines)


class WriteRejected(beam.PTransform):
    """Rejection dicts (path, reason, detail) -> rejected.jsonl; outputs the number of lines written
    (the file is written, empty, when nothing was rejected)."""

    def __init__(self, out: str):
        super().__init__()
        self.path = FileSystems.join(out, REJECTED_FILE)

    def expand(self, rejected):
        marker = rejected.pipeline | "Always" >> beam.Create([(None, None)])
        return (
            (rejected | "Key" >> beam.Map(lambda r: (None, r)), marker)
            | "Together" >> beam.Flatten()
            | "Gather" >> beam.GroupByKey()
            | "Drop marker" >> beam.MapTuple(lambda k, rows: (k, [r for r in rows if r is not None]))
            | "Write" >> beam.Map(_write_sorted, self.path)
        )
