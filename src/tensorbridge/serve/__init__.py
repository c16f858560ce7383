"""Serving: the model repository (TF Serving's layout) and, later, the model server."""

from __future__ import annotations

from tensorbridge.serve.repository import ModelRepository, check_model_name

__all__ = ["ModelRepository", "check_model_name"]
