"""``compute``: the statistics of a data set in one pass, on either engine."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from tensorbridge.engine import EngineLike
from tensorbridge.errors import ConfigError
from tensorbridge.io.dataset import Dataset
from tensorbridge.stats.accumulator import StatisticsAccumulator
from tensorbridge.stats.model import Statistics

__all__ = ["compute"]


def _as_dataset(data: object) -> Dataset:
    if isinstance(data, Dataset):
        return data
    if isinstance(data, pa.Table | pa.RecordBatch):
        from tensorbridge.io.readers import from_arrow

        return from_arrow(data)
    hint = (
        " Wrap it with tb.from_pandas(df) or tb.from_spark(df)."
        if type(data).__name__ == "DataFrame"
        else " Open files with tb.read_csv(...), tb.read_parquet(...) or tb.read_json(...)."
    )
    raise ConfigError(
        f"data= takes a tensorbridge Dataset or a pyarrow Table; got "
        f"{type(data).__module__}.{type(data).__name__}.{hint}"
    )


def _names(value: str | Sequence[str] | None, option: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    names = list(value)
    if not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{option} takes a column name or a list of names, got {value!r}.")
    return names


def compute(
    data: Dataset | pa.Table | pa.RecordBatch,
    *,
    engine: EngineLike = None,
    slice_by: str | Sequence[str] | None = None,
    label: str | None = None,
    features: Sequence[str] | None = None,
    max_exact_values: int = 1_000_000,
    max_slices: int = 100,
) -> Statistics:
    """Per-feature statistics of ``data`` in one pass (what TFDV's StatisticsGen computes).

    Parameters
    ----------
    data : Dataset or pyarrow.Table
        The examples; every column is a feature.
    engine : "local", "spark", an engine object, or None
        Where the pass runs; default the data's own engine. Both give identical results.
    slice_by : str or list of str, optional
        Columns to slice by: each distinct value of each gets its own statistics,
        ``Statistics.slice("payment_type=Cash")``.
    label : str, optional
        A label column: adds per-class statistics (``"tips=1"``), like slicing by it.
    features : list of str, optional
        Only these columns (default all).
    max_exact_values : int, default 1,000,000
        Numeric values kept exactly per feature and slice (8 bytes each) for the
        quantiles and histograms; past that, a KLL sketch with rank error <= 0.5%.
    max_slices : int, default 100
        Most distinct values a slicing column may have.

    Returns
    -------
    Statistics
        The default slice ``"All Examples"`` first, then the slices in column and value
        order.

    Raises
    ------
    ConfigError
        For an unknown column in ``slice_by``, ``label`` or ``features``, or too many slices.

    Examples
    --------
    >>> import pyarrow as pa
    >>> import tensorbridge as tb
    >>> table = pa.table({"fare": [5.0, 7.5, None, 0.0], "kind": ["a", "b", "a", "a"]})
    >>> stats = tb.stats.compute(table, slice_by="kind")
    >>> fare = stats["fare"]
    >>> fare.common.num_missing, fare.numeric.mean, fare.numeric.num_zeros
    (1, 4.166666666666667, 1)
    >>> stats["kind"].string.top_values[0]
    TopValue(value='a', frequency=3.0)
    >>> [s.name for s in stats.slices]
    ['All Examples', 'kind=a', 'kind=b']
    >>> stats.slice("kind=b")["fare"].numeric.mean
    7.5
    """
    dataset = _as_dataset(data)
    if engine is not None:
        dataset = dataset.with_engine(engine)
    slices = _names(slice_by, "slice_by")
    if label is not None:
        if not isinstance(label, str):
            raise ConfigError(f"label= takes a column name, got {label!r}.")
        slices = [*slices, label] if label not in slices else slices
    columns = dataset.schema.names
    wanted = _names(features, "features") or list(columns)
    unknown = [n for n in [*wanted, *slices] if n not in columns]
    if unknown:
        raise ConfigError(
            f"Columns {unknown} are not in the data (from features=, slice_by= or label=); "
            f"it has {columns}."
        )
    if max_exact_values < 0 or max_slices < 1:
        raise ConfigError(
            "max_exact_values must be >= 0 and max_slices >= 1; got "
            f"{max_exact_values} and {max_slices}."
        )
    selected = [n for n in columns if n in wanted or n in slices]
    if selected != list(columns):
        dataset = dataset.select(selected)
    accumulator = StatisticsAccumulator(
        dataset.schema,
        slice_by=slices,
        max_exact_values=max_exact_values,
        max_slices=max_slices,
        source=dataset.source.describe(),
    )
    result = dataset.aggregate(accumulator)
    if set(wanted) != set(selected):
        result = _only(result, wanted)
    return result


def _only(stats: Statistics, names: Sequence[str]) -> Statistics:
    """Drop the slicing columns that were read only to slice by."""
    from dataclasses import replace

    return replace(
        stats,
        slices=tuple(
            replace(s, features={n: f for n, f in s.features.items() if n in names})
            for s in stats.slices
        ),
    )
