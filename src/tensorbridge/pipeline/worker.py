"""Runs one component execution in its own process: ``python -m tensorbridge.pipeline.worker SPEC``.

The runner writes a JSON spec (the component's ``module:function`` reference, where its
module lives, the input and output directories and the parameters), starts this module
with stdout and stderr going to the component's log, and reads back a JSON result: the
outputs' metadata, or the error with the user's traceback. A process per execution keeps
components' logs, memory and crashes apart, and is how the same code runs in a Kubeflow
container.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = ["load_component", "main", "run_spec"]


def _load_file(alias: str, module_file: str) -> Any:
    spec = importlib.util.spec_from_file_location(alias, module_file)
    if spec is None or spec.loader is None:
        raise ImportError(f"Cannot load the pipeline file {module_file!r}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    return module


def load_component(reference: str, module_file: str | None, sys_paths: list[str]) -> Any:
    """Import the :class:`~tensorbridge.pipeline.component.Component` behind ``reference``.

    The module is imported by name first (package components, pipeline files whose folder
    is on ``sys_paths``); ``module_file`` is the fallback for a module that cannot be
    imported by name (a pipeline file run as a script, whose components live in
    ``__main__``).
    """
    for entry in reversed(sys_paths):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    module_name, _, qualname = reference.partition(":")
    module: Any = None
    if module_name != "__main__":
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            if module_file is None:
                raise
    if module is None:
        if module_file is None:
            raise ImportError(
                f"{reference!r} lives in a script run as __main__ and its file is unknown; "
                "define components in an importable module or a pipeline file."
            )
        module = _load_file(
            "__tensorbridge_pipeline__" if module_name == "__main__" else module_name, module_file
        )
    value: Any = module
    for part in qualname.split("."):
        value = getattr(value, part)
    return value


def run_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the component a spec describes; return the result document."""
    from tensorbridge.pipeline.artifacts import ArtifactHandle

    component = load_component(spec["reference"], spec.get("module_file"), spec["sys_path"])
    kwargs: dict[str, Any] = dict(spec["parameters"])
    handles: dict[str, ArtifactHandle] = {}
    for name, info in spec["inputs"].items():
        if info is None:
            kwargs[name] = None
            continue
        kwargs[name] = ArtifactHandle(
            Path(info["path"]), info["type"], info["uri"], dict(info["metadata"])
        )
    for name, info in spec["outputs"].items():
        handles[name] = ArtifactHandle(Path(info["path"]), info["type"], info["uri"])
        kwargs[name] = handles[name]
    started = time.perf_counter()
    component.func(**kwargs)
    return {
        "ok": True,
        "seconds": time.perf_counter() - started,
        "outputs": {name: handle.metadata for name, handle in handles.items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point: read the spec, run, write the result; exit 1 on failure."""
    args = sys.argv[1:] if argv is None else argv
    spec_path = Path(args[0])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    result_path = Path(spec["result"])
    try:
        result = run_spec(spec)
        code = 0
    except BaseException as err:
        trace = traceback.format_exc()
        print(trace, file=sys.stderr, flush=True)
        result = {"ok": False, "error": f"{type(err).__name__}: {err}", "traceback": trace}
        code = 130 if isinstance(err, KeyboardInterrupt) else 1
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, default=str), encoding="utf-8")
    os.replace(tmp, result_path)
    return code


if __name__ == "__main__":
    sys.exit(main())
