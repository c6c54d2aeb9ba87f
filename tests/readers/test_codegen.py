"""readers.codegen and `prep reader`: the generated module gives the runtime reader's batches, imports
only TensorFlow, reads as the golden file shows, and stays inert whatever names a hostile schema holds."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

tf = pytest.importorskip("tensorflow")

from readers import codegen, make_input_fn  # noqa: E402
from schemas import DatasetSchema, Feature, ImageInfo, Shard, Split, Vocabulary, feature_spec, load_schema  # noqa: E402
from tests.readers.test_input_fn import TOKEN_KEY, text_dataset, text_datasets, text_schema  # noqa: E402,F401

GOLDEN = Path(__file__).parent / "golden" / "reviews_input.py"
CONSTANTS = ("NAME", "DATA_DIR", "COMPRESSION", "SPLITS", "FEATURE_SPEC", "LABEL_KEY", "IMAGES", "PAD_IDS", "MAIN_FEATURE")


def load_module(path: Path):
    """Imports the module at `path` under a fresh name."""
    name = f"generated_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and AutoGraph look a module up by name, as after an import
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def generated(tmp_path, prep_cli):
    """Runs `prep reader DATASET -o FILE` and imports FILE."""
    def generate(dataset: Path):
        output = tmp_path / f"{dataset.name}_input.py"
        result = prep_cli("reader", dataset, "-o", output)
        assert result.exit_code == 0, result.err
        assert result.out == f"wrote {output}: make_input_fn(split, batch_size, ...) reading {dataset} by default\n"
        return load_module(output)

    return generate


def assert_same_batches(a, b, count: int) -> None:
    """The first `count` batches (or all, if fewer) of `a` and `b` are equal."""
    a, b = list(a.take(count)), list(b.take(count))
    assert len(a) == len(b) > 1
    for (features_a, labels_a), (features_b, labels_b) in zip(a, b):
        assert list(features_a) == list(features_b)
        for key in features_a:
            a_value, b_value = features_a[key], features_b[key]
            assert a_value.dtype == b_value.dtype and type(a_value) is type(b_value), key
            if isinstance(a_value, tf.RaggedTensor):
                assert a_value.to_list() == b_value.to_list(), key
            else:
                assert a_value.shape == b_value.shape and (a_value.numpy() == b_value.numpy()).all(), key
        assert (labels_a.numpy() == labels_b.numpy()).all()


@pytest.mark.parametrize("split, options", [
    ("train", dict(image_size=(10, 8), deterministic=True, seed=7)),
    ("test", dict(image_size=(6, 6), image_dtype="float32")),
    ("train", dict(image_size=(9, 9), mode="eval", features=["image", "image/filename"])),
])
def test_generated_module_gives_the_runtime_batches_for_images(made_dataset, generated, split, options):
    module = generated(made_dataset)
    assert_same_batches(module.make_input_fn(split, 3, **options)(), make_input_fn(made_dataset, split, 3, **options)(), 3)


@pytest.mark.parametrize("split, options", [
    ("train", dict(sequence_length=5, deterministic=True, seed=1)),
    ("test", dict()),
    ("test", dict(ragged=True)),
])
def test_generated_module_gives_the_runtime_batches_for_text(text_dataset, generated, split, options):
    module = generated(text_dataset)
    assert_same_batches(module.make_input_fn(split, 4, **options)(), make_input_fn(text_dataset, split, 4, **options)(), 3)


def test_generated_module_describes_the_dataset_as_its_schema_does(made_dataset, generated):
    module = generated(made_dataset)
    schema = load_schema(str(made_dataset))
    assert module.FEATURE_SPEC == feature_spec(schema)
    assert module.SPLITS == {s.name: tuple((shard.file, shard.num_records) for shard in s.shards) for s in schema.splits}
    assert (module.NAME, module.DATA_DIR, module.COMPRESSION, module.LABEL_KEY) == (schema.name, str(made_dataset), "", "label")
    assert module.IMAGES == {"image": (3, None)} and module.PAD_IDS == {} and module.MAIN_FEATURE == "image"


def test_generated_make_input_fn_has_the_runtime_options(text_dataset, generated):
    module = generated(text_dataset)
    runtime = dict(inspect.signature(make_input_fn).parameters)
    ours = dict(inspect.signature(module.make_input_fn).parameters)
    assert runtime.pop("dataset_dir") and ours.pop("data_dir").default == str(text_dataset)
    assert runtime.pop("label_key").kind == ours.pop("label_key").kind
    assert module.LABEL_KEY == "label"
    assert [(p.name, p.kind, p.default) for p in runtime.values()] == [(p.name, p.kind, p.default) for p in ours.values()]


def run_batch_script(script: Path) -> subprocess.CompletedProcess:
    """Runs `script` (which prints the shapes of one batch of 4 records cut to 6 ids) in a fresh Python,
    from its folder; checks it succeeded and printed those shapes."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, str(script)], cwd=script.parent, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(4, 6) (4,)"
    return done


def test_generated_module_imports_only_tensorflow_and_runs_without_prep(text_dataset, generated, tmp_path):
    module = generated(text_dataset)
    tree = ast.parse(Path(module.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"dataclasses", "typing", "tensorflow"}
    script = tmp_path / "train.py"
    script.write_text(
        "import sys\n"
        "class NoPrep:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'prep', 'readers', 'schemas', 'beam_jobs', 'apache_beam', 'PIL', 'click'}:\n"
        "            raise ImportError(f'{name} is not installed here')\n"
        "sys.meta_path.insert(0, NoPrep())\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import reviews_input\n"
        "features, labels = next(iter(reviews_input.make_input_fn('test', 4, sequence_length=6)()))\n"
        f"print(features[{TOKEN_KEY!r}].shape, labels.shape)\n"
    )
    run_batch_script(script)


def test_generated_module_loads_by_path_without_being_registered(text_dataset, generated, tmp_path):
    """As training launchers and plugin loaders load a file: spec_from_file_location, module_from_spec,
    exec_module, and no entry in sys.modules."""
    module = generated(text_dataset)
    script = tmp_path / "launcher.py"
    script.write_text(
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('reader_plugin', {module.__file__!r})\n"
        "data = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(data)\n"
        "assert 'reader_plugin' not in sys.modules\n"
        "features, labels = next(iter(data.make_input_fn('train', 4, sequence_length=6)()))\n"
        f"print(features[{TOKEN_KEY!r}].shape, labels.shape)\n"
    )
    assert "AutoGraph" not in run_batch_script(script).stderr


def golden_schema() -> DatasetSchema:
    splits = tuple(
        Split(name, tuple(Shard(f"{name}-{i:05d}-of-{n:05d}.tfrecord", 10, 1000) for i in range(n)), 10 * n)
        for name, n in (("train", 3), ("validation", 1))
    )
    return text_schema(splits)


def test_generated_module_matches_the_golden_file():
    """The module a person keeps in their training repo. After a deliberate change to the generator or to
    readers/pipeline.py: PREP_UPDATE_GOLDEN=1 .venv/bin/pytest tests/readers/test_codegen.py, then read the diff."""
    text = codegen.generate_module(golden_schema(), "/data/reviews")
    if os.environ.get("PREP_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "the generated module changed: see this test's docstring"


def test_pipeline_may_import_nothing_the_generated_module_lacks(tmp_path, monkeypatch):
    source = tmp_path / "pipeline.py"
    source.write_text(codegen.PIPELINE_SOURCE.read_text().replace("import dataclasses\n", "import dataclasses\nimport os\n"))
    monkeypatch.setattr(codegen, "PIPELINE_SOURCE", source)
    with pytest.raises(AssertionError, match="must import only what codegen.IMPORTS does.*import os"):
        codegen.pipeline_code()


# ---- the CLI -----------------------------------------------------------------------------------------


def test_prep_reader_refuses_an_unfinished_dataset(made_dataset, tmp_path, prep_cli):
    (tmp_path / "half").mkdir()
    result = prep_cli("reader", tmp_path / "half", "-o", tmp_path / "x.py")
    assert result.exit_code == 2 and not (tmp_path / "x.py").exists()
    assert result.err.startswith("prep reader: error: ") and "no schema.json" in result.err
    assert len(result.err.splitlines()) == 1


def test_prep_reader_reports_an_unwritable_output(made_dataset, tmp_path, prep_cli):
    result = prep_cli("reader", made_dataset, "-o", tmp_path / "no" / "such" / "dir" / "x.py")
    assert result.exit_code == 1 and "cannot write" in result.err and len(result.err.splitlines()) == 1


def test_prep_reader_can_point_the_module_at_another_copy(made_dataset, tmp_path, prep_cli):
    output = tmp_path / "x.py"
    assert prep_cli("reader", made_dataset, "-o", output, "--data-dir", "gs://bucket/flowers").exit_code == 0
    assert load_module(output).DATA_DIR == "gs://bucket/flowers"


# ---- a hostile schema --------------------------------------------------------------------------------

SENTINEL = Path(tempfile.gettempdir()) / f"prep-codegen-pwned-{os.getpid()}"
PAYLOADS = [
    "'", '"', "'''", '"""', "\\", "\\'", "\n", "\r\n", "\x00", "\u2028", "\x85", "\ud800", "#", "{}", "{0}", "%s",
    f"__import__('pathlib').Path({str(SENTINEL)!r}).touch()",
    f"'); __import__('pathlib').Path({str(SENTINEL)!r}).touch(); ('",
    f'"""\n__import__("pathlib").Path({str(SENTINEL)!r}).touch()\n"""',
    f"'''\nimport pathlib; pathlib.Path({str(SENTINEL)!r}).touch()\n#",
    f"\\\nopen({str(SENTINEL)!r}, 'w')",
    "tf.io.gfile.remove('/')",
]
hostile = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(min_size=1, max_size=12),
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=4), st.sampled_from(PAYLOADS), st.text(max_size=4)),
)


@st.composite
def hostile_schemas(draw):
    names = draw(st.lists(hostile, min_size=3, max_size=6, unique=True))
    image, tokens, *rest = names
    features = [
        Feature(image, "string", (), "image", image=ImageInfo(draw(hostile), 3, draw(st.sampled_from([None, 8])),
                                                                 draw(st.sampled_from([None, 8])))),
        Feature(tokens, "int64", None, "token_ids", vocabulary=draw(hostile)),
    ]
    for name in rest:
        dtype = draw(st.sampled_from(["int64", "float32", "string"]))
        default = draw(hostile) if dtype == "string" else draw(st.sampled_from([None, 0, 1.5, -3])) if dtype == "float32" \
            else draw(st.sampled_from([None, 0, -(2**63)]))
        features.append(Feature(name, dtype, draw(st.sampled_from([(), (2,), None])) if default is None else (),
                                description=draw(hostile), default=default))
    splits = tuple(
        Split(split, tuple(Shard(file, draw(st.sampled_from([None, 0, 7])))
                           for file in draw(st.lists(hostile, min_size=1, max_size=3))))
        for split in draw(st.lists(hostile, min_size=1, max_size=3, unique=True))
    )
    return DatasetSchema(
        name=draw(hostile), kind="text", features=tuple(features), splits=splits,
        label_key=draw(st.sampled_from([None, *names])),
        vocabularies=(Vocabulary(features[1].vocabulary, draw(hostile), "tokens", 5, 2, ((0, ""), (1, "[UNK]"))),),
    )


def statement_shapes(tree: ast.Module) -> list[tuple[str, str]]:
    """Each top-level statement as (kind, the name it binds)."""
    shapes = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            shapes.append(("assign", ",".join(ast.unparse(t) for t in node.targets)))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            shapes.append((type(node).__name__, node.name))
        else:
            shapes.append((type(node).__name__, ast.unparse(node)[:60] if not isinstance(node, ast.Expr) else "doc"))
    return shapes


def check_spec_code(node: ast.expr) -> None:
    """A FEATURE_SPEC value: tf.io.FixedLenFeature/RaggedFeature(literals and tf.<dtype> only)."""
    assert isinstance(node, ast.Call) and ast.unparse(node.func) in ("tf.io.FixedLenFeature", "tf.io.RaggedFeature")
    for arg in [*node.args, *(k.value for k in node.keywords)]:
        if ast.unparse(arg) not in ("tf.int64", "tf.float32", "tf.string"):
            ast.literal_eval(arg)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=hostile_schemas(), data_dir=hostile)
def test_a_hostile_schema_gives_an_inert_module_that_round_trips_its_names(schema, data_dir):
    text = codegen.generate_module(schema, data_dir)
    tree = ast.parse(text)
    benign = ast.parse(codegen.generate_module(golden_schema(), "/data/reviews"))
    assert statement_shapes(tree) == statement_shapes(benign)  # the same statements, only other literals
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) in CONSTANTS:
            if ast.unparse(node.targets[0]) == "FEATURE_SPEC":
                for value in node.value.values:
                    check_spec_code(value)
            else:
                ast.literal_eval(node.value)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hostile_input.py"
        path.write_text(text, encoding="utf-8")
        module = load_module(path)
    assert not SENTINEL.exists()
    assert (module.NAME, module.DATA_DIR, module.LABEL_KEY) == (schema.name, data_dir, schema.label_key)
    assert module.SPLITS == {s.name: tuple((shard.file, shard.num_records) for shard in s.shards) for s in schema.splits}
    assert module.FEATURE_SPEC == feature_spec(schema)
    assert list(module.IMAGES) == [schema.features[0].name] and list(module.PAD_IDS) == [schema.features[1].name]
    assert module.MAIN_FEATURE is None  # an image and token ids: which one is the input is for the caller to say
