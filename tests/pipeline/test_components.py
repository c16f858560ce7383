"""The standard components, called directly (``.func``) on the taxi data."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tensorbridge as tb
from tensorbridge.errors import ConfigError, SchemaError
from tensorbridge.pipeline import ArtifactHandle
from tensorbridge.pipeline.components import (
    DataValidationError,
    Evaluator,
    ExampleGen,
    ExampleValidator,
    ImportSchema,
    InfraValidator,
    Pusher,
    SchemaGen,
    StatisticsGen,
    Trainer,
    Transform,
    taxi_label,
)
from tensorbridge.stats import Statistics, load_schema

TAXI = "tensorbridge.examples.taxi"


def handle(root: Path, name: str, type_name: str) -> ArtifactHandle:
    """A fresh, empty output artifact directory, as the runner gives a component."""
    path = root / name
    path.mkdir(parents=True)
    return ArtifactHandle(path, type_name, uri=str(path))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("components")


@pytest.fixture(scope="module")
def examples(root: Path, taxi_csv: Path) -> ArtifactHandle:
    out = handle(root, "examples", "Examples")
    ExampleGen.func(examples=out, input_path=str(taxi_csv))
    return out


@pytest.fixture(scope="module")
def statistics(root: Path, examples: ArtifactHandle) -> ArtifactHandle:
    out = handle(root, "statistics", "ExampleStatistics")
    StatisticsGen.func(examples=examples, statistics=out)
    return out


@pytest.fixture(scope="module")
def schema(root: Path, statistics: ArtifactHandle) -> ArtifactHandle:
    out = handle(root, "schema", "Schema")
    SchemaGen.func(statistics=statistics, schema=out)
    return out


@pytest.fixture(scope="module")
def transformed(root: Path, examples: ArtifactHandle) -> tuple[ArtifactHandle, ArtifactHandle]:
    pytest.importorskip("tensorflow")
    graph = handle(root, "transform_graph", "TransformGraph")
    data = handle(root, "transformed_examples", "Examples")
    Transform.func(
        examples=examples,
        transform_graph=graph,
        transformed_examples=data,
        preprocessing_fn=f"{TAXI}:preprocessing_fn",
    )
    return graph, data


@pytest.fixture(scope="module")
def model(
    root: Path,
    transformed: tuple[ArtifactHandle, ArtifactHandle],
    statistics: ArtifactHandle,
    examples: ArtifactHandle,
) -> ArtifactHandle:
    graph, data = transformed
    out = handle(root, "model", "Model")
    Trainer.func(
        transformed_examples=data,
        transform_graph=graph,
        model=out,
        model_fn=f"{TAXI}:build_keras_model",
        label="tips_xf",
        features_fn=f"{TAXI}:model_features",
        statistics=statistics,
        examples=examples,
        raw_label_columns=["tips"],
        epochs=1,
        batch_size=40,
    )
    return out


# -- ExampleGen -------------------------------------------------------------------------


def test_example_gen_splits_the_taxi_data_two_to_one(examples: ArtifactHandle) -> None:
    meta = examples.metadata
    assert meta["splits"] == ["train", "eval"]
    assert meta["rows"] == {"train": 9_945, "eval": 5_057}
    assert meta["format"] == "csv"
    assert meta["columns"]["fare"] == "double"
    assert meta["columns"]["company"] == "string"
    assert len(meta["columns"]) == 18
    for split, rows in meta["rows"].items():
        files = sorted((examples.path / split).glob("*.parquet"))
        assert files and sum(pq.ParquetFile(f).metadata.num_rows for f in files) == rows


def test_example_gen_reads_parquet_and_json_lines(tmp_path: Path, examples: ArtifactHandle) -> None:
    from_parquet = handle(tmp_path, "p", "Examples")
    ExampleGen.func(
        examples=from_parquet,
        input_path=str(examples.path / "eval"),
        split_ratios={"a": 1, "b": 1},
        split_key=["company"],
    )
    assert from_parquet.metadata["format"] == "parquet"
    assert sum(from_parquet.metadata["rows"].values()) == 5_057
    # split by company: no company is in both splits
    companies = [
        set(pq.read_table(from_parquet.path / s).column("company").to_pylist()) for s in "ab"
    ]
    assert not (companies[0] & companies[1])

    lines = tmp_path / "rows.jsonl"
    lines.write_text("".join(json.dumps({"x": i, "zip": f"{i:05d}"}) + "\n" for i in range(30)))
    from_json = handle(tmp_path, "j", "Examples")
    ExampleGen.func(examples=from_json, input_path=str(lines), csv_schema={"x": "float64"})
    assert from_json.metadata["format"] == "json"
    assert sum(from_json.metadata["rows"].values()) == 30
    assert from_json.metadata["columns"] == {"x": "double", "zip": "string"}


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"format": "xml"}, "format="),
        ({"split_ratios": {"train": 0}}, "split_ratios"),
        ({"split_ratios": {"_x": 1}}, "split_ratios"),
        ({"split_key": "nope"}, "Split key"),
        ({"engine": "beam"}, "engine="),
    ],
)
def test_example_gen_explains_bad_arguments(
    tmp_path: Path, taxi_csv: Path, arguments: dict[str, object], named: str
) -> None:
    with pytest.raises((ConfigError, SchemaError), match=named):
        ExampleGen.func(
            examples=handle(tmp_path, "x", "Examples"), input_path=str(taxi_csv), **arguments
        )


def test_example_gen_refuses_a_csv_schema_for_parquet(
    tmp_path: Path, examples: ArtifactHandle
) -> None:
    with pytest.raises(ConfigError, match="csv_schema applies to CSV and JSON"):
        ExampleGen.func(
            examples=handle(tmp_path, "x", "Examples"),
            input_path=str(examples.path / "eval"),
            csv_schema={"fare": "float64"},
        )


# -- StatisticsGen, SchemaGen, ImportSchema, ExampleValidator ---------------------------


def test_statistics_gen_writes_one_file_per_split(statistics: ArtifactHandle) -> None:
    assert statistics.metadata["num_examples"] == {"train": 9_945, "eval": 5_057}
    train = Statistics.load(statistics.path / "train.json")
    evaluation = Statistics.load(statistics.path / "eval.json")
    assert (train.num_examples, evaluation.num_examples) == (9_945, 5_057)
    assert train["fare"].numeric is not None and train["fare"].numeric.mean > 0
    report = (statistics.path / "report.html").read_text()
    assert "eval vs train" in report and "company" in report


def test_schema_gen_infers_from_train(schema: ArtifactHandle) -> None:
    loaded = load_schema(schema.path / "schema.yaml")
    names = [f.name for f in loaded.features]
    assert schema.metadata["num_features"] == len(names) == 18
    assert schema.metadata["features"] == names
    by_name = loaded.features_by_name
    assert by_name["fare"].type == "FLOAT"
    assert by_name["company"].type == "STRING"
    assert by_name["payment_type"].domain is not None


def test_import_schema_copies_and_checks(tmp_path: Path, schema: ArtifactHandle) -> None:
    imported = handle(tmp_path, "imported", "Schema")
    ImportSchema.func(schema_file=str(schema.path / "schema.yaml"), schema=imported)
    text = (schema.path / "schema.yaml").read_text()
    assert (imported.path / "schema.yaml").read_text() == text  # comments kept
    assert imported.metadata["num_features"] == 18

    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("type: FLOAT", "type: FLAOT", 1))
    with pytest.raises(SchemaError, match="FLAOT"):
        ImportSchema.func(schema_file=str(bad), schema=handle(tmp_path, "b", "Schema"))
    with pytest.raises(ConfigError, match="schema_file="):
        ImportSchema.func(
            schema_file=str(tmp_path / "none.yaml"), schema=handle(tmp_path, "c", "Schema")
        )


def test_example_validator_finds_the_known_eval_anomalies(
    tmp_path: Path, statistics: ArtifactHandle, schema: ArtifactHandle
) -> None:
    out = handle(tmp_path, "anomalies", "ExampleAnomalies")
    ExampleValidator.func(statistics=statistics, schema=schema, anomalies=out)
    found = json.loads((out.path / "anomalies.json").read_text())
    assert found["train"] == []
    by_feature = {a["feature"]: a for a in found["eval"]}
    assert by_feature["company"]["type"] == "ENUM_TYPE_UNEXPECTED_STRING_VALUES"
    assert "pickup_census_tract" in by_feature
    assert out.metadata["num_anomalies"]["train"] == 0
    assert out.metadata["num_anomalies"]["eval"] == len(found["eval"])
    assert sum(out.metadata["counts"]["eval"].values()) == len(found["eval"])
    assert {"company", "pickup_census_tract"} <= set(out.metadata["anomalous_features"]["eval"])
    for page in ("report.html", "train.html", "eval.html"):
        assert (out.path / page).stat().st_size > 1000
    assert "company" in (out.path / "report.html").read_text()


def test_example_validator_stops_the_pipeline_when_asked(
    tmp_path: Path, statistics: ArtifactHandle, schema: ArtifactHandle
) -> None:
    with pytest.raises(DataValidationError, match="company") as caught:
        ExampleValidator.func(
            statistics=statistics,
            schema=schema,
            anomalies=handle(tmp_path, "a", "ExampleAnomalies"),
            fail_on="warning",
        )
    assert isinstance(caught.value, ConfigError)
    assert list(caught.value.anomalies) == ["eval"]
    with pytest.raises(ConfigError, match="fail_on='sometimes'"):
        ExampleValidator.func(
            statistics=statistics,
            schema=schema,
            anomalies=handle(tmp_path, "b", "ExampleAnomalies"),
            fail_on="sometimes",
        )


# -- Transform, Trainer, Evaluator, InfraValidator (TensorFlow) ------------------------


@pytest.mark.tf
def test_transform_outputs_two_self_contained_artifacts(
    transformed: tuple[ArtifactHandle, ArtifactHandle],
) -> None:
    from tensorbridge.transform import TransformOutput

    graph, data = transformed
    assert (graph.path / "transform_fn" / "saved_model.pb").exists()
    output = TransformOutput(graph.path)
    assert graph.metadata["analyzed_rows"] == 9_945
    assert "tips_xf" in graph.metadata["outputs"]
    assert data.metadata["rows"] == {"train": 9_945, "eval": 5_057}
    assert data.metadata["columns"]["tips_xf"] == "int64"
    for split in ("train", "eval"):
        files = sorted((data.path / split).rglob("*.parquet"))
        assert files and not any(f.is_symlink() for f in files)
        mirror = graph.path / "transformed_data" / split / files[0].relative_to(data.path / split)
        assert mirror.exists() and os.path.samefile(files[0], mirror)  # hard links
    assert output.transformed_data["eval"].count_rows() == 5_057  # type: ignore[index]


@pytest.mark.tf
def test_taxi_label_matches_the_transformed_label(
    examples: ArtifactHandle, transformed: tuple[ArtifactHandle, ArtifactHandle]
) -> None:
    raw = tb.read_parquet(examples.path / "eval").to_table()
    expected = tb.read_parquet(transformed[1].path / "eval").to_table().column("tips_xf")
    assert np.array_equal(taxi_label(raw), expected.to_numpy())


@pytest.mark.tf
def test_trainer_exports_a_loadable_serving_model(model: ArtifactHandle) -> None:
    import tensorflow as tf

    assert (model.path / "saved_model.pb").exists()
    manifest = json.loads((model.path / "tensorbridge.json").read_text())
    assert manifest["label"] == "tips_xf" and manifest["raw_label_columns"] == ["tips"]
    assert "tips" not in {entry["name"] for entry in manifest["inputs"]}
    # The serving baseline is StatisticsGen's train statistics; samples are raw eval rows.
    baseline = manifest["serving_baseline"]
    assert baseline["rows"] == 9_945 and "tips" not in baseline["features"]
    assert baseline["features"]["payment_type"]["complete"] is True
    assert len(baseline["features"]["fare"]["boundaries"]) == 9
    assert len(manifest["samples"]) == 8 and "tips" not in manifest["samples"][0]
    history = (model.path / "training" / "metrics.jsonl").read_text().splitlines()
    assert len(history) == 1
    assert (model.path / "training" / "model.keras").exists()
    assert model.metadata["epochs_run"] == 1
    assert 0.5 < model.metadata["val_auc"] <= 1.0
    assert model.metadata["val_loss"] > 0
    serving = tf.saved_model.load(str(model.path)).signatures["serving_default"]
    assert "fare" in serving.structured_input_signature[1]
    # no scratch directory left beside the model
    assert sorted(p.name for p in model.path.parent.iterdir() if p.name.startswith(".")) == []


@pytest.mark.tf
def test_trainer_explains_a_wrong_label(
    tmp_path: Path, transformed: tuple[ArtifactHandle, ArtifactHandle]
) -> None:
    graph, data = transformed
    with pytest.raises(ConfigError, match="label='tips'"):
        Trainer.func(
            transformed_examples=data,
            transform_graph=graph,
            model=handle(tmp_path, "m", "Model"),
            model_fn=f"{TAXI}:build_keras_model",
            label="tips",
        )


@pytest.mark.tf
def test_evaluator_blesses_by_threshold(
    tmp_path: Path,
    examples: ArtifactHandle,
    model: ArtifactHandle,
    transformed: tuple[ArtifactHandle, ArtifactHandle],
) -> None:
    trivial = (handle(tmp_path, "e1", "ModelEvaluation"), handle(tmp_path, "b1", "ModelBlessing"))
    Evaluator.func(
        examples=examples,
        model=model,
        evaluation=trivial[0],
        blessing=trivial[1],
        transform_graph=transformed[0],  # label tips_xf (from the manifest) via the transform
        slices=["trip_start_hour"],
        thresholds={"auc": {"lower": 0.5}, "accuracy": [{"lower": 0.0}]},
    )
    assert json.loads((trivial[1].path / "blessing.json").read_text())["blessed"] is True
    assert (trivial[1].path / "BLESSED").exists()
    assert trivial[0].metadata["blessed"] is True
    assert trivial[0].metadata["example_count"] == 5_057
    auc = trivial[0].metadata["auc"]
    assert 0.5 < auc <= 1.0
    assert abs(auc - model.metadata["val_auc"]) < 0.02  # the serving model scores as trained
    written = json.loads((trivial[0].path / "evaluation.json").read_text())
    assert any(s["slice"].startswith("trip_start_hour:") for s in written["slices"])
    assert (trivial[0].path / "report.html").exists()

    impossible = (
        handle(tmp_path, "e2", "ModelEvaluation"),
        handle(tmp_path, "b2", "ModelBlessing"),
    )
    Evaluator.func(
        examples=examples,
        model=model,
        evaluation=impossible[0],
        blessing=impossible[1],
        label_fn="tensorbridge.pipeline.components.evaluator:taxi_label",
        thresholds={"auc": {"lower": 0.999999}},
    )
    blessing = json.loads((impossible[1].path / "blessing.json").read_text())
    assert blessing["blessed"] is False and impossible[1].metadata["blessed"] is False
    assert "auc on Overall: 0.9" in blessing["reasons"][1]
    assert (impossible[1].path / "NOT_BLESSED").exists()
    assert impossible[0].metadata["auc"] == pytest.approx(auc)  # same labels either way


@pytest.mark.tf
def test_evaluator_without_thresholds_does_not_bless(
    tmp_path: Path, examples: ArtifactHandle, model: ArtifactHandle
) -> None:
    blessing = handle(tmp_path, "b", "ModelBlessing")
    with pytest.raises(ConfigError, match="transform_graph="):  # tips_xf is not a raw column
        Evaluator.func(
            examples=examples,
            model=model,
            evaluation=handle(tmp_path, "e0", "ModelEvaluation"),
            blessing=blessing,
        )
    Evaluator.func(
        examples=examples,
        model=model,
        evaluation=handle(tmp_path, "e", "ModelEvaluation"),
        blessing=blessing,
        label_fn="tensorbridge.pipeline.components.evaluator:taxi_label",
    )
    assert json.loads((blessing.path / "blessing.json").read_text())["blessed"] is False
    assert "no thresholds" in blessing.metadata["reasons"][0]
    with pytest.raises(ConfigError, match=r"thresholds\['auc'\]"):
        Evaluator.func(
            examples=examples,
            model=model,
            evaluation=handle(tmp_path, "e3", "ModelEvaluation"),
            blessing=handle(tmp_path, "b3", "ModelBlessing"),
            label_fn="tensorbridge.pipeline.components.evaluator:taxi_label",
            thresholds={"auc": {"absolute": 0.1}},
        )
    with pytest.raises(ConfigError, match="'binary_accuracy'"):
        Evaluator.func(
            examples=examples,
            model=model,
            evaluation=handle(tmp_path, "e4", "ModelEvaluation"),
            blessing=handle(tmp_path, "b4", "ModelBlessing"),
            label_fn="tensorbridge.pipeline.components.evaluator:taxi_label",
            thresholds={"binary_accuracy": {"lower": 0.5}},
        )


@pytest.mark.tf
def test_infra_validator_blesses_a_good_model_only(
    tmp_path: Path, examples: ArtifactHandle, model: ArtifactHandle
) -> None:
    good = handle(tmp_path, "good", "InfraBlessing")
    InfraValidator.func(model=model, examples=examples, blessing=good, num_requests=8)
    report = json.loads((good.path / "infra_blessing.json").read_text())
    assert report["blessed"] is True and good.metadata["blessed"] is True, report
    assert report["outputs"]["probabilities"]["shape"][0] == 8
    assert report["outputs"]["probabilities"]["finite"] is True
    assert report["requests"] == 9  # one batch of 8, then 8 single rows
    assert report["timings"]["load_s"] > 0 and (good.path / "INFRA_BLESSED").exists()

    broken_dir = tmp_path / "broken_model"
    shutil.copytree(model.path, broken_dir)
    shutil.rmtree(broken_dir / "variables")
    broken = ArtifactHandle(broken_dir, "Model", uri=str(broken_dir))
    bad = handle(tmp_path, "bad", "InfraBlessing")
    InfraValidator.func(model=broken, examples=examples, blessing=bad, num_requests=2)
    report = json.loads((bad.path / "infra_blessing.json").read_text())
    assert report["blessed"] is False and bad.metadata["blessed"] is False
    assert report["error"] and (bad.path / "INFRA_NOT_BLESSED").exists()

    slow = handle(tmp_path, "slow", "InfraBlessing")
    InfraValidator.func(model=model, examples=examples, blessing=slow, timeout_s=0.2)
    assert slow.metadata["blessed"] is False
    assert "within timeout_s=0.2 s" in slow.metadata["error"]


# -- Pusher ------------------------------------------------------------------------------


def _blessing(
    root: Path, name: str, blessed: bool, filename: str = "blessing.json"
) -> ArtifactHandle:
    out = handle(root, name, "ModelBlessing")
    (out.path / filename).write_text(json.dumps({"blessed": blessed, "reasons": []}))
    return out


def test_pusher_pushes_only_blessed_models(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    (model_dir / "variables").mkdir(parents=True)
    (model_dir / "saved_model.pb").write_bytes(b"model")
    model = ArtifactHandle(model_dir, "Model", uri=str(model_dir))
    repository = tmp_path / "repository"
    yes = _blessing(tmp_path, "yes", True)
    no = _blessing(tmp_path, "no", False)
    infra_no = _blessing(tmp_path, "infra_no", False, "infra_blessing.json")

    def push(name: str, blessing: ArtifactHandle, **kwargs: object) -> ArtifactHandle:
        out = handle(tmp_path, name, "PushedModel")
        Pusher.func(
            model=model,
            model_blessing=blessing,
            pushed_model=out,
            repository=str(repository),
            model_name="taxi",
            **kwargs,
        )
        return out

    first = push("p1", yes)
    record = json.loads((first.path / "pushed.json").read_text())
    assert record["pushed"] is True and record["version"] == 1
    assert first.metadata == {"pushed": True, "version": 1, "path": str(repository / "taxi" / "1")}
    assert (repository / "taxi" / "1" / "saved_model.pb").read_bytes() == b"model"

    refused = push("p2", no)
    assert json.loads((refused.path / "pushed.json").read_text())["pushed"] is False
    assert refused.metadata["pushed"] is False and refused.metadata["version"] is None
    assert (
        "Evaluator did not bless"
        in json.loads((refused.path / "pushed.json").read_text())["reason"]
    )

    infra = push("p3", yes, infra_blessing=infra_no)
    assert infra.metadata["pushed"] is False
    assert "InfraValidator" in json.loads((infra.path / "pushed.json").read_text())["reason"]

    forced = push("p4", no, force=True)
    assert forced.metadata["version"] == 2
    assert json.loads((forced.path / "pushed.json").read_text())["forced"] is True
    assert sorted(p.name for p in (repository / "taxi").iterdir()) == ["1", "2"]

    with pytest.raises(ConfigError, match=r"model_name='\.\./x'"):
        Pusher.func(
            model=model,
            model_blessing=yes,
            pushed_model=handle(tmp_path, "p5", "PushedModel"),
            repository=str(repository),
            model_name="../x",
        )


def test_components_import_without_tensorflow() -> None:
    import subprocess
    import sys

    code = (
        "import sys, tensorbridge.pipeline.components as c; "
        "print(sorted(m for m in ('tensorflow', 'pyspark', 'keras') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_component_signatures() -> None:
    assert sorted(Trainer.inputs) == [
        "examples", "statistics", "transform_graph", "transformed_examples"
    ]  # fmt: skip
    assert Trainer.inputs["statistics"].optional and Trainer.inputs["examples"].optional
    assert Evaluator.inputs["transform_graph"].optional
    assert Pusher.inputs["infra_blessing"].optional
    assert ExampleGen.parameters["split_ratios"].default == {"train": 2, "eval": 1}
    assert ExampleGen.parameters["input_path"].data_path
    assert Transform.parameters["preprocessing_fn"].module_ref
    assert pa is not None
