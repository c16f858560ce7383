"""Engines run tensorbridge's work: ``local`` (in-process, default) or ``spark``.

Choose one with ``engine="local"``, ``engine="spark"`` or an engine object such as
``SparkEngine(master="local[2]")``; the ``TENSORBRIDGE_ENGINE`` environment variable
changes the default.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tensorbridge.engine.base import Accumulator, Engine
from tensorbridge.errors import ConfigError

if TYPE_CHECKING:
    from tensorbridge.engine.local import LocalEngine
    from tensorbridge.engine.spark import SparkEngine

__all__ = ["Accumulator", "Engine", "EngineLike", "LocalEngine", "SparkEngine", "resolve_engine"]

EngineLike = Engine | str | None
ENGINE_ENV_VAR = "TENSORBRIDGE_ENGINE"
ENGINE_NAMES = ("local", "spark")


def resolve_engine(engine: EngineLike = None) -> Engine:
    """Turn ``engine=`` (a name, an engine object or None) into an engine.

    None means the ``TENSORBRIDGE_ENGINE`` environment variable, or ``"local"``.

    Examples
    --------
    >>> resolve_engine("local").name
    'local'
    """
    if isinstance(engine, Engine):
        return engine
    name = engine if engine is not None else os.environ.get(ENGINE_ENV_VAR, "local")
    name = name.strip().lower()
    if name == "local":
        from tensorbridge.engine.local import LocalEngine

        return LocalEngine()
    if name == "spark":
        from tensorbridge.engine.spark import SparkEngine

        return SparkEngine()
    source = "engine=" if engine is not None else f"the {ENGINE_ENV_VAR} environment variable"
    raise ConfigError(
        f"Unknown engine {name!r} (from {source}). Choose one of {list(ENGINE_NAMES)} "
        "or pass an engine object."
    )


def __getattr__(name: str) -> object:
    if name == "LocalEngine":
        from tensorbridge.engine.local import LocalEngine

        return LocalEngine
    if name == "SparkEngine":
        from tensorbridge.engine.spark import SparkEngine

        return SparkEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
