"""The pusher: blessed models only, atomic versions, --force recorded."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tensorbridge.errors import ConfigError
from tensorbridge.push import blessing_of, push_model
from tensorbridge.serve import ModelRepository
from tensorbridge.serve.repository import COMPLETE_MARKER

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, tiny SavedModel: y = 2x + 1."""
    module = tf.Module()
    module.w = tf.Variable(2.0)
    module.__call__ = tf.function(
        lambda x: module.w * x + 1.0, input_signature=[tf.TensorSpec([None], tf.float32)]
    )
    path = tmp_path_factory.mktemp("model") / "export"
    tf.saved_model.save(module, str(path))
    return path


def test_push_blessed_models_as_consecutive_versions(saved_model: Path, tmp_path: Path) -> None:
    repo = ModelRepository(tmp_path / "repo")
    first = push_model(saved_model, repo, "taxi", evaluation=True)
    second = push_model(saved_model, repo, "taxi", evaluation=True)
    assert (first.version, second.version) == (1, 2)
    assert repo.versions("taxi") == [1, 2] and repo.latest("taxi") == 2
    assert repo.models() == ["taxi"]
    version = tmp_path / "repo" / "taxi" / "2"
    assert (version / COMPLETE_MARKER).exists()
    record = json.loads((version / "push.json").read_text())
    assert record["blessed"] is True and record["forced"] is False and record["version"] == 2
    loaded = tf.saved_model.load(str(version))
    assert loaded(tf.constant([3.0])).numpy().tolist() == [7.0]
    assert not [p for p in (tmp_path / "repo" / "taxi").iterdir() if p.name.startswith(".")]


def test_unblessed_model_is_refused_unless_forced(saved_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"did not bless it.*force=True"):
        push_model(saved_model, tmp_path / "repo", "taxi", evaluation=False)
    with pytest.raises(ConfigError, match="no thresholds were configured"):
        push_model(saved_model, tmp_path / "repo", "taxi")
    assert ModelRepository(tmp_path / "repo").versions("taxi") == []
    forced = push_model(
        saved_model,
        tmp_path / "repo",
        "taxi",
        evaluation=False,
        force=True,
        reason="hotfix approved by on-call",
    )
    assert forced.forced and "forced" in str(forced)
    record = json.loads((forced.path / "push.json").read_text())
    assert record["forced"] is True and record["reason"] == "hotfix approved by on-call"


def test_blessing_from_an_evaluation_directory(tmp_path: Path) -> None:
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "BLESSED").write_text("")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "NOT_BLESSED").write_text("")
    (tmp_path / "none").mkdir()
    assert blessing_of(tmp_path / "good") is True
    assert blessing_of(tmp_path / "bad") is False
    assert blessing_of(tmp_path / "none") is None

    class Result:
        blessed = True

    assert blessing_of(Result()) is True


def test_concurrent_pushes_get_distinct_versions(saved_model: Path, tmp_path: Path) -> None:
    barrier = threading.Barrier(4)
    results = []

    def push() -> None:
        barrier.wait()
        results.append(push_model(saved_model, tmp_path / "repo", "taxi", evaluation=True).version)

    threads = [threading.Thread(target=push) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [1, 2, 3, 4]
    assert ModelRepository(tmp_path / "repo").versions("taxi") == [1, 2, 3, 4]


def test_push_needs_a_saved_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a SavedModel directory"):
        push_model(tmp_path, tmp_path / "repo", "taxi", evaluation=True)
