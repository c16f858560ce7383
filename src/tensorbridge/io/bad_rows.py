"""What to do with malformed rows, and the report of the rows that were skipped."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from tensorbridge.errors import ConfigError

OnBadRows = Literal["raise", "skip"]
_MAX_EXAMPLES = 5


def check_on_bad_rows(value: str) -> OnBadRows:
    """Validate an ``on_bad_rows`` argument."""
    if value not in ("raise", "skip"):
        raise ConfigError(f"on_bad_rows must be 'raise' or 'skip', got {value!r}.")
    return value  # type: ignore[return-value]


@dataclass(frozen=True)
class BadRow:
    """One skipped row: where it was and why it was skipped."""

    path: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


@dataclass
class BadRowReport:
    """Counts and first examples of the rows skipped with ``on_bad_rows="skip"``.

    The report is filled while data is read; read it after the read finished
    (for example after ``write_parquet`` or ``count_rows``).
    """

    count: int = 0
    examples: list[BadRow] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, rows: list[BadRow], *, extra: int = 0) -> None:
        """Record skipped rows (``extra`` counts skipped rows without an example).

        The examples kept are the first ones in (file, line) order, whichever thread
        or executor reported them first.
        """
        with self._lock:
            self.count += len(rows) + extra
            self.examples = sorted([*self.examples, *rows], key=_sort_key)[:_MAX_EXAMPLES]

    def merge(self, other: BadRowReport) -> None:
        """Add the counts and examples of another report."""
        self.add(other.examples, extra=other.count - len(other.examples))

    def reset(self) -> None:
        """Forget everything recorded so far (each new read starts a new report)."""
        with self._lock:
            self.count = 0
            self.examples = []

    def __getstate__(self) -> dict[str, object]:
        return {"count": self.count, "examples": list(self.examples)}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.count = state["count"]  # type: ignore[assignment]
        self.examples = state["examples"]  # type: ignore[assignment]
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return self.count > 0

    def summary(self) -> str:
        """A one-paragraph description, e.g. for logs and the CLI."""
        if not self.count:
            return "No bad rows."
        lines = [f"Skipped {self.count} bad row(s); first ones:"]
        lines += [f"  {row}" for row in self.examples]
        return "\n".join(lines)


def _sort_key(row: BadRow) -> tuple[str, int]:
    return (row.path, row.line or 0)
