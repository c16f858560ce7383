"""The taxi path so far: transform, train the TFX wide & deep model, evaluate, push."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from rich.console import Console

from tensorbridge.evaluate import Slice, ValueThreshold, evaluate
from tensorbridge.examples import taxi
from tensorbridge.train import make_arrays

pytest.importorskip("tensorflow")
QUIET = Console(quiet=True)


@pytest.mark.timeout(600)
def test_taxi_wide_and_deep_reaches_the_auc_goal(taxi_trained: tuple, tmp_path: Path) -> None:
    _, output, result = taxi_trained
    model = result.load_model()
    eval_data = output.transformed_data["eval"]  # type: ignore[index]
    features, _ = make_arrays(eval_data, label="tips_xf", features=taxi.model_features())
    predictions = model.predict(features, batch_size=1024, verbose=0).reshape(-1)
    table = eval_data.to_table().append_column("prediction", pa.array(predictions))
    evaluation = evaluate(
        table,
        label="tips_xf",
        prediction="prediction",
        slices=[Slice(), Slice("trip_start_hour_xf")],
        thresholds={"auc": ValueThreshold(lower=0.92)},
        output_dir=tmp_path / "evaluation",
    )
    auc = evaluation.overall.metrics["auc"]
    assert auc >= 0.92, f"eval AUC {auc:.4f}"
    assert auc == pytest.approx(result.final_metrics["val_auc"], abs=0.01)  # Keras's own AUC
    assert evaluation.blessed is True
    assert (tmp_path / "evaluation" / "BLESSED").exists()
    assert len([s for s in evaluation.slices if s.name.startswith("trip_start_hour_xf")]) == 24
