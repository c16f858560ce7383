from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tensorbridge.engine.java import find_java
from tensorbridge.errors import JavaNotFoundError


def fake_java_home(tmp_path: Path, version_line: str) -> Path:
    """A JAVA_HOME whose bin/java prints the given `java -version` first line."""
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    script = home / "bin" / "java"
    script.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return home


def test_old_java_is_refused_with_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(fake_java_home(tmp_path, 'openjdk version "1.8.0_392"')))
    with pytest.raises(
        JavaNotFoundError,
        match=r"needs Java 17 or newer, but .* is Java 8.*apt-get install openjdk-17",
    ):
        find_java()


def test_java_11_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "JAVA_HOME", str(fake_java_home(tmp_path, 'openjdk version "11.0.2" 2019-01-15'))
    )
    with pytest.raises(JavaNotFoundError, match="is Java 11"):
        find_java()


def test_java_21_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "JAVA_HOME", str(fake_java_home(tmp_path, 'openjdk version "21.0.1" 2023-10-17'))
    )
    assert find_java().major == 21


def test_java_home_without_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(
        JavaNotFoundError, match=r"JAVA_HOME=.*nowhere has no bin/java.*or unset it"
    ):
        find_java()


def test_missing_java_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(JavaNotFoundError, match=r"none was found.*brew install openjdk@17"):
        find_java()


def test_spark_engine_checks_java_before_starting(tmp_path: Path) -> None:
    """In a fresh process without Java, starting Spark fails with the install hint."""
    pytest.importorskip("pyspark")
    code = (
        "from tensorbridge.engine.spark import SparkEngine\n"
        "from tensorbridge.errors import JavaNotFoundError\n"
        "try:\n"
        "    SparkEngine('local[1]').session\n"
        "except JavaNotFoundError as err:\n"
        "    print('JavaNotFoundError:', err)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)  # no java on PATH
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert "JavaNotFoundError: Spark needs Java, and none was found" in result.stdout, result.stderr
    assert "Install Java 17" in result.stdout


@pytest.mark.skipif(
    shutil.which("java") is None and not os.environ.get("JAVA_HOME"), reason="no Java"
)
def test_the_real_java() -> None:
    assert find_java().major >= 17
