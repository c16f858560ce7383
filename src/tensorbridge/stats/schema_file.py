"""Schema files: commented, hand-editable YAML (or JSON) out, every field checked on the way in.

:func:`save_schema` writes a :class:`~tensorbridge.stats.schema.Schema` atomically;
:func:`load_schema` parses a file and reports all problems at once, each with the file,
the line (from ``yaml.compose``, which reads JSON too), the path of the field
(``features[1].float_domain.min``) and, for a misspelt key, the closest valid one.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from typing import Any, TypeAlias

import yaml

from tensorbridge.errors import ConfigError, SchemaError
from tensorbridge.stats.model import FeatureType
from tensorbridge.stats.schema import (
    _DOMAIN_CLASSES,
    _DOMAIN_TYPES,
    FEATURE_TYPES,
    SCHEMA_FORMAT,
    SCHEMA_VERSION,
    BoolDomain,
    DatasetConstraints,
    DistributionConstraints,
    Domain,
    Feature,
    FloatDomain,
    IntDomain,
    NumExamplesComparator,
    Presence,
    Schema,
    StringDomain,
    ValueCount,
)
from tensorbridge.stats.thresholds import ComparatorThresholds

__all__ = ["load_schema", "save_schema"]


_HEADER = """\
# tensorbridge schema: what the data is expected to look like (TFDV's schema.proto).
# Inferred by tensorbridge.stats.infer_schema; review and edit it by hand, then check
# new data with tensorbridge.stats.validate_statistics. Every field: docs/stats.md
#
# Each feature has a name and a type (INT, FLOAT, STRING or BYTES); every other key is
# optional, and leaving one out switches its check off:
#   presence        min_fraction: share of examples that must have it (0 to 1);
#                   min_count: number of examples that must have it
#   shape           fixed number of values per example, e.g. [1] for a required scalar
#   value_count     min / max number of values per example (instead of shape)
#   bool_domain     true_value / false_value for strings (0/1 for numbers)
#   int_domain      min / max (inclusive)
#   float_domain    min / max (inclusive), disallow_nan, disallow_inf
#   string_domain   values: the allowed strings, one per line
#   distribution_constraints.min_domain_mass
#                   share of values that must be in string_domain (default 1.0)
#   drift_comparator / skew_comparator
#                   infinity_norm / jensen_shannon_divergence thresholds (0 to 1)
#   description     free text;  deprecated: true switches every check off
# dataset_constraints: min_examples_count, max_examples_count and
#   num_examples_drift_comparator (min_fraction_threshold, max_fraction_threshold).
"""


def _dump(data: Mapping[str, Any], *, flow: bool | None) -> str:
    return yaml.safe_dump(
        dict(data), default_flow_style=flow, sort_keys=False, allow_unicode=True, width=100
    )


def _inline(key: str, value: Any) -> bool:
    return isinstance(value, dict | list) and key != "string_domain"


def _to_yaml(schema: Schema) -> str:
    data = schema.to_dict()
    parts = [_HEADER, _dump({"format": data["format"], "version": data["version"]}, flow=False)]
    if not data["features"]:
        parts.append("features: []\n")
    else:
        parts.append("features:\n")
        for i, feature in enumerate(data["features"]):
            # Small mappings on one line; a string domain one value per line.
            chunk = "".join(
                _dump({key: value}, flow=None if _inline(key, value) else False)
                for key, value in feature.items()
            )
            lines = chunk.splitlines()
            item = ["- " + lines[0]] + ["  " + line for line in lines[1:]]
            parts.append(("\n" if i else "") + "\n".join(item) + "\n")
    if "dataset_constraints" in data:
        parts.append("\n" + _dump({"dataset_constraints": data["dataset_constraints"]}, flow=False))
    return "".join(parts)


def _format_of(path: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".json":
        return "json"
    hint = " (TFDV text protos are not read; convert to YAML)" if suffix == ".pbtxt" else ""
    raise ConfigError(
        f"Schema file {path!r} has an unknown extension {suffix or '(none)'!r}{hint}; "
        "name it .yaml, .yml or .json."
    )


def save_schema(schema: Schema, path: str | os.PathLike[str]) -> None:
    """Write ``schema`` to ``path``, atomically: YAML for .yaml/.yml, JSON for .json.

    The YAML starts with a comment explaining the fields, has one mapping per feature
    with keys in a stable order, and leaves unset fields out.
    """
    if not isinstance(schema, Schema):
        raise ConfigError(f"save_schema needs a Schema, got {type(schema).__name__}.")
    target = os.fspath(path)
    text = schema.to_yaml() if _format_of(target) == "yaml" else schema.to_json()
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_schema(path: str | os.PathLike[str]) -> Schema:
    """Read and check a schema written by :func:`save_schema` (or by hand).

    Raises
    ------
    ConfigError
        When the file does not exist or has an unknown extension.
    SchemaError
        When the file is not valid YAML/JSON, or lists problems: unknown keys (with the
        closest valid key), wrong value types, a domain that does not fit the type,
        ``min > max``, fractions outside [0, 1], duplicate feature names... Each problem
        names the file, the line and the path of the field (``features[1].presence``).
    """
    target = os.fspath(path)
    kind = _format_of(target)
    try:
        with open(target, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(
            f"Schema file {target!r} does not exist; write one with save_schema(infer_schema("
            "statistics), path)."
        ) from None
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{target}: not UTF-8 text ({exc.reason}).") from None
    if kind == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(
                f"{target}, line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})."
            ) from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SchemaError(f"{target}: not valid YAML: {_yaml_problem(exc)}") from None
        if data is None:
            raise SchemaError(
                f"{target} is empty; write a schema with save_schema(infer_schema(statistics), "
                "path)."
            )
    lines, duplicates = _line_map(text)
    return _Parser(target, lines, duplicates).schema(data)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"{problem}."
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}."


_Path: TypeAlias = tuple[str | int, ...]


def _line_map(text: str) -> tuple[dict[_Path, int], list[tuple[_Path, int]]]:
    """``{path: 1-based line}`` for every key and list item, and the duplicated keys.

    JSON is (nearly) YAML, so this works for both; when the text cannot be composed,
    lines are simply unknown.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}, []
    lines: dict[_Path, int] = {}
    duplicates: list[tuple[_Path, int]] = []
    if root is None:
        return lines, duplicates

    def walk(node: yaml.Node, path: _Path) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                child = (*path, key)
                if key in seen:
                    duplicates.append((child, key_node.start_mark.line + 1))
                seen.add(key)
                lines.setdefault(child, key_node.start_mark.line + 1)
                walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    lines[()] = root.start_mark.line + 1
    walk(root, ())
    return lines, duplicates


# --------------------------------------------------------------------------- checking

_TOP_KEYS = ("format", "version", "features", "dataset_constraints")
_FEATURE_KEYS = (
    "name",
    "type",
    "description",
    "deprecated",
    "presence",
    "shape",
    "value_count",
    "bool_domain",
    "int_domain",
    "float_domain",
    "string_domain",
    "distribution_constraints",
    "drift_comparator",
    "skew_comparator",
)
_COMPARATOR_KEYS = ("infinity_norm", "jensen_shannon_divergence")


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value!r} ({type(value).__name__})"


class _Parser:
    """Checks a plain schema document, collecting every problem, and builds the Schema."""

    def __init__(
        self,
        source: str,
        lines: Mapping[_Path, int],
        duplicates: list[tuple[_Path, int]] | None = None,
    ) -> None:
        self.source = source
        self.lines = lines
        self.duplicates = duplicates or []
        self.problems: list[str] = []
        self.names: dict[int, str] = {}

    # -- reporting

    def error(self, path: _Path, message: str, *, line: int | None = None) -> None:
        end = len(path)
        while line is None and end >= 0:
            line = self.lines.get(path[:end])
            end -= 1
        where = self.source if line is None else f"{self.source}, line {line}"
        self.problems.append(f"{where}: {self._path_text(path)}: {message}")

    def _path_text(self, path: _Path) -> str:
        text = ""
        for part in path:
            text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + part
        if len(path) >= 2 and path[0] == "features" and isinstance(path[1], int):
            name = self.names.get(path[1])
            if name is not None:
                text += f" (feature {name!r})"
        return text or "(top level)"

    # -- typed values

    def mapping(self, value: Any, path: _Path, keys: tuple[str, ...]) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.error(path, f"expected a mapping (key: value lines), got {_describe(value)}")
            return None
        for key in value:
            if key not in keys:
                close = difflib.get_close_matches(str(key), keys, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.error(
                    (*path, str(key)),
                    f"unknown key {str(key)!r}{hint}; the keys allowed here are {', '.join(keys)}",
                )
        return {str(k): v for k, v in value.items()}

    def integer(self, value: Any, path: _Path, *, minimum: int = 0) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"expected a whole number, got {_describe(value)}")
            return None
        if value < minimum:
            self.error(path, f"must be {minimum} or more, got {value}")
            return None
        return value

    def number(
        self, value: Any, path: _Path, *, low: float | None = None, high: float | None = None
    ) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(path, f"expected a number, got {_describe(value)}")
            return None
        number = float(value)
        if not math.isfinite(number):
            self.error(path, f"must be a finite number, got {value}; leave the key out instead")
            return None
        if (low is not None and number < low) or (high is not None and number > high):
            span = f"between {low:g} and {high:g}" if high is not None else f"{low:g} or more"
            self.error(path, f"must be {span}, got {value}")
            return None
        return number

    def boolean(self, value: Any, path: _Path) -> bool | None:
        if not isinstance(value, bool):
            self.error(path, f"expected true or false, got {_describe(value)}")
            return None
        return value

    def string(self, value: Any, path: _Path) -> str | None:
        if not isinstance(value, str):
            hint = " (quote it in YAML)" if isinstance(value, bool | int | float) else ""
            self.error(path, f"expected a string, got {_describe(value)}{hint}")
            return None
        return value

    def bounds(self, lo: float | None, hi: float | None, path: _Path) -> None:
        if lo is not None and hi is not None and lo > hi:
            self.error((*path, "min"), f"min ({lo:g}) is greater than max ({hi:g}); swap them")

    # -- document

    def schema(self, raw: Any) -> Schema:
        features_raw = raw.get("features") if isinstance(raw, Mapping) else None
        if isinstance(features_raw, list):
            for i, item in enumerate(features_raw):
                if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                    self.names[i] = item["name"]
        for path, line in self.duplicates:
            self.error(path, "this key appears twice in the same mapping; keep one", line=line)
        data = self.mapping(raw, (), _TOP_KEYS)
        features: list[Feature | None] = []
        constraints: DatasetConstraints | None = None
        if data is not None:
            if "format" in data and data["format"] != SCHEMA_FORMAT:
                self.error(
                    ("format",),
                    f"expected {SCHEMA_FORMAT!r}, got {data['format']!r}; is this a schema file?",
                )
            if "version" in data and data["version"] != SCHEMA_VERSION:
                self.error(
                    ("version",),
                    f"unsupported version {data['version']!r}; this tensorbridge reads version "
                    f"{SCHEMA_VERSION}",
                )
            features = self.features(data.get("features"))
            if data.get("dataset_constraints") is not None:
                constraints = self.dataset_constraints(
                    data["dataset_constraints"], ("dataset_constraints",)
                )
        if self.problems:
            count = len(self.problems)
            raise SchemaError(
                f"Invalid schema {self.source} ({count} problem{'s' if count > 1 else ''}):\n"
                + "\n".join(f"  - {p}" for p in self.problems)
                + "\nFix these fields; docs/stats.md describes each one."
            )
        return Schema(tuple(f for f in features if f is not None), constraints)

    def features(self, raw: Any) -> list[Feature | None]:
        path: _Path = ("features",)
        if raw is None:
            self.error(path, "missing: list the features under 'features:' (may be [])")
            return []
        if not isinstance(raw, list):
            self.error(path, f"expected a list of features, got {_describe(raw)}")
            return []
        first_index: dict[str, int] = {}
        for i, item in enumerate(raw):
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                if item["name"] in first_index:
                    self.error(
                        (*path, i, "name"),
                        f"duplicate feature name {item['name']!r} (also features"
                        f"[{first_index[item['name']]}]); feature names must be unique",
                    )
                first_index.setdefault(item["name"], i)
        return [self.feature(item, (*path, i)) for i, item in enumerate(raw)]

    def feature(self, raw: Any, path: _Path) -> Feature | None:
        before = len(self.problems)
        data = self.mapping(raw, path, _FEATURE_KEYS)
        if data is None:
            return None
        name = type_ = None
        for key in ("name", "type"):
            if key not in data:
                self.error(path, f"missing required key {key!r}")
        if "name" in data:
            name = self.string(data["name"], (*path, "name"))
            if name == "":
                self.error((*path, "name"), "must not be empty")
        if "type" in data:
            type_ = self._type(data["type"], (*path, "type"))
        description = ""
        if "description" in data:
            description = self.string(data["description"], (*path, "description")) or ""
        deprecated = False
        if "deprecated" in data:
            deprecated = bool(self.boolean(data["deprecated"], (*path, "deprecated")))
        presence = Presence()
        if data.get("presence") is not None:
            presence = self.presence(data["presence"], (*path, "presence")) or presence
        shape = self.shape(data["shape"], (*path, "shape")) if "shape" in data else None
        value_count = None
        if "value_count" in data:
            value_count = self.value_count(data["value_count"], (*path, "value_count"))
            if "shape" in data:
                self.error(
                    (*path, "value_count"),
                    "a feature has either a shape (fixed number of values) or a value_count "
                    "(a range), not both; remove one",
                )
        domain = self.domain(data, path, type_)
        constraints = None
        if "distribution_constraints" in data:
            constraints = self.distribution(data, path)
        comparators: dict[str, ComparatorThresholds | None] = {}
        for key in ("drift_comparator", "skew_comparator"):
            if key in data:
                comparators[key] = self.comparator(data[key], (*path, key))
        if len(self.problems) > before or name is None or type_ is None:
            return None
        return Feature(
            name,
            type_,
            presence,
            shape=shape,
            value_count=value_count,
            domain=domain,
            distribution_constraints=constraints,
            drift_comparator=comparators.get("drift_comparator"),
            skew_comparator=comparators.get("skew_comparator"),
            description=description,
            deprecated=deprecated,
        )

    def _type(self, value: Any, path: _Path) -> FeatureType | None:
        for type_ in FEATURE_TYPES:
            if value == type_:
                return type_
        hint = ""
        if isinstance(value, str):
            close = difflib.get_close_matches(value.upper(), FEATURE_TYPES, n=1)
            if close:
                hint = f" (did you mean {close[0]!r}?)"
        self.error(path, f"unknown type {value!r}{hint}; the types are {', '.join(FEATURE_TYPES)}")
        return None

    def presence(self, raw: Any, path: _Path) -> Presence | None:
        data = self.mapping(raw, path, ("min_fraction", "min_count"))
        if data is None:
            return None
        fraction = None
        if data.get("min_fraction") is not None:
            fraction = self.number(data["min_fraction"], (*path, "min_fraction"), low=0, high=1)
        count = 0
        if data.get("min_count") is not None:
            count = self.integer(data["min_count"], (*path, "min_count")) or 0
        return Presence(fraction, count)

    def shape(self, raw: Any, path: _Path) -> tuple[int, ...] | None:
        if not isinstance(raw, list):
            self.error(path, f"expected a list of dimensions like [1], got {_describe(raw)}")
            return None
        dims = [self.integer(d, (*path, i), minimum=1) for i, d in enumerate(raw)]
        return tuple(d for d in dims if d is not None)

    def value_count(self, raw: Any, path: _Path) -> ValueCount | None:
        data = self.mapping({} if raw is None else raw, path, ("min", "max"))
        if data is None:
            return None
        lo = self.integer(data["min"], (*path, "min")) if data.get("min") is not None else None
        hi = self.integer(data["max"], (*path, "max")) if data.get("max") is not None else None
        self.bounds(lo, hi, path)
        return ValueCount(lo, hi)

    def domain(self, data: Mapping[str, Any], path: _Path, type_: str | None) -> Domain | None:
        keys = [k for k in _DOMAIN_CLASSES if k in data]
        if len(keys) > 1:
            self.error(
                (*path, keys[1]),
                f"a feature has at most one domain, this one has {' and '.join(keys)}; keep one",
            )
            return None
        if not keys:
            return None
        key = keys[0]
        dpath = (*path, key)
        if type_ is not None and type_ not in _DOMAIN_TYPES[key]:
            fits = [k for k, types in _DOMAIN_TYPES.items() if type_ in types]
            self.error(
                dpath,
                f"a {key} does not fit a {type_} feature; use {' or '.join(fits)}, or change "
                "the type",
            )
        raw = {} if data[key] is None else data[key]
        if key == "bool_domain":
            return self.bool_domain(raw, dpath)
        if key == "int_domain":
            return self.int_domain(raw, dpath)
        if key == "float_domain":
            return self.float_domain(raw, dpath)
        return self.string_domain(raw, dpath)

    def bool_domain(self, raw: Any, path: _Path) -> BoolDomain | None:
        data = self.mapping(raw, path, ("true_value", "false_value"))
        if data is None:
            return None
        true = false = None
        if data.get("true_value") is not None:
            true = self.string(data["true_value"], (*path, "true_value"))
        if data.get("false_value") is not None:
            false = self.string(data["false_value"], (*path, "false_value"))
        if true is not None and true == false:
            self.error((*path, "false_value"), f"true_value and false_value are both {true!r}")
        return BoolDomain(true, false)

    def int_domain(self, raw: Any, path: _Path) -> IntDomain | None:
        data = self.mapping(raw, path, ("min", "max", "is_categorical"))
        if data is None:
            return None
        bounds: list[int | None] = []
        for key in ("min", "max"):
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                self.error((*path, key), f"expected a whole number, got {_describe(value)}")
                value = None
            bounds.append(value)
        categorical = None
        if data.get("is_categorical") is not None:
            categorical = self.boolean(data["is_categorical"], (*path, "is_categorical"))
        self.bounds(bounds[0], bounds[1], path)
        return IntDomain(bounds[0], bounds[1], categorical)

    def float_domain(self, raw: Any, path: _Path) -> FloatDomain | None:
        data = self.mapping(raw, path, ("min", "max", "disallow_nan", "disallow_inf"))
        if data is None:
            return None
        lo = self.number(data["min"], (*path, "min")) if data.get("min") is not None else None
        hi = self.number(data["max"], (*path, "max")) if data.get("max") is not None else None
        self.bounds(lo, hi, path)
        flags = {}
        for key in ("disallow_nan", "disallow_inf"):
            if data.get(key) is not None:
                flags[key] = bool(self.boolean(data[key], (*path, key)))
        return FloatDomain(lo, hi, **flags)

    def string_domain(self, raw: Any, path: _Path) -> StringDomain | None:
        data = self.mapping(raw, path, ("values",))
        if data is None:
            return None
        raw_values = data.get("values")
        if raw_values is None:
            raw_values = []
        if not isinstance(raw_values, list):
            self.error(
                (*path, "values"), f"expected a list of strings, got {_describe(raw_values)}"
            )
            return None
        values: list[str] = []
        for i, value in enumerate(raw_values):
            text = self.string(value, (*path, "values", i))
            if text is None:
                continue
            if text in values:
                self.error((*path, "values", i), f"{text!r} is listed twice; remove one")
            values.append(text)
        return StringDomain(tuple(values))

    def distribution(self, data: Mapping[str, Any], path: _Path) -> DistributionConstraints | None:
        dpath = (*path, "distribution_constraints")
        if "string_domain" not in data:
            self.error(
                dpath,
                "distribution_constraints only apply to a string_domain; add one or remove "
                "distribution_constraints",
            )
        sub = self.mapping(
            {} if data["distribution_constraints"] is None else data["distribution_constraints"],
            dpath,
            ("min_domain_mass",),
        )
        if sub is None:
            return None
        mass = 1.0
        if sub.get("min_domain_mass") is not None:
            value = self.number(sub["min_domain_mass"], (*dpath, "min_domain_mass"), low=0, high=1)
            mass = 1.0 if value is None else value
        return DistributionConstraints(mass)

    def comparator(self, raw: Any, path: _Path) -> ComparatorThresholds | None:
        data = self.mapping({} if raw is None else raw, path, _COMPARATOR_KEYS)
        if data is None:
            return None
        thresholds: dict[str, float | None] = {}
        for key in _COMPARATOR_KEYS:
            if key not in data:
                continue
            value, vpath = data[key], (*path, key)
            if isinstance(value, Mapping):
                entry = self.mapping(value, vpath, ("threshold",))
                value, vpath = (entry or {}).get("threshold"), (*vpath, "threshold")
            thresholds[key] = None if value is None else self.number(value, vpath, low=0, high=1)
        return ComparatorThresholds(**thresholds)

    def dataset_constraints(self, raw: Any, path: _Path) -> DatasetConstraints | None:
        keys = ("num_examples_drift_comparator", "min_examples_count", "max_examples_count")
        data = self.mapping(raw, path, keys)
        if data is None:
            return None
        counts: list[int | None] = []
        for key in ("min_examples_count", "max_examples_count"):
            value = data.get(key)
            counts.append(None if value is None else self.integer(value, (*path, key)))
        if counts[0] is not None and counts[1] is not None and counts[0] > counts[1]:
            self.error(
                (*path, "min_examples_count"),
                f"min_examples_count ({counts[0]}) is greater than max_examples_count "
                f"({counts[1]})",
            )
        comparator = None
        if data.get("num_examples_drift_comparator") is not None:
            comparator = self.num_examples(
                data["num_examples_drift_comparator"], (*path, "num_examples_drift_comparator")
            )
        return DatasetConstraints(comparator, counts[0], counts[1])

    def num_examples(self, raw: Any, path: _Path) -> NumExamplesComparator | None:
        data = self.mapping(raw, path, ("min_fraction_threshold", "max_fraction_threshold"))
        if data is None:
            return None
        lo = hi = None
        if data.get("min_fraction_threshold") is not None:
            lo = self.number(
                data["min_fraction_threshold"], (*path, "min_fraction_threshold"), low=0, high=1
            )
        if data.get("max_fraction_threshold") is not None:
            hi = self.number(
                data["max_fraction_threshold"], (*path, "max_fraction_threshold"), low=0
            )
        if lo is not None and hi is not None and lo > hi:
            self.error(
                (*path, "min_fraction_threshold"),
                f"min_fraction_threshold ({lo:g}) is greater than max_fraction_threshold ({hi:g})",
            )
        return NumExamplesComparator(lo, hi)
