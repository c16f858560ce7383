"""Model serving: tensorbridge's server vs KServe's Python model server, same SavedModel.

Both servers serve the taxi model exported by tensorbridge (raw features in,
``probabilities`` out; trained here once and cached under ``benchmarks/.data``) over TF
Serving's REST V1 ``POST /v1/models/taxi:predict`` with ``{"instances": [rows]}``:

* tensorbridge: ``python -m tensorbridge serve REPO --max-batch-size 1024
  --batch-wait-ms 0 --no-access-log`` (micro-batching of concurrent requests);
* KServe 0.21 (its own virtualenv, ``benchmarks/peers/kserve``, created by its setup.sh
  on first use): a ``kserve.Model`` that loads the same SavedModel with TensorFlow, on
  ``kserve.ModelServer(workers=1)``; no batching (see benchmarks/peers/kserve/README.md).

A separate load-generator process (``benchmarks/loadgen.py``, closed loop, one
keep-alive connection per client) sends requests of 1 or 64 raw eval rows at
concurrency 1, 16 and 64 for ``--seconds`` per cell after a ``--warmup``; the two
servers take turns cell by cell (the order alternates) so they share the machine's
noise. Before each cell both answer the same request and their predictions must agree
to 1e-5. Reported per cell and server: requests/s, p50 and p99 latency, errors; and the
ratios tensorbridge/KServe of throughput and of p99.

    uv run --frozen python benchmarks/bench_serving.py [--seconds 15] [--warmup 2]
        [--rows 1,64] [--concurrency 1,16,64] [--skip-kserve] [--kserve-offload]
        [--max-batch-size 1024] [--batch-wait-ms 0] [--keep DIR] [--rebuild-model]

``--keep DIR`` keeps the server logs, ``results.json`` (every cell, with p90/p99.9/max
latency, the cores each server and the load generator used, RSS) and every request's
latency (``latencies/*.csv``); without it all goes to a temporary directory. The model is
cached in ``benchmarks/.data/serving_taxi_<tensorbridge version>/`` (``--rebuild-model``
retrains it). Exits 1 if any request failed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata as md
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEER = HERE / "peers" / "kserve"
DATA = REPO.parent / "shared" / "data" / "chicago_taxi" / "data.csv"
CACHE = HERE / ".data"
LOADGEN = HERE / "loadgen.py"
MODEL = "taxi"
PREDICT_PATH = f"/v1/models/{MODEL}:predict"
#: Eval rows kept for request bodies (the eval split has about 5,000).
POOL_ROWS = 1024
TOLERANCE = 1e-5
TENSORBRIDGE = "tensorbridge"
KSERVE = "KServe"


# ------------------------------------------------------------------ the model
def model_repository(rebuild: bool = False) -> Path:
    """A model repository with the exported taxi model as ``taxi/1`` (built once, cached).

    Beside it, ``eval_rows.json`` holds ``POOL_ROWS`` raw eval rows restricted to the
    model's inputs (what a client sends).
    """
    version = md.version("tensorbridge")
    root = CACHE / f"serving_taxi_{version}"
    repository = root / "models"
    if (root / "eval_rows.json").exists() and not rebuild:
        return repository
    if root.exists():
        shutil.rmtree(root)
    print("Training and exporting the taxi model (once)...", flush=True)
    from rich.console import Console

    import tensorbridge as tb
    import tensorbridge.transform as tbt
    from tensorbridge.examples import taxi
    from tensorbridge.push import push_model
    from tensorbridge.train import train
    from tensorbridge.train.export import export_serving_model

    quiet = Console(quiet=True)
    work = root / "work"
    splits = tb.read_csv(DATA).split()
    output = tbt.analyze_and_transform(
        splits, taxi.preprocessing_fn, work / "transform", console=quiet
    )
    result = train(
        output,
        taxi.build_keras_model,
        work / "train",
        label="tips_xf",
        features=taxi.model_features(),
        epochs=2,
        batch_size=40,
        console=quiet,
    )
    export = export_serving_model(
        result.model_path,
        output,
        work / "export",
        features=taxi.model_features(),
        raw_label_columns=["tips"],
        label="tips_xf",
        statistics=tb.stats.compute(splits["train"]),
        samples=splits["eval"].head(8).to_pylist(),
    )
    push_model(export, repository, MODEL, force=True)
    names = [
        entry["name"] for entry in json.loads((export / "tensorbridge.json").read_text())["inputs"]
    ]
    rows = [
        {name: row.get(name) for name in names}
        for row in splits["eval"].head(POOL_ROWS).to_pylist()
    ]
    (root / "eval_rows.json").write_text(json.dumps(rows))
    shutil.rmtree(work)
    return repository


def write_bodies(rows: list[dict[str, Any]], per_request: int, path: Path) -> list[list[dict]]:
    """Request bodies of ``per_request`` consecutive rows (JSON lines); returns their rows."""
    batches = [
        rows[start : start + per_request]
        for start in range(0, len(rows) - per_request + 1, per_request)
    ][:256]
    with path.open("w") as handle:
        for batch in batches:
            handle.write(json.dumps({"instances": batch}, separators=(",", ":")) + "\n")
    return batches


# ------------------------------------------------------------------ the servers
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(self.process.pid).cpu_times()
            return float(times.user + times.system)
        return math.nan

    def rss_mb(self) -> float:
        with contextlib.suppress(psutil.Error):
            return float(psutil.Process(self.process.pid).memory_info().rss) / 1e6
        return math.nan

    def wait_ready(self, timeout: float = 300.0) -> float:
        """Seconds until ``/v2/health/ready`` answers 200 (raises if it dies or times out)."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} before it was ready:\n"
                    + tail(self.log)
                )
            ready = f"{self.url}/v2/health/ready"
            with contextlib.suppress(OSError), urllib.request.urlopen(ready, timeout=2) as reply:
                if reply.status == 200:
                    return time.perf_counter() - started
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} was not ready after {timeout:.0f} s:\n" + tail(self.log))

    def stop(self) -> str:
        """SIGTERM to its process group (SIGKILL after 20 s); says how it went."""
        if self.process.poll() is not None:
            return f"{self.name} had exited ({self.process.returncode})"
        started = time.perf_counter()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            code = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return f"{self.name} ignored SIGTERM for 20 s and was killed"
        return f"{self.name} stopped in {time.perf_counter() - started:.1f} s (exit {code})"


def tail(path: Path, lines: int = 40) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def launch(name: str, command: list[str], port: int, log: Path) -> Server:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "1", "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
            start_new_session=True,  # its own process group, stopped as one
        )
    return Server(name, port, process, log)


def start_tensorbridge(
    repository: Path, work: Path, *, max_batch_size: int = 1024, batch_wait_ms: float = 0.0
) -> Server:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tensorbridge",
        "serve",
        str(repository),
        "--port",
        str(port),
        "--max-batch-size",
        str(max_batch_size),
        "--batch-wait-ms",
        f"{batch_wait_ms:g}",
        "--no-access-log",
    ]
    return launch(TENSORBRIDGE, command, port, work / "tensorbridge_serve.log")


def kserve_python() -> Path:
    python = PEER / ".venv" / "bin" / "python"
    if not python.exists():
        print("Setting up the KServe virtualenv (once, about a minute)...", flush=True)
        subprocess.run(["bash", str(PEER / "setup.sh")], check=True)
    return python


def start_kserve(repository: Path, work: Path, *, offload: bool) -> Server:
    port = free_port()
    command = [
        str(kserve_python()),
        str(PEER / "kserve_taxi.py"),
        "--model-dir",
        str(repository / MODEL / "1"),
        "--http_port",
        str(port),
        "--model_name",
        MODEL,
        *(["--offload"] if offload else []),
    ]
    return launch(KSERVE, command, port, work / "kserve_serve.log")


# ------------------------------------------------------------------ measuring
def predict(server: Server, body: dict[str, Any]) -> list[list[float]]:
    request = urllib.request.Request(
        server.url + PREDICT_PATH,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return list(json.loads(reply.read())["predictions"])
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"{server.name}: {err.code} {err.read()[:500]!r}") from err


def check_agreement(servers: list[Server], batch: list[dict[str, Any]]) -> float:
    """Largest absolute difference between the servers' predictions for ``batch``."""
    answers = [predict(server, {"instances": batch}) for server in servers]
    for server, answer in zip(servers, answers, strict=True):
        if len(answer) != len(batch):
            raise RuntimeError(f"{server.name}: {len(answer)} predictions for {len(batch)} rows")
    if len(answers) < 2:
        return 0.0
    worst = 0.0
    for left, right in zip(answers[0], answers[1], strict=True):
        for a, b in zip(left, right, strict=True):
            worst = max(worst, abs(float(a) - float(b)))
    if worst > TOLERANCE:
        raise RuntimeError(
            f"predictions differ by {worst:.3g} (> {TOLERANCE}): "
            f"{answers[0][:4]} vs {answers[1][:4]}"
        )
    return worst


def run_cell(
    server: Server,
    bodies: Path,
    rows: int,
    concurrency: int,
    seconds: float,
    warmup: float,
    dump: Path | None = None,
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(LOADGEN),
        "--url",
        server.url + PREDICT_PATH,
        "--bodies",
        str(bodies),
        "--rows",
        str(rows),
        "--concurrency",
        str(concurrency),
        "--seconds",
        str(seconds),
        "--warmup",
        str(warmup),
        *(["--dump", str(dump)] if dump else []),
    ]
    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["server"] = server.name
    # Whole run (warm-up included): the cores the server kept busy, and its memory.
    result["server_cores"] = (server.cpu_seconds() - cpu_before) / wall
    result["server_rss_mb"] = server.rss_mb()
    if server.process.poll() is not None:
        raise RuntimeError(f"{server.name} died during the cell:\n" + tail(server.log))
    return result


# ------------------------------------------------------------------ reporting
def versions(with_kserve: bool) -> dict[str, str]:
    found: dict[str, str] = {}
    for package in ("tensorbridge", "tensorflow-cpu", "tensorflow", "uvicorn", "starlette"):
        with contextlib.suppress(md.PackageNotFoundError):
            found[f"{package} (tensorbridge venv)"] = md.version(package)
    for package in ("uvloop", "httptools"):
        try:
            found[f"{package} (tensorbridge venv)"] = md.version(package)
        except md.PackageNotFoundError:
            found[f"{package} (tensorbridge venv)"] = "not installed"
    if with_kserve:
        script = (
            "import importlib.metadata as md, json\n"
            "out = {}\n"
            "for p in ('kserve', 'tensorflow-cpu', 'uvicorn', 'fastapi', 'uvloop', 'httptools'):\n"
            "    try: out[p] = md.version(p)\n"
            "    except md.PackageNotFoundError: out[p] = 'not installed'\n"
            "print(json.dumps(out))\n"
        )
        peer = subprocess.run(
            [str(kserve_python()), "-c", script], capture_output=True, text=True, check=True
        )
        for package, version in json.loads(peer.stdout).items():
            found[f"{package} (KServe venv)"] = version
    return found


def _num(value: float, spec: str) -> str:
    return "n/a" if value is None or math.isnan(value) else format(value, spec)


def table(results: list[dict[str, Any]], with_kserve: bool) -> str:
    def find(side: str, rows: int, concurrency: int) -> dict[str, Any] | None:
        for item in results:
            if (item["server"], item["rows"], item["concurrency"]) == (side, rows, concurrency):
                return item
        return None

    head = f"{'rows':>4} {'conc':>4} | {'tb req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'err':>3}"
    if with_kserve:
        head += f" | {'KS req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'err':>3}"
        head += f" | {'thr ratio':>9} {'p99 ratio':>9}"
    lines = [head, "-" * len(head)]
    cells = sorted({(item["rows"], item["concurrency"]) for item in results})
    for rows, concurrency in cells:
        line = f"{rows:>4} {concurrency:>4}"
        tb, ks = find(TENSORBRIDGE, rows, concurrency), find(KSERVE, rows, concurrency)
        for item in (tb, ks) if with_kserve else (tb,):
            if item is None:
                line += f" | {'n/a':>9} {'':>7} {'':>7} {'':>3}"
                continue
            line += (
                f" | {_num(item['requests_per_s'], '.1f'):>9} {_num(item['p50_ms'], '.2f'):>7}"
                f" {_num(item['p99_ms'], '.2f'):>7} {item['errors']:>3}"
            )
        if with_kserve and tb and ks:
            thr = tb["requests_per_s"] / ks["requests_per_s"] if ks["requests_per_s"] else math.nan
            p99 = tb["p99_ms"] / ks["p99_ms"] if ks["p99_ms"] else math.nan
            line += f" | {_num(thr, '.2f') + 'x':>9} {_num(p99, '.2f') + 'x':>9}"
        lines.append(line)
    lines.append("")
    lines.append(
        "thr ratio = tensorbridge req/s / KServe req/s (>1: tensorbridge faster); "
        "p99 ratio = tensorbridge p99 / KServe p99 (<1: tensorbridge better)."
    )
    return "\n".join(lines)


def detail_table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'server':<12} {'rows':>4} {'conc':>4} {'rows/s':>9} {'p90 ms':>7} {'p99.9':>7} "
        f"{'max ms':>7} {'srv cores':>9} {'cli cores':>9} {'RSS MB':>7}"
    )
    lines = [head, "-" * len(head)]
    for item in results:
        lines.append(
            f"{item['server']:<12} {item['rows']:>4} {item['concurrency']:>4} "
            f"{_num(item['rows_per_s'], '.0f'):>9} {_num(item['p90_ms'], '.2f'):>7} "
            f"{_num(item['p999_ms'], '.2f'):>7} {_num(item['max_ms'], '.2f'):>7} "
            f"{_num(item['server_cores'], '.2f'):>9} {_num(item['client_cores'], '.2f'):>9} "
            f"{_num(item['server_rss_mb'], '.0f'):>7}"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per cell")
    parser.add_argument("--rows", default="1,64", help="rows per request, comma-separated")
    parser.add_argument("--concurrency", default="1,16,64", help="clients, comma-separated")
    parser.add_argument("--skip-kserve", action="store_true")
    parser.add_argument(
        "--kserve-offload",
        action="store_true",
        help="KServe's predict runs TensorFlow in a thread pool (default: on the event loop)",
    )
    parser.add_argument(
        "--keep",
        default=None,
        help="keep server logs, results.json and every latency (latencies/*.csv) here",
    )
    parser.add_argument("--max-batch-size", type=int, default=1024, help="tensorbridge's")
    parser.add_argument("--batch-wait-ms", type=float, default=0.0, help="tensorbridge's")
    parser.add_argument("--rebuild-model", action="store_true", help="retrain and re-export")
    args = parser.parse_args()
    row_counts = [int(x) for x in args.rows.split(",")]
    concurrencies = [int(x) for x in args.concurrency.split(",")]
    with_kserve = not args.skip_kserve

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_serving_"))
    work.mkdir(parents=True, exist_ok=True)
    repository = model_repository(rebuild=args.rebuild_model)
    pool = json.loads((repository.parent / "eval_rows.json").read_text())
    bodies = {n: work / f"bodies_{n}rows.jsonl" for n in row_counts}
    batches = {n: write_bodies(pool, n, bodies[n]) for n in row_counts}

    found = versions(with_kserve)
    print("Versions:", ", ".join(f"{k} {v}" for k, v in found.items()), flush=True)
    print(
        f"Machine: {os.cpu_count()} CPUs; {args.warmup:g} s warm-up + {args.seconds:g} s "
        "per cell; one load-generator process per cell.",
        flush=True,
    )

    servers: list[Server] = []
    results: list[dict[str, Any]] = []
    agreement: dict[str, float] = {}
    try:
        servers.append(
            start_tensorbridge(
                repository,
                work,
                max_batch_size=args.max_batch_size,
                batch_wait_ms=args.batch_wait_ms,
            )
        )
        if with_kserve:
            servers.append(start_kserve(repository, work, offload=args.kserve_offload))
        for server in servers:
            print(f"{server.name} ready in {server.wait_ready():.1f} s on {server.url}", flush=True)

        cells = [(n, c) for n in row_counts for c in concurrencies]
        for index, (rows, concurrency) in enumerate(cells):
            agreement[f"{rows}x{concurrency}"] = check_agreement(servers, batches[rows][0])
            order = servers if index % 2 == 0 else servers[::-1]
            for server in order:
                dump = None
                if args.keep:
                    (work / "latencies").mkdir(exist_ok=True)
                    dump = work / "latencies" / f"{server.name}_{rows}rows_c{concurrency}.csv"
                item = run_cell(
                    server, bodies[rows], rows, concurrency, args.seconds, args.warmup, dump
                )
                results.append(item)
                print(
                    f"  {server.name:<12} rows {rows:>2} conc {concurrency:>2}: "
                    f"{item['requests_per_s']:8.1f} req/s  p50 {item['p50_ms']:7.2f} ms  "
                    f"p99 {item['p99_ms']:7.2f} ms  max {item['max_ms']:7.1f} ms  "
                    f"errors {item['errors']}",
                    flush=True,
                )
                for sample in item["error_samples"]:
                    print(f"      {sample}", flush=True)
    finally:
        for server in servers:
            print(server.stop(), flush=True)

    print()
    print(table(results, with_kserve))
    print()
    print(detail_table(results))
    errors = sum(item["errors"] for item in results)
    print()
    print(
        f"Errors: {errors} in all"
        + ("" if not errors else " (see error_samples in results.json)")
        + f"; largest prediction difference between the servers: "
        f"{max(agreement.values(), default=0.0):.2g} (tolerance {TOLERANCE})."
    )
    document = {"versions": found, "args": vars(args), "agreement": agreement, "cells": results}
    (work / "results.json").write_text(json.dumps(document, indent=2))
    if args.keep:
        print(f"Kept {work} (results.json, server logs, request bodies).")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
