"""Real exported taxi models in a real model repository, shared by the serving tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def taxi_export(taxi_trained: tuple, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One serving export of the taxi model (raw features in, ``probabilities`` out).

    Its manifest has a ``serving_baseline`` (statistics of the train split) and 8 eval
    rows as ``samples``.
    """
    import tensorbridge as tb
    from tensorbridge.examples import taxi
    from tensorbridge.train.export import export_serving_model

    splits, output, result = taxi_trained
    return export_serving_model(
        result.model_path,
        output,
        tmp_path_factory.mktemp("taxi_export") / "export",
        features=taxi.model_features(),
        raw_label_columns=["tips"],
        label="tips_xf",
        statistics=tb.stats.compute(splits["train"]),
        samples=splits["eval"].head(8).to_pylist(),
    )


@pytest.fixture(scope="session")
def taxi_eval_rows(taxi_trained: tuple) -> list[dict[str, Any]]:
    """200 raw eval rows (dicts, ``None`` for missing), the label ``tips`` included."""
    splits, _, _ = taxi_trained
    rows: list[dict[str, Any]] = splits["eval"].head(200).to_pylist()
    return rows


@pytest.fixture(scope="session")
def served_models(taxi_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model repository with ``taxi`` versions 1 and 2 (both the taxi export, complete).

    Tests that change the repository must copy it first (``shutil.copytree``).
    """
    from tensorbridge.push import push_model

    root = tmp_path_factory.mktemp("repository") / "models"
    for _ in range(2):
        push_model(taxi_export, root, "taxi", force=True)
    return root
