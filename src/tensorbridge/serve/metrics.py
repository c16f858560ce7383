"""Prometheus metrics of the model server (``GET /metrics``).

Every :class:`ServingMetrics` has its own ``CollectorRegistry``, so several apps (or
tests) in one process do not collide on metric names. The series:

==========================================  =========  ======================================
name                                        type       labels
==========================================  =========  ======================================
``tensorbridge_requests_total``             counter    model, version, protocol, endpoint,
                                                       code
``tensorbridge_request_seconds``            histogram  model, version, protocol, endpoint
``tensorbridge_batch_rows``                 histogram  model, version
``tensorbridge_queue_seconds``              histogram  model, version
``tensorbridge_compute_seconds``            histogram  model, version
``tensorbridge_errors_total``               counter    model, version, kind
``tensorbridge_unseen_values_total``        counter    model, version, feature
``tensorbridge_feature_drift``              gauge      model, version, feature
``tensorbridge_loaded_versions``            gauge      model
==========================================  =========  ======================================

A request that names no version (or fails before one is chosen) has ``version=""``.
Latency histograms go from 0.5 ms to 10 s; batch sizes are counted in powers of two up
to 1024 rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from tensorbridge.serve.batching import BatchTiming

__all__ = ["BATCH_ROWS_BUCKETS", "LATENCY_BUCKETS", "ServingMetrics"]

#: Upper bounds (seconds) of the latency histogram buckets: 0.5 ms .. 10 s.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
#: Upper bounds of the batch-size histogram: 1, 2, 4, ..., 1024 rows.
BATCH_ROWS_BUCKETS: tuple[float, ...] = tuple(float(2**i) for i in range(11))


def _version(version: int | None) -> str:
    return "" if version is None else str(version)


class ServingMetrics:
    """The server's Prometheus metrics, in a registry of their own.

    Parameters
    ----------
    registry : prometheus_client.CollectorRegistry, optional
        Where to register the metrics; a new registry by default.

    Examples
    --------
    >>> metrics = ServingMetrics()
    >>> metrics.observe_request(model="taxi", version=1, protocol="v1", endpoint="predict",
    ...                         status=200, seconds=0.004)
    >>> body, content_type = metrics.render()
    >>> b'tensorbridge_requests_total{code="200",endpoint="predict"' in body
    True
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        model_version = ("model", "version")
        self.requests = Counter(
            "tensorbridge_requests_total",
            "Requests answered, by model, version, protocol, endpoint and HTTP status code.",
            ("model", "version", "protocol", "endpoint", "code"),
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "tensorbridge_request_seconds",
            "Time from receiving a request to its response, in seconds.",
            ("model", "version", "protocol", "endpoint"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "tensorbridge_batch_rows",
            "Rows per batch run through the model (one observation per request).",
            model_version,
            buckets=BATCH_ROWS_BUCKETS,
            registry=self.registry,
        )
        self.queue_seconds = Histogram(
            "tensorbridge_queue_seconds",
            "Time a request waited for its batch to start, in seconds.",
            model_version,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.compute_seconds = Histogram(
            "tensorbridge_compute_seconds",
            "Time the model took on a request's batch, in seconds.",
            model_version,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "tensorbridge_errors_total",
            "Errors by kind (e.g. bad_request, overloaded, predict, load).",
            ("model", "version", "kind"),
            registry=self.registry,
        )
        self.unseen_values = Counter(
            "tensorbridge_unseen_values_total",
            "Categorical values served that the training data never had.",
            ("model", "version", "feature"),
            registry=self.registry,
        )
        self.feature_drift = Gauge(
            "tensorbridge_feature_drift",
            "Distance of served feature values from the training data (Jensen-Shannon "
            "divergence for numeric features, L-infinity for categorical ones).",
            ("model", "version", "feature"),
            registry=self.registry,
        )
        self.loaded_versions = Gauge(
            "tensorbridge_loaded_versions",
            "Model versions loaded and serving.",
            ("model",),
            registry=self.registry,
        )
        self._drift_labels: set[tuple[str, str, str]] = set()

    def observe_request(
        self,
        *,
        model: str,
        version: int | None,
        protocol: str,
        endpoint: str,
        status: int,
        seconds: float,
    ) -> None:
        """Count one answered request and its latency.

        Parameters
        ----------
        model : str
            Model name as requested ("" when the path named none).
        version : int or None
            The version that answered; None when none was chosen (e.g. a 404).
        protocol : str
            ``"v1"`` (TF Serving REST) or ``"v2"`` (Open Inference Protocol).
        endpoint : str
            E.g. ``"predict"``, ``"classify"``, ``"infer"``, ``"metadata"``.
        status : int
            The HTTP status code sent.
        seconds : float
            Time from receiving the request to sending the response.
        """
        v = _version(version)
        self.requests.labels(model, v, protocol, endpoint, str(status)).inc()
        self.request_seconds.labels(model, v, protocol, endpoint).observe(seconds)

    def observe_batch(self, *, model: str, version: int, timing: BatchTiming) -> None:
        """Record one request's :class:`~tensorbridge.serve.batching.BatchTiming`."""
        v = _version(version)
        self.batch_rows.labels(model, v).observe(timing.batch_rows)
        self.queue_seconds.labels(model, v).observe(timing.queue_seconds)
        self.compute_seconds.labels(model, v).observe(timing.compute_seconds)

    def observe_error(self, *, model: str, version: int | None, kind: str) -> None:
        """Count one error of ``kind`` (e.g. ``"bad_request"``, ``"overloaded"``)."""
        self.errors.labels(model, _version(version), kind).inc()

    def observe_unseen(self, *, model: str, version: int, feature: str, count: int) -> None:
        """Add ``count`` categorical values of ``feature`` the training data never had."""
        if count > 0:
            self.unseen_values.labels(model, _version(version), feature).inc(count)

    def set_drift(self, *, model: str, version: int, feature: str, value: float) -> None:
        """Set the drift distance of ``feature`` served by ``model``/``version``."""
        labels = (model, _version(version), feature)
        self.feature_drift.labels(*labels).set(value)
        self._drift_labels.add(labels)

    def set_loaded_versions(self, model: str, count: int) -> None:
        """Set how many versions of ``model`` are loaded and serving."""
        self.loaded_versions.labels(model).set(count)

    def forget_version(self, model: str, version: int) -> None:
        """Drop the drift gauges of an unloaded version (its counters stay, as counters do)."""
        v = _version(version)
        for labels in [x for x in self._drift_labels if x[0] == model and x[1] == v]:
            self.feature_drift.remove(*labels)
            self._drift_labels.discard(labels)

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition of every metric, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
