"""A dataset's schema as its readers see it: shard files per split, the parsing spec, and how each
feature decodes. Built from schema.json, never from the shards (the schema is the source of truth)."""

from __future__ import annotations

from readers.pipeline import DatasetLayout
from schemas import DatasetSchema, feature_spec

# TFRecordDataset's compression_type for each schema.json compression.
COMPRESSION_TYPES = {"none": "", "gzip": "GZIP", "zlib": "ZLIB"}
DETECTION_BOXES = "image/object/bbox"


def dataset_layout(schema: DatasetSchema) -> DatasetLayout:
    """The reader's view of `schema`: what both the runtime reader and a generated module are built on."""
    images = {
        f.name: (f.image.channels, (f.image.height, f.image.width) if f.image.height and f.image.width else None)
        for f in schema.features  # one image per record, or an instance mask per object; other images stay bytes
        if (f.encoding in ("image", "segmentation_mask") and f.shape == ()) or f.encoding == "instance_mask"
    }
    masks = tuple(f.name for f in schema.features if f.encoding == "segmentation_mask" and f.name in images)
    instance_masks = tuple(f.name for f in schema.features if f.encoding == "instance_mask")
    pad_ids = {}
    for f in schema.features:
        if f.encoding == "token_ids" and f.is_variable_length and f.vocabulary is not None:
            pad_id = schema.vocabulary(f.vocabulary).pad_id
            if pad_id is not None:
                pad_ids[f.name] = pad_id
    multi_hot = {
        f.name: schema.vocabulary(f.vocabulary).size
        for f in schema.features
        if f.encoding == "class_id" and f.is_variable_length and f.vocabulary is not None and f.group is None
    }
    objects = tuple(f.name for f in schema.features if f.group == "objects")
    # a detection dataset's boxes, [ymin, xmin, ymax, xmax] per object in one list (prep.images.records)
    boxes = DETECTION_BOXES if objects and DETECTION_BOXES in {f.name for f in schema.features} else None
    # What supervised=True returns beside the label: TFDS's as_supervised gives (image, label) and
    # (text, label); a prep text dataset's model input is its token ids.
    main = [f.name for f in schema.features
            if (f.name in images and f.name not in masks + instance_masks) or f.encoding == "token_ids"]
    return DatasetLayout(
        splits={s.name: tuple((shard.file, shard.num_records) for shard in s.shards) for s in schema.splits},
        compression=COMPRESSION_TYPES[schema.compression],
        feature_spec=feature_spec(schema),
        label_key=schema.label_key,
        images=images,
        pad_ids=pad_ids,
        main_feature=main[0] if len(main) == 1 else None,
        multi_hot=multi_hot,
        boxes=boxes,
        objects=objects,
        masks=masks,
        indexes={s.name: tuple(shard.index for shard in s.shards) for s in schema.splits
                 if s.shards and all(shard.index for shard in s.shards) and schema.compression == "none"},
        version=schema.version,
        instance_masks=instance_masks,
    )
