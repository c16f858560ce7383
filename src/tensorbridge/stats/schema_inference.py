"""Schema inference from statistics, with TFDV's rules (``tfdv.infer_schema``)."""

from __future__ import annotations

from tensorbridge.errors import ConfigError
from tensorbridge.stats.model import FeatureStatistics, Statistics
from tensorbridge.stats.schema import (
    FALSE_VALUES,
    TRUE_VALUES,
    BoolDomain,
    Domain,
    Feature,
    IntDomain,
    Presence,
    Schema,
    StringDomain,
    ValueCount,
    _is_int_string,
)

__all__ = ["infer_schema"]


def infer_schema(
    statistics: Statistics, *, infer_feature_shape: bool = True, max_string_domain_size: int = 100
) -> Schema:
    """Infer a schema from statistics with TFDV's rules (``tfdv.infer_schema``).

    Only the default slice is used. Per feature: the type from the statistics;
    ``presence.min_count`` 1 when present in an example, else 0; ``min_fraction`` 1.0
    only when never missing; ``shape`` ``[n]`` when never missing with always ``n > 0``
    values (if ``infer_feature_shape``), else ``value_count`` ``{min: n, max: n}`` for a
    constant ``n > 0`` or ``{min: 1}``; a ``bool_domain`` for INT features with
    ``min >= 0`` and ``max == 1`` and for STRING features whose one or two values are a
    true string and/or a false string (:data:`TRUE_VALUES`, :data:`FALSE_VALUES`); an
    empty ``int_domain`` for STRING features whose values all are integers; a sorted
    ``string_domain`` when there are 1 to ``max_string_domain_size`` distinct values.
    BYTES features get no domain; no numeric range is inferred. Never-present features
    get ``presence.min_count: 0`` and nothing else.

    Parameters
    ----------
    statistics : Statistics
        Statistics of the training data.
    infer_feature_shape : bool
        Infer ``shape`` for features that always have the same number of values.
    max_string_domain_size : int
        Largest number of distinct strings that still makes a ``string_domain``.

    Returns
    -------
    Schema
        One feature per feature of the statistics, in column order.
    """
    if not isinstance(statistics, Statistics):
        raise ConfigError(
            f"infer_schema needs a Statistics object (tensorbridge.stats.compute), got "
            f"{type(statistics).__name__}."
        )
    if not statistics.slices:
        raise ConfigError("infer_schema: the statistics have no slice; compute them again.")
    if isinstance(max_string_domain_size, bool) or not isinstance(max_string_domain_size, int):
        raise ConfigError(
            f"max_string_domain_size must be an integer, got {max_string_domain_size!r}."
        )
    if max_string_domain_size < 0:
        raise ConfigError(
            f"max_string_domain_size must be 0 or more, got {max_string_domain_size}."
        )
    return Schema(
        tuple(
            _infer_feature(f, infer_feature_shape, max_string_domain_size)
            for f in statistics.default
        )
    )


def _infer_feature(stats: FeatureStatistics, infer_shape: bool, max_domain: int) -> Feature:
    common = stats.common
    if common.num_non_missing <= 0:
        return Feature(stats.name, stats.type, Presence(min_count=0))
    presence = Presence(min_fraction=1.0 if common.num_missing == 0 else None, min_count=1)
    constant = common.min_num_values == common.max_num_values
    shape: tuple[int, ...] | None = None
    value_count: ValueCount | None = None
    if infer_shape and common.num_missing == 0 and constant and common.min_num_values > 0:
        shape = (common.min_num_values,)
    elif common.min_num_values > 0:
        value_count = (
            ValueCount(common.min_num_values, common.max_num_values)
            if constant
            else ValueCount(min=1)
        )
    return Feature(
        stats.name,
        stats.type,
        presence,
        shape=shape,
        value_count=value_count,
        domain=_infer_domain(stats, max_domain),
    )


def _infer_domain(stats: FeatureStatistics, max_domain: int) -> Domain | None:
    if stats.type == "INT":
        numeric = stats.numeric
        if numeric is not None and numeric.min >= 0 and numeric.max == 1:
            return BoolDomain()
        return None
    strings = stats.string
    if stats.type != "STRING" or strings is None or strings.invalid_utf8_count > 0:
        return None
    values = [b.label for b in strings.rank_histogram]
    # Only when every distinct value made it into the rank histogram.
    if not 0 < strings.unique <= len(values):
        return None
    bool_domain = _bool_domain_from_strings(values)
    if bool_domain is not None:
        return bool_domain
    if all(_is_int_string(v) for v in values):
        return IntDomain()
    if strings.unique <= max_domain:
        return StringDomain(tuple(sorted(values)))
    return None


def _bool_domain_from_strings(values: list[str]) -> BoolDomain | None:
    if not 1 <= len(values) <= 2:
        return None
    trues = [v for v in values if v in TRUE_VALUES]
    falses = [v for v in values if v in FALSE_VALUES]
    if len(trues) > 1 or len(falses) > 1 or len(trues) + len(falses) != len(values):
        return None
    return BoolDomain(trues[0] if trues else None, falses[0] if falses else None)
