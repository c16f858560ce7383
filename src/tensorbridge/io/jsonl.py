"""JSON lines source: one JSON object per line, read in chunks of lines.

Each chunk is parsed by pyarrow with the data set's explicit schema. When a chunk fails,
its lines are checked one by one with the standard library to find the bad ones: with
``on_bad_rows="raise"`` the first bad line raises an error naming file, line and field;
with ``"skip"`` bad lines are dropped and reported, and the good ones are parsed again.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson

from tensorbridge.errors import BadInputError, ConfigError
from tensorbridge.io.bad_rows import BadRow, BadRowReport, OnBadRows, check_on_bad_rows
from tensorbridge.io.paths import PathLike, expand_paths, open_binary
from tensorbridge.io.schema import SchemaLike, check_overrides_known, overrides_from
from tensorbridge.io.source import DEFAULT_BATCH_SIZE, FileSource

JSON_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson")
DEFAULT_INFER_ROWS = 100_000


def _chunks(path: str, size: int) -> Iterator[tuple[list[int], list[bytes]]]:
    """Yield (line numbers, non-blank lines) in chunks of at most ``size`` lines."""
    numbers: list[int] = []
    lines: list[bytes] = []
    with open_binary(path) as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                numbers.append(number)
                lines.append(line if line.endswith(b"\n") else line + b"\n")
                if len(lines) >= size:
                    yield numbers, lines
                    numbers, lines = [], []
    if lines:
        yield numbers, lines


def _parse(lines: list[bytes], schema: pa.Schema, *, infer_others: bool = False) -> pa.Table:
    """Parse JSON lines with pyarrow; dates and timestamps are parsed as text, then cast."""
    as_text = pa.schema(
        [pa.field(f.name, pa.string()) if pa.types.is_temporal(f.type) else f for f in schema]
    )
    options = pajson.ParseOptions(
        explicit_schema=as_text if len(as_text) else None,
        unexpected_field_behavior="infer" if infer_others else "error",
    )
    table = pajson.read_json(
        io.BytesIO(b"".join(lines)),
        read_options=pajson.ReadOptions(use_threads=False, block_size=1 << 26),
        parse_options=options,
    )
    temporal = {f.name: f.type for f in schema if pa.types.is_temporal(f.type)}
    for name, type_ in temporal.items():
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table.column(name).cast(type_))
    return table


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _first_kind_conflict(
    numbers: list[int], lines: list[bytes]
) -> tuple[int, str, str, str] | None:
    """(line, field, kind seen first, kind now) for the first field that changes kind."""
    first: dict[str, str] = {}
    for number, line in zip(numbers, lines, strict=False):
        record = json.loads(line)
        for key, value in record.items():
            if value is None:
                continue
            kind = _kind(value)
            seen = first.setdefault(key, kind)
            if seen != kind:
                return number, key, seen, kind
    return None


def _normalize_inferred(type_: pa.DataType) -> pa.DataType:
    """CSV's inference rules: always-null fields are strings, timestamps microseconds."""
    if pa.types.is_null(type_):
        return pa.string()
    if pa.types.is_timestamp(type_) or pa.types.is_date(type_):
        return pa.timestamp("us", tz=getattr(type_, "tz", None))
    return type_


def _is_text_like(type_: pa.DataType) -> bool:
    """Types whose JSON values are strings (dates and timestamps are ISO-8601 text)."""
    return bool(
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_timestamp(type_)
        or pa.types.is_date(type_)
    )


def _value_problem(value: Any, type_: pa.DataType) -> str | None:
    """Why a JSON value does not fit an Arrow type, or None when it fits."""
    if value is None:
        return None
    if pa.types.is_boolean(type_):
        ok = isinstance(value, bool)
    elif pa.types.is_integer(type_):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif pa.types.is_floating(type_):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif _is_text_like(type_):
        ok = isinstance(value, str)
    elif pa.types.is_list(type_) or pa.types.is_large_list(type_):
        if not isinstance(value, list):
            return f"expected a list, got {type(value).__name__} {value!r:.60}"
        for item in value:
            problem = _value_problem(item, type_.value_type)
            if problem:
                return f"list item: {problem}"
        return None
    elif pa.types.is_struct(type_):
        if not isinstance(value, dict):
            return f"expected an object, got {type(value).__name__} {value!r:.60}"
        names = {type_.field(i).name: type_.field(i).type for i in range(type_.num_fields)}
        for key, item in value.items():
            if key not in names:
                return f"unexpected nested field {key!r}"
            problem = _value_problem(item, names[key])
            if problem:
                return f"field {key!r}: {problem}"
        return None
    else:
        return None  # leave exotic types to pyarrow
    return None if ok else f"{value!r:.60} is not a valid {type_}"


def _line_problem(
    line: bytes, schema: pa.Schema, *, allow_unknown: bool = False
) -> tuple[str | None, str] | None:
    """(field, reason) when a line does not fit the schema, else None.

    With ``allow_unknown``, fields missing from ``schema`` are accepted (used while
    inferring, when the schema holds only the declared fields).
    """
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, f"not valid JSON ({err})"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {type(record).__name__}"
    for key, value in record.items():
        index = schema.get_field_index(key)
        if index < 0:
            if allow_unknown:
                continue
            return key, f"field {key!r} is not in the schema {schema.names}"
        problem = _value_problem(value, schema.field(index).type)
        if problem:
            return key, problem
    return None


def _first_seen_order(lines: list[bytes], names: list[str]) -> dict[str, int]:
    """Position of each field in the order the records first mention it."""
    order: dict[str, int] = {}
    for line in lines:
        try:
            record = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue  # a bad line (skipped when read with on_bad_rows="skip")
        for key in record if isinstance(record, dict) else ():
            order.setdefault(key, len(order))
        if len(order) >= len(names):
            break
    return {name: order.get(name, len(order) + i) for i, name in enumerate(names)}


class JsonLinesSource(FileSource):
    """JSON lines files (one fragment per file); use :func:`tensorbridge.read_json`."""

    kind = "JSON lines"

    def __init__(
        self,
        paths: PathLike | Sequence[PathLike],
        *,
        schema: SchemaLike | None = None,
        infer_rows: int | None = DEFAULT_INFER_ROWS,
        on_bad_rows: OnBadRows = "raise",
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        super().__init__()
        if infer_rows is not None and infer_rows < 1:
            raise ConfigError(f"infer_rows must be >= 1 or None (all rows), got {infer_rows}.")
        self.files = expand_paths(paths, suffixes=JSON_SUFFIXES, what="JSON lines")
        self.on_bad_rows = check_on_bad_rows(on_bad_rows)
        self.batch_size = batch_size
        self.infer_rows = infer_rows
        self._schema = self._infer_schema(overrides_from(schema))

    def _infer_schema(self, overrides: dict[str, pa.DataType]) -> pa.Schema:
        sample: list[bytes] = []
        numbers: list[int] = []
        limit = self.infer_rows
        for path in self.files:
            for chunk_numbers, lines in _chunks(path, limit or 1_000_000):
                sample += lines
                numbers += chunk_numbers
                if limit is not None and len(sample) >= limit:
                    break
            if limit is not None and len(sample) >= limit:
                break
        sample = sample[:limit] if limit is not None else sample
        if not sample:
            if not overrides:
                raise BadInputError(
                    f"{self.files[0]} holds no JSON records, so no schema can be inferred. "
                    "Pass schema={...} to read an empty file.",
                    path=self.files[0],
                )
            return pa.schema(list(overrides.items()))
        declared = pa.schema(list(overrides.items()))
        try:
            inferred = _parse(sample, declared, infer_others=True).schema
        except pa.ArrowInvalid:
            inferred = self._infer_from_good_lines(numbers, sample, declared)
        check_overrides_known(overrides, inferred.names, f"the JSON data {self.files[0]!r}")
        order = _first_seen_order(sample, inferred.names)
        fields = [
            pa.field(f.name, overrides.get(f.name, _normalize_inferred(f.type)))
            for f in sorted(inferred, key=lambda f: order[f.name])
        ]
        return pa.schema(fields)

    def _infer_from_good_lines(
        self, numbers: list[int], sample: list[bytes], declared: pa.Schema
    ) -> pa.Schema:
        """Inference after pyarrow refused the sample: find bad lines, infer from the rest."""
        good = []
        for number, line in zip(numbers, sample, strict=False):
            problem = _line_problem(line, declared, allow_unknown=True)
            if problem is None:
                good.append(line)
            elif self.on_bad_rows == "raise":
                raise self._error(self.files[0], number, problem[0], problem[1])
        try:
            return _parse(good, declared, infer_others=True).schema
        except pa.ArrowInvalid as err:
            good_numbers = [n for n, line in zip(numbers, sample, strict=False) if line in good]
            conflict = _first_kind_conflict(good_numbers, good)
            if conflict is None:
                raise BadInputError(
                    f"{self.files[0]}: could not infer the field types ({err}); declare them "
                    "with schema={...}.",
                    path=self.files[0],
                ) from None
            at_line, field, seen, now = conflict
            raise BadInputError(
                f"{self.files[0]}, line {at_line}, field {field!r}: {now} where earlier lines "
                f"hold {seen}, so its type cannot be inferred. Declare it with "
                f"schema={{{field!r}: ...}} (e.g. 'string'); with on_bad_rows='skip' the "
                "lines that do not fit are then skipped.",
                path=self.files[0],
                line=at_line,
                column=field,
            ) from None

    def read_fragment(self, index: int, report: BadRowReport) -> Iterator[pa.RecordBatch]:
        """Yield the batches of file ``index``."""
        path = self.files[index]
        for numbers, lines in _chunks(path, self.batch_size):
            try:
                table = _parse(lines, self._schema)
            except pa.ArrowInvalid as err:
                table = self._parse_checking_lines(path, numbers, lines, report, err)
            table = table.select(self._schema.names).cast(self._schema)
            yield from table.to_batches(max_chunksize=self.batch_size)

    def _parse_checking_lines(
        self,
        path: str,
        numbers: list[int],
        lines: list[bytes],
        report: BadRowReport,
        err: pa.ArrowInvalid,
    ) -> pa.Table:
        good: list[bytes] = []
        bad: list[BadRow] = []
        for number, line in zip(numbers, lines, strict=True):
            problem = _line_problem(line, self._schema)
            if problem is None:
                good.append(line)
                continue
            field, reason = problem
            if self.on_bad_rows == "raise":
                raise self._error(path, number, field, reason)
            where = f"field {field!r}: " if field and not reason.startswith("field") else ""
            bad.append(BadRow(path, number, where + reason))
        if not bad:
            # pyarrow refused the chunk but every line looks fine: surface pyarrow's reason.
            raise BadInputError(
                f"{path}, lines {numbers[0]}-{numbers[-1]}: could not parse: {err}", path=path
            )
        report.add(bad)
        if not good:
            return self._schema.empty_table()
        return _parse(good, self._schema)

    def _error(self, path: str, line: int, field: str | None, reason: str) -> BadInputError:
        where = f"{path}, line {line}" + (f", field {field!r}" if field else "")
        hint = (
            "Fix the line, declare the field's type with schema={...}, raise infer_rows= (or "
            "None) if the type was inferred from too few rows, or pass on_bad_rows='skip' to "
            "skip such lines (they are counted and reported)."
        )
        return BadInputError(f"{where}: {reason}. {hint}", path=path, line=line, column=field)
