"""The terminal tables of statistics, anomalies and drift, and their number formats."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.table import Table

from tensorbridge.stats.model import (
    DEFAULT_SLICE,
    CommonStatistics,
    DatasetStatistics,
    FeatureStatistics,
    FeatureType,
    NumericStatistics,
    RankBucket,
    Statistics,
    StringStatistics,
    TopValue,
)
from tensorbridge.stats.results import Anomaly, DriftReport, FeatureDrift, MovedValue
from tensorbridge.stats.tables import (
    anomalies_table,
    drift_table,
    format_count,
    format_number,
    format_percent,
    print_anomalies,
    print_drift,
    print_statistics,
    statistics_tables,
)

# --------------------------------------------------------------------------- builders


def _common(count: int, missing: int) -> CommonStatistics:
    return CommonStatistics(count, missing, 1, 1, 1.0, count)


def numeric(
    name: str,
    *,
    type: FeatureType = "FLOAT",
    count: int = 1000,
    missing: int = 0,
    mean: float = 0.0,
    std: float = 1.0,
    zeros: int = 0,
    lo: float = 0.0,
    median: float = 0.0,
    hi: float = 1.0,
    nan: int = 0,
    pos_inf: int = 0,
    neg_inf: int = 0,
) -> FeatureStatistics:
    stats = NumericStatistics(
        mean, std, zeros, lo, hi, median, nan, pos_inf, neg_inf, (median,) * 101, ()
    )
    return FeatureStatistics(name, type, "double", _common(count, missing), numeric=stats)


def categorical(
    name: str, top: dict[str, int], *, unique: int, missing: int = 0, avg_length: float = 4.0
) -> FeatureStatistics:
    total = sum(top.values())
    string = StringStatistics(
        unique,
        tuple(TopValue(v, float(c)) for v, c in top.items()),
        avg_length,
        tuple(RankBucket(i, i, v, float(c)) for i, (v, c) in enumerate(top.items())),
        total,
    )
    return FeatureStatistics(name, "STRING", "string", _common(total, missing), string=string)


def statistics(*slices: tuple[str, int, list[FeatureStatistics]]) -> Statistics:
    return Statistics(
        tuple(DatasetStatistics(n, e, {f.name: f for f in fs}) for n, e, fs in slices),
        source="data.csv",
    )


def recorder() -> Console:
    return Console(record=True, width=200, file=io.StringIO())


def render(*tables: Table) -> str:
    console = recorder()
    for table in tables:
        console.print(table)
    return console.export_text()


@pytest.fixture
def stats() -> Statistics:
    fare = numeric(
        "fare",
        count=9_990,
        missing=10,
        mean=12.3456789,
        std=1234.5678,
        zeros=250,
        lo=-3.0,
        median=8.25,
        hi=98765.4,
        nan=3,
        pos_inf=1,
        neg_inf=1,
    )
    trips = numeric("trips", type="INT", count=1_234_567, mean=2.0, lo=1.0, median=2.0, hi=7.0)
    payment = categorical(
        "payment_type",
        {"Cash": 6_000, "Credit Card": 2_999, "[bold]x[/bold]": 1},
        unique=1_234,
        missing=1_000,
        avg_length=4.5,
    )
    small = numeric("fare", count=2_500, mean=0.5)
    return statistics(
        (DEFAULT_SLICE, 10_000, [fare, trips, payment]), ("company=A", 2_500, [small])
    )


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.14159265, "3.142"),
        (12.3456789, "12.35"),
        (0.000123456, "0.0001235"),
        (2.5e-7, "2.500e-07"),
        (98_765.4, "98,770"),
        (12_345.0, "12,345"),
        (9_999.7, "10,000"),
        (1_234.5678, "1,235"),
        (-3.0, "-3"),
        (0.0, "0"),
        (float("nan"), "NaN"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        (None, "—"),
    ],
)
def test_format_number(value: float | None, text: str) -> None:
    assert format_number(value) == text


def test_format_count_and_percent() -> None:
    assert format_count(1_234_567) == "1,234,567"
    assert format_count(None) == "—"
    assert format_percent(1, 3) == "33.3%"
    assert format_percent(10, 10_000) == "0.10%"
    assert format_percent(1, 1_000_000) == "<0.01%"
    assert format_percent(0, 5) == "0.0%"
    assert format_percent(5, 5) == "100.0%"
    assert format_percent(1, 0) == "—"


# --------------------------------------------------------------------------- statistics


def test_statistics_tables_numeric_and_categorical(stats: Statistics) -> None:
    tables = statistics_tables(stats)
    assert len(tables) == 2
    numeric_text, categorical_text = render(tables[0]), render(tables[1])

    assert "Numeric features (2) · All Examples · 10,000 examples" in numeric_text
    fare = next(line for line in numeric_text.splitlines() if line.strip().startswith("fare"))
    cells = fare.split()
    # feature, type, count, missing, mean, std, zeros, min, median, max, NaN, inf
    assert cells == [
        "fare",
        "FLOAT",
        "9,990",
        "0.10%",
        "12.35",
        "1,235",
        "2.5%",
        "-3",
        "8.25",
        "98,770",
        "3",
        "2",
    ]
    assert "1,234,567" in numeric_text and "INT" in numeric_text
    assert "payment_type" not in numeric_text

    assert "Categorical features (1) · All Examples" in categorical_text
    payment = next(line for line in categorical_text.splitlines() if "payment_type" in line)
    cells = ["payment_type", "STRING", "9,000", "10.0%", "1,234", "Cash", "66.7%", "4.5"]
    assert payment.split() == cells
    for header in ("Missing", "Unique", "Top value", "Top freq", "Avg length"):
        assert header in categorical_text


def test_statistics_tables_other_slice(stats: Statistics) -> None:
    tables = statistics_tables(stats, slice_name="company=A")
    assert len(tables) == 1  # no categorical feature in this slice
    text = render(*tables)
    assert "company=A · 2,500 examples" in text
    assert "2,500" in text and "0.5" in text
    with pytest.raises(KeyError, match="nope"):
        statistics_tables(stats, slice_name="nope")


def test_user_values_are_not_rich_markup() -> None:
    feature = categorical("[red]name[/red]", {"[bold]x[/bold]": 5}, unique=1)
    text = render(*statistics_tables(statistics((DEFAULT_SLICE, 5, [feature]))))
    assert "[red]name[/red]" in text
    assert "[bold]x[/bold]" in text


def test_feature_without_values_shows_dashes() -> None:
    empty = FeatureStatistics("empty", "FLOAT", "double", _common(0, 7))
    text = render(*statistics_tables(statistics((DEFAULT_SLICE, 7, [empty]))))
    line = next(line for line in text.splitlines() if line.strip().startswith("empty"))
    assert line.split() == ["empty", "FLOAT", "0", "100.0%", *["—"] * 8]


def test_print_statistics(stats: Statistics) -> None:
    console = recorder()
    print_statistics(stats, console)
    text = console.export_text()
    assert "Numeric features" in text and "Categorical features" in text
    console = recorder()
    print_statistics(statistics((DEFAULT_SLICE, 3, [])), console)
    assert "All Examples: 3 examples, no features." in console.export_text()


# --------------------------------------------------------------------------- anomalies

ANOMALIES = [
    Anomaly(
        "payment_type",
        "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
        "ERROR",
        "Unexpected string values",
        "Examples contain values missing from the schema: Bitcoin (12, 0.12%).",
    ),
    Anomaly(
        None,
        "COMPARATOR_LOW_NUM_EXAMPLES",
        "WARNING",
        "Low num examples",
        "The data has 50% fewer examples than the baseline.",
    ),
]


def test_anomalies_table_text_and_colors() -> None:
    table = anomalies_table(ANOMALIES)
    text = render(table)
    assert "Anomalies (1 error, 1 warning)" in text
    for snippet in (
        "payment_type",
        "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
        "Unexpected string values",
        "Bitcoin (12, 0.12%)",
        "(data set)",
        "Low num examples",
    ):
        assert snippet in text, snippet
    severity = next(c for c in table.columns if c.header == "Severity")
    styles = [str(cell.style) for cell in severity.cells]  # type: ignore[union-attr]
    assert styles == ["bold red", "yellow"]


def test_print_anomalies_empty_is_green() -> None:
    console = Console(
        record=True, width=200, file=io.StringIO(), force_terminal=True, color_system="standard"
    )
    print_anomalies([], console)
    styled = console.export_text(styles=True)
    assert "No anomalies found." in styled
    assert "\x1b[1;32m" in styled  # bold green
    console = recorder()
    print_anomalies(ANOMALIES, console)
    assert "Unexpected string values" in console.export_text()


# --------------------------------------------------------------------------- drift

REPORT = DriftReport(
    "drift",
    10_000,
    12_345,
    (
        FeatureDrift(
            "payment_type",
            "L_INFTY",
            0.25,
            0.1,
            (MovedValue("Cash", 0.4, 0.65), MovedValue("Credit Card", 0.5, 0.3)),
        ),
        FeatureDrift("fare", "JENSEN_SHANNON_DIVERGENCE", 0.01234, 0.05),
        FeatureDrift("company", "L_INFTY", 0.3, None, (MovedValue("A", 0.1, 0.4),)),
    ),
    (
        Anomaly(
            "payment_type",
            "COMPARATOR_L_INFTY_HIGH",
            "ERROR",
            "High L-infinity distance",
            "The L-infinity distance 0.25 is above the threshold 0.1.",
        ),
    ),
)


def test_drift_table() -> None:
    table = drift_table(REPORT)
    text = render(table)
    assert "Drift: baseline 10,000 examples → current 12,345 examples" in text
    rows = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert "L-infinity" in rows["payment_type"]
    assert "0.25" in rows["payment_type"] and "0.1" in rows["payment_type"]
    assert "EXCEEDED" in rows["payment_type"]
    assert "Cash: 40.0% → 65.0%" in rows["payment_type"]
    assert "Credit Card" not in text  # only the value that moved most
    assert "Jensen-Shannon" in rows["fare"] and "0.01234" in rows["fare"]
    assert "ok" in rows["fare"].split()
    assert "no threshold" in rows["company"] and "A: 10.0% → 40.0%" in rows["company"]
    status = next(c for c in table.columns if c.header == "Status")
    styles = [str(cell.style) for cell in status.cells]  # type: ignore[union-attr]
    assert styles == ["bold red", "green", "dim"]


def test_print_drift() -> None:
    console = recorder()
    print_drift(REPORT, console)
    text = console.export_text()
    assert "EXCEEDED" in text and "High L-infinity distance" in text
    ok = DriftReport("skew", 5, 5, (FeatureDrift("fare", "L_INFTY", 0.01, 0.1),))
    console = recorder()
    print_drift(ok, console)
    text = console.export_text()
    assert "Skew: baseline 5 examples" in text
    assert "No skew threshold exceeded." in text
