"""Trainer: fit a Keras model on the transformed splits and export the serving model."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from tensorbridge.errors import ConfigError
from tensorbridge.pipeline.artifacts import (
    Examples,
    ExampleStatistics,
    Model,
    ModuleRef,
    TransformGraph,
)
from tensorbridge.pipeline.component import component, resolve_reference
from tensorbridge.pipeline.components._common import (
    Input,
    Output,
    json_ready,
    read_split,
    split_names,
)

__all__ = ["TRAINING_DIR", "Trainer"]

#: The subdirectory of the Model artifact with the training run's files.
TRAINING_DIR = "training"
_KEPT = ("model.keras", "metrics.jsonl", "train_result.json")


def _features(features_fn: str | None, label: str, outputs: list[str]) -> list[str]:
    if features_fn is None:
        return [name for name in outputs if name != label]
    function = resolve_reference(str(features_fn))
    features = function() if callable(function) else function
    if (
        not isinstance(features, list | tuple)
        or not features
        or not all(isinstance(f, str) for f in features)
    ):
        raise ConfigError(
            f"Trainer: features_fn={features_fn!r} must return a non-empty list of "
            f"transformed column names, got {features!r}."
        )
    unknown = [f for f in features if f not in outputs]
    if unknown:
        raise ConfigError(
            f"Trainer: features_fn={features_fn!r} names {unknown}, which the transform does "
            f"not output; its outputs are {outputs}."
        )
    return list(features)


def _serving_extras(statistics: Any, examples: Any) -> tuple[Any, list[dict[str, Any]]]:
    """The train statistics and a few raw rows for the export, when wired in."""
    baseline = None
    if statistics is not None:
        from tensorbridge.stats.model import Statistics

        path = statistics.path / "train.json"
        if not path.is_file():
            raise ConfigError(
                f"Trainer: the statistics artifact at {str(statistics.path)!r} has no "
                "train.json; wire StatisticsGen's statistics output to it."
            )
        baseline = Statistics.load(path)
    samples: list[dict[str, Any]] = []
    if examples is not None:
        splits = split_names(examples, "Trainer", "examples")
        split = "eval" if "eval" in splits else splits[0]
        samples = read_split(examples, split).head(8).to_pylist()
    return baseline, samples


@component
def Trainer(  # noqa: N802 - components are named like TFX's, in CamelCase
    transformed_examples: Input[Examples],
    transform_graph: Input[TransformGraph],
    model: Output[Model],
    model_fn: ModuleRef,
    label: str,
    features_fn: ModuleRef | None = None,
    statistics: Input[ExampleStatistics] | None = None,
    examples: Input[Examples] | None = None,
    raw_label_columns: list[str] = [],  # noqa: B006 - never mutated
    epochs: int = 8,
    batch_size: int = 40,
    hyperparameters: dict[str, Any] | None = None,
    seed: int = 0,
    num_workers: int = 1,
) -> None:
    """Train a Keras model on the transformed data and export it for serving (TFX's Trainer).

    Training (:func:`tensorbridge.train.train`) reads the ``train`` split and validates on
    ``eval`` when there is one; then :func:`tensorbridge.train.export_serving_model`
    exports the transform_fn and the model as one SavedModel that takes **raw**
    features.

    Parameters
    ----------
    transformed_examples : Input[Examples]
        Transform's ``transformed_examples`` (``train/``, ``eval/``).
    transform_graph : Input[TransformGraph]
        Transform's ``transform_graph``: its transform_fn goes into the serving model.
    model : Output[Model]
        Receives the serving model: the artifact directory **is** the SavedModel
        (``saved_model.pb``, ``variables/``, ``assets/``) with ``tensorbridge.json``,
        so it can be served or pushed as is; ``training/`` holds ``model.keras``,
        ``metrics.jsonl`` (one line per epoch) and ``train_result.json``.
    model_fn : ModuleRef
        ``"module:function"`` returning a compiled Keras model; it may take one argument,
        the hyperparameters (e.g. ``"tensorbridge.examples.taxi:build_keras_model"``).
    label : str
        The transformed label column (e.g. ``"tips_xf"``).
    features_fn : ModuleRef, optional
        ``"module:function"`` returning the transformed feature names the model reads
        (e.g. ``"tensorbridge.examples.taxi:model_features"``); default every
        transformed column but the label.
    statistics : Input[ExampleStatistics], optional
        StatisticsGen's output: its ``train`` statistics become the export's serving
        baseline, which the model server compares live traffic with (drift, unseen
        categorical values).
    examples : Input[Examples], optional
        ExampleGen's raw examples: 8 rows of ``eval`` (else ``train``) become the
        export's warm-up samples, sent to a new version before it takes traffic.
    raw_label_columns : list of str
        Raw columns that only feed the label (e.g. ``["tips"]``): not serving inputs.
    epochs, batch_size : int
        As in ``keras.Model.fit`` (the taxi example trains 8 epochs of batches of 40).
    hyperparameters : dict, optional
        Passed to ``model_fn``.
    seed : int
        Seeds shuffling and Keras, so runs are reproducible.
    num_workers : int
        Synchronous training workers (local processes, ``MultiWorkerMirroredStrategy``);
        ``batch_size`` stays the global batch.

    Notes
    -----
    Metadata: the last epoch's metrics (``loss``, ``auc``, ``val_loss``, ``val_auc``,
    ...; NaN as null), ``epochs_run``, ``best_epoch``, ``train_seconds``, ``label`` and
    ``features``.
    """
    from rich.console import Console

    from tensorbridge.train.export import export_serving_model
    from tensorbridge.train.trainer import train
    from tensorbridge.transform.api import TransformOutput

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"Trainer: epochs={epochs!r} must be an integer >= 1, e.g. 8.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"Trainer: batch_size={batch_size!r} must be an integer >= 1, e.g. 40.")
    if not isinstance(raw_label_columns, list | tuple):
        raise ConfigError(
            f"Trainer: raw_label_columns={raw_label_columns!r} must be a list of raw column "
            'names, e.g. ["tips"].'
        )
    build = resolve_reference(str(model_fn))
    if not callable(build):
        raise ConfigError(
            f"Trainer: model_fn={model_fn!r} is not a function; pass 'module:function' that "
            "returns a compiled Keras model."
        )
    transform = TransformOutput(transform_graph.path)
    outputs = [c.name for c in transform.output_columns]
    if label not in outputs:
        raise ConfigError(
            f"Trainer: label={label!r} is not a transformed column; the transform outputs "
            f"{outputs}. Pass the transformed label's name (e.g. 'tips_xf')."
        )
    features = _features(features_fn, label, outputs)
    splits = split_names(transformed_examples, "Trainer", "transformed_examples")
    if "train" not in splits:
        raise ConfigError(
            f"Trainer: transformed_examples has the splits {splits} but no 'train' split to "
            "train on; wire it to Transform's transformed_examples."
        )
    data = {split: read_split(transformed_examples, split) for split in splits}
    console = Console(stderr=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{model.path.name}.train-", dir=model.path.parent))
    try:
        result = train(
            data,
            build,
            scratch,
            label=label,
            features=features,
            epochs=epochs,
            batch_size=batch_size,
            hyperparameters=hyperparameters,
            seed=seed,
            console=console,
            num_workers=num_workers,
        )
        baseline, samples = _serving_extras(statistics, examples)
        # export_serving_model writes a fresh directory and renames it onto model.path.
        export_serving_model(
            result.model_path,
            transform,
            model.path,
            features=features,
            raw_label_columns=list(raw_label_columns),
            label=label,
            statistics=baseline,
            samples=samples,
            overwrite=True,
        )
        (model.path / TRAINING_DIR).mkdir()
        for name in _KEPT:
            if (scratch / name).exists():
                shutil.move(scratch / name, model.path / TRAINING_DIR / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    model.metadata.update(json_ready(result.final_metrics))
    model.metadata.update(
        {
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "train_seconds": round(result.seconds, 3),
            "label": label,
            "features": features,
        }
    )
