"""A Spark DataFrame as a source (PySpark is imported only here, lazily)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from tensorbridge._optional import import_optional
from tensorbridge.errors import ConfigError
from tensorbridge.io.bad_rows import BadRowReport
from tensorbridge.io.source import Source


def spark_to_arrow_schema(spark_schema: Any) -> pa.Schema:
    """The Arrow schema Spark uses for a Spark ``StructType``."""
    types = import_optional("pyspark.sql.pandas.types")
    return types.to_arrow_schema(spark_schema).remove_metadata()


class SparkSource(Source):
    """A Spark DataFrame as a source.

    The spark engine runs on its partitions; the local engine fetches it as Arrow
    (``DataFrame.toArrow``), as one fragment.
    """

    def __init__(self, frame: Any) -> None:
        super().__init__()
        sql = import_optional("pyspark.sql")
        if not isinstance(frame, sql.DataFrame):
            raise ConfigError(f"from_spark expects a Spark DataFrame, got {type(frame).__name__}.")
        self.frame = frame
        self._schema = spark_to_arrow_schema(frame.schema)

    @property
    def schema(self) -> pa.Schema:
        """The DataFrame's schema in Arrow terms."""
        return self._schema

    @property
    def num_fragments(self) -> int:
        """One fragment when read locally (the spark engine uses the partitions)."""
        return 1

    def describe(self) -> str:
        """E.g. ``"Spark DataFrame [fare: double, ...]"``."""
        columns = ", ".join(f"{f.name}: {f.type}" for f in list(self._schema)[:4])
        more = ", ..." if len(self._schema) > 4 else ""
        return f"Spark DataFrame [{columns}{more}]"

    def read_fragment(self, index: int, report: BadRowReport) -> Iterator[pa.RecordBatch]:
        """Fetch the DataFrame to this process as Arrow batches."""
        table = self.frame.toArrow()
        yield from table.cast(self._schema).to_batches()

    def __getstate__(self) -> dict[str, Any]:
        raise ConfigError(
            "A Spark DataFrame dataset cannot be shipped to Spark executors; "
            "run it with engine='spark'."
        )
