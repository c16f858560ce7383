"""ExampleGen: read CSV, Parquet or JSON lines and split it into Parquet splits."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tensorbridge.errors import ConfigError
from tensorbridge.pipeline.artifacts import DataPath, Examples
from tensorbridge.pipeline.component import component
from tensorbridge.pipeline.components._common import Output, check_engine, column_types

__all__ = ["ExampleGen"]

FORMATS = ("csv", "parquet", "json")
_ALIASES = {"jsonl": "json", "ndjson": "json", "pq": "parquet", "tsv": "csv"}


def _format(input_path: str, fmt: str | None) -> str:
    if fmt is None:
        from tensorbridge.cli.sources import detect_format

        try:
            return detect_format(input_path)
        except ConfigError:
            raise ConfigError(
                f"ExampleGen: cannot tell the format of input_path={input_path!r} from its "
                f"name; pass format= one of {list(FORMATS)}."
            ) from None
    kind = _ALIASES.get(str(fmt).lower(), str(fmt).lower())
    if kind not in FORMATS:
        raise ConfigError(
            f"ExampleGen: format={fmt!r} is not one of {list(FORMATS)} (or None to tell it "
            "from the file name); pass e.g. format='csv'."
        )
    return kind


def _ratios(split_ratios: Any) -> dict[str, float]:
    if not isinstance(split_ratios, Mapping) or not split_ratios:
        raise ConfigError(
            f"ExampleGen: split_ratios={split_ratios!r} must be a non-empty dict of split "
            'name -> ratio, e.g. {"train": 2, "eval": 1}.'
        )
    for name, ratio in split_ratios.items():
        if not isinstance(name, str) or not name or name.startswith((".", "_")) or "/" in name:
            raise ConfigError(
                f"ExampleGen: split_ratios has the split name {name!r}; names must be "
                "non-empty, contain no '/', and not start with '.' or '_' (they become "
                "directory names), e.g. 'train'."
            )
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not ratio > 0:
            raise ConfigError(
                f"ExampleGen: split_ratios[{name!r}]={ratio!r} must be a positive number, "
                'e.g. {"train": 2, "eval": 1}.'
            )
    return dict(split_ratios)


def _key(split_key: Any) -> list[str] | None:
    if split_key is None:
        return None
    keys = [split_key] if isinstance(split_key, str) else split_key
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise ConfigError(
            f"ExampleGen: split_key={split_key!r} must be a list of column names (e.g. "
            '["trip_id"]) or None to hash the whole row.'
        )
    return list(keys)


@component
def ExampleGen(  # noqa: N802 - components are named like TFX's, in CamelCase
    examples: Output[Examples],
    input_path: DataPath,
    format: str | None = None,
    split_ratios: dict[str, float] = {"train": 2, "eval": 1},  # noqa: B006 - never mutated
    split_key: list[str] | None = None,
    engine: str = "local",
    csv_schema: dict[str, str] | None = None,
) -> None:
    """Read a CSV, Parquet or JSON lines data set and split it into Parquet splits.

    As TFX's ExampleGen: every row goes to a split chosen by a deterministic hash (of
    ``split_key``, or of the whole row), in the ratios given (default 2:1 train:eval).

    Parameters
    ----------
    examples : Output[Examples]
        Receives one Parquet directory per split, ``<split>/part-*.parquet``.
    input_path : DataPath
        A file, a directory of files, or a glob.
    format : {"csv", "parquet", "json"}, optional
        The input format (``"jsonl"`` means ``"json"``: one JSON object per line);
        default: told from the file names.
    split_ratios : dict of str to number
        Split names and their ratios, e.g. ``{"train": 8, "eval": 1, "test": 1}``.
    split_key : list of str, optional
        Columns whose values decide the split (all rows of a user in one split);
        default: the whole row.
    engine : {"local", "spark"}
        Where the reading, splitting and writing run.
    csv_schema : dict of str to str, optional
        Types for some columns of a CSV or JSON input (``{"zip": "string"}``); the other
        columns are inferred. Not allowed with Parquet, whose types are stored.

    Notes
    -----
    Metadata: ``splits`` (names, in order), ``rows`` (split -> row count),
    ``columns`` (column -> Arrow type), ``format`` and ``source``. Reading a Spark
    table directly is not supported: write it to Parquet first (``DataPath`` must name
    files, whose content the runner fingerprints for the cache).

    Raises
    ------
    ConfigError
        For an unknown format or engine, bad split ratios or key, or ``csv_schema``
        given with Parquet input.
    """
    from tensorbridge.io.readers import read_csv, read_json, read_parquet

    engine = check_engine(engine, "ExampleGen")
    kind = _format(str(input_path), format)
    ratios = _ratios(split_ratios)
    key = _key(split_key)
    if csv_schema is not None and not isinstance(csv_schema, Mapping):
        raise ConfigError(
            f"ExampleGen: csv_schema={csv_schema!r} must be a dict of column -> type, e.g. "
            '{"pickup_census_tract": "string"}.'
        )
    if kind == "csv":
        raw = read_csv(str(input_path), schema=csv_schema, engine=engine)
    elif kind == "json":
        raw = read_json(str(input_path), schema=csv_schema, engine=engine)
    else:
        if csv_schema:
            raise ConfigError(
                "ExampleGen: csv_schema applies to CSV and JSON input only; Parquet files "
                "store their types. Remove csv_schema=, or cast the columns upstream."
            )
        raw = read_parquet(str(input_path), engine=engine)
    rows: dict[str, int] = {}
    for name, part in raw.split(ratios, key=key).items():
        written = part.write_parquet(Path(examples.path) / name, overwrite=True)
        rows[name] = written.num_rows
    examples.metadata.update(
        {
            "splits": list(rows),
            "rows": rows,
            "columns": column_types(raw.schema),
            "format": kind,
            "source": str(input_path),
        }
    )
