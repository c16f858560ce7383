"""Inline SVG charts drawn in Python: line charts, a calibration plot, slice bars.

No JavaScript and no external resources; every text is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

__all__ = ["Bar", "Series", "bar_chart", "calibration_chart", "line_chart"]

BLUE = "#2563eb"
GRAY = "#94a3b8"
GRID = "#e5e7eb"
AXIS = "#6b7280"
RED = "#dc2626"
TEXT = "#111827"
MUTED = "#6b7280"


@dataclass(frozen=True)
class Series:
    """One line of a line chart."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str = BLUE
    dashed: bool = False


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart: a slice and its metric value."""

    label: str
    value: float | None
    count: int
    status: str = "ok"  # ok | fail | small | nan
    baseline: float | None = None
    note: str = ""
    flagged: bool = False  # a threshold failed on this slice (any metric)


@dataclass(frozen=True)
class _Frame:
    """A plot area and the mapping from data to pixels."""

    left: float
    top: float
    width: float
    height: float
    x0: float
    x1: float
    y0: float
    y1: float

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return round(self.left + (value - self.x0) / span * self.width, 1)

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return round(self.top + self.height - (value - self.y0) / span * self.height, 1)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _tick_text(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.2g}"


def _text(x: float, y: float, text: str, **attrs: Any) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items())
    return f'<text x="{x}" y="{y}"{extra}>{escape(text)}</text>'


def _axes(frame: _Frame, x_label: str, y_label: str) -> list[str]:
    parts = []
    for tick in nice_ticks(frame.x0, frame.x1):
        px = frame.x(tick)
        parts.append(
            f'<line x1="{px}" y1="{frame.top}" x2="{px}" y2="{frame.top + frame.height}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(
            _text(
                px,
                frame.top + frame.height + 16,
                _tick_text(tick),
                text_anchor="middle",
                font_size=11,
                fill=MUTED,
            )
        )
    for tick in nice_ticks(frame.y0, frame.y1):
        py = frame.y(tick)
        parts.append(
            f'<line x1="{frame.left}" y1="{py}" x2="{frame.left + frame.width}" y2="{py}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(
            _text(
                frame.left - 6,
                py + 4,
                _tick_text(tick),
                text_anchor="end",
                font_size=11,
                fill=MUTED,
            )
        )
    parts.append(
        f'<rect x="{frame.left}" y="{frame.top}" width="{frame.width}" '
        f'height="{frame.height}" fill="none" stroke="{AXIS}" stroke-width="1"/>'
    )
    parts.append(
        _text(
            frame.left + frame.width / 2,
            frame.top + frame.height + 34,
            x_label,
            text_anchor="middle",
            font_size=12,
            fill=TEXT,
        )
    )
    cy = frame.top + frame.height / 2
    parts.append(
        _text(
            14,
            cy,
            y_label,
            text_anchor="middle",
            font_size=12,
            fill=TEXT,
            transform=f"rotate(-90 14 {cy})",
        )
    )
    return parts


def _path(frame: _Frame, xs: Sequence[float], ys: Sequence[float]) -> str:
    points = [f"{frame.x(x)},{frame.y(y)}" for x, y in zip(xs, ys, strict=True)]
    return "M" + " L".join(points)


def _legend(entries: Sequence[tuple[str, str, bool]], x: float, y: float) -> list[str]:
    parts = []
    width = max(len(name) for name, _, _ in entries) * 6.6 + 40
    height = 20 * len(entries) + 8
    parts.append(
        f'<rect x="{x - width}" y="{y}" width="{width}" height="{height}" rx="4" '
        f'fill="white" fill-opacity="0.9" stroke="{GRID}"/>'
    )
    for i, (name, color, dashed) in enumerate(entries):
        ly = y + 14 + 20 * i
        dash = ' stroke-dasharray="5 4"' if dashed else ""
        parts.append(
            f'<line x1="{x - width + 8}" y1="{ly}" x2="{x - width + 28}" y2="{ly}" '
            f'stroke="{color}" stroke-width="2.5"{dash}/>'
        )
        parts.append(_text(x - width + 34, ly + 4, name, font_size=11, fill=TEXT))
    return parts


def _svg(width: float, height: float, title: str, parts: list[str]) -> str:
    body = "\n".join(parts)
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>\n{body}\n</svg>"
    )


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    width: int = 340,
    height: int = 320,
    reference: Series | None = None,
) -> str:
    """A chart of lines over [0, 1] x [0, 1] (ROC and PR curves).

    Parameters
    ----------
    title : str
        The accessible title of the chart.
    series : sequence of Series
        The lines, drawn in order, each named in the legend.
    x_label, y_label : str
        Axis titles.
    width, height : int
        The size in pixels.
    reference : Series, optional
        A thin dashed guide (the chance diagonal, a prevalence line), not in the legend.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    frame = _Frame(52, 12, width - 68, height - 64, 0.0, 1.0, 0.0, 1.0)
    parts = _axes(frame, x_label, y_label)
    if reference is not None:
        parts.append(
            f'<path d="{_path(frame, reference.xs, reference.ys)}" fill="none" '
            f'stroke="{reference.color}" stroke-width="1.2" stroke-dasharray="4 4"/>'
        )
    entries = []
    for line in series:
        if not line.xs:
            continue
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        parts.append(
            f'<path class="curve" d="{_path(frame, line.xs, line.ys)}" fill="none" '
            f'stroke="{line.color}" stroke-width="2.5" stroke-linejoin="round"{dash}/>'
        )
        entries.append((line.name, line.color, line.dashed))
    if entries:
        parts.extend(
            _legend(
                entries,
                frame.left + frame.width - 6,
                frame.top + frame.height - 12 - 20 * len(entries),
            )
        )
    else:
        parts.append(
            _text(
                frame.left + frame.width / 2,
                frame.top + frame.height / 2,
                "undefined: the labels hold one class only",
                text_anchor="middle",
                font_size=12,
                fill=MUTED,
            )
        )
    return _svg(width, height, title, parts)


def calibration_chart(
    title: str,
    buckets: Sequence[dict[str, Any]],
    *,
    baseline: Sequence[dict[str, Any]] | None = None,
    binary: bool = True,
    width: int = 340,
    height: int = 320,
) -> str:
    """A reliability diagram: mean label against mean prediction per bucket.

    Grey bars behind the points show how many examples each bucket holds; point sizes
    grow with the count; the dashed diagonal is perfect calibration.
    """
    every = [*buckets, *(baseline or [])]
    x0 = min(float(b["lower"]) for b in every)
    x1 = max(float(b["upper"]) for b in every)
    if binary:
        y0, y1 = 0.0, 1.0
    else:
        labels = [b["mean_label"] for b in every if b["mean_label"] is not None]
        y0, y1 = min([x0, *labels]), max([x1, *labels])
    if x1 <= x0:
        x1 = x0 + 1.0
    if y1 <= y0:
        y1 = y0 + 1.0
    frame = _Frame(52, 12, width - 68, height - 64, x0, x1, y0, y1)
    parts = _axes(frame, "mean prediction", "mean label")
    most = max(int(b["count"]) for b in buckets) or 1
    for bucket in buckets:
        if not bucket["count"]:
            continue
        bar_height = frame.height * 0.28 * bucket["count"] / most
        left, right = frame.x(bucket["lower"]), frame.x(bucket["upper"])
        tip = escape(f"{bucket['count']:,} examples")
        parts.append(
            f'<rect x="{left + 1}" y="{round(frame.top + frame.height - bar_height, 1)}" '
            f'width="{round(right - left - 2, 1)}" height="{round(bar_height, 1)}" '
            f'fill="#e0e7ff"><title>{tip}</title></rect>'
        )
    low, high = max(x0, y0), min(x1, y1)
    parts.append(
        f'<line x1="{frame.x(low)}" y1="{frame.y(low)}" x2="{frame.x(high)}" '
        f'y2="{frame.y(high)}" stroke="#cbd5e1" stroke-width="1.2" stroke-dasharray="4 4"/>'
    )
    entries = []
    for points, color, name, dashed in (
        (baseline, GRAY, "baseline", True),
        (buckets, BLUE, "candidate", False),
    ):
        if points is None:
            continue
        full = [b for b in points if b["count"]]
        xs = [float(b["mean_prediction"]) for b in full]
        ys = [float(b["mean_label"]) for b in full]
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        parts.append(
            f'<path d="{_path(frame, xs, ys)}" fill="none" stroke="{color}" '
            f'stroke-width="2"{dash}/>'
        )
        for b, x, y in zip(full, xs, ys, strict=True):
            radius = round(2.5 + 5.0 * math.sqrt(b["count"] / most), 1)
            tip = f"prediction {x:.3f}, label {y:.3f}, {b['count']:,} examples"
            parts.append(
                f'<circle cx="{frame.x(x)}" cy="{frame.y(y)}" r="{radius}" fill="{color}" '
                f'fill-opacity="0.85" stroke="white"><title>{escape(tip)}</title></circle>'
            )
        entries.append((name, color, dashed))
    if baseline is not None:
        parts.extend(_legend(entries[::-1], frame.left + 130, frame.top + 6))
    return _svg(width, height, title, parts)


def bar_chart(
    title: str,
    bars: Sequence[Bar],
    *,
    metric: str,
    overall: float | None,
    bounded: bool,
    width: int = 1040,
) -> str:
    """Horizontal bars of one metric per slice, with values, counts and the overall value.

    Parameters
    ----------
    title : str
        The accessible title.
    bars : sequence of Bar
        One per slice, in display order.
    metric : str
        The metric's display name.
    overall : float, optional
        The overall value, drawn as a dashed reference line.
    bounded : bool
        Whether the metric lies in [0, 1] (the axis then spans [0, 1]).
    width : int
        The width in pixels.
    """
    row, top, label_width, value_width, count_width = 24, 28, 260, 80, 90
    height = top + row * len(bars) + 30
    values = [b.value for b in bars if b.value is not None and math.isfinite(b.value)]
    values += [b.baseline for b in bars if b.baseline is not None and math.isfinite(b.baseline)]
    if overall is not None and math.isfinite(overall):
        values.append(overall)
    if bounded:
        x0, x1 = 0.0, 1.0
    else:
        x0 = min([0.0, *values])
        x1 = max([x0 + 1e-12, *values]) * 1.05
    plot_width = width - label_width - value_width - count_width
    frame = _Frame(label_width, top, plot_width, row * len(bars), x0, x1, 0.0, 1.0)
    value_x = label_width + plot_width + value_width - 10
    parts = [
        f'<rect x="0" y="{top + i * row}" width="{width}" height="{row}" fill="#f8fafc"/>'
        for i in range(1, len(bars), 2)
    ]
    for tick in nice_ticks(x0, x1):
        px = frame.x(tick)
        parts.append(
            f'<line x1="{px}" y1="{top - 4}" x2="{px}" y2="{top + frame.height}" stroke="{GRID}"/>'
        )
        parts.append(
            _text(px, top - 10, _tick_text(tick), text_anchor="middle", font_size=11, fill=MUTED)
        )
    parts.append(_text(value_x, top - 10, metric, text_anchor="end", font_size=11, fill=MUTED))
    parts.append(
        _text(width - 8, top - 10, "examples", text_anchor="end", font_size=11, fill=MUTED)
    )
    zero = frame.x(max(x0, 0.0))
    for i, bar in enumerate(bars):
        y = top + i * row
        label = bar.label if len(bar.label) <= 38 else bar.label[:37] + "…"
        parts.append(f'<g class="bar" data-status="{escape(bar.status)}">')
        parts.append(f"<title>{escape(bar.label + ': ' + (bar.note or metric))}</title>")
        parts.append(
            _text(
                label_width - 10,
                y + 16,
                label,
                text_anchor="end",
                font_size=12,
                fill=RED if bar.flagged else (MUTED if bar.status == "small" else TEXT),
                font_weight="bold" if bar.flagged else "normal",
            )
        )
        if bar.value is not None and math.isfinite(bar.value):
            end = frame.x(bar.value)
            left, span = min(zero, end), abs(end - zero)
            color = RED if bar.status == "fail" else "#3b82f6"
            parts.append(
                f'<rect x="{left}" y="{y + 5}" width="{max(round(span, 1), 1)}" '
                f'height="{row - 10}" rx="2" fill="{color}"/>'
            )
            parts.append(
                _text(
                    value_x,
                    y + 16,
                    f"{bar.value:.4f}",
                    text_anchor="end",
                    font_size=12,
                    fill=RED if bar.status == "fail" else TEXT,
                    font_weight="bold" if bar.status == "fail" else "normal",
                )
            )
        else:
            text = bar.note or ("NaN" if bar.status == "nan" else "not reported")
            parts.append(
                _text(zero + 6, y + 16, text, font_size=11, fill=MUTED, font_style="italic")
            )
            parts.append(_text(value_x, y + 16, "—", text_anchor="end", font_size=12, fill=MUTED))
        if bar.baseline is not None and math.isfinite(bar.baseline):
            bx = frame.x(bar.baseline)
            parts.append(
                f'<line x1="{bx}" y1="{y + 3}" x2="{bx}" y2="{y + row - 3}" stroke="{TEXT}" '
                f'stroke-width="2"><title>baseline {bar.baseline:.4f}</title></line>'
            )
        parts.append(
            _text(width - 8, y + 16, f"{bar.count:,}", text_anchor="end", font_size=12, fill=MUTED)
        )
        parts.append("</g>")
    if overall is not None and math.isfinite(overall):
        ox = frame.x(overall)
        parts.append(
            f'<line x1="{ox}" y1="{top - 2}" x2="{ox}" y2="{top + frame.height + 4}" '
            f'stroke="{TEXT}" stroke-width="1.2" stroke-dasharray="4 3"/>'
        )
        parts.append(
            _text(
                ox,
                top + frame.height + 18,
                f"overall {overall:.4f}",
                text_anchor="middle",
                font_size=11,
                fill=TEXT,
            )
        )
    return _svg(width, height, title, parts)
