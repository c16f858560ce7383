"""Lineage: where an artifact came from, what came of it, and how two runs differ.

- :func:`upstream` walks an artifact's producer, that execution's inputs, their
  producers, ... back to the source data.
- :func:`downstream` walks the other way: the executions that read an artifact, what
  they wrote, who read that, ... (which models and pushes came from this data).
- :func:`provenance` answers "which data, code version and parameters produced this
  model", component by component.
- :func:`diff_runs` compares two pipeline runs component by component.

Everything here reads the store through :class:`~tensorbridge.metadata.MetadataStore`'s
public methods. Executions are grouped by component: their ``properties["component"]``
when present, else their type.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tensorbridge.metadata.errors import NotFoundError
from tensorbridge.metadata.records import Artifact, Event, Execution

if TYPE_CHECKING:
    from tensorbridge.metadata.store import MetadataStore

__all__ = [
    "ArtifactChange",
    "ComponentDiff",
    "LineageGraph",
    "RunDiff",
    "diff_runs",
    "downstream",
    "provenance",
    "upstream",
]


@dataclass
class LineageGraph:
    """Artifacts and executions linked by events: the result of a lineage walk.

    Attributes
    ----------
    root_id : int
        The artifact the walk started from.
    direction : {"upstream", "downstream"}
        Which way it walked.
    artifacts : dict[int, Artifact]
        Every artifact reached (the root included), by id.
    executions : dict[int, Execution]
        Every execution reached, by id.
    events : list[Event]
        The events the walk followed.
    """

    root_id: int
    direction: Literal["upstream", "downstream"]
    artifacts: dict[int, Artifact] = field(default_factory=dict)
    executions: dict[int, Execution] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    @property
    def root(self) -> Artifact:
        """The artifact the walk started from."""
        return self.artifacts[self.root_id]

    def sources(self) -> list[Artifact]:
        """Artifacts no execution in the graph wrote: the raw data of an upstream walk.

        A walk cut short by ``max_depth`` also lists the artifacts where it stopped.
        """
        written = {e.artifact_id for e in self.events if e.kind == "OUTPUT"}
        return [a for i, a in sorted(self.artifacts.items()) if i not in written]

    def sinks(self) -> list[Artifact]:
        """Artifacts no execution in the graph read: the end products of a downstream walk."""
        read = {e.artifact_id for e in self.events if e.kind == "INPUT"}
        return [a for i, a in sorted(self.artifacts.items()) if i not in read]

    def artifacts_of_type(self, type: str) -> list[Artifact]:
        """The artifacts of one type (``"Model"``), oldest first."""
        return [a for _, a in sorted(self.artifacts.items()) if a.type == type]

    def executions_by_type(self) -> dict[str, list[Execution]]:
        """Executions grouped by type, each group oldest first."""
        grouped: dict[str, list[Execution]] = {}
        for _, execution in sorted(self.executions.items()):
            grouped.setdefault(execution.type, []).append(execution)
        return grouped

    def executions_by_component(self) -> dict[str, list[Execution]]:
        """Executions grouped by ``properties["component"]`` (else type), oldest first."""
        grouped: dict[str, list[Execution]] = {}
        for _, execution in sorted(self.executions.items()):
            grouped.setdefault(execution.component, []).append(execution)
        return grouped

    def to_dict(self) -> dict[str, Any]:
        """The graph as JSON values: records sorted by id, events in walk order."""
        return {
            "root_id": self.root_id,
            "direction": self.direction,
            "artifacts": [a.to_dict() for _, a in sorted(self.artifacts.items())],
            "executions": [e.to_dict() for _, e in sorted(self.executions.items())],
            "events": [e.to_dict() for e in self.events],
        }


def _check_depth(max_depth: int | None) -> None:
    from tensorbridge.errors import ConfigError

    if max_depth is not None and (
        isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0
    ):
        raise ConfigError(f"max_depth must be a non-negative int or None, got {max_depth!r}.")


def upstream(
    store: MetadataStore, artifact_id: int, *, max_depth: int | None = None
) -> LineageGraph:
    """Every execution and artifact an artifact was derived from.

    Parameters
    ----------
    store : MetadataStore
        The store.
    artifact_id : int
        Where to start (a model, say).
    max_depth : int, optional
        Follow at most this many executions back (1: the producer and its inputs);
        default all the way to the sources.

    Returns
    -------
    LineageGraph
        The artifact, its producer, the producer's inputs, their producers, ... with the
        OUTPUT event of each producer and the INPUT events of each execution.

    Raises
    ------
    NotFoundError
        When there is no such artifact.
    """
    return _walk(store, artifact_id, "upstream", max_depth)


def downstream(
    store: MetadataStore, artifact_id: int, *, max_depth: int | None = None
) -> LineageGraph:
    """Every execution that read an artifact, what it wrote, who read that, and so on.

    Parameters
    ----------
    store : MetadataStore
        The store.
    artifact_id : int
        Where to start (raw data, say).
    max_depth : int, optional
        Follow at most this many executions forward; default all of them.

    Returns
    -------
    LineageGraph
        Filter ``graph.artifacts`` by type (:meth:`LineageGraph.artifacts_of_type`) for
        the models and pushes that came from the artifact.

    Raises
    ------
    NotFoundError
        When there is no such artifact.
    """
    return _walk(store, artifact_id, "downstream", max_depth)


def _walk(
    store: MetadataStore,
    artifact_id: int,
    direction: Literal["upstream", "downstream"],
    max_depth: int | None,
) -> LineageGraph:
    """Breadth-first from an artifact through executions, one execution per level.

    Upstream follows an artifact's producer (its first OUTPUT event: the execution
    that wrote it, not a later cache hit that reused it) and that execution's INPUT
    events; downstream follows every INPUT event of an artifact and the OUTPUT events of
    those executions.
    """
    _check_depth(max_depth)
    entering, leaving = ("OUTPUT", "INPUT") if direction == "upstream" else ("INPUT", "OUTPUT")
    graph = LineageGraph(artifact_id, direction)
    graph.artifacts[artifact_id] = store.get_artifact(artifact_id)
    frontier = [artifact_id]
    depth = 0
    while frontier and (max_depth is None or depth < max_depth):
        depth += 1
        following: list[int] = []
        for current in frontier:
            links = [e for e in store.events(artifact_id=current) if e.kind == entering]
            if direction == "upstream":
                links = links[:1]
            for link in links:
                graph.events.append(link)
                if link.execution_id in graph.executions:
                    continue
                graph.executions[link.execution_id] = store.get_execution(link.execution_id)
                for event in store.events(execution_id=link.execution_id):
                    if event.kind != leaving:
                        continue
                    graph.events.append(event)
                    if event.artifact_id not in graph.artifacts:
                        graph.artifacts[event.artifact_id] = store.get_artifact(event.artifact_id)
                        following.append(event.artifact_id)
        frontier = following
    return graph


def _artifact_summary(artifact: Artifact) -> dict[str, Any]:
    return {
        "id": artifact.id,
        "type": artifact.type,
        "uri": artifact.uri,
        "name": artifact.name,
        "fingerprint": artifact.fingerprint,
    }


def provenance(store: MetadataStore, artifact_id: int) -> dict[str, Any]:
    """Which data, code versions and parameters produced an artifact (a model version).

    Parameters
    ----------
    store : MetadataStore
        The store.
    artifact_id : int
        The artifact.

    Returns
    -------
    dict
        JSON values::

            {"artifact": {...the artifact...},
             "sources": [{"id", "type", "uri", "name", "fingerprint"}, ...],
             "components": {
                 "Trainer": {"execution_id", "type", "state", "started_at",
                             "finished_at", "code_fingerprint", "parameters",
                             "inputs": {name: [{"id", "type", "uri", "name",
                                                "fingerprint"}, ...]},
                             "data_fingerprints"  (only when recorded)},
                 ...}}

        ``sources`` are the upstream artifacts nothing wrote (the raw data; the
        artifact itself when nothing wrote it);
        ``components`` has one entry per upstream execution, keyed by component (its
        ``properties["component"]``, else its type), oldest first; ``code_fingerprint``
        and ``parameters`` are the execution's properties of those names (None when
        absent). A component met twice gets its execution id appended
        (``"Trainer#12"``).

    Raises
    ------
    NotFoundError
        When there is no such artifact.
    """
    graph = upstream(store, artifact_id)
    inputs: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for event in graph.events:
        if event.kind == "INPUT":
            summary = _artifact_summary(graph.artifacts[event.artifact_id])
            inputs.setdefault(event.execution_id, {}).setdefault(event.name, []).append(summary)
    components: dict[str, dict[str, Any]] = {}
    for execution_id, execution in sorted(graph.executions.items()):
        key = execution.component
        if key in components:
            key = f"{key}#{execution_id}"
        entry: dict[str, Any] = {
            "execution_id": execution_id,
            "type": execution.type,
            "state": execution.state,
            "started_at": execution.started_at.isoformat(),
            "finished_at": (
                None if execution.finished_at is None else execution.finished_at.isoformat()
            ),
            "code_fingerprint": execution.properties.get("code_fingerprint"),
            "parameters": execution.properties.get("parameters"),
            "inputs": inputs.get(execution_id, {}),
        }
        if "data_fingerprints" in execution.properties:
            entry["data_fingerprints"] = execution.properties["data_fingerprints"]
        components[key] = entry
    return {
        "artifact": graph.root.to_dict(),
        "sources": [_artifact_summary(a) for a in graph.sources()],
        "components": components,
    }


@dataclass(frozen=True)
class ArtifactChange:
    """An output whose fingerprint differs between two runs.

    Attributes
    ----------
    component : str
        The component that wrote it.
    name : str
        The output name (``"model"``).
    artifact_a, artifact_b : int or None
        The artifact ids in run A and run B (None where the run has no such output).
    fingerprint_a, fingerprint_b : str or None
        Their fingerprints.
    """

    component: str
    name: str
    artifact_a: int | None
    artifact_b: int | None
    fingerprint_a: str | None
    fingerprint_b: str | None

    def to_dict(self) -> dict[str, Any]:
        """The change as JSON values."""
        return {
            "component": self.component,
            "name": self.name,
            "artifact_a": self.artifact_a,
            "artifact_b": self.artifact_b,
            "fingerprint_a": self.fingerprint_a,
            "fingerprint_b": self.fingerprint_b,
        }


@dataclass(frozen=True)
class ComponentDiff:
    """How one component's execution differs between two runs.

    Attributes
    ----------
    component : str
        The component.
    execution_a, execution_b : int or None
        Its (last) execution in run A and in run B; None where the run has none.
    state_a, state_b : str or None
        Their states (``"COMPLETE"``, ``"CACHED"``, ...).
    parameters : dict[str, tuple[Any, Any]]
        Changed parameters, ``name -> (value in A, value in B)``; a parameter missing
        from one side shows None there.
    code_fingerprint : tuple[Any, Any] or None
        ``(A's, B's)`` when the code fingerprints differ, else None.
    input_fingerprints : dict[str, tuple[Any, Any]]
        Inputs whose artifact fingerprints differ, ``name -> (A's, B's)``; a
        fingerprint, a list of them for a multi-artifact input, or None.
    output_fingerprints : dict[str, tuple[Any, Any]]
        The same for outputs.
    """

    component: str
    execution_a: int | None
    execution_b: int | None
    state_a: str | None
    state_b: str | None
    parameters: dict[str, tuple[Any, Any]]
    code_fingerprint: tuple[Any, Any] | None
    input_fingerprints: dict[str, tuple[Any, Any]]
    output_fingerprints: dict[str, tuple[Any, Any]]

    @property
    def cached_a(self) -> bool:
        """Whether run A reused a cached result instead of executing."""
        return self.state_a == "CACHED"

    @property
    def cached_b(self) -> bool:
        """Whether run B reused a cached result instead of executing."""
        return self.state_b == "CACHED"

    @property
    def changed(self) -> bool:
        """Whether anything differs: presence, outcome, parameters, code or fingerprints.

        Reusing a cached result instead of executing (COMPLETE vs CACHED) is no change in
        itself; a different outcome (COMPLETE vs FAILED) is.
        """
        return bool(
            _outcome(self.state_a) != _outcome(self.state_b)
            or self.parameters
            or self.code_fingerprint
            or self.input_fingerprints
            or self.output_fingerprints
        )

    def to_dict(self) -> dict[str, Any]:
        """The diff as JSON values (pairs as ``{"a": ..., "b": ...}``)."""

        def pairs(values: dict[str, tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
            return {k: {"a": a, "b": b} for k, (a, b) in values.items()}

        return {
            "component": self.component,
            "execution_a": self.execution_a,
            "execution_b": self.execution_b,
            "state_a": self.state_a,
            "state_b": self.state_b,
            "cached_a": self.cached_a,
            "cached_b": self.cached_b,
            "changed": self.changed,
            "parameters": pairs(self.parameters),
            "code_fingerprint": (
                None
                if self.code_fingerprint is None
                else {"a": self.code_fingerprint[0], "b": self.code_fingerprint[1]}
            ),
            "input_fingerprints": pairs(self.input_fingerprints),
            "output_fingerprints": pairs(self.output_fingerprints),
        }


@dataclass(frozen=True)
class RunDiff:
    """How two runs differ, component by component.

    Attributes
    ----------
    run_a, run_b : str
        The run names compared.
    parameters : dict[str, tuple[Any, Any]]
        Changed run-level parameters (the run contexts' ``properties["parameters"]``).
    components : dict[str, ComponentDiff]
        Every component of either run, in execution order (run A's first).
    artifacts : list[ArtifactChange]
        Outputs whose fingerprints differ.
    """

    run_a: str
    run_b: str
    parameters: dict[str, tuple[Any, Any]]
    components: dict[str, ComponentDiff]
    artifacts: list[ArtifactChange]

    def changed_components(self) -> list[str]:
        """The components where anything differs."""
        return [name for name, diff in self.components.items() if diff.changed]

    def to_dict(self) -> dict[str, Any]:
        """The diff as JSON values."""
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "parameters": {k: {"a": a, "b": b} for k, (a, b) in self.parameters.items()},
            "changed_components": self.changed_components(),
            "components": {k: v.to_dict() for k, v in self.components.items()},
            "artifacts": [a.to_dict() for a in self.artifacts],
        }


def _outcome(state: str | None) -> str | None:
    return "COMPLETE" if state == "CACHED" else state


def _changed(a: Any, b: Any) -> dict[str, tuple[Any, Any]]:
    left = a if isinstance(a, dict) else {}
    right = b if isinstance(b, dict) else {}
    return {
        key: (left.get(key), right.get(key))
        for key in list(left) + [k for k in right if k not in left]
        if key not in left or key not in right or left[key] != right[key]
    }


def _fingerprints(linked: dict[str, list[Artifact]]) -> dict[str, Any]:
    return {
        name: found[0].fingerprint if len(found) == 1 else [a.fingerprint for a in found]
        for name, found in linked.items()
    }


def _last_by_component(executions: Iterable[Execution]) -> dict[str, Execution]:
    last: dict[str, Execution] = {}
    for execution in executions:  # oldest first, so the last one wins
        # A pipeline task's name tells two uses of one component apart (Fit, Fit_2).
        last[str(execution.properties.get("task") or execution.component)] = execution
    return last


def diff_runs(
    store: MetadataStore, run_a: str, run_b: str, *, context_type: str = "run"
) -> RunDiff:
    """Compare two runs component by component.

    Parameters
    ----------
    store : MetadataStore
        The store.
    run_a, run_b : str
        The run names (the ``"run"`` contexts' names: run ids).
    context_type : str
        The context type runs are recorded as.

    Returns
    -------
    RunDiff
        Per component: parameters, code fingerprint, input and output fingerprints that
        changed, and each run's state (cached or executed); plus outputs whose
        fingerprints differ. A component executed several times in one run is
        compared by its last execution.

    Raises
    ------
    NotFoundError
        When a run does not exist.
    """
    found = []
    for run in (run_a, run_b):
        context = store.get_context(context_type, run)
        if context is None:
            known = [c.name for c in store.contexts(type=context_type)][-10:]
            raise NotFoundError(
                f"There is no {context_type!r} context named {run!r} in the metadata store "
                f"{store.url}; the latest are {known}."
            )
        found.append(context)
    context_a, context_b = found
    by_a = _last_by_component(store.executions(context_id=context_a.id))
    by_b = _last_by_component(store.executions(context_id=context_b.id))
    components: dict[str, ComponentDiff] = {}
    changes: list[ArtifactChange] = []
    for name in list(by_a) + [k for k in by_b if k not in by_a]:
        a, b = by_a.get(name), by_b.get(name)
        outputs_a = store.outputs_of(a.id) if a else {}
        outputs_b = store.outputs_of(b.id) if b else {}
        out_a, out_b = _fingerprints(outputs_a), _fingerprints(outputs_b)
        in_a = _fingerprints(store.inputs_of(a.id)) if a else {}
        in_b = _fingerprints(store.inputs_of(b.id)) if b else {}
        code_a = a.properties.get("code_fingerprint") if a else None
        code_b = b.properties.get("code_fingerprint") if b else None
        components[name] = ComponentDiff(
            component=name,
            execution_a=a.id if a else None,
            execution_b=b.id if b else None,
            state_a=a.state if a else None,
            state_b=b.state if b else None,
            parameters=_changed(
                a.properties.get("parameters") if a else None,
                b.properties.get("parameters") if b else None,
            ),
            code_fingerprint=None if code_a == code_b else (code_a, code_b),
            input_fingerprints=_changed(in_a, in_b),
            output_fingerprints=_changed(out_a, out_b),
        )
        for output, (fa, fb) in _changed(out_a, out_b).items():
            ids_a = [x.id for x in outputs_a.get(output, [])]
            ids_b = [x.id for x in outputs_b.get(output, [])]
            changes.append(
                ArtifactChange(
                    name,
                    output,
                    ids_a[-1] if ids_a else None,
                    ids_b[-1] if ids_b else None,
                    fa if not isinstance(fa, list) else None,
                    fb if not isinstance(fb, list) else None,
                )
            )
    return RunDiff(
        run_a,
        run_b,
        _changed(context_a.properties.get("parameters"), context_b.properties.get("parameters")),
        components,
        changes,
    )
