"""Schema inference (TFDV's rules), the YAML/JSON files and their validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tensorbridge.errors import ConfigError, SchemaError
from tensorbridge.stats.model import (
    CommonStatistics,
    DatasetStatistics,
    FeatureStatistics,
    NumericStatistics,
    RankBucket,
    Statistics,
    StringStatistics,
)
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
from tensorbridge.stats.schema_file import load_schema, save_schema
from tensorbridge.stats.schema_inference import infer_schema
from tensorbridge.stats.thresholds import ComparatorThresholds

N = 100


def feat(
    name: str,
    type_: str = "FLOAT",
    *,
    missing: int = 0,
    valency: tuple[int, int] = (1, 1),
    lo: float = 0.0,
    hi: float = 5.0,
    values: dict[str, int] | None = None,
    unique: int | None = None,
    invalid_utf8: int = 0,
    n: int = N,
) -> FeatureStatistics:
    """Statistics of one feature over ``n`` examples (``values``: string counts)."""
    present = n - missing
    common = CommonStatistics(present, missing, *valency, sum(valency) / 2, present * valency[0])
    if type_ in ("INT", "FLOAT"):
        nan = float("nan")
        numeric = NumericStatistics(1.0, 1.0, 0, lo, hi, nan, 0, 0, 0, (), ())
        return FeatureStatistics(name, type_, "double", common, numeric=numeric)  # type: ignore[arg-type]
    counts = values or {}
    ranks = tuple(RankBucket(i, i, v, c) for i, (v, c) in enumerate(counts.items()))
    string = StringStatistics(
        len(counts) if unique is None else unique,
        (),
        1.0,
        ranks,
        sum(counts.values()),
        invalid_utf8,
    )
    return FeatureStatistics(name, type_, "string", common, string=string)  # type: ignore[arg-type]


def stats(*features: FeatureStatistics, n: int = N) -> Statistics:
    return Statistics((DatasetStatistics("All Examples", n, {f.name: f for f in features}),))


def inferred(feature: FeatureStatistics, **kwargs: object) -> Feature:
    return infer_schema(stats(feature), **kwargs).features[0]  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- inference


def test_required_scalar_gets_min_fraction_and_shape_1() -> None:
    assert inferred(feat("fare")) == Feature("fare", "FLOAT", Presence(1.0, 1), shape=(1,))


def test_missing_values_leave_min_fraction_unset_and_give_value_count() -> None:
    assert inferred(feat("fare", missing=3)) == Feature(
        "fare", "FLOAT", Presence(None, 1), value_count=ValueCount(1, 1)
    )


def test_no_shape_inference_gives_value_count() -> None:
    feature = inferred(feat("fare"), infer_feature_shape=False)
    assert (feature.shape, feature.value_count) == (None, ValueCount(1, 1))
    assert feature.presence == Presence(1.0, 1)


def test_constant_list_valency_gives_shape_of_that_size() -> None:
    assert inferred(feat("xs", valency=(3, 3))).shape == (3,)


def test_varying_valency_gives_value_count_min_1() -> None:
    feature = inferred(feat("xs", valency=(2, 5)))
    assert (feature.shape, feature.value_count) == (None, ValueCount(min=1))


def test_empty_lists_give_no_value_count() -> None:
    feature = inferred(feat("xs", valency=(0, 4)))
    assert (feature.shape, feature.value_count) == (None, None)


def test_never_present_feature_gets_min_count_0_only() -> None:
    assert inferred(feat("gone", "STRING", missing=N)) == Feature(
        "gone", "STRING", Presence(None, 0)
    )


def test_types_come_from_the_statistics() -> None:
    schema = infer_schema(stats(feat("a", "INT", lo=3, hi=9), feat("b"), feat("c", "BYTES")))
    assert [(f.name, f.type) for f in schema.features] == [
        ("a", "INT"),
        ("b", "FLOAT"),
        ("c", "BYTES"),
    ]


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [(0, 1, BoolDomain()), (1, 1, BoolDomain()), (-1, 1, None), (0, 2, None), (0, 0, None)],
)
def test_int_bool_domain_when_min_ge_0_and_max_1(lo: int, hi: int, expected: object) -> None:
    assert inferred(feat("tips", "INT", lo=lo, hi=hi)).domain == expected


def test_float_gets_no_domain_and_no_range() -> None:
    assert inferred(feat("x", lo=0.0, hi=1.0)).domain is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["true", "false"], BoolDomain("true", "false")),
        (["FALSE", "TRUE"], BoolDomain("TRUE", "FALSE")),
        (["set", "clear"], BoolDomain("set", "clear")),
        (["SET"], BoolDomain("SET", None)),
        (["CLEAR"], BoolDomain(None, "CLEAR")),
        (["1", "0"], BoolDomain("1", "0")),
        (["", "0"], BoolDomain("", "0")),
    ],
)
def test_string_bool_domain(values: list[str], expected: BoolDomain) -> None:
    assert inferred(feat("b", "STRING", values=dict.fromkeys(values, 5))).domain == expected


@pytest.mark.parametrize("values", [["true", "TRUE"], ["false", "0"], ["yes", "no"]])
def test_not_bool_strings_get_a_string_domain(values: list[str]) -> None:
    domain = inferred(feat("b", "STRING", values=dict.fromkeys(values, 5))).domain
    assert domain == StringDomain(tuple(sorted(values)))


def test_int_strings_get_an_empty_int_domain() -> None:
    domain = inferred(feat("code", "STRING", values={"12": 4, "-5": 3, "+7": 2, "300": 1})).domain
    assert domain == IntDomain()
    assert IntDomain().to_dict() == {}


def test_string_domain_values_are_sorted() -> None:
    values = {"Credit Card": 50, "Cash": 40, "No Charge": 5, "Dispute": 5}
    assert inferred(feat("payment_type", "STRING", values=values)).domain == StringDomain(
        ("Cash", "Credit Card", "Dispute", "No Charge")
    )


def test_100_distinct_strings_make_a_domain_101_do_not() -> None:
    hundred = {f"v{i:03d}": 1 for i in range(100)}
    domain = inferred(feat("s", "STRING", values=hundred)).domain
    assert isinstance(domain, StringDomain) and len(domain.values) == 100
    assert domain.values[:2] == ("v000", "v001")
    hundred_and_one = {f"v{i:03d}": 1 for i in range(101)}
    assert inferred(feat("s", "STRING", values=hundred_and_one)).domain is None


def test_max_string_domain_size_is_honoured() -> None:
    values = {"a": 1, "b": 1, "c": 1}
    assert inferred(feat("s", "STRING", values=values), max_string_domain_size=2).domain is None
    assert inferred(feat("s", "STRING", values=values), max_string_domain_size=3).domain == (
        StringDomain(("a", "b", "c"))
    )


def test_no_domain_when_values_beyond_the_rank_histogram() -> None:
    feature = feat("s", "STRING", values={"1": 3, "2": 2}, unique=1500)
    assert inferred(feature).domain is None


def test_bytes_and_invalid_utf8_get_no_domain() -> None:
    assert inferred(feat("raw", "BYTES", values={"a": 1})).domain is None
    assert inferred(feat("s", "STRING", values={"a": 1}, invalid_utf8=1)).domain is None


def test_infer_schema_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="needs a Statistics"):
        infer_schema({"x": 1})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_string_domain_size must be 0 or more, got -1"):
        infer_schema(stats(feat("x")), max_string_domain_size=-1)


# ----------------------------------------------------------------------------- model


def full_schema() -> Schema:
    return Schema(
        (
            Feature("fare", "FLOAT", Presence(1.0, 1), shape=(1,), domain=FloatDomain(0.0, 500.5)),
            Feature(
                "payment_type",
                "STRING",
                Presence(0.5, 10),
                value_count=ValueCount(1, 2),
                domain=StringDomain(("Cash", "Credit Card", "yes", "1", "2020-01-01")),
                distribution_constraints=DistributionConstraints(0.99),
                drift_comparator=ComparatorThresholds(infinity_norm=0.1),
                skew_comparator=ComparatorThresholds(0.05, 0.2),
                description="How the rider paid: " + "a very long explanation " * 8,
            ),
            Feature("tips", "INT", domain=BoolDomain()),
            Feature("flag", "STRING", domain=BoolDomain("Y", "N")),
            Feature("code", "INT", domain=IntDomain(-3, 40, is_categorical=True)),
            Feature("z", "FLOAT", domain=FloatDomain(disallow_nan=True, disallow_inf=True)),
            Feature("old", "BYTES", deprecated=True, description="multi\nline"),
        ),
        DatasetConstraints(NumExamplesComparator(0.8, 1.5), min_examples_count=10),
    )


def test_to_dict_from_dict_round_trip_exactly() -> None:
    schema = full_schema()
    assert Schema.from_dict(schema.to_dict()) == schema
    assert Schema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema


def test_to_dict_leaves_unset_fields_out() -> None:
    assert Feature("tips", "INT", domain=BoolDomain()).to_dict() == {
        "name": "tips",
        "type": "INT",
        "presence": {"min_count": 0},
        "bool_domain": {},
    }
    assert Feature("x", "FLOAT", Presence(1.0, 1), shape=(1,)).to_dict() == {
        "name": "x",
        "type": "FLOAT",
        "presence": {"min_fraction": 1.0, "min_count": 1},
        "shape": [1],
    }


def test_feature_lookup_names_the_known_features() -> None:
    schema = full_schema()
    assert schema.feature("tips").bool_domain == BoolDomain()
    assert list(schema.features_by_name)[:3] == ["fare", "payment_type", "tips"]
    with pytest.raises(KeyError, match=r"No feature 'fair'.*'fare', 'payment_type'.*'fare'\?"):
        schema.feature("fair")


def test_with_feature_replaces_or_appends() -> None:
    schema = full_schema()
    replaced = schema.with_feature(Feature("tips", "INT"))
    assert replaced.feature("tips").domain is None
    assert [f.name for f in replaced.features] == [f.name for f in schema.features]
    assert schema.with_feature(Feature("new", "INT")).features[-1].name == "new"


def test_constructor_checks() -> None:
    with pytest.raises(ConfigError, match="string_domain does not fit type FLOAT"):
        Feature("x", "FLOAT", domain=StringDomain(("a",)))
    with pytest.raises(ConfigError, match="both a shape and a value_count"):
        Feature("x", "FLOAT", shape=(1,), value_count=ValueCount(1, 1))
    with pytest.raises(ConfigError, match="'x' twice"):
        Schema((Feature("x", "INT"), Feature("x", "FLOAT")))


# ----------------------------------------------------------------------------- files


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_file_round_trip(tmp_path: Path, suffix: str) -> None:
    schema = full_schema()
    path = tmp_path / f"schema{suffix}"
    save_schema(schema, path)
    assert load_schema(path) == schema
    assert Schema.load(str(path)) == schema
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_inferred_schema_round_trips_through_yaml(tmp_path: Path) -> None:
    schema = infer_schema(
        stats(
            feat("fare", missing=2),
            feat("tips", "INT", lo=0, hi=1),
            feat("payment_type", "STRING", values={"Cash": 3, "Credit Card": 2}),
            feat("flag", "STRING", values={"true": 1}),
            feat("gone", "INT", missing=N),
        )
    )
    schema.save(tmp_path / "s.yaml")
    assert load_schema(tmp_path / "s.yaml") == schema


def test_yaml_is_commented_and_one_mapping_per_feature(tmp_path: Path) -> None:
    save_schema(full_schema(), tmp_path / "schema.yaml")
    text = (tmp_path / "schema.yaml").read_text()
    assert text.startswith("# tensorbridge schema")
    assert "docs/stats.md" in text.split("\nformat:")[0]
    assert "- name: fare\n  type: FLOAT\n  presence: {min_fraction: 1.0, min_count: 1}\n" in text
    assert "  shape: [1]\n  float_domain: {min: 0.0, max: 500.5}\n" in text
    assert "    values:\n    - Cash\n    - Credit Card\n    - 'yes'\n    - '1'\n" in text
    fare = text.split("- name: fare")[1].split("- name: payment_type")[0]
    assert "value_count" not in fare and "description" not in fare  # unset: left out
    assert "  drift_comparator:\n    infinity_norm: {threshold: 0.1}\n" in text


def test_json_file_is_plain_json(tmp_path: Path) -> None:
    save_schema(full_schema(), tmp_path / "schema.json")
    data = json.loads((tmp_path / "schema.json").read_text())
    assert data["format"] == "tensorbridge.schema"
    assert data["features"][0] == {
        "name": "fare",
        "type": "FLOAT",
        "presence": {"min_fraction": 1.0, "min_count": 1},
        "shape": [1],
        "float_domain": {"min": 0.0, "max": 500.5},
    }


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown extension '.pbtxt'.*\.yaml, \.yml or \.json"):
        save_schema(full_schema(), tmp_path / "schema.pbtxt")
    with pytest.raises(ConfigError, match="does not exist"):
        load_schema(tmp_path / "nope.yaml")


# ----------------------------------------------------------------------------- load errors

BAD = """\
format: tensorbridge.schema
features:
- name: fare
  type: FLOAT
- name: tips
  type: FLOAT
  float_domain: {min: 5.0, max: 1.0}
- name: company
  type: STRING
  presence:
    min_fracton: 0.5
"""


def write(tmp_path: Path, text: str, name: str = "schema.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_error(path: Path) -> str:
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    return str(info.value)


def test_errors_name_file_line_path_and_suggest_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    message = load_error(path)
    assert f"Invalid schema {path} (2 problems):" in message
    assert (
        f"{path}, line 7: features[1].float_domain.min (feature 'tips'): min (5) is greater "
        "than max (1)" in message
    )
    assert (
        f"{path}, line 11: features[2].presence.min_fracton (feature 'company'): unknown key "
        "'min_fracton' (did you mean 'min_fraction'?)" in message
    )


@pytest.mark.parametrize(
    ("feature_yaml", "line", "expected"),
    [
        ("  type: FLOAT\n  string_domain: {values: [a]}", 6, "string_domain does not fit a FLOAT"),
        ("  type: INT\n  float_domain: {}", 6, "use bool_domain or int_domain"),
        ("  type: INT\n  presence: {min_fraction: 1.5}", 6, "between 0 and 1, got 1.5"),
        ("  type: INT\n  presence: {min_count: one}", 6, "whole number, got the string 'one'"),
        ("  type: float", 5, "unknown type 'float' (did you mean 'FLOAT'?)"),
        ("  type: INT\n  value_count: {min: 3, max: 1}", 6, "min (3) is greater than max (1)"),
        ("  type: INT\n  shape: [0]", 6, "shape[0] (feature 'b'): must be 1 or more, got 0"),
        ("  type: INT\n  shape: [1]\n  value_count: {min: 1}", 7, "not both"),
        ("  type: STRING\n  string_domain:\n    values: [a, 2]", 7, "values[1] (feature 'b')"),
        ("  type: STRING\n  string_domain:\n    values: [a, 2]", 7, "2 (quote it in YAML)"),
        ("  type: STRING\n  string_domain:\n    values: [a, a]", 7, "'a' is listed twice"),
        ("  type: INT\n  int_domain: {}\n  bool_domain: {}", 6, "at most one domain"),
        ("  type: INT\n  distribution_constraints: {min_domain_mass: 0.9}", 6, "string_domain"),
        ("  type: INT\n  drift_comparator:\n    infinity_norm: {threshold: 2}", 7, "between 0"),
        ("  type: INT\n  skew_comparator: {jensen_shanon: 0.1}", 6, "'jensen_shannon_divergence'"),
        ("  type: INT\n  deprecated: maybe", 6, "expected true or false, got the string"),
        ("  type: FLOAT\n  float_domain: {min: .inf}", 6, "must be a finite number, got inf"),
        ("  tpye: INT", 4, "features[1] (feature 'b'): missing required key 'type'"),
        ("  tpye: INT", 5, "unknown key 'tpye' (did you mean 'type'?)"),
    ],
)
def test_each_problem_is_reported(
    tmp_path: Path, feature_yaml: str, line: int, expected: str
) -> None:
    text = f"features:\n- name: a\n  type: INT\n- name: b\n{feature_yaml}\n"
    message = load_error(write(tmp_path, text))
    assert f"line {line}: {expected}" in message or any(
        f"line {line}: " in problem and expected in problem for problem in message.splitlines()
    ), message


def test_all_problems_are_listed_at_once(tmp_path: Path) -> None:
    text = (
        "features:\n"
        "- name: a\n  type: INT\n  presence: {min_fraction: -1}\n"
        "- name: a\n  type: FLOAT\n"
        "dataset_constraints:\n  min_examples_count: 5\n  max_examples_count: 2\n"
        "  num_examples_drift_comparator: {min_fraction_threshold: 1.5}\n"
    )
    message = load_error(write(tmp_path, text))
    assert "(4 problems)" in message
    assert "line 4: features[0].presence.min_fraction (feature 'a'): must be between 0" in message
    assert "line 5: features[1].name (feature 'a'): duplicate feature name 'a' (also " in message
    assert "line 8: dataset_constraints.min_examples_count: min_examples_count (5) is" in message
    assert "line 10: dataset_constraints.num_examples_drift_comparator.min_fraction_threshold:" in (
        message
    )


def test_top_level_problems(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "format: other\nversion: 2\nfeatures: {}\nextra: 1\n"))
    assert "line 1: format: expected 'tensorbridge.schema', got 'other'" in message
    assert "line 2: version: unsupported version 2" in message
    assert "line 3: features: expected a list of features, got a mapping" in message
    assert "line 4: extra: unknown key 'extra'" in message
    assert "missing: list the features" in load_error(write(tmp_path, "version: 1\n"))


def test_duplicate_yaml_keys_are_reported(tmp_path: Path) -> None:
    text = "features:\n- name: a\n  type: INT\n  type: FLOAT\n"
    assert "line 4: features[0].type (feature 'a'): this key appears twice" in load_error(
        write(tmp_path, text)
    )


def test_syntax_errors_and_empty_files(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "features:\n- name: a\n  type: [INT\n"))
    assert "not valid YAML: line" in message
    assert "is empty" in load_error(write(tmp_path, "# nothing\n"))
    message = load_error(write(tmp_path, '{"features": [\n  {"name": "a",}\n]}', "s.json"))
    assert "s.json, line 2, column" in message and "not valid JSON" in message


def test_json_errors_have_lines_too(tmp_path: Path) -> None:
    text = json.dumps(
        {"features": [{"name": "a", "type": "INT"}, {"name": "b", "type": "INTEGER"}]}, indent=2
    )
    message = load_error(write(tmp_path, text, "schema.json"))
    assert "schema.json, line 9: features[1].type (feature 'b'): unknown type 'INTEGER'" in message


def test_from_dict_errors_name_the_path() -> None:
    with pytest.raises(
        SchemaError,
        match=r"<schema dict>: features\[0\]\.presence \(feature 'a'\): expected a mapping",
    ):
        Schema.from_dict({"features": [{"name": "a", "type": "INT", "presence": 1}]})
