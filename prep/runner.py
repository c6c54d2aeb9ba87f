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


class BeamFlagError(ValueError):
    """A flag after `--` that Beam does not know (Beam itself would only log and drop it)."""


def unknown_beam_flags(args: list[str]) -> list[str]:
    """The flags among `args` that no registered Beam `PipelineOptions` class defines."""
    from apache_beam.options import pipeline_options as po

    parser = po._BeamArgumentParser(allow_abbrev=False)  # the parser Beam itself validates with
    classes = {str(cls): cls for cls in po.PipelineOptions.__subclasses__()}
    for cls in classes.values():
        cls._add_argparse_args(parser)
    _, unknown = parser.parse_known_args(args)
    return [a for a in unknown if a.startswith("-")]


def pipeline_options(options: RunnerOptions):
    """Beam `PipelineOptions` for these runner options; refuses flags Beam does not know."""
    from apache_beam.options.pipeline_options import PipelineOptions

    args = list(options.beam_args)
    unknown = unknown_beam_flags(args)
    if unknown:
        raise BeamFlagError(f"Beam does not know the flag(s) {' '.join(unknown)} given after '--'")
    if options.runner == "direct" and not any(a.startswith("--runner") for a in args):
        workers = options.local_workers
        # first, so that the same Beam flags after '--' win
        args = ["--runner=DirectRunner", f"--direct_num_workers={workers}",
                f"--direct_running_mode={'multi_processing' if workers > 1 else 'in_memory'}",
                "--default_sdk_harness_log_level=ERROR"] + args
    return PipelineOptions(args)
