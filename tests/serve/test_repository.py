"""The model repository: layout, completion markers, safe names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tensorbridge.errors import ConfigError
from tensorbridge.serve import ModelRepository, check_model_name
from tensorbridge.serve.repository import COMPLETE_MARKER


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", "", "x" * 129, "a..b", "/abs"])
def test_names_cannot_escape_the_repository(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not allowed"):
        check_model_name(name)
    with pytest.raises(ConfigError):
        ModelRepository(tmp_path).version_dir(name, 1)


def test_incomplete_versions_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "taxi" / "1").mkdir(parents=True)
    (tmp_path / "taxi" / "1" / COMPLETE_MARKER).write_text("")
    (tmp_path / "taxi" / "2").mkdir()  # no marker: still being written, or broken
    repo = ModelRepository(tmp_path)
    assert repo.versions("taxi") == [1] and repo.next_version("taxi") == 3
    with pytest.raises(ConfigError, match="not a positive integer"):
        repo.version_dir("taxi", "latest")
