"""The local runner: real worker processes, a real SQLite store, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tensorbridge.errors import PipelineRunError
from tensorbridge.metadata import MetadataStore
from tensorbridge.pipeline import (
    DataPath,
    Examples,
    ExampleStatistics,
    Input,
    Model,
    Output,
    component,
    pipeline,
    run,
)


@component
def Ingest(examples: Output[Examples], source: DataPath, repeat: int = 1) -> None:
    """Copy the lines of `source`, `repeat` times."""
    lines = Path(source).read_text().splitlines() * repeat
    (examples.path / "rows.txt").write_text("\n".join(lines))
    examples.metadata["rows"] = len(lines)


@component
def Count(examples: Input[Examples], statistics: Output[ExampleStatistics]) -> None:
    """Count the rows."""
    rows = (examples.path / "rows.txt").read_text().splitlines()
    (statistics.path / "count.json").write_text(json.dumps({"rows": len(rows)}))
    statistics.metadata["rows"] = len(rows)
    assert examples.metadata["rows"] == len(rows)


@component
def Fit(
    examples: Input[Examples], statistics: Input[ExampleStatistics], model: Output[Model],
    epochs: int = 1, fail: bool = False,
) -> None:  # fmt: skip
    """A "model": the row count times epochs."""
    (model.path / "partial.bin").write_text("half")
    if fail:
        raise ValueError(f"cannot fit with epochs={epochs}")
    rows = json.loads((statistics.path / "count.json").read_text())["rows"]
    (model.path / "model.json").write_text(json.dumps({"weights": rows * epochs}))
    model.metadata["epochs"] = epochs


@component
def Sleep(model: Output[Model], seconds: float = 1.0, tag: str = "") -> None:
    """Record when it started and stopped."""
    started = time.time()
    time.sleep(seconds)
    (model.path / "times.json").write_text(json.dumps([started, time.time()]))


@pipeline(name="toy")
def toy(source: str = "", epochs: int = 1, repeat: int = 1, fail: bool = False) -> None:
    ingest = Ingest(source=source, repeat=repeat)
    count = Count(examples=ingest.outputs["examples"])
    Fit(examples=ingest.outputs["examples"], statistics=count.outputs["statistics"],
        epochs=epochs, fail=fail)  # fmt: skip


@pipeline(name="parallel")
def parallel() -> None:
    Sleep(tag="a")
    Sleep(tag="b")


@pipeline(name="slow")
def slow() -> None:
    first = Sleep(seconds=60.0)
    Sleep(seconds=60.0, tag="after").after(first)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "data.txt"
    path.write_text("a\nb\nc\n")
    return path


def _weights(result: object) -> int:
    model = result.output("Fit", "model")  # type: ignore[attr-defined]
    return int(json.loads((model.path / "model.json").read_text())["weights"])


def test_run_records_everything_and_reuses_the_cache(source: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = run(toy, parameters={"source": str(source)}, root=root)
    assert first.state == "COMPLETE"
    assert first.executed == ["Ingest", "Count", "Fit"]
    assert _weights(first) == 3
    model = first.output("Fit", "model")
    info = json.loads((model.path / "artifact.json").read_text())
    assert info["type"] == "Model" and info["properties"] == {"epochs": 1}
    assert info["producer"]["task"] == "Fit" and len(info["fingerprint"]) == 64
    assert "partial.bin" in os.listdir(model.path)
    assert not [p for p in root.rglob(".tmp-*")]  # no temporary directory left

    second = run(toy, parameters={"source": str(source)}, root=root)
    assert second.cached == ["Ingest", "Count", "Fit"] and second.executed == []
    assert second.output("Fit", "model").uri == model.uri

    # A parameter change re-runs only that task (and what follows it).
    third = run(toy, parameters={"source": str(source), "epochs": 4}, root=root)
    assert third.cached == ["Ingest", "Count"] and third.executed == ["Fit"]
    assert _weights(third) == 12

    # Changed input data invalidates the first task, and so everything after it.
    source.write_text("a\nb\nc\nd\n")
    fourth = run(toy, parameters={"source": str(source)}, root=root)
    assert fourth.executed == ["Ingest", "Count", "Fit"] and _weights(fourth) == 4

    store = MetadataStore(root / "metadata.sqlite")
    runs = store.contexts(type="run")
    assert len(runs) == 4
    assert {r.properties["state"] for r in runs} == {"COMPLETE"}
    executions = store.executions(context_id=store.get_context("run", second.run_id).id)
    assert sorted(e.state for e in executions) == ["CACHED", "CACHED", "CACHED"]
    fit = next(e for e in executions if e.properties["task"] == "Fit")
    assert sorted(store.inputs_of(fit.id)) == ["examples", "statistics"]
    assert store.outputs_of(fit.id)["model"][0].uri == model.uri
    store.close()


def test_failure_names_the_component_and_resume_skips_done_work(
    source: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    with pytest.raises(PipelineRunError) as err:
        run(toy, parameters={"source": str(source), "fail": True, "epochs": 7}, root=root)
    message = str(err.value)
    assert message.startswith("Component Fit (test_runner:Fit) failed in run ")
    assert "ValueError: cannot fit with epochs=7" in message
    assert "inputs: examples=" in message and "statistics=" in message
    assert 'raise ValueError(f"cannot fit with epochs={epochs}")' in message  # the traceback
    assert err.value.component == "Fit"
    assert Path(err.value.log_path or "").read_text().count("ValueError") >= 1
    assert not list((root / "artifacts" / "Fit").rglob("partial.bin"))  # nothing half-written

    store = MetadataStore(root / "metadata.sqlite")
    failed_run = store.get_context("run", err.value.run_id)
    assert failed_run.properties["state"] == "FAILED"
    states = {e.properties["task"]: e.state for e in store.executions(context_id=failed_run.id)}
    assert states == {"Ingest": "COMPLETE", "Count": "COMPLETE", "Fit": "FAILED"}
    store.close()

    resumed = run(toy, parameters={"source": str(source), "epochs": 7}, root=root)
    assert resumed.cached == ["Ingest", "Count"] and resumed.executed == ["Fit"]
    assert _weights(resumed) == 21


@component
def Crash(model: Output[Model]) -> None:
    """Die half-way, like an out-of-memory kill: no exception, no cleanup."""
    (model.path / "weights.bin").write_text("half")
    os._exit(9)


@pipeline(name="crash")
def crash() -> None:
    Crash()


def test_a_killed_worker_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with pytest.raises(PipelineRunError, match="exited with code 9 without a result"):
        run(crash, root=root)
    assert not list(root.rglob("weights.bin"))
    store = MetadataStore(root / "metadata.sqlite")
    assert store.artifacts() == []
    assert [e.state for e in store.executions()] == ["FAILED"]
    store.close()


def test_independent_tasks_run_in_parallel(tmp_path: Path) -> None:
    result = run(parallel, root=tmp_path / "root", max_parallel=2)
    (a_start, a_end), (b_start, b_end) = (
        json.loads((result.output(name, "model").path / "times.json").read_text())
        for name in ("Sleep", "Sleep_2")
    )
    assert a_start < b_end and b_start < a_end  # the two sleeps overlapped


def test_inline_isolation_and_no_cache(source: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = run(toy, parameters={"source": str(source)}, root=root, isolation="inline")
    assert first.executed == ["Ingest", "Count", "Fit"]
    again = run(toy, parameters={"source": str(source)}, root=root, cache=False)
    assert again.executed == ["Ingest", "Count", "Fit"]
    assert again.output("Fit", "model").uri != first.output("Fit", "model").uri


def test_two_runs_at_once_share_one_store(source: Path, tmp_path: Path) -> None:
    """Two OS processes run the pipeline against one root and store at the same time."""
    root = tmp_path / "root"
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from test_runner import toy; from tensorbridge.pipeline import run;"
        "r = run(toy, parameters={'source': sys.argv[2], 'epochs': int(sys.argv[3])},"
        " root=sys.argv[4]); print(r.run_id)"
    )
    here = str(Path(__file__).parent)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, here, str(source), str(epochs), str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for epochs in (2, 5)
    ]
    outcomes = [p.communicate(timeout=240) for p in processes]
    for process, (_out, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, err[-3000:]
    run_ids = [out.strip().splitlines()[-1] for out, _ in outcomes]

    store = MetadataStore(root / "metadata.sqlite")
    runs = {c.name: c for c in store.contexts(type="run")}
    assert sorted(runs) == sorted(run_ids)
    weights = {}
    for run_id in run_ids:
        executions = store.executions(context_id=runs[run_id].id)
        assert runs[run_id].properties["state"] == "COMPLETE"
        assert sorted(e.properties["task"] for e in executions) == ["Count", "Fit", "Ingest"]
        fit = next(e for e in executions if e.properties["task"] == "Fit")
        model = store.outputs_of(fit.id)["model"][0]
        weights[fit.properties["parameters"]["epochs"]] = json.loads(
            (Path(model.uri) / "model.json").read_text()
        )["weights"]
    assert weights == {2: 6, 5: 15}
    # Every artifact the store knows is complete on disk, and no temporary directory is left.
    for artifact in store.artifacts():
        if artifact.type == "ExternalData":  # the source file itself
            assert artifact.uri == str(source) and artifact.name == "data.txt"
            continue
        assert (Path(artifact.uri) / "artifact.json").is_file()
    assert not list(root.rglob(".tmp-*"))
    store.close()


def test_the_source_data_is_an_artifact_lineage_starts_from(source: Path, tmp_path: Path) -> None:
    from tensorbridge.metadata import lineage

    root = tmp_path / "root"
    first = run(toy, parameters={"source": str(source)}, root=root, isolation="inline")
    store = MetadataStore(root / "metadata.sqlite")
    (data,) = store.artifacts(type="ExternalData")
    assert data.uri == str(source.resolve()) and len(data.fingerprint or "") == 64
    downstream = lineage.downstream(store, data.id)
    model_id = first.output("Fit", "model").artifact_id
    assert model_id in downstream.artifacts
    assert lineage.provenance(store, model_id)["sources"][0]["uri"] == data.uri
    # The same file, unchanged: the same artifact; rewritten: a new version of it.
    run(toy, parameters={"source": str(source)}, root=root, isolation="inline")
    assert len(store.artifacts(type="ExternalData")) == 1
    source.write_text("x\ny\n")
    run(toy, parameters={"source": str(source)}, root=root, isolation="inline")
    assert len(store.artifacts(type="ExternalData", uri=data.uri)) == 2
    store.close()


def test_ctrl_c_cancels_the_run_and_the_running_component(tmp_path: Path) -> None:
    root = tmp_path / "root"
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from test_runner import slow;"
        "from tensorbridge.pipeline import run; run(slow, root=sys.argv[2])"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(Path(__file__).parent), str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    log = root / "runs"
    deadline = time.time() + 60
    while not list(log.glob("*/logs/Sleep.log")) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the worker is inside Sleep's minute-long time.sleep
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)  # not the 60 s of the sleep
    assert process.returncode != 0, output
    assert "Sleep canceled" in output
    store = MetadataStore(root / "metadata.sqlite")
    (run_context,) = store.contexts(type="run")
    assert run_context.properties["state"] == "CANCELED"
    assert [e.state for e in store.executions()] == ["CANCELED"]  # Sleep_2 never started
    assert store.artifacts() == [] and not list(root.rglob("times.json"))
    store.close()
