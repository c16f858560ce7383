"""Spark: score DataFrames and SQL with an exported model, through Arrow.

>>> import tensorbridge.spark as tbs                          # doctest: +SKIP
>>> scored = tbs.predict(trips, "out/chicago_taxi/export")   # doctest: +SKIP
>>> tbs.register(spark, "taxi", "taxi", repository="models", label="stable")  # doctest: +SKIP
>>> spark.sql("SELECT *, taxi(struct(*)) AS p FROM trips")   # doctest: +SKIP
"""

from __future__ import annotations

from tensorbridge.spark.scoring import predict, register, resolve_model

__all__ = ["predict", "register", "resolve_model"]
