"""One tensorbridge transform run (a subprocess of bench_transform.py): prints JSON."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from rich.console import Console

import tensorbridge as tb
import tensorbridge.transform as tbt
from tensorbridge.engine.spark import SparkEngine
from tensorbridge.examples import taxi


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("csv")
    parser.add_argument("output")
    parser.add_argument("--engine", default="local")
    args = parser.parse_args()
    engine = SparkEngine("local[2]") if args.engine == "spark" else args.engine
    import tensorflow  # noqa: F401  (imported before the clock starts, as TF.Transform's peer does)

    started = time.perf_counter()
    output = tbt.analyze_and_transform(
        tb.read_csv(args.csv, engine=engine),
        taxi.preprocessing_fn,
        args.output,
        overwrite=True,
        console=Console(stderr=True),
    )
    wall = time.perf_counter() - started
    data = output.transformed_data
    assert isinstance(data, tb.Dataset)
    table = data.to_table()
    results = output.analyzer_results
    summary = {
        "wall_seconds": wall,
        "num_rows": table.num_rows,
        "passes": output.num_passes,
        "z_score": {
            k: {
                "mean": float(results[f"mean_and_var_{k}"]["mean"]),
                "var": float(results[f"mean_and_var_{k}"]["var"]),
            }
            for k in taxi.DENSE_FLOAT_FEATURE_KEYS
        },
        "vocabularies": {k: output.vocabulary(f"vocab_{k}") for k in taxi.VOCAB_FEATURE_KEYS},
        "boundaries": {
            k: results[f"quantiles_{k}"]["boundaries"].tolist() for k in taxi.BUCKET_FEATURE_KEYS
        },
        "label_positives": int(np.sum(table.column("tips_xf").to_numpy())),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
