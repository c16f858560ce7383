"""The TFX Chicago taxi example, end to end, on the shared taxi data.

1. read the CSV (types inferred, empty cells as nulls);
2. split it 2:1 into train/eval by a deterministic hash, as TFX's ExampleGen;
3. compute statistics of both splits, infer a schema from train (TFX's StatisticsGen and
   SchemaGen), and check eval against it and for train/eval skew (ExampleValidator);
4. analyze the TFX taxi preprocessing_fn on train and transform both splits;
5. train the TFX wide & deep Keras model on the transformed Parquet;
6. export one SavedModel holding the transform and the model (raw features in);
7. evaluate the exported model on the raw eval rows, sliced by trip_start_hour, with an
   AUC threshold that decides the blessing;
8. push the blessed model into a local model repository (TF Serving's layout).

    uv run --frozen python examples/chicago_taxi/pipeline.py [--output DIR] [--engine spark]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

import tensorbridge as tb
import tensorbridge.transform as tbt
from tensorbridge.evaluate import Slice, ValueThreshold, evaluate
from tensorbridge.examples import taxi
from tensorbridge.push import push_model
from tensorbridge.train import encode_raw_rows, export_serving_model, record_evaluation, train

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[2] / "shared" / "data" / "chicago_taxi" / "data.csv"
console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the taxi CSV")
    parser.add_argument("--output", default="out/chicago_taxi", help="where everything goes")
    parser.add_argument("--engine", default="local", choices=["local", "spark"])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--min-auc", type=float, default=0.9, help="the blessing threshold")
    args = parser.parse_args()
    out = Path(args.output)
    started = time.perf_counter()

    raw = tb.read_csv(args.data, engine=args.engine)
    console.rule(f"[bold]1. Read[/bold] {raw.source.describe()}")
    console.print(", ".join(f"{f.name}: {f.type}" for f in raw.schema))

    console.rule("[bold]2. Split[/bold] train:eval = 2:1 by a hash of the whole row")
    splits = {}
    for name, part in raw.split().items():
        written = part.write_parquet(out / "examples" / name, overwrite=True)
        splits[name] = tb.read_parquet(written.path, engine=args.engine)
        console.print(f"{name}: {written.num_rows:,} rows -> {written.path}")

    console.rule("[bold]3. Validate[/bold] statistics, schema from train, anomalies and skew")
    train_stats = validate_splits(splits, out / "statistics")

    console.rule("[bold]4. Transform[/bold] the TFX taxi preprocessing_fn, analyzed on train")
    transform = tbt.analyze_and_transform(
        splits, taxi.preprocessing_fn, out / "transform", overwrite=True, console=console
    )

    console.rule("[bold]5. Train[/bold] the TFX wide & deep model")
    trained = train(
        transform,
        taxi.build_keras_model,
        out / "train",
        label="tips_xf",
        features=taxi.model_features(),
        epochs=args.epochs,
        batch_size=40,
        console=console,
    )

    console.rule("[bold]6. Export[/bold] transform + model in one SavedModel")
    export_dir = export_serving_model(
        trained.model_path,
        transform,
        out / "export",
        features=taxi.model_features(),
        raw_label_columns=["tips"],
        label="tips_xf",
        statistics=train_stats,  # the server compares live traffic with these
        samples=splits["eval"].head(8).to_pylist(),  # and warms new versions up with these
        overwrite=True,
    )
    console.print(f"serving model: {export_dir}")

    console.rule("[bold]7. Evaluate[/bold] the exported model on raw eval rows, by trip_start_hour")
    evaluation = evaluate_exported(export_dir, splits["eval"], transform, out, args.min_auc)
    evaluation.print_table(console)
    record_evaluation(export_dir, evaluation)  # the evaluation summary goes into tensorbridge.json

    console.rule("[bold]8. Push[/bold] into the model repository")
    summary = Table("what", "where")
    summary.add_row("serving model", str(export_dir))
    summary.add_row("data validation report", str(out / "statistics" / "report.html"))
    summary.add_row("evaluation report", str(out / "evaluation" / "report.html"))
    if evaluation.blessed:
        pushed = push_model(export_dir, out / "models", "taxi", evaluation=evaluation)
        console.print(str(pushed))
        summary.add_row("pushed version", str(pushed.path))
    else:
        console.print("[red]not blessed: not pushed[/red]")
        summary.add_row("pushed version", "none (not blessed)")
    console.print(summary)
    console.print(f"Done in {time.perf_counter() - started:.1f} s.")


def validate_splits(splits: dict[str, tb.Dataset], out: Path) -> tb.stats.Statistics:
    """StatisticsGen, SchemaGen and ExampleValidator: report anomalies, do not stop.

    Returns the train statistics (the export records them as the serving baseline).

    Like TFX's ExampleValidator, anomalies are recorded (and shown), not fatal: on this
    data eval has a few taxi companies train never saw, as in TFDV's own taxi tutorial.
    """
    from tensorbridge.stats.report import write_html
    from tensorbridge.stats.tables import print_anomalies

    out.mkdir(parents=True, exist_ok=True)
    train_stats = tb.stats.compute(splits["train"])
    eval_stats = tb.stats.compute(splits["eval"])
    train_stats.save(out / "train_stats.json")
    eval_stats.save(out / "eval_stats.json")
    schema = tb.stats.infer_schema(train_stats)
    tb.stats.save_schema(schema, out / "schema.yaml")
    anomalies = tb.stats.validate(eval_stats, schema)
    skew = tb.stats.skew(train_stats, eval_stats, schema=schema)
    console.print(f"schema: {len(schema.features)} features -> {out / 'schema.yaml'}")
    print_anomalies([*anomalies, *skew.anomalies], console)
    write_html(
        out / "report.html",
        statistics=eval_stats,
        baseline=train_stats,
        anomalies=anomalies,
        drift=skew,
        title="Chicago taxi: eval split vs train",
    )
    return train_stats


def evaluate_exported(
    export_dir: Path,
    eval_split: tb.Dataset,
    transform: tbt.TransformOutput,
    out: Path,
    min_auc: float,
) -> object:
    """Score the raw eval rows with the exported model (as a server would) and evaluate."""
    import json

    import tensorflow as tf

    manifest = json.loads((export_dir / "tensorbridge.json").read_text())
    serving = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    rows = eval_split.to_table()
    inputs = encode_raw_rows(rows.to_pylist(), manifest)
    specs = serving.structured_input_signature[1]
    predictions = serving(**{k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()})
    probabilities = predictions["probabilities"].numpy().reshape(-1)
    transformed = transform.transformed_data["eval"].to_table()  # type: ignore[index]
    table = pa.table(
        {
            "tips_xf": transformed.column("tips_xf"),
            "prediction": pa.array(probabilities.astype(np.float64)),
            "trip_start_hour": rows.column("trip_start_hour"),
        }
    )
    return evaluate(
        table,
        label="tips_xf",
        prediction="prediction",
        slices=[Slice(), Slice("trip_start_hour")],
        thresholds={"auc": ValueThreshold(lower=min_auc)},
        output_dir=out / "evaluation",
        model_name="taxi wide & deep",
        overwrite=True,
    )


if __name__ == "__main__":
    main()
