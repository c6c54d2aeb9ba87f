"""What every job command shares: the sharding and runner flags, launching the job, the summary."""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import shlex
import time
from typing import Callable

import click

from prep.core.sharding import parse_size
from prep.jobs.options import ShardingOptions
from prep.jobs.runner import RUNNERS, RunnerOptions, pipeline_options


def now() -> str:
    """The launch time recorded in provenance: UTC, to the second, ISO 8601."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def parse_flag(parser: Callable, text: str, flag: str):
    """`parser(text)`, with its ValueError turned into a usage error naming the flag."""
    try:
        return parser(text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=flag) from None


custom_split_names_flag = click.option(
    "--custom-split-names", is_flag=True,
    help="--split: keep a split name that looks like a misspelt train, validation or test (or val, valid, dev, "
         "eval), e.g. tests. Without it such a name is refused: a reader asking for the usual name finds no split.")


def parse_split_flag(text: str | None, custom_names: bool):
    """--split's SplitFractions (None without it), its names checked for misspellings unless
    --custom-split-names."""
    from prep.core.splits import parse_split_fractions

    if text is None:
        if custom_names:
            raise click.UsageError("--custom-split-names keeps the split names --split gives: pass --split")
        return None
    return parse_flag(functools.partial(parse_split_fractions, custom_names=custom_names), text, "--split")


def sharding_options(num_shards: int | None, shard_size: str | None, compression: str) -> ShardingOptions:
    if num_shards is not None and shard_size is not None:
        raise click.UsageError("give --num-shards or --shard-size, not both")
    if shard_size is None:
        return ShardingOptions(num_shards=num_shards, compression=compression)
    return ShardingOptions(shard_size=parse_flag(parse_size, shard_size, "--shard-size"), compression=compression)


def sharding_flags(command):
    """--num-shards, --shard-size and --compression; the command receives one `sharding` argument."""
    @functools.wraps(command)
    def wrapper(*args, num_shards, shard_size, compression, **kwargs):
        return command(*args, sharding=sharding_options(num_shards, shard_size, compression), **kwargs)

    for flag in reversed([
        click.option("--num-shards", type=click.IntRange(min=1), help="Shards per split."),
        click.option("--shard-size", metavar="SIZE",
                     help="Target bytes of records per shard, e.g. 100MB or 64MiB (default 128MiB)."),
        click.option("--compression", type=click.Choice(["none", "gzip"]), default="none", show_default=True,
                     help="Shard compression (TFDS reads only uncompressed shards)."),
    ]):
        wrapper = flag(wrapper)
    return wrapper


dry_run_flag = click.option("--dry-run", is_flag=True,
                            help="Build the whole pipeline for the runner without running it (writes nothing).")


def runner_flags(command):
    """--runner, Dataflow's settings, --workers, --dry-run, --overwrite and Beam's own flags after `--`;
    the command receives `runner` (a RunnerOptions, checked) and `overwrite`."""
    @functools.wraps(command)
    def wrapper(*args, runner, workers, project, region, temp_location, dry_run, quiet, beam_args, **kwargs):
        options = RunnerOptions(runner=runner, workers=workers, project=project, region=region,
                                temp_location=temp_location, dry_run=dry_run, beam_args=tuple(beam_args), quiet=quiet)
        pipeline_options(options)  # refuses unknown or missing runner flags before anything is written
        return command(*args, runner=options, **kwargs)

    for flag in reversed([
        click.option("--runner", type=click.Choice(RUNNERS), default="direct", show_default=True,
                     help="direct: this machine, every core. dataflow: Google Cloud Dataflow."),
        click.option("--workers", type=click.IntRange(min=1), help="Local worker processes (default: one per core; a small local input runs in this process)."),
        click.option("--project", help="Dataflow: the Google Cloud project."),
        click.option("--region", help="Dataflow: the region, e.g. us-central1."),
        click.option("--temp-location", metavar="GS_PATH", help="Dataflow: a gs:// folder for temporary files."),
        dry_run_flag,
        click.option("--quiet", "-q", is_flag=True,
                     help="Show no progress while the job runs: only the summary at the end, and errors."),
        click.option("--overwrite", is_flag=True, help="Replace the dataset already in OUT."),
        click.argument("beam_args", nargs=-1, type=click.UNPROCESSED),
    ]):
        wrapper = flag(wrapper)
    return wrapper


def tfds_flag(command):
    """--tfds: after the job, write TFDS's metadata beside the shards (as `prep export tfds` does)."""
    @functools.wraps(command)
    def wrapper(*args, tfds, **kwargs):
        result = command(*args, **kwargs)
        if tfds and not kwargs.get("dry_run"):
            from prep.interop.tfds import TfdsError, export_tfds

            out = kwargs["out"].rstrip("/")
            try:
                opened, written = export_tfds(out)
            except TfdsError as e:
                raise click.ClickException(f"the dataset is written, but TFDS cannot read it: {e}") from None
            click.echo(f"wrote TFDS metadata ({', '.join(written)}): tfds.builder_from_directory({opened!r}) loads it")
        return result

    return click.option("--tfds", is_flag=True, help="Also write TFDS metadata (dataset_info.json, features.json) "
                        "so tfds.builder_from_directory loads the dataset.")(wrapper)


class NothingWritten(click.ClickException):
    """A run that wrote no record at all: its dataset is committed (schema.json, stats.json and
    rejected.jsonl say what happened), but a next step must not train on it, so the command fails."""

    exit_code = 1


def check_written(stats: dict, rejected_file: str) -> None:
    """Refuses (NothingWritten, one line) a run whose stats.json counts no record, saying why and where
    the rejections are listed."""
    from prep.core.wording import all_rejected

    if stats["records"]:
        return
    why = all_rejected(stats["inputs"], stats.get("rejected_by_reason") or {})
    raise NothingWritten(f"wrote no record: {why}" + (f": see {rejected_file}" if stats["inputs"] else " in SRC"))


def print_summary(out: str, seconds: float | None = None, noun: str = "") -> None:
    """The end of a run: records per split (train, validation, test first), and rejected inputs by
    reason, from OUT/stats.json; a run that wrote no record fails instead (check_written). `seconds`:
    how long the job took; `noun`: what its inputs are, for its rate (none for an update)."""
    from apache_beam.io.filesystems import FileSystems

    from prep.core.splits import split_rank

    with FileSystems.open(FileSystems.join(out, "stats.json")) as f:
        stats = json.loads(f.read())
    check_written(stats, FileSystems.join(out, "rejected.jsonl"))
    splits = ", ".join(f"{name} {stats['splits'][name]['records']:,}" for name in sorted(stats["splits"], key=split_rank))
    took = "" if seconds is None else elapsed(seconds, stats["inputs"], noun)
    click.echo(f"wrote {stats['records']:,} records ({splits or 'none'}) to {out}{took}")
    print_rejected(stats, FileSystems.join(out, "rejected.jsonl"))
    print_leakage(stats, out)


def print_leakage(stats: dict, out: str) -> None:
    """The summary's lines on copies that span splits (exact, and near for images), if any: those the
    dataset still holds in several splits, and those --dedupe or --dedupe-near resolved."""
    from prep.core.duplicates import leaks
    from prep.core.wording import plural

    found = leaks(stats.get("duplicates") or {})
    flags = {"exact": "--dedupe", "near": "--dedupe-near"}

    def groups(kinds: list[str], count) -> str:
        return " and ".join(f"{plural(count(found[k]), 'group')} of {k} copies" for k in kinds)

    left = [k for k, leak in found.items() if leak.left]
    if left:
        report = f"prep report {shlex.quote(out)} -o report.html"  # a command to paste as it is
        verb = "spans" if len(left) == 1 and found[left[0]].left == 1 else "span"
        click.echo(f"leakage: {groups(left, lambda leak: leak.left)} {verb} splits "
                   f"(drop them with {' or '.join(flags[k] for k in left)}; {report} shows them)")
    dropped = [k for k, leak in found.items() if leak.dropped]
    if dropped:
        kept = {"exact": "--dedupe kept one copy of each exact group",
                "near": "--dedupe-near kept each near group's copies in its first split"}
        click.echo(f"leakage dropped: {groups(dropped, lambda leak: leak.across)} spanned splits; "
                   f"{' and '.join(kept[k] for k in dropped)} (train first); the others are in rejected.jsonl")


def print_rejected(stats: dict, rejected_file: str | None = None) -> None:
    """The summary's lines on rejected inputs: foreseen reasons, then conversion errors on a line of their own."""
    from prep.core.failures import REPORT_HINT, split_reasons

    if not stats["rejected"]:
        return
    foreseen, errors = split_reasons(stats["rejected_by_reason"])
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in foreseen.items())
    where = f": see {rejected_file}" if rejected_file else ""
    click.echo(f"rejected {stats['rejected']:,} of {stats['inputs']:,} inputs ({reasons or 'no foreseen reason'}){where}")
    if errors:
        click.echo(f"conversion_error {errors:,}: {REPORT_HINT}")


def _print_dataflow_page(launched) -> None:
    if launched.console_url:  # on stdout: stderr is the job's log while it runs (prep.jobs.terminal)
        click.echo(f"Dataflow job {launched.job_id}: {launched.console_url}")


def elapsed(seconds: float, done: int = 0, noun: str = "") -> str:
    """` in 28 s, 714 images/s`: what a summary line says of a job that took `seconds` for `done` `noun`."""
    from prep.jobs.display import duration

    rate = f", {done / seconds:,.0f} {noun}/s" if noun and done and seconds > 0 else ""
    return f" in {duration(seconds)}{rate}"


def job_display(name: str, runner: RunnerOptions):
    """The progress display of job `name` (prep.jobs.progress.STAGES) on stdout (stderr is the job's log
    while it runs): live on a terminal, plain lines elsewhere; None with --quiet or a dry run."""
    import sys

    from prep.jobs.display import Display, display_mode
    from prep.jobs.progress import STAGES

    if runner.quiet or runner.dry_run or name not in STAGES:
        return None
    return Display(STAGES[name], sys.stdout, display_mode(sys.stdout))


def run_job(build: Callable, runner: RunnerOptions, name: str = "job") -> bool:
    """Runs the job `build(pipeline)` builds to its end, showing its progress (`job_display`) and
    printing its page on Dataflow as soon as it is submitted. A dry run lists the pipeline's steps
    instead; returns whether the job ran."""
    from prep.jobs.launch import run_pipeline

    launched = run_pipeline(build, runner, on_submitted=_print_dataflow_page, name=name,
                            display=job_display(name, runner))
    if runner.dry_run:
        click.echo(f"built {len(launched.steps)} steps (dry run: nothing ran, nothing was written):")
        for step in launched.steps:
            click.echo(f"  {step}")
        return False
    return True


def launch(name: str, src: str, out: str, build: Callable, runner: RunnerOptions, overwrite: bool,
           update: int | None = None) -> None:
    """Holds and prepares OUT, runs the job `build(pipeline)` builds (see `run_job`), and prints the
    summary. The hold (prep.jobs.hold) is taken before OUT is checked and kept to the end of the job.
    An update adds a version to the dataset in OUT, whose version `update` it starts from: OUT is not
    emptied (the job checks, when it commits, that the dataset is still that version)."""
    from prep.jobs.hold import hold_output
    from prep.jobs.outdir import clear_dead_update, prepare_output

    with contextlib.nullcontext() if runner.dry_run else hold_output(out, f"prep {name} {shlex.quote(src)}"):
        if not runner.dry_run and update is None:
            prepare_output(out, overwrite)
        elif not runner.dry_run:
            clear_dead_update(out, update + 1)
        if not runner.quiet:
            click.echo(f"prep {name}: {src} -> {out} ({runner.description})", err=True)
        started = time.monotonic()
        if run_job(build, runner, name) and not (update is not None and _unchanged(out, update)):
            print_summary(out, time.monotonic() - started, "" if update is not None else _INPUT_NOUNS.get(name, "inputs"))


_INPUT_NOUNS = {"images": "images", "text": "documents"}  # what a job's inputs are, in its rate


def _unchanged(out: str, version: int) -> bool:
    from schemas import load_schema

    return load_schema(out).version == version


# What an update may be told: where and how to run. Everything else it takes from the dataset.
_UPDATE_FLAGS = {"src", "out", "update", "tfds", "runner", "workers", "project", "region", "temp_location", "dry_run",
                 "quiet", "beam_args"}


def check_update_flags(overwrite: bool, allowed: set[str] = frozenset()) -> None:
    """A usage error when `--update` comes with --overwrite or with a flag (beyond where and how to run,
    and `allowed`) that would change how records are made: an update makes them as the first run did."""
    ctx = click.get_current_context()
    if overwrite:
        raise click.UsageError("--update adds to the dataset in OUT and --overwrite replaces it: give one")
    given = [p.opts[0] for p in ctx.command.params if p.name not in _UPDATE_FLAGS | allowed
             and ctx.get_parameter_source(p.name) == click.core.ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"--update makes new records as the dataset's first run made its own, with the "
                               f"options it recorded: drop {given[0]}")


def print_update(out: str, before: int) -> bool:
    """The end of an update: the version it made and what changed since `before`, or that nothing did;
    returns whether it made a version."""
    from prep.inspection.versions import diff
    from schemas import load_schema
    from schemas.versions import load_version

    schema = load_schema(out)
    if schema.version == before:
        click.echo(f"nothing changed: SRC holds what version {before} of {out} was made from; the dataset is as it was")
        return False
    found = diff(out, before, out, schema.version)
    r = found["records"]
    click.echo(f"version {schema.version} of {out}: {r['added']:,} added, {r['replaced']:,} replaced, "
               f"{r['removed']:,} removed, {r['unchanged']:,} unchanged (prep diff {shlex.quote(out)} says how it "
               f"differs from version {before}; make_input_fn(..., version={before}) still reads it)")
    new_classes = _new_classes(out, load_version(out, before), schema)
    if new_classes:
        click.echo(f"new classes, numbered after the dataset's: {', '.join(new_classes)} (a first run numbers "
                   "classes by name, so a fresh conversion would number them differently)")
    return True


def _new_classes(out: str, before, after) -> list[str]:
    """The class names `after` has beyond those of `before` (label ids never change: new ones follow)."""
    from apache_beam.io.filesystems import FileSystems

    from prep.core.vocab_files import read_vocabulary

    labels = [v for v in after.vocabularies if v.kind == "labels"]
    if not labels:
        return []
    old = next((v.size for v in before.vocabularies if v.name == labels[0].name), 0)
    return list(read_vocabulary(FileSystems.join(out, labels[0].file))[old:labels[0].size])
