"""`prep inspect`: what is in a dataset, from its schema, stats.json, rejected.jsonl and a few records."""

from __future__ import annotations

import itertools
import json
from typing import Callable, Iterator

from prep.core.wording import amount, byte_size, plural
from prep.inspection.contact_sheet import read_text
from prep.records import tfrecord_io
from schemas import DatasetSchema, TextSettings, feature_spec, load_schema


def _distribution(name: str, d: dict | None, fmt: Callable[[float], str] = amount) -> str:
    """'  name: min …, mean …, max …' of a stats.json distribution, each value written by `fmt`."""
    if not d or not d.get("count"):
        return f"  {name}: -"
    return f"  {name}: min {fmt(d['min'])}, mean {fmt(d['mean'])}, max {fmt(d['max'])}"


def _pixels(n: float) -> str:
    return f"{amount(n)} px"


def sample_records(root: str, schema: DatasetSchema, count: int) -> list[dict]:
    """The first `count` records of the first non-empty shard, parsed with the schema's spec."""
    import tensorflow as tf

    spec = feature_spec(schema)
    for split in schema.splits:
        for shard in split.shards:
            if shard.num_records == 0:
                continue
            from apache_beam.io.filesystems import FileSystems

            records = list(itertools.islice(
                tfrecord_io.read_records(FileSystems.join(root, shard.file), schema.compression), count))
            if records:
                parsed = tf.io.parse_example(records, spec)
                return [{f.name: parsed[f.name][i] for f in schema.features} for i in range(len(records))]
    return []


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def token_names(root: str, schema: DatasetSchema) -> dict[str, list[str]]:
    """For each token-id feature, its vocabulary as a list indexed by id (reserved ids included)."""
    names = {}
    for f in schema.features:
        if f.encoding == "token_ids" and f.vocabulary:
            vocab = schema.vocabulary(f.vocabulary)
            lines = (read_text(root, vocab.file) or "").split("\n")[:vocab.size]
            reserved = dict(vocab.reserved)
            names[f.name] = [reserved.get(i, f"<{i}>") for i in range(vocab.first_id)] + lines
    return names


def _show_tokens(ids: list[int], vocabulary: list[str], joiner: str) -> str:
    """Token ids shown as the tokens they stand for, e.g. 'the cat [UNK]' (an unknown id shows as <id>)."""
    tokens = [vocabulary[i] if 0 <= i < len(vocabulary) else f"<{i}>" for i in ids]
    return f"{len(ids)} ids {_short(str(ids), 40)} = {_short(joiner.join(tokens))!r}"


def _show_value(schema: DatasetSchema, name: str, value, tokens: dict[str, list[str]] | None = None) -> str:
    feature = schema.feature(name)
    if hasattr(value, "to_list"):
        value = value.to_list()
    elif hasattr(value, "numpy"):
        value = value.numpy()
    if feature.encoding in ("image", "segmentation_mask"):
        return f"<{byte_size(len(value))} of encoded {'mask' if feature.encoding == 'segmentation_mask' else 'image'}>"
    if feature.encoding in ("bytes", "instance_mask"):  # opaque, or a PNG per object: their size
        values = value.tolist() if hasattr(value, "tolist") else value
        values = values if isinstance(values, list) else [values]
        what = ("mask", "encoded masks") if feature.encoding == "instance_mask" else ("value", "bytes")
        return f"<{plural(len(values), what[0])}, {byte_size(sum(len(v) for v in values))} of {what[1]}>"
    if tokens and name in tokens:
        values = value.tolist() if hasattr(value, "tolist") else list(value)
        joiner = "" if schema.text is not None and schema.text.split == "character" else " "
        return _show_tokens(values, tokens[name], joiner)
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
        return repr(text if len(text) <= 60 else text[:57] + "...")
    if hasattr(value, "tolist"):
        value = value.tolist()
    return str(value)


def describe(root: str, samples: int = 3, rejected_lines: int = 5) -> Iterator[str]:
    """Lines of the report `prep inspect` prints."""
    schema = load_schema(root)
    stats = json.loads(read_text(root, "stats.json") or "{}")
    yield f"dataset {schema.name!r} ({schema.kind}), schema format {schema.format_version}, compression {schema.compression}"
    if schema.provenance:
        p = schema.provenance
        yield f"made by {p.tool} {p.version} `{p.command}` from {p.source} at {p.created}"
    yield ""
    yield "splits:"
    for split in schema.splits:
        records = "?" if split.num_records is None else f"{split.num_records:,}"
        yield f"  {split.name:<12} {records:>10} records in {len(split.shards)} shard{'s' if len(split.shards) != 1 else ''}, {byte_size(split.num_bytes)}"
    yield ""
    yield "features:"
    for f in schema.features:
        shape = "variable length" if f.shape is None else f"shape {list(f.shape)}"
        extra = f", {f.image.format} decoding to {plural(f.image.channels, 'channel')}" if f.image else ""
        extra += f", vocabulary {f.vocabulary}" if f.vocabulary else ""
        yield f"  {f.name:<16} {f.dtype:<7} {shape:<16} {f.encoding}{extra}"
    labels, first_id = None, 0
    if schema.label_key:
        label = schema.feature(schema.label_key)
        if label.vocabulary:
            first_id = schema.vocabulary(label.vocabulary).first_id
            text = read_text(root, schema.vocabulary(label.vocabulary).file) or ""
            labels = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    if labels is not None and stats.get("splits"):
        yield ""
        names = [s for s in schema.split_names if s in stats["splits"]]
        splits = [stats["splits"][s] for s in names]
        key = "pixels" if any("pixels" in split for split in splits) else "classes"  # a segmentation dataset's pixels
        yield f"{key + ':':<26}" + "".join(f"{n:>12}" for n in names)  # over the counts: 2 + id 3 + 1 + name 20
        for i, name in enumerate(labels, first_id):
            counts = "".join(f"{split.get(key, {}).get(name, 0):>12,}" for split in splits)
            yield f"  {i:>3} {name:<20}{counts}"
        if key == "pixels":
            ignore = schema.feature(schema.label_key).ignore_value
            yield f"  {ignore:>3} {'(ignored)':<20}" + "".join(f"{split.get('ignored_pixels', 0):>12,}" for split in splits)
    yield from _manifest_stats(schema, stats)
    if "images" in stats:
        im = stats["images"]
        yield ""
        yield "images:"
        yield _distribution("width", im.get("width"), _pixels)
        yield _distribution("height", im.get("height"), _pixels)
        yield _distribution("encoded size", im.get("bytes"), byte_size)
        yield f"  formats: {', '.join(f'{k} {v:,}' for k, v in im.get('formats', {}).items())}; " \
              f"re-encoded: {im.get('reencoded', 0):,}"
    if "text" in stats:
        yield from _text_stats(schema, stats)
    if stats:
        yield ""
        yield f"inputs: {stats.get('inputs', 0):,} = {stats.get('records', 0):,} records + {stats.get('rejected', 0):,} rejected"
        for reason, n in stats.get("rejected_by_reason", {}).items():
            yield f"  {reason}: {n:,}"
        rejected = (read_text(root, "rejected.jsonl") or "").splitlines()
        for line in rejected[:rejected_lines]:
            row = json.loads(line)
            where = f"{row['path']}:{row['line']}" if row.get("line") else row["path"]
            if row.get("manifest") and row["manifest"] != row["path"]:
                where = f"{row['path']} ({row['manifest']}:{row['line']})"
            yield f"    {where}: {row['reason']} ({row['detail']})"
        if len(rejected) > rejected_lines:
            yield f"    ... and {len(rejected) - rejected_lines:,} more in rejected.jsonl"
    if samples:
        records = sample_records(root, schema, samples)
        if records:
            tokens = token_names(root, schema)
            yield ""
            yield f"first {len(records)} records:"
            for record in records:
                yield "  " + ", ".join(f"{k}={_show_value(schema, k, v, tokens)}" for k, v in record.items())


def _manifest_stats(schema: DatasetSchema, stats: dict) -> Iterator[str]:
    """A manifest job's label kind, regression targets per split, and the files no row named."""
    manifest = stats.get("manifest")
    if not manifest:
        return
    yield ""
    yield f"labels from the manifest {manifest['file']} ({manifest['label_kind'].replace('_', '-')})"
    for name, target in (manifest.get("targets") or {}).items():
        per_split = ", ".join(f"{s} mean {t[name]['mean']}" for s in schema.split_names
                              if (t := stats["splits"].get(s, {}).get("targets")) and name in t and t[name]["count"])
        yield f"  target {name}: min {target['min']}, mean {target['mean']}, max {target['max']}" + (
            f" ({per_split})" if per_split else "")
    objects = stats.get("objects")
    if objects:
        per_image = ", ".join(f"{s} mean {d['mean']}, max {d['max']}" for s, d in objects["boxes_per_image"].items() if d)
        yield f"  boxes per image: {per_image}; images without a box: " + ", ".join(
            f"{n:,} {s}" for s, n in objects["images_without_boxes"].items())
        yield _distribution("box side (square root of its area)", objects.get("box_side"), _pixels)
        changed = objects.get("boxes_changed_or_dropped") or {}
        if changed:
            yield "  boxes changed or left out: " + ", ".join(f"{fate} {n:,}" for fate, n in sorted(changed.items()))
    if manifest["unlisted_files"]:
        shown = ", ".join(manifest["unlisted"][:5])
        more = f" and {manifest['unlisted_files'] - 5:,} more (stats.json)" if manifest["unlisted_files"] > 5 else ""
        yield f"  {manifest['unlisted_files']:,} files under SRC that no row names: {shown}{more}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _text_stats(schema: DatasetSchema, stats: dict) -> Iterator[str]:
    """The text section: settings, tokens per document, out-of-vocabulary rates, the vocabulary."""
    text, vocab = stats["text"], stats.get("vocabulary", {})
    yield ""
    yield "text:"
    if schema.text is not None:
        yield f"  {schema.text.described()}"
    yield _distribution("tokens per document", text.get("tokens_per_document"))
    yield f"  tokens: {text.get('tokens', 0):,}, out of vocabulary {_rate(text.get('oov_rate'))}; " \
          f"truncated documents: {text.get('truncated', 0):,}"
    for name, split in stats.get("splits", {}).items():
        if "oov_rate" in split:
            yield f"    {name:<12} {split.get('tokens', 0):>12,} tokens, out of vocabulary {_rate(split['oov_rate'])}"
    if vocab:
        words = (schema.text or TextSettings()).vocabulary_described(vocab.get("size", 0))
        yield f"  vocabulary: {words}, {vocab.get('source', '?')}; " \
              f"used by the records: {vocab.get('used', 0):,} ({_rate(vocab.get('coverage'))})"
        left = vocab.get("left_out")
        if left:
            yield f"    of {vocab.get('distinct_tokens', 0):,} distinct tokens left out: " \
                  f"{left['below_min_count']:,} below --min-count, {left['beyond_max_tokens']:,} beyond --max-tokens, " \
                  f"{left['line_break_tokens']:,} holding a line break"
