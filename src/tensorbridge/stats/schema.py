"""Schemas: what the data is expected to look like, as TFDV's ``schema.proto`` describes it.

A :class:`Schema` lists every feature with its type, how often it must be present, how
many values it has per example (a fixed ``shape`` or a ``value_count`` range), its domain
(``bool_domain``, ``int_domain``, ``float_domain`` or ``string_domain``) and optional drift
and skew thresholds. :func:`~tensorbridge.stats.schema_inference.infer_schema` builds
one from statistics with TFDV's rules; :mod:`tensorbridge.stats.schema_file` writes it
as YAML (or JSON) meant to be reviewed and edited by hand, and reads it back checking
every field.

Differences from TFDV's schema, all to keep the file easy to edit:

- A feature's allowed strings sit inline in ``string_domain.values``. TFDV keeps them in
  a separate top-level ``string_domain`` entry that the feature names with ``domain:``;
  inline, everything about a feature is in one place.
- ``deprecated: true`` replaces TFDV's ``lifecycle_stage: DEPRECATED``.
- ``STRING`` (valid UTF-8) and ``BYTES`` are separate types; TFDV calls both ``BYTES``.

Examples
--------
>>> feature = Feature("payment_type", "STRING", Presence(1.0, 1), shape=(1,),
...                   domain=StringDomain(("Cash", "Credit Card")))
>>> schema = Schema((feature,))
>>> Schema.from_dict(schema.to_dict()) == schema
True
>>> schema.feature("payment_type").string_domain
StringDomain(values=('Cash', 'Credit Card'))
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from tensorbridge.errors import ConfigError
from tensorbridge.stats.model import FeatureType
from tensorbridge.stats.thresholds import ComparatorThresholds

__all__ = [
    "FALSE_VALUES",
    "FEATURE_TYPES",
    "TRUE_VALUES",
    "BoolDomain",
    "DatasetConstraints",
    "DistributionConstraints",
    "Domain",
    "Feature",
    "FloatDomain",
    "IntDomain",
    "NumExamplesComparator",
    "Presence",
    "Schema",
    "StringDomain",
    "ValueCount",
]

#: The feature types a schema may name.
FEATURE_TYPES: tuple[FeatureType, ...] = ("INT", "FLOAT", "STRING", "BYTES")
#: Strings TFDV reads as true / false when it infers a ``bool_domain`` for a STRING feature.
TRUE_VALUES = frozenset({"TRUE", "true", "SET", "set", "1", ""})
FALSE_VALUES = frozenset({"FALSE", "false", "CLEAR", "clear", "0"})

#: Written into every schema file; a file with another ``format`` is refused.
SCHEMA_FORMAT = "tensorbridge.schema"
SCHEMA_VERSION = 1

_INT_STRING = re.compile(r"[+-]?[0-9]+")

#: Which feature types each domain fits (as in TFDV, where BYTES stands for STRING too).
_DOMAIN_TYPES: dict[str, tuple[FeatureType, ...]] = {
    "bool_domain": ("INT", "FLOAT", "STRING"),
    "int_domain": ("INT", "STRING"),
    "float_domain": ("FLOAT", "STRING"),
    "string_domain": ("STRING", "BYTES"),
}


def _is_int_string(value: str) -> bool:
    return _INT_STRING.fullmatch(value) is not None


@dataclass(frozen=True)
class Presence:
    """How often a feature must be present (TFDV's ``FeaturePresence``).

    Parameters
    ----------
    min_fraction : float or None
        Smallest share of examples that must have the feature, in [0, 1]; None: no check.
    min_count : int
        Smallest number of examples that must have the feature.
    """

    min_fraction: float | None = None
    min_count: int = 0

    @property
    def required(self) -> bool:
        """True when the feature must appear at all (a positive count or fraction)."""
        return self.min_count > 0 or (self.min_fraction or 0.0) > 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain form (``min_fraction`` left out when unset)."""
        out: dict[str, Any] = {}
        if self.min_fraction is not None:
            out["min_fraction"] = self.min_fraction
        out["min_count"] = self.min_count
        return out


@dataclass(frozen=True)
class ValueCount:
    """Bounds on the number of values per example (for features without a fixed shape)."""

    min: int | None = None
    max: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain form (unset bounds left out)."""
        return {k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None}


@dataclass(frozen=True)
class BoolDomain:
    """Booleans: 0/1 integers or floats, or two strings.

    For STRING features ``true_value`` / ``false_value`` are the accepted strings; when
    both are unset, the strings of :data:`TRUE_VALUES` and :data:`FALSE_VALUES` are.
    """

    KEY: ClassVar[str] = "bool_domain"
    true_value: str | None = None
    false_value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain form (unset values left out)."""
        pairs = (("true_value", self.true_value), ("false_value", self.false_value))
        return {k: v for k, v in pairs if v is not None}


@dataclass(frozen=True)
class IntDomain:
    """Integers (or strings holding integers), optionally bounded, both ends inclusive."""

    KEY: ClassVar[str] = "int_domain"
    min: int | None = None
    max: int | None = None
    is_categorical: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain form (unset fields left out)."""
        pairs = (("min", self.min), ("max", self.max), ("is_categorical", self.is_categorical))
        return {k: v for k, v in pairs if v is not None}


@dataclass(frozen=True)
class FloatDomain:
    """Floats, optionally bounded (inclusive), optionally without NaN or +-inf."""

    KEY: ClassVar[str] = "float_domain"
    min: float | None = None
    max: float | None = None
    disallow_nan: bool = False
    disallow_inf: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain form (unset bounds and false flags left out)."""
        out: dict[str, Any] = {
            k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None
        }
        if self.disallow_nan:
            out["disallow_nan"] = True
        if self.disallow_inf:
            out["disallow_inf"] = True
        return out


@dataclass(frozen=True)
class StringDomain:
    """The allowed values of a categorical string feature (inline, unlike TFDV)."""

    KEY: ClassVar[str] = "string_domain"
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))

    def to_dict(self) -> dict[str, Any]:
        """Plain form."""
        return {"values": list(self.values)}


#: One of the four domains a feature may have.
Domain: TypeAlias = BoolDomain | IntDomain | FloatDomain | StringDomain

_DOMAIN_CLASSES: dict[str, type[Domain]] = {
    cls.KEY: cls for cls in (BoolDomain, IntDomain, FloatDomain, StringDomain)
}


@dataclass(frozen=True)
class DistributionConstraints:
    """``min_domain_mass``: the smallest share of values that must be in the string domain."""

    min_domain_mass: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """Plain form."""
        return {"min_domain_mass": self.min_domain_mass}


@dataclass(frozen=True)
class Feature:
    """What one feature (column) must look like.

    Parameters
    ----------
    name : str
    type : "INT", "FLOAT", "STRING" or "BYTES"
    presence : Presence
        How often it must be present.
    shape : tuple of int or None
        Fixed dimensions (``(1,)`` for a scalar that is never missing); excludes
        ``value_count``.
    value_count : ValueCount or None
        Bounds on the number of values per example, when there is no fixed shape.
    domain : BoolDomain, IntDomain, FloatDomain, StringDomain or None
        The allowed values.
    distribution_constraints : DistributionConstraints or None
        How much of the data may fall outside a ``string_domain`` (default: none of it).
    drift_comparator, skew_comparator : ComparatorThresholds or None
        Drift (previous vs current span) and skew (training vs serving) thresholds.
    description : str
        Free text for people reading the schema.
    deprecated : bool
        True switches every check of this feature off.
    """

    name: str
    type: FeatureType
    presence: Presence = Presence()
    shape: tuple[int, ...] | None = None
    value_count: ValueCount | None = None
    domain: Domain | None = None
    distribution_constraints: DistributionConstraints | None = None
    drift_comparator: ComparatorThresholds | None = None
    skew_comparator: ComparatorThresholds | None = None
    description: str = ""
    deprecated: bool = False

    def __post_init__(self) -> None:
        if self.shape is not None:
            object.__setattr__(self, "shape", tuple(self.shape))
        if self.type not in FEATURE_TYPES:
            raise ConfigError(
                f"Feature {self.name!r}: type {self.type!r} is not one of {list(FEATURE_TYPES)}."
            )
        if self.shape is not None and self.value_count is not None:
            raise ConfigError(
                f"Feature {self.name!r} has both a shape and a value_count; keep one "
                "(shape for a fixed number of values, value_count for a range)."
            )
        if self.domain is not None and self.type not in _DOMAIN_TYPES[self.domain.KEY]:
            raise ConfigError(
                f"Feature {self.name!r}: a {self.domain.KEY} does not fit type {self.type}; "
                f"it fits {' or '.join(_DOMAIN_TYPES[self.domain.KEY])}."
            )

    @property
    def bool_domain(self) -> BoolDomain | None:
        """The domain when it is a :class:`BoolDomain`, else None."""
        return self.domain if isinstance(self.domain, BoolDomain) else None

    @property
    def int_domain(self) -> IntDomain | None:
        """The domain when it is an :class:`IntDomain`, else None."""
        return self.domain if isinstance(self.domain, IntDomain) else None

    @property
    def float_domain(self) -> FloatDomain | None:
        """The domain when it is a :class:`FloatDomain`, else None."""
        return self.domain if isinstance(self.domain, FloatDomain) else None

    @property
    def string_domain(self) -> StringDomain | None:
        """The domain when it is a :class:`StringDomain`, else None."""
        return self.domain if isinstance(self.domain, StringDomain) else None

    @property
    def min_domain_mass(self) -> float:
        """``distribution_constraints.min_domain_mass``, 1.0 when unset."""
        dc = self.distribution_constraints
        return 1.0 if dc is None else dc.min_domain_mass

    def to_dict(self) -> dict[str, Any]:
        """Plain form, keys in a stable order, unset fields left out."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.description:
            out["description"] = self.description
        if self.deprecated:
            out["deprecated"] = True
        out["presence"] = self.presence.to_dict()
        if self.shape is not None:
            out["shape"] = list(self.shape)
        if self.value_count is not None:
            out["value_count"] = self.value_count.to_dict()
        if self.domain is not None:
            out[self.domain.KEY] = self.domain.to_dict()
        if self.distribution_constraints is not None:
            out["distribution_constraints"] = self.distribution_constraints.to_dict()
        if self.drift_comparator is not None:
            out["drift_comparator"] = self.drift_comparator.to_dict()
        if self.skew_comparator is not None:
            out["skew_comparator"] = self.skew_comparator.to_dict()
        return out


@dataclass(frozen=True)
class NumExamplesComparator:
    """Bounds on ``current num_examples / previous num_examples``."""

    min_fraction_threshold: float | None = None
    max_fraction_threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain form (unset bounds left out)."""
        pairs = (
            ("min_fraction_threshold", self.min_fraction_threshold),
            ("max_fraction_threshold", self.max_fraction_threshold),
        )
        return {k: v for k, v in pairs if v is not None}


@dataclass(frozen=True)
class DatasetConstraints:
    """Checks of the whole data set: its size, and its size change since the last span."""

    num_examples_drift_comparator: NumExamplesComparator | None = None
    min_examples_count: int | None = None
    max_examples_count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain form (unset fields left out)."""
        out: dict[str, Any] = {}
        if self.num_examples_drift_comparator is not None:
            out["num_examples_drift_comparator"] = self.num_examples_drift_comparator.to_dict()
        if self.min_examples_count is not None:
            out["min_examples_count"] = self.min_examples_count
        if self.max_examples_count is not None:
            out["max_examples_count"] = self.max_examples_count
        return out


@dataclass(frozen=True)
class Schema:
    """The expected features, in order, and optional data-set constraints."""

    features: tuple[Feature, ...] = ()
    dataset_constraints: DatasetConstraints | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        seen: set[str] = set()
        for feature in self.features:
            if feature.name in seen:
                raise ConfigError(
                    f"The schema lists feature {feature.name!r} twice; feature names must be "
                    "unique."
                )
            seen.add(feature.name)

    @property
    def features_by_name(self) -> dict[str, Feature]:
        """``{name: feature}``, in schema order."""
        return {f.name: f for f in self.features}

    def feature(self, name: str) -> Feature:
        """The feature called ``name`` (KeyError naming the known features otherwise)."""
        for feature in self.features:
            if feature.name == name:
                return feature
        known = [f.name for f in self.features]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"No feature {name!r} in the schema; it has {known}.{hint}")

    def with_feature(self, feature: Feature) -> Schema:
        """A copy with ``feature`` replacing the one of the same name (or appended)."""
        names = [f.name for f in self.features]
        if feature.name in names:
            features = tuple(feature if f.name == feature.name else f for f in self.features)
        else:
            features = (*self.features, feature)
        return Schema(features, self.dataset_constraints)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (what the YAML and JSON files hold)."""
        out: dict[str, Any] = {
            "format": SCHEMA_FORMAT,
            "version": SCHEMA_VERSION,
            "features": [f.to_dict() for f in self.features],
        }
        if self.dataset_constraints is not None:
            out["dataset_constraints"] = self.dataset_constraints.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<schema dict>") -> Schema:
        """Inverse of :meth:`to_dict`, checking every field (SchemaError listing problems)."""
        from tensorbridge.stats.schema_file import _Parser

        return _Parser(source, {}).schema(data)

    def to_yaml(self) -> str:
        """The schema as commented, hand-editable YAML (what :func:`save_schema` writes)."""
        from tensorbridge.stats.schema_file import _to_yaml

        return _to_yaml(self)

    def to_json(self) -> str:
        """The schema as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Same as :func:`~tensorbridge.stats.schema_file.save_schema`."""
        from tensorbridge.stats.schema_file import save_schema

        save_schema(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Schema:
        """Same as :func:`~tensorbridge.stats.schema_file.load_schema`."""
        from tensorbridge.stats.schema_file import load_schema

        return load_schema(path)
