"""Lazy imports of optional, heavy dependencies with install hints.

TensorFlow and PySpark take seconds to import; tensorbridge imports them only when a
function needs them, so ``import tensorbridge`` stays fast.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from tensorbridge.errors import MissingDependencyError

_EXTRA_FOR_MODULE = {
    "tensorflow": "tf",
    "pyspark": "spark",
    "pandas": "pandas",
}


def import_optional(module: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` with the install hint.

    Parameters
    ----------
    module : str
        A top-level module name such as ``"tensorflow"`` or ``"pyspark.sql"``.

    Returns
    -------
    types.ModuleType
        The imported module.
    """
    if module.split(".")[0] == "tensorflow":
        # TensorFlow's C++ start-up logging drowns useful output; users can still set it.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        extra = _EXTRA_FOR_MODULE.get(top, "all")
        raise MissingDependencyError(
            f"{top} is not installed, and this feature needs it. "
            f"Install it with `pip install 'tensorbridge[{extra}]'` "
            f"(or `uv sync --extra {extra}` in a checkout)."
        ) from err
