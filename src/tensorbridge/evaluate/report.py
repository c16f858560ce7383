"""The HTML report: one self-contained file with inline CSS and SVG charts.

No scripts, stylesheets or fonts are loaded from anywhere, so the report opens offline
and can be attached to a ticket or an artifact store. Every text is escaped.
"""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Any

from tensorbridge.errors import ConfigError
from tensorbridge.evaluate.formatting import (
    METRIC_TITLES,
    failed_cells,
    format_diff,
    format_metric,
)
from tensorbridge.evaluate.metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER
from tensorbridge.evaluate.records import SliceMetrics
from tensorbridge.evaluate.slicing import Slice, format_value
from tensorbridge.evaluate.svg import GRAY, Bar, Series, bar_chart, calibration_chart, line_chart

if TYPE_CHECKING:
    from tensorbridge.evaluate.result import EvalResult

__all__ = ["render_report"]

#: The most bars drawn per slicing spec (the largest slices); the table lists all.
MAX_BARS = 40
DEFAULT_METRIC = {"binary": "auc", "regression": "rmse"}
KPIS = {
    "binary": ("auc", "pr_auc", "accuracy", "precision", "recall", "log_loss", "calibration"),
    "regression": ("rmse", "mae", "r2", "mse"),
}
BOUNDED = frozenset(
    {"accuracy", "auc", "pr_auc", "precision", "recall", "mean_label", "mean_prediction"}
)
TASK_WORDS = {"binary": "binary classification", "regression": "regression"}

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#111827;
 font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
 "Liberation Sans","DejaVu Sans",sans-serif;font-size:14px;line-height:1.45}
main{max-width:1120px;margin:0 auto;padding:24px 20px 48px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:18px 20px;
 margin-bottom:18px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
header.card{display:flex;gap:24px;align-items:flex-start;justify-content:space-between}
.eyebrow{text-transform:uppercase;letter-spacing:.08em;font-size:11px;color:#6b7280;
 font-weight:600}
h1{font-size:26px;margin:2px 0 8px}
h2{font-size:16px;margin:0 0 12px}
.meta{display:grid;grid-template-columns:max-content auto;gap:2px 14px;color:#374151;
 font-size:13px}
.meta dt{color:#6b7280}.meta dd{margin:0;word-break:break-all}
.status{min-width:300px;max-width:420px;text-align:right}
.badge{display:inline-block;padding:8px 16px;border-radius:999px;font-weight:700;
 letter-spacing:.06em;font-size:15px}
.blessed{background:#dcfce7;color:#166534;border:1px solid #86efac}
.not-blessed{background:#fee2e2;color:#991b1b;border:1px solid #fca5a5}
.undecided{background:#f3f4f6;color:#374151;border:1px solid #d1d5db}
.summary{margin:10px 0 4px;font-weight:600}
.reasons{margin:6px 0 0;padding:0;list-style:none;font-size:13px;text-align:left}
.reasons li{margin:4px 0;padding-left:18px;text-indent:-18px}
.reasons li.fail{color:#991b1b}.reasons li.note{color:#4b5563}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:12px;
 margin-bottom:18px}
.kpi{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:12px 14px}
.kpi.fail{border-color:#fca5a5;background:#fff7f7}
.kpi .name{font-size:12px;color:#6b7280;font-weight:600}
.kpi .value{font-size:24px;font-weight:700;margin-top:2px;font-variant-numeric:tabular-nums}
.kpi .delta{font-size:12px;color:#6b7280;font-variant-numeric:tabular-nums}
.good{color:#15803d!important}.bad{color:#b91c1c!important}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:18px}
.charts .card{margin-bottom:0}
.charts-wrap{margin-bottom:18px}
.caption{font-size:12px;color:#6b7280;margin:6px 0 0}
svg.chart{display:block;max-width:100%;height:auto}
svg.chart text{font-family:inherit}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:6px 8px;border-bottom:1px solid #eef0f3;text-align:right;white-space:nowrap}
th{background:#f9fafb;color:#374151;font-weight:600;position:sticky;top:0}
th:first-child,td:first-child{text-align:left;white-space:normal}
td.text{text-align:left;white-space:normal}
tr.unreported td{color:#9ca3af}
tr.group td{background:#f1f5f9;font-weight:700;color:#334155;text-align:left;padding-top:8px}
td.slice{padding-left:18px}td.flagged{color:#991b1b;font-weight:700}
th.text{text-align:left}
td.failcell{background:#fee2e2;color:#991b1b;font-weight:700}
td .d{display:block;font-size:11px;color:#6b7280}
.scroll{overflow-x:auto}
.pill{display:inline-block;border-radius:6px;padding:1px 8px;font-weight:700;font-size:12px}
.pill.pass{background:#dcfce7;color:#166534}.pill.fail{background:#fee2e2;color:#991b1b}
details summary{cursor:pointer;color:#374151;font-weight:600}
ul.notes{margin:8px 0 0;padding-left:20px;color:#4b5563;font-size:13px}
footer{color:#9ca3af;font-size:12px;text-align:center}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def render_report(result: EvalResult, *, metric: str | None = None) -> str:
    """Render an evaluation as one self-contained HTML page.

    Parameters
    ----------
    result : EvalResult
        The evaluation.
    metric : str, optional
        The metric drawn per slice (default ``auc`` for binary, ``rmse`` for regression).

    Returns
    -------
    str
        The HTML document.
    """
    chosen = metric or DEFAULT_METRIC[result.task]
    if chosen not in result.metric_names:
        raise ConfigError(
            f"The report cannot draw {chosen!r} per slice: it is not a {result.task} metric. "
            f"Choose one of {list(result.metric_names)}."
        )
    body = [
        _header(result),
        _kpis(result),
        _charts(result),
        *(_slice_bars(result, spec, chosen) for spec in result.slicing_specs[1:]),
        _checks(result),
        _metrics_table(result),
        _notes(result),
    ]
    title = f"Evaluation of {result.model_name}"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(part for part in body if part)
        + "\n<footer>tensorbridge.evaluate · "
        + _e(result.created_at)
        + "</footer>\n</main>\n</body>\n</html>\n"
    )


def _header(result: EvalResult) -> str:
    badge_class, badge = {
        True: ("blessed", "BLESSED"),
        False: ("not-blessed", "NOT BLESSED"),
        None: ("undecided", "NOT VALIDATED"),
    }[result.blessed]
    meta = [
        ("data", result.data),
        ("label", result.label),
        ("prediction", result.prediction),
        ("baseline", result.baseline_prediction or "none"),
        ("task", TASK_WORDS[result.task]),
        ("examples", f"{result.example_count:,}"),
        ("slices", f"{len(result.slices):,} ({len(result.slicing_specs)} specs)"),
    ]
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta)
    reasons = [
        f'<li class="fail">✗ {_e(c.metric)} on {_e(c.slice)}: {_e(c.message)}</li>'
        for c in result.failures[:8]
    ]
    if len(result.failures) > 8:
        reasons.append(f'<li class="fail">… and {len(result.failures) - 8} more (below)</li>')
    reasons += [f'<li class="note">• {_e(n)}</li>' for n in result.notes[:4]]
    return (
        '<header class="card"><div>'
        '<div class="eyebrow">Model evaluation</div>'
        f"<h1>{_e(result.model_name)}</h1>"
        f'<dl class="meta">{rows}</dl></div>'
        f'<div class="status"><span class="badge {badge_class}" id="blessing">{badge}</span>'
        f'<p class="summary">{_e(result.summary)}</p>'
        f'<ul class="reasons">{"".join(reasons)}</ul></div></header>'
    )


def _direction_class(name: str, diff: float) -> str:
    if math.isnan(diff) or diff == 0:
        return ""
    better = diff > 0 if name in HIGHER_IS_BETTER else diff < 0 if name in LOWER_IS_BETTER else None
    return "" if better is None else ("good" if better else "bad")


def _kpis(result: EvalResult) -> str:
    overall = result.overall
    if not overall.reported:
        return ""
    failed = failed_cells(result.checks)
    cards = []
    for name in KPIS[result.task]:
        value = overall.metrics.get(name)
        delta = ""
        if name in overall.baseline_metrics and value is not None:
            base = overall.baseline_metrics[name]
            diff = value - base
            delta = (
                f'<div class="delta">baseline {_e(format_metric(name, base))} · '
                f'<span class="{_direction_class(name, diff)}">{_e(format_diff(diff))}</span>'
                "</div>"
            )
        fail = " fail" if (overall.name, name) in failed else ""
        cards.append(
            f'<div class="kpi{fail}"><div class="name">{_e(METRIC_TITLES.get(name, name))}</div>'
            f'<div class="value">{_e(format_metric(name, value))}</div>{delta}</div>'
        )
    return f'<section class="kpis" id="overall">{"".join(cards)}</section>'


def _card(title: str, svg: str, caption: str) -> str:
    return f'<div class="card"><h2>{_e(title)}</h2>{svg}<p class="caption">{_e(caption)}</p></div>'


def _charts(result: EvalResult) -> str:
    candidate = result.plots.get("candidate", {})
    baseline = result.plots.get("baseline")
    metrics, base = result.overall.metrics, result.overall.baseline_metrics
    cards = []
    if result.task == "binary":
        roc = [
            Series(
                f"{result.model_name} (AUC {format_metric('auc', metrics.get('auc'))})",
                candidate["roc_curve"]["fpr"],
                candidate["roc_curve"]["tpr"],
            )
        ]
        pr = [
            Series(
                f"{result.model_name} (AP {format_metric('pr_auc', metrics.get('pr_auc'))})",
                candidate["pr_curve"]["recall"],
                candidate["pr_curve"]["precision"],
            )
        ]
        if baseline is not None:
            roc.insert(
                0,
                Series(
                    f"baseline (AUC {format_metric('auc', base.get('auc'))})",
                    baseline["roc_curve"]["fpr"],
                    baseline["roc_curve"]["tpr"],
                    GRAY,
                    dashed=True,
                ),
            )
            pr.insert(
                0,
                Series(
                    f"baseline (AP {format_metric('pr_auc', base.get('pr_auc'))})",
                    baseline["pr_curve"]["recall"],
                    baseline["pr_curve"]["precision"],
                    GRAY,
                    dashed=True,
                ),
            )
        prevalence = metrics.get("mean_label", 0.0)
        cards.append(
            _card(
                "ROC curve",
                line_chart(
                    "ROC curve",
                    roc,
                    x_label="false positive rate",
                    y_label="true positive rate",
                    reference=Series("chance", [0, 1], [0, 1], "#cbd5e1"),
                ),
                "Dashed diagonal: a random ranking (AUC 0.5).",
            )
        )
        cards.append(
            _card(
                "Precision-recall curve",
                line_chart(
                    "Precision-recall curve",
                    pr,
                    x_label="recall",
                    y_label="precision",
                    reference=Series("prevalence", [0, 1], [prevalence, prevalence], "#cbd5e1"),
                ),
                f"Dashed line: the share of positives ({prevalence:.3f}), a random ranking.",
            )
        )
    cards.append(
        _card(
            "Calibration" if result.task == "binary" else "Predicted vs. actual",
            calibration_chart(
                "Calibration",
                candidate["calibration"],
                baseline=baseline["calibration"] if baseline is not None else None,
                binary=result.task == "binary",
            ),
            "Mean label per bucket of predictions (10 equal-width buckets); bars: examples "
            "per bucket; dashed: perfect calibration.",
        )
    )
    return f'<section class="charts-wrap"><div class="charts">{"".join(cards)}</div></section>'


def _slice_bars(result: EvalResult, spec: Slice, metric: str) -> str:
    members = [s for s in result.slices if spec.matches(s.key)]
    if not members:
        return ""
    reported = [s for s in members if s.reported]
    small = [s for s in members if not s.reported]
    shown = reported
    if len(reported) > MAX_BARS:
        keep = {id(s) for s in sorted(reported, key=lambda s: -s.count)[:MAX_BARS]}
        shown = [s for s in reported if id(s) in keep]
    failed = failed_cells(result.checks)
    flagged = {name for name, _ in failed}
    bars = [_bar(s, metric, (s.name, metric) in failed, s.name in flagged) for s in shown]
    if small:
        examples = sum(s.count for s in small)
        bars.append(
            Bar(
                f"{len(small)} smaller slice(s)",
                None,
                examples,
                "small",
                note=f"fewer than {result.min_slice_size} examples each: not reported",
            )
        )
    title = f"{METRIC_TITLES.get(metric, metric)} by {spec.name}"
    caption = (
        "Dashed line: the overall value. Red bar: a threshold on this metric failed; red "
        "name: a threshold failed on this slice. Right: examples per slice."
    )
    if result.baseline_prediction is not None:
        caption += " Black tick: the baseline's value."
    if len(reported) > len(shown):
        caption += (
            f" Showing the {len(shown)} largest of {len(reported)} reported slices; the "
            "table lists all."
        )
    svg = bar_chart(
        title,
        bars,
        metric=METRIC_TITLES.get(metric, metric),
        overall=result.overall.metrics.get(metric),
        bounded=metric in BOUNDED,
    )
    return (
        f'<section class="card slice-bars"><h2>{_e(title)}</h2>'
        f'<div class="scroll">{svg}</div><p class="caption">{_e(caption)}</p></section>'
    )


def _label(item: SliceMetrics) -> str:
    return " · ".join(format_value(value) for _, value in item.key) or "Overall"


def _bar(item: SliceMetrics, metric: str, failed: bool, flagged: bool) -> Bar:
    value = item.metrics.get(metric)
    baseline = item.baseline_metrics.get(metric)
    if value is None or math.isnan(value):
        note = next((n for n in item.notes if n.startswith(metric)), "")
        short = "NaN: one class only" if "both classes" in note else "NaN"
        return Bar(_label(item), None, item.count, "nan", baseline, short, flagged)
    return Bar(_label(item), value, item.count, "fail" if failed else "ok", baseline, "", flagged)


def _checks(result: EvalResult) -> str:
    if not result.rules:
        return (
            '<section class="card" id="checks"><h2>Thresholds</h2><p>No thresholds are '
            "configured, so the model is not validated and not blessed (as TFX). Pass "
            "<code>thresholds=</code> to <code>evaluate</code> to decide a blessing.</p></section>"
        )
    rows = []
    for check in sorted(result.checks, key=lambda c: c.passed):
        status = "pass" if check.passed else "fail"
        rows.append(
            "<tr>"
            f'<td><span class="pill {status}">{status.upper()}</span></td>'
            f'<td class="text">{_e(check.metric)}</td><td class="text">{_e(check.slice)}</td>'
            f"<td>{_e(check.bound)}</td>"
            f"<td>{_e(format_metric(check.metric, check.value))}</td>"
            f"<td>{_e(format_metric(check.metric, check.baseline))}</td>"
            f'<td class="text">{_e(check.message)}</td></tr>'
        )
    header = (
        '<tr><th>Result</th><th class="text">Metric</th><th class="text">Slice</th>'
        '<th>Rule</th><th>Value</th><th>Baseline</th><th class="text">Why</th></tr>'
    )
    if not rows:
        rows.append('<tr><td class="text" colspan="7">No check ran (see the notes).</td></tr>')
    return (
        '<section class="card" id="checks"><h2>Threshold checks</h2>'
        f'<div class="scroll"><table>{header}{"".join(rows)}</table></div></section>'
    )


#: Metrics that do not depend on the predictions (no change from the baseline to show).
_SAME_DATA = frozenset({"example_count", "mean_label"})


def _metric_cell(item: SliceMetrics, name: str, failed: set[tuple[str, str]]) -> str:
    value = item.metrics.get(name)
    diff = ""
    if name in item.baseline_metrics and value is not None and name not in _SAME_DATA:
        d = value - item.baseline_metrics[name]
        if math.isnan(d) or abs(d) >= 5e-5:
            diff = f'<span class="d {_direction_class(name, d)}">{_e(format_diff(d))}</span>'
    css = ' class="failcell"' if (item.name, name) in failed else ""
    return f"<td{css}>{_e(format_metric(name, value))}{diff}</td>"


def _metrics_table(result: EvalResult) -> str:
    failed = failed_cells(result.checks)
    names = [n for n in result.metric_names if n != "example_count"]
    head = (
        "<tr><th>Slice</th><th>Count</th>"
        + "".join(f"<th>{_e(METRIC_TITLES.get(n, n))}</th>" for n in names)
        + "</tr>"
    )
    rows = []
    for spec in result.slicing_specs:
        if not spec.is_overall:
            rows.append(
                f'<tr class="group"><td colspan="{len(names) + 2}">{_e(spec.name)}</td></tr>'
            )
        for item in (s for s in result.slices if spec.matches(s.key)):
            flagged = any(name == item.name for name, _ in failed)
            label_class = "text" + ("" if spec.is_overall else " slice")
            label_class += " flagged" if flagged else ""
            cells = [
                f'<td class="{label_class}" title="{_e(item.name)}">{_e(_label(item))}</td>',
                f"<td>{item.count:,}</td>",
            ]
            if item.reported:
                cells += [_metric_cell(item, name, failed) for name in names]
            else:
                cells += ["<td>—</td>"] * len(names)
            row_class = "" if item.reported else ' class="unreported"'
            rows.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    caption = "Every slice; red cells failed a threshold."
    if result.baseline_prediction is not None:
        caption += " Small numbers: change from the baseline (shown when at least 0.0001)."
    if any(not s.reported for s in result.slices):
        caption += f" —: fewer than min_slice_size={result.min_slice_size} examples, not reported."
    return (
        '<section class="card" id="metrics"><h2>Metrics by slice</h2>'
        f'<div class="scroll"><table>{head}{"".join(rows)}</table></div>'
        f'<p class="caption">{_e(caption)}</p></section>'
    )


def _notes(result: EvalResult) -> str:
    items: list[Any] = list(result.notes)
    items += [f"{s.name}: {note}" for s in result.slices for note in s.notes]
    if not items:
        return ""
    listed = "".join(f"<li>{_e(item)}</li>" for item in items[:200])
    more = f"<li>… {len(items) - 200} more</li>" if len(items) > 200 else ""
    return (
        f'<section class="card" id="notes"><details><summary>Notes ({len(items)})</summary>'
        f'<ul class="notes">{listed}{more}</ul></details></section>'
    )
