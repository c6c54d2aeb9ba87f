"""`prep images SRC OUT --masks MASKS`: each image under SRC with its segmentation mask under MASKS.

SRC's files and MASKS' files are listed inside the job and joined by their path without extension
(prep.images.masks.mask_key): every image leaves with the masks that have its name (none, one, or
several: the converter rejects all but one), and a mask that no image has is counted in stats.json.
When MASKS sits inside SRC, its files are masks, not images.
"""

from __future__ import annotations

import apache_beam as beam

from beam_jobs.matching import MatchInputs
from prep.core import layout as layouts
from prep.images import dataset as image_dataset
from prep.images.manifest import is_image_name
from prep.images.masks import mask_key
from prep.images.options import ImageJobOptions


def _images(file: tuple, options: ImageJobOptions):
    """(key, file) of a file under SRC that is no mask and not OUT's."""
    path = file[0]
    if any(path.startswith(folder.rstrip("/") + "/") for folder in (options.masks.folder, options.out)):
        return []
    return [(mask_key(layouts.relative_path(path, options.src)), file)]


def _masks(file: tuple, folder: str):
    """(key, path) of a file under MASKS, unless it is hidden."""
    relative = layouts.relative_path(file[0], folder)
    return [] if layouts.is_hidden(relative) else [(mask_key(relative), file[0])]


def _paired(element):
    """(key, {"images", "masks"}) -> (file, its masks' paths) for each image; a mask without an image is a fact."""
    _, joined = element
    masks = tuple(sorted(joined["masks"]))
    for file in joined["images"]:
        yield file, masks
    if not joined["images"]:
        for path in masks:
            if is_image_name(path):
                yield beam.pvalue.TaggedOutput("facts", (image_dataset.UNMATCHED_MASK, path))


class PairMasks(beam.PTransform):
    """The files under SRC as (path, size, mtime) -> {"images": (file, masks), "facts": masks no image
    has, "layout": the Layout of SRC's split folders and the masks' classes (one element)}."""

    def __init__(self, options: ImageJobOptions):
        super().__init__()
        self.options = options

    def expand(self, files):
        o = self.options
        masks = files.pipeline | "MatchMasks" >> MatchInputs(o.masks.folder, inputs=False)
        paired = (
            {"images": files | "ImageKeys" >> beam.FlatMap(_images, o),
             "masks": masks | "MaskKeys" >> beam.FlatMap(_masks, o.masks.folder)}
            | "JoinMasks" >> beam.CoGroupByKey()
            | "Pairs" >> beam.FlatMap(_paired).with_outputs("facts", main="images")
        )
        layout = (
            paired.images
            | "TopFolders" >> beam.FlatMap(lambda pair: [] if layouts.is_hidden(relative := layouts.relative_path(pair[0][0], o.src))
                                            else [layouts.top_folder(relative)])
            | "AllTops" >> beam.combiners.ToSet()
            | "Layout" >> beam.Map(layouts.folder_layout, o.masks.classes)
        )
        return {"images": paired.images, "facts": paired.facts, "layout": layout}
