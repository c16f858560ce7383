"""The Chicago taxi example: what tensorbridge does today on the shared taxi data.

Reads the CSV (types inferred, empty cells as nulls), shows the schema, splits the rows
2:1 into train/eval by a deterministic hash (as TFX's ExampleGen), writes each split as
sharded Parquet (atomically), reads the train split back and turns a batch into numpy
arrays and TensorFlow tensors. Then it runs the TFX taxi preprocessing_fn: analyzed
over the train split, frozen into a transform_fn SavedModel, applied to both splits.
Later issues extend this into the full pipeline (statistics, training, evaluation,
serving).

Run it with the README's first command, or:
    uv run python examples/taxi_pipeline.py [--data PATH] [--output DIR] [--engine local|spark]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

import tensorbridge as tb
import tensorbridge.transform as tbt
from tensorbridge.examples import taxi as taxi_example

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "chicago_taxi" / "data.csv"
NUMERIC_FEATURES = ["trip_miles", "fare", "trip_seconds", "trip_start_hour"]
console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the taxi CSV")
    parser.add_argument("--output", default="out/taxi", help="where to write the splits")
    parser.add_argument("--engine", default="local", choices=["local", "spark"])
    args = parser.parse_args()

    started = time.perf_counter()
    taxi = tb.read_csv(args.data, engine=args.engine)
    console.rule(f"[bold]1. Read[/bold] {taxi.source.describe()}")
    schema = Table("column", "inferred type")
    for field in taxi.schema:
        schema.add_row(field.name, str(field.type))
    console.print(schema)

    console.rule("[bold]2. Split[/bold] train:eval = 2:1 by a hash of the whole row")
    splits = taxi.split()  # {"train": 2, "eval": 1}, as TFX's ExampleGen
    written = Table("split", "rows", "share", "files", "path")
    total = taxi.count_rows()
    for name, part in splits.items():
        result = part.write_parquet(Path(args.output) / "examples" / name, overwrite=True)
        written.add_row(
            name,
            f"{result.num_rows:,}",
            f"{result.num_rows / total:.1%}",
            str(len(result.shards)),
            result.path,
        )
    console.print(written)

    console.rule("[bold]3. Parquet -> Arrow -> numpy / TensorFlow[/bold]")
    train = tb.read_parquet(Path(args.output) / "examples" / "train")
    batch = next(train.iter_batches())
    arrays = tb.to_numpy(batch, NUMERIC_FEATURES, fill_null=0)
    tensors = tb.to_tensors(
        batch, [*NUMERIC_FEATURES, "payment_type"], fill_null={"trip_seconds": 0}
    )
    shapes = Table("feature", "numpy", "tensor")
    for name in [*NUMERIC_FEATURES, "payment_type"]:
        array = arrays.get(name)
        numpy_text = f"{array.dtype} {array.shape}" if array is not None else "-"
        tensor = tensors[name]
        shapes.add_row(name, numpy_text, f"{tensor.dtype.name} {tuple(tensor.shape)}")
    console.print(shapes)
    fare = arrays["fare"]
    console.print(
        f"train: {train.count_rows():,} rows; first batch fare mean {fare.mean():.4f}, "
        f"max {fare.max():.2f}"
    )
    console.rule("[bold]4. Transform[/bold] the TFX taxi preprocessing_fn, analyzed on train")
    transform_dir = Path(args.output) / "transform"
    output = tbt.analyze_and_transform(
        {
            name: tb.read_parquet(Path(args.output) / "examples" / name, engine=args.engine)
            for name in splits
        },
        taxi_example.preprocessing_fn,
        transform_dir,
        overwrite=True,
        console=console,
    )
    results = output.analyzer_results
    constants = Table("analyzer", "result")
    for key in taxi_example.DENSE_FLOAT_FEATURE_KEYS:
        stats = results[f"mean_and_var_{key}"]
        constants.add_row(
            f"z-score {key}",
            f"mean {float(stats['mean']):.4f}, std {float(stats['var']) ** 0.5:.4f}",
        )
    for key in taxi_example.VOCAB_FEATURE_KEYS:
        tokens = output.vocabulary(f"vocab_{key}")
        constants.add_row(
            f"vocabulary {key}", f"{len(tokens)} tokens: {', '.join(tokens[:3])}, ..."
        )
    boundaries = results["quantiles_pickup_latitude"]["boundaries"]
    constants.add_row(
        "buckets pickup_latitude", ", ".join(f"{b:.3f}" for b in boundaries[:4]) + ", ..."
    )
    console.print(constants)
    transformed = output.transformed_data
    assert isinstance(transformed, dict)
    train_xf = transformed["train"].to_table()
    positives = int(train_xf.column("tips_xf").to_numpy().sum())
    console.print(
        f"transform_fn: {output.transform_fn_dir} (a SavedModel: tf.saved_model.load it and "
        f"call it on raw tensors); transformed train: {train_xf.num_rows:,} rows, "
        f"{train_xf.num_columns} features, {positives:,} big tippers"
    )
    console.print(f"Done in {time.perf_counter() - started:.1f} s.")


if __name__ == "__main__":
    main()
