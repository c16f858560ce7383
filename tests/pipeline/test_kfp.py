"""Compiling for Kubeflow Pipelines, and running the compiled spec as Kubeflow would.

The YAML is read back with the real kfp SDK; then every task's container command is
executed here, in topological order, with the artifact placeholders replaced by local
directories, and the result compared with the local runner's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tensorbridge.cli.main import cli
from tensorbridge.errors import ConfigError
from tensorbridge.pipeline import Model, Output, component, pipeline, run
from tensorbridge.pipeline.dsl import Pipeline
from tensorbridge.pipeline.fingerprint import directory_fingerprint
from tensorbridge.pipeline.kfp import compile_kfp, component_spec
from tensorbridge.pipeline.loader import load_pipeline

kfp_components = pytest.importorskip("kfp.components")

REPO = Path(__file__).resolve().parents[2]
IMAGE = "registry.example.com/x:1"
ENTRY = ["python", "-m", "tensorbridge.pipeline.kfp_entry"]

FLOW = '''\
"""Ingest -> Count -> Fit, and Report ordered after Fit without data."""

from __future__ import annotations

import json

from tensorbridge.pipeline import (
    Artifact, Examples, ExampleStatistics, Input, Model, Output, component, pipeline,
)


@component
def Ingest(examples: Output[Examples], rows: int = 3) -> None:
    """Write `rows` numbered lines."""
    (examples.path / "rows.txt").write_text("\\n".join(str(i * i) for i in range(rows)))
    examples.metadata["rows"] = rows


@component
def Count(examples: Input[Examples], statistics: Output[ExampleStatistics]) -> None:
    """Count and sum the rows."""
    rows = [int(x) for x in (examples.path / "rows.txt").read_text().splitlines()]
    assert examples.metadata["rows"] == len(rows), examples.metadata  # metadata travels
    (statistics.path / "count.json").write_text(json.dumps({"rows": len(rows), "sum": sum(rows)}))
    statistics.metadata["rows"] = len(rows)


@component
def Fit(
    examples: Input[Examples], statistics: Input[ExampleStatistics],
    baseline: Input[Model] | None, model: Output[Model], epochs: int = 1,
) -> None:
    """A "model": sum * epochs + rows (plus the baseline's weights, if any)."""
    stats = json.loads((statistics.path / "count.json").read_text())
    weights = stats["sum"] * epochs + len((examples.path / "rows.txt").read_text().splitlines())
    if baseline is not None:
        weights += json.loads((baseline.path / "model.json").read_text())["weights"]
    (model.path / "model.json").write_text(json.dumps({"weights": weights}))
    model.metadata["weights"] = weights
    model.metadata["epochs"] = epochs


@component
def Report(report: Output[Artifact], note: str = "") -> None:
    """Write a note."""
    (report.path / "note.txt").write_text(note)


@pipeline(name="kfp_flow")
def flow(rows: int = 3, epochs: int = 2) -> None:
    ingest = Ingest(rows=rows)
    count = Count(examples=ingest.outputs["examples"])
    fit = Fit(examples=ingest.outputs["examples"], statistics=count.outputs["statistics"],
              epochs=epochs)
    Report(note=f"epochs={epochs}").after(fit)
'''

PLACEHOLDER = re.compile(r"\{\{\$\.(inputs|outputs)\.artifacts\['([^']+)'\]\.path\}\}")


@pytest.fixture(scope="module")
def flow_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kfp") / "kfp_flow.py"
    path.write_text(FLOW)
    return path


@pytest.fixture(scope="module")
def flow(flow_file: Path) -> Pipeline:
    return load_pipeline(str(flow_file))


def _kfp_name(task: str) -> str:
    return task.lower().replace("_", "-")


def _executor(spec: dict[str, Any], task: str) -> dict[str, Any]:
    component = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]]
    container: dict[str, Any] = spec["deploymentSpec"]["executors"][component["executorLabel"]][
        "container"
    ]
    return container


def _topological(tasks: dict[str, Any]) -> list[str]:
    waiting = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    order: list[str] = []
    while waiting:
        ready = sorted(name for name, deps in waiting.items() if not deps)
        assert ready, f"the compiled DAG has a cycle: {waiting}"
        for name in ready:
            order.append(name)
            del waiting[name]
            for deps in waiting.values():
                deps.discard(name)
    return order


def test_compiled_spec_loads_in_the_kfp_sdk(flow: Pipeline, tmp_path: Path) -> None:
    graph = flow.build({"rows": 4, "epochs": 3})
    written = compile_kfp(graph, tmp_path / "out" / "pipeline.yaml", image=IMAGE)
    assert written == tmp_path / "out" / "pipeline.yaml"
    assert [p.name for p in written.parent.iterdir()] == ["pipeline.yaml"]  # nothing staged

    loaded = kfp_components.load_component_from_file(str(written))
    assert loaded.name == "kfp-flow"
    dag = loaded.pipeline_spec.root.dag.tasks
    assert sorted(dag) == ["count", "fit", "ingest", "report"]
    assert sorted(dag) == sorted(_kfp_name(t.name) for t in graph.tasks)
    for task in graph.tasks:  # dependencies follow the wiring, .after() included
        expected = sorted(_kfp_name(u.name) for u in task.upstream)
        assert sorted(dag[_kfp_name(task.name)].dependent_tasks) == expected
    assert sorted(dag["fit"].dependent_tasks) == ["count", "ingest"]
    assert list(dag["report"].dependent_tasks) == ["fit"]
    assert list(dag["ingest"].dependent_tasks) == []
    wired = dag["fit"].inputs.artifacts["statistics"].task_output_artifact
    assert (wired.producer_task, wired.output_artifact_key) == ("count", "statistics")
    assert "baseline" not in dag["fit"].inputs.artifacts  # an unwired optional input

    spec = yaml.safe_load(written.read_text())
    schemas = {
        (name, key): info["artifactType"]["schemaTitle"]
        for name, comp in spec["components"].items()
        for key, info in comp.get("outputDefinitions", {}).get("artifacts", {}).items()
    }
    assert schemas == {
        ("comp-ingest", "examples"): "system.Dataset",
        ("comp-count", "statistics"): "system.Artifact",
        ("comp-fit", "model"): "system.Model",
        ("comp-report", "report"): "system.Artifact",
    }
    for task in graph.tasks:
        container = _executor(spec, _kfp_name(task.name))
        assert container["image"] == IMAGE
        assert container["command"] == ENTRY
        args = container["args"]
        assert args[:2] == ["--component", f"kfp_flow:{task.component.name}"]
        assert args[2] == "--parameters" and json.loads(args[3]) == task.arguments
        ports = [args[i + 1] for i, a in enumerate(args) if a in ("--input", "--output")]
        assert ports == [
            *(f"{k}:{r.artifact_type.type_name}" for k, r in task.inputs.items()),
            *(f"{k}:{p.artifact_type.type_name}" for k, p in task.component.outputs.items()),
        ]
    assert json.loads(_executor(spec, "fit")["args"][3]) == {"epochs": 3}
    assert json.loads(_executor(spec, "ingest")["args"][3]) == {"rows": 4}
    assert json.loads(_executor(spec, "report")["args"][3]) == {"note": "epochs=3"}


def test_the_cli_compiles_the_same_spec(flow: Pipeline, flow_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "cli.yaml"
    args = ["compile", str(flow_file), "--to", "kfp", "-o", str(target), "--image", IMAGE]
    result = CliRunner().invoke(cli, [*args, "--param", "epochs=5"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"Kubeflow pipeline kfp_flow (4 steps) written to {target}" in result.stderr
    direct = compile_kfp(flow.build({"epochs": 5}), tmp_path / "api.yaml", image=IMAGE)
    assert yaml.safe_load(target.read_text()) == yaml.safe_load(direct.read_text())
    loaded = kfp_components.load_component_from_file(str(target))
    assert len(loaded.pipeline_spec.root.dag.tasks) == 4

    for bad in (["--to", "argo"], ["--image", IMAGE]):  # an unknown target; no -o
        base = ["compile", str(flow_file), "--image", IMAGE, "-o", str(tmp_path / "x.yaml")]
        command = [*base, *bad] if bad[0] == "--to" else ["compile", str(flow_file), *bad]
        assert CliRunner().invoke(cli, command).exit_code == 2
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize("image", ["", "   ", "registry.example.com/x:1 --privileged", "a\tb"])
def test_an_image_must_be_named(flow: Pipeline, tmp_path: Path, image: str) -> None:
    with pytest.raises(ConfigError, match="image must name a container image"):
        compile_kfp(flow.build(), tmp_path / "p.yaml", image=image)
    assert not list(tmp_path.iterdir())


@component
def Blank(model: Output[Model]) -> None:
    """ """


@pipeline(name="blank_doc")
def blank_doc() -> None:
    Blank()


def test_a_blank_docstring_compiles(tmp_path: Path) -> None:
    assert component_spec(blank_doc.build().tasks[0], IMAGE)["description"] == "Blank"
    written = compile_kfp(blank_doc.build(), tmp_path / "p.yaml", image=IMAGE)
    loaded = kfp_components.load_component_from_file(str(written))
    assert list(loaded.pipeline_spec.root.dag.tasks) == ["blank"]


def _run_like_kubeflow(spec: dict[str, Any], work: Path, pythonpath: Path) -> dict[str, Path]:
    """Execute every task's container command; returns (task, output) -> directory."""
    tasks = spec["root"]["dag"]["tasks"]
    produced: dict[str, Path] = {}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pythonpath), str(REPO / "src")])}
    for name in _topological(tasks):
        container = _executor(spec, name)
        assert container["command"][0] == "python"
        args: list[str] = []
        for arg in container["args"]:
            match = PLACEHOLDER.fullmatch(arg)
            if match is None:
                assert "{{" not in arg, arg  # a placeholder this test does not know
                args.append(arg)
            elif match[1] == "outputs":
                path = work / name / match[2]  # not created: the entry point must
                produced[f"{name}.{match[2]}"] = path
                args.append(str(path))
            else:
                source = tasks[name]["inputs"]["artifacts"][match[2]]["taskOutputArtifact"]
                args.append(
                    str(produced[f"{source['producerTask']}.{source['outputArtifactKey']}"])
                )
        result = subprocess.run(
            [sys.executable, *container["command"][1:], *args],
            capture_output=True,
            text=True,
            cwd=work,
            env=env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{name}: {result.stderr}"
    return produced


def test_the_compiled_spec_runs_like_the_local_runner(
    flow: Pipeline, flow_file: Path, tmp_path: Path
) -> None:
    parameters = {"rows": 5, "epochs": 3}
    target = compile_kfp(flow.build(parameters), tmp_path / "pipeline.yaml", image=IMAGE)
    spec = yaml.safe_load(target.read_text())
    work = tmp_path / "kubeflow"
    work.mkdir()
    produced = _run_like_kubeflow(spec, work, flow_file.parent)
    assert sorted(produced) == [
        "count.statistics",
        "fit.model",
        "ingest.examples",
        "report.report",
    ]

    local = run(flow, parameters=parameters, root=tmp_path / "local", isolation="inline")
    assert local.executed == ["Ingest", "Count", "Fit", "Report"]
    # rows 0, 1, 4, 9, 16: sum 30, times 3 epochs, plus 5 rows.
    model = json.loads((produced["fit.model"] / "model.json").read_text())
    assert model == {"weights": 95}
    assert (local.output("Fit", "model").path / "model.json").read_text() == (
        produced["fit.model"] / "model.json"
    ).read_text()
    assert (produced["report.report"] / "note.txt").read_text() == "epochs=3"
    names = {_kfp_name(task): task for task in local.tasks}
    for key, folder in produced.items():
        kfp_task, output = key.split(".")
        handle = local.output(names[kfp_task], output)
        info = json.loads((folder / "artifact.json").read_text())
        local_info = json.loads((handle.path / "artifact.json").read_text())
        assert info["type"] == local_info["type"] == handle.type_name
        assert info["properties"] == local_info["properties"], key
        assert info["producer"] == {"kubeflow": True, "component": f"kfp_flow:{names[kfp_task]}"}
        assert directory_fingerprint(folder) == local_info["fingerprint"], key  # same payload
    assert json.loads((produced["fit.model"] / "artifact.json").read_text())["properties"] == {
        "weights": 95,
        "epochs": 3,
    }


_TAXI_COMPILE = textwrap.dedent(
    """
    import json, sys
    from tensorbridge.pipeline.kfp import compile_kfp, component_spec
    from tensorbridge.pipeline.loader import load_pipeline

    pipeline = load_pipeline("examples/chicago_taxi/taxi_pipeline.py")
    compile_kfp(pipeline.build({"epochs": 3}), sys.argv[1], image="registry.example.com/taxi:1.0")
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
    print(json.dumps({"tensorflow": "tensorflow" in sys.modules, "heavy": heavy[:5]}))
    """
)


def test_the_taxi_pipeline_compiles_without_tensorflow(tmp_path: Path) -> None:
    target = tmp_path / "taxi.yaml"
    result = subprocess.run(
        [sys.executable, "-c", _TAXI_COMPILE, str(target)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"tensorflow": False, "heavy": []}

    loaded = kfp_components.load_component_from_file(str(target))
    assert loaded.name == "chicago-taxi"
    dag = loaded.pipeline_spec.root.dag.tasks
    assert len(dag) == 9
    depends = {name: sorted(task.dependent_tasks) for name, task in dag.items()}
    assert depends == {
        "examplegen": [],
        "statisticsgen": ["examplegen"],
        "schemagen": ["statisticsgen"],
        "examplevalidator": ["schemagen", "statisticsgen"],
        "transform": ["examplegen"],
        "trainer": ["examplegen", "statisticsgen", "transform"],
        "evaluator": ["examplegen", "trainer", "transform"],
        "infravalidator": ["examplegen", "trainer"],
        "pusher": ["evaluator", "infravalidator", "trainer"],
    }
    spec = yaml.safe_load(target.read_text())
    trainer = _executor(spec, "trainer")
    assert trainer["image"] == "registry.example.com/taxi:1.0" and trainer["command"] == ENTRY
    assert trainer["args"][1].endswith(":Trainer")
    assert json.loads(trainer["args"][3])["epochs"] == 3
    for name in dag:
        assert _executor(spec, name)["command"] == ENTRY


def test_components_of_a_script_run_as_main_are_refused(tmp_path: Path) -> None:
    graph = blank_doc.build()
    component = graph.tasks[0].component
    original = component.reference
    component.reference = "__main__:Blank"  # as if the file had been run as a script
    try:
        with pytest.raises(ConfigError, match="run as __main__, which a container cannot"):
            compile_kfp(graph, tmp_path / "p.yaml", image=IMAGE)
    finally:
        component.reference = original
    assert not (tmp_path / "p.yaml").exists()
