"""The exceptions tensorbridge raises.

Every error derives from :class:`TensorbridgeError`, so ``except TensorbridgeError``
catches all of them. Messages say what happened, with the values received, what was
expected, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "BadInputError",
    "ConfigError",
    "EngineError",
    "JavaNotFoundError",
    "MissingDependencyError",
    "PipelineDefinitionError",
    "PipelineRunError",
    "SchemaError",
    "TensorbridgeError",
    "TensorbridgeWarning",
    "TransformError",
]


class TensorbridgeError(Exception):
    """Root of every error raised by tensorbridge."""


class ConfigError(TensorbridgeError, ValueError):
    """An argument or configuration value is invalid (raised before any work runs)."""


class BadInputError(TensorbridgeError, ValueError):
    """Input data is malformed: a bad row, a value of the wrong type, invalid UTF-8.

    Attributes
    ----------
    path : str or None
        The file the bad data came from, when known.
    line : int or None
        The 1-based physical line number in that file, when known.
    column : str or None
        The column (field) name, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.column = column


class SchemaError(TensorbridgeError, ValueError):
    """A schema does not match the data, or a schema specification is invalid."""


class EngineError(TensorbridgeError, RuntimeError):
    """An engine could not start or failed while running work."""


class MissingDependencyError(TensorbridgeError, ImportError):
    """An optional dependency (TensorFlow, PySpark, pandas) is not installed."""


class JavaNotFoundError(EngineError):
    """Java 17 or newer, which PySpark needs, was not found."""


class TransformError(TensorbridgeError, ValueError):
    """A ``preprocessing_fn`` is invalid: an unknown input, a wrong dtype, a bad output."""


class PipelineDefinitionError(ConfigError):
    """A pipeline is wired wrongly (a cycle, an unknown input, mismatched artifact types).

    Raised while the pipeline is built, before anything runs; the message names the
    components involved.
    """


class PipelineRunError(TensorbridgeError, RuntimeError):
    """A pipeline component failed; the message names it, its inputs and the traceback.

    Attributes
    ----------
    component : str
        The failed component's name in the pipeline.
    run_id : str
        The run, as recorded in the metadata store.
    log_path : str or None
        The component's captured log.
    """

    def __init__(
        self, message: str, *, component: str, run_id: str, log_path: str | None = None
    ) -> None:
        super().__init__(message)
        self.component = component
        self.run_id = run_id
        self.log_path = log_path


class TensorbridgeWarning(UserWarning):
    """Warnings tensorbridge emits (tests turn them into errors)."""
