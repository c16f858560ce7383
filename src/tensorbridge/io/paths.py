"""File discovery and atomic directory output."""

from __future__ import annotations

import contextlib
import glob
import gzip
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, cast

from tensorbridge.errors import ConfigError

PathLike = str | os.PathLike[str]


def expand_paths(
    paths: PathLike | Sequence[PathLike], *, suffixes: Sequence[str], what: str
) -> list[str]:
    """Expand files, directories and glob patterns into a sorted list of files.

    Parameters
    ----------
    paths : path or sequence of paths
        Files, directories (searched recursively for ``suffixes``) or glob patterns.
    suffixes : sequence of str
        File name endings to pick up inside directories, e.g. ``(".csv", ".csv.gz")``.
    what : str
        A name for the file kind, used in error messages ("CSV", "Parquet").

    Returns
    -------
    list of str
        The files, in a stable (sorted) order within each argument.
    """
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise ConfigError(f"No {what} path given; pass a file, a directory or a glob pattern.")
    files: list[str] = []
    for item in items:
        text = os.fspath(item)
        if any(ch in text for ch in "*?["):
            matches = [
                m
                for m in sorted(glob.glob(text, recursive=True))
                if os.path.isfile(m) and not os.path.basename(m).startswith((".", "_"))
            ]
            if not matches:
                raise ConfigError(
                    f"The pattern {text!r} matches no {what} files (names starting with '.' "
                    "or '_', such as _SUCCESS or manifests, are skipped)."
                )
            files.extend(matches)
        elif os.path.isdir(text):
            found = sorted(
                str(p)
                for p in Path(text).rglob("*")
                if p.is_file()
                and p.name.endswith(tuple(suffixes))
                and not any(part.startswith((".", "_")) for part in p.relative_to(text).parts)
            )
            if not found:
                raise ConfigError(
                    f"The directory {text!r} holds no {what} files "
                    f"(looked for names ending in {', '.join(suffixes)})."
                )
            files.extend(found)
        elif os.path.isfile(text):
            files.append(text)
        else:
            raise ConfigError(f"{what} path {text!r} does not exist.")
    return files


def open_binary(path: str) -> BinaryIO:
    """Open a file for reading bytes, decompressing ``.gz`` files on the fly."""
    if path.endswith(".gz"):
        return cast(BinaryIO, gzip.open(path, "rb"))
    return open(path, "rb")


@contextlib.contextmanager
def atomic_directory(path: PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling directory that is renamed to ``path`` on success.

    A crash or an exception leaves no directory at ``path`` (and removes the temporary
    one), so a reader never sees a half-written artifact.

    Parameters
    ----------
    path : path
        The final directory.
    overwrite : bool, default False
        Replace an existing directory at ``path``. Without it an existing path is an error.
    """
    final = Path(path)
    if final.exists() and not overwrite:
        raise ConfigError(
            f"Output path {str(final)!r} already exists. Pass overwrite=True "
            "(--overwrite on the command line) or choose another path."
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        trash = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:12]}"
        final.rename(trash)
        tmp.rename(final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        tmp.rename(final)
