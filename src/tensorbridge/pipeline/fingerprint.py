"""Fingerprints of artifact directories and external data, and cache keys.

An artifact's fingerprint is a SHA-256 over its files' content, so a re-run that writes
the same bytes gives the same fingerprint (``runs diff`` then shows nothing changed).
External data (a ``DataPath`` parameter: a user's 100 GB of CSV) is fingerprinted from
file paths, sizes and modification times instead, as TFX's ExampleGen does, so checking
the cache does not read it. The cache key of a component execution is ``hash(component
code, parameters, fingerprints of inputs and external data)`` (DESIGN.md).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tensorbridge.pipeline.artifacts import ARTIFACT_FILE

__all__ = ["cache_key", "data_fingerprint", "directory_fingerprint"]

_CHUNK = 1 << 20


def _files_under(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file())


def _hash_files(base: Path, files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        relative = file.relative_to(base).as_posix() if file != base else file.name
        digest.update(relative.encode())
        digest.update(b"\0")
        with open(file, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def directory_fingerprint(path: str | os.PathLike[str]) -> str:
    """SHA-256 of every file's relative path and content (``artifact.json`` left out)."""
    root = Path(path)
    files = [p for p in _files_under(root) if p.name != ARTIFACT_FILE or p.parent != root]
    return _hash_files(root, files)


def _stat_files(base: Path, files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        relative = file.relative_to(base).as_posix() if file != base else file.name
        info = file.stat()
        digest.update(f"{relative}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def data_fingerprint(location: str) -> str:
    """Fingerprint of external data (a file, a directory or a glob pattern) from file stats.

    Every file's relative path, size and modification time, as TFX's ExampleGen
    fingerprints its input spans: checking the cache of a 100 GB input costs
    milliseconds, and any rewrite of a file (which moves its modification time)
    invalidates it. A copy with the same content but a new time counts as new data.

    Raises
    ------
    FileNotFoundError
        When nothing exists at ``location`` (the message names it).
    """
    path = Path(location)
    if path.exists():
        return _stat_files(path if path.is_dir() else path.parent, _files_under(path))
    matches = sorted(Path(p) for p in glob.glob(location, recursive=True) if Path(p).is_file())
    if not matches:
        raise FileNotFoundError(
            f"The data {location!r} does not exist (no file, directory or glob match)."
        )
    base = Path(os.path.commonpath([str(p.parent) for p in matches]))
    return _stat_files(base, matches)


def cache_key(
    *,
    reference: str,
    code_fingerprint: str,
    parameters: Mapping[str, Any],
    input_fingerprints: Mapping[str, str],
    data_fingerprints: Mapping[str, str],
    outputs: Mapping[str, str],
) -> str:
    """The cache key of one execution: SHA-256 of a canonical JSON of everything it reads."""
    document = {
        "component": reference,
        "code": code_fingerprint,
        "parameters": parameters,
        "inputs": dict(sorted(input_fingerprints.items())),
        "data": dict(sorted(data_fingerprints.items())),
        "outputs": dict(sorted(outputs.items())),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
