"""The statistics report: one self-contained HTML page with inline CSS and SVG charts.

Anomalies come first, then drift distances, then one card per feature with its summary
numbers and a chart (a histogram for numeric features, the top values for categorical
ones), next to the baseline's when one is given. Nothing is loaded from anywhere and no
script runs; every value from the data is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from html import escape
from pathlib import Path

from tensorbridge.evaluate.report import CSS as BASE_CSS
from tensorbridge.evaluate.svg import (
    BLUE,
    MUTED,
    TEXT,
    Bar,
    _axes,
    _Frame,
    _legend,
    _svg,
    _text,
    bar_chart,
)
from tensorbridge.stats.model import Bucket, FeatureStatistics, Histogram, Statistics
from tensorbridge.stats.results import Anomaly, DriftReport, FeatureDrift, MovedValue
from tensorbridge.stats.tables import (
    METRIC_NAMES,
    anomaly_summary,
    format_count,
    format_number,
    format_percent,
    is_numeric,
)

__all__ = ["histogram_chart", "render_html", "write_html"]

#: The most top values drawn per categorical feature.
MAX_TOP_VALUES = 20
#: The most baseline-only values added to a categorical chart.
MAX_BASELINE_ONLY = 5
BASELINE_COLOR = "#334155"

CSS = (
    BASE_CSS
    + """
.badge.warned{background:#fef3c7;color:#92400e;border:1px solid #fcd34d}
.anomaly{border-left:5px solid #d1d5db;border-radius:6px;padding:8px 12px;margin:8px 0}
.anomaly.error{border-color:#dc2626;background:#fef2f2}
.anomaly.warning{border-color:#f59e0b;background:#fffbeb}
.anomaly .head{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.anomaly .desc{margin:4px 0 0;color:#374151}
.anomaly code,.type-tag{font-size:12px;color:#4b5563}
.pill.error{background:#fee2e2;color:#991b1b}.pill.warning{background:#fef3c7;color:#92400e}
.pill.off{background:#f3f4f6;color:#6b7280}
.card.feature.anomalous.error{border:2px solid #dc2626;background:#fffafa}
.card.feature.anomalous.warning{border:2px solid #f59e0b;background:#fffdf5}
.card.feature h2{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.feature-body{display:grid;grid-template-columns:minmax(240px,1fr) minmax(0,2.2fr);gap:18px}
@media (max-width:800px){.feature-body{grid-template-columns:1fr}}
.card ul.flags{margin:0 0 10px;padding:0;list-style:none}
.card ul.flags li{margin:2px 0}
tr.exceeded td{background:#fef2f2}
table.summary{margin-bottom:10px}
.card > table.summary{width:auto;min-width:360px}
td.moved{text-align:left;white-space:normal;font-size:12px}
table.quantiles{margin-top:8px;font-size:12px}
pre{white-space:pre-wrap;word-break:break-all;font-size:12px;background:#f9fafb;padding:8px}
a{color:#1d4ed8}
"""
)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def render_html(
    *,
    statistics: Statistics | None = None,
    baseline: Statistics | None = None,
    anomalies: Sequence[Anomaly] = (),
    drift: DriftReport | None = None,
    title: str = "Data statistics",
) -> str:
    """Render statistics, anomalies and drift as one self-contained HTML page.

    Parameters
    ----------
    statistics : Statistics, optional
        The data's statistics: one card per feature of the default slice.
    baseline : Statistics, optional
        Statistics to compare with (training data, last week's data): shown next to the
        current numbers, as a second histogram outline and as baseline ticks on the
        top-value bars.
    anomalies : sequence of Anomaly
        Listed at the top (ERROR red, WARNING amber); their features' cards are
        highlighted and linked. The drift report's anomalies are added to these.
    drift : DriftReport, optional
        Distances against thresholds, as a table (exceeded rows highlighted).
    title : str
        The page title.

    Returns
    -------
    str
        The HTML document.
    """
    found = _merge(anomalies, drift.anomalies if drift is not None else ())
    ids = _feature_ids(statistics)
    body = [
        _header(title, statistics, baseline, found, drift),
        _anomalies(found, ids),
        _drift(drift, ids),
        _slices(statistics),
        *(_feature_card(f, baseline, found, drift, ids) for f in _features(statistics)),
        _baseline_only(statistics, baseline),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(part for part in body if part)
        + "\n<footer>tensorbridge.stats</footer>\n</main>\n</body>\n</html>\n"
    )


def write_html(
    path: str | os.PathLike[str],
    *,
    statistics: Statistics | None = None,
    baseline: Statistics | None = None,
    anomalies: Sequence[Anomaly] = (),
    drift: DriftReport | None = None,
    title: str = "Data statistics",
) -> Path:
    """Write :func:`render_html`'s page to ``path`` atomically (temp file, then rename).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    text = render_html(
        statistics=statistics, baseline=baseline, anomalies=anomalies, drift=drift, title=title
    )
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _merge(*groups: Sequence[Anomaly]) -> list[Anomaly]:
    """Anomalies in order, without repeats (the drift report's may already be listed)."""
    seen: set[tuple[object, ...]] = set()
    out = []
    for anomaly in (a for group in groups for a in group):
        key = (anomaly.feature, anomaly.type, anomaly.severity, anomaly.description)
        if key not in seen:
            seen.add(key)
            out.append(anomaly)
    return out


def _features(statistics: Statistics | None) -> list[FeatureStatistics]:
    return list(statistics.default) if statistics is not None else []


def _feature_ids(statistics: Statistics | None) -> dict[str, str]:
    """An anchor id per feature: its position and a readable, safe form of its name."""
    return {
        f.name: f"feature-{i}-{re.sub(r'[^A-Za-z0-9_-]+', '-', f.name)[:40]}"
        for i, f in enumerate(_features(statistics))
    }


def _feature_link(feature: str | None, ids: dict[str, str]) -> str:
    if feature is None:
        return "<em>data set</em>"
    if feature in ids:
        return f'<a href="#{ids[feature]}"><strong>{_e(feature)}</strong></a>'
    return f"<strong>{_e(feature)}</strong>"


def _header(
    title: str,
    statistics: Statistics | None,
    baseline: Statistics | None,
    found: Sequence[Anomaly],
    drift: DriftReport | None,
) -> str:
    meta: list[tuple[str, str]] = []
    if statistics is not None:
        features = _features(statistics)
        numeric = sum(is_numeric(f) for f in features)
        meta += [
            ("source", statistics.source or "—"),
            ("examples", format_count(statistics.num_examples)),
            (
                "features",
                f"{len(features)} ({numeric} numeric, {len(features) - numeric} categorical)",
            ),
            ("slices", ", ".join(s.name for s in statistics.slices)),
        ]
    if baseline is not None:
        meta += [
            ("baseline", baseline.source or "—"),
            ("baseline examples", format_count(baseline.num_examples)),
        ]
    if drift is not None:
        meta.append(
            (
                drift.kind,
                f"{format_count(drift.base_examples)} → {format_count(drift.current_examples)} "
                "examples",
            )
        )
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta)
    badge = ""
    if found:
        css = "not-blessed" if any(a.severity == "ERROR" for a in found) else "warned"
        badge = f'<span class="badge {css}" id="status">{_e(anomaly_summary(found).upper())}</span>'
    elif drift is not None:
        badge = f'<span class="badge blessed" id="status">NO {_e(drift.kind.upper())}</span>'
    return (
        '<header class="card"><div><div class="eyebrow">tensorbridge data statistics</div>'
        f'<h1>{_e(title)}</h1><dl class="meta">{rows}</dl></div>'
        f'<div class="status">{badge}</div></header>'
    )


def _anomaly(index: int, anomaly: Anomaly, ids: dict[str, str]) -> str:
    css = anomaly.severity.lower()
    details = ""
    if anomaly.details:
        text = json.dumps(dict(anomaly.details), indent=1, default=str)
        text = text if len(text) <= 4000 else text[:4000] + "\n…"
        details = f"<details><summary>Details</summary><pre>{_e(text)}</pre></details>"
    return (
        f'<div class="anomaly {css}" id="anomaly-{index}"><div class="head">'
        f'<span class="pill {css}">{_e(anomaly.severity)}</span>'
        f"{_feature_link(anomaly.feature, ids)}"
        f"<strong>{_e(anomaly.short_description)}</strong>"
        f"<code>{_e(anomaly.type)}</code></div>"
        f'<p class="desc">{_e(anomaly.description)}</p>{details}</div>'
    )


def _anomalies(found: Sequence[Anomaly], ids: dict[str, str]) -> str:
    if not found:
        return ""
    items = "".join(_anomaly(i, a, ids) for i, a in enumerate(found))
    return (
        f'<section class="card" id="anomalies"><h2>Anomalies ({_e(anomaly_summary(found))})'
        f"</h2>{items}</section>"
    )


def _moved(moved: MovedValue) -> str:
    change = 100 * moved.change
    return (
        f"<div><strong>{_e(moved.label)}</strong>: "
        f"{_e(format_percent(moved.base_share, 1.0))} → "
        f"{_e(format_percent(moved.current_share, 1.0))} ({change:+.1f} pp)</div>"
    )


def _status_pill(item: FeatureDrift) -> str:
    if item.threshold is None:
        return '<span class="pill off">no threshold</span>'
    if item.exceeded:
        return '<span class="pill fail">EXCEEDED</span>'
    return '<span class="pill pass">ok</span>'


def _drift(drift: DriftReport | None, ids: dict[str, str]) -> str:
    if drift is None:
        return ""
    rows = []
    for item in drift.features:
        css = ' class="exceeded"' if item.exceeded else ""
        moved = "".join(_moved(m) for m in item.moved) or "—"
        rows.append(
            f"<tr{css}><td>{_feature_link(item.feature, ids)}</td>"
            f'<td class="text">{_e(METRIC_NAMES.get(item.metric, item.metric))}</td>'
            f"<td>{_e(format_number(item.value))}</td>"
            f"<td>{_e(format_number(item.threshold))}</td>"
            f'<td>{_status_pill(item)}</td><td class="moved">{moved}</td></tr>'
        )
    if not rows:
        rows.append('<tr><td class="text" colspan="6">No feature was compared.</td></tr>')
    head = (
        '<tr><th>Feature</th><th class="text">Metric</th><th>Distance</th><th>Threshold</th>'
        '<th>Status</th><th class="text">Moved most (baseline → current share)</th></tr>'
    )
    title = "Drift" if drift.kind == "drift" else "Training-serving skew"
    caption = (
        f"Baseline {format_count(drift.base_examples)} examples, current "
        f"{format_count(drift.current_examples)} examples. L-infinity: the largest change in "
        "one value's share; Jensen-Shannon divergence: log base 2, in [0, 1]."
    )
    return (
        f'<section class="card" id="drift"><h2>{_e(title)}</h2>'
        f'<div class="scroll"><table>{head}{"".join(rows)}</table></div>'
        f'<p class="caption">{_e(caption)}</p></section>'
    )


def _slices(statistics: Statistics | None) -> str:
    if statistics is None or len(statistics.slices) < 2:
        return ""
    total = statistics.num_examples
    rows = "".join(
        f"<tr><td>{_e(s.name)}</td><td>{_e(format_count(s.num_examples))}</td>"
        f"<td>{_e(format_percent(s.num_examples, total))}</td></tr>"
        for s in statistics.slices
    )
    return (
        '<section class="card" id="slices"><h2>Slices</h2><table>'
        f"<tr><th>Slice</th><th>Examples</th><th>Share</th></tr>{rows}</table>"
        '<p class="caption">The feature cards below show the first slice.</p></section>'
    )


def _baseline_only(statistics: Statistics | None, baseline: Statistics | None) -> str:
    if statistics is None or baseline is None:
        return ""
    missing = [f.name for f in baseline.default if f.name not in statistics.default.features]
    if not missing:
        return ""
    names = ", ".join(f"<strong>{_e(name)}</strong>" for name in missing)
    return (
        '<section class="card" id="baseline-only"><h2>Features only in the baseline</h2>'
        f"<p>{names}</p></section>"
    )


# ---------------------------------------------------------------------------- feature cards


def _summary_rows(feature: FeatureStatistics) -> list[tuple[str, str]]:
    common = feature.common
    present = common.num_non_missing + common.num_missing
    rows = [
        ("Count", format_count(common.num_non_missing)),
        (
            "Missing",
            f"{format_count(common.num_missing)} ({format_percent(common.num_missing, present)})",
        ),
    ]
    if common.max_num_values > 1 or common.min_num_values != common.max_num_values:
        rows.append(
            (
                "Values per example",
                f"{format_count(common.min_num_values)} to {format_count(common.max_num_values)}"
                f" (avg {format_number(common.avg_num_values)})",
            )
        )
    numeric, string = feature.numeric, feature.string
    if numeric is not None:
        rows += [
            ("Mean", format_number(numeric.mean)),
            ("Std dev", format_number(numeric.std_dev)),
            (
                "Zeros",
                f"{format_count(numeric.num_zeros)} "
                f"({format_percent(numeric.num_zeros, common.tot_num_values)})",
            ),
            ("Min", format_number(numeric.min)),
            ("Median", format_number(numeric.median)),
            ("Max", format_number(numeric.max)),
            ("NaN", format_count(numeric.num_nan)),
            (
                "+inf / -inf",
                f"{format_count(numeric.num_pos_inf)} / {format_count(numeric.num_neg_inf)}",
            ),
        ]
    if string is not None:
        top = string.top_values[0] if string.top_values else None
        rows += [
            ("Unique", format_count(string.unique)),
            ("Top value", top.value if top else "—"),
            ("Top share", format_percent(top.frequency, string.values_total) if top else "—"),
            ("Avg length", format_number(string.avg_length)),
            ("Invalid UTF-8", format_count(string.invalid_utf8_count)),
        ]
    return rows


def _summary_table(feature: FeatureStatistics, base: FeatureStatistics | None, paired: bool) -> str:
    current = _summary_rows(feature)
    before = dict(_summary_rows(base)) if base is not None else {}
    head = "<tr><th>Statistic</th><th>Current</th><th>Baseline</th></tr>" if paired else ""
    rows = []
    for label, value in current:
        cells = f"<td>{_e(label)}</td><td>{_e(value)}</td>"
        if paired:
            cells += f"<td>{_e(before.get(label, '—'))}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return f'<table class="summary">{head}{"".join(rows)}</table>'


def _finite_range(buckets: Sequence[Bucket]) -> tuple[float, float] | None:
    bounds = [v for b in buckets for v in (b.low_value, b.high_value) if math.isfinite(v)]
    return (min(bounds), max(bounds)) if bounds else None


def _shares(buckets: Sequence[Bucket]) -> list[float]:
    total = sum(b.sample_count for b in buckets)
    return [b.sample_count / total if total else 0.0 for b in buckets]


def histogram_chart(
    title: str,
    histogram: Histogram,
    *,
    baseline: Histogram | None = None,
    width: int = 620,
    height: int = 260,
) -> str:
    """A column chart of a histogram's buckets: the share of values in each.

    Parameters
    ----------
    title : str
        The accessible title.
    histogram : Histogram
        The buckets drawn as bars (``class="hist-bar"``, one per bucket).
    baseline : Histogram, optional
        Drawn as a dark step outline over the bars (``class="hist-baseline"``).
    width, height : int
        The size in pixels.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    groups = [histogram.buckets] + ([baseline.buckets] if baseline is not None else [])
    ranges = [r for r in (_finite_range(g) for g in groups) if r is not None]
    x0 = min((r[0] for r in ranges), default=0.0)
    x1 = max((r[1] for r in ranges), default=1.0)
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    shares = _shares(histogram.buckets)
    base_shares = _shares(baseline.buckets) if baseline is not None else []
    top = max([*shares, *base_shares, 1e-12]) * 1.1
    frame = _Frame(52, 12, width - 68, height - 64, x0, x1, 0.0, top)
    parts = _axes(frame, "value", "share of values")

    def clamp(value: float) -> float:
        return min(max(value, x0), x1)

    for bucket, share in zip(histogram.buckets, shares, strict=True):
        left, right = frame.x(clamp(bucket.low_value)), frame.x(clamp(bucket.high_value))
        bar_width = max(right - left - 1, 3.0)
        if right - left - 1 < 3.0:
            left = (left + right) / 2 - 1.5
        y = frame.y(share)
        tip = (
            f"[{format_number(bucket.low_value)}, {format_number(bucket.high_value)}]: "
            f"{format_count(bucket.sample_count)} values ({format_percent(share, 1.0)})"
        )
        parts.append(
            f'<rect class="hist-bar" x="{round(left, 1)}" y="{y}" '
            f'width="{round(bar_width, 1)}" height="{round(frame.y(0.0) - y, 1)}" '
            f'fill="{BLUE}" fill-opacity="0.8"><title>{escape(tip)}</title></rect>'
        )
    if baseline is not None and baseline.buckets:
        points = [f"M{frame.x(clamp(baseline.buckets[0].low_value))},{frame.y(0.0)}"]
        for bucket, share in zip(baseline.buckets, base_shares, strict=True):
            points.append(f"L{frame.x(clamp(bucket.low_value))},{frame.y(share)}")
            points.append(f"L{frame.x(clamp(bucket.high_value))},{frame.y(share)}")
        points.append(f"L{frame.x(clamp(baseline.buckets[-1].high_value))},{frame.y(0.0)}")
        parts.append(
            f'<path class="hist-baseline" d="{" ".join(points)}" fill="none" '
            f'stroke="{BASELINE_COLOR}" stroke-width="2" stroke-dasharray="5 3"/>'
        )
        parts.extend(
            _legend(
                [("baseline", BASELINE_COLOR, True), ("current", BLUE, False)],
                frame.left + frame.width - 6,
                frame.top + 6,
            )
        )
    if not any(shares):
        parts.append(
            _text(
                frame.left + frame.width / 2,
                frame.top + frame.height / 2,
                "no values",
                text_anchor="middle",
                font_size=12,
                fill=MUTED,
            )
        )
    if histogram.num_nan:
        parts.append(
            _text(
                frame.left + 6,
                frame.top + 14,
                f"+ {format_count(histogram.num_nan)} NaN (not drawn)",
                font_size=11,
                fill=TEXT,
            )
        )
    return _svg(width, height, title, parts)


def _quantile_edges(feature: FeatureStatistics | None) -> list[float]:
    """The QUANTILES histogram's bucket edges (deciles by default)."""
    if feature is None or feature.numeric is None:
        return []
    histogram = feature.numeric.histogram("QUANTILES")
    if histogram is not None and histogram.buckets:
        return [histogram.buckets[0].low_value, *(b.high_value for b in histogram.buckets)]
    quantiles = feature.numeric.quantiles
    return list(quantiles[::10]) if len(quantiles) == 101 else []


def _quantile_table(feature: FeatureStatistics, base: FeatureStatistics | None) -> str:
    edges = _quantile_edges(feature)
    if len(edges) < 2:
        return ""
    steps = len(edges) - 1
    head = "".join(f"<th>{_e(format_number(100 * i / steps))}%</th>" for i in range(len(edges)))
    rows = [("current", edges)]
    base_edges = _quantile_edges(base)
    if len(base_edges) == len(edges):
        rows.append(("baseline", base_edges))
    body = "".join(
        f"<tr><td>{name}</td>"
        + "".join(f"<td>{_e(format_number(v))}</td>" for v in values)
        + "</tr>"
        for name, values in rows
    )
    return (
        '<div class="scroll"><table class="quantiles">'
        f"<tr><th>Quantile</th>{head}</tr>{body}</table></div>"
    )


def _numeric_chart(feature: FeatureStatistics, base: FeatureStatistics | None) -> str:
    if feature.numeric is None:
        return '<p class="caption">No values.</p>'
    histogram = feature.numeric.histogram("STANDARD")
    base_histogram = base.numeric.histogram("STANDARD") if base and base.numeric else None
    chart = ""
    if histogram is not None:
        chart = histogram_chart(f"Histogram of {feature.name}", histogram, baseline=base_histogram)
    caption = "Equal-width buckets between the minimum and the maximum"
    caption += "; dashed outline: the baseline." if base_histogram is not None else "."
    caption += " Below: the quantile buckets' edges (equal counts)."
    return (
        f'<div class="scroll">{chart}</div><p class="caption">{_e(caption)}</p>'
        + _quantile_table(feature, base)
    )


def _categorical_chart(feature: FeatureStatistics, base: FeatureStatistics | None) -> str:
    string = feature.string
    if string is None or not string.top_values:
        return '<p class="caption">No values.</p>'
    counts = string.value_counts()
    complete = len(counts) >= string.unique
    base_string = base.string if base is not None else None
    base_counts = base_string.value_counts() if base_string is not None else {}
    base_complete = base_string is not None and len(base_counts) >= base_string.unique

    def base_share(value: str) -> float | None:
        if base_string is None or not base_string.values_total:
            return None
        if value in base_counts:
            return base_counts[value] / base_string.values_total
        return 0.0 if base_complete else None

    total = string.values_total or 1
    shown = [top.value for top in string.top_values[:MAX_TOP_VALUES]]
    if base_string is not None:
        extra = [t.value for t in base_string.top_values if t.value not in shown]
        shown += extra[:MAX_BASELINE_ONLY]
    bars = []
    for value in shown:
        count = counts.get(value)
        if count is None and not complete:
            bars.append(Bar(value, None, 0, "nan", base_share(value), "not among the top values"))
            continue
        count = count or 0.0
        bars.append(Bar(value, count / total, round(count), "ok", base_share(value)))
    svg = bar_chart(
        f"Top values of {feature.name}",
        bars,
        metric="share",
        overall=None,
        bounded=False,
        width=1000,
    )
    caption = (
        f"The {min(len(string.top_values), MAX_TOP_VALUES)} most frequent of "
        f"{format_count(string.unique)} unique values: share of all "
        f"{format_count(string.values_total)} values (right: counts)."
    )
    if base_string is not None:
        caption += " Black tick: the share in the baseline."
    return f'<div class="scroll">{svg}</div><p class="caption">{_e(caption)}</p>'


def _feature_card(
    feature: FeatureStatistics,
    baseline: Statistics | None,
    found: Sequence[Anomaly],
    drift: DriftReport | None,
    ids: dict[str, str],
) -> str:
    base = baseline.default.features.get(feature.name) if baseline is not None else None
    flagged = [(i, a) for i, a in enumerate(found) if a.feature == feature.name]
    css = "card feature"
    if flagged:
        worst = "error" if any(a.severity == "ERROR" for _, a in flagged) else "warning"
        css += f" anomalous {worst}"
    flags = "".join(
        f'<li><span class="pill {a.severity.lower()}">{_e(a.severity)}</span> '
        f'<a href="#anomaly-{i}">{_e(a.short_description)}</a></li>'
        for i, a in flagged
    )
    if drift is not None:
        flags += "".join(
            f"<li>{_e(METRIC_NAMES.get(d.metric, d.metric))} distance "
            f"{_e(format_number(d.value))} (threshold {_e(format_number(d.threshold))}) "
            f"{_status_pill(d)}</li>"
            for d in drift.features
            if d.feature == feature.name
        )
    flags_html = f'<ul class="flags">{flags}</ul>' if flags else ""
    chart = (
        _numeric_chart(feature, base) if is_numeric(feature) else _categorical_chart(feature, base)
    )
    if is_numeric(feature):
        body = (
            f'<div class="feature-body"><div>{_summary_table(feature, base, baseline is not None)}'
            f"</div><div>{chart}</div></div>"
        )
    else:
        body = f"{_summary_table(feature, base, baseline is not None)}{chart}"
    note = ""
    if baseline is not None and base is None:
        note = '<p class="caption">Not in the baseline.</p>'
    return (
        f'<section class="{css}" id="{ids[feature.name]}"><h2>{_e(feature.name)} '
        f'<span class="type-tag">{_e(feature.type)} · {_e(feature.arrow_type)}</span></h2>'
        f"{flags_html}{body}{note}</section>"
    )
