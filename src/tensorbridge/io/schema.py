"""Arrow type names and schema overrides given by users."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias, Union

import pyarrow as pa

from tensorbridge.errors import SchemaError

SchemaLike: TypeAlias = Union[pa.Schema, Mapping[str, Union[pa.DataType, str]]]  # noqa: UP007

_ALIASES = {
    "int": "int64",
    "integer": "int64",
    "long": "int64",
    "float": "float64",
    "double": "float64",
    "str": "string",
    "text": "string",
    "boolean": "bool",
    "bytes": "binary",
    "timestamp": "timestamp[us]",
}


def to_arrow_type(value: pa.DataType | str, *, field: str = "?") -> pa.DataType:
    """Turn a type or a type name (``"float64"``, ``"string"``, ``"timestamp[s]"``) into Arrow.

    Parameters
    ----------
    value : pyarrow.DataType or str
        The type, or its name.
    field : str
        The field it is for, named in the error message.
    """
    if isinstance(value, pa.DataType):
        return value
    name = _ALIASES.get(str(value).strip().lower(), str(value).strip().lower())
    if name.startswith("timestamp[") and name.endswith("]"):
        unit = name[len("timestamp[") : -1]
        if unit in ("s", "ms", "us", "ns"):
            return pa.timestamp(unit)
    try:
        return pa.type_for_alias(name)
    except (ValueError, KeyError) as err:
        raise SchemaError(
            f"Unknown type {value!r} for field {field!r}. Use an Arrow type name such as "
            "'int64', 'float64', 'string', 'bool', 'binary', 'date32' or 'timestamp[us]', "
            "or a pyarrow.DataType."
        ) from err


def overrides_from(schema: SchemaLike | None) -> dict[str, pa.DataType]:
    """Normalise a ``schema=`` argument into ``{column: arrow type}``."""
    if schema is None:
        return {}
    if isinstance(schema, pa.Schema):
        return {f.name: f.type for f in schema}
    return {name: to_arrow_type(t, field=name) for name, t in schema.items()}


def check_overrides_known(
    overrides: Mapping[str, pa.DataType], names: list[str], where: str
) -> None:
    """Raise if ``schema=`` names a column the data does not have."""
    unknown = [name for name in overrides if name not in names]
    if unknown:
        raise SchemaError(
            f"schema= names column(s) {unknown} that {where} does not have. "
            f"Its columns are: {names}. Check the spelling (names are case-sensitive)."
        )
