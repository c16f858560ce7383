"""The Chicago-taxi pipeline end to end: tensorbridge vs TFX's LocalDagRunner, one run.

Both sides run the same pipeline on the shared taxi CSV (15,002 rows): split 2:1 by a
hash, statistics, schema, validation, the TFX taxi preprocessing_fn, the TFX wide & deep
Keras model trained ``--epochs`` full passes (default 8) with batch size 40, evaluation
(AUC overall and by trip_start_hour, blessed iff AUC >= 0.9 in every slice) and a push to
a directory.

* tensorbridge: ``tensorbridge run examples/chicago_taxi/taxi_pipeline.py --root DIR``
  (its local runner, components in subprocesses, its own cache and metadata store);
  ``--tensorbridge-inline`` runs the components in one process, as LocalDagRunner does.
* TFX 1.16.0: ``benchmarks/peers/tfx/run_tfx_taxi.py`` in its own virtualenv (created by
  its setup.sh on first use): CsvExampleGen -> StatisticsGen -> SchemaGen ->
  ExampleValidator -> Transform -> Trainer -> Evaluator -> Pusher on LocalDagRunner with
  a SQLite MLMD (see benchmarks/peers/tfx/README.md for what differs).

Each side runs cold (a fresh root) and then again on the same root, where its cache
serves every component. Every run is a subprocess; its wall time and the peak RSS of its
whole process tree are measured from outside (imports and process start included).

    uv run python benchmarks/bench_pipeline.py [--epochs 8] [--skip-tfx] [--skip-tensorbridge]
        [--tensorbridge-inline] [--tfx-beam-args ARGS] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from measure import Measurement, measure

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEER = HERE / "peers" / "tfx"
DATA = REPO.parent / "shared" / "data" / "chicago_taxi" / "data.csv"
PIPELINE = REPO / "examples" / "chicago_taxi" / "taxi_pipeline.py"
# Runs "$@" with its output in a log file; on failure, the log's end goes to stderr.
LOGGED = 'log="$1"; shift; "$@" >"$log" 2>&1 || { s=$?; tail -n 80 "$log" >&2; exit $s; }'


def tensorbridge_command() -> list[str]:
    """The tensorbridge CLI of this interpreter."""
    return [sys.executable, "-m", "tensorbridge"]


def run_tensorbridge(
    root: Path, data: Path, epochs: int, log: Path, *, inline: bool = False
) -> Measurement:
    command = [
        *tensorbridge_command(),
        "run",
        str(PIPELINE),
        "--root",
        str(root),
        "--param",
        f"data={data}",
        "--param",
        f"epochs={epochs}",
        "--param",
        f"repository={root.parent / (root.name + '_models')}",
        *(["--inline"] if inline else []),
    ]
    measured = measure(["bash", "-c", LOGGED, "bash", str(log), *command])
    measured.result = tensorbridge_evaluation(root)
    return measured


def tensorbridge_evaluation(root: Path) -> dict[str, Any]:
    """AUC and blessing from the newest Evaluator artifact under ``root/artifacts``."""
    found = sorted(
        root.glob("artifacts/*/evaluation/*/evaluation.json"), key=lambda p: p.stat().st_mtime
    )
    if not found:
        return {}
    document = json.loads(found[-1].read_text())
    overall, lowest = None, None
    for item in document.get("slices", []):
        auc = (item.get("metrics") or {}).get("auc")
        if not isinstance(auc, int | float):
            continue
        if not item.get("features"):
            overall = auc
        else:
            lowest = auc if lowest is None else min(lowest, auc)
    blessed = (document.get("validation") or {}).get("blessed")
    return {"auc": overall, "auc_min_slice": lowest, "blessed": blessed}


def run_tfx(input_dir: Path, root: Path, epochs: int, beam_args: str) -> Measurement:
    python = PEER / ".venv" / "bin" / "python"
    if not python.exists():
        print("Setting up the TFX virtualenv (once, a few minutes)...", flush=True)
        subprocess.run(["bash", str(PEER / "setup.sh")], check=True)
    command = [str(python), str(PEER / "run_tfx_taxi.py"), str(input_dir), str(root)]
    command += ["--epochs", str(epochs)]
    if beam_args:
        command += ["--beam-args", beam_args]
    return measure(command)  # the script keeps its logs in root/tfx_run.log


def _fmt(value: Any, spec: str = ".4f") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--data", default=str(DATA), help="the taxi CSV")
    parser.add_argument("--skip-tfx", action="store_true")
    parser.add_argument("--skip-tensorbridge", action="store_true")
    parser.add_argument(
        "--tfx-beam-args",
        default="",
        help="Beam args for TFX's Beam components, e.g. the TFX example's "
        "'--direct_running_mode=multi_processing --direct_num_workers=0' (default: in-memory)",
    )
    parser.add_argument(
        "--tensorbridge-inline",
        action="store_true",
        help="run tensorbridge's components in its own process, one at a time (as "
        "LocalDagRunner does), instead of one subprocess each",
    )
    parser.add_argument("--keep", default=None, help="keep the pipeline roots in this directory")
    args = parser.parse_args()
    data = Path(args.data).resolve()
    results: dict[str, Measurement] = {}
    tfx_runs: dict[str, dict[str, Any]] = {}
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="bench_pipeline_"))
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"data: {data}; {args.epochs} epochs, batch size 40; work dir {tmp}", flush=True)
    try:
        if not args.skip_tensorbridge:
            root = tmp / "tensorbridge"
            shutil.rmtree(root, ignore_errors=True)
            for run in ("cold", "cached"):
                log = tmp / f"tensorbridge_{run}.log"
                m = run_tensorbridge(root, data, args.epochs, log, inline=args.tensorbridge_inline)
                results[f"tensorbridge {run}"] = m
                print(f"tensorbridge {run}: {m.wall_seconds:.1f} s", flush=True)
        if not args.skip_tfx:
            input_dir = tmp / "tfx_input"  # CsvExampleGen reads every file of a directory
            input_dir.mkdir(exist_ok=True)
            shutil.copyfile(data, input_dir / "data.csv")
            root = tmp / "tfx"
            shutil.rmtree(root, ignore_errors=True)
            for run in ("cold", "cached"):
                m = run_tfx(input_dir, root, args.epochs, args.tfx_beam_args)
                results[f"TFX {run}"] = m
                tfx_runs[run] = m.result
                print(f"TFX {run}: {m.wall_seconds:.1f} s", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    report(results, tfx_runs)


def report(results: dict[str, Measurement], tfx_runs: dict[str, dict[str, Any]]) -> None:
    print("\nwall s: the whole process (start, imports, pipeline); peak RSS: its process tree")
    header = f"{'':<20} {'wall s':>8} {'peak RSS MB':>12} {'AUC':>8} {'min slice AUC':>14} blessed"
    print(header)
    for name, m in results.items():
        r = m.result
        print(
            f"{name:<20} {m.wall_seconds:>8.1f} {m.peak_rss_mb:>12.0f} {_fmt(r.get('auc')):>8} "
            f"{_fmt(r.get('auc_min_slice')):>14} {_fmt(r.get('blessed'))}"
        )
    for run in ("cold", "cached"):
        ours, theirs = results.get(f"tensorbridge {run}"), results.get(f"TFX {run}")
        if ours is not None and theirs is not None:
            print(
                f"ratio ({run}): TFX / tensorbridge wall = "
                f"{theirs.wall_seconds / ours.wall_seconds:.1f}x, peak RSS = "
                f"{theirs.peak_rss_mb / ours.peak_rss_mb:.1f}x"
            )
    for run, r in tfx_runs.items():
        if not r:
            continue
        versions = ", ".join(f"{k} {v}" for k, v in (r.get("versions") or {}).items())
        print(
            f"\nTFX {run} ({versions}): imports {r.get('import_seconds', 0):.1f} s, "
            f"LocalDagRunner.run {r.get('wall_seconds', 0):.1f} s"
        )
        for name, c in (r.get("components") or {}).items():
            print(f"  {name:<18} {c['seconds']:>7.1f} s  {c['state']}")
        train = r.get("train")
        if train and run == "cold":
            print(
                f"  trained {train['epochs']} epochs x {train['steps_per_epoch']} steps "
                f"(batch {train['batch_size']}, {train['train_rows']:,} train rows, "
                f"{train['eval_rows']:,} eval rows)"
            )


if __name__ == "__main__":
    main()
