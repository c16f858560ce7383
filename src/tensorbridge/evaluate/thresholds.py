"""Value and change thresholds, validated as TFMA's ``metrics_validator``.

* :class:`ValueThreshold` passes iff ``lower <= value <= upper`` (both inclusive; a
  missing bound is -inf/+inf; NaN fails).
* :class:`ChangeThreshold` is evaluated on ``diff = candidate - baseline``. Higher is
  better: passes iff ``diff >= absolute`` and ``diff / baseline >= relative``; lower is
  better: the same with ``<=``. A relative bound with a baseline of 0 gives a NaN ratio,
  which fails.
* A threshold on a metric that was not computed fails with ``Metric not found: <name>``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from tensorbridge.errors import ConfigError
from tensorbridge.evaluate.inputs import Task
from tensorbridge.evaluate.metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER, METRICS
from tensorbridge.evaluate.records import SliceMetrics, ThresholdCheck
from tensorbridge.evaluate.slicing import Slice, slice_name

__all__ = [
    "ChangeThreshold",
    "Direction",
    "Rule",
    "Threshold",
    "ThresholdsLike",
    "ValueThreshold",
    "normalize_thresholds",
]

Direction: TypeAlias = Literal["higher_is_better", "lower_is_better"]
SliceSelection: TypeAlias = tuple[Slice, ...] | Literal["all"]
SlicesLike: TypeAlias = Slice | Iterable[Slice] | Literal["all"]

NO_THRESHOLDS = "no thresholds configured: not blessed (as TFX)"
RUBBER_STAMPED = "rubber stamped: no baseline"


def _number(value: object, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{what} must be a number or None; got {type(value).__name__} {value!r}.")
    if math.isnan(value):
        raise ConfigError(f"{what} is NaN; pass a number, or None for no bound.")
    return float(value)


def _slices(slices: SlicesLike, owner: str) -> SliceSelection:
    if isinstance(slices, str):
        if slices == "all":
            return "all"
        raise ConfigError(
            f"{owner}(slices={slices!r}): pass a Slice, a list of Slices, or 'all' "
            "(every evaluated slice)."
        )
    items = (slices,) if isinstance(slices, Slice) else tuple(slices)
    if not items or not all(isinstance(item, Slice) for item in items):
        raise ConfigError(
            f"{owner}(slices={slices!r}): pass a Slice, a non-empty list of Slices, or 'all'."
        )
    return items


def _fmt(value: float) -> str:
    return "NaN" if math.isnan(value) else f"{value:.6g}"


@dataclass(frozen=True, init=False)
class ValueThreshold:
    """Bounds on a metric's value: passes iff ``lower <= value <= upper``.

    Parameters
    ----------
    lower, upper : float, optional
        Inclusive bounds; a missing bound is unbounded. Set at least one.
    slices : Slice, list of Slice or "all", default Slice()
        Where the threshold applies: the overall slice (default), every slice of the
        given specs (``Slice("company")``, or one slice with ``values=``), or every
        evaluated slice (``"all"``, which is what a TFMA ``MetricConfig.threshold`` does).

    Examples
    --------
    >>> ValueThreshold(lower=0.7).bound
    '>= 0.7'
    >>> ValueThreshold(lower=0.2, upper=0.4, slices=Slice("company")).bound
    'in [0.2, 0.4]'
    """

    lower: float | None
    upper: float | None
    slices: SliceSelection

    def __init__(
        self,
        lower: float | None = None,
        upper: float | None = None,
        *,
        slices: SlicesLike = Slice(),  # noqa: B008 - Slice is immutable
    ) -> None:
        low = _number(lower, "ValueThreshold lower")
        high = _number(upper, "ValueThreshold upper")
        if low is None and high is None:
            raise ConfigError(
                "ValueThreshold() needs lower= and/or upper=, e.g. ValueThreshold(lower=0.7)."
            )
        if low is not None and high is not None and low > high:
            raise ConfigError(
                f"ValueThreshold(lower={low:g}, upper={high:g}): lower is above upper, so "
                "nothing could pass. Swap them."
            )
        object.__setattr__(self, "lower", low)
        object.__setattr__(self, "upper", high)
        object.__setattr__(self, "slices", _slices(slices, "ValueThreshold"))

    @property
    def bound(self) -> str:
        """The rule as text: ``>= 0.7``, ``<= 0.3`` or ``in [0.2, 0.4]``."""
        if self.upper is None:
            return f">= {self.lower:g}"
        if self.lower is None:
            return f"<= {self.upper:g}"
        return f"in [{self.lower:g}, {self.upper:g}]"

    def check(self, value: float) -> tuple[bool, str]:
        """Whether ``value`` passes, and a sentence saying why."""
        low = -math.inf if self.lower is None else self.lower
        high = math.inf if self.upper is None else self.upper
        if low <= value <= high:
            return True, f"{_fmt(value)} is {self.bound}"
        if math.isnan(value):
            return False, "the value is NaN (undefined on this slice), which fails any bound"
        if value < low:
            return False, f"{_fmt(value)} is below the lower bound {low:g}"
        return False, f"{_fmt(value)} is above the upper bound {high:g}"


@dataclass(frozen=True, init=False)
class ChangeThreshold:
    """Bounds on the change from the baseline, ``diff = candidate - baseline``.

    Parameters
    ----------
    absolute : float, optional
        Higher is better: passes iff ``diff >= absolute`` (a negative value is the
        largest regression allowed). Lower is better: iff ``diff <= absolute``.
    relative : float, optional
        Higher is better: passes iff ``diff / baseline >= relative``; lower is better:
        ``<=``. A baseline of 0 makes the ratio NaN, which fails (as TFMA).
    direction : {"higher_is_better", "lower_is_better"}, optional
        Which way is better. By default inferred from the metric (``auc``, ``accuracy``,
        ``pr_auc``, ``precision``, ``recall``, ``r2`` are higher-is-better; ``log_loss``,
        ``mse``, ``rmse``, ``mae`` lower-is-better); other metrics need it.
    slices : Slice, list of Slice or "all", default Slice()
        Where the threshold applies (see :class:`ValueThreshold`).

    Without a baseline, change thresholds are ignored (rubber stamped, as TFX's first
    run).

    Examples
    --------
    >>> ChangeThreshold(absolute=-0.01).bound_for("higher_is_better")
    'diff >= -0.01 (higher is better)'
    >>> ChangeThreshold(relative=0.05, direction="lower_is_better").bound_for(None)
    'diff/baseline <= 0.05 (lower is better)'
    """

    absolute: float | None
    relative: float | None
    direction: Direction | None
    slices: SliceSelection

    def __init__(
        self,
        absolute: float | None = None,
        relative: float | None = None,
        *,
        direction: Direction | None = None,
        slices: SlicesLike = Slice(),  # noqa: B008 - Slice is immutable
    ) -> None:
        absolute_ = _number(absolute, "ChangeThreshold absolute")
        relative_ = _number(relative, "ChangeThreshold relative")
        if absolute_ is None and relative_ is None:
            raise ConfigError(
                "ChangeThreshold() needs absolute= and/or relative=, e.g. "
                "ChangeThreshold(absolute=-0.01) allows at most 0.01 of regression."
            )
        if direction is not None and direction not in ("higher_is_better", "lower_is_better"):
            raise ConfigError(
                f"ChangeThreshold(direction={direction!r}): pass 'higher_is_better', "
                "'lower_is_better', or leave it out to infer it from the metric."
            )
        object.__setattr__(self, "absolute", absolute_)
        object.__setattr__(self, "relative", relative_)
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "slices", _slices(slices, "ChangeThreshold"))

    def bound_for(self, direction: Direction | None) -> str:
        """The rule as text for a resolved direction."""
        direction = direction or self.direction or "higher_is_better"
        op = ">=" if direction == "higher_is_better" else "<="
        parts = []
        if self.absolute is not None:
            parts.append(f"diff {op} {self.absolute:g}")
        if self.relative is not None:
            parts.append(f"diff/baseline {op} {self.relative:g}")
        return f"{' and '.join(parts)} ({direction.replace('_', ' ')})"

    def check(self, value: float, baseline: float, direction: Direction) -> tuple[bool, str]:
        """Whether the change from ``baseline`` to ``value`` passes, and why."""
        diff = value - baseline
        higher = direction == "higher_is_better"
        said = f"diff = {diff:+.6g} ({_fmt(value)} vs baseline {_fmt(baseline)})"
        if math.isnan(diff):
            return False, f"{said}: the change is NaN (undefined on this slice), which fails"
        problems = []
        if self.absolute is not None:
            ok = diff >= self.absolute if higher else diff <= self.absolute
            if not ok:
                side = "below" if higher else "above"
                problems.append(f"the change is {side} the allowed {self.absolute:g}")
        if self.relative is not None:
            # TFMA: math.isclose(baseline, 0.0) -> ratio NaN -> the comparison fails.
            ratio = math.nan if math.isclose(baseline, 0.0) else diff / baseline
            ok = ratio >= self.relative if higher else ratio <= self.relative
            if math.isnan(ratio):
                problems.append("the relative change is undefined (baseline is 0), which fails")
            elif not ok:
                side = "below" if higher else "above"
                problems.append(
                    f"the relative change {ratio:+.4g} is {side} the allowed {self.relative:g}"
                )
            else:
                said += f", relative {ratio:+.4g}"
        if problems:
            return False, f"{said}: {'; '.join(problems)}"
        return True, f"{said} meets {self.bound_for(direction)}"


Threshold: TypeAlias = ValueThreshold | ChangeThreshold
ThresholdsLike: TypeAlias = Mapping[str, Threshold | Sequence[Threshold]]


@dataclass(frozen=True)
class Rule:
    """One configured threshold on one metric, with its change direction resolved."""

    metric: str
    threshold: Threshold
    direction: Direction | None = None

    @property
    def kind(self) -> Literal["value", "change"]:
        """``"value"`` or ``"change"``."""
        return "value" if isinstance(self.threshold, ValueThreshold) else "change"

    @property
    def bound(self) -> str:
        """The rule as text."""
        if isinstance(self.threshold, ValueThreshold):
            return self.threshold.bound
        return self.threshold.bound_for(self.direction)

    @property
    def where(self) -> str:
        """The slices the rule applies to, as text."""
        if self.threshold.slices == "all":
            return "every slice"
        return ", ".join(spec_text(spec) for spec in self.threshold.slices)

    def applies_to(self, key: tuple[tuple[str, object], ...]) -> bool:
        """Whether the rule checks the slice ``key``."""
        if self.threshold.slices == "all":
            return True
        return any(spec.matches(key) for spec in self.threshold.slices)


def spec_text(spec: Slice) -> str:
    """A slicing spec as text: ``Overall``, ``company``, ``payment_type:Cash``."""
    if not spec.values:
        return spec.name
    pinned = slice_name(spec.values)
    if not spec.columns:
        return pinned
    return f"{'_X_'.join(spec.columns)} where {pinned}"


def normalize_thresholds(
    thresholds: ThresholdsLike | None, task: Task, specs: Sequence[Slice]
) -> list[Rule]:
    """Check the ``thresholds=`` argument and resolve change directions.

    Parameters
    ----------
    thresholds : mapping of str to threshold(s), or None
        Metric name to one threshold or a list of them.
    task : {"binary", "regression"}
        The task, whose metrics give change directions.
    specs : sequence of Slice
        The evaluated slicing specs; a threshold on slices of another spec is an error.

    Returns
    -------
    list of Rule
        One rule per (metric, threshold).
    """
    if thresholds is None:
        return []
    if not isinstance(thresholds, Mapping):
        raise ConfigError(
            f"thresholds= takes a mapping of metric name to threshold(s); got "
            f"{type(thresholds).__name__}. Write thresholds={{'auc': ValueThreshold(lower=0.7)}}."
        )
    rules: list[Rule] = []
    for metric, given in thresholds.items():
        if not isinstance(metric, str) or not metric:
            raise ConfigError(f"thresholds= keys must be metric names (str); got {metric!r}.")
        items: object = [given] if isinstance(given, ValueThreshold | ChangeThreshold) else given
        if isinstance(items, str) or not isinstance(items, Sequence) or not items:
            raise ConfigError(
                f"thresholds[{metric!r}] is {given!r}; pass a ValueThreshold, a "
                "ChangeThreshold, or a non-empty list of them."
            )
        for threshold in items:
            if not isinstance(threshold, ValueThreshold | ChangeThreshold):
                raise ConfigError(
                    f"thresholds[{metric!r}] holds {type(threshold).__name__} {threshold!r}; "
                    "expected ValueThreshold or ChangeThreshold."
                )
            _check_slices(metric, threshold, specs)
            direction: Direction | None = None
            if isinstance(threshold, ChangeThreshold):
                direction = threshold.direction or _infer_direction(metric, task)
            rules.append(Rule(metric, threshold, direction))
    return rules


def _infer_direction(metric: str, task: Task) -> Direction | None:
    if metric in HIGHER_IS_BETTER:
        return "higher_is_better"
    if metric in LOWER_IS_BETTER:
        return "lower_is_better"
    if metric in METRICS[task]:
        raise ConfigError(
            f"ChangeThreshold on {metric!r}: neither direction is better for this metric, "
            "so pass direction='higher_is_better' or direction='lower_is_better'."
        )
    return None  # an unknown metric: the check fails with "Metric not found"


def _check_slices(metric: str, threshold: Threshold, specs: Sequence[Slice]) -> None:
    if threshold.slices == "all":
        return
    evaluated = [set(spec.keys) for spec in specs]
    for spec in threshold.slices:
        if set(spec.keys) not in evaluated:
            raise ConfigError(
                f"The threshold on {metric!r} applies to {spec!r}, but the evaluation does "
                f"not slice by {list(spec.keys)}; it computes {[s.name for s in specs]}. "
                f"Add Slice({', '.join(repr(k) for k in spec.keys)}) to slices=."
            )


@dataclass(frozen=True)
class Validation:
    """The outcome of every threshold, and the blessing."""

    checks: tuple[ThresholdCheck, ...]
    blessed: bool | None
    summary: str
    notes: tuple[str, ...]


def validate(
    slices: Sequence[SliceMetrics],
    rules: Sequence[Rule],
    *,
    task: Task,
    has_baseline: bool,
    min_slice_size: int,
) -> Validation:
    """Check every rule on every slice it applies to, and decide the blessing.

    The blessing is decided only when at least one threshold is configured (as TFX, so
    that forgetting thresholds never blesses a model). Without a baseline, change
    thresholds are ignored ("rubber stamped"). A rule whose slices were not evaluated,
    or are all below ``min_slice_size``, fails ("Slice not found", as TFMA's missing
    slices). Slices below ``min_slice_size`` are not checked.
    """
    if not rules:
        return Validation((), None, NO_THRESHOLDS, ())
    checks: list[ThresholdCheck] = []
    notes: list[str] = []
    ignored = [rule for rule in rules if rule.kind == "change" and not has_baseline]
    if ignored:
        metrics = ", ".join(sorted({rule.metric for rule in ignored}))
        notes.append(
            f"{RUBBER_STAMPED}: {len(ignored)} change threshold(s) ignored ({metrics}), as "
            "TFX does on a first run."
        )
    for rule in rules:
        if rule in ignored:
            continue
        targets = [s for s in slices if rule.applies_to(s.key)]
        reported = [s for s in targets if s.reported]
        small = len(targets) - len(reported)
        if not reported:
            why = (
                f"all {small} matching slice(s) have fewer than min_slice_size="
                f"{min_slice_size} examples"
                if small
                else "no evaluated slice matches"
            )
            checks.append(
                ThresholdCheck(
                    rule.metric,
                    rule.where,
                    rule.kind,
                    None,
                    None,
                    rule.bound,
                    False,
                    f"Slice not found: {rule.where} ({why}).",
                )
            )
            continue
        if small:
            notes.append(
                f"{rule.metric} {rule.bound} on {rule.where}: {small} slice(s) with fewer "
                f"than min_slice_size={min_slice_size} examples were not checked."
            )
        checks.extend(_check(rule, s, task) for s in reported)
    failed = [check for check in checks if not check.passed]
    if failed:
        summary = f"not blessed: {len(failed)} of {len(checks)} threshold checks failed"
    elif checks:
        summary = f"blessed: all {len(checks)} threshold checks passed"
        if ignored:
            summary += f" ({RUBBER_STAMPED})"
    else:
        summary = f"blessed: {RUBBER_STAMPED}, every threshold is a change threshold"
    return Validation(tuple(checks), not failed, summary, tuple(notes))


def _check(rule: Rule, metrics: SliceMetrics, task: Task) -> ThresholdCheck:
    value = metrics.metrics.get(rule.metric)
    baseline = metrics.baseline_metrics.get(rule.metric) if rule.kind == "change" else None
    if value is None or (rule.kind == "change" and baseline is None):
        known = ", ".join(METRICS[task])
        return ThresholdCheck(
            rule.metric,
            metrics.name,
            rule.kind,
            value,
            baseline,
            rule.bound,
            False,
            f"Metric not found: {rule.metric} (the {task} metrics are: {known}).",
        )
    if isinstance(rule.threshold, ValueThreshold):
        passed, why = rule.threshold.check(value)
    else:
        assert baseline is not None and rule.direction is not None
        passed, why = rule.threshold.check(value, baseline, rule.direction)
    return ThresholdCheck(
        rule.metric, metrics.name, rule.kind, value, baseline, rule.bound, passed, why
    )
