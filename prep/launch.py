"""Running a job's pipeline: build it for the chosen runner, run it, and turn failures into one line."""

from __future__ import annotations

import logging
import os
import re
from typing import Callable

from prep.runner import RunnerOptions, pipeline_options


class JobFailed(Exception):
    """The pipeline failed; the message is the cause, without Beam's wrapping (PREP_DEBUG=1 shows it all)."""


def _cause(error: BaseException) -> str:
    """The innermost message of a Beam failure (Beam wraps worker errors in several layers)."""
    text = str(error)
    known = re.findall(r"(LostInputsError|SourceChangedError|SchemaError|RecordError|OSError|ValueError|RuntimeError): (.+)", text)
    if known:
        return f"{known[-1][0]}: {known[-1][1].strip()}"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def run_pipeline(build: Callable[[object], None], runner: RunnerOptions) -> None:
    """Builds the pipeline with `build(pipeline)` and runs it to the end."""
    import apache_beam as beam

    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    options = pipeline_options(runner)
    try:
        with beam.Pipeline(options=options) as pipeline:
            build(pipeline)
    except Exception as e:  # a worker's exception arrives wrapped in the runner's own types
        if os.environ.get("PREP_DEBUG"):
            raise
        raise JobFailed(_cause(e)) from e
