"""``tensorbridge stats | schema infer | schema check | validate | drift``.

Every DATA argument is a data path (CSV, Parquet, JSON lines) or a statistics file
written by ``tensorbridge stats DATA -o stats.json``, so statistics of a big data set
are computed once and compared many times.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from tensorbridge.cli.options import (
    console,
    errors,
    input_options,
    input_options_with,
    print_bad_rows,
)
from tensorbridge.cli.sources import open_dataset

__all__ = ["drift", "schema", "stats", "validate"]

_STATS_MARKER = '"format": "tensorbridge.statistics"'


def _is_statistics_file(path: str) -> bool:
    file = Path(path)
    if not file.is_file() or file.suffix.lower() != ".json":
        return False
    with open(file, encoding="utf-8", errors="replace") as f:
        return _STATS_MARKER in f.read(256)


def statistics_of(
    path: str,
    source: dict[str, Any],
    *,
    slice_by: tuple[str, ...] = (),
    label: str | None = None,
    features: tuple[str, ...] = (),
    quiet: bool = False,
) -> Any:
    """Load a statistics file, or compute the statistics of a data path (with a spinner)."""
    from tensorbridge.stats import Statistics, compute

    if _is_statistics_file(path):
        return Statistics.load(path)
    dataset = open_dataset(path, **source)
    started = time.perf_counter()
    with errors.status(escape(f"Computing statistics of {dataset.source.describe()}...")):
        result = compute(
            dataset, slice_by=list(slice_by), label=label, features=list(features) or None
        )
    seconds = time.perf_counter() - started
    if not quiet:
        rows = result.num_examples
        errors.print(
            f"Statistics of {rows:,} examples in {seconds:.2f} s "
            f"({rows / max(seconds, 1e-9):,.0f} rows/s, engine {dataset.engine.name}).",
            highlight=False,
        )
    print_bad_rows(dataset.bad_rows)
    return result


def _write_html(path: str | None, **kwargs: Any) -> None:
    if path is None:
        return
    from tensorbridge.stats.report import write_html

    written = write_html(path, **kwargs)
    errors.print(f"Report written to {escape(str(written))}", highlight=False)


def _echo_json(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(payload, indent=1, allow_nan=False))


_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
_html_option = click.option(
    "--html", "html", metavar="FILE", default=None, help="Also write an HTML report to FILE."
)
_feature_option = click.option(
    "--feature", "features", multiple=True, metavar="NAME", help="Only this column (repeatable)."
)


@click.command()
@click.argument("data")
@input_options
@click.option(
    "--slice-by", multiple=True, metavar="COLUMN", help="Also per value of COLUMN (repeatable)."
)
@click.option("--label", default=None, metavar="COLUMN", help="Also per class of this label.")
@_feature_option
@click.option(
    "-o", "--output", default=None, metavar="FILE", help="Save the statistics as JSON to FILE."
)
@click.option(
    "--slice", "slice_name", default=None, help="Print this slice (default: All Examples)."
)
@_json_option
@_html_option
def stats(
    data: str,
    source: dict[str, Any],
    slice_by: tuple[str, ...],
    label: str | None,
    features: tuple[str, ...],
    output: str | None,
    slice_name: str | None,
    as_json: bool,
    html: str | None,
) -> None:
    """Compute per-feature statistics of DATA (what TFDV's StatisticsGen computes).

    Numeric features: count, missing, mean, std dev, zeros, min, median, max, NaN/inf
    counts, quantiles and histograms. Strings: unique, top values, average length.
    """
    from tensorbridge.stats.tables import print_statistics

    result = statistics_of(data, source, slice_by=slice_by, label=label, features=features)
    if output is not None:
        result.save(output)
        errors.print(f"Statistics saved to {escape(output)}", highlight=False)
    _write_html(html, statistics=result, title=f"Statistics of {Path(data).name}")
    if as_json:
        _echo_json(result.to_dict())
        return
    print_statistics(result, console, slice_name=slice_name)


@click.group()
def schema() -> None:
    """Infer a schema from data, or check a curated schema file."""


@schema.command("infer")
@click.argument("data")
@input_options
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="FILE",
    help="Write the schema to FILE (.yaml/.yml or .json); default: print YAML.",
)
@click.option(
    "--max-string-domain-size",
    default=100,
    show_default=True,
    help="Most distinct strings that still make an enumerated domain.",
)
@_json_option
def schema_infer(
    data: str,
    source: dict[str, Any],
    output: str | None,
    max_string_domain_size: int,
    as_json: bool,
) -> None:
    """Infer a schema from DATA with TFDV's rules, to curate and keep in version control."""
    from tensorbridge.stats import infer_schema, save_schema

    result = infer_schema(
        statistics_of(data, source), max_string_domain_size=max_string_domain_size
    )
    if as_json:
        click.echo(result.to_json())
    elif output is None:
        click.echo(result.to_yaml(), nl=False)
    if output is not None:
        save_schema(result, output)
        if not as_json:
            console.print(_schema_table(result))
        errors.print(
            f"Schema with {len(result.features)} features written to {escape(output)}; "
            "review it, then check data with: tensorbridge validate DATA --schema "
            f"{escape(output)}",
            highlight=False,
        )


@schema.command("check")
@click.argument("schema_file", metavar="FILE")
@_json_option
def schema_check(schema_file: str, as_json: bool) -> None:
    """Check a schema file (e.g. after editing it) and show what it requires."""
    from tensorbridge.stats import load_schema

    result = load_schema(schema_file)
    if as_json:
        click.echo(result.to_json())
        return
    console.print(_schema_table(result))
    console.print(f"[green]{escape(schema_file)} is a valid schema.[/green]")


def _schema_table(result: Any) -> Table:
    table = Table(title=f"Schema: {len(result.features)} features", title_justify="left")
    for column in ("feature", "type", "presence", "values", "domain"):
        table.add_column(column)
    for feature in result.features:
        data = feature.to_dict()
        presence = data.get("presence", {})
        required = (
            f"min_fraction {presence['min_fraction']:g}"
            if "min_fraction" in presence
            else f"min_count {presence.get('min_count', 0)}"
        )
        values = (
            f"shape {list(feature.shape)}"
            if feature.shape is not None
            else json.dumps(data.get("value_count", {}))
        )
        domain = next(
            (f"{key}: {_short(data[key])}" for key in data if key.endswith("_domain")), ""
        )
        table.add_row(
            escape(feature.name),
            feature.type,
            required,
            escape(values),
            escape(domain),
        )
    return table


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


@click.command()
@click.argument("data")
@click.option(
    "--schema", "schema_file", required=True, metavar="FILE", help="The schema to check against."
)
@input_options_with("--column-type")
@click.option(
    "--previous",
    default=None,
    metavar="DATA",
    help="The previous span (data or statistics), for the data set size check.",
)
@_json_option
@_html_option
def validate(
    data: str,
    schema_file: str,
    source: dict[str, Any],
    previous: str | None,
    as_json: bool,
    html: str | None,
) -> None:
    """Check DATA against a schema and list the anomalies (TFX's ExampleValidator).

    Exits with status 1 when there is an anomaly of severity ERROR.
    """
    from tensorbridge.stats import load_schema
    from tensorbridge.stats import validate as validate_statistics
    from tensorbridge.stats.tables import print_anomalies

    curated = load_schema(schema_file)
    current = statistics_of(data, source)
    before = statistics_of(previous, source) if previous is not None else None
    anomalies = validate_statistics(current, curated, previous=before)
    _write_html(
        html, statistics=current, anomalies=anomalies, title=f"Validation of {Path(data).name}"
    )
    if as_json:
        _echo_json(
            {
                "ok": not any(a.severity == "ERROR" for a in anomalies),
                "num_examples": current.num_examples,
                "anomalies": [a.to_dict() for a in anomalies],
            }
        )
    else:
        print_anomalies(anomalies, console)
    if any(a.severity == "ERROR" for a in anomalies):
        raise click.exceptions.Exit(1)


@click.command()
@click.argument("base")
@click.argument("current")
@input_options_with("--column-type")
@click.option(
    "--schema",
    "schema_file",
    default=None,
    metavar="FILE",
    help="Per-feature thresholds (drift_comparator / skew_comparator) from this schema.",
)
@click.option(
    "--skew",
    is_flag=True,
    help="BASE is training data and CURRENT serving data: use skew_comparator thresholds.",
)
@_feature_option
@_json_option
@_html_option
def drift(
    base: str,
    current: str,
    source: dict[str, Any],
    schema_file: str | None,
    skew: bool,
    features: tuple[str, ...],
    as_json: bool,
    html: str | None,
) -> None:
    """Compare the distributions of BASE and CURRENT, feature by feature.

    L-infinity distance for categorical features and Jensen-Shannon divergence for all,
    against the schema's thresholds or tensorbridge's defaults (L-inf 0.1, JSD 0.05).
    Exits with status 1 when a threshold is exceeded.
    """
    from tensorbridge.stats import drift as drift_of
    from tensorbridge.stats import load_schema
    from tensorbridge.stats import skew as skew_of
    from tensorbridge.stats.tables import print_drift

    curated = load_schema(schema_file) if schema_file is not None else None
    before = statistics_of(base, source, features=features)
    after = statistics_of(current, source, features=features)
    compare = skew_of if skew else drift_of
    report = compare(before, after, schema=curated, features=list(features) or None)
    _write_html(
        html,
        statistics=after,
        baseline=before,
        drift=report,
        title=f"{'Skew' if skew else 'Drift'}: {Path(base).name} vs {Path(current).name}",
    )
    if as_json:
        _echo_json(report.to_dict())
    else:
        print_drift(report, console)
    if not report.ok:
        raise click.exceptions.Exit(1)
