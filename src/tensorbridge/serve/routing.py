"""Which version answers a request: version policies, labels and the canary split.

Per model, two small JSON files beside the versions configure serving:

``serving.json`` (written by people; the server only reads it)::

    {"versions": {"latest": 2}, "max_batch_size": 64, "max_wait_ms": 0,
     "max_queue_rows": 4096}

``versions`` is TF Serving's ``ServableVersionPolicy``: ``{"latest": N}`` (default 1),
``{"all": true}`` or ``{"specific": [3, 4]}``.

``routing.json`` (written atomically by the server's label API and by ``tensorbridge
labels``)::

    {"labels": {"stable": 3, "canary": 4}, "canary": {"label": "canary", "weight": 0.1}}

A request without a version or label goes to the canary label's version with
probability ``weight``, else to ``stable`` when that label exists, else to the latest
loaded version. Setting the weight to 0 (``tensorbridge labels rollback``) is the
instant rollback. Versions that a label names stay loaded whatever the policy says.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tensorbridge.errors import ConfigError
from tensorbridge.serve.repository import check_version

__all__ = [
    "LABEL_PATTERN",
    "ROUTING_FILE",
    "SERVING_FILE",
    "Routing",
    "ServingConfig",
    "VersionPolicy",
    "check_label",
    "read_routing",
    "read_serving_config",
    "write_routing",
]

SERVING_FILE = "serving.json"
ROUTING_FILE = "routing.json"
#: TF Serving's label rule.
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def check_label(label: str) -> str:
    """Return ``label`` if it is a valid label name (TF Serving's ``[a-zA-Z0-9_]+``)."""
    if not isinstance(label, str) or not LABEL_PATTERN.match(label):
        raise ConfigError(
            f"Label {label!r} is not allowed: use 1-64 letters, digits or '_' "
            "(e.g. 'stable', 'canary')."
        )
    return label


@dataclass(frozen=True)
class VersionPolicy:
    """Which complete versions on disk to serve (TF Serving's ``ServableVersionPolicy``)."""

    kind: str = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    @classmethod
    def parse(cls, value: Any) -> VersionPolicy:
        """From ``{"latest": N}``, ``{"all": true}``, ``{"specific": [..]}`` or CLI text.

        CLI text: ``latest``, ``latest:2``, ``all`` or ``3,4``.
        """
        if value is None:
            return cls()
        if isinstance(value, str):
            text = value.strip()
            if text == "all":
                return cls("all")
            latest = re.fullmatch(r"latest(?::(\d+))?", text)
            if latest is not None:
                return cls.parse({"latest": int(latest[1] or 1)})
            try:
                return cls("specific", versions=tuple(check_version(v) for v in text.split(",")))
            except ConfigError:
                raise ConfigError(
                    f"Version policy {value!r} is not 'latest', 'latest:N', 'all' or a list "
                    "of versions like '3,4'."
                ) from None
        if isinstance(value, Mapping) and len(value) == 1:
            ((kind, argument),) = value.items()
            if kind == "latest" and isinstance(argument, int) and argument >= 1:
                return cls("latest", num_versions=argument)
            if kind == "all" and argument is True:
                return cls("all")
            if kind == "specific" and isinstance(argument, list) and argument:
                return cls("specific", versions=tuple(check_version(v) for v in argument))
        raise ConfigError(
            f"versions={value!r} must be {{'latest': N}}, {{'all': true}} or "
            "{'specific': [3, 4]}."
        )

    def select(self, available: Iterable[int]) -> list[int]:
        """The versions to serve among the complete ones on disk, ascending."""
        ordered = sorted(available)
        if self.kind == "all":
            return ordered
        if self.kind == "specific":
            return [v for v in ordered if v in self.versions]
        return ordered[-self.num_versions :]

    def describe(self) -> str:
        """``latest:2``, ``all`` or ``3,4``."""
        if self.kind == "latest":
            return f"latest:{self.num_versions}"
        if self.kind == "all":
            return "all"
        return ",".join(str(v) for v in self.versions)


@dataclass(frozen=True)
class ServingConfig:
    """A model's serving settings (``serving.json``, else the server's defaults)."""

    policy: VersionPolicy = field(default_factory=VersionPolicy)
    max_batch_size: int = 1024
    max_wait_ms: float = 0.0
    max_queue_rows: int = 8192
    #: Rows per second the serving statistics take at most (a time-based sample of the
    #: requests above that); 0: every row.
    statistics_rows_per_second: float = 1000.0

    def merged(self, values: Mapping[str, Any], where: str) -> ServingConfig:
        """These settings overridden by ``values`` (checked; ``where`` names the source)."""
        known = {
            "versions",
            "max_batch_size",
            "max_wait_ms",
            "max_queue_rows",
            "statistics_rows_per_second",
        }
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown settings {unknown}; known: {sorted(known)}.")
        policy = VersionPolicy.parse(values["versions"]) if "versions" in values else self.policy
        numbers: dict[str, Any] = {}
        for key, low in (
            ("max_batch_size", 1),
            ("max_wait_ms", 0),
            ("max_queue_rows", 1),
            ("statistics_rows_per_second", 0),
        ):
            value = values.get(key, getattr(self, key))
            if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
                raise ConfigError(f"{where}: {key}={value!r} must be a number >= {low}.")
            numbers[key] = value
        return ServingConfig(
            policy,
            int(numbers["max_batch_size"]),
            float(numbers["max_wait_ms"]),
            int(numbers["max_queue_rows"]),
            float(numbers["statistics_rows_per_second"]),
        )


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: not valid JSON ({err}).") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object.")
    return data


def read_serving_config(model_dir: Path, defaults: ServingConfig) -> ServingConfig:
    """``defaults`` overridden by ``<model_dir>/serving.json`` when it exists."""
    data = _read_json(model_dir / SERVING_FILE)
    return defaults if data is None else defaults.merged(data, str(model_dir / SERVING_FILE))


@dataclass(frozen=True)
class Routing:
    """A model's labels and canary split (``routing.json``)."""

    labels: Mapping[str, int] = field(default_factory=dict)
    canary_label: str | None = None
    canary_weight: float = 0.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> Routing:
        """Parse and check ``routing.json``'s content."""
        labels_raw = data.get("labels", {})
        if not isinstance(labels_raw, Mapping):
            raise ConfigError(f"{where}: 'labels' must map label -> version.")
        labels = {check_label(k): check_version(v) for k, v in labels_raw.items()}
        canary = data.get("canary")
        if canary is None:
            return cls(labels)
        if not isinstance(canary, Mapping):
            raise ConfigError(f"{where}: 'canary' must be {{'label': ..., 'weight': ...}}.")
        weight = canary.get("weight", 0.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
            raise ConfigError(f"{where}: canary weight {weight!r} must be between 0 and 1.")
        return cls(labels, check_label(str(canary.get("label", "canary"))), float(weight))

    def to_json(self) -> dict[str, Any]:
        """The ``routing.json`` content."""
        data: dict[str, Any] = {"labels": dict(sorted(self.labels.items()))}
        if self.canary_label is not None:
            data["canary"] = {"label": self.canary_label, "weight": self.canary_weight}
        return data

    def with_label(self, label: str, version: int | None) -> Routing:
        """A copy with ``label`` pointing at ``version`` (None removes it)."""
        labels = dict(self.labels)
        if version is None:
            labels.pop(check_label(label), None)
        else:
            labels[check_label(label)] = check_version(version)
        return Routing(labels, self.canary_label, self.canary_weight)

    def with_canary(self, label: str, weight: float) -> Routing:
        """A copy with the canary split set (weight 0 sends nothing to it: a rollback)."""
        if isinstance(weight, bool) or not 0 <= weight <= 1:
            raise ConfigError(f"Canary weight {weight!r} must be between 0 and 1 (e.g. 0.1).")
        return Routing(dict(self.labels), check_label(label), float(weight))

    def pick(self, loaded: list[int], chance: float | None = None) -> int | None:
        """The version for a request that names neither a version nor a label."""
        if not loaded:
            return None
        draw = random.random() if chance is None else chance
        canary = self.labels.get(self.canary_label) if self.canary_label else None
        if canary in loaded and self.canary_weight > 0 and draw < self.canary_weight:
            return canary
        stable = self.labels.get("stable")
        if stable in loaded:
            return stable
        return max(loaded)


def read_routing(model_dir: Path) -> Routing:
    """The model's ``routing.json`` (no labels when it does not exist)."""
    data = _read_json(model_dir / ROUTING_FILE)
    return Routing() if data is None else Routing.from_json(data, str(model_dir / ROUTING_FILE))


def write_routing(model_dir: Path, routing: Routing) -> None:
    """Write ``routing.json`` atomically (a temporary file, then a rename)."""
    target = model_dir / ROUTING_FILE
    tmp = target.with_name(f".{ROUTING_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(routing.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)
