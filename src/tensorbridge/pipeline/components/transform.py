"""Transform: analyze a ``preprocessing_fn`` on train and transform every split."""

from __future__ import annotations

from tensorbridge.errors import ConfigError
from tensorbridge.pipeline.artifacts import Examples, ModuleRef, TransformGraph
from tensorbridge.pipeline.component import component, resolve_reference
from tensorbridge.pipeline.components._common import (
    Input,
    Output,
    check_engine,
    column_types,
    link_tree,
    read_split,
    split_names,
)

__all__ = ["Transform"]


@component
def Transform(  # noqa: N802 - components are named like TFX's, in CamelCase
    examples: Input[Examples],
    transform_graph: Output[TransformGraph],
    transformed_examples: Output[Examples],
    preprocessing_fn: ModuleRef,
    engine: str = "local",
) -> None:
    """Analyze ``preprocessing_fn`` on the train split and transform every split (TFX's Transform).

    Parameters
    ----------
    examples : Input[Examples]
        The raw splits (ExampleGen's output); one must be ``train``.
    transform_graph : Output[TransformGraph]
        Receives :func:`tensorbridge.transform.analyze_and_transform`'s output directory:
        ``transform_fn/`` (the SavedModel), ``transform_metadata.json`` and
        ``transformed_data/<split>/``; ``TransformOutput(transform_graph.path)`` loads it.
    transformed_examples : Output[Examples]
        Receives the transformed Parquet, one directory per split (``<split>/``). The
        files are hard links to those in ``transform_graph`` (copies where the file
        system cannot link), so each artifact is complete on its own.
    preprocessing_fn : ModuleRef
        ``"package.module:function"``, e.g. ``"tensorbridge.examples.taxi:preprocessing_fn"``.
    engine : {"local", "spark"}
        Where the analysis and transformation passes run.

    Notes
    -----
    Metadata of ``transform_graph``: ``analyzed_rows``, ``num_analyzers``, ``inputs`` and
    ``outputs`` (column -> type). Of ``transformed_examples``: ``splits``, ``rows``
    (split -> rows) and ``columns`` (column -> Arrow type), as ExampleGen's.
    """
    from rich.console import Console

    from tensorbridge.transform.api import TRANSFORMED_DIR, analyze_and_transform

    engine = check_engine(engine, "Transform")
    splits = split_names(examples, "Transform", "examples")
    if "train" not in splits:
        raise ConfigError(
            f"Transform: the examples have the splits {splits} but no 'train' split to "
            "analyze (as in TFX); name one split 'train' in ExampleGen's split_ratios."
        )
    function = resolve_reference(str(preprocessing_fn))
    if not callable(function):
        raise ConfigError(
            f"Transform: preprocessing_fn={preprocessing_fn!r} is not a function; pass "
            "'package.module:preprocessing_fn'."
        )
    data = {split: read_split(examples, split, engine) for split in splits}
    output = analyze_and_transform(
        data,
        function,
        transform_graph.path,
        analyze_split="train",
        engine=engine,
        overwrite=True,  # the runner's fresh, empty output directory
        console=Console(stderr=True),
    )
    rows = {}
    for split in splits:
        link_tree(output.output_dir / TRANSFORMED_DIR / split, transformed_examples.path / split)
        rows[split] = read_split(transformed_examples, split).count_rows()
    summary = output.statistics_summary
    transform_graph.metadata.update(
        {
            "analyzed_rows": summary["analyzed_rows"],
            "num_analyzers": len(summary["analyzers"]),
            "inputs": {c.name: c.dtype for c in output.input_columns},
            "outputs": column_types(output.output_schema),
            "splits": splits,
        }
    )
    transformed_examples.metadata.update(
        {"splits": splits, "rows": rows, "columns": column_types(output.output_schema)}
    )
