"""Data statistics (what TFDV's StatisticsGen computes): tensorbridge vs TFDV, one run.

Data: the shared taxi CSV resampled to 1,000,000 rows (seed 42). Each side computes the
statistics of every column of the CSV: tensorbridge on the local engine and on Spark
(local[2]), and TFDV 1.16.1 (``generate_statistics_from_csv`` on Beam's DirectRunner) in
its own virtualenv (benchmarks/peers/tfdv, created by its setup.sh on first use). Every
side runs in a subprocess; wall time and the peak RSS of its whole process tree are
measured from outside. Then the numbers are compared feature by feature.

TFDV decodes CSV floats as float32, so a last tensorbridge run reads the float columns
as float32 too, to compare the float features on the same values.

    uv run python benchmarks/bench_stats.py [--rows N] [--skip-spark] [--skip-tfdv]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from measure import Measurement, measure
from taxi_data import resampled_taxi_csv

HERE = Path(__file__).resolve().parent
PEER = HERE / "peers" / "tfdv"


def run_tensorbridge(csv: Path, out: Path, engine: str, *, float32: bool = False) -> Measurement:
    command = [sys.executable, str(HERE / "stats_job.py"), str(csv), str(out), "--engine", engine]
    return measure(command + (["--float32"] if float32 else []))


def run_tfdv(csv: Path, out: Path) -> Measurement:
    python = PEER / ".venv" / "bin" / "python"
    if not python.exists():
        print("Setting up the TFDV virtualenv (once)...", flush=True)
        subprocess.run(["bash", str(PEER / "setup.sh")], check=True)
    command = [str(python), str(PEER / "run_tfdv.py"), str(csv), str(out)]
    return measure(command, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def _tfdv_features(path: Path) -> dict[str, dict[str, Any]]:
    dataset = json.loads(path.read_text())["datasets"][0]
    return {f["path"]["step"][0]: f for f in dataset["features"]}


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300) if b else abs(a)


def agreement(ours_path: Path, tfdv_path: Path) -> list[str]:
    """Compare tensorbridge's statistics with TFDV's, feature by feature."""
    ours = json.loads(ours_path.read_text())["slices"][0]
    features = {f["name"]: f for f in ours["features"]}
    theirs = _tfdv_features(tfdv_path)
    lines = []
    worst = {"counts": 0, "moments": 0.0, "min/max": 0.0, "strings": 0}
    for name, tfdv in theirs.items():
        mine = features[name]
        stats = tfdv.get("num_stats") or tfdv["string_stats"]
        common = stats["common_stats"]
        count_diff = abs(int(common.get("num_non_missing", 0)) - mine["common"]["num_non_missing"])
        worst["counts"] = max(worst["counts"], count_diff)
        if "num_stats" in tfdv:
            numeric = mine["numeric"]
            for key in ("mean", "std_dev"):
                worst["moments"] = max(worst["moments"], _rel(numeric[key], stats.get(key, 0.0)))
            for key in ("min", "max"):
                worst["min/max"] = max(worst["min/max"], _rel(numeric[key], stats.get(key, 0.0)))
            if int(stats.get("num_zeros", 0)) != numeric["num_zeros"]:
                worst["counts"] = max(worst["counts"], 1)
        else:
            string = mine["string"]
            top = [(v["value"], v["frequency"]) for v in stats["top_values"]]
            same = top == [(v["value"], v["frequency"]) for v in string["top_values"]]
            if not same or int(stats["unique"]) != string["unique"]:
                worst["strings"] += 1
    lines.append(f"features compared: {len(theirs)}")
    lines.append(f"largest difference in counts (present, zeros): {worst['counts']}")
    lines.append(f"largest relative difference of mean / std dev: {worst['moments']:.1e}")
    lines.append(f"largest relative difference of min / max: {worst['min/max']:.1e}")
    lines.append(f"string features with different unique count or top values: {worst['strings']}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-tfdv", action="store_true")
    args = parser.parse_args()
    csv = resampled_taxi_csv(args.rows)
    print(f"data: {csv} ({args.rows:,} rows)", flush=True)
    results: dict[str, Measurement] = {}
    with tempfile.TemporaryDirectory(prefix="bench_stats_") as tmp:
        root = Path(tmp)
        results["tensorbridge local"] = run_tensorbridge(csv, root / "local.json", "local")
        print(f"tensorbridge local: {results['tensorbridge local'].wall_seconds:.1f} s", flush=True)
        if not args.skip_spark:
            results["tensorbridge spark local[2]"] = run_tensorbridge(
                csv, root / "spark.json", "spark"
            )
            print("tensorbridge spark done", flush=True)
        if not args.skip_tfdv:
            results["TFDV 1.16.1 DirectRunner"] = run_tfdv(csv, root / "tfdv.json")
            print("TFDV done", flush=True)
        base = results["tensorbridge local"]
        print(
            "\nwall s: the whole process, imports included; work s: the statistics step as "
            "timed inside the job"
        )
        print(f"{'':<32} {'wall s':>8} {'work s':>8} {'peak RSS MB':>12} {'vs local':>9}")
        for name, m in results.items():
            work = m.result.get("wall_seconds", float("nan"))
            ratio = m.wall_seconds / base.wall_seconds
            print(
                f"{name:<32} {m.wall_seconds:>8.1f} {work:>8.1f} {m.peak_rss_mb:>12.0f} "
                f"{ratio:>8.1f}x"
            )
        tfdv = results.get("TFDV 1.16.1 DirectRunner")
        if tfdv is not None:
            work_ratio = tfdv.result["wall_seconds"] / base.result["wall_seconds"]
            print(
                f"\nratio: tensorbridge local is {tfdv.wall_seconds / base.wall_seconds:.1f}x "
                f"faster than TFDV end to end ({work_ratio:.1f}x on the statistics step), "
                f"with {base.peak_rss_mb / tfdv.peak_rss_mb:.2f}x its peak memory"
            )
            spark = results.get("tensorbridge spark local[2]")
            if spark is not None:
                spark_work = tfdv.result["wall_seconds"] / spark.result["wall_seconds"]
                print(
                    f"ratio: tensorbridge spark local[2] is "
                    f"{tfdv.wall_seconds / spark.wall_seconds:.1f}x faster than TFDV end to end "
                    f"({spark_work:.1f}x on the statistics step, JVM start excluded)"
                )
            run_tensorbridge(csv, root / "local32.json", "local", float32=True)
            print("\nagreement with TFDV (float columns read as float32, as TFDV decodes them):")
            for line in agreement(root / "local32.json", root / "tfdv.json"):
                print("  " + line)
        if "tensorbridge spark local[2]" in results:
            same = json.loads((root / "spark.json").read_text()) == json.loads(
                (root / "local.json").read_text()
            )
            print(f"\nspark engine statistics identical to local: {same}")


if __name__ == "__main__":
    main()
