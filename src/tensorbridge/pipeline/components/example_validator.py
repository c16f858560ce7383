"""ExampleValidator: check every split's statistics against a schema."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tensorbridge.errors import ConfigError
from tensorbridge.pipeline.artifacts import Anomalies, ExampleStatistics, Schema
from tensorbridge.pipeline.component import component
from tensorbridge.pipeline.components._common import Input, Output, statistics_splits, write_json
from tensorbridge.pipeline.components.schema_gen import load_schema_artifact
from tensorbridge.pipeline.components.statistics_gen import REPORT_FILE, report_pair

if TYPE_CHECKING:
    from tensorbridge.stats.results import Anomaly

__all__ = ["ANOMALIES_FILE", "FAIL_ON", "DataValidationError", "ExampleValidator"]

ANOMALIES_FILE = "anomalies.json"
#: ``fail_on`` -> the severities that stop the pipeline.
FAIL_ON: dict[str, tuple[str, ...]] = {
    "never": (),
    "error": ("ERROR",),
    "warning": ("ERROR", "WARNING"),
}


class DataValidationError(ConfigError):
    """Anomalies reached ExampleValidator's ``fail_on`` severity; the message lists them.

    Attributes
    ----------
    anomalies : dict of str to list of dict
        The anomalies that stopped the pipeline, per split (``Anomaly.to_dict()``).
    """

    def __init__(self, message: str, anomalies: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        super().__init__(message)
        self.anomalies = {k: [dict(a) for a in v] for k, v in anomalies.items()}


def _counts(found: Sequence[Anomaly]) -> dict[str, int]:
    counts = {"ERROR": 0, "WARNING": 0}
    for anomaly in found:
        counts[anomaly.severity] = counts.get(anomaly.severity, 0) + 1
    return counts


def _failure(stopping: Mapping[str, Sequence[Anomaly]], fail_on: str) -> DataValidationError:
    lines = [
        f"  {split}: [{a.severity}] {a.feature or '(data set)'}: {a.short_description}. "
        f"{a.description}"
        for split, found in stopping.items()
        for a in found
    ]
    total = sum(len(found) for found in stopping.values())
    return DataValidationError(
        f"ExampleValidator: {total} anomal{'y' if total == 1 else 'ies'} at or above "
        f"fail_on={fail_on!r}:\n"
        + "\n".join(lines)
        + "\nFix the data, accept the change in the schema (ImportSchema with an edited "
        "schema.yaml), or pass fail_on='never' to record anomalies without stopping.",
        {split: [a.to_dict() for a in found] for split, found in stopping.items()},
    )


@component
def ExampleValidator(  # noqa: N802 - components are named like TFX's, in CamelCase
    statistics: Input[ExampleStatistics],
    schema: Input[Schema],
    anomalies: Output[Anomalies],
    fail_on: str = "never",
) -> None:
    """Check every split's statistics against the schema (TFX's ExampleValidator).

    Parameters
    ----------
    statistics : Input[ExampleStatistics]
        StatisticsGen's output (one ``<split>.json`` per split).
    schema : Input[Schema]
        SchemaGen's or ImportSchema's ``schema.yaml``.
    anomalies : Output[Anomalies]
        Receives ``anomalies.json`` (``{split: [anomaly, ...]}``, each anomaly as
        :meth:`tensorbridge.stats.Anomaly.to_dict`), ``<split>.html`` per split (its
        statistics and anomalies; non-train splits next to ``train``'s statistics) and
        ``report.html`` (the first non-train split's page, or the only split's).
    fail_on : {"never", "error", "warning"}
        ``"never"`` (default, as TFX): anomalies are recorded, the pipeline goes on.
        ``"error"``: stop when a split has an ERROR anomaly; ``"warning"``: stop on any
        anomaly. Stopping raises :class:`DataValidationError` listing them, so the
        component fails and nothing downstream runs.

    Notes
    -----
    Metadata: ``splits``, ``counts`` (split -> ``{"ERROR": n, "WARNING": n}``),
    ``num_anomalies`` (split -> n) and ``anomalous_features`` (split -> names).

    Raises
    ------
    DataValidationError
        When anomalies reach ``fail_on`` (a :class:`~tensorbridge.errors.ConfigError`).
    """
    from tensorbridge.stats.anomalies import validate_statistics
    from tensorbridge.stats.model import Statistics
    from tensorbridge.stats.report import write_html

    if fail_on not in FAIL_ON:
        raise ConfigError(
            f"ExampleValidator: fail_on={fail_on!r} is not one of {list(FAIL_ON)}; pass "
            "'never' (record only), 'error' (stop on ERROR anomalies) or 'warning' (stop on "
            "any anomaly)."
        )
    splits = statistics_splits(statistics, "ExampleValidator")
    expected = load_schema_artifact(schema, "ExampleValidator")
    loaded = {s: Statistics.load(statistics.path / f"{s}.json") for s in splits}
    found = {s: validate_statistics(loaded[s], expected) for s in splits}
    write_json(
        anomalies.path / ANOMALIES_FILE, {s: [a.to_dict() for a in found[s]] for s in splits}
    )
    for split in splits:
        baseline = "train" if split != "train" and "train" in loaded else None
        write_html(
            anomalies.path / f"{split}.html",
            statistics=loaded[split],
            baseline=loaded[baseline] if baseline else None,
            anomalies=found[split],
            title=f"Anomalies: {split}" + (f" (vs {baseline})" if baseline else ""),
        )
    shown, _ = report_pair(splits)
    shutil.copyfile(anomalies.path / f"{shown}.html", anomalies.path / REPORT_FILE)
    anomalies.metadata.update(
        {
            "splits": splits,
            "counts": {s: _counts(found[s]) for s in splits},
            "num_anomalies": {s: len(found[s]) for s in splits},
            "anomalous_features": {
                s: sorted({a.feature for a in found[s] if a.feature}) for s in splits
            },
        }
    )
    severities = FAIL_ON[fail_on]
    stopping = {s: [a for a in found[s] if a.severity in severities] for s in splits}
    stopping = {s: v for s, v in stopping.items() if v}
    if stopping:
        raise _failure(stopping, fail_on)
