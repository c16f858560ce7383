"""The model repository: TF Serving's layout, ``<repo>/<name>/<version>/``.

A version directory is complete when it holds the ``_TENSORBRIDGE_COMPLETE`` marker;
the pusher writes a version under a temporary name, adds the marker and renames it into
place, so a reader (the server, a copy job) never sees half a version. Model names are
checked, so that a name from a URL or a command line can never reach outside the
repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tensorbridge.errors import ConfigError
from tensorbridge.io.paths import PathLike

COMPLETE_MARKER = "_TENSORBRIDGE_COMPLETE"
PUSH_RECORD = "push.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_model_name(name: str) -> str:
    """Return ``name`` if it is a safe model name, else raise ConfigError.

    Names are 1-128 characters of letters, digits, ``_``, ``.`` and ``-``, starting with a
    letter or digit: no path separators, no ``..``, nothing hidden.
    """
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ConfigError(
            f"Model name {name!r} is not allowed. Use 1-128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (e.g. 'taxi' or 'taxi-tips_v2')."
        )
    return name


def check_version(version: str | int) -> int:
    """Return a version as a positive int, else raise ConfigError."""
    text = str(version)
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"Model version {version!r} is not a positive integer.")
    return int(text)


@dataclass(frozen=True)
class ModelRepository:
    """A directory of models in TF Serving's layout.

    Examples
    --------
    >>> repo = ModelRepository("/tmp/models")  # doctest: +SKIP
    >>> repo.versions("taxi")  # doctest: +SKIP
    [1, 2]
    """

    root: Path

    def __init__(self, root: PathLike) -> None:
        object.__setattr__(self, "root", Path(root))

    def model_dir(self, name: str) -> Path:
        """``<root>/<name>`` for a checked name."""
        return self.root / check_model_name(name)

    def version_dir(self, name: str, version: str | int) -> Path:
        """``<root>/<name>/<version>`` for a checked name and version."""
        return self.model_dir(name) / str(check_version(version))

    def models(self) -> list[str]:
        """Names of the models that have at least one complete version."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and _NAME.match(p.name) and self.versions(p.name)
        )

    def versions(self, name: str) -> list[int]:
        """Complete versions of a model, ascending (incomplete ones are ignored)."""
        folder = self.model_dir(name)
        if not folder.is_dir():
            return []
        return sorted(
            int(p.name)
            for p in folder.iterdir()
            if p.is_dir() and p.name.isdigit() and (p / COMPLETE_MARKER).exists()
        )

    def latest(self, name: str) -> int | None:
        """The highest complete version, or None."""
        versions = self.versions(name)
        return versions[-1] if versions else None

    def next_version(self, name: str) -> int:
        """One more than the highest version directory (complete or not)."""
        folder = self.model_dir(name)
        taken = (
            [int(p.name) for p in folder.iterdir() if p.name.isdigit()] if folder.is_dir() else []
        )
        return max(taken, default=0) + 1
