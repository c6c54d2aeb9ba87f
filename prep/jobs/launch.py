"""Running a job's pipeline: build it for the chosen runner, run it, and turn failures into one line."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Callable

from prep.jobs.runner import RunnerOptions, pipeline_options, pipeline_runner
from prep.jobs.terminal import debugging, job_output_to, new_log


class JobFailed(Exception):
    """The pipeline failed; the message is the stage and the cause, without Beam's wrapping, and names the
    log holding the whole output (PREP_DEBUG=1 shows it all on the terminal instead)."""


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
                 on_submitted: Callable[[Launched], None] = lambda launched: None, name: str = "job") -> Launched:
    """Builds the pipeline with `build(pipeline)` and runs it to the end (a dry run builds it only: on
    Dataflow, Beam's own dry run makes the whole job description without submitting it). While it runs,
    its output goes to a log file (prep.jobs.terminal), deleted when the job succeeds."""
    import apache_beam as beam

    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    options = pipeline_options(runner)
    pipeline = beam.Pipeline(runner=pipeline_runner(runner, options), options=options)
    build(pipeline)
    steps = _top_steps(pipeline)
    if runner.dry_run and not runner.is_dataflow:
        return Launched(steps)
    if debugging():
        return _run(pipeline, options, steps, runner, on_submitted)
    log = new_log(name)
    try:
        with job_output_to(log):
            launched = _run(pipeline, options, steps, runner, on_submitted)
    except JobFailed as e:
        raise JobFailed(f"{e} (full output: {log})") from e.__cause__
    except Exception as e:  # a worker's exception arrives wrapped in the runner's own types
        stage = _stage(e)
        raise JobFailed(f"{'in ' + stage + ': ' if stage else ''}{_cause(e)} (full output: {log})") from e
    os.remove(log)
    return launched


def _run(pipeline, options, steps: tuple[str, ...], runner: RunnerOptions,
         on_submitted: Callable[[Launched], None]) -> Launched:
    result = pipeline.run()
    launched = Launched(steps, job=getattr(result, "job", None))
    if runner.is_dataflow and not runner.dry_run:
        cloud = options.get_all_options()
        launched = Launched(steps, result.job_id(), "https://console.cloud.google.com/dataflow/jobs/"
                            f"{cloud['region']}/{result.job_id()}?project={cloud['project']}", launched.job)
    on_submitted(launched)
    result.wait_until_finish()
    if runner.is_dataflow and not runner.dry_run and str(result.state) not in ("DONE", "PipelineState.DONE"):
        raise JobFailed(f"the Dataflow job ended {result.state}: see {launched.console_url}")
    return launched
