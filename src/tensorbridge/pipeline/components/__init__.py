"""The standard components: TFX's, on tensorbridge's data, stats, transform and training.

========================  ==============================================================
ExampleGen                CSV/Parquet/JSON lines -> Parquet splits (2:1 train/eval hash)
StatisticsGen             ``<split>.json`` statistics per split + ``report.html``
SchemaGen                 ``schema.yaml`` inferred from the train statistics
ImportSchema              a curated ``schema.yaml``, checked
ExampleValidator          ``anomalies.json`` per split vs the schema (optionally stops)
Transform                 analyze on train, transform every split
Trainer                   Keras training + the serving SavedModel (raw features in)
Evaluator                 metrics on raw rows through the serving signature -> blessing
InfraValidator            load and call the model in a fresh process -> infra blessing
Pusher                    push to a model repository when blessed
========================  ==============================================================

Each is a :func:`~tensorbridge.pipeline.component` whose module imports neither
TensorFlow nor PySpark until it runs.

Examples
--------
>>> from tensorbridge.pipeline.components import ExampleGen, StatisticsGen
>>> sorted(ExampleGen.outputs), sorted(StatisticsGen.inputs)
(['examples'], ['examples'])
"""

from __future__ import annotations

from tensorbridge.pipeline.components.evaluator import Evaluator, taxi_label
from tensorbridge.pipeline.components.example_gen import ExampleGen
from tensorbridge.pipeline.components.example_validator import (
    DataValidationError,
    ExampleValidator,
)
from tensorbridge.pipeline.components.infra_validator import InfraValidator
from tensorbridge.pipeline.components.pusher import Pusher
from tensorbridge.pipeline.components.schema_gen import ImportSchema, SchemaGen
from tensorbridge.pipeline.components.statistics_gen import StatisticsGen
from tensorbridge.pipeline.components.trainer import Trainer
from tensorbridge.pipeline.components.transform import Transform

__all__ = [
    "DataValidationError",
    "Evaluator",
    "ExampleGen",
    "ExampleValidator",
    "ImportSchema",
    "InfraValidator",
    "Pusher",
    "SchemaGen",
    "StatisticsGen",
    "Trainer",
    "Transform",
    "taxi_label",
]
