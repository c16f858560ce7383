"""Check statistics against a schema: TFDV's ``validate_statistics``.

:func:`validate_statistics` compares the default slice of the statistics with each
schema feature and returns :class:`~tensorbridge.stats.results.Anomaly` records named
with TFDV's anomaly types. Every anomaly is an ERROR except ``SCHEMA_NEW_COLUMN``, a
WARNING. Its ``description`` gives the numbers and says how to fix the data or accept
the change in the schema; ``details`` holds the same numbers, machine-readable.

Checks, per schema feature (deprecated features are skipped):

==========================================  =============================================
Anomaly type                                When
==========================================  =============================================
SCHEMA_MISSING_COLUMN                       not in the data, and required (``presence``
                                            ``min_count > 0`` or ``min_fraction > 0``)
FEATURE_TYPE_NOT_PRESENT                    in the data but in no example, and required
FEATURE_TYPE_LOW_NUMBER_PRESENT             present in fewer than ``min_count`` examples
FEATURE_TYPE_LOW_FRACTION_PRESENT           present share below ``min_fraction``, or
                                            ``min_fraction == 1`` and any example misses it
INVALID_FEATURE_SHAPE                       with a ``shape``: missing somewhere, or a
                                            number of values other than the shape's
FEATURE_TYPE_LOW_NUMBER_VALUES / _HIGH_...  values per example outside ``value_count``
ENUM_TYPE_UNEXPECTED_STRING_VALUES          share of values outside ``string_domain``
                                            above ``1 - min_domain_mass`` (any, at 1.0)
BOOL_TYPE_SMALL_INT / BOOL_TYPE_BIG_INT     INT ``bool_domain``: min < 0 / max > 1
BOOL_TYPE_UNEXPECTED_FLOAT                  FLOAT ``bool_domain``: min/max not 0 or 1, NaN
BOOL_TYPE_UNEXPECTED_STRING                 STRING ``bool_domain``: another string
INT_TYPE_SMALL_INT / INT_TYPE_BIG_INT       min / max outside ``int_domain`` (INT data,
                                            or integer strings)
INT_TYPE_NOT_INT_STRING                     ``int_domain`` on strings that are not integers
FLOAT_TYPE_SMALL_FLOAT / _BIG_FLOAT         min / max outside ``float_domain``
FLOAT_TYPE_STRING_NOT_FLOAT                 ``float_domain`` on strings that are not floats
FLOAT_TYPE_HAS_NAN / FLOAT_TYPE_HAS_INF     ``disallow_nan`` / ``disallow_inf`` and a NaN /
                                            an infinite value
==========================================  =============================================

A feature whose data type differs from the schema's gets one type anomaly, and its
domain is then not checked. TFDV reports every such change as ``UNEXPECTED_DATA_TYPE``;
tensorbridge uses the more specific names of TFDV's anomaly list where one fits:

=============  ===============  ==============================
Schema type    Data type        Anomaly type
=============  ===============  ==============================
FLOAT          STRING or BYTES  FLOAT_TYPE_STRING_NOT_FLOAT
INT            STRING or BYTES  INT_TYPE_NOT_INT_STRING
INT            FLOAT            INT_TYPE_INT_EXPECTED
STRING         INT              STRING_TYPE_NOW_INT
STRING         FLOAT            STRING_TYPE_NOW_FLOAT
(other pairs)                   UNEXPECTED_DATA_TYPE
=============  ===============  ==============================

STRING data fits a BYTES feature (valid UTF-8 is still bytes).

Then ``SCHEMA_NEW_COLUMN`` for each feature of the data missing from the schema, and the
data-set checks: ``NO_DATA_IN_SPAN`` (no examples: no feature is checked),
``DATASET_LOW_NUM_EXAMPLES`` / ``DATASET_HIGH_NUM_EXAMPLES``
(``dataset_constraints.min_examples_count`` / ``max_examples_count``) and, given
``previous`` statistics, ``COMPARATOR_LOW_NUM_EXAMPLES`` /
``COMPARATOR_HIGH_NUM_EXAMPLES`` (``num_examples / previous num_examples`` outside
``num_examples_drift_comparator``'s thresholds). Feature drift and skew distances are
:mod:`tensorbridge.stats.drift`'s job.

Anomalies come in schema feature order, then new columns in data order, then data-set
anomalies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from tensorbridge.errors import ConfigError
from tensorbridge.stats.model import DatasetStatistics, FeatureStatistics, Statistics
from tensorbridge.stats.results import Anomaly, Severity
from tensorbridge.stats.schema import (
    FALSE_VALUES,
    TRUE_VALUES,
    BoolDomain,
    Feature,
    FloatDomain,
    IntDomain,
    Schema,
    StringDomain,
)

__all__ = ["validate_statistics"]

#: How many unexpected values a description names (``details`` lists them all).
MAX_EXAMPLES = 10

#: (schema type, data type) -> anomaly type, for a feature whose type changed.
TYPE_CHANGE_ANOMALIES: dict[tuple[str, str], str] = {
    ("FLOAT", "STRING"): "FLOAT_TYPE_STRING_NOT_FLOAT",
    ("FLOAT", "BYTES"): "FLOAT_TYPE_STRING_NOT_FLOAT",
    ("INT", "STRING"): "INT_TYPE_NOT_INT_STRING",
    ("INT", "BYTES"): "INT_TYPE_NOT_INT_STRING",
    ("INT", "FLOAT"): "INT_TYPE_INT_EXPECTED",
    ("STRING", "INT"): "STRING_TYPE_NOW_INT",
    ("STRING", "FLOAT"): "STRING_TYPE_NOW_FLOAT",
}


def validate_statistics(
    statistics: Statistics, schema: Schema, *, previous: Statistics | None = None
) -> tuple[Anomaly, ...]:
    """Check the default slice of ``statistics`` against ``schema``.

    Parameters
    ----------
    statistics : Statistics
        Statistics of the data to check.
    schema : Schema
        What the data should look like (:func:`~tensorbridge.stats.infer_schema`, edited).
    previous : Statistics or None
        Statistics of the previous span, for
        ``dataset_constraints.num_examples_drift_comparator``.

    Returns
    -------
    tuple of Anomaly
        Empty when the data matches the schema; see the module docstring for the order.
    """
    if not isinstance(statistics, Statistics) or not statistics.slices:
        raise ConfigError(
            "validate_statistics needs Statistics with a slice (tensorbridge.stats.compute), "
            f"got {type(statistics).__name__}."
        )
    if not isinstance(schema, Schema):
        raise ConfigError(
            f"validate_statistics needs a Schema (infer_schema or load_schema), got "
            f"{type(schema).__name__}."
        )
    if previous is not None and (not isinstance(previous, Statistics) or not previous.slices):
        raise ConfigError(
            f"previous must be Statistics with a slice or None, got {type(previous).__name__}."
        )
    data = statistics.default
    found: list[Anomaly] = []
    if data.num_examples > 0:
        for feature in schema.features:
            if feature.deprecated:
                continue
            stats = data.features.get(feature.name)
            if stats is None:
                found.extend(_missing_column(feature))
            else:
                found.extend(_check_feature(feature, stats, data.num_examples))
        known = schema.features_by_name
        found.extend(_new_column(f) for f in data if f.name not in known)
    found.extend(_check_dataset(schema, data, previous))
    return tuple(found)


# --------------------------------------------------------------------------- helpers


def _anomaly(
    feature: str | None,
    type_: str,
    short: str,
    description: str,
    details: Mapping[str, Any],
    severity: Severity = "ERROR",
) -> Anomaly:
    return Anomaly(feature, type_, severity, short, description, dict(details))


def _num(value: float) -> str:
    """A number for a sentence: integers without decimals, else 6 significant digits."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.6g}"


def _pct(share: float) -> str:
    """A share as an approximate percentage: ``0.0012`` -> ``"~0.12%"``."""
    percent = share * 100
    return f"~{percent:.0f}%" if percent >= 10 else f"~{percent:.2g}%"


def _json(value: float) -> float | int | str:
    """JSON-ready number: NaN and +-inf as the strings the statistics files use."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if float(value).is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _quote(value: str) -> str:
    return f'"{value}"'


def _value_list(entries: list[dict[str, Any]]) -> str:
    """``"Bitcoin" (~0.12%), "Prcard" (~0.01%) and 3 more`` for a description."""
    named = ", ".join(f"{_quote(e['value'])} ({_pct(e['share'])})" for e in entries[:MAX_EXAMPLES])
    extra = len(entries) - MAX_EXAMPLES
    return named + (f" and {extra} more" if extra > 0 else "")


def _value_entries(
    stats: FeatureStatistics, keep: Callable[[str], bool]
) -> tuple[list[dict[str, Any]], float]:
    """The rank-histogram values for which ``keep`` is true, and the total value count."""
    strings = stats.string
    if strings is None:
        return [], 0.0
    total = float(strings.values_total) or sum(b.sample_count for b in strings.rank_histogram)
    entries = [
        {
            "value": b.label,
            "count": _json(b.sample_count),
            "share": b.sample_count / total if total else 0.0,
        }
        for b in strings.rank_histogram
        if keep(b.label)
    ]
    return entries, total


def _parse_float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _parse_int(value: str) -> int | None:
    body = value[1:] if value[:1] in ("+", "-") else value
    return int(value) if body.isascii() and body.isdigit() else None


# --------------------------------------------------------------------------- columns


def _missing_column(feature: Feature) -> list[Anomaly]:
    presence = feature.presence
    if not presence.required:
        return []
    return [
        _anomaly(
            feature.name,
            "SCHEMA_MISSING_COLUMN",
            "Column dropped",
            f"The feature {feature.name!r} is in the schema but not in the data, and the "
            f"schema requires it ({_presence_text(feature)}). If it was dropped on purpose, "
            "mark it `deprecated: true` in the schema.",
            {"min_count": presence.min_count, "min_fraction": presence.min_fraction},
        )
    ]


def _presence_text(feature: Feature) -> str:
    parts = [f"presence.min_count {feature.presence.min_count}"]
    if feature.presence.min_fraction is not None:
        parts.append(f"min_fraction {_num(feature.presence.min_fraction)}")
    return ", ".join(parts)


def _new_column(stats: FeatureStatistics) -> Anomaly:
    return _anomaly(
        stats.name,
        "SCHEMA_NEW_COLUMN",
        "New column",
        f"New column {stats.name!r} ({stats.type}) is in the data but not in the schema. Add "
        "it to the schema (infer a schema from these statistics and copy its entry), or "
        "remove the column from the data.",
        {"type": stats.type},
        severity="WARNING",
    )


def _check_feature(feature: Feature, stats: FeatureStatistics, num_examples: int) -> list[Anomaly]:
    common = stats.common
    if common.num_non_missing == 0:
        if not feature.presence.required:
            return []
        return [
            _anomaly(
                feature.name,
                "FEATURE_TYPE_NOT_PRESENT",
                "Column dropped",
                f"The feature was not present in any of the {_num(num_examples)} examples, but "
                f"the schema requires it ({_presence_text(feature)}). If it may be absent, set "
                "presence.min_count to 0 and remove presence.min_fraction (or mark it "
                "`deprecated: true`).",
                {"num_examples": num_examples, "num_non_missing": 0},
            )
        ]
    type_changed = _check_type(feature, stats)
    found = type_changed + _check_presence(feature, stats, num_examples)
    found += _check_valency(feature, stats, num_examples)
    if not type_changed:
        found += _check_domain(feature, stats)
    return found


def _types_match(schema_type: str, data_type: str) -> bool:
    return schema_type == data_type or (schema_type == "BYTES" and data_type == "STRING")


def _check_type(feature: Feature, stats: FeatureStatistics) -> list[Anomaly]:
    if _types_match(feature.type, stats.type):
        return []
    type_ = TYPE_CHANGE_ANOMALIES.get((feature.type, stats.type), "UNEXPECTED_DATA_TYPE")
    return [
        _anomaly(
            feature.name,
            type_,
            "Unexpected data type",
            f"Expected data of type {feature.type} but got {stats.type} (Arrow type "
            f"{stats.arrow_type}). Fix the data, or if {stats.type} is right now, change the "
            "feature's type in the schema (and its domain).",
            {"expected_type": feature.type, "actual_type": stats.type},
        )
    ]


def _check_presence(feature: Feature, stats: FeatureStatistics, num_examples: int) -> list[Anomaly]:
    presence, common = feature.presence, stats.common
    found: list[Anomaly] = []
    present = common.num_non_missing
    if present < presence.min_count:
        found.append(
            _anomaly(
                feature.name,
                "FEATURE_TYPE_LOW_NUMBER_PRESENT",
                "Column dropped",
                f"The feature was present in {_num(present)} examples, fewer than "
                f"presence.min_count {_num(presence.min_count)}. Lower presence.min_count to "
                "accept this.",
                {"num_non_missing": present, "min_count": presence.min_count},
            )
        )
    min_fraction = presence.min_fraction
    fraction = present / num_examples
    if min_fraction is not None and (
        fraction < min_fraction or (min_fraction == 1.0 and common.num_missing > 0)
    ):
        if min_fraction == 1.0:
            text = (
                f"The feature was expected everywhere, but was missing in "
                f"{_num(common.num_missing)} of {_num(num_examples)} examples "
                f"({_pct(common.num_missing / num_examples)})."
            )
        else:
            text = (
                f"The feature was present in {_num(present)} of {_num(num_examples)} examples "
                f"({_pct(fraction)}), below presence.min_fraction {_num(min_fraction)}."
            )
        found.append(
            _anomaly(
                feature.name,
                "FEATURE_TYPE_LOW_FRACTION_PRESENT",
                "Column dropped",
                f"{text} If it may be missing this often, lower presence.min_fraction to at "
                f"most {math.floor(fraction * 10_000) / 10_000:g}.",
                {
                    "num_non_missing": present,
                    "num_missing": common.num_missing,
                    "num_examples": num_examples,
                    "fraction_present": fraction,
                    "min_fraction": min_fraction,
                },
            )
        )
    return found


def _check_valency(feature: Feature, stats: FeatureStatistics, num_examples: int) -> list[Anomaly]:
    common = stats.common
    found: list[Anomaly] = []
    if feature.shape is not None:
        size = math.prod(feature.shape)
        shape = list(feature.shape)
        if common.num_missing > 0:
            found.append(
                _anomaly(
                    feature.name,
                    "INVALID_FEATURE_SHAPE",
                    "Invalid shape",
                    f"The feature has the fixed shape {shape} but is missing in "
                    f"{_num(common.num_missing)} of {_num(num_examples)} examples; a fixed "
                    "shape needs a value in every example. Fill the missing values, or replace "
                    f"shape with value_count {{min: {size}, max: {size}}} in the schema.",
                    {"shape": shape, "num_missing": common.num_missing},
                )
            )
        if common.min_num_values != size or common.max_num_values != size:
            found.append(
                _anomaly(
                    feature.name,
                    "INVALID_FEATURE_SHAPE",
                    "Invalid shape",
                    f"The feature has the fixed shape {shape} ({size} values per example) but "
                    f"examples have {_num(common.min_num_values)} to "
                    f"{_num(common.max_num_values)} values. Fix the data, or replace shape "
                    "with a value_count range in the schema.",
                    {
                        "shape": shape,
                        "min_num_values": common.min_num_values,
                        "max_num_values": common.max_num_values,
                    },
                )
            )
    count = feature.value_count
    if count is not None and count.min is not None and common.min_num_values < count.min:
        found.append(
            _anomaly(
                feature.name,
                "FEATURE_TYPE_LOW_NUMBER_VALUES",
                "Missing values",
                f"Some examples have fewer values than expected: as few as "
                f"{_num(common.min_num_values)}, below value_count.min {_num(count.min)}. "
                f"Lower value_count.min to {_num(common.min_num_values)} to accept this.",
                {"min_num_values": common.min_num_values, "value_count_min": count.min},
            )
        )
    if count is not None and count.max is not None and common.max_num_values > count.max:
        found.append(
            _anomaly(
                feature.name,
                "FEATURE_TYPE_HIGH_NUMBER_VALUES",
                "Superfluous values",
                f"Some examples have more values than expected: as many as "
                f"{_num(common.max_num_values)}, above value_count.max {_num(count.max)}. "
                f"Raise value_count.max to {_num(common.max_num_values)} to accept this.",
                {"max_num_values": common.max_num_values, "value_count_max": count.max},
            )
        )
    return found


# --------------------------------------------------------------------------- domains


def _check_domain(feature: Feature, stats: FeatureStatistics) -> list[Anomaly]:
    domain = feature.domain
    if isinstance(domain, StringDomain):
        return _check_string_domain(feature, domain, stats)
    if isinstance(domain, BoolDomain):
        return _check_bool_domain(feature, domain, stats)
    if isinstance(domain, IntDomain):
        return _check_int_domain(feature, domain, stats)
    if isinstance(domain, FloatDomain):
        return _check_float_domain(feature, domain, stats)
    return []


def _check_string_domain(
    feature: Feature, domain: StringDomain, stats: FeatureStatistics
) -> list[Anomaly]:
    allowed = set(domain.values)
    entries, total = _value_entries(stats, lambda v: v not in allowed)
    if not entries:
        return []
    out_count = sum(float(e["count"]) for e in entries)
    out_share = out_count / total if total else 0.0
    mass = feature.min_domain_mass
    # The tolerance keeps the min_domain_mass this description suggests from failing
    # on float rounding (1 - 0.9987 < 0.0013).
    if mass < 1.0 and out_share <= 1.0 - mass + 1e-12:
        return []
    accept = math.floor((1.0 - out_share) * 10_000) / 10_000
    tolerated = "none" if mass >= 1.0 else f"{(1.0 - mass) * 100:.4g}%"
    return [
        _anomaly(
            feature.name,
            "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
            "Unexpected string values",
            f"Examples contain values missing from the schema: {_value_list(entries)}. "
            f"{_pct(out_share)} of the values are outside string_domain; "
            f"distribution_constraints.min_domain_mass {mass:g} allows {tolerated}. To accept "
            "them, add them to string_domain.values, or lower "
            f"distribution_constraints.min_domain_mass to at most {accept:g}.",
            {
                "unexpected": entries,
                "unexpected_count": _json(out_count),
                "unexpected_share": out_share,
                "values_total": _json(total),
                "min_domain_mass": mass,
            },
        )
    ]


def _check_bool_domain(
    feature: Feature, domain: BoolDomain, stats: FeatureStatistics
) -> list[Anomaly]:
    numeric = stats.numeric
    found: list[Anomaly] = []
    if stats.type == "INT" and numeric is not None:
        for type_, bad, value in (
            ("BOOL_TYPE_SMALL_INT", numeric.min < 0, numeric.min),
            ("BOOL_TYPE_BIG_INT", numeric.max > 1, numeric.max),
        ):
            if bad:
                found.append(
                    _anomaly(
                        feature.name,
                        type_,
                        "Non-boolean values",
                        f"Integers (such as {_num(value)}) not in {{0, 1}}: min "
                        f"{_num(numeric.min)}, max {_num(numeric.max)}. Fix the data, or "
                        "replace bool_domain with an int_domain in the schema.",
                        {"min": _json(numeric.min), "max": _json(numeric.max)},
                    )
                )
    elif stats.type == "FLOAT" and numeric is not None:
        ends = [v for v in (numeric.min, numeric.max) if not math.isnan(v)]
        odd = [v for v in ends if v not in (0.0, 1.0)]
        if odd or numeric.num_nan > 0:
            example = _num(odd[0]) if odd else "NaN"
            found.append(
                _anomaly(
                    feature.name,
                    "BOOL_TYPE_UNEXPECTED_FLOAT",
                    "Non-boolean values",
                    f"Floats (such as {example}) not in {{0, 1}}: min {_num(numeric.min)}, "
                    f"max {_num(numeric.max)}, {_num(numeric.num_nan)} NaN. Fix the data, or "
                    "replace bool_domain with a float_domain in the schema.",
                    {
                        "min": _json(numeric.min),
                        "max": _json(numeric.max),
                        "num_nan": numeric.num_nan,
                    },
                )
            )
    elif stats.type == "STRING":
        valid = {v for v in (domain.true_value, domain.false_value) if v is not None}
        if not valid:
            valid = set(TRUE_VALUES | FALSE_VALUES)
        entries, _ = _value_entries(stats, lambda v: v not in valid)
        if entries:
            allowed = ", ".join(_quote(v) for v in sorted(valid))
            found.append(
                _anomaly(
                    feature.name,
                    "BOOL_TYPE_UNEXPECTED_STRING",
                    "Non-boolean values",
                    f"Saw unexpected values {_value_list(entries)} instead of {{{allowed}}}. "
                    "Fix the data, or replace bool_domain with a string_domain listing every "
                    "value in the schema.",
                    {"unexpected": entries, "allowed": sorted(valid)},
                )
            )
    return found


def _range_anomalies(
    feature: Feature,
    kind: str,
    lo: float | None,
    hi: float | None,
    actual_min: float,
    actual_max: float,
) -> list[Anomaly]:
    """``{INT,FLOAT}_TYPE_{SMALL,BIG}_{INT,FLOAT}`` for values outside ``[lo, hi]``."""
    word = "INT" if kind == "int_domain" else "FLOAT"
    found: list[Anomaly] = []
    if lo is not None and actual_min < lo:
        found.append(
            _anomaly(
                feature.name,
                f"{word}_TYPE_SMALL_{word}",
                "Out-of-range values",
                f"Unexpectedly small value: {_num(actual_min)} < {kind}.min {_num(lo)}. Fix "
                f"the data, or lower {kind}.min to {_num(actual_min)} to accept it.",
                {"min": _json(actual_min), "domain_min": _json(lo)},
            )
        )
    if hi is not None and actual_max > hi:
        found.append(
            _anomaly(
                feature.name,
                f"{word}_TYPE_BIG_{word}",
                "Out-of-range values",
                f"Unexpectedly large value: {_num(actual_max)} > {kind}.max {_num(hi)}. Fix "
                f"the data, or raise {kind}.max to {_num(actual_max)} to accept it.",
                {"max": _json(actual_max), "domain_max": _json(hi)},
            )
        )
    return found


def _not_parsed(
    feature: Feature, stats: FeatureStatistics, type_: str, what: str, kind: str
) -> tuple[list[Anomaly], list[float]]:
    """Anomaly for strings that do not parse as ``what``; the parsed values."""
    parse: Callable[[str], float | int | None] = _parse_int if what == "integers" else _parse_float
    entries, _ = _value_entries(stats, lambda v: parse(v) is None)
    labels = [b.label for b in stats.string.rank_histogram] if stats.string else []
    parsed = [float(p) for p in map(parse, labels) if p is not None]
    if not entries:
        return [], parsed
    anomaly = _anomaly(
        feature.name,
        type_,
        f"Non-{what[:-1]} values",
        f"The {kind} expects {what} written as strings, but saw {_value_list(entries)}. Fix "
        f"the data, or replace the {kind} with a string_domain in the schema.",
        {"unexpected": entries},
    )
    return [anomaly], parsed


def _check_int_domain(
    feature: Feature, domain: IntDomain, stats: FeatureStatistics
) -> list[Anomaly]:
    numeric = stats.numeric
    if stats.type == "INT":
        if numeric is None or math.isnan(numeric.min):
            return []
        return _range_anomalies(
            feature, "int_domain", domain.min, domain.max, numeric.min, numeric.max
        )
    found, parsed = _not_parsed(feature, stats, "INT_TYPE_NOT_INT_STRING", "integers", "int_domain")
    if parsed:
        found += _range_anomalies(
            feature, "int_domain", domain.min, domain.max, min(parsed), max(parsed)
        )
    return found


def _check_float_domain(
    feature: Feature, domain: FloatDomain, stats: FeatureStatistics
) -> list[Anomaly]:
    numeric = stats.numeric
    if stats.type != "FLOAT":
        found, parsed = _not_parsed(
            feature, stats, "FLOAT_TYPE_STRING_NOT_FLOAT", "floats", "float_domain"
        )
        finite = [p for p in parsed if not math.isnan(p)]
        if finite:
            found += _range_anomalies(
                feature, "float_domain", domain.min, domain.max, min(finite), max(finite)
            )
        return found
    if numeric is None:
        return []
    found = []
    if not math.isnan(numeric.min):
        found += _range_anomalies(
            feature, "float_domain", domain.min, domain.max, numeric.min, numeric.max
        )
    if domain.disallow_nan and numeric.num_nan > 0:
        found.append(
            _anomaly(
                feature.name,
                "FLOAT_TYPE_HAS_NAN",
                "Invalid values",
                f"The feature has {_num(numeric.num_nan)} NaN values, but float_domain."
                "disallow_nan is true. Fix the data, or set disallow_nan: false.",
                {"num_nan": numeric.num_nan},
            )
        )
    num_inf = numeric.num_pos_inf + numeric.num_neg_inf
    if domain.disallow_inf and num_inf > 0:
        found.append(
            _anomaly(
                feature.name,
                "FLOAT_TYPE_HAS_INF",
                "Invalid values",
                f"The feature has {_num(num_inf)} infinite values ({_num(numeric.num_pos_inf)} "
                f"+inf, {_num(numeric.num_neg_inf)} -inf), but float_domain.disallow_inf is "
                "true. Fix the data, or set disallow_inf: false.",
                {"num_pos_inf": numeric.num_pos_inf, "num_neg_inf": numeric.num_neg_inf},
            )
        )
    return found


# --------------------------------------------------------------------------- data set


def _check_dataset(
    schema: Schema, data: DatasetStatistics, previous: Statistics | None
) -> list[Anomaly]:
    found: list[Anomaly] = []
    n = data.num_examples
    if n == 0:
        found.append(
            _anomaly(
                None,
                "NO_DATA_IN_SPAN",
                "No data in span",
                "The data has no examples, so no feature could be checked. Check that the "
                "input files are not empty and that filters kept some rows.",
                {"num_examples": 0},
            )
        )
    constraints = schema.dataset_constraints
    if constraints is None:
        return found
    low, high = constraints.min_examples_count, constraints.max_examples_count
    if low is not None and n < low:
        found.append(
            _anomaly(
                None,
                "DATASET_LOW_NUM_EXAMPLES",
                "Low num examples in dataset",
                f"The data has {_num(n)} examples, fewer than dataset_constraints."
                f"min_examples_count {_num(low)}. Check for lost input, or lower "
                "min_examples_count.",
                {"num_examples": n, "min_examples_count": low},
            )
        )
    if high is not None and n > high:
        found.append(
            _anomaly(
                None,
                "DATASET_HIGH_NUM_EXAMPLES",
                "High num examples in dataset",
                f"The data has {_num(n)} examples, more than dataset_constraints."
                f"max_examples_count {_num(high)}. Check for duplicated input, or raise "
                "max_examples_count.",
                {"num_examples": n, "max_examples_count": high},
            )
        )
    comparator = constraints.num_examples_drift_comparator
    if comparator is None or previous is None or previous.num_examples <= 0:
        return found
    before = previous.num_examples
    ratio = n / before
    key = "dataset_constraints.num_examples_drift_comparator"
    lo, hi = comparator.min_fraction_threshold, comparator.max_fraction_threshold
    for type_, short, bad, bound, name in (
        ("COMPARATOR_LOW_NUM_EXAMPLES", "Low", lo is not None and ratio < lo, lo, "min"),
        ("COMPARATOR_HIGH_NUM_EXAMPLES", "High", hi is not None and ratio > hi, hi, "max"),
    ):
        if bad and bound is not None:
            found.append(
                _anomaly(
                    None,
                    type_,
                    f"{short} num examples in comparison with the previous span",
                    f"The data has {_num(n)} examples, {ratio:.4g} times the previous span's "
                    f"{_num(before)}, {'below' if name == 'min' else 'above'} {key}."
                    f"{name}_fraction_threshold {_num(bound)}. Check the input, or "
                    f"{'lower' if name == 'min' else 'raise'} the threshold.",
                    {
                        "num_examples": n,
                        "previous_num_examples": before,
                        "ratio": ratio,
                        f"{name}_fraction_threshold": bound,
                    },
                )
            )
    return found
