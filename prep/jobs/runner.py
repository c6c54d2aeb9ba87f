"""Runner options: where a job runs (Beam's FnApiRunner on every local core, or Dataflow) and how.

Local jobs run on the FnApiRunner, named explicitly. Beam 2.77's `DirectRunner` is a switching runner: it
first tries the PrismRunner (a Go binary it downloads at run time on a connected machine, which ignores
`direct_num_workers`) and falls back to the FnApiRunner only when Prism fails. Every test and benchmark of
prep ran on the FnApiRunner, so that is the runner a local job gets; `-- --runner=NAME` still picks another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

RUNNERS = ("direct", "dataflow")


class BeamFlagError(ValueError):
    """Runner flags that cannot work: unknown to Beam (Beam itself would only log and drop them), or
    missing what the runner needs."""


# Beam flags that already ship the toolkit's code to workers: then prep does not add its own package.
_SHIPPING_FLAGS = ("--setup_file", "--extra_package", "--extra_packages")


@dataclass(frozen=True)
class RunnerOptions:
    """Where and how a job runs.

    `workers`: local worker processes (default: one per core). `project`, `region`, `temp_location`:
    Dataflow's, for runner "dataflow". `dry_run`: build the pipeline without running it. `beam_args`:
    Beam flags passed through as they are (e.g. --runner=DataflowRunner --project=...). `quiet`: show
    no progress while the job runs (prep.jobs.display).
    """

    runner: str = "direct"
    workers: int | None = None
    project: str | None = None
    region: str | None = None
    temp_location: str | None = None
    dry_run: bool = False
    beam_args: tuple[str, ...] = ()
    small_input: bool = False  # `workers` is 1 because the input is small (prep.jobs.auto_workers)
    quiet: bool = False  # no progress display: the summary and errors only

    @property
    def local_workers(self) -> int:
        return self.workers or os.cpu_count() or 1

    @property
    def is_dataflow(self) -> bool:
        return self.runner == "dataflow" or any(a in ("--runner=DataflowRunner", "--runner=dataflow")
                                                for a in self.beam_args)

    @property
    def is_local(self) -> bool:
        """Beam's DirectRunner on this machine, which holds every shuffle in memory (so jobs spill theirs to
        files: beam_jobs.batching)."""
        runner = _flag_value(list(self.beam_args), "--runner")
        return not self.is_dataflow and (runner is None or runner.lower() in ("directrunner", "direct"))

    @property
    def description(self) -> str:
        if self.is_dataflow:
            return f"on Dataflow{' (dry run: nothing is submitted)' if self.dry_run else ''}"
        return f"{self.local_workers} local worker{'s' if self.local_workers != 1 else ''}" + (
            " (dry run: nothing runs)" if self.dry_run else "") + (
            ", in this process: a small input finishes sooner without worker processes" if self.small_input else "")


def _flag_value(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(args):
            return args[i + 1]
    return None


def dataflow_args(options: RunnerOptions) -> list[str]:
    """Beam flags for Dataflow: the runner, project, region and temp location (from prep's flags or
    Beam's own), and --setup_file with the toolkit's package unless the user ships code another way."""
    from prep.jobs.packaging import worker_package

    args = list(options.beam_args)
    given = {"--project": options.project, "--region": options.region, "--temp_location": options.temp_location}
    missing = [name for name, value in given.items() if not value and not _flag_value(args, name)]
    if missing:
        flags = ", ".join(name.replace("_", "-") for name in missing)
        raise BeamFlagError(f"Dataflow needs {flags} (e.g. --project my-proj --region us-central1 "
                            "--temp-location gs://my-bucket/tmp)")
    out = ["--runner=DataflowRunner"] + [f"{name}={value}" for name, value in given.items() if value]
    if not any(a.split("=", 1)[0] in _SHIPPING_FLAGS for a in args):
        out.append(f"--setup_file={worker_package()}")
    if options.dry_run:
        out.append("--dry_run=True")
    return out + [a for a in args if a not in ("--runner=DataflowRunner", "--runner=dataflow")]


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
    if options.is_dataflow:
        return PipelineOptions(dataflow_args(options))
    if not any(a.startswith("--runner") for a in args):
        workers = options.local_workers
        # first, so that the same Beam flags after '--' win
        args = [f"--direct_num_workers={workers}",
                f"--direct_running_mode={'multi_processing' if workers > 1 else 'in_memory'}",
                "--default_sdk_harness_log_level=ERROR"] + args
    return PipelineOptions(args)


def pipeline_runner(options: RunnerOptions, beam_options):
    """The runner a local job runs on: Beam's FnApiRunner, built as Beam's `DirectRunner` builds it once Prism
    has failed (the pipeline options in its provision info, so workers see the same options). None when the
    runner is named by flags (Dataflow, or `--runner=...` after '--'): Beam then picks it from the options."""
    if options.is_dataflow or _flag_value(list(options.beam_args), "--runner") is not None:
        return None
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(beam_options.get_all_options())
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(
        beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)))
