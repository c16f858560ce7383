"""Finding a pipeline definition from the command line: a file, a module, or ``file.py:name``.

A pipeline file is imported as a module named after the file (its directory goes first on
``sys.path``), so its components have an importable ``module:function`` reference that
the worker processes (and Kubeflow containers) can load.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tensorbridge.errors import ConfigError
from tensorbridge.pipeline.dsl import Pipeline

__all__ = ["load_pipeline", "parse_parameters"]


def _import_file(path: Path) -> Any:
    folder = str(path.parent.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path:
        return existing
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"Cannot import {str(path)!r} as Python.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_pipeline(target: str) -> Pipeline:
    """The pipeline named by ``target``.

    Parameters
    ----------
    target : str
        ``path/to/file.py``, ``package.module``, or either followed by ``:name`` to pick
        one pipeline when the module defines several.

    Raises
    ------
    ConfigError
        When nothing importable is there, or no (or several) pipelines are found.
    """
    location, _, attribute = (
        target.partition(":") if not Path(target).exists() else (target, "", "")
    )
    path = Path(location)
    try:
        if path.suffix == ".py" or path.exists():
            if not path.is_file():
                raise ConfigError(f"Pipeline file {location!r} does not exist.")
            module = _import_file(path.resolve())
        else:
            module = importlib.import_module(location)
    except ImportError as err:
        raise ConfigError(
            f"Cannot import {location!r} ({err}). Pass a pipeline file (taxi_pipeline.py) or "
            "an importable module name."
        ) from err
    found = {name: value for name, value in vars(module).items() if isinstance(value, Pipeline)}
    if attribute:
        if attribute not in found:
            raise ConfigError(
                f"{location!r} has no pipeline named {attribute!r}; it has {sorted(found)}."
            )
        return found[attribute]
    if len(found) != 1:
        what = "no @pipeline" if not found else f"several pipelines ({sorted(found)})"
        raise ConfigError(
            f"{location!r} defines {what}; "
            + ("pick one with FILE:NAME." if found else "decorate a function with @pipeline.")
        )
    return next(iter(found.values()))


#: Scalar annotations --param honours, ``Optional`` or not.
_SCALAR_TYPES: dict[str, type] = {"bool": bool, "int": int, "float": float, "str": str}


def _declared_type(annotation: str, default: Any) -> type | None:
    """The scalar type a parameter is annotated with, else its default's type."""
    parts = {p.strip() for p in annotation.replace("Optional[", "").rstrip("]").split("|")}
    parts.discard("None")
    if len(parts) == 1 and (name := parts.pop()) in _SCALAR_TYPES:
        return _SCALAR_TYPES[name]
    return None if default is None else type(default)


def _convert(name: str, text: str, default: Any, annotation: str = "") -> Any:
    kind = _declared_type(annotation, default)
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"--param {name}={text!r}: expected true or false.")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"--param {name}={text!r}: expected an integer.") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"--param {name}={text!r}: expected a number.") from None
    if kind is str or kind is None:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"--param {name}={text!r}: expected JSON ({err.msg}).") from None


def parse_parameters(pipeline: Pipeline, items: Iterable[str]) -> dict[str, Any]:
    """``("epochs=3",)`` -> ``{"epochs": 3}``.

    Each value is converted to the parameter's annotated scalar type (``bool``, ``int``,
    ``float``, ``str``, optionally ``| None``), else to its default's type; lists and
    dicts are parsed as JSON.
    """
    values: dict[str, Any] = {}
    defaults: Mapping[str, Any] = pipeline.parameters
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--param {item!r} is not NAME=VALUE (e.g. --param epochs=3).")
        if name not in defaults:
            raise ConfigError(
                f"Pipeline {pipeline.name!r} has no parameter {name!r}; its parameters are "
                f"{sorted(defaults)}."
            )
        values[name] = _convert(name, text, defaults[name], pipeline.annotations.get(name, ""))
    return values
