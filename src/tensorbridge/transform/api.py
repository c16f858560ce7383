"""``analyze_and_transform``, ``analyze``, ``transform`` and their ``TransformOutput``."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console

from tensorbridge.engine import EngineLike
from tensorbridge.errors import ConfigError, SchemaError
from tensorbridge.io.dataset import Dataset
from tensorbridge.io.paths import PathLike, atomic_directory
from tensorbridge.io.readers import read_parquet
from tensorbridge.transform.analysis import Analysis, run_analysis
from tensorbridge.transform.inputs import InputColumn
from tensorbridge.transform.outputs import OutputColumn, output_schema
from tensorbridge.transform.tracing import PreprocessingFn, TransformBatch, save

TRANSFORM_FN_DIR = "transform_fn"
TRANSFORMED_DIR = "transformed_data"
METADATA_FILE = "transform_metadata.json"
Data = Dataset | Mapping[str, Dataset]


class TransformOutput:
    """The result of an analysis: the transform_fn, the analyzer results, the data.

    Load one from disk with ``TransformOutput(output_dir)``.

    Attributes
    ----------
    output_dir : pathlib.Path
        The directory holding everything below.
    transform_fn_dir : pathlib.Path
        The transform_fn SavedModel (``tf.saved_model.load(...)(raw_inputs)``).
    """

    def __init__(self, output_dir: PathLike) -> None:
        self.output_dir = Path(output_dir)
        path = self.output_dir / METADATA_FILE
        if not path.exists():
            raise ConfigError(
                f"{str(self.output_dir)!r} is not a transform output (no {METADATA_FILE}). "
                "Create one with tensorbridge.transform.analyze_and_transform(...)."
            )
        self._metadata = json.loads(path.read_text())
        self.transform_fn_dir = self.output_dir / TRANSFORM_FN_DIR
        self.input_columns = [InputColumn(**c) for c in self._metadata["inputs"]]
        self.output_columns = [OutputColumn(**c) for c in self._metadata["outputs"]]

    @property
    def output_schema(self) -> pa.Schema:
        """The Arrow schema of the transformed data."""
        return output_schema(self.output_columns)

    @property
    def analyzer_results(self) -> dict[str, dict[str, Any]]:
        """Analyzer results by name: ``{"mean_and_var_fare": {"mean": ..., "var": ...}}``.

        Vocabularies hold ``tokens`` (str) and ``counts``; quantiles ``boundaries``.
        """
        results: dict[str, dict[str, Any]] = {}
        for key, entry in self._metadata["analyzers"].items():
            if entry["kind"] == "vocabulary":
                results[key] = {"tokens": self.vocabulary(key), "counts": entry["counts"]}
            else:
                results[key] = {k: np.asarray(v) for k, v in entry["values"].items()}
        return results

    def vocabulary(self, name: str) -> list[str]:
        """The tokens of vocabulary ``name``, most frequent first."""
        entry = self._metadata["analyzers"].get(name)
        if entry is None or entry["kind"] != "vocabulary":
            names = [k for k, v in self._metadata["analyzers"].items() if v["kind"] == "vocabulary"]
            raise ConfigError(f"No vocabulary named {name!r}; the vocabularies are {names}.")
        lines = (self.transform_fn_dir / "assets" / name).read_bytes().split(b"\n")[:-1]
        return [line.decode("utf-8", errors="replace") for line in lines]

    @property
    def transformed_data(self) -> Dataset | dict[str, Dataset] | None:
        """The materialized transformed data (a dict per split), or None."""
        splits = self._metadata.get("transformed_splits")
        if splits is None:
            return None
        root = self.output_dir / TRANSFORMED_DIR
        if splits == [""]:
            return read_parquet(root)
        return {split: read_parquet(root / split) for split in splits}

    @property
    def statistics_summary(self) -> dict[str, Any]:
        """Rows analyzed, missing values per input, and the analyzer results in brief."""
        analyzers: dict[str, Any] = {}
        for key, entry in self._metadata["analyzers"].items():
            if entry["kind"] == "vocabulary":
                analyzers[key] = {"vocabulary_size": entry["size"]}
            else:
                analyzers[key] = entry["values"]
        return {
            "analyzed_rows": self._metadata["analyzed_rows"],
            "missing_values": self._metadata.get("missing_values", {}),
            "analyzers": analyzers,
        }

    @property
    def num_passes(self) -> int:
        """How many analysis passes the data needed (after the missing-value count)."""
        return len(self._metadata["passes"])

    def load_transform_fn(self) -> Any:
        """The transform_fn loaded with TensorFlow: call it on a dict of raw tensors."""
        from tensorbridge._optional import import_optional

        return import_optional("tensorflow").saved_model.load(str(self.transform_fn_dir))

    def transform(self, data: Dataset) -> Dataset:
        """``data`` with the transform_fn applied (lazy; write it with ``write_parquet``)."""
        names = set(data.schema.names)
        missing = [c.name for c in self.input_columns if c.name not in names]
        if missing:
            raise SchemaError(
                f"The data lacks the transform's input column(s) {missing}; it has {sorted(names)}."
            )
        selected = data.select([c.name for c in self.input_columns])
        batch_function = TransformBatch(
            str(self.transform_fn_dir), self.input_columns, self.output_columns
        )
        return selected.map_batches(batch_function, schema=self.output_schema, name="transform_fn")

    def __repr__(self) -> str:
        return (
            f"<TransformOutput {self.output_dir}: {len(self.input_columns)} inputs -> "
            f"{len(self.output_columns)} outputs, {len(self._metadata['analyzers'])} analyzers, "
            f"{self.num_passes} pass(es)>"
        )


def _splits(data: Data, analyze_split: str) -> tuple[Dataset, dict[str, Dataset]]:
    if isinstance(data, Dataset):
        return data, {"": data}
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(
            "data must be a Dataset or a dict of split name -> Dataset, e.g. taxi.split()."
        )
    if analyze_split not in data:
        raise ConfigError(
            f"analyze_split={analyze_split!r} is not one of the splits {list(data)}; "
            "pass the split to analyze."
        )
    return data[analyze_split], dict(data)


def _metadata(
    analysis: Analysis, splits: list[str] | None, engine: str, seconds: float
) -> dict[str, Any]:
    analyzers: dict[str, Any] = {}
    for key, result in analysis.results.items():
        entry: dict[str, Any] = {"kind": analysis.kinds[key], "features": analysis.features[key]}
        if analysis.kinds[key] == "vocabulary":
            entry["size"] = len(result["tokens"])
            entry["counts"] = [int(c) for c in result["counts"]]
        else:
            entry["values"] = {k: np.asarray(v).tolist() for k, v in result.items()}
        analyzers[key] = entry
    return {
        "inputs": [c.to_json() for c in analysis.columns],
        "outputs": [c.to_json() for c in analysis.final.outputs],
        "analyzers": analyzers,
        "passes": [
            {"number": p.number, "analyzers": p.analyzers, "seconds": round(p.seconds, 3)}
            for p in analysis.passes
        ],
        "analyzed_rows": analysis.rows,
        "missing_values": {c.name: analysis.missing.get(c.name, 0) for c in analysis.columns},
        "engine": engine,
        "transformed_splits": splits,
        "seconds": round(seconds, 3),
    }


def _run(
    data: Data,
    preprocessing_fn: PreprocessingFn,
    output_dir: PathLike,
    *,
    materialize: bool,
    analyze_split: str,
    engine: EngineLike,
    overwrite: bool,
    console: Console | None,
) -> TransformOutput:
    console = console or Console(stderr=True)
    started = time.perf_counter()
    analyzed, splits = _splits(data, analyze_split)
    if engine is not None:
        analyzed = analyzed.with_engine(engine)
        splits = {name: ds.with_engine(engine) for name, ds in splits.items()}
    others = [ds for ds in splits.values() if ds is not analyzed] if materialize else []
    final_dir = Path(output_dir)
    with atomic_directory(final_dir, overwrite=overwrite) as tmp:
        staging = tmp / ".staging"
        analysis = run_analysis(
            analyzed, preprocessing_fn, staging, all_data=others, console=console
        )
        transform_dir = tmp / TRANSFORM_FN_DIR
        save(analysis.final, transform_dir)
        written: list[str] | None = None
        if materialize:
            batch_function = TransformBatch(
                str(transform_dir), analysis.columns, analysis.final.outputs
            )
            schema = output_schema(analysis.final.outputs)
            written = []
            for name, split in splits.items():
                target = tmp / TRANSFORMED_DIR / name if name else tmp / TRANSFORMED_DIR
                began = time.perf_counter()
                with console.status(f"Transforming {name or 'the data'}..."):
                    result = (
                        split.select([c.name for c in analysis.columns])
                        .map_batches(batch_function, schema=schema, name="transform_fn")
                        .write_parquet(target)
                    )
                console.print(
                    f"[dim]transform:[/dim] {name or 'data'}: {result.num_rows:,} rows in "
                    f"{time.perf_counter() - began:.1f} s"
                )
                written.append(name)
        shutil.rmtree(staging, ignore_errors=True)
        engine_name = analyzed.engine.name
        metadata = _metadata(analysis, written, engine_name, time.perf_counter() - started)
        (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    console.print(
        f"[green]transform ready[/green] in {time.perf_counter() - started:.1f} s: "
        f"{len(analysis.results)} analyzers, {len(analysis.passes)} pass(es) -> {final_dir}"
    )
    return TransformOutput(final_dir)


def analyze_and_transform(
    data: Data,
    preprocessing_fn: PreprocessingFn,
    output_dir: PathLike,
    *,
    analyze_split: str = "train",
    engine: EngineLike = None,
    overwrite: bool = False,
    console: Console | None = None,
) -> TransformOutput:
    """Analyze ``preprocessing_fn`` over the data, freeze it, and transform the data.

    Parameters
    ----------
    data : Dataset or dict of str to Dataset
        The raw data, or its splits (``dataset.split()``). With splits, the analysis runs
        on ``analyze_split`` and every split is transformed, as TFX's Transform does.
    preprocessing_fn : callable
        Takes a dict of raw tensors and returns a dict of transformed tensors, using
        ``tensorbridge.transform`` analyzers and mappers and any TF ops.
    output_dir : path
        Receives ``transform_fn/`` (a SavedModel), ``transformed_data/`` (Parquet, one
        directory per split) and ``transform_metadata.json``; written atomically.
    analyze_split : str, default "train"
        The split to analyze when ``data`` is a dict.
    engine : "local", "spark", an engine object, or None
        Where the passes run; default the data's own engine.
    overwrite : bool
        Replace an existing ``output_dir``.

    Returns
    -------
    TransformOutput

    Examples
    --------
    >>> import tensorbridge as tb, tensorbridge.transform as tbt  # doctest: +SKIP
    >>> def preprocessing_fn(inputs):  # doctest: +SKIP
    ...     return {"fare_xf": tbt.scale_to_z_score(tbt.fill_missing(inputs["fare"], 0.0))}
    >>> out = tbt.analyze_and_transform(taxi.split(), preprocessing_fn, "out/transform")
    """
    return _run(
        data,
        preprocessing_fn,
        output_dir,
        materialize=True,
        analyze_split=analyze_split,
        engine=engine,
        overwrite=overwrite,
        console=console,
    )


def analyze(
    data: Data,
    preprocessing_fn: PreprocessingFn,
    output_dir: PathLike,
    *,
    analyze_split: str = "train",
    engine: EngineLike = None,
    overwrite: bool = False,
    console: Console | None = None,
) -> TransformOutput:
    """Analyze and freeze ``preprocessing_fn`` without transforming the data."""
    return _run(
        data,
        preprocessing_fn,
        output_dir,
        materialize=False,
        analyze_split=analyze_split,
        engine=engine,
        overwrite=overwrite,
        console=console,
    )


def transform(data: Dataset, transform_output: TransformOutput | PathLike) -> Dataset:
    """Apply a saved transform_fn to new data (lazy; ``.write_parquet(...)`` to save it)."""
    output = (
        transform_output
        if isinstance(transform_output, TransformOutput)
        else TransformOutput(transform_output)
    )
    return output.transform(data)
