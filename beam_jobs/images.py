"""`prep images`: an image folder (one subfolder per class) to sharded TFRecords, as a Beam pipeline."""

from __future__ import annotations

import functools
import os

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from beam_jobs.commit import Commit
from beam_jobs.duplicates import FindDuplicates
from beam_jobs.matching import MatchInputs
from beam_jobs.sharded_write import WriteShards
from beam_jobs.stats import SummarizeFacts
from prep.core import layout as layouts
from prep.core.failures import CONVERSION_ERROR, unforeseen
from prep.core.splits import DEFAULT_SPLIT
from prep.images import dataset as image_dataset
from prep.images.imaging import ImageRejected, normalise_image
from prep.images.options import ImageJobOptions
from prep.images.records import image_example, pending_image
from prep.jobs.progress import Progress


def read_file(path: str) -> bytes:
    if "://" in path:
        with FileSystems.open(path, compression_type="uncompressed") as f:
            return f.read()
    if not os.path.isfile(path):
        # a FIFO or device would block or never end: it is not an image file
        raise OSError("not a regular file (a FIFO, socket or device)")
    # A local file is read directly: Beam's FileSystems.open looks its file system up among every
    # plugin on each call, a tenth of the per-image cost of a kept JPEG.
    with open(path, "rb") as f:
        return f.read()


def read_source(src: str, relative: str) -> bytes:
    """The bytes of the file at `relative` under SRC (a kept image, read again when its shard is written)."""
    return read_file(layouts.source_path(relative, src))


class _ConvertImage(beam.DoFn):
    """(path, size) -> (split, relative path, PendingImage); rejections and their facts on the side."""

    def __init__(self, options: ImageJobOptions):
        self.options = options
        self.converted = Metrics.counter("prep", "images_converted")
        self.rejected = Metrics.counter("prep", "inputs_rejected")
        self._label_ids: tuple = (None, {})

    def setup(self):
        self.progress = Progress("images")

    def _label_id(self, layout: layouts.Layout, class_name: str) -> int:
        if self._label_ids[0] is not layout:
            self._label_ids = (layout, {c: i for i, c in enumerate(layout.classes)})
        return self._label_ids[1][class_name]

    def _reject(self, relative: str, reason: str, detail: str):
        self.rejected.inc()
        self.progress.add("rejected")
        yield beam.pvalue.TaggedOutput("facts", ("rejected", {"path": relative, "reason": reason, "detail": detail}))

    def process(self, element, layout: layouts.Layout):
        path, _size = element
        yield beam.pvalue.TaggedOutput("facts", image_dataset.INPUT_FACT)  # counted apart from what becomes of it
        relative = layouts.relative_path(path, self.options.src)
        if not self.options.include_hidden and layouts.is_hidden(relative):
            yield from self._reject(relative, "hidden_file", "hidden file or OS junk, skipped (--include-hidden keeps them)")
            return
        where = layouts.locate(relative, layout)
        if where.problem:
            yield from self._reject(relative, where.problem, layouts.PROBLEMS[where.problem])
            return
        try:
            data = read_file(path)
        except (OSError, IOError) as e:
            yield from self._reject(relative, "unreadable", f"cannot read the file: {e}")
            return
        try:
            image = normalise_image(data, self.options.image)
        except ImageRejected as e:
            yield from self._reject(relative, e.reason, e.detail)
            return
        except Exception as e:  # no single input may stop the job: prep.core.failures
            yield from self._reject(relative, CONVERSION_ERROR, unforeseen(e))
            return
        split = where.split or (self.options.split_fractions.assign(relative) if self.options.split_fractions else DEFAULT_SPLIT)
        self.converted.inc()
        self.progress.add("converted")
        yield split, relative, pending_image(
            relative, self._label_id(layout, where.class_name), where.class_name, image, split)


class ConvertImageFolder(beam.PTransform):
    """The whole image job: match, convert, shard, and commit the dataset directory."""

    def __init__(self, options: ImageJobOptions):
        super().__init__()
        self.options = options

    def expand(self, pipeline):
        o = self.options
        files = pipeline | "MatchFiles" >> MatchInputs(o.src)
        detected = (
            files
            | "FolderPairs" >> beam.FlatMap(lambda f: [p] if (p := layouts.folder_pair(layouts.relative_path(f[0], o.src))) else [])
            | "AllPairs" >> beam.combiners.ToSet()
            | "DetectLayout" >> beam.Map(layouts.detect_layout, o.labels)
        )
        layout = beam.pvalue.AsSingleton(detected)
        converted = files | "Convert" >> beam.ParDo(_ConvertImage(o), layout).with_outputs("facts", main="records")
        records, facts = converted.records, [converted.facts]
        if o.check_duplicates:
            copies = records | "FindDuplicates" >> FindDuplicates(o.dedupe, spill_dir=o.spill_dir, dedupe_near=o.dedupe_near)
            records = copies["records"]
            facts.append(copies["facts"])
        facts.append(records | "RecordFacts" >> beam.Map(lambda r: image_dataset.record_fact(r[2])))
        to_record = functools.partial(image_example, read=functools.partial(read_source, o.src))
        return (
            records
            | "WriteShards" >> WriteShards(o.out, o.sharding, to_record, record_size=lambda image: image.record_size,
                                          spill_dir=o.spill_dir)
            | "Commit" >> Commit(
                o.out, o.sharding, functools.partial(image_dataset.finish_images, o), spill_dir=o.spill_dir,
                split_names=beam.pvalue.AsSingleton(
                    detected | "SplitNames" >> beam.Map(lambda layout: image_dataset.split_names(o, layout))),
                layout=layout,
                summary=beam.pvalue.AsSingleton(tuple(facts) | "Summarize" >> SummarizeFacts(image_dataset.add_image_fact)),
            )
        )
