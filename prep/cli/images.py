"""`prep images SRC OUT`: flags -> ImageJobOptions -> the Beam job -> a summary."""

from __future__ import annotations

import dataclasses
import functools
import os

import click

from prep.cli.jobs import (
    check_update_flags,
    custom_split_names_flag,
    launch,
    now,
    parse_flag,
    parse_split_flag,
    print_update,
    runner_flags,
    sharding_flags,
    tfds_flag,
)
from prep.images import depth
from prep.images.annotations import VOC_CLASS_MASKS, VOC_CLASSES, VOC_OBJECT_MASKS
from prep.images.imaging import OUTPUT_FORMATS, RESIZE_MODES, ImageOptions
from prep.images.options import ImageJobOptions

VOC_BOXES_SPLIT = "ImageSets/Main/trainval.txt"  # --voc's split file: boxes' (Annotations/)
VOC_MASKS_SPLIT = "ImageSets/Segmentation/trainval.txt"  # and with --masks: SegmentationClass/'s
VOC_MASK_FOLDERS = ("", VOC_CLASS_MASKS, VOC_OBJECT_MASKS)  # --voc --masks [FOLDER]: the class or the objects' masks


def _resize(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        raise ValueError(f"{text!r} is not WIDTHxHEIGHT in pixels (e.g. 224x224)")
    return int(width), int(height)


@click.command(context_settings={"show_default": True})
@click.argument("src")
@click.argument("out")
@click.option("--split", "split_text", metavar="NAME=FRACTION,...",
              help="Assign splits by a stable hash of each file's path, e.g. train=0.8,validation=0.1,test=0.1. "
                   "Without it: SRC/train, SRC/validation, SRC/test folders if present, else all in 'train'.")
@custom_split_names_flag
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
@click.option("--high-bit-depth", type=click.Choice(depth.POLICIES), default="shift",
              help="How 16-bit, 32-bit and float images go to 8 bits: shift keeps the high byte (x >> 8); stretch maps "
                   "each image's own darkest..brightest to 0..255 (10-12-bit microscopy, medical, satellite data).")
@click.option("--max-pixels", type=click.IntRange(min=1), default=ImageOptions.max_pixels,
              help="Reject images whose header claims more pixels (decompression-bomb guard).")
@click.option("--include-hidden", is_flag=True, help="Convert dot-files and OS junk too (default: reject them as hidden).")
@click.option("--dedupe", is_flag=True,
              help="Drop exact copies of an image (kept: the copy in the first split, train, validation, test, then the first by path); each dropped file is in rejected.jsonl.")
@click.option("--dedupe-near", "dedupe_near", is_flag=True,
              help="Drop near copies (the same picture re-encoded, resized or recompressed) that span splits, "
                   "keeping the copies in the group's first split (train, validation, test, then others); each "
                   "dropped file is in rejected.jsonl. Near copies within one split are kept.")
@click.option("--no-duplicate-check", "no_duplicate_check", is_flag=True,
              help="Skip looking for exact and near copies (faster; stats.json then has no duplicates).")
@click.option("--manifest", "manifest_path", metavar="FILE",
              help="Take images and labels from the rows of a CSV, TSV or JSON Lines file instead of class folders "
                   "(columns found by name; a headerless CSV is read as AutoML Vision's [set,]path[,label,...]). "
                   "Paths are relative to FILE's folder or to SRC, absolute, or gs:// URIs, and name files inside SRC "
                   "or FILE's folder (see --allow-outside-src).")
@click.option("--allow-outside-src", is_flag=True,
              help="--manifest, --coco, --voc, --boxes: read the files rows name outside SRC (absolute paths, ../, "
                   "other buckets) too. Without it such a row is rejected as outside_src and its file never opened "
                   "(a --manifest's own folder counts as inside): annotation files from the internet cannot pull "
                   "your other files into a dataset.")
@click.option("--path-field", metavar="NAME", help="--manifest: the column naming each image (default: path, filename, image, id, ...).")
@click.option("--label-field", metavar="NAME", help="--manifest: the column holding the label (default: label, class, category, tags, target).")
@click.option("--split-field", metavar="NAME",
              help="--manifest: the column holding the split, train/validation/test/unassigned in any case (default: split, set).")
@click.option("--multi-label", is_flag=True,
              help="--manifest: several labels per image: a JSON list, or a string cut at --label-separator.")
@click.option("--label-separator", default="|", metavar="SEP", help="--multi-label: what separates the labels in a string.")
@click.option("--target-field", "target_fields", metavar="NAME,...",
              help="--manifest: regression instead of classes: the column(s) holding float targets, comma-separated.")
@click.option("--coco", "coco_file", metavar="FILE.json",
              help="Detection: COCO instances JSON (images, annotations, categories); SRC holds its images.")
@click.option("--voc", is_flag=True, help="Detection: SRC is a Pascal VOC folder (Annotations/, JPEGImages/, ImageSets/).")
@click.option("--voc-split", default=VOC_BOXES_SPLIT, show_default=True, metavar="FILE",
              help=f"--voc: the file listing the image ids to read, relative to SRC ({VOC_MASKS_SPLIT} with --masks).")
@click.option("--boxes", "boxes_file", metavar="FILE.csv",
              help="Detection: a CSV of boxes, one row per box: filename,width,height,class,xmin,ymin,xmax,ymax in pixels.")
@click.option("--masks", "masks_folder", metavar="MASKS", is_flag=False, flag_value="",
              help="Segmentation: the folder of the images' masks. The mask of SRC/a/b.jpg is MASKS/a/b.png (any image "
                   "extension); SRC holds images in any layout (split folders at its top name splits). A mask's values "
                   "are class ids (grey or palette images), or colours with --mask-classes; it follows its image "
                   "through EXIF turns and --resize (nearest neighbour, padding with --ignore-value). After --voc, "
                   "--masks alone reads VOC's SegmentationClass/ masks and classes; --masks SegmentationObject, "
                   "each object's mask beside its box. After --coco, --masks alone keeps each object's mask.")
@click.option("--mask-field", metavar="NAME",
              help="--manifest: the column naming each image's segmentation mask (a path, found as the image's is).")
@click.option("--mask-classes", "mask_classes_file", metavar="FILE",
              help="--masks: the class names, line i naming class id i; or a CSV table with columns name,r,g,b for "
                   "colour-coded masks (CamVid's class_dict.csv), row i naming class id i. A value that is no class's "
                   "is rejected (bad_mask_value). Without it the classes are the values the masks hold.")
@click.option("--ignore-value", type=click.IntRange(0, 255), metavar="N",
              help="--masks: the mask value of pixels of no class, kept as it is and never a class.  [default: 255]")
@click.option("--update", is_flag=True,
              help="Make the next version of the dataset in OUT from SRC as it is now: convert only new and changed "
                   "files, keep the records of unchanged ones, leave out those whose file is gone. Options come from "
                   "the dataset; earlier versions stay readable (prep versions, prep diff).")
@tfds_flag
@runner_flags
def images(src, out, split_text, custom_split_names, labels_file, sharding, resize, resize_mode, image_format, quality,
           channels, high_bit_depth, max_pixels, include_hidden, dedupe, dedupe_near, no_duplicate_check, manifest_path,
           allow_outside_src, path_field, label_field, split_field, multi_label, label_separator, target_fields,
           coco_file, voc, voc_split, boxes_file, masks_folder, mask_field, mask_classes_file, ignore_value, update, runner,
           overwrite):
    """Convert an image folder (SRC/<class>/<images>), or the images a --manifest lists, into sharded
    TFRecords in OUT.

    Beam flags after `--` go to the pipeline as they are.
    """
    from prep.core.vocab_files import read_vocabulary

    if update:
        _update(src, out, runner, overwrite, (("--manifest", manifest_path), ("--coco", coco_file), ("--boxes", boxes_file)))
        return
    if (dedupe or dedupe_near) and no_duplicate_check:
        flag = "--dedupe" if dedupe else "--dedupe-near"
        raise click.UsageError(f"{flag} needs the duplicate check: drop --no-duplicate-check")
    try:
        image_options = ImageOptions(
            resize=parse_flag(_resize, resize, "--resize") if resize else None, resize_mode=resize_mode,
            format=image_format, quality=quality, channels=int(channels), max_pixels=max_pixels,
            high_bit_depth=high_bit_depth,
            fingerprint=not no_duplicate_check)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    labels = None
    if labels_file:
        labels = parse_flag(functools.partial(read_vocabulary, on_launcher=True), labels_file, "--labels")
    manifest = None
    detection = [flag for flag, given in (("--coco", coco_file), ("--voc", voc), ("--boxes", boxes_file), ("--manifest", manifest_path))
                 if given]
    if len(detection) > 1:
        raise click.UsageError(f"{' and '.join(detection)} each say where the labels are: give one")
    if coco_file or voc or boxes_file:
        if voc and masks_folder in VOC_MASK_FOLDERS and voc_split == VOC_BOXES_SPLIT:
            voc_split = VOC_MASKS_SPLIT
        manifest = _annotations(src, coco_file, voc and voc_split, boxes_file, runner.dry_run)
        src, out = (os.path.abspath(p) if "://" not in p else p for p in (src, out))
    elif manifest_path:
        manifest = parse_flag(lambda path: _manifest(path, path_field, label_field, split_field, multi_label,
                                                     label_separator, target_fields, mask_field), manifest_path, "--manifest")
        src, out = (os.path.abspath(p) if "://" not in p else p for p in (src, out))
    elif path_field or label_field or split_field or multi_label or target_fields or mask_field:
        raise click.UsageError("--path-field, --label-field, --split-field, --multi-label, --target-field and --mask-field "
                               "read a --manifest: name one with --manifest FILE")
    masks = None
    if masks_folder is not None or mask_field is not None:
        manifest, masks = _segmentation(manifest, detection, labels, masks_folder, mask_field, mask_classes_file,
                                        ignore_value)
        src, out = (os.path.abspath(p) if "://" not in p else p for p in (src, out))
    elif mask_classes_file is not None or ignore_value is not None:
        raise click.UsageError("--mask-classes and --ignore-value describe the masks of --masks MASKS: name their folder")
    if allow_outside_src:
        if manifest is None:
            raise click.UsageError("--allow-outside-src is for the files the rows of a --manifest, --coco, --voc or "
                                   "--boxes file name: class folders hold their files")
        manifest = dataclasses.replace(manifest, allow_outside_src=True)
    options = ImageJobOptions(
        src=src.rstrip("/") or "/", out=out.rstrip("/") or "/", image=image_options, manifest=manifest,
        sharding=sharding,
        split_fractions=parse_split_flag(split_text, custom_split_names),
        labels=labels, include_hidden=include_hidden, dedupe=dedupe, dedupe_near=dedupe_near, check_duplicates=not no_duplicate_check,
        spill_shuffles=runner.is_local, created=now(), masks=masks)
    _launch(options, runner, overwrite)


def _launch(options: ImageJobOptions, runner, overwrite: bool, update: int | None = None) -> None:
    """Checks SRC and OUT as the options name them, then runs the job (prep.cli.jobs.launch); `update`:
    the version of OUT's dataset an update starts from."""
    from beam_jobs.images import ConvertImageFolder
    from prep.core import preflight
    from prep.jobs import auto_workers

    if options.masks is not None and options.manifest is None:
        preflight.check_mask_folders(options.src, options.out, options.masks.folder, options.split_fractions is not None)
    elif options.manifest is None:
        preflight.check_not_nested(options.src, options.out)
        preflight.check_image_folder(options.src, options.labels, options.split_fractions is not None)
    else:
        preflight.check_manifest_source(options.src, options.out)
    runner = auto_workers.for_input(runner, os.path.join(options.src, "**"), auto_workers.IMAGE_BYTES)
    launch("images", options.src, options.out, lambda p: p | "ConvertImageFolder" >> ConvertImageFolder(options),
           runner, overwrite, update)


def _annotations(src: str, coco_file: str | None, voc_split: str | None, boxes_file: str | None, dry_run: bool):
    """The spec of a detection dataset's annotations; a usage error when the file cannot be read (local
    or gs://: a job over a misspelt annotation file would only reject it whole). A dry run does not read
    a gs:// file: it builds the job offline, with no credentials, as it always did."""
    from prep.core.launcher_reads import check_readable
    from prep.images.manifest import ManifestSpec

    if voc_split:
        path, flag, kind, fmt = src.rstrip("/") + "/" + voc_split, "--voc-split", "voc", "txt"
    elif coco_file:
        path, flag, kind, fmt = coco_file, "--coco", "coco", "json"
    else:
        path, flag, kind, fmt = boxes_file, "--boxes", "boxes", "tsv" if boxes_file.endswith((".tsv", ".tab")) else "csv"
    if not (dry_run and "://" in path):
        parse_flag(check_readable, path, flag)
    return ManifestSpec(os.path.abspath(path) if "://" not in path else path, fmt, annotations=kind)


def _segmentation(manifest, given: list[str], labels, folder: str | None, field: str | None, classes_file: str | None,
                  ignore: int | None):
    """(the manifest, the MaskSpec) of a segmentation job: masks in a folder (`folder`), in a --manifest's
    column (`field`), or VOC's (a bare --masks after --voc, `folder` ""); or COCO's objects with their
    masks (a bare --masks after --coco: no MaskSpec, a detection job); a usage error for any other mix."""
    if labels is not None:
        raise click.UsageError("--labels lists class folders' classes: the classes of masks come from --mask-classes")
    if field is not None:
        if manifest is None or manifest.annotations or folder is not None:
            raise click.UsageError("--mask-field names the masks' column of a --manifest: give it with --manifest FILE, "
                                   "without --masks")
        return manifest, _mask_spec("", classes_file, ignore)
    if manifest is not None and manifest.annotations == "voc" and folder in VOC_MASK_FOLDERS:
        if folder == VOC_OBJECT_MASKS:  # each object's mask beside its box: a detection job
            if classes_file is not None or ignore is not None:
                raise click.UsageError(f"--masks {VOC_OBJECT_MASKS} draws each object's mask of 0 and 1: its classes "
                                       "are VOC's, with no --mask-classes or --ignore-value")
            return dataclasses.replace(manifest, instance_masks=True), None
        return dataclasses.replace(manifest, annotations="voc_segmentation"), _mask_spec("", classes_file, ignore, VOC_CLASSES)
    if folder and manifest is not None:
        raise click.UsageError(f"--masks MASKS pairs the images under SRC with a folder of masks, and {given[0]} lists "
                               "images: name a --manifest's mask column with --mask-field, or give --masks alone after --voc "
                               f"(or --masks {VOC_OBJECT_MASKS} for each object's mask)")
    if folder:
        return None, _mask_spec(folder, classes_file, ignore)
    if manifest is not None and manifest.annotations == "coco":
        if classes_file is not None or ignore is not None:
            raise click.UsageError("--coco --masks draws each object's mask of 0 and 1: its classes are COCO's "
                                   "categories, with no --mask-classes or --ignore-value")
        return dataclasses.replace(manifest, instance_masks=True), None
    raise click.UsageError("--masks needs the folder of the masks (--masks MASKS), unless it follows --voc")


def _mask_spec(folder: str, classes_file: str | None, ignore: int | None, default_classes: tuple[str, ...] = ()):
    """The MaskSpec of masks in `folder` ("" when rows name them): their classes (--mask-classes' names or
    colour table, else `default_classes`) and ignore value; a usage error naming the flag at fault."""
    from prep.core.launcher_reads import read_bytes
    from prep.images.masks import DEFAULT_IGNORE, MaskSpec, read_classes

    classes, colours = default_classes, ()
    if classes_file is not None:
        def parse(path: str):
            try:
                text = read_bytes(path).decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValueError(f"{path} is not UTF-8 text") from None
            return read_classes(text)

        classes, colours = parse_flag(parse, classes_file, "--mask-classes")
    folder = os.path.abspath(folder) if folder and "://" not in folder else folder
    return parse_flag(lambda _: MaskSpec(folder.rstrip("/"), classes, colours, DEFAULT_IGNORE if ignore is None else ignore),
                      folder, "--ignore-value")


def _manifest(path, path_field, label_field, split_field, multi_label, separator, target_fields, mask_field=None):
    """The manifest's spec, from its first record and the flags; a usage error naming what is wrong
    (a manifest the launcher cannot read: prep.core.launcher_reads.UnreadableFile)."""
    from prep.images import manifest as manifests

    targets = tuple(t.strip() for t in target_fields.split(",") if t.strip()) if target_fields else ()
    if target_fields is not None and not targets:
        raise click.BadParameter("name at least one column", param_hint="--target-field")
    if not separator:
        raise click.BadParameter("must not be empty", param_hint="--label-separator")
    if "://" not in path:
        path = os.path.abspath(path)
    try:
        fmt = manifests.manifest_format(path)
        return manifests.describe_manifest(
            path, manifests.first_record(path, fmt), fmt, path_field=path_field, label_field=label_field,
            split_field=split_field, targets=targets, multi_label=multi_label, separator=separator, mask_field=mask_field)
    except manifests.ManifestError as e:
        raise click.UsageError(str(e)) from None


COMMANDS = (images,)  # what prep.cli.main adds to `prep`


def _update(src: str, out: str, runner, overwrite: bool, annotation_flags) -> None:
    """`--update`: the next version of the dataset in OUT (prep.images.update); `annotation_flags`:
    (flag, file) of --manifest, --coco and --boxes, a file to read instead of the one recorded (an
    update may be told which file holds this version's rows or annotations)."""
    from prep.images.update import CannotUpdate, update_options

    check_update_flags(overwrite, {"manifest_path", "coco_file", "boxes_file"})
    given_file = [(flag, path) for flag, path in annotation_flags if path]
    try:
        options = update_options(src.rstrip("/") or "/", out.rstrip("/") or "/", now(), runner.is_local,
                                 given_file[0] if given_file else None)
    except CannotUpdate as e:
        raise click.UsageError(str(e)) from None
    _launch(options, runner, overwrite=False, update=options.update.version - 1)
    if not runner.dry_run:
        print_update(options.out, options.update.version - 1)
