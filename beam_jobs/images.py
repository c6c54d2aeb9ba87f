"""`prep images`: an image folder (one subfolder per class), or the images a manifest lists with their labels,
to sharded TFRecords, as a Beam pipeline."""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from typing import Callable

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from beam_jobs.batching import spilled_bytes
from beam_jobs.commit import Commit
from beam_jobs.duplicates import FindDuplicates
from beam_jobs.manifest import FindImages, ReadAnnotations, ReadManifest
from beam_jobs.masks import PairMasks
from beam_jobs.matching import MatchInputs
from beam_jobs.progress import ReportTotal
from beam_jobs.sharded_write import WriteShards
from beam_jobs.source_files import image_path, read_file, read_image
from beam_jobs.stats import SummarizeFacts
from beam_jobs.update import CarryShards, Compare, ReadHeld
from prep.core import layout as layouts
from prep.core.failures import CONVERSION_ERROR, unforeseen
from prep.core.splits import DEFAULT_SPLIT
from prep.images import boxes
from prep.images import dataset as image_dataset
from prep.images.fingerprint import fingerprints
from prep.images.imaging import ImageRejected, normalise_image
from prep.images.inventory import HeldImage, inventory_row, stable_stat, started_at
from prep.images.manifest import annotation_key, candidate_keys, join_inside, may_read_outside, outside_detail
from prep.images.masks import MaskRejected, PlacedMask, mask_key, object_indices, object_masks, place_mask
from prep.images.options import ImageJobOptions
from prep.images.records import FIRST_OBJECT_ID, image_example, pending_image
from prep.jobs.progress import CONVERTED, INPUTS, REJECTED, Progress

FINGERPRINT_BATCH = 256  # converted images whose fingerprints are taken at once (prep.images.fingerprint.fingerprints)


class _Convert(beam.DoFn):
    """What converting an image is, wherever its label comes from: read, check, normalise, or reject;
    -> (split, name, PendingImage), rejections and their facts on the side. Fingerprints are taken
    FINGERPRINT_BATCH images at a time: one image's costs more in numpy calls than in arithmetic."""

    def __init__(self, options: ImageJobOptions):
        self.options = options

    def setup(self):
        self.progress = Progress()
        self._started = started_at(self.options.created)

    def start_bundle(self):
        self._unhashed: list = []  # ((split, name, PendingImage), Reduced) awaiting their fingerprints

    def finish_bundle(self):
        for output in self._hashed():
            yield GlobalWindows.windowed_value(output)

    def _hashed(self) -> list:
        """The waiting outputs, with their fingerprints."""
        waiting, self._unhashed = self._unhashed, []
        images = [image for _, image in waiting]
        try:
            found = fingerprints(images)
        except Exception:  # no single input may stop the job: each alone, one that fails without a fingerprint
            found = [_fingerprint_or_none(image) for image in images]
        return [(split, name, dataclasses.replace(pending, fingerprint=value, thumbnail=picture))
                for ((split, name, pending), _), (value, picture) in zip(waiting, found)]

    def _reject(self, name: str, reason: str, detail: str, **where):
        self.progress.add(REJECTED)
        yield beam.pvalue.TaggedOutput("facts", ("rejected", {"path": name, "reason": reason, "detail": detail} | where))

    def _hidden(self, relative: str) -> list:
        """The rejection of a hidden file or OS junk under SRC (none for others, or with --include-hidden)."""
        if self.options.include_hidden or not layouts.is_hidden(relative):
            return []
        return list(self._reject(relative, "hidden_file", "hidden file or OS junk, skipped (--include-hidden keeps them)"))

    def _convert(self, path: str, name: str, split: str | None, label, class_name, objects_of=None, annotation="",
                 stat=(), masks: tuple[str, ...] = (), **where):
        """The image at `path` (named `name` in records) with its label, or its rejection; `where` goes
        into its rejected.jsonl line (a manifest's line). `objects_of(image)`, for a detection image,
        gives (class ids, class names, placed boxes, source id, their masks' PNGs) or a rejection (reason, detail).
        `annotation`: what the label was made from, `stat` the file's (size, modification time) when an
        update may trust them (prep.images.records.PendingImage); `masks`: where a segmentation image's
        mask may be, the first that exists."""
        try:
            data = read_file(path)
        except FileNotFoundError:
            yield from self._reject(name, "missing_file", "no such file", **where)
            return
        except (OSError, IOError) as e:
            yield from self._reject(name, "unreadable", f"cannot read the file: {e}", **where)
            return
        try:
            image = normalise_image(data, self.options.image, defer_fingerprint=True)
        except ImageRejected as e:
            yield from self._reject(name, e.reason, e.detail, **where)
            return
        except Exception as e:  # no single input may stop the job: prep.core.failures
            yield from self._reject(name, CONVERSION_ERROR, unforeseen(e), **where)
            return
        placed_mask = self._mask(masks, image) if masks else None
        if isinstance(placed_mask, tuple):
            yield from self._reject(name, *placed_mask, **where)
            return
        objects, source_id, object_masks = (), "", ()
        if objects_of is not None:
            placed = objects_of(image)
            if isinstance(placed[0], str):
                yield from self._reject(name, *placed, **where)
                return
            label, class_name, objects, source_id, object_masks = placed
        split = split or (self.options.split_fractions.assign(name) if self.options.split_fractions else DEFAULT_SPLIT)
        self.progress.add(CONVERTED)
        output = split, name, pending_image(name, label, class_name, image, split, objects, source_id, data, annotation,
                                            stat, placed_mask, object_masks)
        if image.reduced is None:
            yield output
            return
        self._unhashed.append((output, image.reduced))
        if len(self._unhashed) >= FINGERPRINT_BATCH:
            yield from self._hashed()


    def _mask(self, paths: tuple[str, ...], image) -> PlacedMask | tuple[str, str]:
        """The mask at the first of `paths` that exists, placed on `image`'s pixels; or why not (reason, detail)."""
        return _mask_or_why(lambda: place_mask(_first_file(paths), image, self.options.image, self.options.masks),
                            f"no mask at {' or '.join(paths)}")


def _first_file(paths: tuple[str, ...]) -> bytes:
    """The bytes of the first of `paths` that exists (FileNotFoundError when none does)."""
    for path in paths[:-1]:
        try:
            return read_file(path)
        except FileNotFoundError:
            continue
    return read_file(paths[-1])


def _fingerprint_or_none(image) -> tuple[int, bytes]:
    try:
        return fingerprints([image])[0]
    except Exception:  # an image whose fingerprint fails is only not compared for near copies
        return 0, b""


class _ConvertImage(_Convert):
    """(path, size, modification time) of a file in a class folder -> (split, relative path, PendingImage)."""

    def __init__(self, options: ImageJobOptions):
        super().__init__(options)
        self._label_ids: tuple = (None, {})

    def _label_id(self, layout: layouts.Layout, class_name: str) -> int:
        if self._label_ids[0] is not layout:
            self._label_ids = (layout, {c: i for i, c in enumerate(layout.classes)})
        return self._label_ids[1][class_name]

    def process(self, element, layout: layouts.Layout):
        path, size, mtime = element
        yield beam.pvalue.TaggedOutput("facts", image_dataset.INPUT_FACT)  # counted apart from what becomes of it
        relative = layouts.relative_path(path, self.options.src)
        hidden = self._hidden(relative)
        if hidden:
            yield from hidden
            return
        where = layouts.locate(relative, layout)
        if where.problem:
            yield from self._reject(relative, where.problem, layouts.PROBLEMS[where.problem])
            return
        yield from self._convert(path, relative, where.split, self._label_id(layout, where.class_name), where.class_name,
                                 annotation=where.class_name, stat=stable_stat(size, mtime, self._started))


class _ConvertWithMask(_Convert):
    """((path, size, modification time), the paths of its masks) of an image under SRC -> (split, relative
    path, PendingImage) with its mask (beam_jobs.masks)."""

    def process(self, element, layout: layouts.Layout):
        (path, size, mtime), masks = element
        yield beam.pvalue.TaggedOutput("facts", image_dataset.INPUT_FACT)
        relative = layouts.relative_path(path, self.options.src)
        hidden = self._hidden(relative)
        if hidden:
            yield from hidden
            return
        if not masks:
            stem = mask_key(relative)
            yield from self._reject(relative, "missing_mask", f"no {stem}.png (or {stem} with another image extension) under MASKS")
            return
        if len(masks) > 1:
            names = ", ".join(m.rsplit("/", 1)[-1] for m in masks)
            yield from self._reject(relative, "ambiguous_mask", f"masks {names} all have its name: keep one")
            return
        split = layouts.top_folder(relative) if layout.split_folders else None
        yield from self._convert(path, relative, split, (), (), masks=masks, stat=stable_stat(size, mtime, self._started))


class _ConvertRow(_ConvertImage):
    """(image, manifest row) -> (split, image, PendingImage) labelled as the row says (its inputs were
    counted when the rows were read)."""

    def process(self, element, layout: layouts.Layout):
        name, row = element
        o = self.options
        where = {"line": row.line, "manifest": o.manifest.name}
        path = image_path(o.src, name)
        annotation = annotation_key(row, o.label_kind)
        if o.label_kind == "detection":
            yield from self._convert(path, name, row.split, (), (), lambda image: self._objects(image, row, layout),
                                     annotation, **where)
            return
        if o.label_kind == "segmentation":
            # as a row's image is found (an annotation file's rows: under SRC only)
            keys, outside = candidate_keys(row.mask, o.src, o.src if o.manifest.annotations else o.manifest.folder)
            if outside is not None and not may_read_outside(outside, o.manifest):
                yield from self._reject(name, "outside_src", outside_detail(row.mask, outside, o.manifest), **where)
                return
            masks = tuple(layouts.source_path(key, o.src) for key in keys) + ((outside,) if outside else ())
            yield from self._convert(path, name, row.split, (), (), annotation=annotation, masks=masks, **where)
            return
        if o.label_kind == "regression":
            label, names = row.targets, ()
        else:
            unknown = [n for n in row.labels if n not in layout.classes]
            if unknown:
                yield from self._reject(name, "label_not_in_labels", f"label {unknown[0]!r} is not in --labels", **where)
                return
            ids = sorted(self._label_id(layout, n) for n in row.labels)
            names = tuple(layout.classes[i] for i in ids)
            label, names = (ids[0], names[0]) if o.label_kind == "class" else (tuple(ids), names)
        yield from self._convert(path, name, row.split, label, names, annotation=annotation, **where)

    def _objects(self, image, row, layout: layouts.Layout):
        """A detection image's objects placed on its stored pixels (prep.images.boxes), their fates on the side."""
        o = self.options
        known = [b for b in row.objects if b.label in layout.classes or not b.label]
        unknown = len(row.objects) - len(known)
        placed = boxes.place(known, row.size, image.stored_size, image.orientation, o.image.resize, o.image.resize_mode,
                             (image.width, image.height))
        if placed is None:
            w, h = row.size
            return "size_mismatch", (f"the annotation claims {w}x{h} pixels, the image is {image.stored_size[0]}x"
                                     f"{image.stored_size[1]} (stored) and {image.width}x{image.height} as written")
        objects, fates = placed
        if unknown:
            fates["unknown_class"] = unknown
        self._fates.update(fates)
        ids = tuple(self._label_id(layout, b.label) + FIRST_OBJECT_ID for b in objects)
        masks = ()
        if o.manifest.instance_masks:
            indices = self._object_indices(row, image) if row.mask else None  # VOC's: a PNG of object indices
            if isinstance(indices, tuple):
                return indices
            masks, empty = object_masks(objects, row.size, image, o.image, indices)
            if empty:
                self._fates["empty_mask"] += empty
            objects = [b._replace(segmentation=None) for b in objects]  # drawn: the shuffle carries the PNGs
        return ids, tuple(b.label for b in objects), tuple(objects), row.source_id, masks

    def _object_indices(self, row, image):
        """The object indices of a row's mask file (prep.images.masks.object_indices), the annotation's
        size; or why not (reason, detail). The file is under SRC, whatever the split file's ids say."""
        o = self.options
        path, inside = join_inside(o.src, row.mask)
        if not inside and not o.manifest.allow_outside_src:
            return "outside_src", outside_detail(row.mask, path, o.manifest)
        size = row.size or boxes.upright_size(image.stored_size, image.orientation)
        return _mask_or_why(lambda: object_indices(read_file(path), size, o.image), f"no {row.mask}")

    def start_bundle(self):
        super().start_bundle()
        self._fates: Counter = Counter()  # the bundle's boxes clipped or left out, by fate

    def finish_bundle(self):
        yield from super().finish_bundle()
        if self._fates:
            yield beam.pvalue.TaggedOutput("facts", GlobalWindows.windowed_value((image_dataset.BOX_FATES, dict(self._fates))))


def _mask_or_why(read: Callable, missing: str):
    """What `read()` gives of a mask file; or why it cannot (reason, detail), `missing` when there is no file."""
    try:
        return read()
    except MaskRejected as e:
        return e.reason, e.detail
    except FileNotFoundError:
        return "missing_mask", missing
    except (OSError, IOError) as e:
        return "unreadable_mask", f"cannot read the mask: {e}"
    except Exception as e:  # no single input may stop the job: prep.core.failures
        return CONVERSION_ERROR, unforeseen(e)


def _record(image, read: Callable[[str], bytes], label_kind: str) -> bytes:
    """A written record's bytes: a new image's Example, or a held record's bytes as its shard had them."""
    if isinstance(image, HeldImage):
        return spilled_bytes(image.record)
    return image_example(image, read=read, label_kind=label_kind)


def _inventory_line(image, label_kind: str) -> dict:
    if isinstance(image, HeldImage):
        return image.row
    return inventory_row(image, image_dataset.record_fact(image, label_kind))


class ConvertImageFolder(beam.PTransform):
    """The whole image job: match, convert, shard, and commit the dataset directory. With
    `options.update`, the next version of the dataset in OUT: only what changed is converted
    (beam_jobs.update)."""

    def __init__(self, options: ImageJobOptions):
        super().__init__()
        self.options = options

    def expand(self, pipeline):
        o, update = self.options, self.options.update
        files = pipeline | "MatchFiles" >> MatchInputs(o.src, strict=update is not None)
        facts, copies_held, count = [], None, None
        if o.masks is not None and o.manifest is None:
            paired = files | "PairMasks" >> PairMasks(o)
            detected, inputs, convert = paired["layout"], paired["images"], _ConvertWithMask(o)
            facts.append(paired["facts"])
        elif o.manifest is None:
            detected = (
                files
                | "FolderPairs" >> beam.FlatMap(lambda f: [p] if (p := layouts.folder_pair(layouts.relative_path(f[0], o.src))) else [])
                | "AllPairs" >> beam.combiners.ToSet()
                | "DetectLayout" >> beam.Map(layouts.detect_layout, o.labels, update.classes if update else ())
            )
            inputs, convert = files, _ConvertImage(o)
        else:
            if o.manifest.annotations:
                rows = pipeline | "ReadAnnotations" >> ReadAnnotations(o.manifest, o.src)
                found = (rows["rows"], files) | "FindImages" >> FindImages(o, rows["classes"])
            else:
                rows = pipeline | "ReadManifest" >> ReadManifest(o.manifest)
                found = (rows["rows"], files) | "FindImages" >> FindImages(o)
            detected, inputs, convert = found["layout"], found["images"], _ConvertRow(o)
            facts += [rows["facts"], found["facts"]]
        layout = beam.pvalue.AsSingleton(detected)
        inputs | "Inputs" >> ReportTotal(INPUTS)
        if o.check_duplicates:
            count = files | "CountInputs" >> beam.combiners.Count.Globally()
        if update is not None:
            held = pipeline | "ReadHeld" >> ReadHeld(o.out, update.shards, o.spill_dir)
            compared = (inputs, held) | "Compare" >> Compare(o, layout, update.shards, count)
            inputs, copies_held = compared["convert"], compared["copies"]
            facts.append(compared["facts"])
        converted = inputs | "Convert" >> beam.ParDo(convert, layout).with_outputs("facts", main="records")
        records, dropped = converted.records, None
        facts.append(converted.facts)
        if o.check_duplicates:
            copies = records | "FindDuplicates" >> FindDuplicates(o.dedupe, spill_dir=o.spill_dir, dedupe_near=o.dedupe_near,
                                                                  count=count, held=copies_held)
            records, dropped = copies["records"], copies["dropped"]
            facts.append(copies["facts"])
        facts.append(records | "RecordFacts" >> beam.Map(lambda r: image_dataset.record_fact(r[2], o.label_kind)))
        carried = None
        if update is not None:
            carried = compared["gone"] | "CarryShards" >> CarryShards(o, update.shards, dropped)
            records = (records, carried["records"]) | "ToWrite" >> beam.Flatten()
            facts.append(carried["facts"])
        written = records | "WriteShards" >> WriteShards(
            o.out, o.sharding, functools.partial(_record, read=functools.partial(read_image, o.src), label_kind=o.label_kind),
            record_size=lambda image: image.record_size, spill_dir=o.spill_dir, folder=update.folder if update else "",
            inventory=functools.partial(_inventory_line, label_kind=o.label_kind))
        if carried is not None:
            written = (written, carried["results"]) | "AllShards" >> beam.Flatten()
        return written | "Commit" >> Commit(
            o.out, o.sharding, functools.partial(image_dataset.finish_images, o), spill_dir=o.spill_dir,
            split_names=beam.pvalue.AsSingleton(
                detected | "SplitNames" >> beam.Map(lambda layout: image_dataset.split_names(o, layout))),
            folder=update.folder if update else "", expect=update.expect if update else None, empty_shard={"inventory": b""},
            layout=layout,
            summary=beam.pvalue.AsSingleton(tuple(facts) | "Summarize" >> SummarizeFacts(image_dataset.add_image_fact)),
        )
