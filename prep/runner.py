"""Runner options: where a job runs (Beam's DirectRunner on every local core, or Dataflow) and how."""

from __future__ import annotations

import os
from dataclasses import dataclass

RUNNERS = ("direct", "dataflow")


@dataclass(frozen=True)
class RunnerOptions:
    """`workers`: local worker processes (default: one per core); `beam_args`: Beam flags passed through
    as they are (e.g. --runner=DataflowRunner --project=...)."""

    runner: str = "direct"
    workers: int | None = None
    beam_args: tuple[str, ...] = ()

    @property
    def local_workers(self) -> int:
        return self.workers or os.cpu_count() or 1


def pipeline_options(options: RunnerOptions):
    """Beam `PipelineOptions` for these runner options."""
    from apache_beam.options.pipeline_options import PipelineOptions

    args = list(options.beam_args)
    if options.runner == "direct" and not any(a.startswith("--runner") for a in args):
        workers = options.local_workers
        args += ["--runner=DirectRunner", f"--direct_num_workers={workers}",
                 f"--direct_running_mode={'multi_processing' if workers > 1 else 'in_memory'}"]
    return PipelineOptions(args)
