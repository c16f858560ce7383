"""Helpers shared by the standard components (kept free of heavy imports)."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tensorbridge.errors import ConfigError
from tensorbridge.pipeline.artifacts import ArtifactHandle, Input, Output

if TYPE_CHECKING:
    import pyarrow as pa

    from tensorbridge.io.dataset import Dataset

__all__ = [
    "ENGINES",
    "Input",
    "Output",
    "check_engine",
    "column_types",
    "json_number",
    "json_ready",
    "link_tree",
    "pick_split",
    "read_split",
    "split_names",
    "statistics_splits",
    "write_json",
]

ENGINES = ("local", "spark")


def check_engine(engine: object, component: str) -> str:
    """``engine`` if it is ``"local"`` or ``"spark"``, else a ConfigError naming the fix."""
    if engine not in ENGINES:
        raise ConfigError(
            f"{component}: engine={engine!r} is not one of {list(ENGINES)}; pass "
            'engine="local" (this machine) or engine="spark" (PySpark and Java 17+).'
        )
    return str(engine)


def _is_split_dir(path: Path) -> bool:
    return path.is_dir() and not path.name.startswith((".", "_"))


def split_names(artifact: ArtifactHandle, component: str, argument: str) -> list[str]:
    """The splits of an Examples artifact: its ``splits`` property, else its subdirectories.

    The property keeps the producer's order (``train`` before ``eval``); without it the
    directories are listed with ``train`` first, then by name.
    """
    listed = artifact.metadata.get("splits")
    if isinstance(listed, list) and listed:
        missing = [s for s in listed if not (artifact.path / str(s)).is_dir()]
        if missing:
            raise ConfigError(
                f"{component}: the {argument} artifact at {str(artifact.path)!r} lists the "
                f"splits {listed} but lacks the directories {missing}; produce it again "
                "with ExampleGen or Transform."
            )
        return [str(s) for s in listed]
    folders = artifact.path.iterdir() if artifact.path.is_dir() else iter(())
    found = [p.name for p in folders if _is_split_dir(p)]
    if not found:
        raise ConfigError(
            f"{component}: the {argument} artifact at {str(artifact.path)!r} has no split "
            "directories (train/, eval/, ...); wire it to the examples output of ExampleGen "
            "or the transformed_examples output of Transform."
        )
    return sorted(found, key=lambda name: (name != "train", name))


def read_split(artifact: ArtifactHandle, split: str, engine: str | None = None) -> Dataset:
    """The Parquet data of one split of an Examples artifact."""
    from tensorbridge.io.readers import read_parquet

    return read_parquet(artifact.path / split, engine=engine)


def pick_split(splits: list[str], wanted: str, component: str, argument: str) -> str:
    """``wanted`` if it is one of ``splits``, else a ConfigError listing them."""
    if wanted not in splits:
        raise ConfigError(
            f"{component}: {argument}={wanted!r} is not one of the splits {splits}; pass "
            f"{argument}= with one of them."
        )
    return wanted


def column_types(schema: pa.Schema) -> dict[str, str]:
    """Column name -> Arrow type string (``{"fare": "double", "company": "string"}``)."""
    return {field.name: str(field.type) for field in schema}


def json_number(value: Any) -> Any:
    """A float ready for JSON metadata: NaN and infinities become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_ready(data: Mapping[str, Any]) -> dict[str, Any]:
    """A flat dict of numbers with NaN/inf replaced by None (metadata must be strict JSON)."""
    return {str(k): json_number(float(v)) if _numeric(v) else v for k, v in data.items()}


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON (NaN written as null), atomically."""
    text = json.dumps(_strict(data), indent=2, sort_keys=False) + "\n"
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _strict(value: Any) -> Any:
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, Mapping):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def link_tree(source: Path, target: Path) -> int:
    """Recreate ``source`` at ``target`` with hard links (copies across file systems).

    Returns the number of files. Both trees are then complete on their own, and no
    symlink points from one artifact into another.
    """
    count = 0
    for folder, _dirs, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in files:
            src, dst = Path(folder) / name, target / relative / name
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
            count += 1
    return count


def statistics_splits(artifact: ArtifactHandle, component: str) -> list[str]:
    """The splits of an ExampleStatistics artifact (its ``<split>.json`` files)."""
    listed = artifact.metadata.get("splits")
    if isinstance(listed, list) and listed:
        names = [str(s) for s in listed]
    else:
        found = sorted(p.stem for p in artifact.path.glob("*.json") if not p.name.startswith("."))
        names = sorted(found, key=lambda name: (name != "train", name))
    missing = [s for s in names if not (artifact.path / f"{s}.json").is_file()]
    if not names or missing:
        raise ConfigError(
            f"{component}: the statistics artifact at {str(artifact.path)!r} has no "
            f"statistics file for {missing or 'any split'}; wire it to StatisticsGen's "
            "statistics output."
        )
    return names
