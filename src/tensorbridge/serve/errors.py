"""Errors the model server answers with: each carries its HTTP status and a JSON body.

The body is TF Serving's and KServe's ``{"error": "..."}``, with ``field`` and
``expected`` added when a request names a wrong input, so a client can fix it without
reading server logs.
"""

from __future__ import annotations

from typing import Any

from tensorbridge.errors import TensorbridgeError

__all__ = ["ModelLoadError", "NotFoundError", "OverloadedError", "RequestError", "ServingError"]


class ServingError(TensorbridgeError):
    """A request the server cannot answer; ``status`` is the HTTP status to reply with."""

    status: int = 400

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.field = field
        self.expected = expected

    def to_json(self) -> dict[str, Any]:
        """``{"error": message}``, plus ``field`` and ``expected`` when known."""
        body: dict[str, Any] = {"error": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.expected is not None:
            body["expected"] = self.expected
        return body


class RequestError(ServingError):
    """A malformed body, or a missing, extra or mistyped input (HTTP 400)."""

    status = 400


class NotFoundError(ServingError):
    """No such model, version or label (HTTP 404)."""

    status = 404


class OverloadedError(ServingError):
    """The queue is full (HTTP 503); retry after ``retry_after`` seconds."""

    status = 503

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelLoadError(ServingError):
    """A model version that cannot be loaded or warmed up (it is refused, not served)."""

    status = 500
