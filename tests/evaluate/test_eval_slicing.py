"""Slicing: overall, one feature, a cross, nulls, pinned values, min_slice_size."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorbridge as tb
from tensorbridge.errors import BadInputError, ConfigError, SchemaError
from tensorbridge.evaluate import Slice, compute_metrics, evaluate
from tensorbridge.evaluate.slicing import group_rows


@pytest.fixture
def table() -> pa.Table:
    return pa.table(
        {
            "label": [0, 1, 1, 0, 1, 0, 1, 0],
            "p": [0.1, 0.8, 0.6, 0.3, 0.4, 0.7, 0.9, 0.2],
            "city": ["b", "a", "b", None, "a", "b", None, "a"],
            "hour": [1, 1, 2, 2, 1, 2, 1, 1],
        }
    )


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    return all((math.isnan(a[k]) and math.isnan(b[k])) or a[k] == pytest.approx(b[k]) for k in a)


def test_overall_is_always_first(table: pa.Table) -> None:
    result = evaluate(table, label="label", prediction="p", slices=[Slice("city")])
    assert result.slices[0].name == "Overall"
    assert result.slices[0].count == 8
    assert result.slicing_specs == (Slice(), Slice("city"))


def test_one_feature_with_nulls(table: pa.Table) -> None:
    result = evaluate(table, label="label", prediction="p", slices=[Slice(), Slice("city")])
    names = [s.name for s in result.slices]
    assert names == ["Overall", "city:a", "city:b", "city:(missing)"]
    counts = {s.name: s.count for s in result.slices}
    assert counts == {"Overall": 8, "city:a": 3, "city:b": 3, "city:(missing)": 2}
    missing = result.slice("city:(missing)")
    assert missing.key == (("city", None),)
    assert missing.slice_value == "(missing)"
    expected = compute_metrics([0, 1], [0.3, 0.9])
    assert same(missing.metrics, expected)


def test_cross_of_two_features(table: pa.Table) -> None:
    result = evaluate(table, label="label", prediction="p", slices=[Slice("city", "hour")])
    crossed = [s for s in result.slices if s.key]
    assert [s.name for s in crossed] == [
        "city_X_hour:a_X_1",
        "city_X_hour:b_X_1",
        "city_X_hour:b_X_2",
        "city_X_hour:(missing)_X_1",
        "city_X_hour:(missing)_X_2",
    ]
    assert sum(s.count for s in crossed) == 8
    b2 = result.slice("city_X_hour:b_X_2")
    assert (b2.slice_key, b2.slice_value, b2.count) == ("city_X_hour", "b_X_2", 2)
    assert same(b2.metrics, compute_metrics([1, 0], [0.6, 0.7]))


def test_pinned_values(table: pa.Table) -> None:
    result = evaluate(
        table, label="label", prediction="p", slices=[Slice("hour", values={"city": "b"})]
    )
    names = [s.name for s in result.slices[1:]]
    assert names == ["hour_X_city:1_X_b", "hour_X_city:2_X_b"]
    # values compare as text too, as TFMA's string feature_values
    texty = evaluate(table, label="label", prediction="p", slices=[Slice(values={"hour": "2"})])
    assert [s.count for s in texty.slices] == [8, 3]


def test_min_slice_size_lists_small_slices_without_metrics(table: pa.Table) -> None:
    result = evaluate(
        table, label="label", prediction="p", slices=[Slice("city")], min_slice_size=3
    )
    small = result.slice("city:(missing)")
    assert small.count == 2
    assert not small.reported
    assert small.metrics == {}
    assert "fewer than min_slice_size=3" in small.notes[0]
    assert result.slice("city:a").reported


def test_one_class_and_tiny_slices(table: pa.Table) -> None:
    t = pa.table({"label": [1, 1, 0], "p": [0.2, 0.9, 0.4], "g": ["x", "x", "y"]})
    result = evaluate(t, label="label", prediction="p", slices=[Slice("g")])
    x = result.slice("g:x")
    assert math.isnan(x.metrics["auc"])
    assert any("auc is undefined" in note for note in x.notes)
    y = result.slice("g:y")
    assert y.count == 1
    assert math.isnan(y.metrics["calibration"])


@st.composite
def sliced_tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(1, 40))
    groups = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))
    return pa.table(
        {
            "label": draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)),
            "p": draw(st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0]), min_size=n, max_size=n)),
            "g": pa.array(draw(st.lists(groups, min_size=n, max_size=n)), pa.string()),
            "h": draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)),
        }
    )


@settings(max_examples=60, deadline=None)
@given(sliced_tables(), st.integers(1, 4))
def test_slices_equal_metrics_of_the_subsets(table: pa.Table, min_size: int) -> None:
    result = evaluate(
        table,
        label="label",
        prediction="p",
        slices=[Slice("g"), Slice("g", "h")],
        min_slice_size=min_size,
    )
    labels = np.array(table["label"].to_pylist())
    preds = np.array(table["p"].to_pylist())
    g = table["g"].to_pylist()
    h = table["h"].to_pylist()
    for spec_columns in (["g"], ["g", "h"]):
        members = [s for s in result.slices if [c for c, _ in s.key] == spec_columns]
        assert sum(s.count for s in members) == table.num_rows
        for item in members:
            rows = [
                i
                for i in range(table.num_rows)
                if all((g, h)[("g", "h").index(c)][i] == v for c, v in item.key)
            ]
            assert item.count == len(rows)
            if len(rows) < min_size:
                assert not item.reported
            else:
                assert same(item.metrics, compute_metrics(labels[rows], preds[rows]))


def test_group_rows_orders_values_and_puts_nulls_last() -> None:
    t = pa.table({"x": pa.array([3, None, 1, 3, 2], pa.int64())})
    groups = group_rows(t, Slice("x"))
    assert [key for key, _ in groups] == [(("x", 1),), (("x", 2),), (("x", 3),), (("x", None),)]
    assert [rows.tolist() for _, rows in groups] == [[2], [4], [0, 3], [1]]


def test_dictionary_and_bool_columns() -> None:
    t = pa.table(
        {
            "label": [0, 1, 1],
            "p": [0.2, 0.7, 0.4],
            "d": pa.array(["u", "v", "u"]).dictionary_encode(),
            "b": [True, False, True],
        }
    )
    result = evaluate(t, label="label", prediction="p", slices=[Slice("d"), Slice("b")])
    assert [s.name for s in result.slices] == ["Overall", "d:u", "d:v", "b:False", "b:True"]


def test_dataset_reads_only_needed_columns(
    table: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    selected: list[list[str]] = []
    original = tb.Dataset.select

    def spy(self: tb.Dataset, columns: list[str]) -> tb.Dataset:
        selected.append(list(columns))
        return original(self, columns)

    monkeypatch.setattr(tb.Dataset, "select", spy)
    wide = table.append_column("unused", pa.array([[1]] * 8))
    ds = tb.from_arrow(wide)
    result = evaluate(ds, label="label", prediction="p", slices=[Slice("city")])
    assert selected == [["label", "p", "city"]]
    direct = evaluate(table, label="label", prediction="p", slices=[Slice("city")])
    assert [s.metrics for s in result.slices] == [s.metrics for s in direct.slices]


def test_taxi_dataset_end_to_end(taxi_csv: object) -> None:
    import pyarrow.compute as pc

    def add_label_and_prediction(batch: pa.RecordBatch) -> pa.RecordBatch:
        fare = pc.fill_null(batch["fare"], 0.0)
        label = pc.cast(
            pc.greater(pc.fill_null(batch["tips"], 0.0), pc.multiply(fare, 0.2)), pa.int64()
        )
        card = pc.equal(pc.fill_null(batch["payment_type"], ""), "Credit Card")
        p = pc.if_else(card, 0.7, 0.05)
        return batch.append_column("big_tipper", label).append_column("p", p)

    ds = tb.read_csv(str(taxi_csv)).map_batches(add_label_and_prediction)
    result = evaluate(ds, label="big_tipper", prediction="p", slices=[Slice("payment_type")])
    assert result.example_count == 15_002
    assert result.overall.metrics["mean_label"] == pytest.approx(3374 / 15002)
    assert len(result.slices) == 1 + 7
    assert result.slice("payment_type:Cash").count == 9909


def test_errors(table: pa.Table) -> None:
    with pytest.raises(SchemaError, match=r"Columns \['town'\] not found"):
        evaluate(table, label="label", prediction="p", slices=[Slice("town")])
    with pytest.raises(SchemaError, match=r"\['y'\] not found"):
        evaluate(table, label="y", prediction="p")
    with pytest.raises(ConfigError, match="slices= takes Slice objects"):
        evaluate(table, label="label", prediction="p", slices=["city"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="min_slice_size=0 must be at least 1"):
        evaluate(table, label="label", prediction="p", min_slice_size=0)
    with pytest.raises(ConfigError, match="data= takes a tensorbridge Dataset"):
        evaluate({"label": [1]}, label="label", prediction="p")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="repeat a name"):
        Slice("a", "a")
    with pytest.raises(ConfigError, match="both as columns and in values="):
        Slice("a", values={"a": 1})
    with pytest.raises(BadInputError, match="has no rows"):
        evaluate(table.slice(0, 0), label="label", prediction="p")
    nested = table.append_column("tags", pa.array([["x"]] * 8))
    with pytest.raises(SchemaError, match="slices need one scalar value per row"):
        evaluate(nested, label="label", prediction="p", slices=[Slice("tags")])


def test_label_and_prediction_column_errors(table: pa.Table) -> None:
    with_null = table.set_column(0, "label", pa.array([0, None, 1, 0, 1, 0, 1, 0]))
    with pytest.raises(BadInputError, match=r"1 null value\(s\) \(first at row 1\)"):
        evaluate(with_null, label="label", prediction="p")
    with pytest.raises(BadInputError, match="has Arrow type string; expected numbers"):
        evaluate(table, label="label", prediction="city")
    with pytest.raises(BadInputError, match="has 3 values but there are 8 labels"):
        evaluate(table, label="label", prediction=[0.1, 0.2, 0.3])


def test_predictions_as_arrays(table: pa.Table) -> None:
    preds = np.array(table["p"].to_pylist())
    result = evaluate(table, label="label", prediction=preds, baseline_prediction=preds * 0.5)
    assert result.prediction == "(array)"
    assert result.overall.metrics["auc"] == result.overall.baseline_metrics["auc"]
    assert result.overall.diff["mean_prediction"] == pytest.approx(preds.mean() / 2)
