"""Finding Java for Spark, with an error that says how to install it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from tensorbridge.errors import JavaNotFoundError

MIN_JAVA = 17
INSTALL_HINT = (
    "Install Java 17 or newer: `sudo apt-get install openjdk-17-jre-headless` "
    "(Debian/Ubuntu), `brew install openjdk@17` (macOS), or `conda install -c conda-forge "
    "openjdk=17`; then make sure `java` is on PATH or JAVA_HOME points at it."
)


@dataclass(frozen=True)
class JavaInfo:
    """Where Java is and which major version it is."""

    executable: str
    major: int
    version_text: str


def find_java() -> JavaInfo:
    """Locate ``java`` (``$JAVA_HOME/bin/java`` first, then PATH) and read its version.

    Raises
    ------
    JavaNotFoundError
        When no Java is found, it does not run, or it is older than Java 17.
    """
    home = os.environ.get("JAVA_HOME")
    executable: str | None
    if home:
        executable = os.path.join(home, "bin", "java")
        if not os.path.exists(os.path.join(home, "bin", "java")):  # Spark would use it anyway
            raise JavaNotFoundError(
                f"JAVA_HOME={home} has no bin/java, and Spark starts Java from JAVA_HOME. "
                f"Point JAVA_HOME at a Java 17+ installation, or unset it. {INSTALL_HINT}"
            )
    else:
        executable = shutil.which("java")
    if executable is None:
        raise JavaNotFoundError(f"Spark needs Java, and none was found. {INSTALL_HINT}")
    try:
        result = subprocess.run(
            [executable, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise JavaNotFoundError(
            f"Could not run {executable} -version ({err}). {INSTALL_HINT}"
        ) from err
    text = (result.stderr or result.stdout).strip()
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if match is None:
        raise JavaNotFoundError(
            f"Could not read the Java version from `{executable} -version`: {text!r}. "
            f"{INSTALL_HINT}"
        )
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392" style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise JavaNotFoundError(
            f"PySpark 4 needs Java {MIN_JAVA} or newer, but {executable} is Java {major}. "
            f"{INSTALL_HINT}"
        )
    return JavaInfo(executable, major, text.splitlines()[0])
