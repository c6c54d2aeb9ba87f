"""schema.json <-> TFX schema.pbtxt: the proto's own fields say what TFDV and TF Transform need, and the
round trip gives back every feature, the label and the vocabularies."""

from __future__ import annotations

import sys

import pytest

from prep.interop.tfx import TfxError, export_tfx, schema_from_tfx, schema_to_tfx
from schemas import DatasetSchema, Feature, ImageInfo, Shard, Split, TextSettings, Vocabulary, load_schema

schema_pb2 = pytest.importorskip("tensorflow_metadata.proto.v0.schema_pb2")


def _proto(text: str):
    from google.protobuf import text_format

    return text_format.Parse(text, schema_pb2.Schema())


def _round_trip(schema: DatasetSchema, class_names: dict) -> DatasetSchema:
    described = schema_from_tfx(schema_to_tfx(schema, class_names))
    return schema.replace(features=described.features, label_key=described.label_key,
                          vocabularies=described.vocabularies, text=described.text)


TEXT_SCHEMA = DatasetSchema(
    name="reviews", kind="text",
    features=(
        Feature("text", "string", (), "text", "the review"),
        Feature("tokens", "int64", None, "token_ids", "token ids", vocabulary="tokens", value_count=(1, 40), max_length=40),
        Feature("label", "string", (), "text", "class name", vocabulary="labels", presence=1.0, value_count=(1, 1)),
        Feature("weight", "float32", (), "number", "", default=1.0, presence=0.25, value_count=(1, 1)),
        Feature("grid", "float32", (2, 3), "number", "", default=[0.0] * 6, presence=0.5, value_count=(6, 6)),
        Feature("thumb", "string", (), "image", "", image=ImageInfo("png", 1, 8, 8), presence=1.0, value_count=(1, 1)),
        Feature("blob", "string", None, "bytes"),
    ),
    splits=(Split("train", (Shard("train-00000-of-00001.tfrecord", 3, 100),), 3),),
    label_key="label",
    vocabularies=(Vocabulary("tokens", "vocab/tokens.txt", "tokens", 1000, 2, ((0, ""), (1, "[UNK]"))),
                  Vocabulary("labels", "vocab/labels.txt", "labels", 2)),
    text=TextSettings(max_tokens=1002, max_length=40),
)


def test_round_trip_keeps_every_feature_the_label_vocabularies_and_text_settings():
    assert _round_trip(TEXT_SCHEMA, {"labels": ("neg", "pos")}) == TEXT_SCHEMA


def test_round_trip_of_a_prep_image_dataset(made_dataset):
    schema = load_schema(str(made_dataset))
    assert _round_trip(schema, {"labels": ("cat", "dog")}) == schema


def test_the_standard_fields_say_what_tfdv_and_tf_transform_need(made_dataset, tmp_path):
    proto = _proto(open(export_tfx(str(made_dataset), str(tmp_path / "schema.pbtxt"))).read())
    features = {f.name: f for f in proto.feature}
    label, image = features["label"], features["image"]
    assert label.type == schema_pb2.INT and label.int_domain.is_categorical and label.int_domain.max == 1
    assert label.int_domain.name == "labels" and list(proto.string_domain[0].value) == ["cat", "dog"]
    assert list(label.not_in_environment) == ["SERVING"] and list(proto.default_environment) == ["TRAINING", "SERVING"]
    assert image.type == schema_pb2.BYTES and image.HasField("image_domain")
    assert image.HasField("shape") and not image.shape.dim and image.presence.min_fraction == 1.0
    assert list(image.annotation.comment) == ["encoded image bytes"]


def test_optional_and_variable_features_use_value_count_as_tf_transform_requires():
    proto = _proto(schema_to_tfx(TEXT_SCHEMA, {"labels": ("neg", "pos")}))
    features = {f.name: f for f in proto.feature}
    weight, tokens = features["weight"], features["tokens"]
    assert weight.WhichOneof("shape_type") == "value_count" and weight.presence.min_fraction == 0.25
    assert (tokens.value_count.min, tokens.value_count.max) == (1, 40)
    assert tokens.natural_language_domain.vocabulary == "tokens"
    assert features["label"].domain == "labels" and proto.represent_variable_length_as_ragged


def test_a_tfdv_schema_without_prep_tags_reads_as_its_fields_say():
    described = schema_from_tfx("""
        feature { name: "age" type: INT value_count { min: 1 max: 1 } presence { min_fraction: 1.0 min_count: 1 } }
        feature { name: "income" type: FLOAT value_count { min: 1 max: 1 } presence { min_fraction: 0.5 } }
        feature { name: "tags" type: BYTES value_count { min: 0 max: 7 } }
        feature { name: "vec" type: FLOAT shape { dim { size: 4 } } presence { min_fraction: 1.0 } }
        feature { name: "picture" type: BYTES image_domain { } }
        feature { name: "city" type: BYTES domain: "city" presence { min_fraction: 1.0 } }
        feature { name: "old" type: INT deprecated: true }
        feature { name: "target" type: INT int_domain { min: 0 max: 2 is_categorical: true } not_in_environment: "SERVING" }
        string_domain { name: "city" value: "Oslo" value: "Lima" }
        default_environment: "TRAINING"
        default_environment: "SERVING"
    """)
    f = {x.name: x for x in described.features}
    assert (f["age"].shape, f["age"].default) == ((), None)
    assert (f["income"].shape, f["income"].default, f["income"].presence) == ((), 0.0, 0.5)
    assert (f["tags"].shape, f["tags"].value_count, f["tags"].encoding) == (None, (0, 7), "text")
    assert f["vec"].shape == (4,) and f["vec"].value_count == (4, 4)
    assert f["picture"].encoding == "image" and f["picture"].image == ImageInfo("mixed", 3)
    assert f["city"].vocabulary == "city" and described.vocabulary_files == {"vocab/city.txt": b"Oslo\nLima\n"}
    assert "old" not in f and any("'old'" in n for n in described.notes)
    assert described.label_key == "target" and f["target"].encoding == "class_id"


def test_import_of_a_pbtxt_checks_the_files_parse(made_dataset, dataset_copy, tmp_path, prep_cli):
    pbtxt = tmp_path / "schema.pbtxt"
    assert prep_cli("schema", "export", made_dataset, "--tfx", pbtxt).exit_code == 0
    result = prep_cli("schema", "import", pbtxt, dataset_copy, "-o", dataset_copy, "--overwrite")
    assert result.exit_code == 0, result.err
    original, imported = load_schema(str(made_dataset)), load_schema(str(dataset_copy))
    assert imported.features == original.features and imported.label_key == "label"
    assert imported.vocabularies == original.vocabularies
    assert [(s.name, s.num_records) for s in imported.splits] == [(s.name, s.num_records) for s in original.splits]
    assert prep_cli("verify", dataset_copy).exit_code == 0

    pbtxt.write_text(pbtxt.read_text().replace('name: "image/height"\n  type: INT', 'name: "image/height"\n  type: FLOAT'))
    result = prep_cli("schema", "import", pbtxt, dataset_copy, "-o", dataset_copy, "--overwrite")
    assert result.exit_code == 2 and "does not parse with the given features" in result.err
    # the feature and what is wrong with it, in one line; not TensorFlow's op text
    assert ("record 0 does not parse with the given features: feature 'image/height' holds int64_list values, "
            "where the schema says float32 (float_list)") in result.err
    assert "function_node" not in result.err and "[Op:" not in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err


@pytest.mark.parametrize("text,expected", [("feature {", "not a TFX Schema"),
                                          ('feature { name: "s" type: STRUCT }', "no feature prep can describe")])
def test_unusable_pbtxt_is_a_clear_error(text, expected):
    with pytest.raises(TfxError, match=expected):
        schema_from_tfx(text)


def test_missing_tensorflow_metadata_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_metadata.proto.v0", None)
    monkeypatch.delitem(sys.modules, "tensorflow_metadata.proto.v0.schema_pb2", raising=False)
    with pytest.raises(TfxError, match=r"pip install 'tfrecord-prep\[interop\]'"):
        schema_to_tfx(TEXT_SCHEMA, {})
