"""The public API of tensorbridge.evaluate, its doctests, and a light import."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

import tensorbridge.evaluate

MODULES = [
    "tensorbridge.evaluate",
    "tensorbridge.evaluate.api",
    "tensorbridge.evaluate.metrics",
    "tensorbridge.evaluate.slicing",
    "tensorbridge.evaluate.thresholds",
]


def test_every_public_name_exists() -> None:
    assert set(tensorbridge.evaluate.__all__) >= {
        "evaluate",
        "Slice",
        "ValueThreshold",
        "ChangeThreshold",
        "EvalResult",
    }
    for name in tensorbridge.evaluate.__all__:
        assert getattr(tensorbridge.evaluate, name) is not None, name


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module: str) -> None:
    failures, tried = doctest.testmod(importlib.import_module(module), verbose=False)
    assert failures == 0
    assert tried > 0


def test_import_does_not_load_tensorflow() -> None:
    code = (
        "import sys, tensorbridge.evaluate; "
        "print(','.join(m for m in ('tensorflow', 'pyspark', 'sklearn', 'rich') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == ""
