"""Lineage on a small hand-built pipeline graph, two runs, on both backends.

    raw data -> ExampleGen -> examples -> Transform -> transform_graph
             -> Trainer (examples, transform_graph) -> model -> Pusher -> pushed_model

Run 1 executes every component. Run 2 changes the Trainer's ``epochs``: ExampleGen and
Transform are cached (their executions re-emit run 1's artifacts), Trainer and Pusher
execute and write new artifacts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tensorbridge.metadata import (
    Artifact,
    ArtifactChange,
    Event,
    Execution,
    MetadataStore,
    NotFoundError,
    diff_runs,
    downstream,
    provenance,
    upstream,
)


@dataclass
class Run:
    name: str
    executions: dict[str, Execution] = field(default_factory=dict)
    artifacts: dict[str, Artifact] = field(default_factory=dict)


def _props(component: str, parameters: dict[str, Any], code: str) -> dict[str, Any]:
    return {
        "component": component,
        "parameters": parameters,
        "code_fingerprint": code,
        "run_id": "set-below",
    }


def _run(
    store: MetadataStore,
    name: str,
    raw: Artifact,
    *,
    epochs: int,
    previous: Run | None = None,
    transform_code: str = "code-transform-1",
) -> Run:
    """Record one run the way a runner would; reuse ``previous`` outputs where cached."""
    pipeline = store.put_context("pipeline", "taxi")
    context = store.put_context("run", name, properties={"parameters": {"epochs": epochs}})
    store.set_parent_context(context.id, pipeline.id)
    run = Run(name)
    contexts = [context, pipeline]

    def step(
        component: str,
        inputs: dict[str, Artifact],
        outputs: dict[str, tuple[str, str]],
        parameters: dict[str, Any],
        code: str,
        cacheable: bool,
    ) -> None:
        properties = {**_props(component, parameters, code), "run_id": name}
        if cacheable and previous is not None:
            reused = {k: previous.artifacts[k] for k in outputs}
            execution = store.record_execution(
                component,
                inputs=inputs,
                outputs=reused,
                contexts=contexts,
                properties={**properties, "cached_from": previous.executions[component].id},
                state="CACHED",
            )
            run.artifacts.update(reused)
        else:
            made = {
                key: store.put_artifact(
                    type_, f"/root/{name}/{component}/{key}", name=f"{component}.{key}",
                    fingerprint=f"fp-{key}-{name}",
                )
                for key, (type_, _) in outputs.items()
            }  # fmt: skip
            execution = store.record_execution(
                component, inputs=inputs, outputs=made, contexts=contexts, properties=properties
            )
            run.artifacts.update(made)
        run.executions[component] = execution

    step("ExampleGen", {"input_data": raw}, {"examples": ("Examples", "")},
         {"split": [8, 2]}, "code-examplegen-1", cacheable=True)  # fmt: skip
    step("Transform", {"examples": run.artifacts["examples"]},
         {"transform_graph": ("TransformGraph", "")}, {"module": "prep.py"},
         transform_code, cacheable=transform_code == "code-transform-1")  # fmt: skip
    step("Trainer",
         {"examples": run.artifacts["examples"],
          "transform_graph": run.artifacts["transform_graph"]},
         {"model": ("Model", "")}, {"epochs": epochs, "lr": 0.01}, "code-trainer-1",
         cacheable=False)  # fmt: skip
    step("Pusher", {"model": run.artifacts["model"]}, {"pushed_model": ("PushedModel", "")},
         {"destination": "/serving"}, "code-pusher-1", cacheable=False)  # fmt: skip
    return run


@pytest.fixture
def runs(store: MetadataStore) -> tuple[Artifact, Run, Run]:
    raw = store.put_artifact("ExternalData", "/data/taxi.csv", fingerprint="fp-raw")
    run1 = _run(store, "run-1", raw, epochs=10)
    run2 = _run(store, "run-2", raw, epochs=20, previous=run1)
    return raw, run1, run2


def test_the_graph_was_recorded(store: MetadataStore, runs: tuple[Artifact, Run, Run]) -> None:
    _, run1, run2 = runs
    assert run2.artifacts["examples"] == run1.artifacts["examples"]
    assert run2.artifacts["model"] != run1.artifacts["model"]
    assert run2.executions["ExampleGen"].state == "CACHED"
    assert store.producer_of(run1.artifacts["examples"].id) == run1.executions["ExampleGen"]
    pipeline = store.get_context("pipeline", "taxi")
    assert pipeline is not None
    assert [c.name for c in store.contexts(parent_id=pipeline.id)] == ["run-1", "run-2"]


def test_upstream_of_a_model(store: MetadataStore, runs: tuple[Artifact, Run, Run]) -> None:
    raw, run1, _ = runs
    model = run1.artifacts["model"]
    graph = upstream(store, model.id)
    e = run1.executions
    a = run1.artifacts
    assert graph.root == model
    assert graph.direction == "upstream"
    assert set(graph.artifacts) == {raw.id, a["examples"].id, a["transform_graph"].id, model.id}
    assert set(graph.executions) == {e["ExampleGen"].id, e["Transform"].id, e["Trainer"].id}
    assert graph.sources() == [raw]
    assert {k: [x.id for x in v] for k, v in graph.executions_by_type().items()} == {
        "ExampleGen": [e["ExampleGen"].id],
        "Transform": [e["Transform"].id],
        "Trainer": [e["Trainer"].id],
    }
    assert graph.events == [
        Event(e["Trainer"].id, model.id, "OUTPUT", "model"),
        Event(e["Trainer"].id, a["examples"].id, "INPUT", "examples"),
        Event(e["Trainer"].id, a["transform_graph"].id, "INPUT", "transform_graph"),
        Event(e["ExampleGen"].id, a["examples"].id, "OUTPUT", "examples"),
        Event(e["ExampleGen"].id, raw.id, "INPUT", "input_data"),
        Event(e["Transform"].id, a["transform_graph"].id, "OUTPUT", "transform_graph"),
        Event(e["Transform"].id, a["examples"].id, "INPUT", "examples"),
    ]
    as_dict = graph.to_dict()
    json.dumps(as_dict)
    assert as_dict["root_id"] == model.id
    assert [x["id"] for x in as_dict["artifacts"]] == sorted(graph.artifacts)


def test_upstream_of_run_2_goes_through_the_original_producers(
    store: MetadataStore, runs: tuple[Artifact, Run, Run]
) -> None:
    raw, run1, run2 = runs
    graph = upstream(store, run2.artifacts["pushed_model"].id)
    assert set(graph.executions) == {
        run2.executions["Pusher"].id,
        run2.executions["Trainer"].id,
        run1.executions["Transform"].id,  # not run 2's CACHED execution
        run1.executions["ExampleGen"].id,
    }
    assert graph.sources() == [raw]
    assert graph.artifacts_of_type("Model") == [run2.artifacts["model"]]


def test_upstream_max_depth(store: MetadataStore, runs: tuple[Artifact, Run, Run]) -> None:
    _, _, run2 = runs
    pushed = run2.artifacts["pushed_model"]
    one = upstream(store, pushed.id, max_depth=1)
    assert set(one.executions) == {run2.executions["Pusher"].id}
    assert set(one.artifacts) == {pushed.id, run2.artifacts["model"].id}
    assert one.sources() == [run2.artifacts["model"]]
    zero = upstream(store, pushed.id, max_depth=0)
    assert (list(zero.artifacts), zero.executions, zero.events) == ([pushed.id], {}, [])
    assert len(upstream(store, pushed.id, max_depth=2).executions) == 2


def test_upstream_of_a_source(store: MetadataStore, runs: tuple[Artifact, Run, Run]) -> None:
    raw = runs[0]
    graph = upstream(store, raw.id)
    assert (graph.artifacts, graph.executions, graph.events) == ({raw.id: raw}, {}, [])
    assert graph.sources() == [raw]
    with pytest.raises(NotFoundError, match="no artifact with id 999"):
        upstream(store, 999)


def test_downstream_of_the_raw_data(store: MetadataStore, runs: tuple[Artifact, Run, Run]) -> None:
    raw, run1, run2 = runs
    graph = downstream(store, raw.id)
    assert graph.direction == "downstream"
    assert graph.artifacts_of_type("Model") == [run1.artifacts["model"], run2.artifacts["model"]]
    assert graph.artifacts_of_type("PushedModel") == [
        run1.artifacts["pushed_model"],
        run2.artifacts["pushed_model"],
    ]
    every = {x.id for r in (run1, run2) for x in r.executions.values()}
    assert set(graph.executions) == every  # run 2's cached executions read the data too
    assert graph.sources() == [raw]
    assert graph.sinks() == [run1.artifacts["pushed_model"], run2.artifacts["pushed_model"]]
    assert sorted(graph.executions_by_component()) == [
        "ExampleGen",
        "Pusher",
        "Trainer",
        "Transform",
    ]
    json.dumps(graph.to_dict())


def test_downstream_of_a_model(store: MetadataStore, runs: tuple[Artifact, Run, Run]) -> None:
    _, run1, _ = runs
    graph = downstream(store, run1.artifacts["model"].id)
    assert set(graph.executions) == {run1.executions["Pusher"].id}
    assert graph.sinks() == [run1.artifacts["pushed_model"]]
    assert graph.events == [
        Event(run1.executions["Pusher"].id, run1.artifacts["model"].id, "INPUT", "model"),
        Event(
            run1.executions["Pusher"].id,
            run1.artifacts["pushed_model"].id,
            "OUTPUT",
            "pushed_model",
        ),
    ]
    shallow = downstream(store, runs[0].id, max_depth=1)
    assert {x.type for x in shallow.artifacts.values()} == {"ExternalData", "Examples"}


def test_provenance_of_model_version_2(
    store: MetadataStore, runs: tuple[Artifact, Run, Run]
) -> None:
    raw, run1, run2 = runs
    model = run2.artifacts["model"]
    found = provenance(store, model.id)
    json.dumps(found)
    assert found["artifact"] == model.to_dict()
    assert found["sources"] == [
        {
            "id": raw.id,
            "type": "ExternalData",
            "uri": "/data/taxi.csv",
            "name": None,
            "fingerprint": "fp-raw",
        }
    ]
    assert list(found["components"]) == ["ExampleGen", "Transform", "Trainer"]
    trainer = found["components"]["Trainer"]
    assert trainer["execution_id"] == run2.executions["Trainer"].id
    assert trainer["state"] == "COMPLETE"
    assert trainer["parameters"] == {"epochs": 20, "lr": 0.01}
    assert trainer["code_fingerprint"] == "code-trainer-1"
    assert trainer["inputs"] == {
        "examples": [
            {
                "id": run1.artifacts["examples"].id,
                "type": "Examples",
                "uri": "/root/run-1/ExampleGen/examples",
                "name": "ExampleGen.examples",
                "fingerprint": "fp-examples-run-1",
            }
        ],
        "transform_graph": [
            {
                "id": run1.artifacts["transform_graph"].id,
                "type": "TransformGraph",
                "uri": "/root/run-1/Transform/transform_graph",
                "name": "Transform.transform_graph",
                "fingerprint": "fp-transform_graph-run-1",
            }
        ],
    }
    assert found["components"]["ExampleGen"]["parameters"] == {"split": [8, 2]}
    assert found["components"]["Transform"]["code_fingerprint"] == "code-transform-1"
    assert "data_fingerprints" not in trainer
    first = provenance(store, run1.artifacts["model"].id)
    assert first["components"]["Trainer"]["parameters"] == {"epochs": 10, "lr": 0.01}


def test_provenance_without_lineage_properties(store: MetadataStore) -> None:
    data = store.put_artifact("Data", "/d", fingerprint="f")
    out = store.put_artifact("Data", "/o")
    execution = store.record_execution("Copy", inputs={"in": data}, outputs={"out": out})
    found = provenance(store, out.id)
    assert found["components"] == {
        "Copy": {
            "execution_id": execution.id,
            "type": "Copy",
            "state": "COMPLETE",
            "started_at": execution.started_at.isoformat(),
            "finished_at": execution.finished_at.isoformat() if execution.finished_at else None,
            "code_fingerprint": None,
            "parameters": None,
            "inputs": {
                "in": [{"id": data.id, "type": "Data", "uri": "/d", "name": None,
                        "fingerprint": "f"}]
            },
        }
    }  # fmt: skip
    assert provenance(store, data.id)["sources"][0]["id"] == data.id


def test_diff_runs(store: MetadataStore, runs: tuple[Artifact, Run, Run]) -> None:
    _, run1, run2 = runs
    diff = diff_runs(store, "run-1", "run-2")
    assert (diff.run_a, diff.run_b) == ("run-1", "run-2")
    assert diff.parameters == {"epochs": (10, 20)}
    assert list(diff.components) == ["ExampleGen", "Transform", "Trainer", "Pusher"]
    assert diff.changed_components() == ["Trainer", "Pusher"]

    example_gen = diff.components["ExampleGen"]
    assert (example_gen.state_a, example_gen.state_b) == ("COMPLETE", "CACHED")
    assert (example_gen.cached_a, example_gen.cached_b) == (False, True)
    assert example_gen.parameters == {}
    assert example_gen.code_fingerprint is None
    assert example_gen.input_fingerprints == {}
    assert example_gen.output_fingerprints == {}
    assert not example_gen.changed

    trainer = diff.components["Trainer"]
    assert (trainer.execution_a, trainer.execution_b) == (
        run1.executions["Trainer"].id,
        run2.executions["Trainer"].id,
    )
    assert (trainer.state_a, trainer.state_b) == ("COMPLETE", "COMPLETE")
    assert trainer.parameters == {"epochs": (10, 20)}
    assert trainer.code_fingerprint is None
    assert trainer.input_fingerprints == {}
    assert trainer.output_fingerprints == {"model": ("fp-model-run-1", "fp-model-run-2")}

    pusher = diff.components["Pusher"]
    assert pusher.parameters == {}
    assert pusher.input_fingerprints == {"model": ("fp-model-run-1", "fp-model-run-2")}

    assert diff.artifacts == [
        ArtifactChange(
            "Trainer",
            "model",
            run1.artifacts["model"].id,
            run2.artifacts["model"].id,
            "fp-model-run-1",
            "fp-model-run-2",
        ),
        ArtifactChange(
            "Pusher",
            "pushed_model",
            run1.artifacts["pushed_model"].id,
            run2.artifacts["pushed_model"].id,
            "fp-pushed_model-run-1",
            "fp-pushed_model-run-2",
        ),
    ]
    as_dict = diff.to_dict()
    json.dumps(as_dict)
    assert as_dict["parameters"] == {"epochs": {"a": 10, "b": 20}}
    assert as_dict["changed_components"] == ["Trainer", "Pusher"]
    assert as_dict["components"]["Trainer"]["parameters"] == {"epochs": {"a": 10, "b": 20}}
    assert as_dict["components"]["ExampleGen"]["cached_b"] is True


def test_diff_runs_code_change(store: MetadataStore, runs: tuple[Artifact, Run, Run]) -> None:
    raw, _, run2 = runs
    _run(store, "run-3", raw, epochs=20, previous=run2, transform_code="code-transform-2")
    diff = diff_runs(store, "run-2", "run-3")
    assert diff.parameters == {}
    transform = diff.components["Transform"]
    assert (transform.state_a, transform.state_b) == ("CACHED", "COMPLETE")
    assert transform.code_fingerprint == ("code-transform-1", "code-transform-2")
    assert transform.output_fingerprints == {
        "transform_graph": ("fp-transform_graph-run-1", "fp-transform_graph-run-3")
    }
    trainer = diff.components["Trainer"]
    assert trainer.parameters == {}
    assert trainer.input_fingerprints == {
        "transform_graph": ("fp-transform_graph-run-1", "fp-transform_graph-run-3")
    }
    assert diff.changed_components() == ["Transform", "Trainer", "Pusher"]


def test_diff_runs_missing_component_and_unknown_run(
    store: MetadataStore, runs: tuple[Artifact, Run, Run]
) -> None:
    context = store.put_context("run", "partial")
    failed = store.record_execution(
        "ExampleGen",
        contexts=[context],
        properties={"component": "ExampleGen", "parameters": {"split": [8, 2]}},
        state="FAILED",
        error="disk full",
    )
    diff = diff_runs(store, "run-1", "partial")
    assert diff.components["ExampleGen"].execution_b == failed.id
    assert diff.components["ExampleGen"].changed  # COMPLETE vs FAILED
    assert diff.components["Trainer"].execution_b is None
    assert diff.components["Trainer"].state_b is None
    assert diff.components["Trainer"].parameters == {"epochs": (10, None), "lr": (0.01, None)}
    assert diff.changed_components() == ["ExampleGen", "Transform", "Trainer", "Pusher"]
    with pytest.raises(NotFoundError, match=r"no 'run' context named 'nope'.*'run-1'"):
        diff_runs(store, "run-1", "nope")
