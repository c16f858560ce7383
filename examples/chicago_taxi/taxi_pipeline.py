"""The TFX Chicago taxi pipeline as a tensorbridge pipeline.

ExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> Transform -> Trainer ->
Evaluator + InfraValidator -> Pusher, the components of TFX's taxi_pipeline_native_keras.py,
run by tensorbridge's local runner with caching, resume and a metadata store:

    uv run --frozen tensorbridge run examples/chicago_taxi/taxi_pipeline.py
    uv run --frozen tensorbridge run examples/chicago_taxi/taxi_pipeline.py --param epochs=4
    uv run --frozen tensorbridge runs list
    uv run --frozen tensorbridge compile examples/chicago_taxi/taxi_pipeline.py --to kfp \\
        -o pipeline.yaml --image registry.example.com/taxi:1.0

A second run with nothing changed is served from the cache; changing a Trainer parameter
re-runs only Trainer and what follows it.
"""

from __future__ import annotations

from pathlib import Path

from tensorbridge.pipeline import pipeline
from tensorbridge.pipeline.components import (
    Evaluator,
    ExampleGen,
    ExampleValidator,
    InfraValidator,
    Pusher,
    SchemaGen,
    StatisticsGen,
    Trainer,
    Transform,
)

HERE = Path(__file__).resolve().parent
DATA = str(HERE.parents[2] / "shared" / "data" / "chicago_taxi" / "data.csv")


@pipeline(name="chicago_taxi")
def taxi_pipeline(
    data: str = DATA,
    repository: str = "out/pipelines/chicago_taxi/models",
    epochs: int = 8,
    batch_size: int = 40,
    min_auc: float = 0.9,
    engine: str = "local",
) -> None:
    """The taxi pipeline; every argument is a parameter (``--param epochs=4``)."""
    examples = ExampleGen(input_path=data, engine=engine)
    statistics = StatisticsGen(examples=examples.outputs["examples"], engine=engine)
    schema = SchemaGen(statistics=statistics.outputs["statistics"])
    ExampleValidator(statistics=statistics.outputs["statistics"], schema=schema.outputs["schema"])
    transform = Transform(
        examples=examples.outputs["examples"],
        preprocessing_fn="tensorbridge.examples.taxi:preprocessing_fn",
        engine=engine,
    )
    trainer = Trainer(
        transformed_examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        model_fn="tensorbridge.examples.taxi:build_keras_model",
        features_fn="tensorbridge.examples.taxi:model_features",
        statistics=statistics.outputs["statistics"],  # the server's drift baseline
        examples=examples.outputs["examples"],  # warm-up samples for the server
        label="tips_xf",
        raw_label_columns=["tips"],
        epochs=epochs,
        batch_size=batch_size,
    )
    evaluator = Evaluator(
        examples=examples.outputs["examples"],
        model=trainer.outputs["model"],
        transform_graph=transform.outputs["transform_graph"],
        label="tips_xf",
        slices=["trip_start_hour"],
        thresholds={"auc": {"lower": min_auc}},
    )
    infra = InfraValidator(model=trainer.outputs["model"], examples=examples.outputs["examples"])
    Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        infra_blessing=infra.outputs["blessing"],
        repository=repository,
        model_name="taxi",
    )
