"""Taxi preprocessing (analyze + transform + write): tensorbridge vs TF.Transform, one run.

Data: the shared taxi CSV resampled to 1,000,000 rows (seed 42). Each side runs the
TFX taxi preprocessing_fn (shared/REFERENCE.md 4.3) over all rows and writes the
transformed data: tensorbridge on the local engine and on Spark (local[2]), and
TF.Transform 1.21 on Beam's DirectRunner in its own virtualenv
(benchmarks/peers/tft, created by its setup.sh on first use). Every side runs in a
subprocess; wall time and the peak RSS of its whole process tree are measured from
outside. Then the results are compared: z-score constants, vocabularies, bucket
assignment of every row, label positives.

    uv run python benchmarks/bench_transform.py [--rows N] [--skip-spark] [--tft-mode in_memory]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
from measure import Measurement, measure
from taxi_data import resampled_taxi_csv

HERE = Path(__file__).resolve().parent
PEER = HERE / "peers" / "tft"
BUCKETS = ["pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude"]


def run_tensorbridge(csv: Path, out: Path, engine: str) -> Measurement:
    return measure(
        [sys.executable, str(HERE / "transform_job.py"), str(csv), str(out), "--engine", engine]
    )


def run_tft(csv: Path, out: Path, mode: str) -> Measurement:
    python = PEER / ".venv" / "bin" / "python"
    if not python.exists():
        print("Setting up the TF.Transform virtualenv (once)...", flush=True)
        subprocess.run(["bash", str(PEER / "setup.sh")], check=True)
    command = [str(python), str(PEER / "run_tft.py"), str(csv), str(out)]
    if mode == "multi_processing":
        command += ["--direct-running-mode", "multi_processing", "--direct-num-workers", "2"]
    measured = measure(command, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    import json

    measured.result = json.loads((out / "tft_results.json").read_text())
    return measured


def agreement(csv: Path, ours: dict, theirs: dict) -> list[str]:
    lines = []
    for key, stats in ours["z_score"].items():
        tft = theirs["z_score"][key]
        mean_rel = abs(stats["mean"] - tft["mean"]) / abs(tft["mean"])
        var_rel = abs(stats["var"] - tft["var"]) / abs(tft["var"])
        lines.append(f"z-score {key}: mean rel diff {mean_rel:.1e}, var rel diff {var_rel:.1e}")
    for key, tokens in ours["vocabularies"].items():
        tft = theirs["vocabularies"][key]["vocabulary"]
        same = "identical" if tokens == tft else f"DIFFERENT ({len(tokens)} vs {len(tft)} tokens)"
        lines.append(f"vocabulary {key}: {same} ({len(tokens)} tokens)")
    table = pacsv.read_csv(csv, convert_options=pacsv.ConvertOptions(include_columns=BUCKETS))
    for key in BUCKETS:
        values = np.nan_to_num(table.column(key).to_numpy(zero_copy_only=False).astype(np.float32))
        a = np.searchsorted(np.array(ours["boundaries"][key], np.float32), values, side="right")
        b = np.searchsorted(
            np.array(theirs["buckets"][key]["boundaries"], np.float32), values, side="right"
        )
        lines.append(f"buckets {key}: {np.mean(a == b):.4%} of rows in the same bucket")
    lines.append(
        f"label positives: tensorbridge {ours['label_positives']:,}, "
        f"TF.Transform {theirs['label_positives']:,}"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-tft", action="store_true")
    parser.add_argument(
        "--tft-mode", default="in_memory", choices=["in_memory", "multi_processing"]
    )
    args = parser.parse_args()
    csv = resampled_taxi_csv(args.rows)
    print(f"data: {csv} ({args.rows:,} rows)", flush=True)
    results: dict[str, Measurement] = {}
    with tempfile.TemporaryDirectory(prefix="bench_transform_") as tmp:
        root = Path(tmp)
        results["tensorbridge local"] = run_tensorbridge(csv, root / "local", "local")
        print(
            f"tensorbridge local done: {results['tensorbridge local'].wall_seconds:.1f} s",
            flush=True,
        )
        if not args.skip_spark:
            results["tensorbridge spark local[2]"] = run_tensorbridge(csv, root / "spark", "spark")
            print("tensorbridge spark done", flush=True)
        if not args.skip_tft:
            results[f"TF.Transform 1.21 DirectRunner ({args.tft_mode})"] = run_tft(
                csv, root / "tft", args.tft_mode
            )
            print("TF.Transform done", flush=True)
    base = results["tensorbridge local"]
    print(
        "\nwall s: the whole process (imports included); work s: analyze + transform + write "
        "as timed inside the job (imports excluded)"
    )
    print(f"{'':<45} {'wall s':>8} {'work s':>8} {'peak RSS MB':>12} {'wall vs local':>14}")
    for name, m in results.items():
        ratio = m.wall_seconds / base.wall_seconds
        work = m.result.get("wall_seconds", float("nan"))
        print(
            f"{name:<45} {m.wall_seconds:>8.1f} {work:>8.1f} {m.peak_rss_mb:>12.0f} {ratio:>13.1f}x"
        )
    tft = next((m for n, m in results.items() if n.startswith("TF.Transform")), None)
    if tft is not None:
        work_ratio = tft.result["wall_seconds"] / base.result["wall_seconds"]
        print(
            f"\nratio: tensorbridge local is {tft.wall_seconds / base.wall_seconds:.1f}x faster "
            f"than TF.Transform end to end ({work_ratio:.1f}x on the work alone), with "
            f"{base.peak_rss_mb / tft.peak_rss_mb:.2f}x its peak memory"
        )
        for line in agreement(csv, base.result, tft.result):
            print("  " + line)
    spark = results.get("tensorbridge spark local[2]")
    if spark is not None:
        same = (
            spark.result["z_score"] == base.result["z_score"]
            and spark.result["vocabularies"] == base.result["vocabularies"]
            and spark.result["boundaries"] == base.result["boundaries"]
        )
        print(f"\nspark engine results identical to local: {same}")


if __name__ == "__main__":
    main()
