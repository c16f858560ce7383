"""``tensorbridge`` commands: inspect, head, split, convert, push, engines; stats and friends."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from tensorbridge import __version__
from tensorbridge.cli.metadata_commands import artifacts, lineage, runs
from tensorbridge.cli.options import console, errors, input_options, print_bad_rows
from tensorbridge.cli.pipeline_commands import compile_pipeline, run
from tensorbridge.cli.serve_commands import labels, serve
from tensorbridge.cli.sources import open_dataset, parse_pairs
from tensorbridge.cli.stats_commands import drift, schema, stats, validate
from tensorbridge.errors import ConfigError, TensorbridgeError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tensorbridge")
def cli() -> None:
    """tensorbridge: data in files or Spark to TensorFlow models, Arrow all the way.

    Every command reads CSV, Parquet (a file or a directory) or JSON lines.
    """


@cli.command()
@click.argument("data")
@input_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def inspect(data: str, source: dict[str, Any], as_json: bool) -> None:
    """Show the inferred schema, row count and missing values of DATA."""
    from tensorbridge.engine.accumulators import NullCounts

    ds = open_dataset(data, **source)
    started = time.perf_counter()
    with console.status(escape(f"Reading {ds.source.describe()}...")):
        counts = ds.aggregate(NullCounts())
    seconds = time.perf_counter() - started
    rows = counts.pop("")
    if as_json:
        payload = {
            "source": ds.source.describe(),
            "rows": rows,
            "columns": [
                {"name": f.name, "type": str(f.type), "missing": counts.get(f.name, 0)}
                for f in ds.schema
            ],
            "bad_rows": ds.bad_rows.count,
        }
        click.echo(json.dumps(payload, indent=2))
        return
    table = Table(title=escape(f"{ds.source.describe()}: {rows:,} rows"), title_justify="left")
    table.add_column("column")
    table.add_column("type")
    table.add_column("missing", justify="right")
    table.add_column("missing %", justify="right")
    for field in ds.schema:
        missing = counts.get(field.name, 0)
        share = f"{100 * missing / rows:.1f}" if rows else "-"
        table.add_row(escape(field.name), escape(str(field.type)), f"{missing:,}", share)
    console.print(table)
    console.print(f"Read in {seconds:.2f} s ({rows / max(seconds, 1e-9):,.0f} rows/s).")
    print_bad_rows(ds.bad_rows)


@cli.command()
@click.argument("data")
@click.option("-n", "--rows", default=5, show_default=True, help="How many rows.")
@input_options
def head(data: str, rows: int, source: dict[str, Any]) -> None:
    """Print the first rows of DATA."""
    ds = open_dataset(data, **source)
    first = ds.head(rows)
    records = first.to_pylist()
    table = Table()
    if first.num_columns > 6:  # wide data: one line per column, one column per row
        table.add_column("column", min_width=max(len(n) for n in first.column_names))
        table.add_column("type", style="dim")
        for i in range(len(records)):
            table.add_column(f"row {i + 1}", overflow="fold")
        for field in first.schema:
            cells = ["" if r[field.name] is None else escape(str(r[field.name])) for r in records]
            table.add_row(escape(field.name), escape(str(field.type)), *cells)
    else:
        for name in first.column_names:
            table.add_column(name, overflow="fold")
        for record in records:
            table.add_row(*["" if v is None else escape(str(v)) for v in record.values()])
    console.print(table)


def _parse_ratios(ratios: tuple[str, ...]) -> dict[str, float] | None:
    try:
        pairs = parse_pairs(ratios, option="--ratio", example="train=2")
        return {name: float(value) for name, value in pairs.items()} or None
    except (ConfigError, ValueError) as err:
        raise click.BadParameter(
            f"{err} A ratio is NAME=NUMBER, e.g. train=2 or eval=0.2.", param_hint="--ratio"
        ) from None


@cli.command()
@click.argument("data")
@click.argument("output")
@click.option(
    "--ratio",
    "ratios",
    multiple=True,
    metavar="NAME=RATIO",
    help="A split and its ratio; repeat it. Default: train=2 eval=1 (as TFX).",
)
@click.option(
    "--key", default=None, help="Column whose value decides the split (default: whole row)."
)
@input_options
@click.option("--overwrite", is_flag=True, help="Replace existing output directories.")
def split(
    data: str,
    output: str,
    ratios: tuple[str, ...],
    key: str | None,
    source: dict[str, Any],
    overwrite: bool,
) -> None:
    """Split DATA by a deterministic hash and write OUTPUT/<split>/ as Parquet."""
    ds = open_dataset(data, **source)
    parts = ds.split(_parse_ratios(ratios), key=key)
    table = Table(title=escape(f"Splits of {ds.source.describe()}"), title_justify="left")
    for column in ("split", "rows", "files", "MB", "path"):
        table.add_column(column, justify="right" if column in ("rows", "files", "MB") else "left")
    started = time.perf_counter()
    total = 0
    for name, part in parts.items():
        with console.status(f"Writing split {name!r}..."):
            result = part.write_parquet(f"{output}/{name}", overwrite=overwrite)
        total += result.num_rows
        table.add_row(
            name,
            f"{result.num_rows:,}",
            str(len(result.shards)),
            f"{result.num_bytes / 1e6:.2f}",
            result.path,
        )
    console.print(table)
    seconds = time.perf_counter() - started
    console.print(f"Wrote {total:,} rows in {seconds:.2f} s.")
    print_bad_rows(ds.bad_rows)


@cli.command()
@click.argument("data")
@click.argument("output")
@input_options
@click.option(
    "--rows-per-file", default=1_048_576, show_default=True, help="Rows per Parquet shard."
)
@click.option(
    "--row-group-size",
    type=int,
    default=None,
    help="Rows per row group [default: 131072, or --rows-per-file if smaller].",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
def convert(
    data: str,
    output: str,
    source: dict[str, Any],
    rows_per_file: int,
    row_group_size: int | None,
    overwrite: bool,
) -> None:
    """Convert DATA to a sharded Parquet directory OUTPUT (written atomically)."""
    ds = open_dataset(data, **source)
    started = time.perf_counter()
    with console.status(escape(f"Converting {ds.source.describe()}...")):
        result = ds.write_parquet(
            output, rows_per_file=rows_per_file, row_group_size=row_group_size, overwrite=overwrite
        )
    seconds = time.perf_counter() - started
    console.print(
        f"Wrote {result} in {seconds:.2f} s ({result.num_rows / max(seconds, 1e-9):,.0f} rows/s)."
    )
    print_bad_rows(result.bad_rows)


@cli.command()
@click.argument("model_dir")
@click.argument("repository")
@click.option("--name", required=True, help="The model's name in the repository.")
@click.option(
    "--evaluation", default=None, help="Evaluation directory (holds BLESSED or NOT_BLESSED)."
)
@click.option("--force", is_flag=True, help="Push even if not blessed (recorded in push.json).")
@click.option("--reason", default="", help="Why, when forcing (recorded).")
def push(
    model_dir: str, repository: str, name: str, evaluation: str | None, force: bool, reason: str
) -> None:
    """Push the exported MODEL_DIR into REPOSITORY as the next version of --name."""
    from tensorbridge.push import push_model

    result = push_model(
        model_dir, repository, name, evaluation=evaluation, force=force, reason=reason
    )
    console.print(escape(str(result)))


@cli.command()
def engines() -> None:
    """Check which engines can run here (Spark needs PySpark and Java 17+)."""
    from tensorbridge.engine.java import find_java

    table = Table()
    table.add_column("engine")
    table.add_column("ready")
    table.add_column("details")
    table.add_row("local", "yes", "pyarrow in this process; no JVM")
    try:
        import pyspark

        java = find_java()
        table.add_row(
            "spark",
            "yes",
            f"PySpark {pyspark.__version__}; {java.version_text} ({java.executable})",
        )
    except ImportError:
        table.add_row("spark", "no", "PySpark is not installed: pip install 'tensorbridge[spark]'")
    except TensorbridgeError as err:
        table.add_row("spark", "no", escape(str(err)))
    console.print(table)


for _command in (
    stats,
    schema,
    validate,
    drift,
    run,
    runs,
    artifacts,
    lineage,
    compile_pipeline,
    serve,
    labels,
):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn tensorbridge errors into readable messages."""
    try:
        cli.main(args=argv, prog_name="tensorbridge", standalone_mode=False)
    except click.exceptions.Abort:
        errors.print("Aborted.")
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except TensorbridgeError as err:
        errors.print(
            f"[bold red]error:[/bold red] {type(err).__name__}: {escape(str(err))}", highlight=False
        )
        sys.exit(1)
