"""validate_statistics: every TFDV anomaly type it reports, with the numbers."""

from __future__ import annotations

import json

import pytest

from tensorbridge.errors import ConfigError
from tensorbridge.stats.anomalies import validate_statistics
from tensorbridge.stats.model import (
    CommonStatistics,
    DatasetStatistics,
    FeatureStatistics,
    NumericStatistics,
    RankBucket,
    Statistics,
    StringStatistics,
)
from tensorbridge.stats.results import Anomaly
from tensorbridge.stats.schema import (
    BoolDomain,
    DatasetConstraints,
    DistributionConstraints,
    Feature,
    FloatDomain,
    IntDomain,
    NumExamplesComparator,
    Presence,
    Schema,
    StringDomain,
    ValueCount,
)
from tensorbridge.stats.schema_inference import infer_schema

N = 1000
REQUIRED = Presence(1.0, 1)


def num(
    name: str,
    type_: str = "FLOAT",
    *,
    missing: int = 0,
    lo: float = 0.0,
    hi: float = 10.0,
    nan: int = 0,
    pos_inf: int = 0,
    neg_inf: int = 0,
    valency: tuple[int, int] = (1, 1),
    n: int = N,
) -> FeatureStatistics:
    common = CommonStatistics(n - missing, missing, *valency, 1.0, n - missing)
    numeric = NumericStatistics(1.0, 1.0, 0, lo, hi, 1.0, nan, pos_inf, neg_inf, (), ())
    return FeatureStatistics(name, type_, "double", common, numeric=numeric)  # type: ignore[arg-type]


def text(
    name: str, counts: dict[str, int], *, missing: int = 0, type_: str = "STRING", n: int = N
) -> FeatureStatistics:
    common = CommonStatistics(n - missing, missing, 1, 1, 1.0, n - missing)
    ranks = tuple(RankBucket(i, i, v, c) for i, (v, c) in enumerate(counts.items()))
    string = StringStatistics(len(counts), (), 3.0, ranks, sum(counts.values()))
    return FeatureStatistics(name, type_, "string", common, string=string)  # type: ignore[arg-type]


def stats(*features: FeatureStatistics, n: int = N) -> Statistics:
    return Statistics((DatasetStatistics("All Examples", n, {f.name: f for f in features}),))


def check(
    feature: Feature, data: FeatureStatistics, *, n: int = N, **kwargs: object
) -> tuple[Anomaly, ...]:
    return validate_statistics(stats(data, n=n), Schema((feature,)), **kwargs)  # type: ignore[arg-type]


def only(anomalies: tuple[Anomaly, ...]) -> Anomaly:
    assert len(anomalies) == 1, [a.type for a in anomalies]
    return anomalies[0]


PAYMENTS = {"Cash": 6000, "Credit Card": 3987, "Bitcoin": 12, "Prcard": 1}
PAYMENT_DOMAIN = StringDomain(("Cash", "Credit Card"))


# ----------------------------------------------------------------------------- clean data


def test_data_matches_the_schema_inferred_from_it() -> None:
    data = stats(
        num("fare", missing=5),
        num("tips", "INT", lo=0, hi=1),
        text("payment_type", PAYMENTS),
        text("flag", {"true": 600, "false": 400}),
        text("code", {"12": 600, "7": 400}),
    )
    assert validate_statistics(data, infer_schema(data)) == ()


# ----------------------------------------------------------------------------- columns


def test_missing_required_column() -> None:
    schema = Schema((Feature("fare", "FLOAT", REQUIRED, shape=(1,)), Feature("tips", "INT")))
    anomaly = only(validate_statistics(stats(num("tips", "INT")), schema))
    assert (anomaly.feature, anomaly.type, anomaly.severity) == (
        "fare",
        "SCHEMA_MISSING_COLUMN",
        "ERROR",
    )
    assert anomaly.short_description == "Column dropped"
    assert "presence.min_count 1, min_fraction 1" in anomaly.description
    assert "deprecated: true" in anomaly.description
    assert anomaly.details == {"min_count": 1, "min_fraction": 1.0}


@pytest.mark.parametrize(
    "feature",
    [
        Feature("fare", "FLOAT", REQUIRED, deprecated=True),
        Feature("fare", "FLOAT", Presence(None, 0)),
        Feature("fare", "FLOAT", Presence(0.0, 0)),
    ],
)
def test_missing_optional_or_deprecated_column_is_fine(feature: Feature) -> None:
    schema = Schema((feature, Feature("tips", "INT")))
    assert validate_statistics(stats(num("tips", "INT")), schema) == ()


def test_new_column_is_a_warning() -> None:
    anomaly = only(validate_statistics(stats(text("company", {"a": 1})), Schema(())))
    assert (anomaly.feature, anomaly.type, anomaly.severity) == (
        "company",
        "SCHEMA_NEW_COLUMN",
        "WARNING",
    )
    assert anomaly.short_description == "New column"
    assert anomaly.details == {"type": "STRING"}


def test_column_present_in_no_example() -> None:
    anomaly = only(check(Feature("fare", "FLOAT", REQUIRED), num("fare", missing=N)))
    assert anomaly.type == "FEATURE_TYPE_NOT_PRESENT"
    assert "not present in any of the 1,000 examples" in anomaly.description
    assert check(Feature("fare", "FLOAT", Presence(None, 0)), num("fare", missing=N)) == ()


# ----------------------------------------------------------------------------- types


@pytest.mark.parametrize(
    ("schema_type", "data", "expected"),
    [
        ("FLOAT", text("x", {"a": 1}), "FLOAT_TYPE_STRING_NOT_FLOAT"),
        ("FLOAT", text("x", {"a": 1}, type_="BYTES"), "FLOAT_TYPE_STRING_NOT_FLOAT"),
        ("INT", text("x", {"a": 1}), "INT_TYPE_NOT_INT_STRING"),
        ("INT", num("x"), "INT_TYPE_INT_EXPECTED"),
        ("STRING", num("x", "INT"), "STRING_TYPE_NOW_INT"),
        ("STRING", num("x"), "STRING_TYPE_NOW_FLOAT"),
        ("FLOAT", num("x", "INT"), "UNEXPECTED_DATA_TYPE"),
        ("STRING", text("x", {"a": 1}, type_="BYTES"), "UNEXPECTED_DATA_TYPE"),
        ("BYTES", num("x", "INT"), "UNEXPECTED_DATA_TYPE"),
    ],
)
def test_type_changes(schema_type: str, data: FeatureStatistics, expected: str) -> None:
    anomaly = only(check(Feature("x", schema_type), data))  # type: ignore[arg-type]
    assert (anomaly.type, anomaly.short_description) == (expected, "Unexpected data type")
    assert anomaly.details == {"expected_type": schema_type, "actual_type": data.type}
    assert f"Expected data of type {schema_type} but got {data.type}" in anomaly.description


def test_string_data_fits_a_bytes_feature() -> None:
    assert check(Feature("x", "BYTES"), text("x", {"a": 1})) == ()


def test_domain_is_not_checked_after_a_type_change() -> None:
    feature = Feature("x", "STRING", domain=StringDomain(("a",)))
    assert [a.type for a in check(feature, num("x", "INT"))] == ["STRING_TYPE_NOW_INT"]


# ----------------------------------------------------------------------------- presence


def test_required_everywhere_but_missing_in_some() -> None:
    anomaly = only(check(Feature("fare", "FLOAT", REQUIRED), num("fare", missing=12)))
    assert (anomaly.type, anomaly.short_description) == (
        "FEATURE_TYPE_LOW_FRACTION_PRESENT",
        "Column dropped",
    )
    assert "expected everywhere, but was missing in 12 of 1,000 examples (~1.2%)" in (
        anomaly.description
    )
    assert "lower presence.min_fraction to at most 0.988" in anomaly.description
    assert anomaly.details == {
        "num_non_missing": 988,
        "num_missing": 12,
        "num_examples": 1000,
        "fraction_present": 0.988,
        "min_fraction": 1.0,
    }


def test_low_fraction_present() -> None:
    feature = Feature("fare", "FLOAT", Presence(0.9, 1))
    anomaly = only(check(feature, num("fare", missing=400)))
    assert anomaly.type == "FEATURE_TYPE_LOW_FRACTION_PRESENT"
    assert "present in 600 of 1,000 examples (~60%), below presence.min_fraction 0.9" in (
        anomaly.description
    )
    assert anomaly.details["fraction_present"] == 0.6
    assert check(feature, num("fare", missing=100)) == ()  # exactly 0.9 is fine


def test_low_number_present() -> None:
    anomaly = only(check(Feature("x", "FLOAT", Presence(None, 5)), num("x", missing=997)))
    assert anomaly.type == "FEATURE_TYPE_LOW_NUMBER_PRESENT"
    assert "present in 3 examples, fewer than presence.min_count 5" in anomaly.description
    assert anomaly.details == {"num_non_missing": 3, "min_count": 5}


# ----------------------------------------------------------------------------- valency


def test_value_count_bounds() -> None:
    feature = Feature("xs", "FLOAT", value_count=ValueCount(2, 4))
    low, high = check(feature, num("xs", valency=(1, 7)))
    assert (low.type, low.short_description) == ("FEATURE_TYPE_LOW_NUMBER_VALUES", "Missing values")
    assert "as few as 1, below value_count.min 2" in low.description
    assert low.details == {"min_num_values": 1, "value_count_min": 2}
    assert (high.type, high.short_description) == (
        "FEATURE_TYPE_HIGH_NUMBER_VALUES",
        "Superfluous values",
    )
    assert high.details == {"max_num_values": 7, "value_count_max": 4}
    assert check(feature, num("xs", valency=(2, 4))) == ()


def test_fixed_shape_with_missing_values_or_other_sizes() -> None:
    feature = Feature("x", "FLOAT", Presence(None, 1), shape=(1,))
    anomaly = only(check(feature, num("x", missing=4)))
    assert anomaly.type == "INVALID_FEATURE_SHAPE"
    assert anomaly.details == {"shape": [1], "num_missing": 4}
    anomaly = only(check(feature, num("x", valency=(1, 2))))
    assert anomaly.details == {"shape": [1], "min_num_values": 1, "max_num_values": 2}


# ----------------------------------------------------------------------------- string domain


def test_unexpected_string_values() -> None:
    feature = Feature("payment_type", "STRING", domain=PAYMENT_DOMAIN)
    anomaly = only(check(feature, text("payment_type", PAYMENTS)))
    assert (anomaly.type, anomaly.severity, anomaly.short_description) == (
        "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
        "ERROR",
        "Unexpected string values",
    )
    assert anomaly.description.startswith(
        'Examples contain values missing from the schema: "Bitcoin" (~0.12%), '
        '"Prcard" (~0.01%). ~0.13% of the values are outside string_domain; '
        "distribution_constraints.min_domain_mass 1 allows none."
    )
    assert "add them to string_domain.values" in anomaly.description
    assert "min_domain_mass to at most 0.9987" in anomaly.description
    assert anomaly.details == {
        "unexpected": [
            {"value": "Bitcoin", "count": 12, "share": 0.0012},
            {"value": "Prcard", "count": 1, "share": 0.0001},
        ],
        "unexpected_count": 13,
        "unexpected_share": 0.0013,
        "values_total": 10000,
        "min_domain_mass": 1.0,
    }


def test_min_domain_mass_tolerates_a_share() -> None:
    def feature(mass: float) -> Feature:
        return Feature(
            "payment_type",
            "STRING",
            domain=PAYMENT_DOMAIN,
            distribution_constraints=DistributionConstraints(mass),
        )

    assert check(feature(0.99), text("payment_type", PAYMENTS)) == ()
    assert check(feature(0.9987), text("payment_type", PAYMENTS)) == ()
    anomaly = only(check(feature(0.999), text("payment_type", PAYMENTS)))
    assert anomaly.details["min_domain_mass"] == 0.999
    assert "min_domain_mass 0.999 allows 0.1%." in anomaly.description


def test_at_most_ten_values_are_named() -> None:
    counts = {"ok": 922} | {f"bad{i:02d}": 12 - i for i in range(12)}
    feature = Feature("s", "STRING", domain=StringDomain(("ok",)))
    anomaly = only(check(feature, text("s", counts)))
    assert '"bad09" (~0.3%) and 2 more.' in anomaly.description
    assert len(anomaly.details["unexpected"]) == 12


# ----------------------------------------------------------------------------- bool domain


def test_unexpected_bool_string() -> None:
    feature = Feature("flag", "STRING", domain=BoolDomain("true", "false"))
    anomaly = only(check(feature, text("flag", {"true": 500, "false": 470, "maybe": 30})))
    assert (anomaly.type, anomaly.short_description) == (
        "BOOL_TYPE_UNEXPECTED_STRING",
        "Non-boolean values",
    )
    assert 'Saw unexpected values "maybe" (~3%) instead of {"false", "true"}' in (
        anomaly.description
    )
    assert anomaly.details == {
        "unexpected": [{"value": "maybe", "count": 30, "share": 0.03}],
        "allowed": ["false", "true"],
    }


def test_bool_domain_without_values_accepts_the_standard_strings() -> None:
    feature = Feature("flag", "STRING", domain=BoolDomain())
    assert check(feature, text("flag", {"TRUE": 5, "clear": 5})) == ()
    assert only(check(feature, text("flag", {"TRUE": 5, "no": 5}))).details["unexpected"] == [
        {"value": "no", "count": 5, "share": 0.5}
    ]


def test_bool_int_out_of_range() -> None:
    feature = Feature("tips", "INT", domain=BoolDomain())
    small, big = check(feature, num("tips", "INT", lo=-1, hi=3))
    assert (small.type, big.type) == ("BOOL_TYPE_SMALL_INT", "BOOL_TYPE_BIG_INT")
    assert "Integers (such as -1) not in {0, 1}" in small.description
    assert "Integers (such as 3) not in {0, 1}" in big.description
    assert big.details == {"min": -1, "max": 3}
    assert only(check(feature, num("tips", "INT", lo=0, hi=2))).type == "BOOL_TYPE_BIG_INT"
    assert check(feature, num("tips", "INT", lo=0, hi=1)) == ()


def test_bool_float() -> None:
    feature = Feature("f", "FLOAT", domain=BoolDomain())
    anomaly = only(check(feature, num("f", lo=0.0, hi=0.5)))
    assert anomaly.type == "BOOL_TYPE_UNEXPECTED_FLOAT"
    assert anomaly.details == {"min": 0, "max": 0.5, "num_nan": 0}
    assert check(feature, num("f", lo=0.0, hi=1.0)) == ()


# ----------------------------------------------------------------------------- numeric domains


def test_int_domain_bounds() -> None:
    feature = Feature("n", "INT", domain=IntDomain(0, 10))
    small, big = check(feature, num("n", "INT", lo=-3, hi=12))
    assert (small.type, small.short_description) == ("INT_TYPE_SMALL_INT", "Out-of-range values")
    assert "Unexpectedly small value: -3 < int_domain.min 0" in small.description
    assert small.details == {"min": -3, "domain_min": 0}
    assert big.type == "INT_TYPE_BIG_INT"
    assert "Unexpectedly large value: 12 > int_domain.max 10" in big.description
    assert big.details == {"max": 12, "domain_max": 10}
    assert check(feature, num("n", "INT", lo=0, hi=10)) == ()


def test_float_domain_bounds() -> None:
    feature = Feature("fare", "FLOAT", domain=FloatDomain(0.0, 100.0))
    small, big = check(feature, num("fare", lo=-0.5, hi=250.25))
    assert (small.type, big.type) == ("FLOAT_TYPE_SMALL_FLOAT", "FLOAT_TYPE_BIG_FLOAT")
    assert "-0.5 < float_domain.min 0" in small.description
    assert big.details == {"max": 250.25, "domain_max": 100}


def test_nan_and_inf_when_disallowed() -> None:
    feature = Feature("f", "FLOAT", domain=FloatDomain(disallow_nan=True, disallow_inf=True))
    data = num("f", lo=float("-inf"), hi=float("inf"), nan=3, pos_inf=2, neg_inf=1)
    has_nan, has_inf = check(feature, data)
    assert (has_nan.type, has_nan.details) == ("FLOAT_TYPE_HAS_NAN", {"num_nan": 3})
    assert "3 NaN values" in has_nan.description
    assert (has_inf.type, has_inf.details) == (
        "FLOAT_TYPE_HAS_INF",
        {"num_pos_inf": 2, "num_neg_inf": 1},
    )
    assert "3 infinite values (2 +inf, 1 -inf)" in has_inf.description
    assert check(Feature("f", "FLOAT", domain=FloatDomain()), data) == ()


def test_int_domain_on_strings() -> None:
    feature = Feature("code", "STRING", domain=IntDomain(max=50))
    not_int, big = check(feature, text("code", {"12": 500, "99": 400, "n/a": 100}))
    assert (not_int.type, not_int.short_description) == (
        "INT_TYPE_NOT_INT_STRING",
        "Non-integer values",
    )
    assert 'saw "n/a" (~10%)' in not_int.description
    assert not_int.details == {"unexpected": [{"value": "n/a", "count": 100, "share": 0.1}]}
    assert (big.type, big.details) == ("INT_TYPE_BIG_INT", {"max": 99, "domain_max": 50})


def test_float_domain_on_strings() -> None:
    feature = Feature("x", "STRING", domain=FloatDomain(min=0.0))
    not_float, small = check(feature, text("x", {"1.5": 5, "-2e3": 3, "abc": 2}))
    assert not_float.type == "FLOAT_TYPE_STRING_NOT_FLOAT"
    assert not_float.details["unexpected"] == [{"value": "abc", "count": 2, "share": 0.2}]
    assert (small.type, small.details) == (
        "FLOAT_TYPE_SMALL_FLOAT",
        {"min": -2000, "domain_min": 0},
    )


# ----------------------------------------------------------------------------- data set


def test_no_data_in_span_checks_no_feature() -> None:
    schema = Schema((Feature("fare", "FLOAT", REQUIRED),), DatasetConstraints(min_examples_count=1))
    found = validate_statistics(stats(num("fare", missing=0, n=0), n=0), schema)
    assert [(a.feature, a.type) for a in found] == [
        (None, "NO_DATA_IN_SPAN"),
        (None, "DATASET_LOW_NUM_EXAMPLES"),
    ]


def test_dataset_size_bounds() -> None:
    schema = Schema((), DatasetConstraints(min_examples_count=2000))
    anomaly = only(validate_statistics(stats(n=1500), schema))
    assert (anomaly.feature, anomaly.type) == (None, "DATASET_LOW_NUM_EXAMPLES")
    assert "1,500 examples, fewer than dataset_constraints.min_examples_count 2,000" in (
        anomaly.description
    )
    assert anomaly.details == {"num_examples": 1500, "min_examples_count": 2000}
    schema = Schema((), DatasetConstraints(max_examples_count=1000))
    anomaly = only(validate_statistics(stats(n=1500), schema))
    assert anomaly.type == "DATASET_HIGH_NUM_EXAMPLES"


def test_num_examples_drift_comparator() -> None:
    schema = Schema((), DatasetConstraints(NumExamplesComparator(0.8, 1.2)))
    low = only(validate_statistics(stats(n=700), schema, previous=stats(n=1000)))
    assert (low.type, low.severity) == ("COMPARATOR_LOW_NUM_EXAMPLES", "ERROR")
    assert "700 examples, 0.7 times the previous span's 1,000, below" in low.description
    assert low.details == {
        "num_examples": 700,
        "previous_num_examples": 1000,
        "ratio": 0.7,
        "min_fraction_threshold": 0.8,
    }
    high = only(validate_statistics(stats(n=1300), schema, previous=stats(n=1000)))
    assert (high.type, high.details["ratio"]) == ("COMPARATOR_HIGH_NUM_EXAMPLES", 1.3)
    assert validate_statistics(stats(n=1200), schema, previous=stats(n=1000)) == ()
    assert validate_statistics(stats(n=700), schema) == ()  # no previous span: no check


# ----------------------------------------------------------------------------- order, form


def test_order_is_schema_features_then_new_columns_then_data_set() -> None:
    schema = Schema(
        (
            Feature("b", "FLOAT", REQUIRED),
            Feature("a", "INT", domain=IntDomain(max=1)),
            Feature("gone", "INT", REQUIRED),
        ),
        DatasetConstraints(min_examples_count=5000),
    )
    data = stats(num("new2"), num("a", "INT", hi=3), num("b", missing=1), num("new1"))
    found = validate_statistics(data, schema)
    assert [(a.feature, a.type) for a in found] == [
        ("b", "FEATURE_TYPE_LOW_FRACTION_PRESENT"),
        ("a", "INT_TYPE_BIG_INT"),
        ("gone", "SCHEMA_MISSING_COLUMN"),
        ("new2", "SCHEMA_NEW_COLUMN"),
        ("new1", "SCHEMA_NEW_COLUMN"),
        (None, "DATASET_LOW_NUM_EXAMPLES"),
    ]
    assert validate_statistics(data, schema) == found
    for anomaly in found:
        json.dumps(anomaly.to_dict(), allow_nan=False)


def test_details_are_strict_json_with_infinities() -> None:
    feature = Feature("f", "FLOAT", domain=FloatDomain(max=1.0))
    anomaly = only(check(feature, num("f", lo=0.0, hi=float("inf"))))
    assert anomaly.details == {"max": "Infinity", "domain_max": 1}
    assert "Unexpectedly large value: inf > float_domain.max 1" in anomaly.description


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="needs a Schema"):
        validate_statistics(stats(), {"features": []})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs Statistics"):
        validate_statistics(None, Schema(()))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="previous must be Statistics"):
        validate_statistics(stats(), Schema(()), previous=3)  # type: ignore[arg-type]
