"""The README's examples run: one test per fenced block of README.md and docs/*.md, named after it, on
small inputs the tests make (tests/docs/workspaces.py), run as tests/docs/runner.py says.

A Python block runs as written, with what this file adds around it, in the open: a prelude defining the
names the block takes as given (`model`, `feature_description`, ...), checks after it (a batch is read),
smaller step counts, and the Estimator line, which runs in .venv-tf215 (test_readme_tf215.py).
"""

from __future__ import annotations

import pytest

from tests.docs.blocks import MarkerError, all_blocks, documents
from tests.docs.runner import CHECKS, Session, assert_shows, commands, dry_run
from tests.docs.workspaces import MAKERS

BLOCKS = all_blocks()

NO_KERAS_WARNINGS = """\
import warnings
warnings.filterwarnings("error", category=UserWarning, module="keras")  # a README example warns of nothing
"""
KERAS_MODEL = """\
import keras
from readers import make_input_fn
image = keras.Input((224, 224, 3), name="image")
logits = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(image)))
model = keras.Model({"image": image}, logits)
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
"""
FIT_SUPERVISED = """\
plain = keras.Sequential([keras.Input((224, 224, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
plain.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
plain.fit(train_fn(), steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
"""
ESTIMATOR = """\
import tensorflow as tf

def model_fn(features, labels, mode):
    images = tf.cast(features["image"], tf.float32) / 255
    logits = tf.matmul(tf.reduce_mean(images, [1, 2]), tf.compat.v1.get_variable("w", [3, 3]))
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    step = tf.compat.v1.train.get_global_step()
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=tf.compat.v1.train.AdamOptimizer().minimize(loss, step))

estimator = tf.estimator.Estimator(model_fn, model_dir="estimator_model")
"""
ESTIMATOR_LINE = "estimator.train(train_fn, max_steps=1000)"
FEWER_STEPS = {"steps_per_epoch=100, epochs=10": "steps_per_epoch=2, epochs=1", "max_steps=1000": "max_steps=2"}

INFER_GS = "prep schema infer 'gs://bucket/x/train-*' -o gs://bucket/x --full --label-key label"

# What a Python block takes as given, and what proves it worked, by block name; lines a block runs without.
PYTHON = {
    # schema infer samples its files from the launching machine, a dry run too: it needs the bucket
    # (tests/cli/test_launcher_reads.py: offline, one line at once)
    "bring-your-own-tfrecords": dict(drop=(INFER_GS,)),
    "detection-keras": dict(prelude="import keras\nfrom readers import make_input_fn\n",
                            epilogue="batch = next(iter(train))\nassert set(batch) == {'images', 'bounding_boxes'}\n"),
    "segmentation-keras": dict(prelude="import keras\nfrom readers import make_input_fn\n",
                               epilogue="images, masks = next(iter(train))\n"
                                        "assert images.shape[1:] == (160, 160, 3) and masks.shape[1:] == (160, 160, 1)\n"
                                        "assert set(masks.numpy().ravel()) <= {1, 2, 3}\n"),
    "make-input-fn": dict(prelude=NO_KERAS_WARNINGS + KERAS_MODEL, epilogue=FIT_SUPERVISED, replace=FEWER_STEPS,
                          drop=(ESTIMATOR_LINE,)),  # tf.estimator is TensorFlow <= 2.15: test_readme_tf215.py
    "reader-module": dict(epilogue="images, labels = next(iter(train_fn()))\nassert images['image'].shape[1:3] == (224, 224)\n"),
    "from-feature-description": dict(
        prelude="import glob\nimport tensorflow as tf\n"
                "feature_description = {'image': tf.io.FixedLenFeature([], tf.string),\n"
                "                       'label': tf.io.FixedLenFeature([], tf.int64)}\n"
                "file_paths = sorted(glob.glob('data/old/*.tfrecord'))\n",
        epilogue="import schemas\nassert schemas.load_schema('data/old').label_key == 'label'\n"),
}
# Blocks that fail today for a README bug fixed on another branch (remove the mark once it is merged).
XFAIL: dict[str, str] = {}  # block name -> why it fails for now (strict: it must fail)


def params():
    for block in BLOCKS:
        marks = []
        if block.skip:
            marks.append(pytest.mark.skip(reason=f"{block.where}: {block.skip}"))
        if block.name in XFAIL:
            marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[block.name]))
        yield pytest.param(block, id=f"{block.file}:{block.name}", marks=marks)


@pytest.fixture(scope="session")
def readme(tmp_path_factory) -> Session:
    return Session(tmp_path_factory.mktemp("readme"), BLOCKS)


@pytest.mark.parametrize("block", params())
def test_block_runs_as_the_readme_shows(readme, block):
    readme.ensure(block.name, **PYTHON.get(block.name, {}))  # raises BlockFailed, saying how the block failed
    assert readme.results[block.name] is None


def test_every_block_is_run_or_skipped_with_a_reason():
    names = [b.name for b in BLOCKS]
    unmarked = [f"{b.where} ({b.section})" for b in BLOCKS if not b.marked]
    assert not unmarked, f"blocks with no <!-- test: ... --> marker just before them: {unmarked}"
    assert len(set(names)) == len(names), f"two blocks share a name: {sorted(n for n in names if names.count(n) > 1)}"
    for b in BLOCKS:
        if b.skip:
            continue
        assert b.workspace.partition(":")[0] in MAKERS, f"{b.where}: no workspace {b.workspace!r}"
        assert set(b.needs) <= set(names), f"{b.where}: needs blocks that do not exist: {b.needs}"
        assert not b.check or b.check.partition(":")[0] in CHECKS, f"{b.where}: no check {b.check!r}"
        assert b.lang in ("", "python"), f"{b.where}: the harness runs shell and python blocks, not {b.lang!r}"
    assert set(PYTHON) | set(XFAIL) <= set(names), "the tables above name blocks that no longer exist"


def test_the_documents_are_the_readme_and_docs():
    assert [p.name for p in documents()][0] == "README.md"


@pytest.mark.parametrize("marker", ["skip", "skip ()", "in=images colour", "name=x", "in=images shape=round"])
def test_a_marker_that_says_nothing_clear_is_an_error(tmp_path, marker, monkeypatch):
    from tests.docs import blocks

    monkeypatch.setattr(blocks, "REPO", tmp_path)
    doc = tmp_path / "x.md"
    doc.write_text(f"# x\n<!-- test: {marker} -->\n```\nprep --help\n```\n")
    with pytest.raises(MarkerError):
        blocks.blocks_of(doc)


def test_a_transcript_shows_lines_in_order_with_ellipses():
    [ls] = commands("$ ls out\nindex/  schema.json ... train-00003-of-00004.tfrecord  validation-...  vocab/\n")
    assert ls.argv == ["ls", "out"] and len(ls.expected) == 1
    assert_shows(ls.expected, "index/  schema.json  stats.json  train-00003-of-00004.tfrecord  validation-x  vocab/", "t")
    with pytest.raises(AssertionError):
        assert_shows(ls.expected, "index/  schema.json  vocab/", "t")


def test_a_job_naming_gs_runs_as_a_dry_run_before_beams_own_flags():
    argv = dry_run(["prep", "images", "gs://b/x", "out", "--", "--max_num_workers=5"])
    assert argv[:4] == ["prep", "images", "gs://b/x", "out"] and argv[-2:] == ["--", "--max_num_workers=5"]
    assert "--dry-run" in argv and "--runner" in argv
    assert dry_run(["prep", "reader", "d", "--data-dir", "gs://b/d"]) == ["prep", "reader", "d", "--data-dir", "gs://b/d"]


def test_every_relative_link_names_a_file_that_exists():
    import re

    broken = [f"{doc.name}: {target}" for doc in documents()
              for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8"))
              if not (doc.parent / target).exists()]
    assert not broken, f"links to files that do not exist: {broken}"
