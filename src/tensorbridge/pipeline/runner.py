"""The local runner: topological execution, parallel where possible, cached, resumable.

Every task becomes one *execution* recorded in the metadata store. Before running a task
the runner computes its cache key (component code, parameters, input and external-data
fingerprints); a complete execution with the same key whose outputs still exist is
reused ("cached"), which is also how a run resumes after a crash or Ctrl-C: completed
components are cache hits, the rest run. Outputs are written into temporary directories
and renamed into place only when the component succeeds, then registered; a half-written
artifact is never used.

Layout under ``root`` (default ``out/pipelines/<pipeline name>``)::

    metadata.sqlite                       the store (unless metadata= names another)
    artifacts/<task>/<output>/<execution id>/   complete artifacts (artifact.json inside)
    runs/<run id>/logs/<task>.log         each component's stdout and stderr
    runs/<run id>/tasks/<task>/           the worker's spec and result
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tensorbridge._tables import print_table
from tensorbridge.errors import ConfigError, PipelineRunError
from tensorbridge.pipeline.artifacts import ArtifactHandle
from tensorbridge.pipeline.component import reference_fingerprint
from tensorbridge.pipeline.dsl import Pipeline, PipelineGraph, Task
from tensorbridge.pipeline.fingerprint import cache_key, data_fingerprint, directory_fingerprint

__all__ = ["RunResult", "TaskResult", "run"]

#: How many lines of a failed component's log go into the error message.
_TRACEBACK_LINES = 25


@dataclass
class TaskResult:
    """What happened to one task in a run.

    ``state`` is COMPLETE, CACHED, FAILED, SKIPPED (an upstream task failed) or CANCELED.
    """

    name: str
    state: str
    seconds: float = 0.0
    execution_id: int | None = None
    outputs: dict[str, ArtifactHandle] = field(default_factory=dict)
    log_path: Path | None = None
    cached_from: int | None = None
    error: str | None = None


@dataclass
class RunResult:
    """A pipeline run: its id, state, and every task's result, in execution order."""

    pipeline: str
    run_id: str
    state: str
    root: Path
    metadata_url: str
    tasks: dict[str, TaskResult]
    seconds: float

    def output(self, task: str, name: str) -> ArtifactHandle:
        """The artifact ``name`` that task ``task`` produced (or reused from the cache)."""
        return self.tasks[task].outputs[name]

    @property
    def executed(self) -> list[str]:
        """Tasks that actually ran in this run (not cached)."""
        return [n for n, t in self.tasks.items() if t.state == "COMPLETE"]

    @property
    def cached(self) -> list[str]:
        """Tasks whose outputs came from the cache."""
        return [n for n, t in self.tasks.items() if t.state == "CACHED"]


def _new_run_id() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


def _registered(handle: ArtifactHandle) -> int:
    """The metadata-store id of an artifact the runner registered."""
    if handle.artifact_id is None:
        raise RuntimeError(f"artifact {handle.uri} was never registered")  # a runner bug
    return handle.artifact_id


def _module_file(task: Task) -> str | None:
    module = sys.modules.get(task.component.func.__module__)
    path = getattr(module, "__file__", None)
    return os.path.abspath(path) if path else None


class _Run:
    """State of one run: the store, contexts, results so far; one thread per task."""

    def __init__(
        self,
        graph: PipelineGraph,
        root: Path,
        store: Any,
        *,
        run_id: str,
        cache: bool,
        isolation: str,
        console: Console,
    ) -> None:
        self.graph = graph
        self.root = root
        self.store = store
        self.run_id = run_id
        self.cache = cache
        self.isolation = isolation
        self.console = console
        self.run_dir = root / "runs" / run_id
        self.results: dict[str, TaskResult] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.canceled = threading.Event()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.pipeline_context = store.put_context(
            "pipeline", graph.name, properties={"root": str(root)}
        )
        self.run_context = store.put_context(
            "run",
            run_id,
            properties={
                "pipeline": graph.name,
                "parameters": dict(graph.parameters),
                "state": "RUNNING",
                "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            },
        )
        store.set_parent_context(self.run_context.id, self.pipeline_context.id)

    # -- one task -----------------------------------------------------------------------

    def execute(self, task: Task) -> TaskResult:
        started = time.perf_counter()
        inputs = self._inputs(task)
        properties = self._properties(task, inputs)
        log_path = self.run_dir / "logs" / f"{task.name}.log"
        if self.cache:
            hit = self._from_cache(task, inputs, properties)
            if hit is not None:
                hit.seconds = time.perf_counter() - started
                return hit
        execution = self.store.put_execution(
            task.component.name,
            properties={**properties, "log": str(log_path)},
            cache_key=properties["cache_key"],
        )
        self._link_execution(execution.id, task, inputs, properties)
        outputs = self._output_dirs(task, execution.id)
        self.console.print(f"[cyan]▶[/cyan] {escape(task.name)} started")
        try:
            metadata = self._run_component(task, inputs, outputs, log_path)
        except BaseException as err:
            for handle in outputs.values():
                shutil.rmtree(handle.path, ignore_errors=True)
            canceled = isinstance(err, KeyboardInterrupt) or self.canceled.is_set()
            state = "CANCELED" if canceled else "FAILED"
            self.store.finish_execution(execution.id, state, error=str(err)[-4000:])
            raise
        final = self._publish(task, execution.id, outputs, metadata)
        seconds = time.perf_counter() - started
        self.store.finish_execution(
            execution.id, "COMPLETE", properties={"seconds": round(seconds, 3)}
        )
        self.console.print(
            f"[green]✓[/green] {escape(task.name)} done in {seconds:.1f} s", highlight=False
        )
        return TaskResult(task.name, "COMPLETE", seconds, execution.id, final, log_path=log_path)

    def _inputs(self, task: Task) -> dict[str, ArtifactHandle | None]:
        inputs: dict[str, ArtifactHandle | None] = {}
        for name in task.component.inputs:
            ref = task.inputs.get(name)
            inputs[name] = None if ref is None else self.results[ref.task.name].outputs[ref.name]
        return inputs

    def _properties(
        self, task: Task, inputs: Mapping[str, ArtifactHandle | None]
    ) -> dict[str, Any]:
        input_fingerprints = {
            name: handle.fingerprint for name, handle in inputs.items() if handle is not None
        }
        data: dict[str, str] = {}
        for name, spec in task.component.parameters.items():
            value = task.arguments.get(name)
            if value is None:
                continue
            if spec.data_path:
                try:
                    data[name] = data_fingerprint(str(value))
                except FileNotFoundError as err:
                    raise ConfigError(f"{task.name}.{name}: {err}") from None
            elif spec.module_ref:
                data[name] = reference_fingerprint(str(value))
        code = task.component.code_fingerprint
        key = cache_key(
            reference=task.component.reference,
            code_fingerprint=code,
            parameters=task.arguments,
            input_fingerprints=input_fingerprints,
            data_fingerprints=data,
            outputs={k: v.artifact_type.type_name for k, v in task.component.outputs.items()},
        )
        return {
            "component": task.component.name,
            "task": task.name,
            "reference": task.component.reference,
            "run_id": self.run_id,
            "parameters": task.arguments,
            "code_fingerprint": code,
            "input_fingerprints": input_fingerprints,
            "data_fingerprints": data,
            "cache_key": key,
        }

    def _link_execution(
        self, execution_id: int, task: Task, inputs: Mapping[str, Any], properties: dict[str, Any]
    ) -> None:
        self.store.associate(self.run_context.id, execution_id)
        self.store.associate(self.pipeline_context.id, execution_id)
        for name, handle in inputs.items():
            if handle is not None:
                self.store.put_event(execution_id, _registered(handle), "INPUT", name)
        for name, spec in task.component.parameters.items():
            if spec.data_path and name in properties["data_fingerprints"]:
                data_id = self._external_data(
                    str(task.arguments[name]), properties["data_fingerprints"][name]
                )
                self.store.put_event(execution_id, data_id, "INPUT", name)

    def _external_data(self, location: str, fingerprint: str) -> int:
        """The ExternalData artifact of a data path (registered once per content version).

        External data (the CSV an ExampleGen reads) is an artifact too, so lineage can
        start from it: ``tensorbridge lineage data.csv --downstream``.
        """
        uri = location if "://" in location else str(Path(location).resolve())
        found = self.store.artifacts(type="ExternalData", uri=uri, fingerprint=fingerprint, limit=1)
        if found:
            return int(found[0].id)
        artifact = self.store.put_artifact(
            "ExternalData", uri, name=Path(uri).name, fingerprint=fingerprint
        )
        self.store.attribute(self.pipeline_context.id, artifact.id)
        return int(artifact.id)

    def _from_cache(
        self, task: Task, inputs: Mapping[str, Any], properties: dict[str, Any]
    ) -> TaskResult | None:
        previous = self.store.find_cached(properties["cache_key"])
        if previous is None:
            return None
        artifacts = self.store.outputs_of(previous.id)
        outputs: dict[str, ArtifactHandle] = {}
        for name in task.component.outputs:
            found = artifacts.get(name) or []
            if len(found) != 1 or not Path(found[0].uri).is_dir():
                return None  # a deleted or moved artifact: run again
            outputs[name] = self._handle(found[0])
        execution = self.store.put_execution(
            task.component.name,
            properties={**properties, "cached_from": previous.id},
            cache_key=properties["cache_key"],
            state="CACHED",
        )
        self._link_execution(execution.id, task, inputs, properties)
        for name, handle in outputs.items():
            self.store.put_event(execution.id, _registered(handle), "OUTPUT", name)
            self.store.attribute(self.run_context.id, _registered(handle))
        self.console.print(
            f"[yellow]↺[/yellow] {escape(task.name)} cached (outputs of execution {previous.id})",
            highlight=False,
        )
        return TaskResult(task.name, "CACHED", 0.0, execution.id, outputs, cached_from=previous.id)

    @staticmethod
    def _handle(artifact: Any) -> ArtifactHandle:
        return ArtifactHandle(
            Path(artifact.uri),
            artifact.type,
            artifact.uri,
            dict(artifact.properties),
            artifact_id=artifact.id,
            fingerprint=artifact.fingerprint or "",
        )

    def _output_dirs(self, task: Task, execution_id: int) -> dict[str, ArtifactHandle]:
        outputs = {}
        for name, spec in task.component.outputs.items():
            final = self.root / "artifacts" / task.name / name / str(execution_id)
            tmp = final.parent / f".tmp-{execution_id}-{secrets.token_hex(3)}"
            tmp.mkdir(parents=True)
            outputs[name] = ArtifactHandle(tmp, spec.artifact_type.type_name, str(final))
        return outputs

    def _run_component(
        self,
        task: Task,
        inputs: Mapping[str, ArtifactHandle | None],
        outputs: Mapping[str, ArtifactHandle],
        log_path: Path,
    ) -> dict[str, Any]:
        task_dir = self.run_dir / "tasks" / task.name
        task_dir.mkdir(parents=True, exist_ok=True)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        spec = {
            "reference": task.component.reference,
            "module_file": _module_file(task),
            "sys_path": [p for p in sys.path if p],
            "parameters": task.arguments,
            "inputs": {
                name: None
                if h is None
                else {
                    "path": str(h.path),
                    "type": h.type_name,
                    "uri": h.uri,
                    "metadata": h.metadata,
                }
                for name, h in inputs.items()
            },
            "outputs": {
                name: {"path": str(h.path), "type": h.type_name, "uri": h.uri}
                for name, h in outputs.items()
            },
            "result": str(task_dir / "result.json"),
        }
        (task_dir / "spec.json").write_text(json.dumps(spec, indent=1, default=str))
        if self.isolation == "inline":
            result = self._run_inline(spec, log_path)
        else:
            result = self._run_process(task, task_dir / "spec.json", log_path)
        if not result.get("ok"):
            raise PipelineRunError(
                self._failure_message(task, inputs, log_path, result),
                component=task.name,
                run_id=self.run_id,
                log_path=str(log_path),
            )
        return dict(result.get("outputs", {}))

    @staticmethod
    def _run_inline(spec: dict[str, Any], log_path: Path) -> dict[str, Any]:
        import contextlib
        import traceback

        from tensorbridge.pipeline.worker import run_spec

        with (
            open(log_path, "w", encoding="utf-8") as log,
            contextlib.redirect_stdout(log),
            contextlib.redirect_stderr(log),
        ):
            try:
                return run_spec(spec)
            except Exception as err:
                trace = traceback.format_exc()
                print(trace, file=log)
                return {"ok": False, "error": f"{type(err).__name__}: {err}", "traceback": trace}

    def _run_process(self, task: Task, spec_path: Path, log_path: Path) -> dict[str, Any]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tensorbridge.pipeline.worker", str(spec_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            with self.lock:
                self.processes[task.name] = process
            try:
                code = process.wait()
            finally:
                with self.lock:
                    self.processes.pop(task.name, None)
        result_path = spec_path.parent / "result.json"
        if result_path.exists():
            result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
            return result
        return {"ok": False, "error": f"the worker process exited with code {code} "
                "without a result (killed, or out of memory?)"}  # fmt: skip

    def _failure_message(
        self,
        task: Task,
        inputs: Mapping[str, ArtifactHandle | None],
        log_path: Path,
        result: Mapping[str, Any],
    ) -> str:
        described = ", ".join(
            f"{name}={h.uri}" if h is not None else f"{name}=None" for name, h in inputs.items()
        )
        trace = str(result.get("traceback") or "").strip().splitlines()[-_TRACEBACK_LINES:]
        return (
            f"Component {task.name} ({task.component.reference}) failed in run "
            f"{self.run_id}: {result.get('error')}\n"
            f"  inputs: {described or '(none)'}\n"
            f"  parameters: {json.dumps(task.arguments, default=str)}\n"
            f"  log: {log_path}\n" + "\n".join(trace)
        )

    def _publish(
        self,
        task: Task,
        execution_id: int,
        outputs: Mapping[str, ArtifactHandle],
        metadata: Mapping[str, Any],
    ) -> dict[str, ArtifactHandle]:
        """Fingerprint, rename into place and register every output."""
        final: dict[str, ArtifactHandle] = {}
        for name, handle in outputs.items():
            properties = dict(metadata.get(name, {}))
            fingerprint = directory_fingerprint(handle.path)
            handle.metadata = properties
            handle.write_info(
                {
                    "fingerprint": fingerprint,
                    "producer": {
                        "pipeline": self.graph.name,
                        "run_id": self.run_id,
                        "task": task.name,
                        "execution_id": execution_id,
                    },
                }
            )
            target = Path(handle.uri)
            if target.exists():  # a leftover from a crash between rename and registration
                shutil.rmtree(target)
            os.replace(handle.path, target)
            artifact = self.store.put_artifact(
                handle.type_name,
                str(target),
                name=f"{task.name}.{name}",
                properties=properties,
                fingerprint=fingerprint,
            )
            self.store.put_event(execution_id, artifact.id, "OUTPUT", name)
            self.store.attribute(self.run_context.id, artifact.id)
            self.store.attribute(self.pipeline_context.id, artifact.id)
            final[name] = self._handle(artifact)
        return final

    def cancel(self) -> None:
        """Stop scheduling and terminate running workers (Ctrl-C)."""
        self.canceled.set()
        self.stop.set()
        with self.lock:
            for process in self.processes.values():
                process.terminate()


def _open_store(metadata: str | os.PathLike[str] | None, root: Path) -> Any:
    from tensorbridge.metadata import MetadataStore
    from tensorbridge.metadata.connect import URL_ENV

    metadata = metadata or os.environ.get(URL_ENV) or None
    if metadata is None:
        root.mkdir(parents=True, exist_ok=True)
        return MetadataStore(root / "metadata.sqlite")
    return MetadataStore(metadata)


def run(
    pipeline: Pipeline | PipelineGraph,
    *,
    parameters: Mapping[str, Any] | None = None,
    root: str | os.PathLike[str] | None = None,
    metadata: str | os.PathLike[str] | None = None,
    cache: bool = True,
    max_parallel: int | None = None,
    isolation: str = "process",
    run_id: str | None = None,
    console: Console | None = None,
) -> RunResult:
    """Run a pipeline on this machine.

    Parameters
    ----------
    pipeline : Pipeline or PipelineGraph
        A ``@pipeline`` definition (built here with ``parameters``) or a built graph.
    parameters : mapping, optional
        Overrides of the pipeline parameters.
    root : path, optional
        Where artifacts, logs and (by default) the metadata store live; default
        ``out/pipelines/<pipeline name>``.
    metadata : path or SQLAlchemy URL, optional
        The metadata store; default ``$TENSORBRIDGE_METADATA``, else
        ``<root>/metadata.sqlite``. A PostgreSQL URL lets a team share one store.
    cache : bool, default True
        Reuse the outputs of an earlier execution with the same cache key.
    max_parallel : int, optional
        Most tasks running at once (default: the number of CPUs). Independent tasks run
        in parallel.
    isolation : "process" or "inline", default "process"
        Run each component in its own Python process (logs, memory and crashes kept
        apart) or in this process, one at a time (for debugging).
    run_id : str, optional
        The run's id (default: a UTC timestamp and a random suffix).
    console : rich.console.Console, optional
        Where progress goes.

    Returns
    -------
    RunResult

    Raises
    ------
    PipelineRunError
        When a component fails: names it, its inputs and the user's traceback; the run is
        recorded as FAILED.
    """
    if isinstance(pipeline, Pipeline):
        graph = pipeline.build(parameters)
    elif isinstance(pipeline, PipelineGraph):
        if parameters:
            raise ConfigError("parameters= goes with a Pipeline, not an already built graph.")
        graph = pipeline
    else:
        raise ConfigError(f"run() takes a @pipeline definition, got {type(pipeline).__name__}.")
    if isolation not in ("process", "inline"):
        raise ConfigError(f"isolation must be 'process' or 'inline', got {isolation!r}.")
    workers = 1 if isolation == "inline" else (max_parallel or os.cpu_count() or 1)
    if workers < 1:
        raise ConfigError(f"max_parallel must be >= 1, got {max_parallel}.")
    base = Path(root) if root is not None else Path("out") / "pipelines" / graph.name
    base = base.resolve()
    console = console or Console(stderr=True)
    store = _open_store(metadata, base)
    started = time.perf_counter()
    state = _Run(
        graph,
        base,
        store,
        run_id=run_id or _new_run_id(),
        cache=cache,
        isolation=isolation,
        console=console,
    )
    console.print(
        f"[bold]Pipeline {escape(graph.name)}[/bold] run {state.run_id}: "
        f"{len(graph.tasks)} tasks, root {escape(str(base))}",
        highlight=False,
    )
    error: BaseException | None = None
    try:
        _schedule(state, workers)
    except BaseException as err:
        error = err
    seconds = time.perf_counter() - started
    outcome = _outcome(state, error)
    store.put_context(
        "run",
        state.run_id,
        properties={**state.run_context.properties, "state": outcome,
                    "seconds": round(seconds, 3)},
    )  # fmt: skip
    result = RunResult(
        graph.name,
        state.run_id,
        outcome,
        base,
        str(getattr(store, "url", metadata or base / "metadata.sqlite")),
        {t.name: state.results[t.name] for t in graph.tasks if t.name in state.results},
        seconds,
    )
    _summary(console, result)
    store.close()
    if error is not None:
        raise error
    return result


def _outcome(state: _Run, error: BaseException | None) -> str:
    if error is None:
        return "COMPLETE"
    return "CANCELED" if isinstance(error, KeyboardInterrupt) else "FAILED"


def _schedule(state: _Run, workers: int) -> None:
    """Submit every task whose upstream tasks are done; stop at the first failure.

    After a failure, running tasks finish and nothing new starts; on Ctrl-C, running
    workers are terminated and recorded as CANCELED. Tasks never started are SKIPPED.
    """
    tasks = list(state.graph.tasks)
    done: set[str] = set()
    running: dict[Future[TaskResult], tuple[Task, float]] = {}
    failure: BaseException | None = None

    def collect(future: Future[TaskResult]) -> None:
        nonlocal failure
        task, submitted = running.pop(future)
        try:
            state.results[task.name] = future.result()
            done.add(task.name)
        except BaseException as err:
            failure = failure or err
            canceled = isinstance(err, KeyboardInterrupt) or state.canceled.is_set()
            state.results[task.name] = TaskResult(
                task.name,
                "CANCELED" if canceled else "FAILED",
                time.perf_counter() - submitted,
                error=str(err).splitlines()[0] if str(err) else type(err).__name__,
                log_path=state.run_dir / "logs" / f"{task.name}.log",
            )
            verb = "canceled" if canceled else "failed"
            state.console.print(f"[red]✗[/red] {escape(task.name)} {verb}")

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tb-task") as pool:
        try:
            while tasks or running:
                if failure is None and not state.stop.is_set():
                    for task in [t for t in tasks if all(u.name in done for u in t.upstream)]:
                        if len(running) >= workers:
                            break
                        tasks.remove(task)
                        running[pool.submit(state.execute, task)] = (task, time.perf_counter())
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    collect(future)
                if failure is not None:
                    state.stop.set()
        except KeyboardInterrupt as interrupt:
            state.cancel()
            failure = failure or interrupt
            for future in list(running):  # their workers were terminated: record them
                wait([future])
                collect(future)
            failure = interrupt
    for task in tasks:
        state.results[task.name] = TaskResult(task.name, "SKIPPED")
    if failure is not None:
        raise failure


def _short_uri(uri: str, root: Path) -> str:
    """An artifact's URI relative to the pipeline root when it is under it."""
    try:
        return str(Path(uri).relative_to(root))
    except ValueError:
        return uri


def _summary(console: Console, result: RunResult) -> None:
    table = Table(title=f"Run {result.run_id}: {result.state} in {result.seconds:.1f} s",
                  title_justify="left")  # fmt: skip
    for column in ("task", "state", "seconds", "outputs"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    styles = {"COMPLETE": "green", "CACHED": "yellow", "FAILED": "red", "SKIPPED": "dim",
              "CANCELED": "red"}  # fmt: skip
    for task in result.tasks.values():
        style = styles.get(task.state, "")
        outputs = "\n".join(
            f"{k}: {_short_uri(h.uri, result.root)}" for k, h in task.outputs.items()
        )
        table.add_row(
            escape(task.name),
            f"[{style}]{task.state}[/{style}]" if style else task.state,
            f"{task.seconds:.1f}",
            escape(outputs),
        )
    print_table(console, table)
