"""Fixtures for the transform tests: run a preprocessing_fn over a small Arrow table."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from rich.console import Console

import tensorbridge as tb
import tensorbridge.transform as tbt

_counter = itertools.count()
QUIET = Console(quiet=True)


def run(
    preprocessing_fn: Callable[[Any], Any],
    table: pa.Table,
    tmp_path: Path,
    *,
    engine: object = None,
) -> tuple[pa.Table, tbt.TransformOutput]:
    out = tmp_path / f"transform_{next(_counter)}"
    output = tbt.analyze_and_transform(
        tb.from_arrow(table), preprocessing_fn, out, engine=engine, console=QUIET
    )
    data = output.transformed_data
    assert isinstance(data, tb.Dataset)
    return data.to_table(), output


@pytest.fixture
def transform_run() -> Callable[..., tuple[pa.Table, tbt.TransformOutput]]:
    """``transform_run(fn, table, tmp_path, engine=None) -> (transformed table, output)``."""
    return run
