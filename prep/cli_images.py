"""`prep images SRC OUT`: flags -> ImageJobOptions -> the Beam job -> a summary."""

from __future__ import annotations

import json

import click

from prep.cli import cli, now
from prep.imaging import OUTPUT_FORMATS, RESIZE_MODES, ImageOptions
from prep.job_options import ImageJobOptions, ShardingOptions
from prep.runner import RunnerOptions, pipeline_options
from prep.sharding import parse_size
from prep.splits import parse_split_fractions


def _parse(parser, text, param):
    try:
        return parser(text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=param) from None


def _resize(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        raise ValueError(f"{text!r} is not WIDTHxHEIGHT in pixels (e.g. 224x224)")
    return int(width), int(height)


def sharding_options(num_shards: int | None, shard_size: str | None, compression: str) -> ShardingOptions:
    if num_shards is not None and shard_size is not None:
        raise click.UsageError("give --num-shards or --shard-size, not both")
    if shard_size is None:
        return ShardingOptions(num_shards=num_shards, compression=compression)
    return ShardingOptions(shard_size=_parse(parse_size, shard_size, "--shard-size"), compression=compression)


def sharding_flags(command):
    """--num-shards, --shard-size and --compression, shared by every job that writes shards."""
    for flag in reversed([
        click.option("--num-shards", type=click.IntRange(min=1), help="Shards per split."),
        click.option("--shard-size", metavar="SIZE",
                     help="Target bytes of records per shard, e.g. 100MB or 64MiB (default 128MiB)."),
        click.option("--compression", type=click.Choice(["none", "gzip"]), default="none", show_default=True,
                     help="Shard compression (TFDS reads only uncompressed shards)."),
    ]):
        command = flag(command)
    return command


def runner_flags(command):
    """--workers, --overwrite and Beam's own flags after `--`, shared by every job."""
    for flag in reversed([
        click.option("--workers", type=click.IntRange(min=1), help="Local worker processes (default: one per core)."),
        click.option("--overwrite", is_flag=True, help="Replace the dataset already in OUT."),
        click.argument("beam_args", nargs=-1, type=click.UNPROCESSED),
    ]):
        command = flag(command)
    return command


def print_summary(out: str) -> None:
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(FileSystems.join(out, "stats.json")) as f:
        stats = json.loads(f.read())
    splits = ", ".join(f"{name} {s['records']:,}" for name, s in stats["splits"].items())
    click.echo(f"wrote {stats['records']:,} records ({splits or 'none'}) to {out}")
    if stats["rejected"]:
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in stats["rejected_by_reason"].items())
        click.echo(f"rejected {stats['rejected']:,} of {stats['inputs']:,} inputs ({reasons}): "
                   f"see {FileSystems.join(out, 'rejected.jsonl')}")


@cli.command(context_settings={"show_default": True})
@click.argument("src")
@click.argument("out")
@click.option("--split", "split_text", metavar="NAME=FRACTION,...",
              help="Assign splits by a stable hash of each file's path, e.g. train=0.8,validation=0.1,test=0.1. "
                   "Without it: SRC/train, SRC/validation, SRC/test folders if present, else all in 'train'.")
@click.option("--labels", "labels_file", metavar="FILE",
              help="Pin the class list: line i of FILE is label id i. A class folder not in it is an error.")
@sharding_flags
@click.option("--resize", metavar="WxH", help="Resize every image to WIDTHxHEIGHT pixels (re-encodes).")
@click.option("--resize-mode", type=click.Choice(RESIZE_MODES), default="stretch",
              help="stretch to the size, or keep the aspect ratio and pad (letterbox) or centre-crop.")
@click.option("--format", "image_format", type=click.Choice(OUTPUT_FORMATS),
              help="Re-encode every image to this format (default: keep original bytes where TensorFlow reads them).")
@click.option("--quality", type=click.IntRange(1, 95), default=95, help="JPEG quality of re-encoded images.")
@click.option("--channels", type=click.Choice(["1", "3", "4"]), default="3",
              help="Channels every image decodes to: 1 grayscale, 3 RGB, 4 RGBA.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=ImageOptions.max_pixels,
              help="Reject images whose header claims more pixels (decompression-bomb guard).")
@click.option("--include-hidden", is_flag=True, help="Convert dot-files and OS junk too (default: reject them as hidden).")
@runner_flags
def images(src, out, split_text, labels_file, num_shards, shard_size, compression, resize, resize_mode, image_format,
           quality, channels, max_pixels, include_hidden, workers, overwrite, beam_args):
    """Convert an image folder (SRC/<class>/<images>) into sharded TFRecords in OUT.

    Beam flags after `--` go to the pipeline as they are.
    """
    from prep import preflight
    from prep.outdir import prepare_output
    from prep.vocab_files import read_vocabulary

    try:
        image_options = ImageOptions(
            resize=_parse(_resize, resize, "--resize") if resize else None, resize_mode=resize_mode,
            format=image_format, quality=quality, channels=int(channels), max_pixels=max_pixels)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    labels = None
    if labels_file:
        labels = _parse(read_vocabulary, labels_file, "--labels")
    options = ImageJobOptions(
        src=src.rstrip("/") or "/", out=out.rstrip("/") or "/", image=image_options,
        sharding=sharding_options(num_shards, shard_size, compression),
        split_fractions=_parse(parse_split_fractions, split_text, "--split") if split_text else None,
        labels=labels, include_hidden=include_hidden, created=now())
    runner = RunnerOptions(workers=workers, beam_args=tuple(beam_args))
    pipeline_options(runner)  # refuses unknown Beam flags before anything is written
    preflight.check_not_nested(options.src, options.out)
    preflight.check_image_folder(options.src, options.labels, options.split_fractions is not None)
    prepare_output(options.out, overwrite)
    run_images(options, runner)
    print_summary(options.out)


def run_images(options: ImageJobOptions, runner: RunnerOptions) -> None:
    from beam_jobs.images import ConvertImageFolder
    from prep.launch import run_pipeline

    click.echo(f"prep images: {options.src} -> {options.out} ({runner.local_workers} local workers)", err=True)
    run_pipeline(lambda p: p | "ConvertImageFolder" >> ConvertImageFolder(options), runner)
