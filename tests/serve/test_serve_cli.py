"""``tensorbridge serve`` and ``tensorbridge labels``: real processes, real ports."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tensorbridge.cli.main import cli, main
from tensorbridge.train.export import MANIFEST

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.timeout(600)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def repository(served_models: Path, tmp_path: Path) -> Path:
    root = tmp_path / "models"
    shutil.copytree(served_models, root)
    return root


def test_serve_answers_logs_json_and_stops_on_ctrl_c(
    repository: Path, taxi_export: Path, taxi_eval_rows: list[dict[str, Any]]
) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tensorbridge", "serve", str(repository), "--port", str(port),
         "--versions", "all"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.25)
        names = [e["name"] for e in json.loads((taxi_export / MANIFEST).read_text())["inputs"]]
        rows = [{n: row.get(n) for n in names} for row in taxi_eval_rows[:3]]
        response = httpx.post(f"{url}/v1/models/taxi:predict", json={"instances": rows})
        assert response.status_code == 200 and len(response.json()["predictions"]) == 3

        runner = CliRunner()
        changed = runner.invoke(
            cli, ["labels", "set", "taxi", "stable", "1", "--url", url, "--json"]
        )
        assert changed.exit_code == 0, changed.output
        assert json.loads(changed.output)["labels"] == {"stable": 1}
        listed = runner.invoke(cli, ["labels", "list", "taxi", "--url", url])
        assert "stable" in listed.output and "loaded versions: [1, 2]" in listed.output
        response = httpx.post(f"{url}/v1/models/taxi:predict", json={"instances": rows})
        assert response.headers["X-Model-Version"] == "1"  # the stable label now routes
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr[-2000:]
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    access = [r for r in records if r.get("path") == "/v1/models/taxi:predict"]
    assert access and access[0]["status"] == 200 and access[0]["model"] == "taxi"
    assert {"time", "level", "ms", "version"} <= set(access[0])
    assert any("loaded taxi version 2" in r.get("message", "") for r in records)


def _fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the real entry point, which must exit 1; its stderr (the formatted error)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(args))
    assert info.value.code == 1
    return " ".join(capsys.readouterr().err.split())


def test_serve_refuses_a_public_address_unless_allowed(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "--allow-remote" in _fails(capsys, "serve", str(repository), "--host", "0.0.0.0")


def test_labels_edit_routing_json_in_the_repository(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = CliRunner()

    def labels(*args: str) -> Any:
        result = runner.invoke(cli, ["labels", *args, "--repository", str(repository), "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    assert labels("set", "taxi", "stable", "1")["labels"] == {"stable": 1}
    assert labels("set", "taxi", "canary", "2")["labels"] == {"canary": 2, "stable": 1}
    assert labels("canary", "taxi", "0.25")["canary"] == {"label": "canary", "weight": 0.25}
    assert labels("rollback", "taxi")["canary"] == {"label": "canary", "weight": 0.0}
    assert labels("remove", "taxi", "canary")["labels"] == {"stable": 1}
    on_disk = json.loads((repository / "taxi" / "routing.json").read_text())
    assert on_disk == {"labels": {"stable": 1}, "canary": {"label": "canary", "weight": 0.0}}

    where = ("--repository", str(repository))
    assert "no complete version 9" in _fails(capsys, "labels", "set", "taxi", "stable", "9", *where)
    assert "not allowed" in _fails(capsys, "labels", "set", "taxi", "no/good", "1", *where)
    assert "between 0 and 1" in _fails(capsys, "labels", "canary", "taxi", "1.5", *where)
    assert "--url" in _fails(capsys, "labels", "list", "taxi")
