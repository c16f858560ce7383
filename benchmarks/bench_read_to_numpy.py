"""CSV -> numpy feature arrays: tensorbridge (local engine) vs pandas, in one run.

Data: the shared taxi CSV resampled to 1,000,000 rows (seed 42, ~135 MB). Both sides
parse the whole file and produce one numpy array per numeric feature with missing
values filled with 0; the script checks the arrays are equal, then prints rows/s and
the ratio (median of the timed runs, runs interleaved).

    uv run python benchmarks/bench_read_to_numpy.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from taxi_data import resampled_taxi_csv

import tensorbridge as tb

FEATURES = [
    "trip_miles",
    "fare",
    "trip_seconds",
    "trip_start_hour",
    "trip_start_day",
    "trip_start_month",
    "pickup_latitude",
    "pickup_longitude",
    "dropoff_latitude",
    "dropoff_longitude",
    "pickup_community_area",
    "dropoff_community_area",
    "tips",
]


def with_tensorbridge(path: str) -> dict[str, np.ndarray]:
    return tb.read_csv(path).to_numpy(FEATURES, fill_null=0)


def with_pandas(path: str) -> dict[str, np.ndarray]:
    frame = pd.read_csv(path)
    return {name: frame[name].fillna(0).to_numpy() for name in FEATURES}


def timed(
    function: Callable[[str], dict[str, np.ndarray]], path: str
) -> tuple[float, dict[str, np.ndarray]]:
    gc.collect()
    started = time.perf_counter()
    result = function(path)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = str(resampled_taxi_csv(args.rows))
    print(
        f"data: {path} ({args.rows:,} rows); {platform.processor() or platform.machine()}, "
        f"pyarrow-based tensorbridge {tb.__version__} vs pandas {pd.__version__}"
    )

    # Warm-up (page cache, imports), and a check that both produce the same arrays.
    _, ours = timed(with_tensorbridge, path)
    _, theirs = timed(with_pandas, path)
    for name in FEATURES:
        assert len(ours[name]) == args.rows
        np.testing.assert_allclose(ours[name].astype(np.float64), theirs[name].astype(np.float64))

    times: dict[str, list[float]] = {"tensorbridge": [], "pandas": []}
    for _ in range(args.repeat):
        times["tensorbridge"].append(timed(with_tensorbridge, path)[0])
        times["pandas"].append(timed(with_pandas, path)[0])
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in median.items():
        print(
            f"{name:>13}: {seconds:6.3f} s  {args.rows / seconds:>12,.0f} rows/s  "
            f"(runs: {', '.join(f'{t:.3f}' for t in times[name])})"
        )
    print(
        f"ratio: tensorbridge is {median['pandas'] / median['tensorbridge']:.2f}x pandas "
        "(read_csv + to_numpy)"
    )


if __name__ == "__main__":
    main()
