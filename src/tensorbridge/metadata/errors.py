"""The exceptions the metadata store raises (besides :class:`~tensorbridge.errors.ConfigError`).

Bad arguments (an unknown state, a property that is not JSON, an unparsable URL) raise
:class:`~tensorbridge.errors.ConfigError` before anything is written.
"""

from __future__ import annotations

from tensorbridge.errors import TensorbridgeError

__all__ = ["MetadataError", "NotFoundError"]


class MetadataError(TensorbridgeError):
    """The metadata store failed.

    It cannot be reached, it was written by a newer tensorbridge, or a write conflicts
    with what it holds (finishing an execution twice).
    """


class NotFoundError(MetadataError, LookupError):
    """An id or name given to the metadata store names no record there."""
