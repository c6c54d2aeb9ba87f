"""Running a job's pipeline: build it for the chosen runner, run it while its progress shows
(prep.jobs.display), and turn failures into one line."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable

from prep.jobs.display import Display, Watch
from prep.jobs.progress import PROGRESS_DIR_ENV, read_folder, read_metrics
from prep.jobs.runner import RunnerOptions, pipeline_options, pipeline_runner
from prep.jobs.terminal import debugging, environment, job_output_to, new_log

DATAFLOW_POLL_EVERY = 10.0  # seconds between two queries of a Dataflow job's counters


class JobFailed(Exception):
    """The pipeline failed; the message is the stage and the cause, without Beam's wrapping, and names the
    log holding the whole output (PREP_DEBUG=1 shows it all on the terminal instead)."""


class Interrupted(Exception):
    """Ctrl-C in the launcher; the message says what became of the job (a local one stopped with nothing
    committed; a Dataflow one goes on running, and how to cancel it)."""


def _stage(error: BaseException) -> str | None:
    """The step that failed, from Beam's "[while running 'Job/Step/ParDo(...)']", without the ParDo."""
    steps = re.findall(r"\[while running '([^']+)'\]", str(error))
    if not steps:
        return None
    parts = [p for p in steps[-1].split("/") if not re.match(r"^(ParDo|Map|FlatMap)\(", p)]
    return "/".join(parts) or steps[-1]


def _cause(error: BaseException) -> str:
    """The innermost message of a Beam failure (Beam wraps worker errors in several layers)."""
    text = str(error)
    text = re.sub(r" ?\[while running '[^']+'\]", "", text)
    known = re.findall(r"(LostInputsError|SourceChangedError|SchemaError|RecordError|OutputTakenError|ChangedFileError"
                       r"|OSError|ValueError|RuntimeError): (.+)", text)
    if known:
        return f"{known[-1][0]}: {known[-1][1].strip()}"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


@dataclass(frozen=True)
class Launched:
    """What a run left to report: the steps of the pipeline; on Dataflow the job's id and page, and the
    job description Beam built (also on a dry run, which submits nothing)."""

    steps: tuple[str, ...]
    job_id: str | None = None
    console_url: str | None = None
    job: object = None


def _top_steps(pipeline) -> tuple[str, ...]:
    """The names of the pipeline's transforms one level below each job's composite."""
    names = (t.full_label for t in pipeline.transforms_stack[0].parts for t in [t] + list(t.parts))
    return tuple(n for n in names if n and n.count("/") <= 1)


def run_pipeline(build: Callable[[object], None], runner: RunnerOptions, *,
                 on_submitted: Callable[[Launched], None] = lambda launched: None, name: str = "job",
                 display: Display | None = None) -> Launched:
    """Builds the pipeline with `build(pipeline)` and runs it to the end (a dry run builds it only: on
    Dataflow, Beam's own dry run makes the whole job description without submitting it). While it runs,
    its output goes to a log file (prep.jobs.terminal), deleted when the job succeeds, and `display`
    shows its progress."""
    import apache_beam as beam

    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    options = pipeline_options(runner)
    pipeline = beam.Pipeline(runner=pipeline_runner(runner, options), options=options)
    build(pipeline)
    steps = _top_steps(pipeline)
    if runner.dry_run and not runner.is_dataflow:
        return Launched(steps)
    if debugging():
        return _run(pipeline, options, steps, runner, on_submitted, display)
    log = new_log(name)
    try:
        with job_output_to(log):
            launched = _run(pipeline, options, steps, runner, on_submitted, display)
    except Interrupted:
        raise
    except JobFailed as e:
        raise JobFailed(f"{e} (full output: {log})") from e.__cause__
    except Exception as e:  # a worker's exception arrives wrapped in the runner's own types
        stage = _stage(e)
        raise JobFailed(f"{'in ' + stage + ': ' if stage else ''}{_cause(e)} (full output: {log})") from e
    os.remove(log)
    return launched


@contextlib.contextmanager
def _local_progress(display: Display | None):
    """Inside the block, local workers count into a new folder (prep.jobs.progress) that `display` shows."""
    if display is None:
        yield
        return
    folder = tempfile.mkdtemp(prefix="prep-progress-")
    try:
        with environment(PROGRESS_DIR_ENV, folder), Watch(display, lambda: read_folder(folder)):
            yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(pipeline, options, steps: tuple[str, ...], runner: RunnerOptions,
         on_submitted: Callable[[Launched], None], display: Display | None = None) -> Launched:
    if not runner.is_dataflow or runner.dry_run:
        try:
            with _local_progress(None if runner.dry_run else display):
                result = pipeline.run()  # a local runner runs the whole job here
                result.wait_until_finish()
        except KeyboardInterrupt:
            raise Interrupted("interrupted: the job stopped before its commit, so nothing was written to OUT "
                              "(a dataset already there is as it was)") from None
        launched = Launched(steps, job=getattr(result, "job", None))
        on_submitted(launched)
        return launched
    result = pipeline.run()
    cloud = options.get_all_options()
    launched = Launched(steps, result.job_id(), "https://console.cloud.google.com/dataflow/jobs/"
                        f"{cloud['region']}/{result.job_id()}?project={cloud['project']}", getattr(result, "job", None))
    on_submitted(launched)
    watch_dataflow(result, launched, cloud, display)
    return launched


def watch_dataflow(result, launched: Launched, cloud: dict, display: Display | None,
                   interval: float = DATAFLOW_POLL_EVERY) -> None:
    """Waits for a submitted Dataflow job to end, showing its counters on `display` meanwhile. Ctrl-C
    leaves the job running (it is the cloud's, not this process's) and says how to cancel it."""
    try:
        with Watch(display, lambda: read_metrics(result), interval) if display else contextlib.nullcontext():
            result.wait_until_finish()
    except KeyboardInterrupt:
        raise Interrupted(f"the Dataflow job {launched.job_id} goes on running ({launched.console_url}); cancel it "
                          f"with: gcloud dataflow jobs cancel {launched.job_id} --region {cloud['region']} "
                          f"--project {cloud['project']}") from None
    if str(result.state) not in ("DONE", "PipelineState.DONE"):
        raise JobFailed(f"the Dataflow job ended {result.state}: see {launched.console_url}")
