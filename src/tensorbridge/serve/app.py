"""The model server's HTTP API: TF Serving REST (V1) and Open Inference (V2) on one port.

Starlette routes requests; the work per request is: check the token and the body size,
parse JSON, pick the version (version, label, or the canary split), decode and validate
the inputs against the model's signature (:mod:`~tensorbridge.serve.codec`), update the
serving-time feature statistics, queue the rows on the version's micro-batcher (model
calls run in worker threads, never on the event loop), encode the outputs. Every answer
from a model carries ``X-Model-Name`` and ``X-Model-Version`` headers (and V2 bodies
carry ``model_version``). Errors are ``{"error": ..., "field"?, "expected"?}`` with a 4xx
or 5xx status; nothing a client sends can take the server down.

Endpoints (``{m}`` a model, ``{v}`` a version, ``{l}`` a label):

==========================================================  ================================
``GET  /v1/models``                                         model names (KServe V1)
``GET  /v1/models/{m}[/versions/{v}|/labels/{l}]``          TF Serving model status
``GET  /v1/models/{m}[...]/metadata``                       signature metadata
``POST /v1/models/{m}[...]:predict|:classify|:regress``     TF Serving REST
``POST /v1/models/{m}[...]:explain``                        integrated gradients
``GET  /v1/models/{m}[/versions/{v}]/feature_stats``        serving statistics vs training
``GET  /v1/models/{m}/labels``, ``PUT|DELETE .../labels/{l}``  labels (``{"version": 3}``)
``PUT  /v1/models/{m}/canary``                              ``{"label": "canary", "weight": 0.1}``
``GET  /v2``, ``/v2/health/live``, ``/v2/health/ready``     Open Inference server endpoints
``GET  /v2/models/{m}[/versions/{v}][/ready]``              model metadata, readiness
``POST /v2/models/{m}[/versions/{v}]/infer``                Open Inference inference
``GET  /metrics``                                           Prometheus
==========================================================  ================================
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tensorbridge import __version__
from tensorbridge.errors import ConfigError
from tensorbridge.serve import codec
from tensorbridge.serve.errors import (
    NotFoundError,
    OverloadedError,
    RequestError,
    ServingError,
)
from tensorbridge.serve.registry import LoadedVersion, ModelRegistry

__all__ = ["ServerSettings", "create_app"]

log = logging.getLogger("tensorbridge.serve")
access_log = logging.getLogger("tensorbridge.serve.access")

_V1 = re.compile(
    r"^(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<tail>/metadata|/feature_stats|/labels|/canary|:predict|:classify|:regress|:explain)?$"
)
_V2 = re.compile(r"^(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<tail>/ready|/infer)?$")
#: Paths answered without a token (liveness probes must not need secrets).
_OPEN_PATHS = ("/v2/health/live", "/v2/health/ready")


@dataclass(frozen=True)
class ServerSettings:
    """Limits and security of one server.

    Attributes
    ----------
    token : str, optional
        When set, every endpoint but the health checks needs ``Authorization: Bearer``.
    max_body_bytes : int
        Largest request body (HTTP 413 beyond).
    max_rows : int
        Most rows (instances) in one request (HTTP 400 beyond).
    explain_steps, explain_max_rows : int
        Integrated-gradients path steps, and most rows one ``:explain`` may ask for.
    """

    token: str | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    max_rows: int = 1024
    explain_steps: int = 32
    explain_max_rows: int = 16


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, separators=(",", ":"), allow_nan=True)  # TF Serving writes NaN
    return Response(text, status_code=status, headers=headers, media_type="application/json")


def _error(err: ServingError, headers: dict[str, str] | None = None) -> Response:
    return _json(err.to_json(), err.status, headers)


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise RequestError("The request body is empty; send a JSON object.")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise RequestError(f"The request body is not valid JSON: {err}.") from None


def _split_binary(raw: bytes, header: str | None) -> tuple[Any, bytes | None]:
    """The JSON part and the binary tensors of a V2 request (binary tensor extension)."""
    if header is None:
        return _parse_json(raw), None
    if not header.isdigit() or int(header) > len(raw):
        raise RequestError(
            f"Inference-Header-Content-Length {header!r} is not a length within the body "
            f"({len(raw)} bytes)."
        )
    size = int(header)
    return _parse_json(raw[:size]), raw[size:]


def _version_number(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise NotFoundError(f"Servable not found for request: version {text!r} is not a number.")
    return int(text)


@dataclass
class _Call:
    """What one request has resolved so far: the model named, and the version answering.

    Handlers set ``loaded`` as soon as they resolve a version, so headers, metrics and
    logs name it on errors too; a handler returns only its JSON body.
    """

    model: str = ""
    loaded: LoadedVersion | None = None


class _Server:
    """The handlers, sharing the registry, the metrics and the settings."""

    def __init__(self, registry: ModelRegistry, metrics: Any, settings: ServerSettings) -> None:
        self.registry = registry
        self.metrics = metrics
        self.settings = settings
        self.ready = False
        #: Requests being handled now (a lone one may be answered on the event loop).
        self.handling = 0

    # -- plumbing -----------------------------------------------------------------------

    def authorized(self, request: Request) -> bool:
        token = self.settings.token
        if token is None or request.url.path in _OPEN_PATHS:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)

    async def body(self, request: Request) -> Any:
        """The JSON body, read with the size limit enforced while reading."""
        return _parse_json(await self.raw_body(request))

    async def raw_body(self, request: Request) -> bytes:
        """The body's bytes, read with the size limit enforced while reading."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ServingError(
                f"Request body of {int(declared):,} bytes is over the limit of {limit:,} "
                "bytes; send fewer rows per request.",
                status=413,
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ServingError(
                    f"Request body is over the limit of {limit:,} bytes; send fewer rows "
                    "per request.",
                    status=413,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def guarded(
        self,
        request: Request,
        protocol: str,
        endpoint: str,
        handler: Callable[[_Call], Awaitable[Any]],
    ) -> Response:
        """Run a handler: auth, errors as JSON, headers, metrics and the access log."""
        started = time.perf_counter()
        self.handling += 1
        try:
            return await self._guarded(request, protocol, endpoint, handler, started)
        finally:
            self.handling -= 1

    async def _guarded(
        self,
        request: Request,
        protocol: str,
        endpoint: str,
        handler: Callable[[_Call], Awaitable[Any]],
        started: float,
    ) -> Response:
        call = _Call()
        headers: dict[str, str] = {}
        error_kind: str | None = None
        try:
            if not self.authorized(request):
                headers["WWW-Authenticate"] = "Bearer"
                raise ServingError(
                    "Missing or wrong bearer token: send 'Authorization: Bearer <token>'.",
                    status=401,
                )
            response = _json(await handler(call))
        except OverloadedError as err:
            headers["Retry-After"] = str(max(1, math.ceil(err.retry_after)))
            response, error_kind = _error(err), "overloaded"
        except ServingError as err:
            response = _error(err)
            error_kind = "predict" if err.status >= 500 else "bad_request"
        except ConfigError as err:  # a bad label or version in a management call
            response, error_kind = _error(RequestError(str(err))), "bad_request"
        except Exception as err:  # a bug: answer 500, log it, keep serving
            log.exception("internal error on %s %s", request.method, request.url.path)
            response = _error(ServingError(f"Internal error: {type(err).__name__}", status=500))
            error_kind = "internal"
        response.headers.update(headers)
        loaded = call.loaded
        if loaded is not None:
            response.headers["X-Model-Name"] = loaded.name
            response.headers["X-Model-Version"] = str(loaded.version)
        seconds = time.perf_counter() - started
        model = loaded.name if loaded is not None else call.model[:128]
        version = loaded.version if loaded is not None else None
        if self.metrics is not None:
            # Label series only for models that exist: names from URLs are unbounded.
            known = loaded is not None or model in self.registry.models()
            model = model if known else ""
            self.metrics.observe_request(
                model=model,
                version=version,
                protocol=protocol,
                endpoint=endpoint,
                status=response.status_code,
                seconds=seconds,
            )
            if error_kind is not None and response.status_code != 401:
                self.metrics.observe_error(model=model, version=version, kind=error_kind)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                json.dumps(
                    {
                        "method": request.method,
                        "path": request.url.path,
                        "status": response.status_code,
                        "model": model,
                        "version": version,
                        "ms": round(seconds * 1000, 3),
                    }
                )
            )
        return response

    async def infer(self, loaded: LoadedVersion, decoded: Any) -> dict[str, Any]:
        """Run decoded inputs through a version's batcher; record the batch metrics."""
        batcher = loaded.batcher(self.registry.executor)
        alone = self.handling == 1  # no other request anywhere in the server right now
        with self.registry.using(loaded):  # statistics: per batch, in LoadedVersion.predict
            outputs, timing = await batcher.submit(decoded.inputs, decoded.rows, alone=alone)
        if self.metrics is not None:
            self.metrics.observe_batch(model=loaded.name, version=loaded.version, timing=timing)
        outputs_dict: dict[str, Any] = outputs
        return outputs_dict

    # -- V1 -----------------------------------------------------------------------------

    async def v1_list(self, request: Request) -> Response:
        async def handle(call: _Call) -> Any:
            return {"models": self.registry.models()}

        return await self.guarded(request, "v1", "list", handle)

    async def v1(self, request: Request) -> Response:
        match = _V1.match(request.path_params["path"])
        tail = match["tail"] if match else None
        endpoint = (tail or "status").lstrip("/:")

        async def handle(call: _Call) -> Any:
            if match is None:
                raise NotFoundError(f"No such endpoint: {request.url.path}.")
            name, label = match["name"], match["label"]
            call.model = name
            version = _version_number(match["version"])
            method = request.method
            if tail == "/labels" and method == "GET":
                return self.labels_body(name)
            if tail is None and label is not None and method in ("PUT", "DELETE"):
                return await self.change_label(request, name, label, method)
            if tail == "/canary" and method == "PUT":
                return await self.change_canary(request, name)
            if tail == "/feature_stats" and method == "GET":
                loaded = self.registry.resolve(name, version, label)
                call.loaded = loaded
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, loaded.wait_for_statistics)
                report = {
                    **loaded.stats.report(),
                    "skipped_rows": loaded.stats_skipped_rows,
                    "unsampled_rows": loaded.stats_unsampled_rows,
                }
                return report
            if tail is None and method == "GET":
                if label is not None:
                    version = self.registry.resolve(name, None, label).version
                return {"model_version_status": self.registry.status(name, version)}
            if tail == "/metadata" and method == "GET":
                loaded = self.registry.resolve(name, version, label)
                call.loaded = loaded
                return loaded.model.signature_metadata_v1()
            if tail in (":predict", ":classify", ":regress", ":explain") and method == "POST":
                body = await self.body(request)
                loaded = self.registry.resolve(name, version, label)
                call.loaded = loaded
                return await self.v1_call(tail[1:], body, loaded)
            raise ServingError(f"{method} is not supported on {request.url.path}.", status=405)

        return await self.guarded(request, "v1", endpoint, handle)

    async def v1_call(self, verb: str, body: Any, loaded: LoadedVersion) -> Any:
        model = loaded.model
        max_rows = self.settings.max_rows
        if verb == "predict":
            decoded = codec.decode_v1_predict(body, model, max_rows=max_rows)
            return codec.encode_v1_predict(await self.infer(loaded, decoded), decoded.style)
        if verb == "explain":
            return await self.explain(body, loaded)
        decoded = codec.decode_v1_examples(body, model, max_rows=max_rows)
        if verb == "classify":
            if model.task != "binary":
                raise RequestError(
                    f"{model.name} has no classification output ({list(model.outputs)}); "
                    "use :predict."
                )
            return codec.encode_v1_classify(await self.infer(loaded, decoded), model)
        if len(model.outputs) != 1:
            raise RequestError(
                f"{model.name} has several outputs ({list(model.outputs)}), so :regress does "
                "not know which to return; use :predict."
            )
        return codec.encode_v1_regress(await self.infer(loaded, decoded), model)

    async def explain(self, body: Any, loaded: LoadedVersion) -> Any:
        """``:explain``: a predict body plus optional ``steps``, ``baseline`` and ``output``."""
        from tensorbridge.serve.explain import MAX_STEPS, integrated_gradients

        settings = self.settings
        if not isinstance(body, dict):
            raise RequestError('Send {"instances": [...], "steps"?: 32}.')
        options = {k: body[k] for k in ("steps", "baseline", "output") if k in body}
        request = {k: v for k, v in body.items() if k not in options}
        decoded = codec.decode_v1_predict(request, loaded.model, max_rows=settings.explain_max_rows)
        steps = options.get("steps", settings.explain_steps)
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            raise RequestError(
                f"steps must be an integer from 1 to {MAX_STEPS}.",
                field="steps",
                expected="integer",
            )
        baseline = options.get("baseline")
        if baseline is not None and not isinstance(baseline, dict):
            raise RequestError(
                "baseline must map numeric inputs to values.", field="baseline", expected="object"
            )
        output = options.get("output")
        if output is not None and not isinstance(output, str):
            raise RequestError("output must be an output name.", field="output", expected="string")
        loop = asyncio.get_running_loop()
        with self.registry.using(loaded):
            explanation = await loop.run_in_executor(
                self.registry.executor,
                lambda: integrated_gradients(
                    loaded.model,
                    decoded.inputs,
                    steps=steps,
                    baseline=baseline,
                    output=output,
                    max_rows=settings.explain_max_rows,
                ),
            )
        result: dict[str, Any] = explanation.to_json()
        return result

    def labels_body(self, name: str) -> dict[str, Any]:
        state = self.registry.state(name)
        return {"model": name, **state.routing.to_json(), "loaded": state.loaded()}

    async def change_label(self, request: Request, name: str, label: str, method: str) -> Any:
        version: int | None = None
        if method == "PUT":
            body = await self.body(request)
            value = body.get("version") if isinstance(body, dict) else None
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise RequestError(
                    'Send {"version": N} to point the label at version N.',
                    field="version",
                    expected="integer",
                )
            version = value
        self.registry.set_label(name, label, version)
        return self.labels_body(name)

    async def change_canary(self, request: Request, name: str) -> Any:
        body = await self.body(request)
        if not isinstance(body, dict):
            raise RequestError('Send {"label": "canary", "weight": 0.1}.')
        weight = body.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise RequestError(
                "weight must be a number between 0 and 1.", field="weight", expected="number"
            )
        self.registry.set_canary(name, str(body.get("label", "canary")), float(weight))
        return self.labels_body(name)

    # -- V2 -----------------------------------------------------------------------------

    async def v2_server(self, request: Request) -> Response:
        async def handle(call: _Call) -> Any:
            return {"name": "tensorbridge", "version": __version__, "extensions": []}

        return await self.guarded(request, "v2", "server", handle)

    async def v2_live(self, request: Request) -> Response:
        return _json({"live": True})

    async def v2_ready(self, request: Request) -> Response:
        ready = self.ready and bool(self.registry.models())
        return _json({"ready": ready}, 200 if ready else 503)

    async def v2_list(self, request: Request) -> Response:
        async def handle(call: _Call) -> Any:
            return {"models": self.registry.models()}

        return await self.guarded(request, "v2", "list", handle)

    async def v2(self, request: Request) -> Response:
        match = _V2.match(request.path_params["path"])
        tail = match["tail"] if match else None
        endpoint = (tail or "metadata").lstrip("/")

        async def handle(call: _Call) -> Any:
            if match is None:
                raise NotFoundError(f"No such endpoint: {request.url.path}.")
            name = match["name"]
            call.model = name
            version = _version_number(match["version"])
            if tail == "/ready" and request.method == "GET":
                try:
                    loaded = self.registry.resolve(name, version)
                    call.loaded = loaded
                except NotFoundError:
                    return {"name": name, "ready": False}
                return {"name": name, "ready": True}
            if tail is None and request.method == "GET":
                loaded = self.registry.resolve(name, version)
                call.loaded = loaded
                versions = self.registry.state(name).loaded()
                return loaded.model.metadata_v2(versions)
            if tail == "/infer" and request.method == "POST":
                body, binary = _split_binary(
                    await self.raw_body(request),
                    request.headers.get("inference-header-content-length"),
                )
                loaded = self.registry.resolve(name, version)
                call.loaded = loaded
                decoded, request_id, requested = codec.decode_v2_infer(
                    body, loaded.model, max_rows=self.settings.max_rows, binary=binary
                )
                outputs = await self.infer(loaded, decoded)
                encoded = codec.encode_v2_infer(
                    outputs, loaded.model, request_id=request_id, requested=requested
                )
                return encoded
            raise ServingError(
                f"{request.method} is not supported on {request.url.path}.", status=405
            )

        return await self.guarded(request, "v2", endpoint, handle)

    # -- metrics ------------------------------------------------------------------------

    async def prometheus(self, request: Request) -> Response:
        if not self.authorized(request):
            denied = ServingError(
                "Missing or wrong bearer token: send 'Authorization: Bearer <token>'.", status=401
            )
            return _error(denied, {"WWW-Authenticate": "Bearer"})
        await asyncio.get_running_loop().run_in_executor(None, self.refresh_drift)
        body, content_type = self.metrics.render()
        return Response(body, media_type=content_type)

    def refresh_drift(self) -> None:
        """Set the drift gauges from each loaded version's serving statistics."""
        for name in self.registry.models():
            state = self.registry.state(name)
            for version in state.loaded():
                state.versions[version].wait_for_statistics(timeout=2.0)
                for feature, value in state.versions[version].stats.drift().items():
                    self.metrics.set_drift(
                        model=name, version=version, feature=feature, value=value
                    )


def create_app(
    registry: ModelRegistry, *, settings: ServerSettings | None = None, metrics: Any = None
) -> Starlette:
    """The ASGI application serving ``registry``'s models.

    The registry is started (initial load, then the repository watcher) when the app
    starts, and stopped when it stops.
    """
    from tensorbridge.serve.metrics import ServingMetrics

    metrics = metrics if metrics is not None else ServingMetrics()
    registry.metrics = metrics
    server = _Server(registry, metrics, settings or ServerSettings())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, registry.start, loop)
        server.ready = True
        log.info("serving %s from %s", registry.models(), registry.repository.root)
        try:
            yield
        finally:
            server.ready = False
            await registry.stop()

    routes = [
        Route("/v1/models", server.v1_list, methods=["GET"]),
        Route("/v1/models/{path:path}", server.v1, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/v2", server.v2_server, methods=["GET"]),
        Route("/v2/health/live", server.v2_live, methods=["GET"]),
        Route("/v2/health/ready", server.v2_ready, methods=["GET"]),
        Route("/v2/models", server.v2_list, methods=["GET"]),
        Route("/v2/models/{path:path}", server.v2, methods=["GET", "POST"]),
        Route("/metrics", server.prometheus, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.server = server
    return app
