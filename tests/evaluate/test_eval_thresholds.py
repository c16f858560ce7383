"""Thresholds and blessing, rule by rule (TFMA metrics_validator, TFX Evaluator)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tensorbridge.errors import ConfigError
from tensorbridge.evaluate import ChangeThreshold, EvalResult, Slice, ValueThreshold, evaluate
from tensorbridge.evaluate.thresholds import NO_THRESHOLDS


@pytest.fixture
def table() -> pa.Table:
    # candidate: auc 0.75, accuracy 0.5; baseline: auc 1.0, accuracy 1.0 (exact in binary)
    return pa.table(
        {
            "label": [0, 0, 1, 1],
            "p": [0.1, 0.6, 0.4, 0.9],
            "base": [0.2, 0.3, 0.7, 0.8],
            "low": [0.1, 0.2, 0.3, 0.4],
            "g": ["x", "x", "y", "y"],
        }
    )


def run(table: pa.Table, thresholds: object, **kwargs: object) -> EvalResult:
    return evaluate(table, label="label", prediction="p", thresholds=thresholds, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("threshold", "passed"),
    [
        (ValueThreshold(lower=0.75), True),  # inclusive lower bound
        (ValueThreshold(upper=0.75), True),  # inclusive upper bound
        (ValueThreshold(lower=0.75, upper=0.75), True),
        (ValueThreshold(lower=0.7500001), False),
        (ValueThreshold(upper=0.7499999), False),
    ],
)
def test_value_threshold_bounds_are_inclusive(
    table: pa.Table, threshold: ValueThreshold, passed: bool
) -> None:
    result = run(table, {"auc": threshold})
    (check,) = result.checks
    assert (check.metric, check.slice, check.kind, check.value) == ("auc", "Overall", "value", 0.75)
    assert check.passed is passed
    assert result.blessed is passed
    if not passed:
        assert "bound" in check.message


@pytest.mark.parametrize(
    ("threshold", "passed"),
    [
        (ChangeThreshold(absolute=-0.25), True),  # diff = 0.75 - 1.0 = -0.25, inclusive
        (ChangeThreshold(absolute=-0.2499), False),
        (ChangeThreshold(relative=-0.25), True),  # diff / baseline = -0.25
        (ChangeThreshold(relative=-0.2499), False),
        (ChangeThreshold(absolute=-0.25, relative=-0.2499), False),  # both must hold
        (ChangeThreshold(absolute=0.0, direction="lower_is_better"), True),
        (ChangeThreshold(absolute=-0.25, direction="lower_is_better"), True),  # inclusive
        (ChangeThreshold(absolute=-0.2499, direction="lower_is_better"), True),
        (ChangeThreshold(absolute=-0.2501, direction="lower_is_better"), False),
        (ChangeThreshold(relative=-0.2499, direction="lower_is_better"), True),
        (ChangeThreshold(relative=-0.2501, direction="lower_is_better"), False),
    ],
)
def test_change_threshold_both_directions(
    table: pa.Table, threshold: ChangeThreshold, passed: bool
) -> None:
    result = run(table, {"auc": threshold}, baseline_prediction="base")
    (check,) = result.checks
    assert check.kind == "change"
    assert (check.value, check.baseline, check.diff) == (0.75, 1.0, -0.25)
    assert check.passed is passed, check.message
    assert result.blessed is passed


def test_direction_is_inferred_from_the_metric(table: pa.Table) -> None:
    result = run(table, {"log_loss": ChangeThreshold(absolute=0.0)}, baseline_prediction="base")
    (check,) = result.checks
    assert check.bound == "diff <= 0 (lower is better)"
    assert check.value is not None and check.baseline is not None
    assert check.value > check.baseline  # the candidate's loss is worse
    assert not check.passed
    with pytest.raises(ConfigError, match="'calibration': neither direction is better"):
        run(table, {"calibration": ChangeThreshold(absolute=0.1)}, baseline_prediction="base")


def test_relative_change_with_zero_baseline_fails(table: pa.Table) -> None:
    # "low" never predicts above 0.5, so the baseline's precision is 0.
    result = run(
        table,
        {"precision": [ChangeThreshold(relative=-1.0), ChangeThreshold(absolute=-1.0)]},
        baseline_prediction="low",
    )
    relative, absolute = result.checks
    assert relative.baseline == 0.0
    assert not relative.passed
    assert "relative change is undefined (baseline is 0)" in relative.message
    # Only the bounds that are set are checked (TFMA would fail this one too).
    assert absolute.passed
    assert result.blessed is False


def test_missing_metric_fails(table: pa.Table) -> None:
    result = run(table, {"mse": ValueThreshold(lower=0.0), "auc": ValueThreshold(lower=0.5)})
    failed = result.failures
    assert [c.metric for c in failed] == ["mse"]
    assert failed[0].message.startswith("Metric not found: mse")
    assert result.blessed is False


def test_missing_metric_in_a_change_threshold_fails(table: pa.Table) -> None:
    result = run(table, {"aucc": ChangeThreshold(absolute=0.0)}, baseline_prediction="base")
    assert result.checks[0].message.startswith("Metric not found: aucc")
    assert result.blessed is False


@pytest.mark.parametrize("thresholds", [None, {}])
def test_no_thresholds_means_no_blessing(table: pa.Table, thresholds: object) -> None:
    result = run(table, thresholds, baseline_prediction="base")
    assert result.blessed is None
    assert result.summary == NO_THRESHOLDS == "no thresholds configured: not blessed (as TFX)"
    assert result.checks == ()


def test_no_baseline_ignores_change_thresholds_and_says_so(table: pa.Table) -> None:
    result = run(table, {"auc": [ValueThreshold(lower=0.7), ChangeThreshold(absolute=0.5)]})
    assert [c.kind for c in result.checks] == ["value"]
    assert result.blessed is True
    assert "rubber stamped: no baseline" in result.summary
    assert any(
        "rubber stamped: no baseline" in n and "1 change threshold" in n for n in result.notes
    )


def test_only_change_thresholds_without_baseline_are_rubber_stamped(table: pa.Table) -> None:
    result = run(table, {"auc": ChangeThreshold(absolute=0.5)})
    assert result.checks == ()
    assert result.blessed is True
    assert "rubber stamped: no baseline" in result.summary


def test_value_thresholds_still_count_without_baseline(table: pa.Table) -> None:
    result = run(table, {"auc": [ValueThreshold(lower=0.9), ChangeThreshold(absolute=0.5)]})
    assert result.blessed is False


def test_a_per_slice_failure_blocks_blessing(table: pa.Table) -> None:
    # overall accuracy 0.5; slice g:x = [0, 0] vs [0.1, 0.6] -> 0.5; g:y = [1, 1] vs [0.4, 0.9]
    result = run(
        table,
        {
            "auc": ValueThreshold(lower=0.7),
            "recall": ValueThreshold(lower=0.6, slices=Slice("g")),
        },
        slices=[Slice("g")],
    )
    by_slice = {(c.metric, c.slice): c.passed for c in result.checks}
    assert by_slice == {
        ("auc", "Overall"): True,
        ("recall", "g:x"): False,  # no positives: recall 0 (zero_division=0)
        ("recall", "g:y"): False,  # 1 of 2 positives above 0.5
    }
    assert result.blessed is False
    assert result.summary == "not blessed: 2 of 3 threshold checks failed"


def test_threshold_on_one_pinned_slice(table: pa.Table) -> None:
    result = run(
        table,
        {"accuracy": ValueThreshold(lower=0.5, slices=Slice(values={"g": "y"}))},
        slices=[Slice("g")],
    )
    (check,) = result.checks
    assert (check.slice, check.value, check.passed) == ("g:y", 0.5, True)


def test_all_slices(table: pa.Table) -> None:
    result = run(table, {"accuracy": ValueThreshold(lower=0.5, slices="all")}, slices=[Slice("g")])
    assert [c.slice for c in result.checks] == ["Overall", "g:x", "g:y"]
    assert result.blessed is True


def test_nan_metric_fails(table: pa.Table) -> None:
    result = run(table, {"auc": ValueThreshold(lower=0.0, slices=Slice("g"))}, slices=[Slice("g")])
    assert [c.passed for c in result.checks] == [False, False]
    assert "NaN" in result.checks[0].message


def test_unmatched_slice_fails(table: pa.Table) -> None:
    result = run(
        table,
        {"auc": ValueThreshold(lower=0.0, slices=Slice(values={"g": "nowhere"}))},
        slices=[Slice("g")],
    )
    (check,) = result.checks
    assert not check.passed
    assert check.message.startswith("Slice not found: g:nowhere")
    assert result.blessed is False


def test_slices_below_min_slice_size_are_not_checked(table: pa.Table) -> None:
    t = pa.concat_tables([table, table.slice(2, 2)])  # g:y has 4 rows, g:x 2
    result = run(
        t,
        {"accuracy": ValueThreshold(lower=0.0, slices=Slice("g"))},
        slices=[Slice("g")],
        min_slice_size=3,
    )
    assert [c.slice for c in result.checks] == ["g:y"]
    assert any("1 slice(s) with fewer than min_slice_size=3" in n for n in result.notes)
    # when every matching slice is too small the threshold fails (TFMA's missing slice)
    too_small = run(
        t,
        {"accuracy": ValueThreshold(lower=0.0, slices=Slice(values={"g": "x"}))},
        slices=[Slice("g")],
        min_slice_size=3,
    )
    assert not too_small.checks[0].passed
    assert "fewer than min_slice_size=3" in too_small.checks[0].message


def test_definition_errors(table: pa.Table) -> None:
    with pytest.raises(ConfigError, match="needs lower= and/or upper="):
        ValueThreshold()
    with pytest.raises(ConfigError, match="lower is above upper"):
        ValueThreshold(lower=0.9, upper=0.1)
    with pytest.raises(ConfigError, match="is NaN"):
        ValueThreshold(lower=float("nan"))
    with pytest.raises(ConfigError, match="needs absolute= and/or relative="):
        ChangeThreshold()
    with pytest.raises(ConfigError, match="direction='up'"):
        ChangeThreshold(absolute=0, direction="up")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="must be a number"):
        ValueThreshold(lower="0.5")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"does not slice by \['g'\].*Add Slice\('g'\)"):
        run(table, {"auc": ValueThreshold(lower=0.5, slices=Slice("g"))})
    with pytest.raises(ConfigError, match="takes a mapping of metric name"):
        run(table, [ValueThreshold(lower=0.5)])
    with pytest.raises(ConfigError, match="expected ValueThreshold or ChangeThreshold"):
        run(table, {"auc": [0.5]})
    with pytest.raises(ConfigError, match="pass a Slice, a list of Slices, or 'all'"):
        ValueThreshold(lower=0.5, slices="everything")  # type: ignore[arg-type]


def test_checks_and_rules_are_reported(table: pa.Table) -> None:
    result = run(
        table,
        {"auc": [ValueThreshold(lower=0.7), ChangeThreshold(absolute=-0.1)]},
        baseline_prediction="base",
    )
    assert [r.bound for r in result.rules] == [">= 0.7", "diff >= -0.1 (higher is better)"]
    failed = result.failures[0]
    assert failed.to_dict() == {
        "metric": "auc",
        "slice": "Overall",
        "kind": "change",
        "value": 0.75,
        "baseline": 1.0,
        "diff": -0.25,
        "bound": "diff >= -0.1 (higher is better)",
        "passed": False,
        "message": "diff = -0.25 (0.75 vs baseline 1): the change is below the allowed -0.1",
    }
