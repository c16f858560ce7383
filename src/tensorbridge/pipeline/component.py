"""``@component``: a Python function with typed input/output artifacts and parameters.

The function's annotations say everything the runner needs: ``Input[T]`` arguments are
artifacts it reads, ``Output[T]`` arguments artifacts it writes (it gets a directory to
fill), and every other argument is a JSON-serializable parameter. Called inside a
pipeline definition, a component does not run: it adds a task to the pipeline.

Examples
--------
>>> from tensorbridge.pipeline import Examples, ExampleStatistics, Input, Output, component
>>> @component
... def CountRows(examples: Input[Examples], statistics: Output[ExampleStatistics],
...               limit: int = 10) -> None:
...     ...
>>> sorted(CountRows.inputs), sorted(CountRows.outputs), sorted(CountRows.parameters)
(['examples'], ['statistics'], ['limit'])
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import inspect
import sys
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tensorbridge.errors import PipelineDefinitionError
from tensorbridge.pipeline.artifacts import Artifact, DataPath, Input, ModuleRef, Output

if TYPE_CHECKING:
    from tensorbridge.pipeline.dsl import Task

__all__ = ["Component", "ParameterSpec", "PortSpec", "component", "resolve_reference"]

_REQUIRED = inspect.Parameter.empty
_PARAMETER_TYPES = (str, int, float, bool, list, dict, type(None))


@dataclass(frozen=True)
class PortSpec:
    """An input or output artifact of a component."""

    name: str
    artifact_type: type[Artifact]
    direction: str  # "input" or "output"
    optional: bool = False


@dataclass(frozen=True)
class ParameterSpec:
    """A parameter: a JSON value, with a default unless required.

    ``data_path`` marks a :class:`~tensorbridge.pipeline.artifacts.DataPath` parameter,
    whose file or directory content is fingerprinted for the cache; ``module_ref`` a
    :class:`~tensorbridge.pipeline.artifacts.ModuleRef`, whose defining file is.
    """

    name: str
    annotation: Any
    default: Any = _REQUIRED
    data_path: bool = False
    module_ref: bool = False

    @property
    def required(self) -> bool:
        """True when the parameter has no default."""
        return self.default is _REQUIRED


def _port(name: str, hint: Any) -> PortSpec | None:
    """The artifact port an annotation declares, or None for a parameter."""
    optional = False
    args = typing.get_args(hint)
    if args and type(None) in args:  # Optional[Input[X]]
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            hint, optional = rest[0], True
    if isinstance(hint, type) and issubclass(hint, Input | Output):
        direction = "input" if issubclass(hint, Input) else "output"
        if optional and direction == "output":
            raise PipelineDefinitionError(
                f"Output {name!r} cannot be optional: a component writes every output it declares."
            )
        artifact_type: type[Artifact] = getattr(hint, "artifact_type")  # noqa: B009 - runtime class
        return PortSpec(name, artifact_type, direction, optional)
    return None


def _is_marker(hint: Any, marker: type) -> bool:
    if hint is marker:
        return True
    return any(a is marker for a in typing.get_args(hint))


class Component:
    """A pipeline step made from a function; see :func:`component`.

    Attributes
    ----------
    name : str
        The component's name (the function's, unless given).
    inputs, outputs : dict of str to PortSpec
        Artifact ports, by argument name.
    parameters : dict of str to ParameterSpec
        Parameters, by argument name.
    reference : str
        ``"module:function"``, how the runner's worker process finds the function.
    """

    def __init__(self, func: Callable[..., Any], *, name: str | None = None) -> None:
        self.func = func
        self.name = name or func.__name__
        self.reference = f"{func.__module__}:{func.__qualname__}"
        self.inputs: dict[str, PortSpec] = {}
        self.outputs: dict[str, PortSpec] = {}
        self.parameters: dict[str, ParameterSpec] = {}
        try:
            hints = typing.get_type_hints(func)
        except Exception as err:
            raise PipelineDefinitionError(
                f"Component {self.name}: cannot read the annotations of {self.reference} "
                f"({err}). Annotate artifacts with Input[...] / Output[...] and parameters "
                "with plain types, importable at module level."
            ) from err
        for arg in inspect.signature(func).parameters.values():
            if arg.name == "task_name":
                raise PipelineDefinitionError(
                    f"Component {self.name}: 'task_name' is reserved (it names the task in a "
                    "pipeline); rename the argument."
                )
            if arg.kind in (arg.VAR_POSITIONAL, arg.VAR_KEYWORD):
                raise PipelineDefinitionError(
                    f"Component {self.name}: *args/**kwargs ({arg.name}) are not allowed; "
                    "declare every input, output and parameter by name."
                )
            hint = hints.get(arg.name, Any)
            port = _port(arg.name, hint)
            if port is not None:
                (self.inputs if port.direction == "input" else self.outputs)[arg.name] = port
                continue
            if arg.default is not _REQUIRED and not _json_value(arg.default):
                raise PipelineDefinitionError(
                    f"Component {self.name}: the default of parameter {arg.name!r} "
                    f"({arg.default!r}) is not a JSON value (str, int, float, bool, None, "
                    "list, dict). Pass functions as 'module:function' strings."
                )
            self.parameters[arg.name] = ParameterSpec(
                arg.name, hint, arg.default, _is_marker(hint, DataPath), _is_marker(hint, ModuleRef)
            )
        if not self.outputs:
            raise PipelineDefinitionError(
                f"Component {self.name} declares no Output[...] artifact; a component must "
                "produce at least one (its results are what later steps and the cache use)."
            )
        self.__doc__ = func.__doc__
        self.__wrapped__ = func

    def __repr__(self) -> str:
        return f"<component {self.name} ({self.reference})>"

    def __call__(self, *args: Any, task_name: str | None = None, **kwargs: Any) -> Task:
        """Add a task running this component to the pipeline being defined.

        ``task_name`` names the task (default: the component's name, with ``_2``, ``_3``
        ... when the component is used again).
        """
        from tensorbridge.pipeline.dsl import current_builder

        if args:
            raise PipelineDefinitionError(
                f"Component {self.name}: pass inputs and parameters by keyword, e.g. "
                f"{self.name}(examples=gen.outputs['examples'])."
            )
        return current_builder(self.name).add(self, kwargs, task_name)

    @property
    def code_fingerprint(self) -> str:
        """SHA-256 of the function's source, the file that defines it, and our version.

        A change to the component's module (the code it runs, its helpers) gives a new
        fingerprint, which invalidates cached executions, as TFX does with the module file.
        """
        from tensorbridge import __version__

        digest = hashlib.sha256()
        digest.update(self.reference.encode())
        digest.update(__version__.encode())  # an upgrade can change what components do
        with contextlib.suppress(OSError, TypeError):  # no source (e.g. typed at a prompt)
            digest.update(inspect.getsource(self.func).encode())
        module_file = getattr(sys.modules.get(self.func.__module__), "__file__", None)
        if module_file and Path(module_file).is_file():
            digest.update(Path(module_file).read_bytes())
        return digest.hexdigest()


def _json_value(value: Any) -> bool:
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _json_value(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_json_value(v) for v in value)
    return isinstance(value, _PARAMETER_TYPES)


def component(func: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Make a pipeline component from a function.

    Parameters
    ----------
    func : callable
        Annotated with ``Input[T]`` / ``Output[T]`` for artifacts; every other argument
        is a parameter (JSON value; functions are passed as ``"module:function"`` strings
        and resolved with :func:`resolve_reference`). It must be importable at module
        level: the runner executes it in a worker process.
    name : str, optional
        The component's name (default: the function's name).

    Returns
    -------
    Component
    """
    if func is None:
        return lambda f: Component(f, name=name)
    return Component(func, name=name)


def resolve_reference(reference: str) -> Any:
    """Import ``"package.module:attribute"`` (a function passed as a parameter).

    Raises
    ------
    PipelineDefinitionError
        When the reference is malformed or cannot be imported.
    """
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise PipelineDefinitionError(
            f"{reference!r} is not a 'module:function' reference, e.g. "
            "'tensorbridge.examples.taxi:preprocessing_fn'."
        )
    try:
        value: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as err:
        raise PipelineDefinitionError(f"Cannot import {reference!r}: {err}.") from err
    return value


def reference_fingerprint(reference: str) -> str:
    """SHA-256 of the file that defines a ``"module:function"`` reference (for the cache)."""
    module_name = reference.partition(":")[0]
    spec = importlib.util.find_spec(module_name)
    digest = hashlib.sha256(reference.encode())
    if spec is not None and spec.origin and Path(spec.origin).is_file():
        digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()
