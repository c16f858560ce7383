"""Cold start of a one-component pipeline: tensorbridge vs TFX's LocalDagRunner, one run.

How long from ``tensorbridge run one.py`` (a fresh process, a fresh pipeline root and
metadata store) until the component's body starts, and until the command returns. The
peer is the same one-component pipeline as a TFX Python-function component on
LocalDagRunner with a SQLite MLMD store (benchmarks/peers/tfx/one_component.py, in the
TFX virtualenv made by benchmarks/peers/tfx/setup.sh). Each side runs ``--repeat`` times;
medians are reported.

The component records which heavy libraries were imported by then: tensorbridge imports
TensorFlow and PySpark only in components that use them.

    uv run --frozen python benchmarks/bench_pipeline_cold_start.py [--repeat 5] [--skip-tfx]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER = HERE / "peers" / "tfx"

PIPELINE_FILE = '''
import sys, time
from tensorbridge.pipeline import Model, Output, component, pipeline

@component
def Hello(model: Output[Model]) -> None:
    """Record when the body starts, and which heavy libraries are loaded by then."""
    (model.path / "started.txt").write_text(repr(time.time()))
    heavy = [m for m in ("tensorflow", "pyspark", "pandas") if m in sys.modules]
    (model.path / "heavy.json").write_text(repr(heavy).replace("'", '"'))

@pipeline(name="one")
def one() -> None:
    Hello()
'''


def tensorbridge_once(folder: Path) -> dict[str, float | list[str]]:
    """One cold run of the one-component pipeline with the tensorbridge CLI."""
    (folder / "one.py").write_text(PIPELINE_FILE)
    started = time.time()
    subprocess.run(
        [sys.executable, "-m", "tensorbridge", "run", "one.py", "--root", "root"],
        cwd=folder, check=True, capture_output=True,
    )  # fmt: skip
    finished = time.time()
    (artifact,) = (folder / "root" / "artifacts" / "Hello" / "model").iterdir()
    return {
        "to_component": float((artifact / "started.txt").read_text()) - started,
        "total": finished - started,
        "heavy": json.loads((artifact / "heavy.json").read_text()),
    }


def tfx_once(folder: Path) -> dict[str, float]:
    """One cold run of the TFX one-component pipeline."""
    python = PEER / ".venv" / "bin" / "python"
    started = time.time()
    done = subprocess.run(
        [str(python), str(PEER / "one_component.py"), str(folder / "root")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    finished = time.time()
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"to_component": result["component_started"] - started, "total": finished - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-tfx", action="store_true")
    args = parser.parse_args()
    runs_tfx = not args.skip_tfx
    if runs_tfx and not (PEER / ".venv" / "bin" / "python").exists():
        print("Setting up the TFX virtualenv (once, a few minutes)...", flush=True)
        subprocess.run(["bash", str(PEER / "setup.sh")], check=True)

    sides = {"tensorbridge": tensorbridge_once} | ({"TFX 1.16 LocalDagRunner": tfx_once}
                                                   if runs_tfx else {})  # fmt: skip
    results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    heavy: list[str] = []
    for attempt in range(args.repeat):  # interleaved, so machine noise hits both sides
        for name, once in sides.items():
            with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
                outcome = once(Path(tmp))
            heavy = list(outcome.pop("heavy", heavy))  # type: ignore[arg-type]
            results[name].append(outcome)  # type: ignore[arg-type]
            print(f"  {name} #{attempt + 1}: component after {outcome['to_component']:.2f} s, "
                  f"done after {outcome['total']:.2f} s", flush=True)  # fmt: skip

    print(f"\nOne-component pipeline, cold (median of {args.repeat}):")
    print(f"{'':28}{'to component (s)':>18}{'whole run (s)':>15}")
    medians = {}
    for name, rows in results.items():
        to_component = statistics.median(r["to_component"] for r in rows)
        total = statistics.median(r["total"] for r in rows)
        medians[name] = (to_component, total)
        print(f"{name:28}{to_component:>18.2f}{total:>15.2f}")
    print(f"tensorbridge component saw heavy modules loaded: {heavy or 'none'}")
    if runs_tfx:
        (tb_start, tb_total), (tfx_start, tfx_total) = medians.values()
        print(f"ratio TFX / tensorbridge: to component {tfx_start / tb_start:.1f}x, "
              f"whole run {tfx_total / tb_total:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
