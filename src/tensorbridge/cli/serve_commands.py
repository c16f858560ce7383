"""``tensorbridge serve`` and ``tensorbridge labels``: the model server and its routing.

``labels`` talks to a running server with ``--url`` (the change is instant), or else
edits the model's ``routing.json`` in the repository (a running server picks it up
within its poll interval, 1 s by default).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from tensorbridge._tables import print_table
from tensorbridge.cli.options import console, errors
from tensorbridge.errors import ConfigError

__all__ = ["labels", "serve"]

TOKEN_ENV_VAR = "TENSORBRIDGE_TOKEN"


@click.command("serve")
@click.argument("repository", type=click.Path(file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8501, show_default=True)
@click.option(
    "--allow-remote", is_flag=True, help="Allow a --host other than loopback (use --token too)."
)
@click.option(
    "--token",
    default=None,
    help=f"Require 'Authorization: Bearer TOKEN' (default ${TOKEN_ENV_VAR}); health is open.",
)
@click.option(
    "--versions",
    default="latest",
    show_default=True,
    help="Versions to serve: latest, latest:N, all, or a list like 3,4 (serving.json wins).",
)
@click.option(
    "--max-batch-size",
    type=int,
    default=1024,
    show_default=True,
    help="Most rows in one model call; large on CPUs, as TF Serving advises.",
)
@click.option(
    "--batch-wait-ms",
    type=float,
    default=0.0,
    show_default=True,
    help="Extra wait for more rows after the first; 0 batches only what queued while the "
    "model was busy (TF Serving's advice for CPUs).",
)
@click.option(
    "--max-queue-rows",
    type=int,
    default=8192,
    show_default=True,
    help="Rows waiting per version before requests get 503 + Retry-After.",
)
@click.option("--max-body-mb", type=float, default=16.0, show_default=True)
@click.option("--max-rows", type=int, default=1024, show_default=True, help="Rows per request.")
@click.option("--poll-seconds", type=float, default=1.0, show_default=True)
@click.option("--no-access-log", is_flag=True, help="Do not log every request.")
def serve(
    repository: str,
    host: str,
    port: int,
    allow_remote: bool,
    token: str | None,
    versions: str,
    max_batch_size: int,
    batch_wait_ms: float,
    max_queue_rows: int,
    max_body_mb: float,
    max_rows: int,
    poll_seconds: float,
    no_access_log: bool,
) -> None:
    """Serve every model in REPOSITORY (TF Serving REST and Open Inference V2).

    REPOSITORY is TF Serving's layout, as the Pusher writes it: REPOSITORY/MODEL/VERSION/.
    New versions are picked up while serving; logs are JSON lines on stderr.
    """
    from tensorbridge.serve.app import ServerSettings
    from tensorbridge.serve.routing import ServingConfig, VersionPolicy
    from tensorbridge.serve.server import check_host
    from tensorbridge.serve.server import serve as run_server

    check_host(host, allow_remote)
    if not Path(repository).is_dir():
        raise ConfigError(
            f"Model repository {repository!r} does not exist; push a model into it first "
            "(tensorbridge push MODEL_DIR REPOSITORY --name NAME)."
        )

    settings = ServerSettings(
        token=token or os.environ.get(TOKEN_ENV_VAR) or None,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        max_rows=max_rows,
    )
    defaults = ServingConfig(
        VersionPolicy.parse(versions), max_batch_size, batch_wait_ms, max_queue_rows
    ).merged({}, "command line")
    errors.print(
        f"Serving {repository} on http://{host}:{port} (TF Serving REST /v1, Open Inference "
        "/v2, Prometheus /metrics); Ctrl-C stops.",
        highlight=False,
    )
    run_server(
        repository,
        host=host,
        port=port,
        settings=settings,
        defaults=defaults,
        poll_seconds=poll_seconds,
        allow_remote=allow_remote,
        access_log=not no_access_log,
    )


def _call(url: str, method: str, path: str, body: Any, token: str | None) -> Any:
    import httpx

    token = token or os.environ.get(TOKEN_ENV_VAR)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(
            method, url.rstrip("/") + path, json=body, headers=headers, timeout=30
        )
    except httpx.HTTPError as err:
        raise ConfigError(f"Cannot reach the model server at {url}: {err}.") from None
    data = response.json() if response.content else {}
    if response.status_code >= 400:
        raise ConfigError(f"The server answered {response.status_code}: {data.get('error', data)}")
    return data


def _local(repository: str | None, model: str) -> Path:
    from tensorbridge.serve.repository import ModelRepository

    if repository is None:
        raise ConfigError("Pass --url of a running server, or --repository to edit routing.json.")
    return ModelRepository(repository).model_dir(model)


def _show(routing: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(routing, indent=1))
        return
    table = Table(title=f"Labels of {routing.get('model', '')}", title_justify="left")
    table.add_column("label")
    table.add_column("version", justify="right")
    for label, version in routing.get("labels", {}).items():
        table.add_row(label, str(version))
    print_table(console, table)
    canary = routing.get("canary")
    if canary:
        console.print(
            f"canary: {canary['weight']:.0%} of requests without a version or label go to "
            f"label {canary['label']!r}",
            highlight=False,
        )
    if "loaded" in routing:
        console.print(f"loaded versions: {routing['loaded']}", highlight=False)


_where = [
    click.option("--url", default=None, help="A running server, e.g. http://127.0.0.1:8501."),
    click.option("--repository", default=None, help="Or: the model repository to edit."),
    click.option("--token", default=None, help=f"Bearer token (default ${TOKEN_ENV_VAR})."),
    click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts."),
]


def _where_options(func: Any) -> Any:
    for option in reversed(_where):
        func = option(func)
    return func


@click.group()
def labels() -> None:
    """Version labels and the canary split of a served model."""


def _change(
    url: str | None,
    repository: str | None,
    token: str | None,
    model: str,
    method: str,
    path: str,
    body: Any,
    apply: Any,
) -> dict[str, Any]:
    from tensorbridge.serve.repository import ModelRepository
    from tensorbridge.serve.routing import read_routing, write_routing

    if url is not None:
        result: dict[str, Any] = _call(url, method, path, body, token)
        return result
    folder = _local(repository, model)
    routing = apply(read_routing(folder), ModelRepository(folder.parent).versions(model))
    write_routing(folder, routing)
    return {"model": model, **routing.to_json()}


@labels.command("list")
@click.argument("model")
@_where_options
def labels_list(
    model: str, url: str | None, repository: str | None, token: str | None, as_json: bool
) -> None:
    """The labels of MODEL (and its canary split)."""
    from tensorbridge.serve.routing import read_routing

    if url is not None:
        routing = _call(url, "GET", f"/v1/models/{model}/labels", None, token)
    else:
        routing = {"model": model, **read_routing(_local(repository, model)).to_json()}
    _show(routing, as_json)


@labels.command("set")
@click.argument("model")
@click.argument("label")
@click.argument("version", type=int)
@_where_options
def labels_set(
    model: str,
    label: str,
    version: int,
    url: str | None,
    repository: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Point LABEL of MODEL at VERSION (e.g. `labels set taxi stable 3`)."""

    def apply(routing: Any, versions: list[int]) -> Any:
        if version not in versions:
            raise ConfigError(
                f"{model} has no complete version {version} in the repository ({versions})."
            )
        return routing.with_label(label, version)

    path = f"/v1/models/{model}/labels/{label}"
    _show(_change(url, repository, token, model, "PUT", path, {"version": version}, apply), as_json)


@labels.command("remove")
@click.argument("model")
@click.argument("label")
@_where_options
def labels_remove(
    model: str,
    label: str,
    url: str | None,
    repository: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Remove LABEL from MODEL."""

    def apply(routing: Any, _versions: list[int]) -> Any:
        return routing.with_label(label, None)

    path = f"/v1/models/{model}/labels/{label}"
    _show(_change(url, repository, token, model, "DELETE", path, None, apply), as_json)


@labels.command("canary")
@click.argument("model")
@click.argument("weight", type=float)
@click.option("--label", "label", default="canary", show_default=True)
@_where_options
def labels_canary(
    model: str,
    weight: float,
    label: str,
    url: str | None,
    repository: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Send WEIGHT (0..1) of MODEL's unaddressed requests to the canary label's version."""

    def apply(routing: Any, _versions: list[int]) -> Any:
        return routing.with_canary(label, weight)

    path = f"/v1/models/{model}/canary"
    body = {"label": label, "weight": weight}
    _show(_change(url, repository, token, model, "PUT", path, body, apply), as_json)


@labels.command("rollback")
@click.argument("model")
@click.option("--label", "label", default="canary", show_default=True)
@_where_options
def labels_rollback(
    model: str,
    label: str,
    url: str | None,
    repository: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Send no more traffic to the canary (weight 0): an instant rollback."""

    def apply(routing: Any, _versions: list[int]) -> Any:
        return routing.with_canary(label, 0.0)

    path = f"/v1/models/{model}/canary"
    body = {"label": label, "weight": 0.0}
    _show(_change(url, repository, token, model, "PUT", path, body, apply), as_json)
