from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MODULES = ["tensorbridge", "tensorbridge.io", "tensorbridge.engine", "tensorbridge.errors"]


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_exists(module: str) -> None:
    loaded = importlib.import_module(module)
    for name in loaded.__all__:
        assert getattr(loaded, name) is not None, f"{module}.{name}"


def test_import_is_light() -> None:
    """`import tensorbridge` loads neither TensorFlow nor PySpark (nor even pyarrow)."""
    code = (
        "import sys, tensorbridge; "
        "heavy = ('tensorflow', 'pyspark', 'pyarrow', 'pandas'); "
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == ""


def test_reading_data_does_not_load_tensorflow_or_spark(taxi_csv: object) -> None:
    code = (
        "import sys, tensorbridge as tb; "
        f"tb.read_csv({str(taxi_csv)!r}).split()['train'].count_rows(); "
        "print(','.join(m for m in ('tensorflow', 'pyspark') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == ""


def test_unknown_attribute() -> None:
    import tensorbridge

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = tensorbridge.nope  # type: ignore[attr-defined]
