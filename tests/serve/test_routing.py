"""Version policies, per-model settings, labels and the canary pick (no TensorFlow)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tensorbridge.errors import ConfigError
from tensorbridge.serve.routing import (
    Routing,
    ServingConfig,
    VersionPolicy,
    read_routing,
    read_serving_config,
    write_routing,
)


@pytest.mark.parametrize(
    ("text", "available", "served"),
    [
        ("latest", [1, 2, 5], [5]),
        ("latest:2", [1, 2, 5], [2, 5]),
        ("all", [3, 1, 2], [1, 2, 3]),
        ("2,5", [1, 2, 3, 5], [2, 5]),
        ("4", [1, 2], []),
    ],
)
def test_version_policies_choose_like_tf_serving(
    text: str, available: list[int], served: list[int]
) -> None:
    assert VersionPolicy.parse(text).select(available) == served


def test_policies_from_json_and_their_errors() -> None:
    assert VersionPolicy.parse({"latest": 3}) == VersionPolicy("latest", num_versions=3)
    assert VersionPolicy.parse({"all": True}).describe() == "all"
    assert VersionPolicy.parse({"specific": [4, 2]}).describe() == "4,2"
    for bad in ({"latest": 0}, {"newest": 1}, {"specific": []}, "latest,2", "x"):
        with pytest.raises(ConfigError):
            VersionPolicy.parse(bad)


def test_serving_json_overrides_the_defaults(tmp_path: Path) -> None:
    defaults = ServingConfig()
    assert read_serving_config(tmp_path, defaults) == defaults  # no file: the defaults
    (tmp_path / "serving.json").write_text(
        json.dumps({"versions": {"latest": 2}, "max_batch_size": 16, "max_wait_ms": 0.5})
    )
    config = read_serving_config(tmp_path, defaults)
    assert config.policy.select([1, 2, 3]) == [2, 3]
    assert (config.max_batch_size, config.max_wait_ms, config.max_queue_rows) == (16, 0.5, 8192)
    assert config.statistics_rows_per_second == 1000.0
    (tmp_path / "serving.json").write_text(json.dumps({"statistics_rows_per_second": 0}))
    assert read_serving_config(tmp_path, defaults).statistics_rows_per_second == 0.0
    (tmp_path / "serving.json").write_text(json.dumps({"max_batch": 16}))
    with pytest.raises(ConfigError, match="unknown settings \\['max_batch'\\]"):
        read_serving_config(tmp_path, defaults)
    (tmp_path / "serving.json").write_text(json.dumps({"max_batch_size": 0}))
    with pytest.raises(ConfigError, match="max_batch_size=0 must be a number >= 1"):
        read_serving_config(tmp_path, defaults)
    (tmp_path / "serving.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_serving_config(tmp_path, defaults)


def test_the_default_route_and_the_canary_split() -> None:
    plain = Routing()
    assert plain.pick([1, 2, 3]) == 3  # no labels: the latest loaded
    assert plain.pick([]) is None
    labelled = Routing({"stable": 2, "canary": 3}, "canary", 0.1)
    assert labelled.pick([1, 2, 3], chance=0.05) == 3
    assert labelled.pick([1, 2, 3], chance=0.5) == 2
    assert labelled.pick([1, 2], chance=0.05) == 2  # canary not loaded: stable
    picks = Counter(labelled.pick([2, 3]) for _ in range(10_000))
    assert 800 <= picks[3] <= 1200  # 10%, binomial(10_000, 0.1) within 6 sd
    rolled_back = labelled.with_canary("canary", 0.0)
    assert {rolled_back.pick([2, 3]) for _ in range(200)} == {2}


def test_routing_json_round_trips_atomically(tmp_path: Path) -> None:
    routing = Routing().with_label("stable", 1).with_label("canary", 2).with_canary("canary", 0.25)
    write_routing(tmp_path, routing)
    assert read_routing(tmp_path) == routing
    assert json.loads((tmp_path / "routing.json").read_text()) == {
        "labels": {"canary": 2, "stable": 1},
        "canary": {"label": "canary", "weight": 0.25},
    }
    assert [p.name for p in tmp_path.iterdir()] == ["routing.json"]  # no temporary left
    assert read_routing(tmp_path).with_label("canary", None).labels == {"stable": 1}
    for bad in ({"labels": {"st/able": 1}}, {"labels": {"stable": 0}}, {"canary": {"weight": 2}}):
        (tmp_path / "routing.json").write_text(json.dumps(bad))
        with pytest.raises(ConfigError):
            read_routing(tmp_path)
