"""The progress of a long job: live on a terminal, plain lines in a log, nothing with --quiet; the
workers' counts summed; a Dataflow job's counters polled; Ctrl-C says what became of the job."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prep.jobs import progress
from prep.jobs.display import Display, StageLines
from prep.jobs.progress import CONVERTED, INPUTS, LISTED, REJECTED, STAGES, Counts
from tests.conftest import write_image

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # any control character but tab and newline


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """40 images in two classes, and a file that is not an image."""
    src = tmp_path_factory.mktemp("progress") / "src"
    for i in range(40):
        write_image(src / ("cat" if i % 2 else "dog") / f"{i}.png", fmt="PNG", size=(24 + i % 7, 20), color=(6 * i, 0, 0))
    (src / "cat" / "notes.png").write_bytes(b"not an image")
    return src


def _prep(*args) -> list[str]:
    return [sys.executable, "-m", "prep.cli.main", *map(str, args)]


def _on_a_terminal(args: list[str], timeout: float = 300) -> tuple[int, str]:
    """Runs a command with a pseudo-terminal as its stdin, stdout and stderr; its exit code and output."""
    primary, secondary = pty.openpty()
    child = subprocess.Popen(args, stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True)
    os.close(secondary)
    output, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 1.0)
        if not ready:
            if child.poll() is not None:
                break
            continue
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(primary)
    return child.wait(timeout=60), output.decode("utf-8", "replace")


def test_on_a_terminal_the_stages_are_redrawn_in_place_reach_their_totals_and_the_summary_says_how_long(
        folder, tmp_path):
    code, output = _on_a_terminal(_prep("images", folder, tmp_path / "out", "--workers", "2"))

    assert code == 0, output
    assert "\x1b[1A" in output and "\x1b[2K" in output  # lines drawn again where they were, not below
    frames = output.split("\x1b[1A")
    assert len(frames) > 3
    final = output[output.rindex("listing inputs"):]
    for line in ("listing inputs: 41 of 41 files (100%)", "converting: 41 of 41 images (100%), 1 rejected",
                 "writing shards: 1 of 1 shards (100%)", "committing: done"):
        assert line in final, final
    assert re.search(r"wrote 40 records \(train 40\) to \S+ in \d+ s, [\d,]+ images/s", final), final
    assert "rejected 1 of 41 inputs (not_an_image 1)" in final


def test_in_a_file_a_handful_of_plain_lines_come_before_the_summary(folder, tmp_path):
    done = subprocess.run(_prep("images", folder, tmp_path / "out", "--workers", "2"), capture_output=True,
                          text=True, timeout=300)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert not CONTROL.search(done.stdout)
    shown = lines[:next(i for i, line in enumerate(lines) if line.startswith("wrote 40 records"))]
    assert 4 <= len(shown) <= 12, shown
    assert all(line.startswith("  ") for line in shown)
    stages = [line.split(":")[0].strip() for line in shown]
    assert stages.index("listing inputs") < stages.index("converting") < stages.index("writing shards") \
        < stages.index("committing")
    assert "  committing: done" in shown


def test_quiet_prints_the_summary_and_nothing_else(folder, tmp_path, prep_cli):
    result = prep_cli("images", folder, tmp_path / "out", "--quiet", "--workers", "1")

    assert result.exit_code == 0, result.err
    assert result.err == ""
    assert result.out.splitlines()[0].startswith("wrote 40 records (train 40) to ")
    assert len(result.out.splitlines()) == 2  # and the rejection line


def test_the_counts_of_two_workers_sum_to_the_inputs(folder, tmp_path, prep_cli, monkeypatch):
    import prep.jobs.launch as launch

    by_process: dict[str, int] = {}
    seen: list[Counts] = []

    def read_and_keep(folder_path: str) -> Counts:
        for name in os.listdir(folder_path):
            if name.endswith(".json"):
                try:
                    counts = json.loads((Path(folder_path) / name).read_text())["counts"]
                except (OSError, ValueError):
                    continue
                by_process[name] = max(by_process.get(name, 0), counts.get(CONVERTED, 0) + counts.get(REJECTED, 0))
        found = progress.read_folder(folder_path)
        seen.append(found)
        return found

    monkeypatch.setattr(launch, "read_folder", read_and_keep)
    result = prep_cli("images", folder, tmp_path / "out", "--workers", "2")

    assert result.exit_code == 0, result.err
    assert len([n for n in by_process.values() if n]) == 2, by_process  # both workers converted images
    assert sum(by_process.values()) == 41
    assert max(c.counts.get(CONVERTED, 0) + c.counts.get(REJECTED, 0) for c in seen) == 41
    assert max(c.totals.get(INPUTS, 0) for c in seen) == 41
    assert max(c.counts.get(LISTED, 0) for c in seen) == 41


def test_a_runners_own_metrics_carry_the_counts_and_totals_a_dataflow_launcher_polls():
    """The same DoFn counting as every job, on Beam's FnApiRunner: read back through PipelineResult.metrics(),
    the interface Dataflow's result has too."""
    import apache_beam as beam

    from beam_jobs.progress import CountEach, ReportTotal

    pipeline = beam.Pipeline(runner="FnApiRunner")
    items = pipeline | beam.Create(list(range(25))) | beam.ParDo(CountEach(CONVERTED))
    items | ReportTotal(INPUTS)
    result = pipeline.run()
    result.wait_until_finish()

    found = progress.read_metrics(result)
    assert found.counts[CONVERTED] == 25
    assert found.totals[INPUTS] == 25


class _DataflowResult:
    """A submitted Dataflow job as the launcher sees it (no network): its counters grow at each poll, and
    it finishes after a few of them. The metric objects are Beam's own."""

    def __init__(self, finish_after: int = 4, interrupt: bool = False):
        self.polls, self.finish_after, self.interrupt, self.state = 0, finish_after, interrupt, "RUNNING"

    def metrics(self):
        from apache_beam.metrics.cells import GaugeData, GaugeResult
        from apache_beam.metrics.execution import MetricKey, MetricResult
        from apache_beam.metrics.metricbase import MetricName

        self.polls += 1
        done = min(100, 30 * self.polls)
        key = lambda name: MetricKey("ConvertImageFolder/Convert", MetricName(progress.NAMESPACE, name))  # noqa: E731
        total = GaugeResult(GaugeData(100, timestamp=0))
        results = {"counters": [MetricResult(key(CONVERTED), done, done)],
                   "gauges": [MetricResult(key(progress.TOTAL_PREFIX + INPUTS), total, total)], "distributions": []}

        class Query:
            def query(self, _filter=None):
                return results

        return Query()

    def wait_until_finish(self):
        while self.polls < self.finish_after:
            if self.interrupt and self.polls >= 2:
                raise KeyboardInterrupt
            time.sleep(0.01)
        self.state = "DONE"
        return self.state


class _Recording(Display):
    def __init__(self, stream):
        super().__init__(STAGES["images"], stream, "plain")
        self.seen: list[Counts] = []

    def update(self, counts: Counts) -> None:
        self.seen.append(counts)
        super().update(counts)


def test_a_dataflow_job_is_shown_from_its_polled_counters_until_it_ends():
    from prep.jobs.launch import Launched, watch_dataflow

    shown = io.StringIO()
    display = _Recording(shown)
    watch_dataflow(_DataflowResult(), Launched((), "2026-12-05_1", "https://console"), {"region": "r", "project": "p"},
                   display, interval=0.02)

    converted = [c.counts.get(CONVERTED, 0) for c in display.seen]
    assert converted[:3] == [30, 60, 90] and converted[-1] == 100
    assert "  converting: 30 of 100 images (30%)" in shown.getvalue()
    assert "converting: 100 of 100 images (100%)" in shown.getvalue()
    assert not CONTROL.search(shown.getvalue())


def test_ctrl_c_while_a_dataflow_job_runs_says_it_goes_on_and_how_to_cancel_it():
    from prep.jobs.launch import Interrupted, Launched, watch_dataflow

    with pytest.raises(Interrupted) as caught:
        watch_dataflow(_DataflowResult(finish_after=100, interrupt=True), Launched((), "job-7", "https://console/job-7"),
                       {"region": "europe-west1", "project": "proj"}, _Recording(io.StringIO()), interval=0.02)
    assert str(caught.value) == ("the Dataflow job job-7 goes on running (https://console/job-7); cancel it with: "
                                 "gcloud dataflow jobs cancel job-7 --region europe-west1 --project proj")


def _as_from_a_shell() -> None:
    """A child's SIGINT as a shell gives it: default handling, not blocked. A child inherits both from the
    process that starts it, and a test runner's worker process (an xdist worker, after the tests before
    this one) is no shell: twice in CI the launcher here let a Ctrl-C pass and finished its job."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_on_a_local_job_leaves_no_dataset_and_says_so(tmp_path):
    src = tmp_path / "src"
    for i in range(400):
        write_image(src / ("cat" if i % 2 else "dog") / f"{i}.png", fmt="PNG", size=(48, 40), color=(i % 250, 0, 0))
    out = tmp_path / "out"
    child = subprocess.Popen(_prep("images", src, out, "--workers", "2"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=_as_from_a_shell)
    first = child.stdout.readline()  # the first progress line: the job is running
    assert first.startswith("  listing inputs"), first
    with open(f"/proc/{child.pid}/status") as f:  # how the launcher takes SIGINT, should the test fail
        signals = [line.strip() for line in f if line.startswith(("SigBlk", "SigIgn", "SigCgt"))]
    os.killpg(child.pid, signal.SIGINT)  # as Ctrl-C on a terminal: the launcher and its workers
    rest, err = child.communicate(timeout=120)

    assert child.returncode == 130, (err, signals)
    assert err.splitlines()[-1] == ("prep images: interrupted: the job stopped before its commit, so nothing was "
                                    "written to OUT (a dataset already there is as it was)")
    assert "Traceback" not in err
    assert not (out / "schema.json").exists()


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_stage_line_has_its_rate_and_time_left_from_what_was_done_while_watched():
    clock = _Clock()
    lines = StageLines(STAGES["images"], now=clock)
    counts = Counts({LISTED: 1000, CONVERTED: 200}, {LISTED: 1000, INPUTS: 1000})
    seen = dict((stage.label, state) for stage, state in lines.update(counts))
    assert list(seen) == ["listing inputs", "converting"]
    clock.now += 10
    counts = Counts({LISTED: 1000, CONVERTED: 600, REJECTED: 4}, {LISTED: 1000, INPUTS: 1000})
    stage, state = lines.update(counts)[1]

    # 404 done in the 10 s watched (the 200 done before it was first seen are not counted in the rate)
    assert lines.text(stage, state, counts) == "converting: 604 of 1,000 images (60%), 4 rejected, 40 images/s, 10 s left"
    clock.now += 20
    counts = Counts({LISTED: 1000, CONVERTED: 990, REJECTED: 10, progress.SHARDS_WRITTEN: 1},
                    {LISTED: 1000, INPUTS: 1000, "shards:train": 4})
    converting, writing = lines.update(counts)[1:3]
    assert lines.text(*converting, counts) == "converting: 1,000 of 1,000 images (100%), 10 rejected, 27 images/s, in 30 s"
    assert lines.text(*writing, counts) == "writing shards: 1 of 4 shards (25%)"


def test_verify_on_a_terminal_counts_shards_and_records_and_prints_only_the_bad_files(made_dataset, tmp_path):
    import shutil

    dataset = tmp_path / "dataset"
    shutil.copytree(made_dataset, dataset)
    shard = sorted(dataset.glob("train-*.tfrecord"))[0]
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF  # the last record's data CRC no longer matches
    shard.write_bytes(bytes(data))

    code, output = _on_a_terminal(_prep("verify", dataset))

    assert code == 1, output
    assert "checking shards: 4 of 4 shards (100%), " in output
    assert f"BAD  {shard.name}: " in output
    assert "ok   " not in output  # the live line counts the good ones
    assert "1 of 5 files are bad" in output


def test_schema_infer_full_counts_the_files_and_records_it_reads(made_dataset, tmp_path, prep_cli):
    import shutil

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for shard in made_dataset.glob("*.tfrecord"):
        shutil.copy(shard, foreign)

    result = prep_cli("schema", "infer", foreign, "--full", "--workers", "1")

    assert result.exit_code == 0, result.err
    assert "  reading every record: 4 of 4 files (100%), 12 records" in result.out
