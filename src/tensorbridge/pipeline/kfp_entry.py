"""The container entry point of a compiled Kubeflow pipeline (see :mod:`tensorbridge.pipeline.kfp`).

    python -m tensorbridge.pipeline.kfp_entry --component MODULE:FUNCTION
        --parameters JSON [--input NAME:TYPE PATH]... [--output NAME:TYPE PATH]...

Runs the component function with artifact handles on the paths Kubeflow provides: an
input path is a complete artifact directory written by the upstream task; an output path
is created as a directory for the component to fill, and gets its ``artifact.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tensorbridge.pipeline.kfp_entry")
    parser.add_argument("--component", required=True, help="MODULE:FUNCTION")
    parser.add_argument("--parameters", default="{}", help="the parameters, as JSON")
    parser.add_argument(
        "--input", nargs=2, action="append", default=[], metavar=("NAME:TYPE", "PATH")
    )
    parser.add_argument(
        "--output", nargs=2, action="append", default=[], metavar=("NAME:TYPE", "PATH")
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run one component on Kubeflow-provided paths; exit 1 on failure."""
    from tensorbridge.pipeline.artifacts import ARTIFACT_FILE, ArtifactHandle
    from tensorbridge.pipeline.component import resolve_reference

    args = _parse(sys.argv[1:] if argv is None else argv)
    component = resolve_reference(args.component)
    kwargs: dict[str, Any] = json.loads(args.parameters)
    for spec, path in args.input:
        name, _, type_name = spec.partition(":")
        folder = Path(path)
        info = folder / ARTIFACT_FILE
        metadata = json.loads(info.read_text())["properties"] if info.exists() else {}
        kwargs[name] = ArtifactHandle(folder, type_name, str(folder), metadata)
    kwargs.update({n: None for n in component.inputs if n not in kwargs})  # unwired, as locally
    outputs: dict[str, ArtifactHandle] = {}
    for spec, path in args.output:
        name, _, type_name = spec.partition(":")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        outputs[name] = kwargs[name] = ArtifactHandle(folder, type_name, str(folder))
    component.func(**kwargs)
    for handle in outputs.values():
        handle.write_info({"producer": {"kubeflow": True, "component": args.component}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
