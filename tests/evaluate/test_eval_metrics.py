"""Every metric equals scikit-learn's (random and tied data, one class, tiny inputs)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorbridge.errors import BadInputError, ConfigError
from tensorbridge.evaluate import compute_metrics
from tensorbridge.evaluate.curves import calibration_histogram, pr_curve, roc_curve
from tensorbridge.evaluate.metrics import BINARY_METRICS, REGRESSION_METRICS

sk = pytest.importorskip("sklearn.metrics", reason="scikit-learn is a dev dependency")

TOL = 1e-6


def sklearn_binary(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The reference values, straight from scikit-learn."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one_class = len(np.unique(y)) < 2
        predicted = (p > 0.5).astype(int)
        return {
            "example_count": float(len(y)),
            "accuracy": sk.accuracy_score(y, predicted),
            # scikit-learn >= 1.6 returns NaN with a warning, older versions raise.
            "auc": math.nan if one_class else sk.roc_auc_score(y, p),
            "pr_auc": sk.average_precision_score(y, p),
            "precision": sk.precision_score(y, predicted, zero_division=0),
            "recall": sk.recall_score(y, predicted, zero_division=0),
            "log_loss": sk.log_loss(y, p, labels=[0, 1]),
            "mean_label": float(np.mean(y)),
            "mean_prediction": float(np.mean(p)),
            "calibration": float(np.mean(p) / np.mean(y)) if y.any() else math.nan,
        }


def assert_same(ours: dict[str, float], reference: dict[str, float]) -> None:
    assert set(ours) == set(reference)
    for name, expected in reference.items():
        got = ours[name]
        if math.isnan(expected):
            assert math.isnan(got), f"{name}: {got} != NaN"
        else:
            assert got == pytest.approx(expected, abs=TOL), f"{name}: {got} != {expected}"


# Predictions from a small grid make many ties (and hit 0, 0.5 and 1 exactly).
GRID = [0.0, 0.1, 0.25, 0.5, 0.5000001, 0.75, 0.9, 1.0]
predictions = st.one_of(
    st.floats(0.0, 1.0, allow_nan=False),
    st.sampled_from(GRID),
)


@st.composite
def binary_data(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 60))
    labels = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    if draw(st.booleans()):
        grid = draw(st.lists(st.sampled_from(GRID), min_size=1, max_size=3, unique=True))
        preds = draw(st.lists(st.sampled_from(grid), min_size=n, max_size=n))
    else:
        preds = draw(st.lists(predictions, min_size=n, max_size=n))
    return np.array(labels), np.array(preds, dtype=np.float64)


@settings(max_examples=300, deadline=None)
@given(binary_data())
def test_binary_metrics_equal_sklearn(data: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = data
    assert_same(compute_metrics(y, p), sklearn_binary(y, p))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-1e3, 1e3, allow_nan=False),
            st.floats(-1e3, 1e3, allow_nan=False),
        ),
        min_size=1,
        max_size=50,
    ),
    st.booleans(),
)
def test_regression_metrics_equal_sklearn(pairs: list[tuple[float, float]], tied: bool) -> None:
    y = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    if tied:  # constant labels: r2's conventions
        y = np.full_like(y, y[0])
    ours = compute_metrics(y, p, task="regression")
    assert set(ours) == set(REGRESSION_METRICS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r2 = sk.r2_score(y, p)
    mse = sk.mean_squared_error(y, p)
    scale = max(1.0, mse)
    assert ours["mse"] == pytest.approx(mse, abs=TOL * scale)
    assert ours["rmse"] == pytest.approx(math.sqrt(mse), abs=TOL * max(1.0, math.sqrt(mse)))
    assert ours["mae"] == pytest.approx(sk.mean_absolute_error(y, p), abs=TOL * scale)
    if math.isnan(r2):
        assert math.isnan(ours["r2"])
    else:
        assert ours["r2"] == pytest.approx(r2, abs=TOL)


def test_known_values_and_key_order() -> None:
    m = compute_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    assert tuple(m) == BINARY_METRICS
    assert m["auc"] == 0.75
    assert m["accuracy"] == 0.5
    assert m["precision"] == 0.5
    assert m["recall"] == 0.5
    assert m["mean_label"] == 0.5
    assert m["calibration"] == pytest.approx(1.0)


def test_threshold_is_strictly_above_one_half() -> None:
    """As TFMA/Keras BinaryAccuracy: a prediction of exactly 0.5 is class 0."""
    m = compute_metrics([0, 1], [0.5, 0.5])
    assert m["accuracy"] == 0.5
    assert m["precision"] == 0.0  # nothing predicted positive (zero_division=0)
    assert m["recall"] == 0.0


@pytest.mark.parametrize("label", [0, 1])
def test_one_class(label: int) -> None:
    y = np.full(5, label)
    p = np.array([0.1, 0.2, 0.6, 0.7, 0.9])
    m = compute_metrics(y, p)
    assert math.isnan(m["auc"])
    assert_same(m, sklearn_binary(y, p))


def test_log_loss_clips_zero_and_one() -> None:
    m = compute_metrics([1, 0], [0.0, 1.0])
    eps = np.finfo(np.float64).eps
    assert m["log_loss"] == pytest.approx(-math.log(eps))
    assert math.isfinite(m["log_loss"])


def test_bool_labels_and_keras_shaped_predictions() -> None:
    m = compute_metrics(np.array([True, False, True]), np.array([[0.9], [0.2], [0.4]]))
    assert m["auc"] == 1.0
    assert m["example_count"] == 3


def test_notes_explain_undefined_values() -> None:
    from tensorbridge.evaluate.metrics import metric_values

    _, notes = metric_values(np.zeros(3), np.array([0.2, 0.4, 0.6]), "binary")
    text = " ".join(notes)
    assert "auc is undefined" in text and "both classes" in text
    assert "calibration is undefined" in text


@pytest.mark.parametrize(
    ("labels", "preds", "task", "match"),
    [
        ([0, 2, 1], [0.1, 0.2, 0.3], "binary", r"outside \{0, 1\}.*e\.g\. \[2\.0\]"),
        ([0, 1], [0.1, 1.2], "binary", r"outside \[0, 1\].*sigmoid"),
        ([0, 1], [0.1, -0.5], "binary", r"outside \[0, 1\]"),
        ([0, 1], [0.1, float("nan")], "binary", r"1 NaN value\(s\) \(row 1: nan\)"),
        ([0, 1, 1], [0.1, 0.2], "binary", r"has 2 values but there are 3 labels"),
        ([0.0, float("nan")], [1.0, 2.0], "regression", r"NaN or infinite"),
        ([0.0, 1.0], [1.0, float("inf")], "regression", r"infinite"),
        (["a", "b"], [0.1, 0.2], "binary", r"expected numbers"),
        ([[0, 1], [1, 0]], [0.1, 0.2], "binary", r"shape \(2, 2\)"),
        ([], [], "binary", r"No examples"),
    ],
)
def test_bad_inputs_say_what_and_how(
    labels: list[object], preds: list[float], task: str, match: str
) -> None:
    with pytest.raises(BadInputError, match=match):
        compute_metrics(labels, preds, task=task)  # type: ignore[arg-type]


def test_unknown_task() -> None:
    with pytest.raises(ConfigError, match="task='multiclass' is not a task type"):
        compute_metrics([0, 1], [0.1, 0.2], task="multiclass")  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(binary_data())
def test_curves_equal_sklearn(data: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = data
    roc = roc_curve(y, p)
    pr = pr_curve(y, p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(np.unique(y)) == 2:
            fpr, tpr, _ = sk.roc_curve(y, p, drop_intermediate=False)
            np.testing.assert_allclose(roc["fpr"], fpr, atol=1e-6)
            np.testing.assert_allclose(roc["tpr"], tpr, atol=1e-6)
            # the trapezoid under the exact curve is the rank-based AUC
            fx, ty = np.array(roc["fpr"]), np.array(roc["tpr"])
            area = float(np.sum(np.diff(fx) * (ty[1:] + ty[:-1]) / 2))
            assert area == pytest.approx(compute_metrics(y, p)["auc"], abs=1e-5)
        else:
            assert roc == {"fpr": [], "tpr": [], "thresholds": []}
        if y.any():
            precision, recall, _ = sk.precision_recall_curve(y, p)
            # scikit-learn lists the points from the lowest threshold; we start at (0, 1).
            np.testing.assert_allclose(pr["precision"], precision[::-1], atol=1e-6)
            np.testing.assert_allclose(pr["recall"], recall[::-1], atol=1e-6)


def test_curves_are_thinned_for_display() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 20_000)
    p = rng.random(20_000)
    roc = roc_curve(y, p, max_points=500)
    assert len(roc["fpr"]) <= 500
    assert (roc["fpr"][0], roc["tpr"][0]) == (0.0, 0.0)
    assert (roc["fpr"][-1], roc["tpr"][-1]) == (1.0, 1.0)


def test_calibration_histogram() -> None:
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0.05, 0.15, 0.19, 0.95, 1.0])
    buckets = calibration_histogram(y, p)
    assert len(buckets) == 10
    assert [b["count"] for b in buckets] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert buckets[1]["mean_prediction"] == pytest.approx(0.17)
    assert buckets[1]["mean_label"] == 1.0
    assert buckets[2]["mean_label"] is None
    assert buckets[9]["mean_label"] == 0.5  # 1.0 falls in the last bucket
    assert (buckets[0]["lower"], buckets[9]["upper"]) == (0.0, 1.0)
