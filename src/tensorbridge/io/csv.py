"""CSV source: streaming, typed, with errors that name the file, line and column.

Reading takes one of two paths:

* ``on_bad_rows="raise"`` (the default) lets pyarrow parse and convert every column to
  its type in C++; the first malformed row stops the read with a :class:`BadInputError`.
* ``on_bad_rows="skip"`` parses every column as bytes and casts with Arrow compute;
  a failed cast is narrowed down to the offending rows by bisection, so only those rows
  are dropped, and they are counted in the source's :class:`BadRowReport`.

pyarrow reports neither the physical line of a row nor, for conversion errors, the row
at all. On the error path only, :func:`_scan_records` re-reads the file with the
standard library's ``csv`` module to find the exact physical line (quoted fields may
span several lines).
"""

from __future__ import annotations

import csv as stdlib_csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tensorbridge.errors import BadInputError, ConfigError, SchemaError
from tensorbridge.io.bad_rows import BadRow, BadRowReport, OnBadRows, check_on_bad_rows
from tensorbridge.io.paths import PathLike, expand_paths, open_binary
from tensorbridge.io.schema import SchemaLike, check_overrides_known, overrides_from
from tensorbridge.io.source import DEFAULT_BATCH_SIZE, FileSource

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")
DEFAULT_INFER_ROWS = 100_000
_BLOCK_SIZE = 1 << 22
_TRUE_VALUES = ["true", "True", "TRUE"]
_FALSE_VALUES = ["false", "False", "FALSE"]
_CONVERSION_ERROR = re.compile(
    r"In CSV column #(?P<col>\d+): (?:Row #\d+: )?CSV conversion error to (?P<type>[^:]+): "
    r"(?:invalid value '(?P<value>.*)'|(?P<utf8>invalid UTF8 data))",
    re.DOTALL,
)


@dataclass(frozen=True)
class CsvFormat:
    """How the CSV files are written."""

    delimiter: str = ","
    quote_char: str = '"'
    header: bool = True
    column_names: tuple[str, ...] | None = None
    na_values: tuple[str, ...] = ()


def _open_text(path: str) -> IO[str]:
    return io.TextIOWrapper(
        open_binary(path), encoding="utf-8", errors="surrogateescape", newline=""
    )


def _pa_stream(path: str) -> pa.NativeFile:
    return pa.input_stream(path, compression="detect")


def _scan_records(path: str, fmt: CsvFormat) -> Iterator[tuple[int, int, list[str]]]:
    """Yield ``(first_line, data_record_index, fields)`` for each data record of a file.

    Lines are 1-based physical lines; blank lines are skipped as pyarrow skips them.
    Invalid UTF-8 bytes come through as lone surrogates (``surrogateescape``).
    """
    with _open_text(path) as text:
        reader = stdlib_csv.reader(text, delimiter=fmt.delimiter, quotechar=fmt.quote_char)
        index = -1 if fmt.header else 0
        line = 1
        for fields in reader:
            if fields:
                if index >= 0:
                    yield line, index, fields
                index += 1
            line = reader.line_num + 1


def _bytes_of_first_lines(path: str, lines: int, *, limit: int = 1 << 28) -> tuple[int, int]:
    """(bytes, lines) up to the end of the first ``lines`` lines, of the file, or of ``limit``.

    A last line without a trailing newline counts as a line.
    """
    seen = 0
    total = 0
    last = b"\n"
    with _pa_stream(path) as stream:
        while total < limit:
            chunk = stream.read(1 << 20)
            if not chunk:
                break
            newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
            if seen + len(newlines) >= lines:
                return total + int(newlines[lines - seen - 1]) + 1, lines
            seen += len(newlines)
            total += len(chunk)
            last = chunk[-1:]
    return max(total, 1), seen + (0 if last == b"\n" else 1)


def _widen(first: pa.DataType, second: pa.DataType) -> pa.DataType:
    """A type that holds values of both inferred types."""
    if first == second or pa.types.is_null(second):
        return first
    if pa.types.is_null(first):
        return second
    numbers = {pa.int64(), pa.float64()}
    if first in numbers and second in numbers:
        return pa.float64()
    return pa.string()


def _normalize_inferred(type_: pa.DataType) -> pa.DataType:
    """Our inference rules on top of pyarrow's: see :func:`infer_column_type`."""
    if pa.types.is_null(type_) or pa.types.is_binary(type_) or pa.types.is_time(type_):
        return pa.string()  # times of day stay text
    if pa.types.is_timestamp(type_) and type_.tz is not None:
        return pa.timestamp("us", tz="UTC")  # zone offsets: instants in UTC
    if pa.types.is_temporal(type_):
        return pa.timestamp("us")
    return type_


def _has_bad_utf8(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _read_header(path: str, fmt: CsvFormat) -> list[str]:
    if fmt.column_names is not None:
        return list(fmt.column_names)
    with _open_text(path) as text:
        reader = stdlib_csv.reader(text, delimiter=fmt.delimiter, quotechar=fmt.quote_char)
        for fields in reader:
            if fields:
                if any(_has_bad_utf8(f) for f in fields):
                    raise BadInputError(
                        f"{path}, line {reader.line_num}: the header holds invalid UTF-8. "
                        "Re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`).",
                        path=path,
                        line=reader.line_num,
                    )
                _check_header(fields, path)
                return fields
    raise BadInputError(
        f"{path} is empty: a CSV file needs a header line. Pass column_names=[...] "
        "for files without a header.",
        path=path,
    )


def _check_header(names: list[str], path: str) -> None:
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            raise BadInputError(
                f"{path}, line 1: column {position} of the header has no name. Name every "
                "column, or pass column_names=[...] to name them yourself.",
                path=path,
                line=1,
            )
        if name in seen:
            raise BadInputError(
                f"{path}, line 1: the header names column {name!r} twice. Column names "
                "must be unique; rename one, or pass column_names=[...].",
                path=path,
                line=1,
                column=name,
            )
        seen.add(name)


def infer_column_type(values: pa.ChunkedArray | pa.Array) -> pa.DataType:
    """Infer the Arrow type of a column of CSV text.

    Tries int64, float64, bool (``true``/``false``, ``True``/``False``, ``TRUE``/``FALSE``)
    and ISO-8601 dates and timestamps (``timestamp[us]``; with a zone offset
    ``timestamp[us, tz=UTC]``), in that order, and falls back to string. A column with
    no values at all is a string column; so are times of day.
    """
    present = pc.drop_null(values)
    if len(present) == 0:
        return pa.string()
    for candidate in (pa.int64(), pa.float64()):
        try:
            pc.cast(present, candidate)
            return candidate
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    if pc.all(pc.is_in(present, value_set=pa.array(_TRUE_VALUES + _FALSE_VALUES))).as_py():
        return pa.bool_()
    if pc.all(pc.match_substring_regex(present, r"^\d{4}-\d{2}-\d{2}")).as_py():
        for candidate in (pa.timestamp("us"), pa.timestamp("us", tz="UTC")):
            try:
                pc.cast(present, candidate)
                return candidate
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
    return pa.string()


class CsvSource(FileSource):
    """CSV files read as a stream of typed Arrow record batches (one fragment per file).

    Use :func:`tensorbridge.read_csv` rather than building this directly.
    """

    kind = "CSV"

    def __init__(
        self,
        paths: PathLike | Sequence[PathLike],
        *,
        schema: SchemaLike | None = None,
        fmt: CsvFormat = CsvFormat(),
        infer_rows: int | None = DEFAULT_INFER_ROWS,
        on_bad_rows: OnBadRows = "raise",
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        super().__init__()
        if len(fmt.delimiter) != 1:
            raise ConfigError(f"delimiter must be one character, got {fmt.delimiter!r}.")
        if infer_rows is not None and infer_rows < 1:
            raise ConfigError(f"infer_rows must be >= 1 or None (all rows), got {infer_rows}.")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}.")
        self.files = expand_paths(paths, suffixes=CSV_SUFFIXES, what="CSV")
        self.fmt = fmt
        self.on_bad_rows = check_on_bad_rows(on_bad_rows)
        self.batch_size = batch_size
        self.infer_rows = infer_rows
        self.column_names = _read_header(self.files[0], fmt)
        overrides = overrides_from(schema)
        check_overrides_known(overrides, self.column_names, f"the CSV file {self.files[0]!r}")
        self.declared = frozenset(overrides)
        self._schema = self._infer_schema(overrides)

    def read_fragment(self, index: int, report: BadRowReport) -> Iterator[pa.RecordBatch]:
        """Yield the typed batches of one file."""
        path = self.files[index]
        self._check_header_of(index)
        if self.on_bad_rows == "raise":
            yield from self._read_strict(path)
        else:
            yield from self._read_skipping(path, report)

    def _check_header_of(self, index: int) -> None:
        if index == 0 or self.fmt.column_names is not None:
            return
        path = self.files[index]
        names = _read_header(path, self.fmt)
        if names != self.column_names:
            raise SchemaError(
                f"{path}, line 1: the header {names} differs from the header of "
                f"{self.files[0]} {self.column_names}. All files of one data set need "
                "the same columns in the same order."
            )

    # -- inference -------------------------------------------------------------------
    def _infer_schema(self, overrides: dict[str, pa.DataType]) -> pa.Schema:
        to_infer = [n for n in self.column_names if n not in overrides]
        inferred: dict[str, pa.DataType] = {}
        if to_infer and self.infer_rows is not None:
            inferred = self._infer_from_first_rows(to_infer)
        elif to_infer:
            inferred = self._infer_from_all_rows(to_infer)
        return pa.schema(
            [
                pa.field(n, overrides[n] if n in overrides else inferred[n])
                for n in self.column_names
            ]
        )

    def _infer_from_first_rows(self, to_infer: list[str]) -> dict[str, pa.DataType]:
        """Pyarrow's own inference over first blocks that hold ``infer_rows`` rows.

        When the first file is shorter, the next files' first rows are looked at too,
        and the types are widened to fit all of them.
        """
        assert self.infer_rows is not None
        remaining = self.infer_rows
        types: dict[str, pa.DataType] = {}
        for index, path in enumerate(self.files):
            self._check_header_of(index)
            block, lines = _bytes_of_first_lines(path, remaining + 1)
            try:
                schema = self._open(path, {}, [], to_infer, block_size=block).schema
            except pa.ArrowInvalid as err:
                raise self._located_error(path, err) from None
            for field in schema:
                if pa.types.is_binary(field.type) and self.on_bad_rows == "raise":
                    try:  # pyarrow infers binary when a value is not UTF-8: say where.
                        self._open(
                            path, {field.name: pa.string()}, [], [field.name], block_size=block
                        )
                    except pa.ArrowInvalid as err:
                        raise self._located_error(path, err) from None
                previous = types.get(field.name)
                types[field.name] = field.type if previous is None else _widen(previous, field.type)
            remaining -= max(lines - 1, 0)
            if remaining <= 0:
                break
        return {name: _normalize_inferred(type_) for name, type_ in types.items()}

    def _infer_from_all_rows(self, to_infer: list[str]) -> dict[str, pa.DataType]:
        """Read every row as text and infer each column (``infer_rows=None``)."""
        samples: dict[str, list[pa.Array]] = {n: [] for n in to_infer}
        for index, path in enumerate(self.files):
            self._check_header_of(index)
            try:
                reader = self._open(path, dict.fromkeys(to_infer, pa.string()), [], to_infer)
                for batch in reader:
                    for name in to_infer:
                        samples[name].append(batch.column(name))
            except pa.ArrowInvalid as err:
                raise self._located_error(path, err) from None
        return {
            name: infer_column_type(pa.chunked_array(samples[name], type=pa.string()))
            for name in to_infer
        }

    # -- reading ---------------------------------------------------------------------
    def _open(
        self,
        path: str,
        column_types: dict[str, pa.DataType],
        shape_errors: list[tuple[int | None, int, int, str]],
        include: list[str] | None = None,
        *,
        block_size: int = _BLOCK_SIZE,
    ) -> pacsv.CSVStreamingReader:
        def on_invalid_row(row: pacsv.InvalidRow) -> str:
            shape_errors.append((row.number, row.expected_columns, row.actual_columns, row.text))
            return "skip"

        names = self.fmt.column_names
        return pacsv.open_csv(
            _pa_stream(path),
            read_options=pacsv.ReadOptions(
                use_threads=False,
                block_size=block_size,
                column_names=list(names) if names is not None else None,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=self.fmt.delimiter,
                quote_char=self.fmt.quote_char,
                newlines_in_values=True,
                invalid_row_handler=on_invalid_row,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=column_types,
                include_columns=include,
                null_values=["", *self.fmt.na_values],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                true_values=_TRUE_VALUES,
                false_values=_FALSE_VALUES,
            ),
        )

    def _rebatch(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for start in range(0, batch.num_rows, self.batch_size):
                yield batch.slice(start, self.batch_size)

    def _read_strict(self, path: str) -> Iterator[pa.RecordBatch]:
        shape_errors: list[tuple[int | None, int, int, str]] = []
        types = {f.name: f.type for f in self._schema}
        try:
            reader = self._open(path, types, shape_errors)
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                if shape_errors:
                    raise self._shape_error(path, shape_errors[0])
                yield from self._rebatch(iter([batch]))
        except pa.ArrowInvalid as err:
            raise self._located_error(path, err) from None

    def _read_skipping(self, path: str, report: BadRowReport) -> Iterator[pa.RecordBatch]:
        shape_errors: list[tuple[int | None, int, int, str]] = []
        reader = self._open(path, dict.fromkeys(self.column_names, pa.binary()), shape_errors)
        bad_records: dict[int, str] = {}  # index among well-shaped records -> reason
        offset = 0
        for raw in reader:
            columns, bad = self._convert_skipping(raw)
            for position, reason in bad.items():
                bad_records[offset + position] = reason
            offset += raw.num_rows
            batch = pa.RecordBatch.from_arrays(columns, schema=self._schema)
            if bad:
                batch = batch.filter(pa.array(~_mask(raw.num_rows, bad)))
            if batch.num_rows:
                yield from self._rebatch(iter([batch]))
        total = len(shape_errors) + len(bad_records)
        if total:
            examples = self._locate_skipped(path, bad_records)
            report.add(examples, extra=total - len(examples))

    def _convert_skipping(self, raw: pa.RecordBatch) -> tuple[list[pa.Array], dict[int, str]]:
        bad: dict[int, str] = {}
        columns = []
        for field, column in zip(self._schema, raw.columns, strict=True):
            converted, bad_positions = _cast_or_find_bad(column, field.type)
            for position in bad_positions:
                if position not in bad:
                    value = column[position].as_py()
                    bad[position] = _describe_bad_value(field, value)
            columns.append(converted)
        if bad:
            # Null out bad cells so the arrays can be built; their rows are dropped after.
            mask = pa.array(_mask(raw.num_rows, bad))
            columns = [
                pc.if_else(mask, pa.scalar(None, type=f.type), c) if c.type == f.type else c
                for f, c in zip(self._schema, columns, strict=True)
            ]
        return columns, bad

    def _locate_skipped(
        self,
        path: str,
        bad_records: dict[int, str],
        limit: int = 5,
    ) -> list[BadRow]:
        """Find the physical lines of the first ``limit`` skipped rows of a file."""
        found: list[BadRow] = []
        width = len(self.column_names)
        well_shaped = 0
        for line, _, fields in _scan_records(path, self.fmt):
            if len(fields) != width:
                found.append(BadRow(path, line, f"expected {width} fields, found {len(fields)}"))
            else:
                reason = bad_records.get(well_shaped)
                if reason is not None:
                    found.append(BadRow(path, line, reason))
                well_shaped += 1
            if len(found) >= limit:
                break
        return found

    # -- error messages --------------------------------------------------------------
    def _shape_error(self, path: str, error: tuple[int | None, int, int, str]) -> BadInputError:
        _, expected, actual, text = error
        line = next(
            (ln for ln, _, fields in _scan_records(path, self.fmt) if len(fields) != expected),
            None,
        )
        where = f"{path}, line {line}" if line is not None else path
        return BadInputError(
            f"{where}: expected {expected} fields but found {actual}: {text[:120]!r}. "
            "Fix the row (a stray delimiter or an unbalanced quote is the usual cause), or "
            "pass on_bad_rows='skip' to skip such rows (they are counted and reported).",
            path=path,
            line=line,
        )

    def _located_error(self, path: str, err: pa.ArrowInvalid) -> BadInputError:
        """Turn pyarrow's conversion error into one that names file, line and column."""
        match = _CONVERSION_ERROR.search(str(err))
        if match is None:
            return BadInputError(f"{path}: could not parse the CSV file: {err}", path=path)
        position = int(match["col"])  # pyarrow counts every column of the file
        name = self.column_names[position]
        width = len(self.column_names)
        is_utf8 = match["utf8"] is not None
        value = match["value"]
        line = None
        for ln, _, fields in _scan_records(path, self.fmt):
            if len(fields) != width:
                # A malformed row comes before the bad value: report the first problem.
                text = self.fmt.delimiter.join(fields)
                return self._shape_error(path, (None, width, len(fields), text))
            cell = fields[position]
            if (is_utf8 and _has_bad_utf8(cell)) or (not is_utf8 and cell == value):
                line = ln
                break
        where = f"{path}, line {line}" if line is not None else path
        if is_utf8:
            return BadInputError(
                f"{where}, column {name!r}: the value is not valid UTF-8. Re-encode the "
                "file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`), declare the column as "
                f"bytes with schema={{{name!r}: 'binary'}}, or pass on_bad_rows='skip'.",
                path=path,
                line=line,
                column=name,
            )
        field = self._schema.field(name)
        return BadInputError(
            f"{where}, column {name!r}: {value!r} is not a valid {field.type}. "
            f"{self._type_origin(name)} Fix: pass schema={{{name!r}: 'string'}} (or another "
            f"type that fits), add {value!r} to na_values=[...] if it means 'missing', or "
            "pass on_bad_rows='skip' to skip such rows.",
            path=path,
            line=line,
            column=name,
        )

    def _type_origin(self, name: str) -> str:
        if name in self.declared:
            return "The type was declared in schema=."
        if self.infer_rows is None:
            return "The type was inferred from all rows."
        return (
            f"The type was inferred from the first {self.infer_rows} rows (raise "
            "infer_rows=, or pass None for all rows, to look further)."
        )


def _describe_bad_value(field: pa.Field, value: bytes | None) -> str:
    if value is None:
        return f"column {field.name!r}: bad value"
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return f"column {field.name!r}: invalid UTF-8 {value[:40]!r}"
    return f"column {field.name!r}: {text[:60]!r} is not a valid {field.type}"


def _cast(column: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast a binary CSV column to ``target`` (text types go through UTF-8 validation)."""
    if pa.types.is_binary(target) or pa.types.is_large_binary(target):
        return column.cast(target)
    text = column.cast(pa.string())  # validates UTF-8
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        return text.cast(target)
    if pa.types.is_boolean(target):  # the same spellings the strict reader accepts
        known = pc.is_in(text, value_set=pa.array(_TRUE_VALUES + _FALSE_VALUES))
        if not pc.all(pc.or_kleene(pc.is_null(text), known)).as_py():
            raise pa.ArrowInvalid("not a bool")
        is_true = pc.is_in(text, value_set=pa.array(_TRUE_VALUES))
        return pc.if_else(pc.is_null(text), pa.scalar(None, pa.bool_()), is_true)
    return pc.cast(text, target)


def _cast_or_find_bad(column: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[int]]:
    """Cast a column; if some cells fail, return their positions (found by bisection)."""
    try:
        return _cast(column, target), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    bad: list[int] = []
    _bisect_bad(column, target, 0, len(column), bad)
    cleaned = pc.if_else(pa.array(_mask(len(column), bad)), pa.scalar(None, column.type), column)
    return _cast(cleaned, target), bad


def _bisect_bad(
    column: pa.Array, target: pa.DataType, start: int, stop: int, bad: list[int]
) -> None:
    try:
        _cast(column.slice(start, stop - start), target)
        return
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if stop - start == 1:
            bad.append(start)
            return
    middle = (start + stop) // 2
    _bisect_bad(column, target, start, middle, bad)
    _bisect_bad(column, target, middle, stop, bad)


def _mask(length: int, positions: Iterable[int]) -> np.ndarray:
    mask = np.zeros(length, dtype=bool)
    mask[list(positions)] = True
    return mask
