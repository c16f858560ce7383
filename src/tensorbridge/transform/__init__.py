"""TF.Transform-compatible preprocessing: analyzers, mappers, analyze_and_transform.

Write a ``preprocessing_fn(inputs) -> outputs`` over TF tensors, as with TF.Transform;
tensorbridge analyzes it over the full data set on either engine, freezes the analyzer
results into a TF SavedModel (the transform_fn) and materializes the transformed data.

Examples
--------
>>> import tensorbridge.transform as tbt
>>> def preprocessing_fn(inputs):  # doctest: +SKIP
...     fare = tbt.fill_missing(inputs["fare"], 0.0)
...     company = tbt.fill_missing(inputs["company"], "")
...     return {
...         "fare_xf": tbt.scale_to_z_score(fare),
...         "company_xf": tbt.compute_and_apply_vocabulary(company, top_k=1000, num_oov_buckets=10),
...     }
>>> output = tbt.analyze_and_transform(  # doctest: +SKIP
...     taxi.split(), preprocessing_fn, "out/transform")
"""

from __future__ import annotations

from tensorbridge.transform.analyzers import (
    covariance,
    max,
    mean,
    min,
    pca,
    quantiles,
    size,
    sum,
    var,
    vocabulary,
)
from tensorbridge.transform.api import TransformOutput, analyze, analyze_and_transform, transform
from tensorbridge.transform.mappers import (
    apply_buckets,
    apply_vocabulary,
    bag_of_words,
    bucketize,
    compute_and_apply_vocabulary,
    fill_missing,
    hash_strings,
    ngrams,
    scale_by_min_max,
    scale_to_0_1,
    scale_to_z_score,
    tfidf,
)

__all__ = [
    "TransformOutput",
    "analyze",
    "analyze_and_transform",
    "apply_buckets",
    "apply_vocabulary",
    "bag_of_words",
    "bucketize",
    "compute_and_apply_vocabulary",
    "covariance",
    "fill_missing",
    "hash_strings",
    "max",
    "mean",
    "min",
    "ngrams",
    "pca",
    "quantiles",
    "scale_by_min_max",
    "scale_to_0_1",
    "scale_to_z_score",
    "size",
    "sum",
    "tfidf",
    "transform",
    "var",
    "vocabulary",
]
