"""`prep text SRC OUT --update`: the options of the next version of the text dataset in OUT, read from
the dataset itself. An update encodes its new documents exactly as the first run encoded its own, with
the dataset's vocabulary (every id already written stays valid); what every update starts from:
prep.jobs.updates."""

from __future__ import annotations

import dataclasses
import os

from prep.core.preflight import is_local
from prep.core.splits import SplitFractions
from prep.jobs.updates import CannotUpdate, starting_point, tuples
from prep.text.inputs import resolve_inputs
from prep.text.options import TextJobOptions
from prep.text.preflight import is_directory
from schemas import TextSettings


def update_options(src: str, out: str, created: str, spill_shuffles: bool, relearn: bool = False,
                   cut: dict | None = None) -> TextJobOptions:
    """The options of an update of the text dataset in `out` from `src` (`relearn`: with a vocabulary
    learned anew, cut by `cut`'s max_tokens and min_count where given, else as recorded);
    prep.jobs.updates.CannotUpdate when there is no dataset there that an update can grow (or relearn
    the vocabulary of), ValueError when SRC cannot be read as the first run read its SRC."""
    start = starting_point(out, "text")
    recorded = start.recorded
    if relearn and recorded.get("vocab_file"):
        raise CannotUpdate(f"{out}'s vocabulary is the file its first run was given (--vocab "
                           f"{recorded['vocab_file']}), not one it learned: there is nothing to learn anew")
    read = recorded["inputs"]
    src = os.path.abspath(src) if is_local(src) else src
    rows = read["format"] != "folder"  # class folders have no fields: each file is a document, its folder the label
    inputs = resolve_inputs(src, read["format"], read.get("text_field") if rows else None,
                            read.get("label_field") if rows else None, read.get("include_hidden", False),
                            is_directory(src))
    fractions = recorded.get("split_fractions")
    splits = recorded.get("vocabulary_splits")
    return TextJobOptions(
        inputs=inputs, out=os.path.abspath(out) if is_local(out) else out,
        text=dataclasses.replace(TextSettings(**recorded["text"]), **(cut or {})), sharding=start.sharding,
        split_fractions=SplitFractions(tuple(fractions.items())) if fractions else None,
        labels=tuples(recorded.get("labels")), vocab_file=recorded.get("vocab_file"),
        vocabulary_splits=tuple(splits) if splits is not None else None,
        raw_text=recorded.get("raw_text", True), dedupe=recorded.get("dedupe", False),
        spill_shuffles=spill_shuffles, created=created, update=dataclasses.replace(start.update, relearn=relearn),
    )
