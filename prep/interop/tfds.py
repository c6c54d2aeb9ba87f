"""TensorFlow Datasets metadata: export a prep dataset so TFDS opens it, and import a TFDS-prepared folder.

Export writes `dataset_info.json` and `features.json` beside the shards with TFDS's own
`tfds.folder_dataset.write_metadata`, so `tfds.builder_from_directory(DIR).as_dataset(split=...)` yields
decoded images and named labels (DESIGN.md, "Inside a record"). The split sizes come from schema.json;
TFDS reads uncompressed shards only, named `{SPLIT}-{SHARD_X_OF_Y}.tfrecord`: a dataset that grew
(prep images --update) is opened from tfds/v<N>/, where the version's shards are linked under those names.

Import reads a TFDS folder's metadata with `tfds.builder_from_directory(DIR).info` instead of guessing:
Image features become image features with their shape, ClassLabel names a vocabulary file, Text text,
and every other feature what TFDS serialises it as. Both need the `interop` extra (tensorflow-datasets).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from prep.core.versions import tfds_folder_name
from prep.interop.inference.assembly import Inference, split_order
from prep.interop.inference.errors import InferenceError
from prep.interop.inference.files import relative_to
from prep.interop.inference.rules import LABELS_VOCABULARY, propose_label_key
from prep.jobs.results import LABELS_FILE
from schemas import DatasetSchema, Feature, ImageInfo, Provenance, Shard, Split, Vocabulary, load_schema

TFDS_FILES = ("dataset_info.json", "features.json")
FILENAME_TEMPLATE = "{SPLIT}-{SHARD_X_OF_Y}.{FILEFORMAT}"


class TfdsError(ValueError):
    """A dataset TFDS cannot read as it is, or TFDS metadata prep cannot describe; says what to do."""


def _tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise TfdsError("tensorflow-datasets is not installed: pip install 'tfrecord-prep[interop]'") from None
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)  # TFDS logs every step at INFO and WARNING
    return tfds


def has_tfds_metadata(directory: str) -> bool:
    """True when `directory` holds TFDS's dataset_info.json and features.json."""
    from apache_beam.io.filesystems import FileSystems

    return all(FileSystems.exists(FileSystems.join(directory, name)) for name in TFDS_FILES)


# ---- export --------------------------------------------------------------------------------------------


def _check_exportable(schema: DatasetSchema) -> None:
    if schema.compression != "none":
        raise TfdsError(
            f"this dataset's shards are {schema.compression}-compressed and TFDS reads uncompressed shards only: "
            "write the dataset again with --compression none to open it with TFDS")


def _tfds_names(schema: DatasetSchema) -> dict[str, str]:
    """Each shard's name under TFDS's template ({SPLIT}-{SHARD_X_OF_Y}.tfrecord, in the split's order)."""
    return {shard.file: f"{split.name}-{i:05d}-of-{len(split.shards):05d}.tfrecord"
            for split in schema.splits for i, shard in enumerate(split.shards)}


def tfds_folder(dataset_dir: str, schema: DatasetSchema) -> str:
    """The folder TFDS opens the dataset from: its own, when its shards are named as TFDS names them (a
    dataset written once); else (a dataset that grew: prep images --update) tfds/v<N>/, where
    `_link_shards` gives the version's shards TFDS's names."""
    from apache_beam.io.filesystems import FileSystems

    if all(file == name for file, name in _tfds_names(schema).items()):
        return dataset_dir
    return FileSystems.join(dataset_dir, tfds_folder_name(schema.version))


def _link_shards(dataset_dir: str, schema: DatasetSchema, folder: str) -> None:
    """Gives each shard of the version its TFDS name in `folder`: a hard link on a local disk (no byte
    is copied), a copy elsewhere (gs:// has no links)."""
    import os

    from apache_beam.io.filesystems import FileSystems

    for file, name in _tfds_names(schema).items():
        source, target = FileSystems.join(dataset_dir, file), FileSystems.join(folder, name)
        if "://" in dataset_dir:
            FileSystems.copy([source], [target])
            continue
        os.makedirs(folder, exist_ok=True)
        if os.path.exists(target):
            os.remove(target)
        os.link(source, target)


def tfds_feature(feature: Feature, labels: tuple[str, ...] | None) -> Any:
    """The TFDS FeatureConnector that reads `feature` as prep wrote it (same key, same serialised form)."""
    import numpy as np

    tfds = _tfds()
    doc = feature.description or None
    dtype = {"int64": np.int64, "float32": np.float32, "string": np.object_}[feature.dtype]
    if feature.default is not None:
        # TFDS fills absent optional keys with its own default (the dtype's minimum, b""), not the schema's.
        return tfds.features.Tensor(shape=feature.shape, dtype=dtype, optional=True, doc=doc)
    if feature.encoding in ("image", "segmentation_mask", "instance_mask") and feature.shape == () and feature.image is not None:
        # a mask as TFDS's segmentation datasets hold theirs (oxford_iiit_pet's segmentation_mask): a one-channel
        # PNG; an object's mask likewise, in the objects' Sequence
        image = feature.image
        return tfds.features.Image(shape=(image.height, image.width, image.channels),
                                   encoding_format=image.format if image.format in ("jpeg", "png") else None, doc=doc)
    if feature.encoding == "class_id" and feature.shape == () and labels is not None:
        return tfds.features.ClassLabel(names=labels, doc=doc)
    if feature.encoding == "class_id" and feature.shape is None and labels is not None:  # multi-label
        return tfds.features.Sequence(tfds.features.ClassLabel(names=labels), doc=doc)
    if feature.encoding == "text" and feature.shape == ():
        return tfds.features.Text(doc=doc)
    return tfds.features.Tensor(shape=(None,) if feature.shape is None else feature.shape, dtype=dtype, doc=doc)


OBJECTS = "image/object"  # a detection dataset's per-object features sit under it


def tfds_features(schema: DatasetSchema, label_names: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The FeatureConnectors of every feature; a detection dataset's objects as one Sequence of
    {bbox: BBoxFeature, class/label: ClassLabel, ...} under image/object, which reads the same keys."""
    import dataclasses

    tfds = _tfds()
    grouped = [f for f in schema.features if f.group == "objects"]
    features = {f.name: tfds_feature(f, label_names.get(f.name)) for f in schema.features
                if f.group is None and not (grouped and f.name == f"{OBJECTS}/bbox")}
    if grouped:
        objects = {"bbox": tfds.features.BBoxFeature()}
        for f in grouped:
            short = f.name[len(OBJECTS) + 1:]
            if not short.startswith("bbox/"):
                objects[short] = tfds_feature(dataclasses.replace(f, shape=()), label_names.get(f.name))
        features[OBJECTS] = tfds.features.Sequence(objects)
    return features


def _supervised_keys(schema: DatasetSchema) -> tuple[str, str] | None:
    if schema.label_key is None or schema.feature(schema.label_key).group is not None:
        return None  # a detection dataset's label is one of several per-object features
    inputs = [f.name for f in schema.features if f.encoding == "image"] or [
        f.name for f in schema.features if f.name == "text" and f.encoding == "text"]
    return (inputs[0], schema.label_key) if len(inputs) == 1 else None


def export_tfds(dataset_dir: str) -> tuple[str, list[str]]:
    """Writes dataset_info.json and features.json (and TFDS's `<label>.labels.txt`) for the prep dataset
    in `dataset_dir`, then reads its first record back through TFDS; returns the folder TFDS opens
    (`tfds_folder`: a dataset that grew gets one per version, its shards linked there under TFDS's
    names) and the files written.

    Raises TfdsError when TFDS cannot read the dataset (compressed shards).
    """
    from apache_beam.io.filesystems import FileSystems

    from prep.core.vocab_files import read_vocabulary

    schema = load_schema(dataset_dir)
    _check_exportable(schema)
    tfds = _tfds()
    opened = tfds_folder(dataset_dir, schema)
    if opened != dataset_dir:
        _link_shards(dataset_dir, schema, opened)
    label_names: dict[str, tuple[str, ...]] = {}
    for f in schema.features:
        if f.encoding == "class_id" and f.vocabulary is not None:
            vocab = schema.vocabulary(f.vocabulary)
            if vocab.kind == "labels" and vocab.first_id == len(vocab.reserved):  # ids below first_id: reserved names
                reserved = tuple(name for _, name in sorted(vocab.reserved))
                label_names[f.name] = reserved + tuple(read_vocabulary(FileSystems.join(dataset_dir, vocab.file)))
    features = tfds.features.FeaturesDict(tfds_features(schema, label_names))
    split_infos = None  # unknown counts: TFDS counts the records itself
    if schema.num_records is not None:
        from etils import epath
        from tensorflow_datasets.core import naming

        template = naming.ShardedFileTemplate(data_dir=epath.Path(opened), template=FILENAME_TEMPLATE,
                                              filetype_suffix="tfrecord")
        split_infos = [tfds.core.SplitInfo(name=s.name, shard_lengths=[sh.num_records for sh in s.shards],
                                           num_bytes=s.num_bytes or 0, filename_template=template.replace(split=s.name))
                       for s in schema.splits]
    description = f"{schema.name}: a dataset written by prep"
    if schema.provenance is not None:
        description += f" ({schema.provenance.command} from {schema.provenance.source}, {schema.provenance.created})"
    try:
        tfds.folder_dataset.write_metadata(
            data_dir=opened, features=features, split_infos=split_infos, filename_template=FILENAME_TEMPLATE,
            check_data=True, description=description, supervised_keys=_supervised_keys(schema))
    except (ValueError, TypeError) as e:
        raise TfdsError(f"TFDS refused the dataset in {dataset_dir}: {e}") from None
    written = list(TFDS_FILES) + [f"{name}.labels.txt" for name in label_names]
    return opened, [FileSystems.join(opened, name) for name in written]


# ---- import --------------------------------------------------------------------------------------------


def _dtype(tensor_info) -> str | None:
    import numpy as np

    dtype = np.dtype(tensor_info.np_dtype)
    if dtype.kind in "iub":
        return "int64"
    if dtype.kind == "f":
        return "float32"
    if dtype.kind in "OSU":
        return "string"
    return None


def _plain(value: Any) -> Any:
    """A TFDS default value (numpy) as JSON values of the schema."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _tensor_features(name: str, connector, doc: str, notes: list[str]) -> list[Feature]:
    """The features of a TFDS connector stored as plain tensors: one per serialised key (nested keys
    joined with '/', as TFDS does)."""
    from tensorflow_datasets.core import utils

    info = connector.get_serialized_info()
    flat = {name: info} if not isinstance(info, dict) else {f"{name}/{k}": v for k, v in utils.flatten_nest_dict(info).items()}
    features = []
    for key, tensor in flat.items():
        dtype = _dtype(tensor)
        shape = tuple(tensor.shape)
        if dtype is None or tensor.sequence_rank > 1 or shape.count(None) > 1:
            notes.append(f"left out {key!r}: TFDS stores it as {tensor} ({type(connector).__name__}), "
                         "which is not one flat tf.io feature")
            continue
        described = doc
        if None in shape:
            described = "; ".join(filter(None, [doc, f"TFDS {type(connector).__name__} of shape "
                                                     f"{tuple(-1 if d is None else d for d in shape)}: flat values"]))
        default = _plain(tensor.default_value) if getattr(tensor, "optional", False) and None not in shape else None
        features.append(Feature(key, dtype, None if None in shape else shape,
                                "bytes" if dtype == "string" else "number", described, default=default))
    return features


def _image_format(directory: str, split, key: str) -> str:
    """The format of the first image of a split (TFDS stores what it was given unless told a format)."""
    from prep.images.imaging import sniff_format
    from prep.interop.inference.record_parser import parse_record
    from prep.records import tfrecord_io

    for filename, count in zip(split.filenames, split.shard_lengths):
        if count:
            from apache_beam.io.filesystems import FileSystems

            record = next(tfrecord_io.read_records(FileSystems.join(directory, filename), "none"))
            values = parse_record(record)[key].bytes_list.value
            return (sniff_format(values[0][:16]) if values else None) or "mixed"
    return "mixed"


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key)


def import_tfds(directory: str, out: str | None = None, *, name: str | None = None, label_key: str | None = None,
                created: str = "", command: str = "schema import") -> Inference:
    """The schema of a TFDS-prepared folder, read from its dataset_info.json and features.json.

    Counts come from TFDS's split info (exact). `out` (default: `directory`) must hold the shards.
    Raises TfdsError for metadata prep cannot use.
    """
    import numpy as np
    from apache_beam.io.filesystems import FileSystems

    from prep.core.vocab_files import vocabulary_bytes

    tfds = _tfds()
    directory = directory.rstrip("/")
    out = (out or directory).rstrip("/")
    try:
        info = tfds.builder_from_directory(directory).info
    except Exception as e:  # TFDS raises many types for unreadable metadata
        raise TfdsError(f"{directory}: TFDS cannot read its metadata ({e})") from None
    if info.file_format is not None and info.file_format.value != "tfrecord":
        raise TfdsError(f"{directory}: its shards are {info.file_format.value} files; prep reads TFRecord only")
    notes: list[str] = []
    features: list[Feature] = []
    names: dict[str, tuple[str, ...]] = {}
    first_split = next(iter(info.splits.values()), None)
    for key, connector in sorted(info.features.items()):
        doc = getattr(getattr(connector, "doc", None), "desc", "") or ""
        if isinstance(connector, tfds.features.Image) and str(np.dtype(connector.np_dtype)) == "uint8":
            height, width, channels = connector.shape
            fmt = connector.encoding_format or (_image_format(directory, first_split, key) if first_split else "mixed")
            features.append(Feature(key, "string", (), "image", doc or "encoded image (TFDS Image)",
                                    image=ImageInfo(fmt, channels if channels in (1, 3, 4) else 3, height, width)))
        elif isinstance(connector, tfds.features.ClassLabel):
            features.append(Feature(key, "int64", (), "class_id", doc or "class id (TFDS ClassLabel)"))
            names[key] = tuple(connector.names)
        elif isinstance(connector, tfds.features.Text) and getattr(connector, "encoder", None) is None:
            features.append(Feature(key, "string", (), "text", doc))
        else:
            features.extend(_tensor_features(key, connector, doc, notes))
            continue
        serialized = connector.get_serialized_info()
        if getattr(serialized, "optional", False):  # TFDS writes nothing for None: parse with its default
            features[-1] = Feature(**{**vars(features[-1]), "default": _plain(serialized.default_value)})
    if not features:
        raise TfdsError(f"{directory}: no feature of its TFDS metadata can be described as a tf.io feature")
    supervised = info.supervised_keys
    if label_key is None and isinstance(supervised, tuple) and len(supervised) == 2 and isinstance(supervised[1], str) \
            and any(f.name == supervised[1] for f in features):
        label_key = supervised[1]
    try:
        label_key = propose_label_key(features, label_key)
    except InferenceError as e:
        raise TfdsError(str(e)) from None
    vocabularies, files = [], {}
    for i, f in enumerate(features):
        labels = names.get(f.name)
        if not labels or any(not n or "\n" in n or "\r" in n for n in labels) or len(set(labels)) != len(labels):
            continue
        vocab_name, vocab_file = ((LABELS_VOCABULARY, LABELS_FILE) if f.name == label_key
                                  else (_safe_name(f.name), f"vocab/{_safe_name(f.name)}.txt"))
        vocabularies.append(Vocabulary(vocab_name, vocab_file, "labels", len(labels)))
        files[vocab_file] = vocabulary_bytes(labels)
        features[i] = Feature(**{**vars(f), "vocabulary": vocab_name})
    sizes = {m.path: m.size_in_bytes for m in FileSystems.match([FileSystems.join(directory, "*")])[0].metadata_list}
    splits = []
    for split_name, split in sorted(info.splits.items(), key=lambda item: split_order(item[0])):
        shards = []
        for filename, count in zip(split.filenames, split.shard_lengths):
            path = FileSystems.join(directory, filename)
            relative = relative_to(path, out)
            if relative is None:
                raise TfdsError(f"{path} is not inside {out}: schema.json lists shards relative to its own folder")
            shards.append(Shard(relative, int(count), sizes.get(path)))
        splits.append(Split(split_name, tuple(shards), int(sum(split.shard_lengths))))
    schema = DatasetSchema(
        name=name or info.name or posixpath.basename(out) or "dataset",
        kind="records",
        features=tuple(features),
        splits=tuple(splits),
        compression="none",
        label_key=label_key,
        vocabularies=tuple(vocabularies),
        provenance=Provenance("prep", _version(), created, directory, command,
                              {"mode": "tfds", "tfds_version": str(info.version), "notes": notes}),
    )
    return Inference(schema, files, (), tuple(notes))


def _version() -> str:
    import prep

    return prep.__version__
