"""`prep images --manifest`: the rows of a manifest, each matched with the one image it names.

The rows are read inside the job (a JSON Lines manifest in byte ranges, numbered by NumberLines),
and joined with the files under SRC that the job lists itself: by path relative to the manifest's
folder or to SRC, or by id without extension (prep.images.manifest.candidate_keys). A second join
by image finds the rows that name the same image (kept once when their labels agree, all rejected
when they do not) and the files no row names. A row that names a file outside SRC where it may not
(prep.images.manifest.may_read_outside) is rejected as outside_src before anything opens the file,
and so is a VOC split file's id whose XML lies outside SRC. A row rejected for what it says of its
image (its label, split, targets or boxes) still goes to find the image, so its rejected.jsonl line
names the image as records do, and the image is not counted as unlisted. Every row ends as one image
on its way to a record, or as one rejection.
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.io import fileio

from beam_jobs.vocab import NumberLines
from prep.core import layout as layouts
from prep.core.row_files import Rejection, byte_ranges, open_input
from prep.core.splits import SPLIT_FOLDERS
from prep.images import annotations
from prep.images import dataset as image_dataset
from prep.images import manifest as manifests
from prep.images.options import ImageJobOptions
from prep.text.corpus_survey import range_key


def rejected(rejection: Rejection, image: str | None = None) -> beam.pvalue.TaggedOutput:
    """A row's rejected.jsonl line: its image (or, when the row names none that can be used, the
    manifest) as "path", and the manifest and line."""
    row = rejection.to_dict() | {"manifest": rejection.source}
    return beam.pvalue.TaggedOutput("facts", ("rejected", row | ({"path": image} if image else {})))


def _onward(item):
    """A row, or a rejected row that names its image, goes on to find that image (so rejected.jsonl
    names it, and the file is not unlisted); any other rejection is a fact now."""
    return rejected(item) if isinstance(item, Rejection) and not item.reference else item


def _refused(row, source: str, reason: str, detail: str, image: str) -> beam.pvalue.TaggedOutput:
    """A row left out for its image (`reason`), or, a row rejected before, for its own reason."""
    return rejected(row if isinstance(row, Rejection) else Rejection(source, row.line, reason, detail), image)


class _ReadRows(beam.DoFn):
    """(path, start, end) of the manifest -> its ManifestRows; tagged "facts": one input per row, and
    the rows rejected."""

    def __init__(self, spec: manifests.ManifestSpec):
        self.spec = spec

    def process(self, element, lines: dict[str, int]):
        path, start, end = element
        first_line = lines.get(range_key(path, start), 1) if start else 1
        for item in manifests.manifest_items(self.spec, start, end, first_line):
            yield beam.pvalue.TaggedOutput("facts", image_dataset.INPUT_FACT)
            yield _onward(item)


def _counted(item):
    """A row or rejection of annotations, one input; COCO's (kind, value) pairs on the side."""
    if isinstance(item, tuple) and not isinstance(item, manifests.ManifestRow):
        if item[0] == "fates":
            yield beam.pvalue.TaggedOutput("facts", (image_dataset.BOX_FATES, item[1]))
        else:
            yield beam.pvalue.TaggedOutput("classes", item[1])
        return
    yield beam.pvalue.TaggedOutput("facts", image_dataset.INPUT_FACT)
    yield _onward(item)


def _grouped_boxes(element, spec: manifests.ManifestSpec):
    image, rows = element
    row = annotations.image_of_boxes(image, list(rows))
    return [dataclasses.replace(row, source=spec.name) if isinstance(row, Rejection) else row]


def _voc_xml(element, spec: manifests.ManifestSpec, src: str):
    line, image_id = element
    path, inside = manifests.join_inside(src, f"{annotations.VOC_ANNOTATIONS}/{image_id}.xml")
    if not inside and not spec.allow_outside_src:
        return [Rejection(spec.name, line, "outside_src", manifests.outside_detail(image_id, path, spec))]
    try:
        with open_input(path) as f:
            xml = f.read()
    except FileNotFoundError:
        return [Rejection(spec.name, line, "missing_annotation", f"no {annotations.VOC_ANNOTATIONS}/{image_id}.xml")]
    except (OSError, IOError) as e:
        return [Rejection(spec.name, line, "unreadable", f"cannot read {image_id}.xml: {e}")]
    row = annotations.voc_image(spec.name, line, xml)
    return [annotations.with_voc_object_masks(row, image_id) if spec.instance_masks and not isinstance(row, Rejection) else row]


class ReadAnnotations(beam.PTransform):
    """A detection dataset's annotations as manifest rows, one per image ("rows"), the facts of reading
    them ("facts"), and the class list they declare, if any ("classes": COCO's categories in id order)."""

    def __init__(self, spec: manifests.ManifestSpec, src: str):
        super().__init__()
        self.spec, self.src = spec, src

    def expand(self, pipeline):
        spec = self.spec
        start = pipeline | "Annotations" >> beam.Create([spec])
        if spec.annotations == "coco":
            items = start | "ReadCoco" >> beam.FlatMap(annotations.coco_images)
        elif spec.annotations == "voc_segmentation":
            items = start | "SegmentationIds" >> beam.FlatMap(annotations.voc_segmentation_rows)
        elif spec.annotations == "voc":
            items = (
                start
                | "SplitIds" >> beam.FlatMap(annotations.voc_ids)
                | "Spread" >> beam.Reshuffle()
                | "ReadXml" >> beam.FlatMap(lambda e: [e] if isinstance(e, Rejection) else _voc_xml(e, spec, self.src))
            )
        else:
            rows = start | "BoxRows" >> beam.FlatMap(annotations.box_rows)
            items = (
                (rows | "Malformed" >> beam.Filter(lambda r: isinstance(r, Rejection)),
                 rows
                 | "Boxes" >> beam.Filter(lambda r: not isinstance(r, Rejection))
                 | "ByImage" >> beam.GroupByKey()
                 | "OneRowPerImage" >> beam.FlatMap(_grouped_boxes, spec))
                | "AllItems" >> beam.Flatten()
            )
        read = items | "Count" >> beam.FlatMap(_counted).with_outputs("facts", "classes", main="rows")
        return {"rows": read.rows, "facts": read.facts, "classes": read.classes}


class ReadManifest(beam.PTransform):
    """The manifest's rows ("rows") and the facts of reading them ("facts")."""

    def __init__(self, spec: manifests.ManifestSpec):
        super().__init__()
        self.spec = spec

    def expand(self, pipeline):
        fmt = self.spec.format
        ranges = (
            pipeline
            | "Match" >> fileio.MatchFiles(self.spec.path)
            | "ByteRanges" >> beam.FlatMap(
                lambda m: [(m.path, start, end) for start, end in byte_ranges(m.path, m.size_in_bytes, fmt)])
            | "Spread" >> beam.Reshuffle()
        )
        lines = beam.pvalue.AsSingleton(ranges | "NumberLines" >> NumberLines())
        read = ranges | "Read" >> beam.ParDo(_ReadRows(self.spec), lines).with_outputs("facts", main="rows")
        return {"rows": read.rows, "facts": read.facts}


def _listed(options: ImageJobOptions, path: str) -> list[str]:
    """A file under SRC as its path relative to SRC, unless it is OUT's, the manifest, or hidden."""
    relative = layouts.relative_path(path, options.src)
    out = options.out.rstrip("/") + "/"
    if path.startswith(out) or path == options.manifest.path:
        return []
    if not options.include_hidden and layouts.is_hidden(relative):
        return []
    return [relative]


def _row_keys(row: manifests.ManifestRow | Rejection, options: ImageJobOptions):
    """A row (or a rejected row that names an image) -> the keys of the files under SRC it may name,
    or the file outside SRC it names (or, where it may not name one, its rejection: the file is never
    opened)."""
    spec = options.manifest
    keys, outside = manifests.candidate_keys(row.reference, options.src, spec.folder)
    if outside is not None:
        if manifests.may_read_outside(outside, spec):
            yield beam.pvalue.TaggedOutput("outside", (outside, row))
        else:
            detail = manifests.outside_detail(row.reference, outside, spec)
            yield _refused(row, spec.name, "outside_src", detail, row.reference)
    for priority, key in enumerate(keys):
        yield key, (priority, row)


def _matches(element):
    """(key, {"files", "rows"}) -> (row line, (priority, exact file or None, files by id, row))."""
    key, joined = element
    files = sorted(joined["files"])
    exact = key if key in files else None
    by_id = tuple(f for f in files if f != key)
    for priority, row in joined["rows"]:
        yield row.line, (priority, exact, by_id, row)


def _choose(element, source: str):
    """(row line, its matches) -> (image path relative to SRC, row), or the row rejected (a rejected
    row whose image is not found: for its own reason, naming the image as written)."""
    _, matches = element
    matches = sorted(matches, key=lambda m: m[0])
    row = matches[0][3]
    for _, exact, by_id, _ in matches:
        if exact is not None:
            yield exact, row
            return
        if len(by_id) == 1:
            yield by_id[0], row
            return
        if by_id:
            shown = ", ".join(by_id[:5]) + (f" and {len(by_id) - 5} more" if len(by_id) > 5 else "")
            yield _refused(row, source, "ambiguous_path", f"{row.reference!r} is the id of {shown}: name one file",
                           row.reference)
            return
    yield _refused(row, source, "missing_file", f"no file {row.reference!r} under SRC or the manifest's folder",
                   row.reference)


def _settle(element, source: str):
    """(image, {"files", "rows"}) -> the image with its one row, the rows that name it again rejected,
    or (no row) the file counted as unlisted. Rows rejected before that name it are rejected naming
    it: the file is theirs, not unlisted."""
    name, joined = element
    rows = sorted(joined["rows"], key=lambda r: r.line)
    refused = [r for r in rows if isinstance(r, Rejection)]
    rows = [r for r in rows if not isinstance(r, Rejection)]
    for r in refused:
        yield rejected(r, name)
    if not rows:
        if not refused and manifests.is_image_name(name):
            yield beam.pvalue.TaggedOutput("facts", (image_dataset.UNLISTED, name))
        return
    first = rows[0]
    if all(first.same_labels(r) for r in rows[1:]):
        yield name, first
        for r in rows[1:]:
            yield rejected(Rejection(source, r.line, "duplicate_row", f"line {first.line} names {name} with the same labels"), name)
        return
    lines = ", ".join(str(r.line) for r in rows[:10]) + (" ..." if len(rows) > 10 else "")
    for r in rows:
        yield rejected(Rejection(source, r.line, "conflicting_labels",
                                 f"lines {lines} name {name} with different labels (or splits): fix the manifest"), name)


def _declared_order(layout: layouts.Layout, declared: list, pinned: bool, known: tuple[str, ...] = ()) -> layouts.Layout:
    """The layout with the class list an annotation file declares (COCO's categories), unless --labels pins
    one; an update's `known` classes keep their ids (first), the declared ones new to it follow."""
    if pinned or not declared:
        return layout
    return layouts.Layout(layout.split_folders, layouts.extend_classes(known, declared[0]), layout.splits)


class _LabelsAndSplits(beam.CombineFn):
    """The class names and splits the kept rows use -> their Layout (split_folders: every row names a
    split). An update's `known` classes keep their ids: first, in their order; new ones follow, sorted."""

    def __init__(self, labels: tuple[str, ...] | None, known: tuple[str, ...] = ()):
        self.labels, self.known = labels, known

    def create_accumulator(self):
        return set(), set()

    def add_input(self, acc, row: manifests.ManifestRow):
        acc[0].update(row.labels)
        acc[1].add(row.split)
        return acc

    def merge_accumulators(self, accumulators):
        names, splits = set(), set()
        for n, s in accumulators:
            names |= n
            splits |= s
        return names, splits

    def extract_output(self, acc):
        names, splits = acc
        classes = self.labels if self.labels is not None else layouts.extend_classes(self.known, sorted(names))
        named = tuple(s for s in SPLIT_FOLDERS if s in splits)
        return layouts.Layout(bool(splits) and None not in splits, tuple(classes), named)


class FindImages(beam.PTransform):
    """(the manifest's rows, the files under SRC as (path, size, mtime)) -> {"images": (image, row) one per
    image, "facts": rejections and unlisted files, "layout": the Layout of the classes and splits
    the rows use (one element)}. `image` is a path relative to SRC, or a full path outside it."""

    def __init__(self, options: ImageJobOptions, declared=None):
        super().__init__()
        self.options, self.declared = options, declared

    def expand(self, inputs):
        rows, files = inputs
        o, source = self.options, self.options.manifest.name
        known = o.update.classes if o.update else ()  # an update's classes keep their ids
        listed = files | "UnderSrc" >> beam.FlatMap(lambda f: _listed(o, f[0]))
        keyed = rows | "RowKeys" >> beam.FlatMap(_row_keys, o).with_outputs("outside", "facts", main="keyed")
        found = (
            {"files": listed | "FileKeys" >> beam.FlatMap(lambda r: [(k, r) for k in manifests.file_keys(r)]),
             "rows": keyed.keyed}
            | "JoinKeys" >> beam.CoGroupByKey()
            | "Matches" >> beam.FlatMap(_matches)
            | "ByRow" >> beam.GroupByKey()
            | "Choose" >> beam.FlatMap(_choose, source).with_outputs("facts", main="found")
        )
        named = (found.found, keyed.outside) | "AllNamed" >> beam.Flatten()
        settled = (
            {"files": listed | "ByPath" >> beam.Map(lambda r: (r, None)), "rows": named}
            | "JoinImages" >> beam.CoGroupByKey()
            | "Settle" >> beam.FlatMap(_settle, source).with_outputs("facts", main="images")
        )
        layout = (
            settled.images
            | "Rows" >> beam.Values()
            | "LabelsAndSplits" >> beam.CombineGlobally(_LabelsAndSplits(o.labels, known))
        )
        if self.declared is not None:
            layout = layout | "DeclaredClasses" >> beam.Map(_declared_order, beam.pvalue.AsList(self.declared),
                                                             o.labels is not None, known)
        facts = (keyed.facts, found.facts, settled.facts) | "Facts" >> beam.Flatten()
        return {"images": settled.images, "facts": facts, "layout": layout}
