"""Pipelines: components, a Python DSL, a local runner with caching and resume, lineage.

A component is a function with typed artifacts (``Input[Examples]``, ``Output[Model]``)
and JSON parameters; a pipeline wires components output to input; :func:`run` executes
it on this machine, each component in its own process, recording every execution,
artifact and event in a metadata store (:mod:`tensorbridge.metadata`).

Examples
--------
>>> from tensorbridge.pipeline import Examples, Output, component, pipeline
>>> @component
... def Hello(examples: Output[Examples], rows: int = 1) -> None:
...     (examples.path / "rows.txt").write_text(str(rows))
>>> @pipeline(name="hello")
... def hello(rows: int = 1):
...     Hello(rows=rows)
>>> hello.build({"rows": 2}).task("Hello").arguments
{'rows': 2}
"""

from __future__ import annotations

from tensorbridge.pipeline.artifacts import (
    Anomalies,
    Artifact,
    ArtifactHandle,
    DataPath,
    Examples,
    ExampleStatistics,
    InfraBlessing,
    Input,
    Model,
    ModelBlessing,
    ModelEvaluation,
    ModuleRef,
    Output,
    PushedModel,
    Schema,
    TransformGraph,
)
from tensorbridge.pipeline.component import Component, component, resolve_reference
from tensorbridge.pipeline.dsl import OutputRef, Pipeline, PipelineGraph, Task, pipeline
from tensorbridge.pipeline.runner import RunResult, TaskResult, run

__all__ = [
    "Anomalies",
    "Artifact",
    "ArtifactHandle",
    "Component",
    "DataPath",
    "ExampleStatistics",
    "Examples",
    "InfraBlessing",
    "Input",
    "Model",
    "ModelBlessing",
    "ModelEvaluation",
    "ModuleRef",
    "Output",
    "OutputRef",
    "Pipeline",
    "PipelineGraph",
    "PushedModel",
    "RunResult",
    "Schema",
    "Task",
    "TaskResult",
    "TransformGraph",
    "component",
    "pipeline",
    "resolve_reference",
    "run",
]
