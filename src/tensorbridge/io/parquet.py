"""Parquet source (file or directory) and the sharded, atomic Parquet writer."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tensorbridge.errors import ConfigError, SchemaError
from tensorbridge.io.bad_rows import BadRowReport
from tensorbridge.io.paths import PathLike, expand_paths
from tensorbridge.io.source import DEFAULT_BATCH_SIZE, FileSource

PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
#: Rows per row group: large enough for fast scans, small enough to shuffle across
#: row groups when a trainer reads a sample of them.
DEFAULT_ROW_GROUP_SIZE = 131_072
#: Rows per output file (a shard): many shards let training read files in parallel.
DEFAULT_ROWS_PER_FILE = 1_048_576
MANIFEST_NAME = "_tensorbridge_dataset.json"


class ParquetSource(FileSource):
    """Parquet files (one fragment per file); a directory is read recursively."""

    kind = "Parquet"

    def __init__(
        self,
        paths: PathLike | Sequence[PathLike],
        *,
        columns: Sequence[str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        super().__init__()
        self.files = expand_paths(paths, suffixes=PARQUET_SUFFIXES, what="Parquet")
        self.batch_size = batch_size
        full = pq.read_schema(self.files[0]).remove_metadata()
        if columns is not None:
            missing = [c for c in columns if c not in full.names]
            if missing:
                raise SchemaError(
                    f"Columns {missing} are not in {self.files[0]!r}; it has {full.names}."
                )
            full = pa.schema([full.field(c) for c in columns])
        self.columns = list(columns) if columns is not None else None
        self._schema = full

    def count_rows_from_metadata(self) -> int:
        """Sum of the row counts in the file footers."""
        return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)

    def read_fragment(self, index: int, report: BadRowReport) -> Iterator[pa.RecordBatch]:
        """Yield the batches of file ``index``, checked against the schema."""
        path = self.files[index]
        handle = pq.ParquetFile(path)
        file_schema = handle.schema_arrow.remove_metadata()
        if self.columns is not None:
            missing = [c for c in self.columns if c not in file_schema.names]
            if missing:
                raise SchemaError(
                    f"{path} lacks the columns {missing}; it has {file_schema.names}."
                )
            file_schema = pa.schema([file_schema.field(c) for c in self.columns])
        if not file_schema.equals(self._schema):
            raise SchemaError(
                f"{path} has the schema\n{file_schema}\nbut {self.files[0]} has\n{self._schema}\n"
                "All files of one Parquet data set need the same columns and types; rewrite "
                "the odd file or read the files separately."
            )
        for batch in handle.iter_batches(batch_size=self.batch_size, columns=self.columns):
            yield batch.replace_schema_metadata(None)


@dataclass(frozen=True)
class ShardInfo:
    """One written Parquet file; ``path`` is relative to the data set directory."""

    path: str
    num_rows: int
    num_bytes: int


@dataclass
class ParquetWriteResult:
    """What :meth:`Dataset.write_parquet` wrote."""

    path: str
    num_rows: int
    shards: list[ShardInfo] = field(default_factory=list)
    bad_rows: BadRowReport = field(default_factory=BadRowReport)

    @property
    def num_bytes(self) -> int:
        """Total size of the shards."""
        return sum(s.num_bytes for s in self.shards)

    def __str__(self) -> str:
        return (
            f"{self.num_rows} rows in {len(self.shards)} file(s), "
            f"{self.num_bytes / 1e6:.1f} MB at {self.path}"
        )


def check_write_options(rows_per_file: int, row_group_size: int) -> None:
    """Validate the shard and row-group sizes."""
    if row_group_size < 1 or rows_per_file < 1:
        raise ConfigError(
            f"rows_per_file ({rows_per_file}) and row_group_size ({row_group_size}) must be >= 1."
        )
    if row_group_size > rows_per_file:
        raise ConfigError(
            f"row_group_size ({row_group_size}) cannot exceed rows_per_file ({rows_per_file})."
        )


def write_fragment_shards(
    batches: Iterable[pa.RecordBatch],
    directory: PathLike,
    *,
    fragment: int,
    schema: pa.Schema,
    rows_per_file: int = DEFAULT_ROWS_PER_FILE,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    compression: str = "zstd",
) -> list[ShardInfo]:
    """Write one fragment's batches as ``part-<fragment>-<shard>.parquet`` files.

    Both engines call this for each fragment, so they write the same files. Shards hold
    at most ``rows_per_file`` rows, in row groups of ``row_group_size`` rows.
    """
    directory = Path(directory)
    shards: list[ShardInfo] = []
    writer: pq.ParquetWriter | None = None
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    rows_in_file = 0

    def shard_path() -> Path:
        return directory / f"part-{fragment:05d}-{len(shards):04d}.parquet"

    def flush(final: bool) -> None:
        nonlocal writer, pending, pending_rows, rows_in_file
        while pending_rows >= row_group_size or (final and pending_rows):
            table = pa.Table.from_batches(pending, schema=schema)
            take = min(row_group_size, rows_per_file - rows_in_file, table.num_rows)
            if writer is None:
                writer = pq.ParquetWriter(shard_path(), schema, compression=compression)
            writer.write_table(table.slice(0, take), row_group_size=row_group_size)
            rows_in_file += take
            rest = table.slice(take)
            pending, pending_rows = rest.to_batches(), rest.num_rows
            if rows_in_file >= rows_per_file:
                close()

    def close() -> None:
        nonlocal writer, rows_in_file
        if writer is not None:
            writer.close()
            path = shard_path()
            shards.append(ShardInfo(path.name, rows_in_file, os.path.getsize(path)))
            writer, rows_in_file = None, 0

    for batch in batches:
        if batch.num_rows:
            pending.append(batch)
            pending_rows += batch.num_rows
            flush(final=False)
    flush(final=True)
    close()
    return shards


def write_empty_shard(directory: PathLike, schema: pa.Schema) -> ShardInfo:
    """Write a zero-row file, so that an empty data set still has a readable schema."""
    path = Path(directory) / "part-00000-0000.parquet"
    pq.write_table(schema.empty_table(), path, compression="zstd")
    return ShardInfo(path.name, 0, os.path.getsize(path))


def write_manifest(directory: PathLike, schema: pa.Schema, shards: list[ShardInfo]) -> None:
    """Write the small JSON manifest that describes a written data set."""
    root = Path(directory)
    manifest = {
        "format": "parquet",
        "num_rows": sum(s.num_rows for s in shards),
        "schema": {f.name: str(f.type) for f in schema},
        "files": [asdict(s) for s in sorted(shards, key=_key)],
    }
    (root / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")


def _key(shard: ShardInfo) -> str:
    return shard.path
