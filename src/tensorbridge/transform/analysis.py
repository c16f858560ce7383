"""The analysis passes: as many passes over the data as analyzer dependencies need."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from tensorbridge.engine.accumulators import NullCounts
from tensorbridge.io.dataset import Dataset
from tensorbridge.transform.inputs import InputColumn, input_columns
from tensorbridge.transform.tracing import (
    PhaseAccumulator,
    PreprocessingFn,
    Traced,
    remember,
    save,
    trace,
)


@dataclass
class PassReport:
    """What one analysis pass computed, and how long it took."""

    number: int
    analyzers: list[str]
    rows: int
    seconds: float


@dataclass
class Analysis:
    """Everything analysis found: inputs, analyzer results, the final trace."""

    columns: list[InputColumn]
    results: dict[str, dict[str, Any]]
    kinds: dict[str, str]
    features: dict[str, list[str]]
    final: Traced
    rows: int
    passes: list[PassReport] = field(default_factory=list)
    missing: dict[str, int] = field(default_factory=dict)  # per input, over every split


def count_nulls(datasets: Sequence[Dataset]) -> tuple[dict[str, int], int]:
    """Missing values per column over all ``datasets``, and the rows of the first."""
    totals: dict[str, int] = {}
    first_rows = 0
    for position, dataset in enumerate(datasets):
        counts = dataset.aggregate(NullCounts())
        rows = counts.pop("")
        if position == 0:
            first_rows = rows
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
    return totals, first_rows


def _write_vocabulary(path: Path, extracted: dict[str, Any], store_frequency: bool) -> None:
    tokens = extracted["tokens"]
    counts = extracted["counts"]
    lines = (
        [b"%d %s" % (int(c), t) for t, c in zip(tokens, counts, strict=True)]
        if store_frequency
        else list(tokens)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(b"".join(line + b"\n" for line in lines))
    tmp.rename(path)


def run_analysis(
    dataset: Dataset,
    preprocessing_fn: PreprocessingFn,
    staging: Path,
    *,
    all_data: Sequence[Dataset] = (),
    console: Console | None = None,
) -> Analysis:
    """Analyze ``dataset`` and return the final trace with every analyzer resolved.

    Pass 0 counts missing values (over ``all_data`` too), which decides whether an input
    is dense or sparse; each further pass computes the analyzers whose inputs are ready.
    """
    console = console or Console(stderr=True)
    started = time.perf_counter()
    with console.status("Counting rows and missing values..."):
        nulls, rows = count_nulls([dataset, *all_data])
    console.print(
        f"[dim]pass 0:[/dim] {rows:,} rows, missing values counted "
        f"({time.perf_counter() - started:.1f} s)"
    )
    columns = input_columns(dataset.schema, nulls)
    vocabulary_dir = staging / "vocabularies"
    results: dict[str, dict[str, Any]] = {}
    kinds: dict[str, str] = {}
    features: dict[str, list[str]] = {}
    passes: list[PassReport] = []
    number = 0
    while True:
        traced = trace(preprocessing_fn, columns, results, vocabulary_dir, final=False)
        pending = traced.context.pending
        if not pending:
            break
        number += 1
        ready = {key: p for key, p in pending.items() if p.ready}
        path = staging / f"pass_{number}"
        if dataset.engine.name == "local":
            remember(str(path), traced.function)  # this process runs it: no need to save
        else:
            save(traced, path)  # executors load it from disk
        accumulator = PhaseAccumulator(
            str(path), columns, {key: p.combiner for key, p in ready.items()}
        )
        names = ", ".join(sorted(ready))
        started = time.perf_counter()
        with console.status(f"Analysis pass {number}: {len(ready)} analyzer(s) ({names})..."):
            extracted = dataset.aggregate(accumulator)
        seconds = time.perf_counter() - started
        for key, values in extracted.items():
            kinds[key] = ready[key].kind
            features[key] = ready[key].features
            if ready[key].kind == "vocabulary":
                store = bool(getattr(ready[key].combiner, "store_frequency", False))
                _write_vocabulary(vocabulary_dir / key, values, store)
                results[key] = {"filename": key, **values}
            else:
                results[key] = {k: np.asarray(v) for k, v in values.items()}
        passes.append(PassReport(number, sorted(ready), rows, seconds))
        console.print(
            f"[dim]pass {number}:[/dim] {len(ready)} analyzer(s) in {seconds:.1f} s "
            f"({rows / max(seconds, 1e-9):,.0f} rows/s): {names}"
        )
    final = trace(preprocessing_fn, columns, results, vocabulary_dir, final=True)
    used = set(final.context.features_of(*final.context.output_tensors))
    if used != {c.name for c in columns}:
        # The transform_fn takes only the inputs its outputs need (not, say, unused ids).
        columns = [c for c in columns if c.name in used]
        final = trace(preprocessing_fn, columns, results, vocabulary_dir, final=True)
    return Analysis(columns, results, kinds, features, final, rows, passes, nulls)
