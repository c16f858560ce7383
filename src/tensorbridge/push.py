"""The pusher: copy a blessed model into a model repository as its next version.

As TFX's Pusher, a model is pushed only when its evaluation blessed it. ``force=True``
pushes anyway and is recorded in the version's ``push.json``.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tensorbridge.errors import ConfigError
from tensorbridge.io.paths import PathLike
from tensorbridge.serve.repository import COMPLETE_MARKER, PUSH_RECORD, ModelRepository

_MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class PushResult:
    """Where a model was pushed."""

    name: str
    version: int
    path: Path
    forced: bool

    def __str__(self) -> str:
        forced = " (forced, not blessed)" if self.forced else ""
        return f"pushed {self.name} version {self.version} to {self.path}{forced}"


def blessing_of(evaluation: Any) -> bool | None:
    """True/False/None from an EvalResult, an evaluation directory, or a bool."""
    if evaluation is None or isinstance(evaluation, bool):
        return evaluation
    if hasattr(evaluation, "blessed"):
        blessed: bool | None = evaluation.blessed
        return blessed
    folder = Path(evaluation)
    if (folder / "BLESSED").exists():
        return True
    if (folder / "NOT_BLESSED").exists():
        return False
    return None


def push_model(
    model_dir: PathLike,
    repository: PathLike | ModelRepository,
    name: str,
    *,
    evaluation: Any = None,
    force: bool = False,
    reason: str = "",
) -> PushResult:
    """Push ``model_dir`` into ``repository`` as ``<name>/<next version>/``.

    Parameters
    ----------
    model_dir : path
        An exported model (a SavedModel directory).
    repository : path or ModelRepository
        The model repository root.
    name : str
        The model's name in the repository.
    evaluation : EvalResult, path or bool, optional
        The evaluation that decides: only a blessed model is pushed (TFX's rule: no
        thresholds configured means not blessed).
    force : bool
        Push even when not blessed; recorded in ``push.json`` with ``reason``.

    Raises
    ------
    ConfigError
        When the model is not blessed and ``force`` is not set, or the model directory
        is not a SavedModel.
    """
    source = Path(model_dir)
    if not (source / "saved_model.pb").exists():
        raise ConfigError(
            f"{str(source)!r} is not a SavedModel directory (no saved_model.pb); push the "
            "exported model."
        )
    repo = repository if isinstance(repository, ModelRepository) else ModelRepository(repository)
    blessed = blessing_of(evaluation)
    if blessed is not True and not force:
        why = (
            "its evaluation did not bless it"
            if blessed is False
            else "it has no blessing (no evaluation, or no thresholds were configured)"
        )
        raise ConfigError(
            f"Refusing to push {str(source)!r} as {name!r}: {why}. Fix the model or the "
            "thresholds, or push anyway with force=True (--force), which is recorded."
        )
    folder = repo.model_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "name": name,
        "source": str(source.resolve()),
        "blessed": blessed,
        "forced": bool(force and blessed is not True),
        "reason": reason,
        "pushed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "pushed_by": _user(),
    }
    for _ in range(_MAX_ATTEMPTS):
        version = repo.next_version(name)
        staging = folder / f".push-{version}-{uuid.uuid4().hex[:8]}"
        shutil.copytree(source, staging)
        (staging / PUSH_RECORD).write_text(json.dumps({**record, "version": version}, indent=2))
        (staging / COMPLETE_MARKER).write_text("")
        target = folder / str(version)
        try:
            os.rename(staging, target)  # fails if another pusher took this version
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            continue
        return PushResult(name, version, target, bool(record["forced"]))
    raise ConfigError(f"Could not find a free version for {name!r} after {_MAX_ATTEMPTS} tries.")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
