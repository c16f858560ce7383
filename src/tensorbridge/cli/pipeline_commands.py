"""``tensorbridge run | compile``: run a pipeline here, or compile it for Kubeflow."""

from __future__ import annotations

import os

import click
from rich.markup import escape

from tensorbridge.cli.metadata_commands import METADATA_ENV_VAR, metadata_option
from tensorbridge.cli.options import errors

__all__ = ["compile_pipeline", "run"]


@click.command("run")
@click.argument("pipeline_file", metavar="PIPELINE")
@click.option(
    "--param", "params", multiple=True, metavar="NAME=VALUE", help="Override a pipeline parameter."
)
@click.option(
    "--root", default=None, help="Artifacts, logs and store (default out/pipelines/NAME)."
)
@metadata_option
@click.option("--no-cache", is_flag=True, help="Run every component, ignoring cached results.")
@click.option("--max-parallel", type=int, default=None, help="Most components at once.")
@click.option("--inline", is_flag=True, help="Run components in this process, one at a time.")
def run(
    pipeline_file: str,
    params: tuple[str, ...],
    root: str | None,
    metadata: str | None,
    no_cache: bool,
    max_parallel: int | None,
    inline: bool,
) -> None:
    """Run PIPELINE (a Python file, a module, or FILE:NAME) on this machine.

    Unchanged components are reused from the cache; after a crash or Ctrl-C, running
    again resumes where the run stopped. Exits with status 1 when a component fails.
    """
    from tensorbridge.pipeline.loader import load_pipeline, parse_parameters
    from tensorbridge.pipeline.runner import run as run_pipeline

    definition = load_pipeline(pipeline_file)
    run_pipeline(
        definition,
        parameters=parse_parameters(definition, params),
        root=root,
        metadata=metadata or os.environ.get(METADATA_ENV_VAR),
        cache=not no_cache,
        max_parallel=max_parallel,
        isolation="inline" if inline else "process",
        console=errors,
    )


@click.command("compile")
@click.argument("pipeline_file", metavar="PIPELINE")
@click.option("--to", "target", type=click.Choice(["kfp"]), default="kfp", show_default=True)
@click.option("-o", "--output", required=True, help="The file to write, e.g. pipeline.yaml.")
@click.option("--image", required=True, help="The container image that has your code installed.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Pipeline parameter.")
def compile_pipeline(
    pipeline_file: str, target: str, output: str, image: str, params: tuple[str, ...]
) -> None:
    """Compile PIPELINE for Kubeflow Pipelines (v2 spec), each step in IMAGE."""
    from tensorbridge.pipeline.kfp import compile_kfp
    from tensorbridge.pipeline.loader import load_pipeline, parse_parameters

    del target
    definition = load_pipeline(pipeline_file)
    graph = definition.build(parse_parameters(definition, params))
    written = compile_kfp(graph, output, image=image)
    errors.print(
        f"Kubeflow pipeline {escape(graph.name)} ({len(graph.tasks)} steps) written to "
        f"{escape(str(written))}",
        highlight=False,
    )
