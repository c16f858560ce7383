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
from tensorbridge.io.source import DEFAULT_BATCH_SIZE, Source

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
    options = pajson.ParseOptions(
        explicit_schema=schema if len(schema) else None,
        unexpected_field_behavior="infer" if infer_others else "error",
    )
    return pajson.read_json(
        io.BytesIO(b"".join(lines)),
        read_options=pajson.ReadOptions(use_threads=False, block_size=1 << 26),
        parse_options=options,
    )


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


class JsonLinesSource(Source):
    """JSON lines files (one fragment per file); use :func:`tensorbridge.read_json`."""

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

    @property
    def schema(self) -> pa.Schema:
        """Declared types from ``schema=``, the rest inferred from the first rows."""
        return self._schema

    @property
    def num_fragments(self) -> int:
        """One fragment per file."""
        return len(self.files)

    def fragment_name(self, index: int) -> str:
        """The path of file ``index``."""
        return self.files[index]

    def describe(self) -> str:
        """E.g. ``"JSON lines events.jsonl"``."""
        if len(self.files) == 1:
            return f"JSON lines {self.files[0]}"
        return f"JSON lines {len(self.files)} files ({self.files[0]}, ...)"

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
        fields = []
        for f in inferred:
            type_ = overrides.get(f.name, f.type)
            if pa.types.is_null(type_):
                type_ = pa.string()  # a field that is always null in the sample
            fields.append(pa.field(f.name, type_))
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
            raise BadInputError(
                f"{self.files[0]}: could not infer the field types from the first "
                f"{len(sample)} lines ({err}). A field holds values of different kinds; "
                "declare its type with schema={...}.",
                path=self.files[0],
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
            bad.append(BadRow(path, number, reason))
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
