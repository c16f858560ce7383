"""Progress lines for training: one per epoch, from the run's ``metrics.jsonl``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console

_NOT_METRICS = ("epoch", "steps", "steps_per_second", "workers")


def format_epoch(entry: dict[str, Any], epochs: int) -> str:
    """``epoch 2/8: 251 steps, 120 steps/s  loss 0.41  auc 0.91`` (and the workers, if any)."""
    shown = "  ".join(f"{k} {v:.4f}" for k, v in entry.items() if k not in _NOT_METRICS)
    workers = entry.get("workers")
    on = f" on {workers} workers" if workers and workers > 1 else ""
    return (
        f"epoch {entry['epoch']}/{epochs}: {entry['steps']} steps{on}, "
        f"{entry['steps_per_second']:,.0f} steps/s  {shown}"
    )


class EpochPrinter:
    """Print the epochs a (possibly remote) chief appends to ``metrics.jsonl``."""

    def __init__(self, output_dir: str | os.PathLike[str], epochs: int, console: Console) -> None:
        self.path = Path(output_dir) / "metrics.jsonl"
        self.epochs = epochs
        self.console = console
        self.shown = 0

    def skip_to(self, epoch: int) -> None:
        """Epochs up to ``epoch`` were shown already (or are being redone)."""
        self.shown = min(self.shown, epoch) if self.shown else epoch

    def poll(self) -> None:
        """Print the epochs finished since the last call."""
        try:
            lines = self.path.read_text().splitlines()
        except OSError:
            return
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line being written
            if isinstance(entry, dict) and int(entry.get("epoch", 0)) > self.shown:
                self.console.print(format_epoch(entry, self.epochs))
                self.shown = int(entry["epoch"])
