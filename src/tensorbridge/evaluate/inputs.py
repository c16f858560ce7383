"""Checked numpy arrays of labels and predictions, from arrays or Arrow columns.

Every check raises with what was received, what was expected and how to fix it: a label
outside {0, 1}, a probability outside [0, 1], a NaN, a null, arrays of different lengths.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tensorbridge.errors import BadInputError, ConfigError, SchemaError

__all__ = ["TASKS", "Task", "check_labels", "check_predictions", "check_task", "column_values"]

Task: TypeAlias = Literal["binary", "regression"]

#: The task types, with the words used in messages.
TASKS: dict[str, str] = {"binary": "binary classification", "regression": "regression"}


def check_task(task: object) -> Task:
    """Resolve ``task=`` to ``"binary"`` or ``"regression"``."""
    if task == "binary":
        return "binary"
    if task == "regression":
        return "regression"
    raise ConfigError(
        f"task={task!r} is not a task type; pass task='binary' (labels 0/1, predictions "
        "= probability of class 1) or task='regression' (numeric labels and predictions)."
    )


def _first_rows(mask: np.ndarray, values: np.ndarray, limit: int = 3) -> str:
    rows = np.flatnonzero(mask)[:limit]
    shown = ", ".join(f"row {int(r)}: {values[r].item()!r}" for r in rows)
    more = " ..." if int(mask.sum()) > limit else ""
    return shown + more


def _as_float_array(values: npt.ArrayLike, what: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except Exception as err:  # pragma: no cover - numpy accepts nearly anything
        raise ConfigError(f"{what} could not be read as an array: {err}") from err
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]  # a Keras model's (n, 1) output
    if array.ndim != 1:
        raise BadInputError(
            f"{what} has shape {array.shape}; expected one number per example (shape (n,) "
            "or (n, 1)). For a multi-output model pass the column of the output to evaluate."
        )
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        sample = array[:3].tolist()
        raise BadInputError(
            f"{what} holds {array.dtype} values (first: {sample}); expected numbers. "
            "Convert them to numbers first (labels 0/1, predictions as probabilities)."
        )
    return array.astype(np.float64)


def check_labels(values: npt.ArrayLike, task: Task, *, name: str = "labels") -> np.ndarray:
    """Labels as float64, checked for the task.

    Parameters
    ----------
    values : array-like
        One label per example: 0/1 (or booleans) for ``binary``, numbers for
        ``regression``.
    task : {"binary", "regression"}
        The task type.
    name : str, default "labels"
        How to call the values in error messages (a column name).

    Returns
    -------
    numpy.ndarray
        The labels as a 1-D float64 array.
    """
    labels = _as_float_array(values, f"The label {name!r}")
    bad = ~np.isfinite(labels)
    if bad.any():
        raise BadInputError(
            f"The label {name!r} has {int(bad.sum())} NaN or infinite value(s) "
            f"({_first_rows(bad, labels)}); every example needs a label. Drop or fill "
            "those rows before evaluating.",
            column=name,
        )
    if task == "binary":
        bad = (labels != 0.0) & (labels != 1.0)
        if bad.any():
            seen = np.unique(labels[bad])[:5].tolist()
            raise BadInputError(
                f"The label {name!r} has {int(bad.sum())} value(s) outside {{0, 1}} "
                f"(e.g. {seen}; {_first_rows(bad, labels)}), but task='binary' needs 0/1 "
                "labels. Map the classes to 0 and 1 (e.g. `tips > 0.2 * fare`), or pass "
                "task='regression' for a numeric label.",
                column=name,
            )
    return labels


def check_predictions(
    values: npt.ArrayLike, task: Task, *, name: str = "predictions", expected: int | None = None
) -> np.ndarray:
    """Predictions as float64, checked for the task.

    Parameters
    ----------
    values : array-like
        One prediction per example: the probability of class 1 for ``binary``.
    task : {"binary", "regression"}
        The task type.
    name : str, default "predictions"
        How to call the values in error messages (a column name).
    expected : int, optional
        The number of examples (labels) the predictions must match.

    Returns
    -------
    numpy.ndarray
        The predictions as a 1-D float64 array.
    """
    predictions = _as_float_array(values, f"The prediction {name!r}")
    if expected is not None and len(predictions) != expected:
        raise BadInputError(
            f"The prediction {name!r} has {len(predictions)} values but there are "
            f"{expected} labels; pass exactly one prediction per example, in the same order."
        )
    bad = np.isnan(predictions)
    if bad.any():
        raise BadInputError(
            f"The prediction {name!r} has {int(bad.sum())} NaN value(s) "
            f"({_first_rows(bad, predictions)}); a model should predict a number for every "
            "example. Check the model's inputs for NaN/missing features.",
            column=name,
        )
    if task == "binary":
        bad = (predictions < 0.0) | (predictions > 1.0)
        if bad.any():
            low, high = float(predictions.min()), float(predictions.max())
            raise BadInputError(
                f"The prediction {name!r} has {int(bad.sum())} value(s) outside [0, 1] "
                f"(range {low:g} to {high:g}; {_first_rows(bad, predictions)}), but "
                "task='binary' needs the probability of class 1. If these are logits, "
                "apply a sigmoid first: 1 / (1 + np.exp(-logits)).",
                column=name,
            )
    else:
        bad = np.isinf(predictions)
        if bad.any():
            raise BadInputError(
                f"The prediction {name!r} has {int(bad.sum())} infinite value(s) "
                f"({_first_rows(bad, predictions)}); regression metrics need finite "
                "predictions.",
                column=name,
            )
    return predictions


def column_values(table: pa.Table, name: str, role: str) -> np.ndarray:
    """The values of one numeric column as numpy, refusing nulls.

    Parameters
    ----------
    table : pyarrow.Table
        The data.
    name : str
        The column.
    role : str
        ``"label"`` or ``"prediction"``, for messages.

    Returns
    -------
    numpy.ndarray
        The column's values (any numeric or bool dtype).
    """
    if name not in table.column_names:
        raise SchemaError(
            f"The {role} column {name!r} was not found; the data has columns "
            f"{table.column_names}. Pass {role}= the name of an existing column."
        )
    column = table.column(name)
    kind = column.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        raise BadInputError(
            f"The {role} column {name!r} has Arrow type {column.type}; expected numbers "
            f"(int, float or bool). Convert it first, e.g. "
            f"`table[{name!r}].cast(pa.float64())`.",
            column=name,
        )
    if column.null_count:
        chunk = column.combine_chunks()
        first = int(np.flatnonzero(chunk.is_null().to_numpy(zero_copy_only=False))[0])
        raise BadInputError(
            f"The {role} column {name!r} has {column.null_count} null value(s) (first at "
            f"row {first}); every example needs a {role}. Drop those rows (e.g. "
            f"`table.filter(pc.is_valid(table[{name!r}]))`) or fill them.",
            column=name,
        )
    chunk = column.combine_chunks()
    if pa.types.is_dictionary(chunk.type):
        chunk = chunk.cast(kind)
    return np.asarray(chunk.to_numpy(zero_copy_only=False))
