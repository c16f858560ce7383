"""Compile a pipeline into a Kubeflow Pipelines v2 spec (``pipeline.yaml``).

Each task becomes a container component that runs the very same component function, in
an image the user names, through :mod:`tensorbridge.pipeline.kfp_entry`:

    python -m tensorbridge.pipeline.kfp_entry --component MODULE:FUNCTION
        --parameters '{"epochs": 8}' --input examples:Examples <path>
        --output model:Model <path>

Artifacts travel as Kubeflow artifacts (``system.Dataset`` for examples, ``system.Model``
for models, ``system.Artifact`` otherwise); the wiring is the pipeline's. The spec is
built with the kfp SDK itself (component specs loaded with
``kfp.components.load_component_from_text`` and compiled with ``kfp.compiler``), so it is
what the SDK and the Kubeflow backend accept. Pipeline parameters are resolved when
compiling (``tensorbridge compile taxi.py --param epochs=3``); external data paths
(``DataPath`` parameters) must be readable from the containers (a bucket, a volume).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tensorbridge._optional import import_optional
from tensorbridge.errors import ConfigError, MissingDependencyError
from tensorbridge.pipeline.dsl import PipelineGraph, Task

__all__ = ["compile_kfp", "component_spec"]

#: Kubeflow artifact type names (v1 component type -> system.* schema) for our types.
_KFP_TYPES = {"system.Dataset": "Dataset", "system.Model": "Model", "system.Metrics": "Metrics"}


def _kfp() -> Any:
    try:
        return import_optional("kfp")
    except MissingDependencyError as err:
        raise MissingDependencyError(
            "Compiling for Kubeflow needs the kfp SDK: pip install 'tensorbridge[kfp]'."
        ) from err


def component_spec(task: Task, image: str) -> dict[str, Any]:
    """The Kubeflow component spec (v1 component format) of one task."""
    component = task.component
    inputs: list[dict[str, str]] = []
    outputs: list[dict[str, str]] = []
    args: list[Any] = [
        "--component",
        component.reference,
        "--parameters",
        json.dumps(task.arguments, sort_keys=True),
    ]
    for name, port in component.inputs.items():
        if name not in task.inputs:
            continue
        kind = _KFP_TYPES.get(port.artifact_type.kfp_schema, "Artifact")
        inputs.append({"name": name, "type": kind})
        args += ["--input", f"{name}:{port.artifact_type.type_name}", {"inputPath": name}]
    for name, port in component.outputs.items():
        kind = _KFP_TYPES.get(port.artifact_type.kfp_schema, "Artifact")
        outputs.append({"name": name, "type": kind})
        args += ["--output", f"{name}:{port.artifact_type.type_name}", {"outputPath": name}]
    return {
        "name": task.name,
        "description": ((component.func.__doc__ or "").strip() or component.name).splitlines()[0],
        "inputs": inputs,
        "outputs": outputs,
        "implementation": {
            "container": {
                "image": image,
                "command": ["python", "-m", "tensorbridge.pipeline.kfp_entry"],
                "args": args,
            }
        },
    }


def compile_kfp(graph: PipelineGraph, output: str | os.PathLike[str], *, image: str) -> Path:
    """Write ``graph`` as a Kubeflow Pipelines v2 spec.

    Parameters
    ----------
    graph : PipelineGraph
        A built pipeline (``pipeline.build(parameters)``).
    output : path
        The YAML file to write (atomically).
    image : str
        The container image with tensorbridge and the pipeline's code installed, e.g.
        ``registry.example.com/taxi:1.0``.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    if not image or any(c.isspace() for c in image):
        raise ConfigError(f"image must name a container image, got {image!r}.")
    for task in graph.tasks:
        if task.component.reference.startswith("__main__:"):
            raise ConfigError(
                f"Component {task.component.name} is defined in a script run as __main__, "
                "which a container cannot import. Compile the pipeline file with `tensorbridge "
                "compile FILE.py` (it is imported under its own name), or move the "
                "components into an importable module."
            )
    kfp = _kfp()
    from kfp import compiler, components, dsl

    del kfp
    factories = {
        task.name: components.load_component_from_text(yaml.safe_dump(component_spec(task, image)))
        for task in graph.tasks
    }

    pipeline_decorator = dsl.pipeline(
        name=graph.name.replace("_", "-"), description=f"tensorbridge: {graph.name}"
    )

    def kubeflow_pipeline() -> None:
        created: dict[str, Any] = {}
        for task in graph.tasks:
            arguments = {
                name: created[ref.task.name].outputs[ref.name] for name, ref in task.inputs.items()
            }
            op = factories[task.name](**arguments)
            for before in task.explicit_after:
                op.after(created[before.name])
            created[task.name] = op

    # The kfp SDK reads the return annotation as an output type; under
    # ``from __future__ import annotations`` it is the string "None", which it rejects.
    kubeflow_pipeline.__annotations__ = {}
    compiled = pipeline_decorator(kubeflow_pipeline)
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        staged = Path(tmp) / target.name
        compiler.Compiler().compile(compiled, str(staged))
        os.replace(staged, target)
    return target
