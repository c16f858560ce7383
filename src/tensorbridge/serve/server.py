"""Running the model server: uvicorn on 127.0.0.1 by default, JSON logs.

:func:`serve` blocks until Ctrl-C (or SIGTERM); :func:`start_in_thread` runs a server
in a background thread on a free port and returns once it is ready, for tests, notebooks
and benchmarks.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tensorbridge.errors import ConfigError
from tensorbridge.serve.app import ServerSettings, create_app
from tensorbridge.serve.registry import ModelRegistry
from tensorbridge.serve.routing import ServingConfig

__all__ = ["RunningServer", "check_host", "configure_logging", "serve", "start_in_thread"]


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (access lines are JSON already)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if message.startswith("{"):
            try:
                entry.update(json.loads(message))
            except json.JSONDecodeError:
                entry["message"] = message
        else:
            entry["message"] = message
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(*, access_log: bool = True, stream: Any = None) -> None:
    """Send tensorbridge's serving logs to ``stream`` (stderr) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonFormatter())
    for name, level in (
        ("tensorbridge.serve", logging.INFO),
        ("tensorbridge.serve.access", logging.INFO if access_log else logging.WARNING),
    ):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback address unless ``allow_remote`` (the models would be public)."""
    if host not in ("127.0.0.1", "localhost", "::1") and not allow_remote:
        raise ConfigError(
            f"Binding to {host!r} exposes the models beyond this machine. Pass "
            "--allow-remote (and --token) if that is what you want."
        )


def _make_app(
    repository: str | Path,
    *,
    settings: ServerSettings,
    defaults: ServingConfig,
    poll_seconds: float,
) -> Any:
    registry = ModelRegistry(repository, defaults=defaults, poll_seconds=poll_seconds)
    return create_app(registry, settings=settings)


def serve(
    repository: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8501,
    settings: ServerSettings | None = None,
    defaults: ServingConfig | None = None,
    poll_seconds: float = 1.0,
    allow_remote: bool = False,
    access_log: bool = True,
) -> None:
    """Serve every model in ``repository`` until interrupted.

    Parameters
    ----------
    repository : path
        A model repository in TF Serving's layout (what the Pusher writes).
    host, port : str, int
        Where to listen; 127.0.0.1 unless ``allow_remote``.
    settings : ServerSettings, optional
        Token and request limits.
    defaults : ServingConfig, optional
        Version policy and batching for models without ``serving.json``.
    poll_seconds : float
        How often to look for new versions and routing changes.
    """
    import uvicorn

    check_host(host, allow_remote)
    # The event loop (parsing, answering) and the inference threads share the GIL. With
    # Python's default 5 ms switch interval, a batch that finished computing waits up to
    # 5 ms for the loop to let go; 0.5 ms keeps results flowing.
    sys.setswitchinterval(0.0005)
    # TensorFlow's C++ INFO lines would interleave with the JSON log lines; keep warnings.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    configure_logging(access_log=access_log)
    app = _make_app(
        repository,
        settings=settings or ServerSettings(),
        defaults=defaults or ServingConfig(),
        poll_seconds=poll_seconds,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")


@dataclass
class RunningServer:
    """A server running in a background thread (see :func:`start_in_thread`)."""

    url: str
    app: Any
    _server: Any
    _thread: threading.Thread

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the server down and wait for it."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def start_in_thread(
    repository: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    settings: ServerSettings | None = None,
    defaults: ServingConfig | None = None,
    poll_seconds: float = 1.0,
    startup_timeout: float = 300.0,
) -> RunningServer:
    """Start a server in a background thread; return when it accepts requests."""
    import uvicorn

    check_host(host, allow_remote=False)
    app = _make_app(
        repository,
        settings=settings or ServerSettings(),
        defaults=defaults or ServingConfig(),
        poll_seconds=poll_seconds,
    )
    chosen = port or _free_port(host)
    config = uvicorn.Config(
        app, host=host, port=chosen, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="tb-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            raise ConfigError(f"The model server for {repository} did not start; see the log.")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise ConfigError(f"The model server did not start within {startup_timeout:.0f} s.")
        time.sleep(0.05)
    return RunningServer(f"http://{host}:{chosen}", app, server, thread)
