"""The taxi data resampled (with a fixed seed) to the size a benchmark needs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv

import tensorbridge as tb

ROOT = Path(__file__).resolve().parents[1]
TAXI_CSV = ROOT.parent / "shared" / "data" / "chicago_taxi" / "data.csv"
CACHE = ROOT / "benchmarks" / ".data"


def resampled_taxi_csv(rows: int, *, seed: int = 42) -> Path:
    """Write (once) and return a CSV of ``rows`` rows drawn with replacement from the taxi data.

    Sampling whole rows keeps the real value distributions and missing-value patterns.
    """
    path = CACHE / f"taxi_{rows}_seed{seed}.csv"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    table = tb.read_csv(TAXI_CSV).to_table()
    indices = np.random.default_rng(seed).integers(0, table.num_rows, size=rows)
    tmp = path.with_suffix(".tmp")
    pacsv.write_csv(table.take(indices), tmp)
    tmp.rename(path)
    return path
