"""The ``tensorbridge`` command line."""

from __future__ import annotations

from tensorbridge.cli.main import cli, main

__all__ = ["cli", "main"]
