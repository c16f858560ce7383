"""The README's two commands are the ones CI and users run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"^(pip install -q uv && .+)$", text, flags=re.MULTILINE)


def test_readme_has_the_main_and_the_test_command() -> None:
    commands = readme_commands()
    assert any("examples/chicago_taxi/pipeline.py" in c for c in commands)
    assert any(c.endswith("pytest") for c in commands)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = next(c for c in readme_commands() if c.endswith("pytest"))
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines
