"""The console view of statistics, anomalies and drift: rich tables, TFDV-Facets style.

Every user value (feature names, category values, descriptions) goes into a
:class:`rich.text.Text`, never into markup, so ``[bold]`` in the data stays text.

Number formatting (shared with the HTML report): counts with thousands separators
(:func:`format_count`), other numbers with 4 significant digits (:func:`format_number`),
shares as percentages with 1 or 2 decimals (:func:`format_percent`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tensorbridge._tables import print_table
from tensorbridge.stats.model import DatasetStatistics, FeatureStatistics, Statistics
from tensorbridge.stats.results import Anomaly, DriftReport, FeatureDrift, MovedValue

__all__ = [
    "METRIC_NAMES",
    "SEVERITY_STYLES",
    "anomalies_table",
    "anomaly_summary",
    "drift_table",
    "format_count",
    "format_moved",
    "format_number",
    "format_percent",
    "is_numeric",
    "print_anomalies",
    "print_drift",
    "print_statistics",
    "statistics_tables",
]

#: Display names of the drift metrics.
METRIC_NAMES = {"L_INFTY": "L-infinity", "JENSEN_SHANNON_DIVERGENCE": "Jensen-Shannon"}
#: Rich styles of the anomaly severities.
SEVERITY_STYLES = {"ERROR": "bold red", "WARNING": "yellow"}
#: The longest category value shown in a table cell (longer ones end with "…").
MAX_VALUE_CHARS = 40
NONE = "—"


def format_count(value: float | None) -> str:
    """A count with thousands separators (``1234567`` -> ``"1,234,567"``)."""
    if value is None or math.isnan(value):
        return NONE
    return f"{round(value):,}"


def format_number(value: float | None) -> str:
    """A number with 4 significant digits; integral values are shown exactly.

    Examples
    --------
    >>> [format_number(v) for v in (3.14159, 12345.0, 98765.4, 2.5e-07, float("-inf"))]
    ['3.142', '12,345', '98,770', '2.500e-07', '-inf']
    """
    if value is None:
        return NONE
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    rounded = float(f"{value:.4g}")
    if abs(rounded) >= 1000:
        return f"{rounded:,.0f}"
    if abs(rounded) < 1e-4:
        return f"{value:.3e}"
    return f"{value:.4g}"


def format_percent(part: float, total: float) -> str:
    """``part / total`` as a percentage: 1 decimal, 2 below 1%, ``"—"`` when total is 0.

    Examples
    --------
    >>> format_percent(1, 3), format_percent(1, 400), format_percent(0, 10)
    ('33.3%', '0.25%', '0.0%')
    """
    if not total or math.isnan(total) or math.isnan(part):
        return NONE
    share = 100.0 * part / total
    if 0 < share < 0.005:
        return "<0.01%"
    if 0 < share < 1:
        return f"{share:.2f}%"
    return f"{share:.1f}%"


def format_moved(moved: MovedValue) -> str:
    """A moved value: ``"label: 10.0% → 35.0%"``."""
    return (
        f"{moved.label}: {format_percent(moved.base_share, 1.0)} → "
        f"{format_percent(moved.current_share, 1.0)}"
    )


def is_numeric(feature: FeatureStatistics) -> bool:
    """True for INT and FLOAT features (shown with numeric statistics)."""
    return feature.numeric is not None or feature.type in ("INT", "FLOAT")


def _present(feature: FeatureStatistics) -> int:
    return feature.common.num_non_missing + feature.common.num_missing


def _clip(value: str) -> str:
    return value if len(value) <= MAX_VALUE_CHARS else value[: MAX_VALUE_CHARS - 1] + "…"


def _table(title: str) -> Table:
    return Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )


def _columns(table: Table, names: Sequence[str]) -> None:
    table.add_column("Feature", overflow="fold", min_width=12)
    table.add_column("Type", no_wrap=True)
    for name in names:
        table.add_column(name, justify="right", no_wrap=True)


def _count_cell(count: int, style: str = "yellow") -> Text:
    return Text(format_count(count), style=style if count else "dim")


def _numeric_row(feature: FeatureStatistics) -> list[Text]:
    common, numeric = feature.common, feature.numeric
    cells = [
        Text(feature.name),
        Text(feature.type, style="dim"),
        Text(format_count(common.num_non_missing)),
        Text(format_percent(common.num_missing, _present(feature))),
    ]
    if numeric is None:
        return cells + [Text(NONE, style="dim")] * 8
    inf = numeric.num_pos_inf + numeric.num_neg_inf
    cells += [
        Text(format_number(numeric.mean)),
        Text(format_number(numeric.std_dev)),
        Text(format_percent(numeric.num_zeros, common.tot_num_values)),
        Text(format_number(numeric.min)),
        Text(format_number(numeric.median)),
        Text(format_number(numeric.max)),
        _count_cell(numeric.num_nan),
        _count_cell(inf),
    ]
    return cells


def _categorical_row(feature: FeatureStatistics) -> list[Text]:
    common, string = feature.common, feature.string
    cells = [
        Text(feature.name),
        Text(feature.type, style="dim"),
        Text(format_count(common.num_non_missing)),
        Text(format_percent(common.num_missing, _present(feature))),
    ]
    if string is None:
        return cells + [Text(NONE, style="dim")] * 4
    top = string.top_values[0] if string.top_values else None
    cells += [
        Text(format_count(string.unique)),
        Text(_clip(top.value)) if top else Text(NONE, style="dim"),
        Text(format_percent(top.frequency, string.values_total)) if top else Text(NONE),
        Text(format_number(string.avg_length)),
    ]
    return cells


NUMERIC_COLUMNS = (
    "Count",
    "Missing",
    "Mean",
    "Std dev",
    "Zeros",
    "Min",
    "Median",
    "Max",
    "NaN",
    "Inf",
)
CATEGORICAL_COLUMNS = ("Count", "Missing", "Unique", "Top value", "Top freq", "Avg length")


def _dataset(stats: Statistics, slice_name: str | None) -> DatasetStatistics:
    return stats.default if slice_name is None else stats.slice(slice_name)


def statistics_tables(stats: Statistics, *, slice_name: str | None = None) -> list[Table]:
    """Tables of one slice's features: one of numeric, one of categorical features.

    Parameters
    ----------
    stats : Statistics
        The statistics.
    slice_name : str, optional
        The slice to show (e.g. ``"payment_type=Cash"``); the default slice (every
        example) when None.

    Returns
    -------
    list of rich.table.Table
        The numeric table (count, missing %, mean, std dev, zeros %, min, median, max,
        NaN and inf counts) and the categorical one (count, missing %, unique, top value
        and its share, average length); a table with no feature is left out.

    Raises
    ------
    KeyError
        When there is no slice called ``slice_name``.
    """
    dataset = _dataset(stats, slice_name)
    where = f"{dataset.name} · {format_count(dataset.num_examples)} examples"
    tables = []
    numeric = [f for f in dataset if is_numeric(f)]
    categorical = [f for f in dataset if not is_numeric(f)]
    if numeric:
        table = _table(f"Numeric features ({len(numeric)}) · {where}")
        _columns(table, NUMERIC_COLUMNS)
        for feature in numeric:
            table.add_row(*_numeric_row(feature))
        tables.append(table)
    if categorical:
        table = _table(f"Categorical features ({len(categorical)}) · {where}")
        _columns(table, CATEGORICAL_COLUMNS)
        for feature in categorical:
            table.add_row(*_categorical_row(feature))
        tables.append(table)
    return tables


def print_statistics(
    stats: Statistics, console: Console | None = None, *, slice_name: str | None = None
) -> None:
    """Print :func:`statistics_tables` (and a note when the slice has no feature)."""
    console = console or Console()
    tables = statistics_tables(stats, slice_name=slice_name)
    for table in tables:
        print_table(console, table)
    if not tables:
        dataset = _dataset(stats, slice_name)
        console.print(
            Text(
                f"{dataset.name}: {format_count(dataset.num_examples)} examples, no features.",
                style="dim",
            )
        )


def _feature_label(feature: str | None) -> Text:
    return Text(feature) if feature is not None else Text("(data set)", style="italic")


def anomalies_table(anomalies: Sequence[Anomaly]) -> Table:
    """A table of anomalies: feature, severity, type and descriptions.

    ERROR rows are red, WARNING rows yellow.
    """
    table = _table(f"Anomalies ({anomaly_summary(anomalies)})")
    table.add_column("Feature", overflow="fold", min_width=12)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Type", overflow="fold")
    table.add_column("Short description", overflow="fold")
    table.add_column("Description", overflow="fold", ratio=1)
    for anomaly in anomalies:
        style = SEVERITY_STYLES.get(anomaly.severity, "")
        table.add_row(
            _feature_label(anomaly.feature),
            Text(anomaly.severity, style=style),
            Text(anomaly.type),
            Text(anomaly.short_description, style=style),
            Text(anomaly.description),
        )
    return table


def anomaly_summary(anomalies: Sequence[Anomaly]) -> str:
    """E.g. ``"1 error, 2 warnings"``, or ``"no anomalies"``."""
    if not anomalies:
        return "no anomalies"
    parts = []
    for severity, word in (("ERROR", "error"), ("WARNING", "warning")):
        count = sum(a.severity == severity for a in anomalies)
        if count:
            parts.append(f"{count:,} {word}{'' if count == 1 else 's'}")
    return ", ".join(parts)


def print_anomalies(anomalies: Sequence[Anomaly], console: Console | None = None) -> None:
    """Print :func:`anomalies_table`, or a green "No anomalies found." when there are none."""
    console = console or Console()
    if not anomalies:
        console.print(Text("✓ No anomalies found.", style="bold green"))
        return
    print_table(console, anomalies_table(anomalies))


def _status(drift: FeatureDrift) -> Text:
    if drift.threshold is None:
        return Text("no threshold", style="dim")
    if drift.exceeded:
        return Text("EXCEEDED", style="bold red")
    return Text("ok", style="green")


def drift_table(report: DriftReport) -> Table:
    """Distances per feature against their thresholds (exceeded in red).

    Columns: feature, metric, value, threshold, status, and the value whose share moved
    most (``label: base share → current share``).
    """
    title = (
        f"{report.kind.capitalize()}: baseline {format_count(report.base_examples)} examples"
        f" → current {format_count(report.current_examples)} examples"
    )
    table = _table(title)
    table.add_column("Feature", overflow="fold", min_width=12)
    table.add_column("Metric", no_wrap=True)
    table.add_column("Value", justify="right", no_wrap=True)
    table.add_column("Threshold", justify="right", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Moved most", overflow="fold")
    for drift in report.features:
        style = "red" if drift.exceeded else ""
        table.add_row(
            Text(drift.feature, style="bold red" if drift.exceeded else ""),
            Text(METRIC_NAMES.get(drift.metric, drift.metric)),
            Text(format_number(drift.value), style=style),
            Text(format_number(drift.threshold), style="dim" if drift.threshold is None else ""),
            _status(drift),
            Text(format_moved(drift.moved[0])) if drift.moved else Text(NONE, style="dim"),
        )
    return table


def print_drift(report: DriftReport, console: Console | None = None) -> None:
    """Print :func:`drift_table`, then the report's anomalies (or a green all-clear)."""
    console = console or Console()
    print_table(console, drift_table(report))
    if report.ok:
        console.print(Text(f"✓ No {report.kind} threshold exceeded.", style="bold green"))
    else:
        print_anomalies(report.anomalies, console)
