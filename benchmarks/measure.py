"""Run a command and measure its wall time and the peak RSS of its whole process tree."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import psutil


@dataclass
class Measurement:
    """Wall seconds, peak RSS (MB) of the process tree, and the job's JSON result."""

    wall_seconds: float
    peak_rss_mb: float
    result: dict[str, Any]


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def measure(
    command: list[str], *, env: dict[str, str] | None = None, interval: float = 0.1
) -> Measurement:
    """Run ``command``; it must print one JSON object as its last stdout line."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    handle = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, _tree_rss(handle))
        time.sleep(interval)
    wall = time.perf_counter() - started
    stdout, stderr = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({child.returncode}):\n{stderr[-4000:]}")
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    return Measurement(wall, peak / 1e6, json.loads(lines[-1]) if lines else {})
