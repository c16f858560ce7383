#!/usr/bin/env python3
"""The TFX Chicago-taxi pipeline on TFX's LocalDagRunner: the benchmark peer.

Usage (from the peer venv, see setup.sh):

    .venv/bin/python run_tfx_taxi.py INPUT_CSV_DIR PIPELINE_ROOT [--epochs 8] [--second-run]

CsvExampleGen (train:eval = 2:1 by hash) -> StatisticsGen -> SchemaGen
(infer_feature_shape) -> ExampleValidator -> Transform (taxi_utils.preprocessing_fn) ->
Trainer (taxi_utils.run_fn: wide & deep Keras, ``--epochs`` full passes, batch 40) ->
Evaluator (TFMA: AUC, overall and by trip_start_hour, blessed iff the overall AUC >=
``--min-auc``) -> Pusher (filesystem, PIPELINE_ROOT/serving_model), with
``enable_cache=True`` and a SQLite MLMD at PIPELINE_ROOT/metadata.db.

Run it again with the same PIPELINE_ROOT and every component is served from TFX's
cache; ``--second-run`` does both runs in one process and reports both.

Everything TFX, TensorFlow and Beam log goes to PIPELINE_ROOT/tfx_run.log (``--verbose``
keeps it on the terminal). The last stdout line is one JSON object: the wall seconds of
each pipeline run (``LocalDagRunner().run``), per-component seconds and states read back
from MLMD, the Evaluator's AUC (overall and the lowest slice), whether the model was
blessed and pushed, and the training budget ``run_fn`` used.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

T_PROCESS_START = time.perf_counter()
HERE = os.path.dirname(os.path.abspath(__file__))
PIPELINE_NAME = "chicago_taxi_native_keras"
COMPONENT_ORDER = [
    "CsvExampleGen",
    "StatisticsGen",
    "SchemaGen",
    "ExampleValidator",
    "Transform",
    "Trainer",
    "Evaluator",
    "Pusher",
]


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input_dir", help="directory holding the taxi CSV (CsvExampleGen input)")
    parser.add_argument("pipeline_root", help="pipeline root; MLMD and logs go here too")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=40)
    parser.add_argument("--min-auc", type=float, default=0.9, help="blessing threshold")
    parser.add_argument("--second-run", action="store_true", help="run twice (cold, cached)")
    parser.add_argument(
        "--beam-args",
        default="",
        help="Beam pipeline args for the Beam-based components, e.g. the TFX example's "
        "'--direct_running_mode=multi_processing --direct_num_workers=0' "
        "(default: none, Beam's in-memory DirectRunner)",
    )
    parser.add_argument("--verbose", action="store_true", help="log to the terminal")
    return parser.parse_args()


def _redirect_output(path: str) -> tuple[int, int]:
    """Send fds 1 and 2 (Python, C++ and subprocess logs) to ``path``; return copies."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    return saved


def main() -> None:
    args = _parse_args()
    root = os.path.abspath(args.pipeline_root)
    os.makedirs(root, exist_ok=True)
    log_path = os.path.join(root, "tfx_run.log")
    saved = None if args.verbose else _redirect_output(log_path)
    try:
        result = _run(args, root)
    except BaseException:
        if saved is not None:
            import traceback

            traceback.print_exc()  # into the log, with everything before it
            sys.stderr.flush()
            os.dup2(saved[1], 2)
            os.dup2(saved[0], 1)
            with open(log_path, errors="replace") as f:
                tail = f.read()[-6000:]
            print(f"TFX pipeline failed; the end of {log_path}:\n{tail}", file=sys.stderr)
            sys.exit(1)
        raise
    sys.stdout.flush()
    if saved is not None:
        os.dup2(saved[0], 1)
    print(json.dumps(result), flush=True)


def _run(args: argparse.Namespace, root: str) -> dict:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # TFT/TFMA 1.16 need Keras 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    import absl.logging

    import tensorflow_model_analysis as tfma
    from tfx import v1 as tfx
    from tfx import version as tfx_version

    absl.logging.set_verbosity(absl.logging.INFO)
    t_imports = time.perf_counter()

    def build():
        return _create_pipeline(tfx, tfma, args, root)

    runs = []
    for label in ["cold", "cached"] if args.second_run else ["run"]:
        pipeline = build()
        print(f"=== TFX pipeline run ({label}) ===", flush=True)
        started_ms = int(time.time() * 1000)
        started = time.perf_counter()
        tfx.orchestration.LocalDagRunner().run(pipeline)
        wall = time.perf_counter() - started
        summary = {"run": label, "wall_seconds": round(wall, 3)}
        summary.update(_read_back(os.path.join(root, "metadata.db"), started_ms))
        runs.append(summary)

    import tensorflow as tf

    result = {
        "peer": "tfx",
        "versions": {
            "tfx": tfx_version.__version__,
            "tensorflow": tf.__version__,
            "tensorflow_model_analysis": tfma.__version__,
        },
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "beam_args": shlex.split(args.beam_args),
        "import_seconds": round(t_imports - T_PROCESS_START, 3),
        "process_seconds": None,
        **runs[0],
    }
    if args.second_run:
        result["cold"] = runs[0]
        result["cached"] = runs[1]
    result["process_seconds"] = round(time.perf_counter() - T_PROCESS_START, 3)
    return result


def _create_pipeline(tfx, tfma, args: argparse.Namespace, root: str):
    """The taxi pipeline (tfx/examples/chicago_taxi_pipeline/taxi_pipeline_native_keras.py)."""
    module_file = os.path.join(HERE, "taxi_utils.py")
    example_gen = tfx.components.CsvExampleGen(input_base=os.path.abspath(args.input_dir))
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        module_file=module_file,
    )
    trainer = tfx.components.Trainer(
        module_file=module_file,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        # No num_steps: run_fn trains `epochs` full passes over the train split (the
        # split sizes are only known after ExampleGen), like tensorbridge's Trainer.
        train_args=tfx.proto.TrainArgs(),
        eval_args=tfx.proto.EvalArgs(),
        custom_config={"epochs": args.epochs, "batch_size": args.batch_size},
    )
    # tensorbridge's Evaluator has no baseline model, so no LatestBlessedModelResolver here.
    eval_config = tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="serving_default",
                label_key="tips_xf",
                preprocessing_function_names=["transform_features"],
            )
        ],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["trip_start_hour"])],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    tfma.MetricConfig(class_name="BinaryAccuracy"),
                    # As tensorbridge's {"auc": {"lower": min_auc}}: on the overall slice
                    # only (a plain `threshold` would apply to every hour's slice too).
                    tfma.MetricConfig(
                        class_name="AUC",
                        per_slice_thresholds=[
                            tfma.PerSliceMetricThreshold(
                                slicing_specs=[tfma.SlicingSpec()],
                                threshold=tfma.MetricThreshold(
                                    value_threshold=tfma.GenericValueThreshold(
                                        lower_bound={"value": args.min_auc}
                                    )
                                ),
                            )
                        ],
                    ),
                ]
            )
        ],
    )
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        eval_config=eval_config,
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=os.path.join(root, "serving_model")
            )
        ),
    )
    return tfx.dsl.Pipeline(
        pipeline_name=PIPELINE_NAME,
        pipeline_root=os.path.join(root, "pipeline"),
        components=[
            example_gen,
            statistics_gen,
            schema_gen,
            example_validator,
            transform,
            trainer,
            evaluator,
            pusher,
        ],
        enable_cache=True,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            os.path.join(root, "metadata.db")
        ),
        beam_pipeline_args=shlex.split(args.beam_args),
    )


def _read_back(metadata_path: str, started_ms: int) -> dict:
    """Per-component seconds and states of this run, the evaluation and the blessing."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    store = metadata_store.MetadataStore(config)
    executions = [
        e for e in store.get_executions() if e.create_time_since_epoch >= started_ms - 1000
    ]
    types = {t.id: t.name for t in store.get_execution_types()}
    states = {v: k for k, v in metadata_store_pb2.Execution.State.items()}
    components: dict[str, dict] = {}
    by_name = {}
    for execution in executions:
        name = types.get(execution.type_id, "?").rsplit(".", 1)[-1]
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1e3
        components[name] = {
            "seconds": round(seconds, 3),
            "state": states.get(execution.last_known_state, "?"),
        }
        by_name[name] = execution
    order = {name: i for i, name in enumerate(COMPONENT_ORDER)}
    components = dict(sorted(components.items(), key=lambda kv: order.get(kv[0], 99)))
    out: dict = {"components": components, "auc": None, "auc_min_slice": None, "blessed": None}
    out["pushed"] = None
    evaluator = by_name.get("Evaluator")
    if evaluator is not None:
        out.update(_evaluation(store, evaluator.id))
    pusher = by_name.get("Pusher")
    if pusher is not None:
        for artifact in _outputs(store, pusher.id):
            if "pushed" in artifact.custom_properties:
                out["pushed"] = bool(artifact.custom_properties["pushed"].int_value)
    train_info = _train_info(store, by_name.get("Trainer"))
    if train_info:
        out["train"] = train_info
    return out


def _outputs(store, execution_id: int) -> list:
    from ml_metadata.proto import metadata_store_pb2

    output_types = {
        metadata_store_pb2.Event.OUTPUT,
        metadata_store_pb2.Event.DECLARED_OUTPUT,
    }
    events = store.get_events_by_execution_ids([execution_id])
    ids = sorted({e.artifact_id for e in events if e.type in output_types})
    return store.get_artifacts_by_id(ids) if ids else []


def _evaluation(store, execution_id: int) -> dict:
    import tensorflow_model_analysis as tfma

    types = {t.id: t.name for t in store.get_artifact_types()}
    out: dict = {}
    for artifact in _outputs(store, execution_id):
        kind = types.get(artifact.type_id)
        if kind == "ModelBlessing" and "blessed" in artifact.custom_properties:
            out["blessed"] = bool(artifact.custom_properties["blessed"].int_value)
        elif kind == "ModelEvaluation":
            overall, lowest, slices = None, None, 0
            for metrics in tfma.load_metrics(artifact.uri):
                for kv in metrics.metric_keys_and_values:
                    if kv.key.name != "auc" or kv.key.model_name not in ("", "candidate"):
                        continue
                    value = kv.value.double_value.value
                    if not metrics.slice_key.single_slice_keys:
                        overall = value
                    else:
                        slices += 1
                        lowest = value if lowest is None else min(lowest, value)
            out.update(
                auc=overall,
                auc_min_slice=lowest,
                auc_slices=slices,
                evaluation_uri=artifact.uri,
            )
    return out


def _train_info(store, trainer) -> dict | None:
    if trainer is None:
        return None
    types = {t.id: t.name for t in store.get_artifact_types()}
    for artifact in _outputs(store, trainer.id):
        if types.get(artifact.type_id) == "ModelRun":
            path = os.path.join(artifact.uri, "train_info.json")
            if os.path.exists(path):
                with open(path) as f:
                    info = json.load(f)
                info.pop("history", None)
                return info
    return None


if __name__ == "__main__":
    main()
