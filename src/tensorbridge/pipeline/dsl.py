"""Pipelines: tasks wired output to input, checked before anything runs.

A pipeline is a Python function decorated with :func:`pipeline`. Its keyword parameters
(with defaults) are the pipeline parameters, overridable at run time
(``tensorbridge run taxi.py --param epochs=3``). Inside, calling a component adds a task;
passing ``task.outputs["name"]`` to another component's input wires them, and the DAG
follows from those data dependencies. ``task.after(other)`` adds an ordering without data
(for side effects).

Examples
--------
>>> from tensorbridge.pipeline import Examples, Input, Output, component, pipeline
>>> @component
... def Make(examples: Output[Examples], rows: int = 3) -> None: ...
>>> @component
... def Use(examples: Input[Examples], copy: Output[Examples]) -> None: ...
>>> @pipeline(name="demo")
... def demo(rows: int = 3):
...     made = Make(rows=rows)
...     Use(examples=made.outputs["examples"])
>>> [t.name for t in demo.build().tasks]
['Make', 'Use']
>>> demo.build({"rows": 5}).task("Make").arguments
{'rows': 5}
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tensorbridge.errors import PipelineDefinitionError
from tensorbridge.pipeline.artifacts import Artifact
from tensorbridge.pipeline.component import Component, _json_value

__all__ = ["OutputRef", "Pipeline", "PipelineGraph", "Task", "current_builder", "pipeline"]

_BUILDER: contextvars.ContextVar[_Builder | None] = contextvars.ContextVar(
    "tensorbridge_pipeline_builder", default=None
)


@dataclass(frozen=True)
class OutputRef:
    """An output artifact of a task, to pass to another task's input."""

    task: Task
    name: str
    artifact_type: type[Artifact]

    def __repr__(self) -> str:
        return f"{self.task.name}.outputs[{self.name!r}]"


class _Outputs(Mapping[str, OutputRef]):
    def __init__(self, task: Task) -> None:
        self._task = task

    def __getitem__(self, key: str) -> OutputRef:
        spec = self._task.component.outputs.get(key)
        if spec is None:
            raise PipelineDefinitionError(
                f"{self._task.name} has no output {key!r}; its outputs are "
                f"{sorted(self._task.component.outputs)}."
            )
        return OutputRef(self._task, key, spec.artifact_type)

    def __iter__(self) -> Iterator[str]:
        return iter(self._task.component.outputs)

    def __len__(self) -> int:
        return len(self._task.component.outputs)


class Task:
    """One component call in a pipeline: its arguments, inputs and explicit ordering."""

    def __init__(
        self,
        component: Component,
        name: str,
        arguments: dict[str, Any],
        inputs: dict[str, OutputRef],
    ) -> None:
        self.component = component
        self.name = name
        self.arguments = arguments
        self.inputs = inputs
        self.explicit_after: list[Task] = []
        self.outputs: Mapping[str, OutputRef] = _Outputs(self)

    def after(self, *tasks: Task) -> Task:
        """Run this task only after ``tasks`` (ordering without a data dependency)."""
        for task in tasks:
            if not isinstance(task, Task):
                raise PipelineDefinitionError(f"{self.name}.after(...) takes tasks, got {task!r}.")
            self.explicit_after.append(task)
        return self

    @property
    def upstream(self) -> list[Task]:
        """The tasks this one waits for: data producers, then explicit ones."""
        seen: dict[int, Task] = {}
        for ref in self.inputs.values():
            seen.setdefault(id(ref.task), ref.task)
        for task in self.explicit_after:
            seen.setdefault(id(task), task)
        return list(seen.values())

    def __repr__(self) -> str:
        return f"<task {self.name} ({self.component.name})>"


class _Builder:
    """Collects tasks while a pipeline function runs, checking each call."""

    def __init__(self, pipeline_name: str) -> None:
        self.pipeline_name = pipeline_name
        self.tasks: list[Task] = []

    def add(self, component: Component, kwargs: dict[str, Any], name: str | None) -> Task:
        task_name = name or component.name
        taken = {t.name for t in self.tasks}
        if name is not None and name in taken:
            raise PipelineDefinitionError(
                f"Pipeline {self.pipeline_name!r} has two tasks named {name!r}; give one "
                "another name=."
            )
        suffix = 2
        while task_name in taken:
            task_name = f"{component.name}_{suffix}"
            suffix += 1
        inputs: dict[str, OutputRef] = {}
        arguments: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key in component.inputs:
                inputs[key] = self._check_input(component, task_name, key, value)
            elif key in component.parameters:
                arguments[key] = self._check_parameter(task_name, key, value)
            elif key in component.outputs:
                raise PipelineDefinitionError(
                    f"{task_name}: {key!r} is an output; outputs are created by the runner. "
                    f"Read it downstream as {task_name}.outputs[{key!r}]."
                )
            else:
                raise PipelineDefinitionError(
                    f"{task_name} has no input or parameter {key!r}. Inputs: "
                    f"{sorted(component.inputs)}; parameters: {sorted(component.parameters)}."
                )
        missing = [k for k, s in component.inputs.items() if not s.optional and k not in inputs]
        missing += [k for k, p in component.parameters.items() if p.required and k not in kwargs]
        if missing:
            raise PipelineDefinitionError(
                f"{task_name} ({component.name}) is missing required {missing}; pass them by "
                "keyword."
            )
        for key, spec in component.parameters.items():
            if key not in arguments and not spec.required:
                arguments[key] = spec.default
        task = Task(component, task_name, arguments, inputs)
        self.tasks.append(task)
        return task

    def _check_input(self, component: Component, task: str, key: str, value: Any) -> OutputRef:
        expected = component.inputs[key].artifact_type
        if not isinstance(value, OutputRef):
            raise PipelineDefinitionError(
                f"{task}.{key} expects an artifact ({expected.type_name}) from another task, "
                f"e.g. other.outputs['...']; got {value!r}."
            )
        if value.task not in self.tasks:
            raise PipelineDefinitionError(
                f"{task}.{key} is wired to {value!r}, a task of another pipeline definition."
            )
        if not issubclass(value.artifact_type, expected):
            raise PipelineDefinitionError(
                f"Type mismatch: {task}.{key} expects {expected.type_name}, but {value!r} "
                f"is {value.artifact_type.type_name}."
            )
        return value

    @staticmethod
    def _check_parameter(task: str, key: str, value: Any) -> Any:
        if isinstance(value, OutputRef):
            raise PipelineDefinitionError(
                f"{task}.{key} is a parameter, not an artifact input; got {value!r}."
            )
        if not _json_value(value):
            raise PipelineDefinitionError(
                f"{task}.{key} = {value!r} is not a JSON value (str, int, float, bool, None, "
                "list, dict); pass functions as 'module:function' strings."
            )
        return value


def current_builder(component: str) -> _Builder:
    """The pipeline being defined, or an error when a component is called outside one."""
    builder = _BUILDER.get()
    if builder is None:
        raise PipelineDefinitionError(
            f"Component {component} was called outside a pipeline definition. Call it "
            "inside a function decorated with @pipeline, or call component.func(...) to run "
            "its function directly."
        )
    return builder


@dataclass(frozen=True)
class PipelineGraph:
    """A built pipeline: tasks in a topological order (definition order among equals)."""

    name: str
    tasks: tuple[Task, ...]
    parameters: Mapping[str, Any]

    def task(self, name: str) -> Task:
        """The task called ``name``."""
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"No task {name!r}; the tasks are {[t.name for t in self.tasks]}.")

    def downstream_of(self, name: str) -> list[str]:
        """Names of the tasks that depend (directly or not) on task ``name``."""
        found: list[str] = []
        frontier = {name}
        for task in self.tasks:
            if any(u.name in frontier for u in task.upstream):
                frontier.add(task.name)
                found.append(task.name)
        return found


def _toposort(name: str, tasks: list[Task]) -> tuple[Task, ...]:
    """Kahn's algorithm, stable in definition order; a cycle is an error naming it."""
    remaining = {t.name: {u.name for u in t.upstream} for t in tasks}
    ordered: list[Task] = []
    while remaining:
        ready = [t for t in tasks if t.name in remaining and not remaining[t.name]]
        if not ready:
            cycle = _find_cycle(remaining)
            raise PipelineDefinitionError(
                f"Pipeline {name!r} has a cycle: {' -> '.join(cycle)}. Remove an .after(...) "
                "or a wire so that the steps have an order."
            )
        for task in ready:
            ordered.append(task)
            del remaining[task.name]
            for waits in remaining.values():
                waits.discard(task.name)
    return tuple(ordered)


def _find_cycle(waits: Mapping[str, set[str]]) -> list[str]:
    start = next(iter(waits))
    path = [start]
    while True:
        nxt = next(iter(sorted(waits[path[-1]])))
        if nxt in path:
            return [*path[path.index(nxt) :], nxt]
        path.append(nxt)


class Pipeline:
    """A pipeline definition: call :meth:`build` to get the checked task graph.

    Parameters
    ----------
    func : callable
        The pipeline function; keyword parameters with defaults are the pipeline
        parameters.
    name : str
        The pipeline's name (recorded in the metadata store; default the function's).
    """

    def __init__(self, func: Callable[..., Any], name: str | None = None) -> None:
        self.func = func
        self.name = name or func.__name__
        self.parameters: dict[str, Any] = {}
        #: Each parameter's annotation as written (``"float"``), "" when there is none.
        self.annotations: dict[str, str] = {}
        for arg in inspect.signature(func).parameters.values():
            if arg.default is inspect.Parameter.empty:
                raise PipelineDefinitionError(
                    f"Pipeline {self.name!r}: parameter {arg.name!r} needs a default; "
                    "pipeline parameters are overridden at run time, never required."
                )
            self.parameters[arg.name] = arg.default
            annotation = arg.annotation
            self.annotations[arg.name] = (
                "" if annotation is inspect.Parameter.empty
                else annotation if isinstance(annotation, str)
                else getattr(annotation, "__name__", str(annotation))
            )  # fmt: skip
        self.__doc__ = func.__doc__

    def build(self, parameters: Mapping[str, Any] | None = None) -> PipelineGraph:
        """Run the definition with ``parameters`` (defaults for the rest) and check it."""
        values = dict(self.parameters)
        for key, value in (parameters or {}).items():
            if key not in self.parameters:
                raise PipelineDefinitionError(
                    f"Pipeline {self.name!r} has no parameter {key!r}; its parameters are "
                    f"{sorted(self.parameters)}."
                )
            values[key] = value
        builder = _Builder(self.name)
        token = _BUILDER.set(builder)
        try:
            self.func(**values)
        finally:
            _BUILDER.reset(token)
        if not builder.tasks:
            raise PipelineDefinitionError(f"Pipeline {self.name!r} defines no task.")
        return PipelineGraph(self.name, _toposort(self.name, builder.tasks), values)

    def __repr__(self) -> str:
        return f"<pipeline {self.name} ({len(self.parameters)} parameters)>"


def pipeline(func: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Decorate a pipeline definition function (see the module docstring)."""
    if func is None:
        return lambda f: Pipeline(f, name)
    return Pipeline(func, name)
