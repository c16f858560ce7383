"""The ``Source`` contract: a schema plus independently readable fragments.

A fragment is the unit of parallelism (a file, a slice of an in-memory table). Engines
read fragments in parallel, locally in a thread pool or on Spark executors, and never
need the whole data set in memory. Sources are plain picklable objects, so Spark can
ship them to executors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

import pyarrow as pa

from tensorbridge.io.bad_rows import BadRowReport

DEFAULT_BATCH_SIZE = 65_536


class Source(ABC):
    """Where a dataset's record batches come from."""

    #: Skipped-row report of the latest read (only sources with ``on_bad_rows`` fill it).
    bad_rows: BadRowReport

    def __init__(self) -> None:
        self.bad_rows = BadRowReport()

    @property
    @abstractmethod
    def schema(self) -> pa.Schema:
        """The Arrow schema of every batch this source yields."""

    @property
    @abstractmethod
    def num_fragments(self) -> int:
        """How many independently readable pieces the source has."""

    @abstractmethod
    def read_fragment(self, index: int, report: BadRowReport) -> Iterator[pa.RecordBatch]:
        """Yield the record batches of fragment ``index``, recording skipped rows in ``report``."""

    @abstractmethod
    def describe(self) -> str:
        """A short human description, e.g. ``"CSV: 3 files"``."""

    def fragment_name(self, index: int) -> str:
        """A name for fragment ``index`` used in messages (a file path, a slice)."""
        return f"fragment {index}"

    def count_rows_from_metadata(self) -> int | None:
        """The row count if known without reading the data, else None."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class FileSource(Source):
    """A source over a list of files, one fragment per file.

    Subclasses set ``files``, ``_schema`` and the ``kind`` used in descriptions.
    """

    #: The format's name in descriptions ("CSV", "Parquet", "JSON lines").
    kind: str = "file"
    files: list[str]
    _schema: pa.Schema

    @property
    def schema(self) -> pa.Schema:
        """The schema every file's batches have."""
        return self._schema

    @property
    def num_fragments(self) -> int:
        """One fragment per file."""
        return len(self.files)

    def fragment_name(self, index: int) -> str:
        """The path of file ``index``."""
        return self.files[index]

    def describe(self) -> str:
        """E.g. ``"CSV data.csv"`` or ``"Parquet 4 files (out/part-0.parquet, ...)"``."""
        if len(self.files) == 1:
            return f"{self.kind} {self.files[0]}"
        return f"{self.kind} {len(self.files)} files ({self.files[0]}, ...)"
