"""Pusher: copy a blessed model into a model repository as its next version."""

from __future__ import annotations

import json
from pathlib import Path

from tensorbridge.errors import ConfigError
from tensorbridge.pipeline.artifacts import (
    ArtifactHandle,
    InfraBlessing,
    Model,
    ModelBlessing,
    PushedModel,
)
from tensorbridge.pipeline.component import component
from tensorbridge.pipeline.components._common import Input, Output, write_json
from tensorbridge.pipeline.components.evaluator import BLESSING_FILE
from tensorbridge.pipeline.components.infra_validator import INFRA_BLESSING_FILE

__all__ = ["PUSHED_FILE", "Pusher", "read_blessing"]

PUSHED_FILE = "pushed.json"


def read_blessing(artifact: ArtifactHandle, filename: str, component: str, argument: str) -> bool:
    """Whether a blessing artifact blesses: its JSON file, else its ``blessed`` property."""
    path = artifact.path / filename
    if path.is_file():
        return bool(json.loads(path.read_text(encoding="utf-8")).get("blessed"))
    if isinstance(artifact.metadata.get("blessed"), bool):
        return bool(artifact.metadata["blessed"])
    raise ConfigError(
        f"{component}: the {argument} artifact at {str(artifact.path)!r} has no {filename} "
        "and no 'blessed' property; wire it to the Evaluator's blessing (model_blessing) or "
        "the InfraValidator's blessing (infra_blessing)."
    )


@component
def Pusher(  # noqa: N802 - components are named like TFX's, in CamelCase
    model: Input[Model],
    model_blessing: Input[ModelBlessing],
    pushed_model: Output[PushedModel],
    repository: str,
    model_name: str,
    infra_blessing: Input[InfraBlessing] | None = None,
    force: bool = False,
) -> None:
    """Push the model into a model repository, only when it is blessed (TFX's Pusher).

    The model becomes ``<repository>/<model_name>/<next version>/`` (TF Serving's
    layout) through :func:`tensorbridge.push.push_model`, when the Evaluator blessed it
    and, if ``infra_blessing`` is wired, the InfraValidator did too. A model that is not
    blessed is not pushed, and that is not an error (the pipeline succeeds, as in TFX).

    Parameters
    ----------
    model : Input[Model]
        Trainer's exported serving model.
    model_blessing : Input[ModelBlessing]
        The Evaluator's blessing.
    pushed_model : Output[PushedModel]
        Receives ``pushed.json``: ``{"pushed": true, "name", "version", "path",
        "repository", "forced", "reasons"}`` or ``{"pushed": false, "reason": ...}``.
    repository : str
        The model repository's root directory (an absolute path is best: a relative one
        is resolved against the working directory of the process running the component).
    model_name : str
        The model's name in the repository.
    infra_blessing : Input[InfraBlessing], optional
        The InfraValidator's blessing, required too when given.
    force : bool
        Push even when not blessed; recorded in the version's ``push.json``.

    Notes
    -----
    Metadata: ``pushed`` (bool), ``version`` and ``path`` (None when not pushed).
    """
    from tensorbridge.push import push_model
    from tensorbridge.serve.repository import check_model_name

    if not isinstance(repository, str) or not repository:
        raise ConfigError(
            f"Pusher: repository={repository!r} must be a directory path, e.g. '/srv/models'."
        )
    try:
        check_model_name(model_name)
    except ConfigError as err:
        raise ConfigError(f"Pusher: model_name={model_name!r}: {err}") from None
    reasons = []
    blessed = read_blessing(model_blessing, BLESSING_FILE, "Pusher", "model_blessing")
    if not blessed:
        reasons.append("the Evaluator did not bless the model")
    if infra_blessing is not None and not read_blessing(
        infra_blessing, INFRA_BLESSING_FILE, "Pusher", "infra_blessing"
    ):
        blessed = False
        reasons.append("the InfraValidator did not bless the model")
    root = Path(repository).resolve()
    if not blessed and not force:
        reason = " and ".join(reasons) + "; not pushed (pass force=True to push anyway)"
        write_json(pushed_model.path / PUSHED_FILE, {"pushed": False, "reason": reason})
        pushed_model.metadata.update({"pushed": False, "version": None, "path": None})
        return
    result = push_model(
        model.path,
        root,
        model_name,
        evaluation=blessed,
        force=force,
        reason="; ".join(reasons) + " (pushed with force=True)" if reasons else "",
    )
    write_json(
        pushed_model.path / PUSHED_FILE,
        {
            "pushed": True,
            "name": result.name,
            "version": result.version,
            "path": str(result.path),
            "repository": str(root),
            "forced": result.forced,
            "reasons": reasons,
        },
    )
    pushed_model.metadata.update(
        {"pushed": True, "version": result.version, "path": str(result.path)}
    )
