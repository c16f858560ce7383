"""``tensorbridge runs | artifacts | lineage``: what the metadata store recorded.

Each command reads the store given by ``--metadata`` (a path or SQLAlchemy URL), else
``$TENSORBRIDGE_METADATA``, else the one ``out/pipelines/*/metadata.sqlite`` found, and
prints tables, or JSON with ``--json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from tensorbridge._tables import print_table
from tensorbridge.cli.options import console
from tensorbridge.errors import ConfigError

__all__ = [
    "METADATA_ENV_VAR",
    "artifacts",
    "echo_json",
    "json_option",
    "lineage",
    "metadata_option",
    "open_store",
    "runs",
]

METADATA_ENV_VAR = "TENSORBRIDGE_METADATA"

metadata_option = click.option(
    "--metadata",
    default=None,
    metavar="PATH|URL",
    help=f"The metadata store (default: ${METADATA_ENV_VAR}, or out/pipelines/*/metadata.sqlite).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def open_store(metadata: str | None) -> Any:
    """The metadata store named by ``--metadata``, the environment, or the one found."""
    from tensorbridge.metadata import MetadataStore

    location = metadata or os.environ.get(METADATA_ENV_VAR)
    if location is None:
        found = sorted(Path("out/pipelines").glob("*/metadata.sqlite"))
        if len(found) != 1:
            where = (
                "none under out/pipelines/"
                if not found
                else "several: " + ", ".join(str(p) for p in found)
            )
            raise ConfigError(
                f"Which metadata store? Found {where}. Pass --metadata PATH_OR_URL or set "
                f"${METADATA_ENV_VAR}."
            )
        location = str(found[0])
    elif "://" not in location and not Path(location).exists():
        raise ConfigError(f"No metadata store at {location!r}.")
    return MetadataStore(location)


def echo_json(payload: Any) -> None:
    """Print ``payload`` as indented JSON (dates and paths as strings)."""
    click.echo(json.dumps(payload, indent=1, default=str))


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


def _shown_path(uri: str) -> str:
    """A URI as a path relative to the working directory when it is under it."""
    try:
        return str(Path(uri).relative_to(Path.cwd()))
    except ValueError:
        return uri


def _artifact_id(store: Any, reference: str) -> int:
    """An artifact id from an id, the path or URI of its directory, or a pushed version.

    A model version in a repository (``models/taxi/2``, written by the Pusher) names
    the Model artifact it was pushed from.
    """
    if reference.isdigit():
        return int(reference)
    candidates = [reference]
    if "://" not in reference:
        folder = Path(reference).resolve()
        candidates.append(str(folder))
        push_record = folder / "push.json"  # a version in a model repository
        if push_record.is_file():
            candidates.append(str(json.loads(push_record.read_text(encoding="utf-8"))["source"]))
    for uri in candidates:
        found = store.artifacts(uri=uri, limit=1)
        if found:
            return int(found[0].id)
    raise ConfigError(
        f"No artifact with id or path {reference!r} in {store.url}; see "
        "`tensorbridge artifacts list`."
    )


@click.group()
def runs() -> None:
    """List pipeline runs, show one, or compare two."""


@runs.command("list")
@metadata_option
@click.option("--pipeline", default=None, help="Only this pipeline's runs.")
@json_option
def runs_list(metadata: str | None, pipeline: str | None, as_json: bool) -> None:
    """The runs in the store, newest first."""
    store = open_store(metadata)
    rows = []
    for context in reversed(store.contexts(type="run")):  # newest first among ties
        props = context.properties
        if pipeline is not None and props.get("pipeline") != pipeline:
            continue
        executions = store.executions(context_id=context.id)
        rows.append(
            {
                "run_id": context.name,
                "pipeline": props.get("pipeline"),
                "state": props.get("state"),
                "started_at": props.get("started_at"),
                "seconds": props.get("seconds"),
                "executed": sum(e.state == "COMPLETE" for e in executions),
                "cached": sum(e.state == "CACHED" for e in executions),
                "failed": sum(e.state == "FAILED" for e in executions),
            }
        )
    rows.sort(key=lambda r: str(r["started_at"]), reverse=True)
    if as_json:
        echo_json(rows)
        return
    table = Table(title=f"{len(rows)} runs", title_justify="left")
    for column in ("run", "pipeline", "state", "started", "seconds", "ran", "cached", "failed"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["run_id"], escape(str(r["pipeline"])), str(r["state"]), str(r["started_at"]),
            str(r["seconds"] or ""), str(r["executed"]), str(r["cached"]), str(r["failed"]),
        )  # fmt: skip
    print_table(console, table)


def _run_details(store: Any, run_id: str) -> dict[str, Any]:
    context = store.get_context("run", run_id)
    if context is None:
        raise ConfigError(f"No run {run_id!r} in the store; see `tensorbridge runs list`.")
    steps = []
    for execution in sorted(store.executions(context_id=context.id), key=lambda e: e.id):
        props = execution.properties
        steps.append(
            {
                "task": props.get("task"),
                "component": props.get("component"),
                "execution_id": execution.id,
                "state": execution.state,
                "seconds": props.get("seconds"),
                "cached_from": props.get("cached_from"),
                "parameters": props.get("parameters"),
                "inputs": {k: [a.uri for a in v] for k, v in store.inputs_of(execution.id).items()},
                "outputs": {
                    k: [{"id": a.id, "uri": a.uri} for a in v]
                    for k, v in store.outputs_of(execution.id).items()
                },
                "error": execution.error,
                "log": props.get("log"),
            }
        )
    return {"run_id": run_id, **context.properties, "steps": steps}


@runs.command("show")
@click.argument("run_id", metavar="RUN")
@metadata_option
@json_option
def runs_show(run_id: str, metadata: str | None, as_json: bool) -> None:
    """One run: every step, its state, parameters, inputs and outputs."""
    details = _run_details(open_store(metadata), run_id)
    if as_json:
        echo_json(details)
        return
    table = Table(
        title=f"Run {run_id} of {details.get('pipeline')}: {details.get('state')}",
        title_justify="left",
    )
    for column in ("task", "execution", "state", "seconds", "outputs"):
        table.add_column(column)
    for step in details["steps"]:
        outputs = ", ".join(f"{k} #{v[0]['id']}" for k, v in step["outputs"].items() if v)
        state = step["state"] + (
            f" (from #{step['cached_from']})" if step.get("cached_from") else ""
        )
        table.add_row(
            escape(str(step["task"])), str(step["execution_id"]), state,
            str(step["seconds"] or ""), escape(outputs),
        )  # fmt: skip
    print_table(console, table)
    for step in details["steps"]:
        if step["error"]:
            console.print(f"[red]{escape(str(step['task']))} failed:[/red] {escape(step['error'])}")


@runs.command("diff")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@metadata_option
@json_option
def runs_diff(run_a: str, run_b: str, metadata: str | None, as_json: bool) -> None:
    """What changed between two runs: parameters, code, input data and outputs."""
    from tensorbridge.metadata import lineage as lineage_queries

    diff = lineage_queries.diff_runs(open_store(metadata), run_a, run_b)
    if as_json:
        echo_json(diff.to_dict())
        return
    for name, (a, b) in diff.parameters.items():
        console.print(f"parameter {escape(name)}: {escape(_compact(a))} -> {escape(_compact(b))}")
    table = Table(title=f"{run_a} -> {run_b}", title_justify="left")
    for column in ("component", "state A", "state B", "what changed"):
        table.add_column(column)
    for name, component in diff.components.items():
        changes = [
            f"{key}: {_compact(a, 40)} -> {_compact(b, 40)}"
            for key, (a, b) in component.parameters.items()
        ]
        if component.code_fingerprint:
            changes.append("code")
        changes += [f"input {key}" for key in component.input_fingerprints]
        changes += [f"output {key}" for key in component.output_fingerprints]
        table.add_row(
            escape(name), str(component.state_a or "-"), str(component.state_b or "-"),
            escape("\n".join(changes) if component.changed else "nothing"),
        )  # fmt: skip
    print_table(console, table)


@click.group()
def artifacts() -> None:
    """List artifacts, or show one."""


@artifacts.command("list")
@metadata_option
@click.option("--type", "type_name", default=None, help="Only this type (e.g. Model).")
@click.option("--run", "run_id", default=None, help="Only this run's artifacts.")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
def artifacts_list(
    metadata: str | None, type_name: str | None, run_id: str | None, limit: int, as_json: bool
) -> None:
    """Artifacts, newest first."""
    store = open_store(metadata)
    context_id = None
    if run_id is not None:
        context = store.get_context("run", run_id)
        if context is None:
            raise ConfigError(f"No run {run_id!r} in the store.")
        context_id = context.id
    found = store.artifacts(type=type_name, context_id=context_id, limit=limit)
    rows = [
        {"id": a.id, "type": a.type, "name": a.name, "state": a.state, "uri": a.uri,
         "fingerprint": a.fingerprint, "created_at": _when(a.created_at)}
        for a in found
    ]  # fmt: skip
    if as_json:
        echo_json(rows)
        return
    table = Table(title=f"{len(rows)} artifacts", title_justify="left")
    for column in ("id", "type", "name", "state", "created", "uri"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["id"]), r["type"], escape(str(r["name"])), r["state"], r["created_at"],
            escape(_shown_path(r["uri"])),
        )  # fmt: skip
    print_table(console, table)


@artifacts.command("show")
@click.argument("reference", metavar="ARTIFACT")
@metadata_option
@json_option
def artifacts_show(reference: str, metadata: str | None, as_json: bool) -> None:
    """One artifact (an id, or its directory): properties, who produced it, who used it."""
    store = open_store(metadata)
    artifact_id = _artifact_id(store, reference)
    artifact = store.get_artifact(artifact_id)
    producer = store.producer_of(artifact_id)
    consumers = store.consumers_of(artifact_id)
    payload = {
        "id": artifact.id,
        "type": artifact.type,
        "name": artifact.name,
        "uri": artifact.uri,
        "state": artifact.state,
        "fingerprint": artifact.fingerprint,
        "created_at": _when(artifact.created_at),
        "properties": dict(artifact.properties),
        "producer": None if producer is None else _execution_ref(producer),
        "consumers": [_execution_ref(e) for e in consumers],
    }
    if as_json:
        echo_json(payload)
        return
    table = Table(show_header=False, title=f"Artifact {artifact_id}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    for key in ("type", "name", "uri", "state", "fingerprint", "created_at"):
        table.add_row(key, escape(str(payload[key])))
    for key, value in payload["properties"].items():
        table.add_row(f"  {escape(key)}", escape(_compact(value)))
    table.add_row("produced by", escape(_describe_execution(payload["producer"])))
    for consumer in payload["consumers"]:
        table.add_row("used by", escape(_describe_execution(consumer)))
    print_table(console, table)


def _execution_ref(execution: Any) -> dict[str, Any]:
    return {
        "execution_id": execution.id,
        "task": execution.properties.get("task"),
        "run_id": execution.properties.get("run_id"),
        "state": execution.state,
    }


def _describe_execution(ref: dict[str, Any] | None) -> str:
    if ref is None:
        return "nothing recorded (external data)"
    return f"{ref['task']} (execution {ref['execution_id']}, run {ref['run_id']}, {ref['state']})"


def _compact(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@click.command("lineage")
@click.argument("reference", metavar="ARTIFACT")
@metadata_option
@click.option(
    "--downstream", is_flag=True, help="What came from ARTIFACT, instead of where it came from."
)
@json_option
def lineage(reference: str, metadata: str | None, downstream: bool, as_json: bool) -> None:
    """Where ARTIFACT (an id, or its directory) came from: data, code versions, parameters.

    With --downstream: the models, evaluations and pushes made from it.
    """
    from tensorbridge.metadata import lineage as lineage_queries

    store = open_store(metadata)
    artifact_id = _artifact_id(store, reference)
    if downstream:
        graph = lineage_queries.downstream(store, artifact_id)
        if as_json:
            echo_json(graph.to_dict())
            return
        table = Table(title=f"Made from artifact {artifact_id}", title_justify="left")
        for column in ("id", "type", "name", "properties", "uri"):
            table.add_column(column)
        for artifact in sorted(graph.artifacts.values(), key=lambda a: a.id):
            if artifact.id == artifact_id:
                continue
            table.add_row(
                str(artifact.id), artifact.type, escape(str(artifact.name)),
                escape(_compact(_headline(artifact.properties), 60)),
                escape(_shown_path(artifact.uri)),
            )  # fmt: skip
        print_table(console, table)
        return
    provenance = lineage_queries.provenance(store, artifact_id)
    if as_json:
        echo_json(provenance)
        return
    _print_provenance(provenance)


#: Properties worth a glance in lineage tables (the rest is in ``artifacts show``).
_HEADLINE_PROPERTIES = ("version", "pushed", "blessed", "auc", "num_examples", "rows")


def _headline(properties: Mapping[str, Any]) -> dict[str, Any]:
    return {k: properties[k] for k in _HEADLINE_PROPERTIES if k in properties}


def _print_provenance(provenance: dict[str, Any]) -> None:
    artifact = provenance["artifact"]
    console.print(
        f"[bold]{escape(artifact['type'])} {artifact['id']}[/bold] "
        f"({escape(str(artifact['name']))}) {escape(_shown_path(artifact['uri']))}",
        highlight=False,
    )
    table = Table(title="Made by", title_justify="left")
    for column in ("component", "execution", "state", "code", "parameters", "inputs"):
        table.add_column(column)
    for name, step in provenance["components"].items():
        inputs = [
            f"{key}: #{', #'.join(str(a['id']) for a in linked)}"
            for key, linked in step["inputs"].items()
        ]
        inputs += [
            f"{key}: data {digest[:12]}"
            for key, digest in (step.get("data_fingerprints") or {}).items()
            if key not in step["inputs"]  # external data recorded as an artifact
        ]
        table.add_row(
            escape(name), str(step["execution_id"]), str(step["state"]),
            str(step["code_fingerprint"] or "")[:12],
            escape("\n".join(f"{k}={_compact(v, 60)}"
                              for k, v in (step["parameters"] or {}).items())),
            escape("\n".join(inputs)),
        )  # fmt: skip
    print_table(console, table)
