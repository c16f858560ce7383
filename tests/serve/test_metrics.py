"""ServingMetrics: the Prometheus series, their labels and counts, separate registries."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tensorbridge.serve.batching import BatchTiming
from tensorbridge.serve.metrics import ServingMetrics


def samples(metrics: ServingMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def labels(**kw: str) -> frozenset[tuple[str, str]]:
    return frozenset(kw.items())


def test_series_have_the_right_labels_and_counts() -> None:
    metrics = ServingMetrics()
    for seconds in (0.0004, 0.003, 0.2):
        metrics.observe_request(
            model="taxi",
            version=2,
            protocol="v1",
            endpoint="predict",
            status=200,
            seconds=seconds,
        )
    metrics.observe_request(
        model="taxi", version=None, protocol="v2", endpoint="infer", status=404, seconds=0.001
    )
    metrics.observe_batch(
        model="taxi",
        version=2,
        timing=BatchTiming(queue_seconds=0.002, compute_seconds=0.012, batch_rows=24),
    )
    metrics.observe_batch(
        model="taxi",
        version=2,
        timing=BatchTiming(queue_seconds=0.0001, compute_seconds=0.3, batch_rows=1),
    )
    metrics.observe_error(model="taxi", version=2, kind="overloaded")
    metrics.observe_error(model="taxi", version=None, kind="not_found")
    metrics.observe_unseen(model="taxi", version=2, feature="payment_type", count=3)
    metrics.observe_unseen(model="taxi", version=2, feature="payment_type", count=2)
    metrics.observe_unseen(model="taxi", version=2, feature="company", count=0)
    metrics.set_drift(model="taxi", version=2, feature="fare", value=0.25)
    metrics.set_drift(model="taxi", version=2, feature="fare", value=0.125)
    metrics.set_loaded_versions("taxi", 2)
    s = samples(metrics)

    ok = labels(model="taxi", version="2", protocol="v1", endpoint="predict")
    assert s[("tensorbridge_requests_total", ok | labels(code="200"))] == 3
    v2 = labels(model="taxi", version="", protocol="v2", endpoint="infer", code="404")
    assert s[("tensorbridge_requests_total", v2)] == 1
    assert s[("tensorbridge_request_seconds_count", ok)] == 3
    assert abs(s[("tensorbridge_request_seconds_sum", ok)] - 0.2034) < 1e-9
    assert s[("tensorbridge_request_seconds_bucket", ok | labels(le="0.0005"))] == 1
    assert s[("tensorbridge_request_seconds_bucket", ok | labels(le="0.005"))] == 2
    assert s[("tensorbridge_request_seconds_bucket", ok | labels(le="10.0"))] == 3
    assert s[("tensorbridge_request_seconds_bucket", ok | labels(le="+Inf"))] == 3

    mv = labels(model="taxi", version="2")
    assert s[("tensorbridge_batch_rows_count", mv)] == 2
    assert s[("tensorbridge_batch_rows_sum", mv)] == 25
    assert s[("tensorbridge_batch_rows_bucket", mv | labels(le="1.0"))] == 1
    assert s[("tensorbridge_batch_rows_bucket", mv | labels(le="16.0"))] == 1
    assert s[("tensorbridge_batch_rows_bucket", mv | labels(le="32.0"))] == 2
    assert s[("tensorbridge_batch_rows_bucket", mv | labels(le="1024.0"))] == 2
    assert s[("tensorbridge_queue_seconds_count", mv)] == 2
    assert abs(s[("tensorbridge_compute_seconds_sum", mv)] - 0.312) < 1e-9
    assert s[("tensorbridge_compute_seconds_bucket", mv | labels(le="0.025"))] == 1

    assert s[("tensorbridge_errors_total", mv | labels(kind="overloaded"))] == 1
    assert s[("tensorbridge_errors_total", labels(model="taxi", version="", kind="not_found"))] == 1
    assert s[("tensorbridge_unseen_values_total", mv | labels(feature="payment_type"))] == 5
    assert ("tensorbridge_unseen_values_total", mv | labels(feature="company")) not in s
    assert s[("tensorbridge_feature_drift", mv | labels(feature="fare"))] == 0.125
    assert s[("tensorbridge_loaded_versions", labels(model="taxi"))] == 2

    metrics.forget_version("taxi", 2)
    assert ("tensorbridge_feature_drift", mv | labels(feature="fare")) not in samples(metrics)


def test_two_instances_are_independent() -> None:
    first, second = ServingMetrics(), ServingMetrics()
    first.observe_request(
        model="a", version=1, protocol="v1", endpoint="predict", status=200, seconds=0.01
    )
    second.observe_error(model="b", version=3, kind="predict")
    a, b = samples(first), samples(second)
    key = labels(model="a", version="1", protocol="v1", endpoint="predict", code="200")
    assert a[("tensorbridge_requests_total", key)] == 1
    assert ("tensorbridge_requests_total", key) not in b
    assert not any(name == "tensorbridge_errors_total" for name, _ in a)
    assert b[("tensorbridge_errors_total", labels(model="b", version="3", kind="predict"))] == 1
    body, _ = first.render()
    text = body.decode()
    for name in (
        "tensorbridge_requests_total",
        "tensorbridge_request_seconds",
        "tensorbridge_batch_rows",
        "tensorbridge_queue_seconds",
        "tensorbridge_compute_seconds",
        "tensorbridge_errors_total",
        "tensorbridge_unseen_values_total",
        "tensorbridge_feature_drift",
        "tensorbridge_loaded_versions",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text
