"""prep.images.dataset: what an image job concludes from the facts its pipeline gathered."""

from __future__ import annotations

import json

import pytest

from prep.core import duplicates
from prep.core.duplicates import Copy
from prep.core.layout import Layout
from prep.core.statistics import Summary
from prep.images.dataset import INPUT_FACT, add_image_fact, finish_images, record_fact
from prep.images.options import ImageJobOptions
from prep.images.records import PendingImage
from prep.jobs.results import LostInputsError

_LAYOUT = Layout(False, ("cat", "dog"), ())
_SHARD = {"split": "train", "index": 0, "num_shards": 1, "file": "train-00000-of-00001.tfrecord",
          "num_records": 2, "num_bytes": 100}


def _image(path: str) -> PendingImage:
    return PendingImage(path, 0, "cat", "jpeg", 20, 30, 3, 50, b"d" * 16, split="train")


def _summary(facts) -> dict:
    """Facts added to two summaries and merged, as the job's combine does over bundles."""
    halves = [Summary(), Summary()]
    for i, fact in enumerate(facts):
        add_image_fact(halves[i % 2], fact)
    return halves[0].merge(halves[1]).to_dict()


def _facts(inputs: int, records: list[str], rejected: list[str]):
    copies = [Copy(p, "train", b"d" * 16) for p in records]
    return ([INPUT_FACT] * inputs + [record_fact(_image(p)) for p in records]
            + [("rejected", {"path": f"bad{i}.jpg", "reason": reason, "detail": "..."}) for i, reason in enumerate(rejected)]
            + [(duplicates.GROUP_FACT, copies), (duplicates.NEAR_FACT, duplicates.near_found(
                [("cat/a.jpg", "train", "cat/c.jpg", "train", 4), ("cat/a.jpg", "train", "cat/c.jpg", "train", 4)]))])


def test_stats_count_inputs_records_rejections_and_duplicates_from_the_facts():
    summary = _summary(_facts(3, ["cat/a.jpg", "cat/b.jpg"], ["truncated"]))
    schema, files = finish_images(ImageJobOptions("/src", "/out/pets"), [_SHARD], _LAYOUT, summary)
    stats = json.loads(files["stats.json"])
    assert (stats["inputs"], stats["records"], stats["rejected"]) == (3, 2, 1)
    assert stats["duplicates"]["exact"]["groups"] == 1 and stats["duplicates"]["exact"]["extra_copies"] == 1
    assert stats["duplicates"]["near"]["pairs"] == 1, "a pair found in two bands is one pair"
    assert schema.splits[0].num_records == 2
    assert files["rejected.jsonl"] == b'{"detail": "...", "path": "bad0.jpg", "reason": "truncated"}\n'


def test_without_the_duplicate_check_stats_have_no_duplicates():
    summary = _summary(_facts(3, ["cat/a.jpg", "cat/b.jpg"], ["truncated"]))
    options = ImageJobOptions("/src", "/out/pets", check_duplicates=False)
    _, files = finish_images(options, [_SHARD], _LAYOUT, summary)
    assert "duplicates" not in json.loads(files["stats.json"])


def test_a_run_that_lost_an_input_is_refused():
    summary = _summary(_facts(4, ["cat/a.jpg", "cat/b.jpg"], ["truncated"]))
    with pytest.raises(LostInputsError, match="4 inputs but 2 records"):
        finish_images(ImageJobOptions("/src", "/out/pets"), [_SHARD], _LAYOUT, summary)


def test_the_schema_records_the_size_every_image_has_and_none_when_sizes_differ():
    options = ImageJobOptions("/src", "/out/pets")
    same = _summary([INPUT_FACT] * 2 + [record_fact(_image(p)) for p in ("cat/a.jpg", "cat/b.jpg")])
    schema, _ = finish_images(options, [_SHARD], _LAYOUT, same)
    assert (schema.feature("image").image.height, schema.feature("image").image.width) == (20, 30)

    other = PendingImage("cat/b.jpg", 0, "cat", "jpeg", 21, 30, 3, 50, b"e" * 16, split="train")
    mixed = _summary([INPUT_FACT] * 2 + [record_fact(_image("cat/a.jpg")), record_fact(other)])
    schema, _ = finish_images(options, [_SHARD], _LAYOUT, mixed)
    assert (schema.feature("image").image.height, schema.feature("image").image.width) == (None, None)
