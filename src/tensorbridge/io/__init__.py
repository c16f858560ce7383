"""Sources and sinks, Arrow schemas, splits, and Arrow -> numpy/tensor conversion."""

from __future__ import annotations

from tensorbridge.io.bad_rows import BadRow, BadRowReport
from tensorbridge.io.dataset import BatchTransform, Dataset
from tensorbridge.io.parquet import ParquetWriteResult, ShardInfo
from tensorbridge.io.readers import (
    from_arrow,
    from_pandas,
    from_spark,
    read_csv,
    read_json,
    read_parquet,
)
from tensorbridge.io.source import Source
from tensorbridge.io.split import hash_rows

_CONVERT = ("schema_to_tensor_specs", "to_masked_numpy", "to_numpy", "to_tensors")

__all__ = [
    "BadRow",
    "BadRowReport",
    "BatchTransform",
    "Dataset",
    "ParquetWriteResult",
    "ShardInfo",
    "Source",
    "from_arrow",
    "from_pandas",
    "from_spark",
    "hash_rows",
    "read_csv",
    "read_json",
    "read_parquet",
    "schema_to_tensor_specs",
    "to_masked_numpy",
    "to_numpy",
    "to_tensors",
]


def __getattr__(name: str) -> object:
    if name in _CONVERT:
        from tensorbridge.io import convert

        return getattr(convert, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
