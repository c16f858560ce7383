"""tensorbridge: from files and Spark to TensorFlow models in production, Arrow all the way.

``import tensorbridge`` is fast: pyarrow loads on first use of a data function, and
TensorFlow and PySpark only when a function needs them.

Examples
--------
>>> import tensorbridge as tb
>>> tb.__version__
'0.1.0'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tensorbridge.errors import (
    BadInputError,
    ConfigError,
    EngineError,
    JavaNotFoundError,
    MissingDependencyError,
    SchemaError,
    TensorbridgeError,
)

if TYPE_CHECKING:
    from tensorbridge.engine import Accumulator, Engine, LocalEngine, SparkEngine
    from tensorbridge.io import (
        Dataset,
        from_arrow,
        from_pandas,
        from_spark,
        read_csv,
        read_json,
        read_parquet,
        to_numpy,
        to_tensors,
    )

__version__ = "0.1.0"

_LAZY = {
    "Dataset": "tensorbridge.io",
    "read_csv": "tensorbridge.io",
    "read_parquet": "tensorbridge.io",
    "read_json": "tensorbridge.io",
    "from_arrow": "tensorbridge.io",
    "from_pandas": "tensorbridge.io",
    "from_spark": "tensorbridge.io",
    "to_numpy": "tensorbridge.io",
    "to_tensors": "tensorbridge.io",
    "Accumulator": "tensorbridge.engine",
    "Engine": "tensorbridge.engine",
    "LocalEngine": "tensorbridge.engine",
    "SparkEngine": "tensorbridge.engine",
}

__all__ = [
    "Accumulator",
    "BadInputError",
    "ConfigError",
    "Dataset",
    "Engine",
    "EngineError",
    "JavaNotFoundError",
    "LocalEngine",
    "MissingDependencyError",
    "SchemaError",
    "SparkEngine",
    "TensorbridgeError",
    "__version__",
    "from_arrow",
    "from_pandas",
    "from_spark",
    "read_csv",
    "read_json",
    "read_parquet",
    "to_numpy",
    "to_tensors",
]


#: Subpackages reachable as attributes (``tb.stats.compute``), imported on first use.
_SUBPACKAGES = {"evaluate", "push", "serve", "stats", "train", "transform"}


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"tensorbridge.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tensorbridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
