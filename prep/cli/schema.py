"""`prep schema infer|import|export` and `prep export tfds`: schemas for TFRecords from anywhere, and prep
datasets for TFDS and TFX. Parses flags, runs, reports; the work is in prep/interop/inference/,
prep/interop/tfds.py, prep/interop/tfx.py and beam_jobs/infer.py.
"""

from __future__ import annotations

import click

from prep.cli.jobs import dry_run_flag, now
from prep.jobs.runner import RUNNERS, RunnerOptions
from prep.jobs.terminal import quiet_tensorflow


class InputError(click.ClickException):
    """A problem with the user's files or schema: one line, exit code 2."""

    exit_code = 2


def _user_errors(run):
    """Runs `run()`, turning the interop modules' user errors into one line and exit code 2."""
    from prep.interop.inference.errors import InferenceError
    from prep.interop.tfds import TfdsError
    from prep.interop.tfx import TfxError

    try:
        return run()
    except (InferenceError, TfdsError, TfxError) as e:
        raise InputError(str(e)) from None


def _beam_args(arguments: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """FILES and the Beam flags after `--` (click hands both over as arguments): Beam's start at the
    first argument that is a flag."""
    for i, argument in enumerate(arguments):
        if argument.startswith("-"):
            return arguments[:i], arguments[i:]
    return arguments, ()


def _split_globs(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    from prep.interop.inference.files import parse_split_glob

    try:
        return tuple(parse_split_glob(v) for v in values)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--split") from None


def _label_key(label_key: str | None, no_label: bool) -> str | None:
    if label_key and no_label:
        raise click.UsageError("give --label-key or --no-label, not both")
    return "" if no_label else label_key


def _refuse_existing(out: str, overwrite: bool):
    """Holds OUT to the command's end (prep.jobs.hold), refuses its schema.json unless --overwrite, and
    returns what schema.json is now: the commit replaces only that (beam_jobs.commit)."""
    from apache_beam.io.filesystems import FileSystems

    from prep.jobs.hold import hold_output
    from schemas import SCHEMA_FILE
    from schemas.guarded_write import observe

    context = click.get_current_context()
    context.with_resource(hold_output(out, context.command_path, create=False))
    seen = observe(FileSystems.join(out, SCHEMA_FILE))
    if not overwrite and seen.exists:
        raise InputError(f"{out} already has a {SCHEMA_FILE}: pass --overwrite to replace it "
                         "(only schema.json, vocab/ and rejected.jsonl are rewritten; the data files are not touched)")
    return seen


def spec_source(schema) -> str:
    """The schema's feature spec as Python source, the `feature_description` a user would write."""
    lines = []
    for f in schema.features:
        dtype = f"tf.{f.dtype}"
        if f.shape is None:
            spec = f"tf.io.RaggedFeature({dtype})"
        else:
            default = "" if f.default is None else f", default_value={f.default!r}"
            spec = f"tf.io.FixedLenFeature({list(f.shape)}, {dtype}{default})"
        lines.append(f"    {f.name!r}: {spec},")
    return "feature_description = {\n" + "\n".join(lines) + "\n}"


def _report(schema, out: str, notes, left_out) -> None:
    """The schema for a person: each feature, the label, the splits and counts, what was left out."""
    rows = [("key", "dtype", "shape", "present", "values", "holds")]
    for f in schema.features:
        shape = "variable" if f.shape is None else str(list(f.shape))
        present = "?" if f.presence is None else f"{f.presence:.1%}" if f.presence < 1 else "all"
        values = "?" if f.value_count is None else (
            str(f.value_count[0]) if f.value_count[0] == f.value_count[1] else f"{f.value_count[0]}-{f.value_count[1]}")
        holds = f.encoding
        if f.image is not None:
            size = f", {f.image.width}x{f.image.height}" if f.image.width and f.image.height else ""
            holds += f" ({f.image.format}, {f.image.channels} channels{size})"
        if f.default is not None:
            holds += f", default {f.default!r}"
        rows.append((f.name, f.dtype, shape, present, values, holds))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    if schema.label_key:
        vocab = f", classes in {schema.vocabulary(schema.feature(schema.label_key).vocabulary).file}" \
            if schema.feature(schema.label_key).vocabulary else ""
        click.echo(f"label: {schema.label_key}{vocab}")
    else:
        click.echo("label: none (pass --label-key KEY to name one)")
    for split in schema.splits:
        count = "? records (unknown: sampled)" if split.num_records is None else f"{split.num_records:,} records"
        click.echo(f"split {split.name}: {len(split.shards):,} file{'s' if len(split.shards) != 1 else ''}, {count}")
    click.echo(f"compression: {schema.compression}")
    for relative, _reason, problem in left_out:
        click.echo(f"warning: left out {relative}: {problem}", err=True)
    if left_out:
        from prep.jobs.results import REJECTED_FILE

        click.echo(f"files left out are listed in {out.rstrip('/')}/{REJECTED_FILE}", err=True)
    for note in notes:
        if not note.startswith("left out ") or not any(note.startswith(f"left out {r}:") for r, _, _ in left_out):
            click.echo(f"note: {note}", err=True)
    click.echo(spec_source(schema))
    click.echo(f"wrote {out.rstrip('/')}/schema.json")


def _write(out: str, result, expect) -> None:
    from beam_jobs.infer import write_inference

    write_inference(out, result, expect)
    _report(result.schema, out, result.notes, result.left_out)


@click.group("schema")
def schema_group() -> None:
    """Describe TFRecords prep did not write (infer, import) and export a dataset's schema (TFX, TFDS)."""


@schema_group.command("infer", context_settings={"show_default": True})
@click.argument("arguments", nargs=-1, required=True, metavar="FILES... [-- BEAM_FLAGS...]")
@click.option("-o", "--out", metavar="DIR",
              help="Dataset directory that gets schema.json; it must hold every file (default: the folder they share).")
@click.option("--full", is_flag=True, help="Read every record (a Beam job): exact counts, shapes and class lists.")
@click.option("--label-key", metavar="KEY", help="The label feature (default: a scalar key named label, class, ...).")
@click.option("--no-label", is_flag=True, help="The records have no label.")
@click.option("--split", "split_values", multiple=True, metavar="NAME=GLOB",
              help="Files matching GLOB form split NAME (repeat it); default: from the file names.")
@click.option("--name", help="Dataset name (default: the name of OUT).")
@click.option("--sample-records", type=click.IntRange(min=1), default=100,
              help="Records read from the start of each file in sampled mode.")
@click.option("--ignore-tfds-metadata", is_flag=True, help="Infer from the records even where TFDS metadata is present.")
@click.option("--runner", type=click.Choice(RUNNERS), default="direct",
              help="--full runs on: direct (this machine, every core) or dataflow (Google Cloud Dataflow).")
@click.option("--workers", type=click.IntRange(min=1), help="Local worker processes for --full (default: one per core).")
@click.option("--project", help="Dataflow: the Google Cloud project.")
@click.option("--region", help="Dataflow: the region, e.g. us-central1.")
@click.option("--temp-location", metavar="GS_PATH", help="Dataflow: a gs:// folder for temporary files.")
@dry_run_flag
@click.option("--overwrite", is_flag=True, help="Replace an existing schema.json in OUT.")
def infer(arguments, out, full, label_key, no_label, split_values, name, sample_records, ignore_tfds_metadata,
          runner, workers, project, region, temp_location, dry_run, overwrite):
    """Write a schema.json that describes existing TFRecord FILES (paths, globs or a folder; local or gs://).

    Samples the start of every file (and a few places inside large ones) unless --full reads every
    record. A folder that TFDS prepared (dataset_info.json, features.json) is read from TFDS's metadata.
    """
    import dataclasses

    from prep.interop import inference
    from prep.jobs.runner import pipeline_options

    quiet_tensorflow()
    patterns, beam_args = _beam_args(arguments)
    if not patterns:
        raise click.UsageError("name the TFRecord files (paths, globs or a folder)")
    runner = RunnerOptions(runner=runner, workers=workers, project=project, region=region,
                           temp_location=temp_location, dry_run=dry_run, beam_args=beam_args)
    if (beam_args or runner.is_dataflow or dry_run) and not full:
        raise click.UsageError("--runner dataflow, --dry-run and Beam flags after '--' are for --full only")
    if full:
        pipeline_options(runner)  # refuses unknown Beam flags before anything is read
    label = _label_key(label_key, no_label)
    if len(patterns) == 1 and not ignore_tfds_metadata and _is_tfds_folder(patterns[0]):
        if dry_run:
            click.echo(f"dry run: {patterns[0]} is a TFDS dataset, described by its metadata without a job: "
                       "there is no job to build, and nothing was written")
            return
        _import_tfds(patterns[0], out, name, label, overwrite, command="schema infer")
        if full:
            click.echo("note: TFDS's metadata holds exact counts already: --full read nothing more", err=True)
        return
    options = inference.InferOptions(
        patterns=patterns, out=out, name=name, label_key=label, split_globs=_split_globs(split_values), full=full,
        sample=dataclasses.replace(inference.SampleOptions(), head_records=sample_records), created=now(),
        command="schema infer")

    def run():
        files = inference.locate_files(options.patterns, options.out, options.split_globs)
        expect = None if dry_run else _refuse_existing(files.out, overwrite)
        click.echo(f"prep schema infer: {len(files.entries):,} file{'s' if len(files.entries) != 1 else ''} in {files.out}"
                   f"{' (sampling; --full reads every record)' if not full else ''}", err=True)
        scans = inference.scan_files(files.entries, options.sample)
        result = inference.build_inference(options, files, scans, "sampled")
        if not full:
            _write(files.out, result, expect)
            return
        _run_full(options, files, scans, runner, expect)

    _user_errors(run)


def _run_full(options, files, scans, runner: RunnerOptions, expect) -> None:
    from beam_jobs.infer import InferSchemaFromEveryRecord
    from prep.cli.jobs import run_job
    from schemas import load_schema

    usable = sum(1 for s in scans if s.problem is None)
    click.echo(f"prep schema infer --full: reading every record of {usable:,} files ({runner.description})", err=True)
    job = InferSchemaFromEveryRecord(options, files, scans, expect)
    if not run_job(lambda p: p | "InferSchema" >> job, runner, "schema-infer"):
        return  # a dry run: nothing ran
    schema = load_schema(files.out)
    extra = schema.provenance.options if schema.provenance else {}
    left_out = [(x["file"], x["reason"], x["problem"]) for x in extra.get("left_out", [])]
    _report(schema, files.out, extra.get("notes", []), left_out)


def _is_tfds_folder(pattern: str) -> bool:
    from prep.interop.tfds import has_tfds_metadata

    return not any(c in pattern for c in "*?[") and has_tfds_metadata(pattern.rstrip("/"))


def _import_tfds(directory: str, out: str | None, name: str | None, label_key: str | None, overwrite: bool,
                 command: str) -> None:
    from prep.interop.tfds import import_tfds

    def run():
        target = (out or directory).rstrip("/")
        expect = _refuse_existing(target, overwrite)
        click.echo(f"prep {command}: {directory} is a TFDS dataset: reading its dataset_info.json and features.json",
                   err=True)
        result = import_tfds(directory, target, name=name, label_key=label_key, created=now(), command=command)
        _write(target, result, expect)

    _user_errors(run)


@schema_group.command("import")
@click.argument("source")
@click.argument("patterns", nargs=-1, metavar="[FILES]...")
@click.option("-o", "--out", metavar="DIR", help="Dataset directory that gets schema.json (default: the folder of FILES).")
@click.option("--label-key", metavar="KEY", help="The label feature (default: what SOURCE says).")
@click.option("--split", "split_values", multiple=True, metavar="NAME=GLOB",
              help="Files matching GLOB form split NAME (repeat it); default: from the file names.")
@click.option("--name", help="Dataset name (default: the name of OUT).")
@click.option("--overwrite", is_flag=True, help="Replace an existing schema.json in OUT.")
def import_(source, patterns, out, label_key, split_values, name, overwrite):
    """Write a schema.json for FILES from SOURCE: a TFX schema.pbtxt, or a folder TFDS prepared.

    The records of every file are sampled to check that they parse with SOURCE's features.
    """
    quiet_tensorflow()
    if _is_tfds_folder(source):
        if patterns:
            raise click.UsageError("a TFDS folder lists its own files: give no FILES")
        _import_tfds(source, out, name, label_key, overwrite, command="schema import")
        return
    if not patterns:
        raise click.UsageError(f"name the TFRecord files that {source} describes")
    split_globs = _split_globs(split_values)

    def run():
        from apache_beam.io.filesystems import FileSystems

        from prep.interop import inference
        from prep.interop.tfx import schema_from_tfx

        try:
            with FileSystems.open(source, compression_type="uncompressed") as f:
                text = f.read().decode("utf-8")
        except Exception as e:  # FileSystems wraps every I/O failure in its own types
            raise InputError(f"cannot read {source}: {e}") from None
        described = schema_from_tfx(text, source)
        options = inference.InferOptions(patterns, out=out, name=name, label_key=label_key, split_globs=split_globs,
                                         created=now(), command="schema import")
        files = inference.locate_files(patterns, out, split_globs)
        expect = _refuse_existing(files.out, overwrite)
        scans = inference.scan_files(files.entries, options.sample, keep=16)
        chosen = described.label_key if label_key is None else (label_key or None)
        result = inference.describe_files(
            options, files, scans, described.features, label_key=chosen, vocabularies=described.vocabularies,
            vocab_files=described.vocabulary_files, text=described.text, notes=described.notes, mode="tfx")
        _write(files.out, result, expect)

    _user_errors(run)


@schema_group.command("export")
@click.argument("dataset")
@click.option("--tfx", "tfx_path", metavar="FILE", help="Write the TFX schema (schema.pbtxt, text format) to FILE.")
@click.option("--tfds", is_flag=True, help="Write TFDS's dataset_info.json and features.json into DATASET.")
def export_schema(dataset, tfx_path, tfds):
    """Export the schema of a dataset: a TFX / TFDV schema.pbtxt, and/or TFDS metadata."""
    quiet_tensorflow()
    if not tfx_path and not tfds:
        raise click.UsageError("say what to export: --tfx FILE and/or --tfds")
    dataset = dataset.rstrip("/")
    if tfx_path:
        from prep.interop.tfx import export_tfx

        click.echo(f"wrote {_user_errors(lambda: export_tfx(dataset, tfx_path))}")
    if tfds:
        _export_tfds(dataset)


@click.group("export")
def export_group() -> None:
    """Make a dataset readable by other tools."""


@export_group.command("tfds")
@click.argument("dataset")
def export_tfds_command(dataset):
    """Write dataset_info.json and features.json into DATASET, so that TFDS opens it:
    tfds.builder_from_directory(DATASET).as_dataset(split=...). TFDS reads uncompressed shards only.
    """
    quiet_tensorflow()
    _export_tfds(dataset.rstrip("/"))


def _export_tfds(dataset: str) -> None:
    from prep.interop.tfds import export_tfds

    opened, written = _user_errors(lambda: export_tfds(dataset))
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"open it with: tfds.builder_from_directory({opened!r}).as_dataset(split=...)")


COMMANDS = (schema_group, export_group,)  # what prep.cli.main adds to `prep`
