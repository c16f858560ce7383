"""`tensorbridge stats | schema infer | schema check | validate | drift` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import yaml
from click.testing import CliRunner, Result

import tensorbridge as tb
from tensorbridge.cli import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def spans(tmp_path_factory: pytest.TempPathFactory, taxi_csv: Path) -> tuple[Path, Path]:
    """Two spans: all trips, and only the cash trips (payment_type drifts to 100% Cash)."""
    folder = tmp_path_factory.mktemp("spans")
    table = tb.read_csv(taxi_csv).to_table()
    cash = table.filter(pa.compute.equal(table.column("payment_type"), "Cash"))
    pacsv.write_csv(cash, folder / "cash.csv")
    return taxi_csv, folder / "cash.csv"


def test_help_lists_the_stats_commands() -> None:
    output = run("--help").output
    for command in ("stats", "schema", "validate", "drift"):
        assert command in output
    assert "infer" in run("schema", "--help").output
    assert "--column-type" in run("validate", "--help").output


def test_stats_table_json_and_saved_file(taxi_csv: Path, tmp_path: Path) -> None:
    table = run("stats", str(taxi_csv))
    assert table.exit_code == 0
    assert "payment_type" in table.stdout and "Taxi Affiliation Services" in table.stdout
    assert "11.77" in table.stdout  # the mean fare
    as_json = run("stats", str(taxi_csv), "--json", "-o", str(tmp_path / "s.json"))
    payload = json.loads(as_json.stdout)
    assert payload["slices"][0]["num_examples"] == 15_002
    fare = next(f for f in payload["slices"][0]["features"] if f["name"] == "fare")
    assert fare["numeric"]["mean"] == pytest.approx(11.7682162378, rel=1e-9)
    assert tb.stats.Statistics.load(tmp_path / "s.json").to_dict() == payload


def test_stats_slices(taxi_csv: Path) -> None:
    result = run("stats", str(taxi_csv), "--slice-by", "payment_type", "--slice",
                 "payment_type=Cash", "--feature", "tips", "--feature", "payment_type")  # fmt: skip
    assert result.exit_code == 0
    assert "payment_type=Cash · 9,909 examples" in result.stdout
    assert "fare" not in result.stdout


def test_schema_infer_validate_and_curate(spans: tuple[Path, Path], tmp_path: Path) -> None:
    everything, _ = spans
    schema_file = tmp_path / "schema.yaml"
    inferred = run("schema", "infer", str(everything), "-o", str(schema_file))
    assert inferred.exit_code == 0
    assert "payment_type" in inferred.stdout
    assert run("schema", "check", str(schema_file)).exit_code == 0
    clean = run("validate", str(everything), "--schema", str(schema_file))
    assert clean.exit_code == 0
    assert "No anomalies" in clean.stdout
    # Curate: drop "Prcard" (1 example) from the payment_type domain.
    document = yaml.safe_load(schema_file.read_text())
    payment = next(f for f in document["features"] if f["name"] == "payment_type")
    payment["string_domain"]["values"].remove("Prcard")
    schema_file.write_text(yaml.safe_dump(document, sort_keys=False))
    html = tmp_path / "validation.html"
    failed = run("validate", str(everything), "--schema", str(schema_file), "--json",
                 "--html", str(html))  # fmt: skip
    assert failed.exit_code == 1
    payload = json.loads(failed.stdout)
    assert payload["ok"] is False
    (anomaly,) = payload["anomalies"]
    assert anomaly["feature"] == "payment_type"
    assert anomaly["type"] == "ENUM_TYPE_UNEXPECTED_STRING_VALUES"
    assert "Prcard" in anomaly["description"]
    assert "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in html.read_text() or "Prcard" in html.read_text()


def test_schema_check_reports_the_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("features:\n- name: fare\n  type: FLOAT\n  presense:\n    min_count: 1\n")
    result = CliRunner().invoke(cli, ["schema", "check", str(bad)])
    assert result.exit_code != 0
    message = str(result.exception) + result.output
    assert "presense" in message and "presence" in message
    assert "line 4" in message


def test_drift_between_spans(spans: tuple[Path, Path], tmp_path: Path) -> None:
    everything, cash = spans
    saved = tmp_path / "base.json"
    assert run("stats", str(everything), "-o", str(saved)).exit_code == 0
    same = run("drift", str(saved), str(everything), "--json")
    assert same.exit_code == 0
    assert all(
        f["value"] == pytest.approx(0.0, abs=1e-12) for f in json.loads(same.stdout)["features"]
    )
    html = tmp_path / "drift.html"
    moved = run("drift", str(saved), str(cash), "--json", "--html", str(html))
    assert moved.exit_code == 1
    report = json.loads(moved.stdout)
    payment = next(
        f for f in report["features"] if f["feature"] == "payment_type" and f["metric"] == "L_INFTY"
    )
    # Cash goes from 9,909 / 15,002 of the trips to all of them.
    assert payment["value"] == pytest.approx(1 - 9_909 / 15_002)
    assert payment["moved"][0]["label"] == "Cash"
    assert "COMPARATOR_L_INFTY_HIGH" in {a["type"] for a in report["anomalies"]}
    assert "payment_type" in html.read_text()
    table = run("drift", str(saved), str(cash))
    assert "EXCEEDED" in table.stdout


def test_drift_thresholds_from_the_schema(spans: tuple[Path, Path], tmp_path: Path) -> None:
    everything, cash = spans
    schema_file = tmp_path / "schema.yaml"
    run("schema", "infer", str(everything), "-o", str(schema_file))
    document = yaml.safe_load(schema_file.read_text())
    for feature in document["features"]:  # accept everything but a big payment_type change
        feature["drift_comparator"] = {
            "infinity_norm": {"threshold": 0.5 if feature["name"] == "payment_type" else 1.0},
            "jensen_shannon_divergence": {"threshold": 1.0},
        }
    schema_file.write_text(yaml.safe_dump(document, sort_keys=False))
    result = run("drift", str(everything), str(cash), "--schema", str(schema_file), "--json")
    assert result.exit_code == 0  # L-inf 0.34 < 0.5
    document["features"][[f["name"] for f in document["features"]].index("payment_type")][
        "drift_comparator"
    ]["infinity_norm"]["threshold"] = 0.2
    schema_file.write_text(yaml.safe_dump(document, sort_keys=False))
    result = run("drift", str(everything), str(cash), "--schema", str(schema_file), "--json")
    assert result.exit_code == 1
    assert [a["feature"] for a in json.loads(result.stdout)["anomalies"]] == ["payment_type"]
