"""Progress of a long job: what the workers count, and the stages the launcher shows from the counts.

A DoFn counts what it has done with `Progress.add(key, n)` (per element or per batch), and `Progress.total(key, n)` where a total becomes known (the inputs, once
listed; the shards a split is written to). The counts reach the launching process (prep.jobs.display)
by one of two paths:

- **A local run.** The launcher names a folder in PROGRESS_DIR_ENV, which Beam's worker processes
  inherit; a thread in each process that counts writes its counts there every WRITE_EVERY seconds, as
  one small JSON file per process (replaced whole), and the launcher sums the files.
- **Dataflow.** The counts are Beam counters (namespace "prep"; totals are gauges named "total:KEY"),
  which the launcher polls through the job's `PipelineResult.metrics()`. A worker also logs a plain
  line every LOG_EVERY seconds, for its log on Dataflow.

A job's stages (`STAGES`) say which counts make each line the user sees. Counting is a dict update
per call in a local job, and Beam's counter too elsewhere (bench/progress.py measures both), per
element or batch of work that takes from tens of microseconds (a range of a corpus, a batch of
documents) to milliseconds (an image).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

PROGRESS_DIR_ENV = "PREP_PROGRESS_DIR"
WRITE_EVERY = 0.25  # seconds between two writes of a process's counts (a local run)
LOG_EVERY = 30.0  # seconds between two log lines of a worker with no launcher nearby (Dataflow)
NAMESPACE = "prep"
TOTAL_PREFIX = "total:"
STEP = "step"  # the unit of a stage that is one step (the commit): it is running, then done

# What workers count (one source of truth for the workers and the display)
LISTED = "files_listed"  # also a total, once every file is listed
INPUTS = "inputs"  # a total: what an image job converts (files, or a manifest's rows)
CONVERTED = "images_converted"
KEPT = "records_kept"  # an update: held records that stay, counted when compared
REJECTED = "inputs_rejected"
RANGES = "corpus_parts"  # a total: the byte ranges a text job reads its files in (beam_jobs.vocab)
SURVEYED = "parts_surveyed"
ENCODED = "parts_encoded"
DOCUMENTS = "documents_encoded"
SHARDS_WRITTEN = "shards_written"
SHARDS = "shards"  # a total per split: "shards:train"
COMMIT_STARTED = "commit_started"
COMMITTED = "committed"
SHARDS_CHECKED = "shards_checked"  # prep verify, counted in the launching process
RECORDS_CHECKED = "records_checked"
FILES_READ = "files_read"  # prep schema infer --full (and a total)
RECORDS_READ = "records_read"


@dataclass(frozen=True)
class Counts:
    """The counts of a whole job: summed over its workers (`counts`), and its totals."""

    counts: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """A line of the display: `label`, the keys whose counts sum to what is done (in `unit`), the
    total's key (a key ending in ":" sums every total it starts: "shards:" the shards of all splits),
    `also` (key, name) counts shown beside, `rate` (key, name) when the rate is not of the done count
    (() for no rate), and `started_by`, a count that shows the line before anything is done."""

    label: str
    done: tuple[str, ...]
    unit: str
    total: str | None = None
    also: tuple[tuple[str, str], ...] = ()
    rate: tuple[str, str] | tuple[()] | None = None
    started_by: str | None = None

    def total_of(self, counts: Counts) -> int | None:
        if self.total is None:
            return None
        if self.total.endswith(":"):
            found = [v for k, v in counts.totals.items() if k.startswith(self.total)]
            return sum(found) if found else None
        return counts.totals.get(self.total)


_LISTING = Stage("listing inputs", (LISTED,), "files", total=LISTED)
_SURVEYING = Stage("reading the corpus", (SURVEYED,), "parts", total=RANGES)
_WRITING = Stage("writing shards", (SHARDS_WRITTEN,), "shards", total=SHARDS + ":", rate=())
_COMMITTING = Stage("committing", (COMMITTED,), STEP, started_by=COMMIT_STARTED)

STAGES = {
    "images": (_LISTING, Stage("converting", (CONVERTED, KEPT, REJECTED), "images", total=INPUTS,
                               also=((KEPT, "kept unchanged"), (REJECTED, "rejected"))), _WRITING, _COMMITTING),
    "text": (_LISTING, _SURVEYING,
             Stage("encoding", (ENCODED,), "parts", total=RANGES, also=((DOCUMENTS, "documents"), (REJECTED, "rejected")),
                   rate=(DOCUMENTS, "documents")),
             _WRITING, _COMMITTING),
    "vocab": (_LISTING, _SURVEYING, _COMMITTING),
    "schema-infer": (Stage("reading every record", (FILES_READ,), "files", total=FILES_READ,
                           also=((RECORDS_READ, "records"),), rate=(RECORDS_READ, "records")),),
    "verify": (Stage("checking shards", (SHARDS_CHECKED,), "shards", total=SHARDS_CHECKED,
                     also=((RECORDS_CHECKED, "records"),), rate=(RECORDS_CHECKED, "records")),),
}


class _Reporter:
    """This process's counters, by the folder of the job they count for (a process may run several
    jobs one after the other: the tests', or in-process runs), and the thread that reports them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counters: dict[str | None, list[dict]] = {}  # the counts of every Progress made for the folder
        self.totals: dict[str | None, dict] = {}
        self.thread: threading.Thread | None = None

    def register(self, folder: str | None, counts: dict) -> None:
        """Reports `counts` (a Progress's, which a DoFn may outlive: its counts stay) with the folder's."""
        with self.lock:
            self.counters.setdefault(folder, []).append(counts)
            self.totals.setdefault(folder, {})
            if self.thread is None or not self.thread.is_alive():  # a forked process has no thread
                self.thread = threading.Thread(target=self._run, name="prep-progress-report", daemon=True)
                self.thread.start()
                atexit.register(self.flush)  # a worker process that ends with its job says its last counts

    def flush(self, folder: str | None = None) -> None:
        """Writes the counts of `folder` (default: of every local job) now, not at the next tick."""
        with self.lock:
            folders = [f for f in self.counters if f is not None and (folder is None or f == folder)]
        for found in folders:
            _write(found, *self.counts(found))

    def total(self, folder: str | None, key: str, n: int) -> None:
        with self.lock:
            self.totals.setdefault(folder, {})[key] = n

    def counts(self, folder: str | None) -> tuple[dict, dict]:
        """The sums of the folder's counters, and its totals."""
        with self.lock:
            counters, totals = list(self.counters.get(folder, ())), dict(self.totals.get(folder, {}))
        summed: Counter = Counter()
        for counts in counters:
            for _ in range(3):  # a DoFn adding a key while it is read: read it again
                try:
                    summed.update(dict(counts))
                    break
                except RuntimeError:
                    continue
        return dict(summed), totals

    def _run(self) -> None:
        last_log = time.monotonic()
        while True:
            time.sleep(WRITE_EVERY)
            with self.lock:
                folders = list(self.counters)
            for folder in folders:
                if folder is None:
                    if time.monotonic() - last_log >= LOG_EVERY:
                        last_log = time.monotonic()
                        counts = self.counts(None)[0]
                        done = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in sorted(counts.items()))
                        logging.getLogger("prep").info("progress of worker %d: %s", os.getpid(), done)
                elif not _write(folder, *self.counts(folder)):
                    with self.lock:  # the launcher removed the folder: that job is over
                        self.counters.pop(folder, None)
                        self.totals.pop(folder, None)


def _write(folder: str, counts: dict, totals: dict) -> bool:
    """Writes a process's counts of a local job into the job's folder; False when the folder is gone."""
    if not os.path.isdir(folder):
        return False
    path = os.path.join(folder, f"{os.getpid()}.json")
    try:
        with open(path + ".tmp", "w") as f:
            json.dump({"counts": counts, "totals": totals}, f)
        os.replace(path + ".tmp", path)
    except OSError:
        return os.path.isdir(folder)
    return True


_reporter = _Reporter()


class Progress:
    """A DoFn's counting (make it in `setup`: one DoFn instance runs one bundle at a time, so its counts
    need no lock): `add` what is done, `total` what a total turns out to be. In a local job the counts
    stay in this object until the process's thread reports them; elsewhere (Dataflow) they are also
    Beam counters, which the launcher polls."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self._folder = os.environ.get(PROGRESS_DIR_ENV)
        self._counters: dict | None = None
        if self._folder is None:
            from apache_beam.metrics import Metrics

            self._metrics, self._counters = Metrics, {}
        _reporter.register(self._folder, self.counts)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n
        if self._counters is not None:
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = self._metrics.counter(NAMESPACE, key)
            counter.inc(n)

    def total(self, key: str, n: int) -> None:
        _reporter.total(self._folder, key, n)
        if self._counters is not None:
            self._metrics.gauge(NAMESPACE, TOTAL_PREFIX + key).set(n)


def read_folder(folder: str) -> Counts:
    """The counts of a local job: the sum of its processes' files in `folder` (this process's counts
    written first: the job may run here)."""
    _reporter.flush(folder)
    counts: Counter = Counter()
    totals: dict = {}
    for name in os.listdir(folder):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(folder, name)) as f:
                found = json.load(f)
        except (OSError, ValueError):
            continue
        counts.update(found["counts"])
        for key, value in found["totals"].items():
            totals[key] = max(totals.get(key, 0), value)
    return Counts(dict(counts), totals)


def read_metrics(result) -> Counts:
    """The counts of a job from its runner's metrics (`PipelineResult.metrics()`, e.g. Dataflow's)."""
    from apache_beam.metrics.metric import MetricsFilter

    found = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    counts: Counter = Counter()
    totals: dict = {}
    for counter in found.get("counters", ()):
        value = counter.committed if counter.committed is not None else counter.attempted
        counts[counter.key.metric.name] += value or 0
    for gauge in found.get("gauges", ()):
        value = gauge.committed if gauge.committed is not None else gauge.attempted
        name = gauge.key.metric.name
        if value is not None and name.startswith(TOTAL_PREFIX):
            key = name[len(TOTAL_PREFIX):]
            totals[key] = max(totals.get(key, 0), value.value)
    return Counts(dict(counts), totals)
