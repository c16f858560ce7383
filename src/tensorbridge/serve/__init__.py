"""Serving: the model repository (TF Serving's layout) and the model server.

The server's names are imported on first use, so that pushing into a repository needs
neither Starlette nor TensorFlow::

    from tensorbridge.serve import start_in_thread
    with start_in_thread("out/chicago_taxi/models") as server:
        print(server.url)  # http://127.0.0.1:PORT
"""

from __future__ import annotations

import importlib
from typing import Any

from tensorbridge.serve.repository import ModelRepository, check_model_name

__all__ = [
    "ModelRegistry",
    "ModelRepository",
    "ServerSettings",
    "ServingConfig",
    "VersionPolicy",
    "check_model_name",
    "create_app",
    "serve",
    "start_in_thread",
]

_LAZY = {
    "ModelRegistry": "tensorbridge.serve.registry",
    "ServerSettings": "tensorbridge.serve.app",
    "create_app": "tensorbridge.serve.app",
    "ServingConfig": "tensorbridge.serve.routing",
    "VersionPolicy": "tensorbridge.serve.routing",
    "serve": "tensorbridge.serve.server",
    "start_in_thread": "tensorbridge.serve.server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tensorbridge.serve' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
