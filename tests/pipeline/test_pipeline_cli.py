"""``tensorbridge run`` and the metadata commands, on a pipeline file like a user's.

One module-scoped history (a process run, a cached run, a run with a changed
parameter) feeds the ``runs``, ``artifacts`` and ``lineage`` tests; failures get their
own store.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tensorbridge.cli.main import cli, main

FLOW = '''\
"""A toy pipeline: Ingest -> Count (scaled by n) -> Fit."""

from __future__ import annotations

import json
import os

from tensorbridge.pipeline import (
    Examples, ExampleStatistics, Input, Model, Output, component, pipeline,
)


@component
def Ingest(examples: Output[Examples], rows: int = 3) -> None:
    """Write `rows` numbered lines."""
    (examples.path / "rows.txt").write_text("\\n".join(str(i) for i in range(rows)))
    examples.metadata["rows"] = rows
    examples.metadata["pid"] = os.getpid()


@component
def Count(examples: Input[Examples], statistics: Output[ExampleStatistics], n: int = 2) -> None:
    """Count the rows, times n."""
    rows = (examples.path / "rows.txt").read_text().splitlines()
    assert examples.metadata["rows"] == len(rows)
    (statistics.path / "count.json").write_text(json.dumps({"scaled": len(rows) * n}))
    statistics.metadata["pid"] = os.getpid()


@component
def Fit(
    examples: Input[Examples], statistics: Input[ExampleStatistics], model: Output[Model],
    epochs: int = 1, fail: bool = False,
) -> None:
    """A "model": the scaled count times epochs."""
    if fail:
        raise ValueError(f"cannot fit with epochs={epochs}")
    scaled = json.loads((statistics.path / "count.json").read_text())["scaled"]
    (model.path / "model.json").write_text(json.dumps({"weights": scaled * epochs}))
    (model.path / "saved_model.pb").write_bytes(b"not really a SavedModel")
    model.metadata["weights"] = scaled * epochs
    model.metadata["pid"] = os.getpid()


@pipeline(name="cli_flow")
def flow(rows: int = 3, n: int = 2, epochs: int = 1, fail: bool = False) -> None:
    ingest = Ingest(rows=rows)
    count = Count(examples=ingest.outputs["examples"], n=n)
    Fit(examples=ingest.outputs["examples"], statistics=count.outputs["statistics"],
        epochs=epochs, fail=fail)
'''

_RUN_ID = re.compile(r"Pipeline cli_flow run (\S+): 3 tasks")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TENSORBRIDGE_METADATA"}
    env["COLUMNS"] = "200"
    return env


def _subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tensorbridge", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(),
        timeout=180,
        check=False,
    )


def invoke(*args: str) -> Result:
    """Run a command that must succeed, in this process."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def fails(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the real entry point (error formatting included); its exit code and stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(args))
    code = info.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().err


@dataclass
class History:
    """Three runs of FLOW into one store: process, all cached, then --param n=5."""

    flow: Path
    root: Path
    store: Path
    runs: list[str]  # oldest first
    first_stderr: str

    def json(self, *args: str) -> Any:
        return json.loads(invoke(*args, "--metadata", str(self.store), "--json").stdout)

    def table(self, *args: str) -> str:
        return invoke(*args, "--metadata", str(self.store)).stdout


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    base = tmp_path_factory.mktemp("cli")
    flow = base / "flows" / "cli_flow.py"
    flow.parent.mkdir()
    flow.write_text(FLOW)
    root = base / "root"
    # The default: every component in its own worker process; the store in the root.
    first = _subprocess("run", str(flow), "--root", str(root), "--max-parallel", "2", cwd=base)
    assert first.returncode == 0, first.stderr
    store = root / "metadata.sqlite"
    assert store.is_file()
    run_ids = [_RUN_ID.search(first.stderr).group(1)]  # type: ignore[union-attr]
    for extra in ([], ["--param", "n=5"]):
        result = invoke(
            "run", str(flow), "--root", str(root), "--metadata", str(store), "--inline", *extra
        )
        run_ids.append(_RUN_ID.search(result.stderr).group(1))  # type: ignore[union-attr]
    return History(flow, root, store, run_ids, first.stderr)


def _steps(details: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["task"]: step for step in details["steps"]}


def _output(step: dict[str, Any], name: str) -> dict[str, Any]:
    (output,) = step["outputs"][name]
    return output


def _weights(uri: str) -> int:
    return int(json.loads((Path(uri) / "model.json").read_text())["weights"])


def test_process_run_then_cache_then_a_changed_parameter(history: History) -> None:
    first, second, third = history.runs
    assert len(set(history.runs)) == 3
    for task in ("Ingest", "Count", "Fit"):
        assert f"{task} done in" in history.first_stderr
        log = history.root / "runs" / first / "logs" / f"{task}.log"
        assert log.is_file()

    listed = history.json("runs", "list")
    assert [r["run_id"] for r in listed] == [third, second, first]  # newest first
    counts = {r["run_id"]: (r["executed"], r["cached"], r["failed"]) for r in listed}
    assert counts == {first: (3, 0, 0), second: (0, 3, 0), third: (2, 1, 0)}
    assert {(r["pipeline"], r["state"]) for r in listed} == {("cli_flow", "COMPLETE")}

    ran = _steps(history.json("runs", "show", first))
    cached = _steps(history.json("runs", "show", second))
    changed = _steps(history.json("runs", "show", third))
    assert {t: s["state"] for t, s in ran.items()} == dict.fromkeys(ran, "COMPLETE")
    assert list(ran) == ["Ingest", "Count", "Fit"]
    assert {t: s["state"] for t, s in cached.items()} == dict.fromkeys(ran, "CACHED")
    for task in ran:  # each cached step names the execution it reused, and its outputs
        assert cached[task]["cached_from"] == ran[task]["execution_id"]
        assert cached[task]["outputs"] == ran[task]["outputs"]
    assert {t: s["state"] for t, s in changed.items()} == {
        "Ingest": "CACHED",
        "Count": "COMPLETE",
        "Fit": "COMPLETE",
    }
    assert changed["Count"]["parameters"] == {"n": 5}
    assert changed["Fit"]["inputs"]["statistics"] == [
        _output(changed["Count"], "statistics")["uri"]
    ]
    assert _weights(_output(ran["Fit"], "model")["uri"]) == 3 * 2
    assert _weights(_output(changed["Fit"], "model")["uri"]) == 3 * 5

    # The process run ran each component in its own worker; --inline ran Count here.
    pids = {
        task: history.json("artifacts", "show", str(_output(ran[task], name)["id"]))["properties"][
            "pid"
        ]
        for task, name in (("Ingest", "examples"), ("Count", "statistics"), ("Fit", "model"))
    }
    assert len(set(pids.values())) == 3 and os.getpid() not in pids.values()
    inline = history.json("artifacts", "show", str(_output(changed["Count"], "statistics")["id"]))
    assert inline["properties"]["pid"] == os.getpid()


def test_runs_tables(history: History) -> None:
    first, second, _ = history.runs
    listing = history.table("runs", "list")
    assert "3 runs" in listing
    assert all(run_id in listing for run_id in history.runs)
    shown = history.table("runs", "show", second)
    assert f"Run {second} of cli_flow: COMPLETE" in shown
    assert shown.count("CACHED (from #") == 3
    ingest_from = _steps(history.json("runs", "show", first))["Ingest"]["execution_id"]
    assert f"CACHED (from #{ingest_from})" in shown


def test_runs_diff(history: History) -> None:
    first, second, third = history.runs
    diff = history.json("runs", "diff", first, third)
    assert diff["run_a"] == first and diff["run_b"] == third
    assert diff["parameters"] == {"n": {"a": 2, "b": 5}}
    assert diff["changed_components"] == ["Count", "Fit"]
    count, fit, ingest = (diff["components"][c] for c in ("Count", "Fit", "Ingest"))
    assert count["parameters"] == {"n": {"a": 2, "b": 5}}
    assert (ingest["state_a"], ingest["state_b"], ingest["changed"]) == (
        "COMPLETE",
        "CACHED",
        False,
    )
    assert fit["parameters"] == {} and list(fit["input_fingerprints"]) == ["statistics"]
    assert sorted((a["component"], a["name"]) for a in diff["artifacts"]) == [
        ("Count", "statistics"),
        ("Fit", "model"),
    ]
    same = history.json("runs", "diff", first, second)
    assert same["parameters"] == {} and same["changed_components"] == []

    table = history.table("runs", "diff", first, third)
    assert "parameter n: 2 -> 5" in table
    assert "n: 2 -> 5" in table.split("parameter n: 2 -> 5", 1)[1]  # Count's row too
    assert "input statistics" in table and "output model" in table


def test_artifacts_list_and_show(history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, third = history.runs
    everything = history.json("artifacts", "list")
    assert sorted(a["name"] for a in everything) == [
        "Count.statistics",
        "Count.statistics",
        "Fit.model",
        "Fit.model",
        "Ingest.examples",
    ]
    models = history.json("artifacts", "list", "--type", "Model")
    assert [m["name"] for m in models] == ["Fit.model", "Fit.model"]
    assert [_weights(m["uri"]) for m in models] == [15, 6]  # newest first
    assert all(len(m["fingerprint"]) == 64 and m["state"] == "LIVE" for m in models)
    (examples,) = history.json("artifacts", "list", "--type", "Examples")
    assert history.json("artifacts", "list", "--type", "Examples", "--run", third) == [examples]

    shown = history.json("artifacts", "show", str(examples["id"]))
    assert shown["uri"] == examples["uri"] and shown["properties"]["rows"] == 3
    assert shown["producer"]["task"] == "Ingest" and shown["producer"]["run_id"] == first
    assert shown["producer"]["state"] == "COMPLETE"
    assert [(c["task"], c["run_id"], c["state"]) for c in shown["consumers"]] == [
        ("Count", first, "COMPLETE"),
        ("Fit", first, "COMPLETE"),
        ("Count", second, "CACHED"),
        ("Fit", second, "CACHED"),
        ("Count", third, "COMPLETE"),
        ("Fit", third, "COMPLETE"),
    ]

    # By its directory, relative to the working directory, as a table.
    monkeypatch.chdir(history.root)
    relative = os.path.relpath(examples["uri"], history.root)
    table = history.table("artifacts", "show", relative)
    assert f"Artifact {examples['id']}" in table and "Ingest.examples" in table
    assert f"Ingest (execution {shown['producer']['execution_id']}, run {first}, COMPLETE)" in table
    assert table.count("used by") == 6
    listing = history.table("artifacts", "list", "--type", "Model")
    assert "2 artifacts" in listing
    assert all(str(m["id"]) in listing and "Fit.model" in listing for m in models)


def test_a_pushed_version_names_its_model(history: History, tmp_path: Path) -> None:
    from tensorbridge.push import push_model

    newest = history.json("artifacts", "list", "--type", "Model")[0]
    pushed = push_model(newest["uri"], tmp_path / "models", "toy", force=True, reason="test")
    assert (pushed.path / "push.json").is_file()
    shown = history.json("artifacts", "show", str(pushed.path))
    assert shown["id"] == newest["id"] and shown["properties"]["weights"] == 15
    assert history.json("lineage", str(pushed.path))["artifact"]["id"] == newest["id"]


def test_lineage_upstream_and_downstream(history: History) -> None:
    third = history.runs[2]
    changed = _steps(history.json("runs", "show", third))
    model = _output(changed["Fit"], "model")
    statistics = _output(changed["Count"], "statistics")
    examples = _output(changed["Ingest"], "examples")

    provenance = history.json("lineage", str(model["id"]))
    assert provenance["artifact"]["id"] == model["id"]
    assert provenance["artifact"]["properties"]["weights"] == 15
    components = provenance["components"]
    assert list(components) == ["Ingest", "Count", "Fit"]
    assert components["Ingest"]["parameters"] == {"rows": 3}
    assert components["Count"]["parameters"] == {"n": 5}
    assert components["Fit"]["parameters"] == {"epochs": 1, "fail": False}
    assert {k: [a["id"] for a in v] for k, v in components["Fit"]["inputs"].items()} == {
        "examples": [examples["id"]],
        "statistics": [statistics["id"]],
    }
    assert all(len(c["code_fingerprint"]) == 64 for c in components.values())
    assert provenance["sources"] == []  # no external data: Ingest makes its rows

    table = history.table("lineage", str(model["id"]))
    assert f"Model {model['id']}" in table and "Made by" in table
    assert "n=5" in table and "epochs=1" in table and "rows=3" in table

    down = history.json("lineage", str(examples["id"]), "--downstream")
    assert down["root_id"] == examples["id"] and down["direction"] == "downstream"
    found = {a["id"]: a["name"] for a in down["artifacts"]}
    assert sorted(found.values()) == [
        "Count.statistics",
        "Count.statistics",
        "Fit.model",
        "Fit.model",
        "Ingest.examples",
    ]
    assert model["id"] in found and statistics["id"] in found
    assert sorted(e["properties"]["task"] for e in down["executions"]) == [
        "Count",
        "Count",
        "Count",
        "Fit",
        "Fit",
        "Fit",
    ]
    table = history.table("lineage", str(examples["id"]), "--downstream")
    assert f"Made from artifact {examples['id']}" in table
    assert table.count("Fit.model") == 2 and "Ingest.examples" not in table


def test_unknown_names_fail_clearly(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(history.store)
    code, err = fails(capsys, "runs", "show", "no-such-run", "--metadata", store)
    assert code == 1 and "No run 'no-such-run' in the store" in err
    code, err = fails(capsys, "runs", "diff", "no-such-run", history.runs[0], "--metadata", store)
    assert code == 1 and "no-such-run" in err and "NotFoundError" in err
    code, err = fails(capsys, "artifacts", "show", "/no/such/artifact", "--metadata", store)
    assert code == 1 and "No artifact with id or path '/no/such/artifact'" in err
    code, err = fails(capsys, "artifacts", "show", "987654", "--metadata", store)
    assert code == 1 and "There is no artifact with id 987654" in err
    code, err = fails(capsys, "artifacts", "list", "--run", "no-such-run", "--metadata", store)
    assert code == 1 and "No run 'no-such-run'" in err
    missing = str(history.root / "missing.sqlite")
    code, err = fails(capsys, "runs", "list", "--metadata", missing)
    assert code == 1 and "No metadata store at" in err and not Path(missing).exists()


def test_bad_parameters_fail_before_anything_runs(
    history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"
    flow = str(history.flow)
    code, err = fails(capsys, "run", flow, "--root", str(root), "--inline", "--param", "nope=1")
    assert code == 1
    assert "has no parameter 'nope'" in err
    assert "['epochs', 'fail', 'n', 'rows']" in err
    code, err = fails(capsys, "run", flow, "--root", str(root), "--param", "n=five")
    assert code == 1 and "--param n='five': expected an integer" in err
    code, err = fails(capsys, "run", flow, "--root", str(root), "--param", "n")
    assert code == 1 and "is not NAME=VALUE" in err
    assert not root.exists()  # nothing ran, no store was created


def test_a_failing_component_exits_non_zero_and_names_it(history: History, tmp_path: Path) -> None:
    root = tmp_path / "root"
    result = _subprocess(
        "run", str(history.flow), "--root", str(root), "--param", "fail=yes",
        "--param", "epochs=7", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "PipelineRunError" in result.stderr
    assert "Component Fit (cli_flow:Fit) failed in run" in result.stderr
    assert "ValueError: cannot fit with epochs=7" in result.stderr
    assert 'raise ValueError(f"cannot fit with epochs={epochs}")' in result.stderr

    store = str(root / "metadata.sqlite")
    (listed,) = json.loads(invoke("runs", "list", "--metadata", store, "--json").stdout)
    assert (listed["state"], listed["executed"], listed["failed"]) == ("FAILED", 2, 1)
    steps = _steps(
        json.loads(invoke("runs", "show", listed["run_id"], "--metadata", store, "--json").stdout)
    )
    assert {t: s["state"] for t, s in steps.items()} == {
        "Ingest": "COMPLETE",
        "Count": "COMPLETE",
        "Fit": "FAILED",
    }
    assert "ValueError: cannot fit with epochs=7" in steps["Fit"]["error"]
    assert steps["Fit"]["outputs"] == {}
    table = invoke("runs", "show", listed["run_id"], "--metadata", store).stdout
    assert f"Run {listed['run_id']} of cli_flow: FAILED" in table and "Fit failed:" in table


def test_python_m_tensorbridge(tmp_path: Path) -> None:
    result = _subprocess("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("run", "compile", "runs", "artifacts", "lineage", "inspect"):
        assert re.search(rf"^\s+{command}\s", result.stdout, re.MULTILINE), command
    result = _subprocess("runs", "--help", cwd=tmp_path)
    assert result.returncode == 0 and "diff" in result.stdout and "show" in result.stdout
