"""Properties: JSON values checked on the way in, stored as JSON text.

A value that JSON cannot hold exactly (a numpy integer, a datetime, a dict with int keys,
a set) is refused with the path to it, rather than converted silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tensorbridge.errors import ConfigError

__all__ = ["dump_properties", "load_properties", "merge_properties"]


def _check(value: Any, path: str, what: str) -> None:
    if value is None or isinstance(value, str | bool | int | float):
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", what)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(
                    f"{what}{path} has the key {key!r} of type {type(key).__name__}; JSON "
                    "object keys are strings, so convert the key with str() first."
                )
            _check(item, f"{path}[{key!r}]", what)
        return
    raise ConfigError(
        f"{what}{path} is a {type(value).__name__} ({value!r:.80}), not a JSON value. "
        "Properties hold str, int, float, bool, None, lists and dicts with str keys: "
        "convert it first (int(), float(), .tolist(), .isoformat(), str())."
    )


def dump_properties(properties: Mapping[str, Any] | None, what: str = "properties") -> str:
    """Check ``properties`` and serialize them to JSON text.

    Parameters
    ----------
    properties : Mapping[str, Any] or None
        JSON values; None means no properties.
    what : str
        How error messages name the mapping (``"artifact properties"``).

    Returns
    -------
    str
        JSON text, keys sorted.

    Raises
    ------
    ConfigError
        When a value or key is not JSON, naming its path (``properties['a'][0]``).
    """
    if properties is None:
        return "{}"
    if not isinstance(properties, Mapping):
        raise ConfigError(
            f"{what} must be a mapping of str to JSON values, got "
            f"{type(properties).__name__} {properties!r:.80}."
        )
    _check(properties, "", what)
    return json.dumps(dict(properties), ensure_ascii=False, sort_keys=True)


def load_properties(text: str | None) -> dict[str, Any]:
    """Parse stored JSON text back into a dict (``{}`` for None)."""
    if not text:
        return {}
    loaded = json.loads(text)
    if not isinstance(loaded, dict):  # written by something else than this module
        return {"value": loaded}
    return loaded


def merge_properties(
    current: Mapping[str, Any], update: Mapping[str, Any] | None, what: str = "properties"
) -> str:
    """Merge ``update`` over ``current`` (top-level keys) and serialize the result."""
    dump_properties(update, what)  # check the update alone, for a message naming its keys
    return dump_properties({**current, **(update or {})}, what)
