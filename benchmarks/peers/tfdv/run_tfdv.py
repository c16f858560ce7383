"""TFDV peer: statistics of a CSV file with TensorFlow Data Validation on Beam's DirectRunner.

    .venv/bin/python run_tfdv.py INPUT_CSV OUTPUT_JSON [--direct-num-workers N]

Writes TFDV's ``DatasetFeatureStatisticsList`` as JSON (protobuf's JSON mapping) to
OUTPUT_JSON and prints one JSON line with the wall time of the statistics step, so that
benchmarks/bench_stats.py can measure it from outside and compare the numbers.
"""

import argparse
import json
import time

import tensorflow_data_validation as tfdv
from apache_beam.options.pipeline_options import PipelineOptions
from google.protobuf import json_format


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input_csv")
    ap.add_argument("output_json")
    ap.add_argument("--direct-num-workers", type=int, default=1)
    args = ap.parse_args(argv)
    options = ["--runner=DirectRunner"]
    if args.direct_num_workers > 1:
        options += [
            f"--direct_num_workers={args.direct_num_workers}",
            "--direct_running_mode=multi_processing",
        ]
    started = time.perf_counter()
    stats = tfdv.generate_statistics_from_csv(
        data_location=args.input_csv,
        stats_options=tfdv.StatsOptions(),
        pipeline_options=PipelineOptions(options),
    )
    wall = time.perf_counter() - started
    with open(args.output_json, "w") as f:
        json.dump(json_format.MessageToDict(stats, preserving_proto_field_name=True), f)
    print(json.dumps({"wall_seconds": wall, "tfdv_version": tfdv.__version__}))


if __name__ == "__main__":
    main()
