"""One tensorbridge statistics run (a subprocess of bench_stats.py): prints JSON."""

from __future__ import annotations

import argparse
import json
import time

import tensorbridge as tb
from tensorbridge.engine.spark import SparkEngine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("csv")
    parser.add_argument("output_json")
    parser.add_argument("--engine", default="local")
    parser.add_argument("--float32", action="store_true", help="Read float columns as float32.")
    args = parser.parse_args()
    engine = SparkEngine("local[2]") if args.engine == "spark" else args.engine
    if isinstance(engine, SparkEngine):
        engine.session  # noqa: B018  (the JVM starts before the clock, like TFDV's imports)
    schema = None
    if args.float32:
        head = tb.read_csv(args.csv)
        schema = {f.name: "float32" for f in head.schema if str(f.type) == "double"}
    started = time.perf_counter()
    stats = tb.stats.compute(tb.read_csv(args.csv, engine=engine, schema=schema))
    wall = time.perf_counter() - started
    stats.save(args.output_json)
    print(json.dumps({"wall_seconds": wall, "num_examples": stats.num_examples}))


if __name__ == "__main__":
    main()
