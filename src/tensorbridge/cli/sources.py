"""Opening a data path given on the command line."""

from __future__ import annotations

from pathlib import Path

from tensorbridge.errors import ConfigError
from tensorbridge.io.csv import CSV_SUFFIXES
from tensorbridge.io.dataset import Dataset
from tensorbridge.io.jsonl import JSON_SUFFIXES
from tensorbridge.io.parquet import PARQUET_SUFFIXES
from tensorbridge.io.readers import read_csv, read_json, read_parquet

FORMATS = ("csv", "parquet", "json")


def detect_format(path: str) -> str:
    """``csv``, ``parquet`` or ``json`` from a file name or the files in a directory."""
    candidates = [path]
    folder = Path(path)
    if folder.is_dir():
        candidates = [
            p.name
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(("_", "."))
        ]
    for name in candidates:
        lowered = name.lower()
        if lowered.endswith(PARQUET_SUFFIXES):
            return "parquet"
        if lowered.endswith(JSON_SUFFIXES):
            return "json"
        if lowered.endswith(CSV_SUFFIXES):
            return "csv"
    raise ConfigError(
        f"Cannot tell the format of {path!r} from its name. Pass --format csv|parquet|json."
    )


def parse_pairs(items: tuple[str, ...], *, option: str, example: str) -> dict[str, str]:
    """``("a=1", "b=x")`` -> ``{"a": "1", "b": "x"}`` for a repeatable NAME=VALUE option."""
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigError(f"{option} {item!r} is not NAME=VALUE (e.g. {option} {example}).")
        pairs[name.strip()] = value.strip()
    return pairs


def parse_schema(items: tuple[str, ...]) -> dict[str, str] | None:
    """``("fare=float64", "zip=string")`` -> ``{"fare": "float64", "zip": "string"}``."""
    return parse_pairs(items, option="--schema", example="fare=float64") or None


def open_dataset(
    path: str,
    *,
    fmt: str | None,
    engine: str | None,
    on_bad_rows: str = "raise",
    delimiter: str = ",",
    na_values: tuple[str, ...] = (),
    schema: tuple[str, ...] = (),
) -> Dataset:
    """A dataset for a CLI path argument (CSV options apply to CSV input only)."""
    kind = fmt or detect_format(path)
    if kind == "csv":
        return read_csv(
            path,
            engine=engine,
            on_bad_rows=on_bad_rows,  # type: ignore[arg-type]
            delimiter=delimiter,
            na_values=na_values,
            schema=parse_schema(schema),
        )
    if kind == "json":
        return read_json(
            path,
            engine=engine,
            on_bad_rows=on_bad_rows,  # type: ignore[arg-type]
            schema=parse_schema(schema),
        )
    return read_parquet(path, engine=engine)
