"""The statistics HTML report: content, escaping, atomic writes, and headless Chromium."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tensorbridge.stats.model import (
    DEFAULT_SLICE,
    Bucket,
    CommonStatistics,
    DatasetStatistics,
    FeatureStatistics,
    Histogram,
    NumericStatistics,
    RankBucket,
    Statistics,
    StringStatistics,
    TopValue,
)
from tensorbridge.stats.report import render_html, write_html
from tensorbridge.stats.results import Anomaly, DriftReport, FeatureDrift, MovedValue

EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"

# --------------------------------------------------------------------------- builders
# Statistics computed here from raw values with numpy (tensorbridge.stats.compute is
# tested elsewhere): 10 equal-width STANDARD buckets, 10 QUANTILES buckets.


def from_numbers(name: str, values: list[float]) -> FeatureStatistics:
    data = np.asarray(values, dtype=float)
    edges = np.linspace(data.min(), data.max(), 11)
    counts, _ = np.histogram(data, edges)
    quantiles = np.quantile(data, np.linspace(0, 1, 101))
    deciles = quantiles[::10]
    standard = Histogram(
        "STANDARD",
        tuple(
            Bucket(float(a), float(b), float(c))
            for a, b, c in zip(edges, edges[1:], counts, strict=False)
        ),
    )
    equal = Histogram(
        "QUANTILES",
        tuple(Bucket(float(a), float(b), len(data) / 10) for a, b in itertools.pairwise(deciles)),
    )
    numeric = NumericStatistics(
        mean=float(data.mean()),
        std_dev=float(data.std()),
        num_zeros=int((data == 0).sum()),
        min=float(data.min()),
        max=float(data.max()),
        median=float(np.median(data)),
        num_nan=0,
        num_pos_inf=0,
        num_neg_inf=0,
        quantiles=tuple(float(q) for q in quantiles),
        histograms=(standard, equal),
    )
    common = CommonStatistics(len(data), 0, 1, 1, 1.0, len(data))
    return FeatureStatistics(name, "FLOAT", "double", common, numeric=numeric)


def from_strings(name: str, values: list[str]) -> FeatureStatistics:
    ranked = sorted(Counter(values).items(), key=lambda vc: (vc[1], vc[0]), reverse=True)
    string = StringStatistics(
        unique=len(ranked),
        top_values=tuple(TopValue(v, float(c)) for v, c in ranked[:20]),
        avg_length=sum(len(v.encode()) for v in values) / len(values),
        rank_histogram=tuple(RankBucket(i, i, v, float(c)) for i, (v, c) in enumerate(ranked)),
        values_total=len(values),
    )
    common = CommonStatistics(len(values), 0, 1, 1, 1.0, len(values))
    return FeatureStatistics(name, "STRING", "string", common, string=string)


def dataset(source: str, *features: FeatureStatistics) -> Statistics:
    n = features[0].common.num_non_missing
    return Statistics((DatasetStatistics(DEFAULT_SLICE, n, {f.name: f for f in features}),), source)


@pytest.fixture(scope="module")
def current() -> Statistics:
    rng = np.random.default_rng(3)
    payment = ["Cash"] * 650 + ["Credit Card"] * 300 + [EVIL] * 40 + ["Mobile"] * 10
    return dataset(
        "data/<today>.csv",
        from_numbers("fare", list(rng.gamma(2.0, 6.0, 1000))),
        from_numbers("trip_miles", list(rng.exponential(3.0, 1000))),
        from_strings("payment_type", payment),
        from_strings("company", [f"company {i % 30}" for i in range(1000)]),
    )


@pytest.fixture(scope="module")
def baseline() -> Statistics:
    rng = np.random.default_rng(4)
    payment = ["Cash"] * 400 + ["Credit Card"] * 500 + ["Prcard"] * 100
    return dataset(
        "data/last_week.csv",
        from_numbers("fare", list(rng.gamma(2.0, 5.0, 1000))),
        from_numbers("trip_miles", list(rng.exponential(3.0, 1000))),
        from_strings("payment_type", payment),
        from_strings("dropped", ["x"] * 1000),
    )


ANOMALIES = (
    Anomaly(
        "payment_type",
        "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
        "ERROR",
        "Unexpected string values",
        f"Examples contain values missing from the schema: {EVIL} (40, 4.0%).",
        {"unexpected": [{"value": EVIL, "count": 40, "share": 0.04}]},
    ),
    Anomaly(
        "trip_miles",
        "FLOAT_TYPE_SMALL_FLOAT",
        "WARNING",
        "Out-of-range values",
        "Unexpectedly small float values (below the schema's minimum 0.5).",
    ),
)

DRIFT = DriftReport(
    "drift",
    1000,
    1000,
    (
        FeatureDrift(
            "payment_type",
            "L_INFTY",
            0.25,
            0.1,
            (MovedValue("Cash", 0.4, 0.65), MovedValue("Credit Card", 0.5, 0.3)),
        ),
        FeatureDrift("fare", "JENSEN_SHANNON_DIVERGENCE", 0.01234, 0.05),
    ),
    (
        Anomaly(
            "payment_type",
            "COMPARATOR_L_INFTY_HIGH",
            "ERROR",
            "High L-infinity distance",
            "The L-infinity distance 0.25 is above the threshold 0.1 (Cash: 40.0% → 65.0%).",
        ),
    ),
)


@pytest.fixture(scope="module")
def full(current: Statistics, baseline: Statistics) -> str:
    return render_html(
        statistics=current,
        baseline=baseline,
        anomalies=ANOMALIES,
        drift=DRIFT,
        title="Taxi & <friends>",
    )


def section(html: str, element_id: str) -> str:
    """The outer HTML of the <section> (or <div>) with id ``element_id``."""
    match = re.search(rf'<(section|div) [^>]*id="{re.escape(element_id)}"', html)
    assert match, element_id
    end = html.find(f"</{match.group(1)}>", match.start())
    if match.group(1) == "section":
        return html[match.start() : end]
    return html[match.start() : html.find("</div></div>", match.start())]


def card(html: str, feature: str) -> str:
    match = re.search(rf'id="(feature-\d+-{re.escape(feature)})"', html)
    assert match, feature
    return section(html, match.group(1))


# --------------------------------------------------------------------------- content


def test_self_contained_and_escaped(full: str) -> None:
    assert full.startswith("<!DOCTYPE html>")
    for external in ("http://", "https://", "src=", "@import", "url(", "<link", "<script"):
        assert external not in full, external
    assert ESCAPED in full
    assert EVIL not in full
    assert "Taxi &amp; &lt;friends&gt;" in full
    assert "data/&lt;today&gt;.csv" in full


def test_header(full: str) -> None:
    header = full[: full.index("</header>")]
    for text in ("1,000", "All Examples", "data/last_week.csv", "4 (2 numeric, 2 categorical)"):
        assert text in header, text
    assert 'class="badge not-blessed" id="status">2 ERRORS, 1 WARNING<' in header


def test_anomalies_listed_first_and_linked(full: str) -> None:
    anomalies = section(full, "anomalies")
    assert full.index('id="anomalies"') < full.index('id="drift"') < full.index('id="feature-')
    assert "Anomalies (2 errors, 1 warning)" in anomalies
    assert anomalies.count('class="anomaly error"') == 2  # one from the drift report
    assert anomalies.count('class="anomaly warning"') == 1
    assert f"Examples contain values missing from the schema: {ESCAPED} (40, 4.0%)." in anomalies
    assert "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in anomalies
    assert 'href="#feature-2-payment_type"' in anomalies
    assert 'href="#feature-1-trip_miles"' in anomalies


def test_anomalous_cards_are_highlighted(full: str) -> None:
    assert 'class="card feature anomalous error" id="feature-2-payment_type"' in full
    assert 'class="card feature anomalous warning" id="feature-1-trip_miles"' in full
    assert 'class="card feature" id="feature-0-fare"' in full
    payment = card(full, "payment_type")
    assert 'href="#anomaly-0">Unexpected string values</a>' in payment
    assert 'href="#anomaly-2">High L-infinity distance</a>' in payment


def test_drift_section(full: str) -> None:
    drift = section(full, "drift")
    rows = re.findall(r"<tr[^>]*>.*?</tr>", drift)
    exceeded = [r for r in rows if r.startswith('<tr class="exceeded">')]
    assert len(exceeded) == 1 and "payment_type" in exceeded[0]
    assert "0.25" in exceeded[0] and "0.1" in exceeded[0] and "EXCEEDED" in exceeded[0]
    assert "<strong>Cash</strong>: 40.0% → 65.0% (+25.0 pp)" in exceeded[0]
    assert "Credit Card</strong>: 50.0% → 30.0% (-20.0 pp)" in exceeded[0]
    fare = next(r for r in rows if "fare" in r)
    assert "Jensen-Shannon" in fare and "0.01234" in fare and "pill pass" in fare


def test_numeric_card_histogram_and_baseline(full: str, current: Statistics) -> None:
    fare = card(full, "fare")
    assert fare.count("<svg") == 1
    assert fare.count('class="hist-bar"') == 10  # one per STANDARD bucket
    assert fare.count('class="hist-baseline"') == 1
    numeric = current["fare"].numeric
    assert numeric is not None
    mean = f"{numeric.mean:.4g}"
    assert f"<td>Mean</td><td>{mean}</td>" in fare
    assert "<th>Current</th><th>Baseline</th>" in fare
    # the QUANTILES buckets' edges: 0%, 10%, ..., 100%, for current and baseline
    quantiles = fare[fare.index('class="quantiles"') :]
    assert quantiles.count("<th>") == 12  # "Quantile" and 11 edges
    assert "<td>current</td>" in quantiles and "<td>baseline</td>" in quantiles
    assert full.count('class="hist-bar"') == 20  # fare and trip_miles


def test_categorical_card_top_values(full: str) -> None:
    payment = card(full, "payment_type")
    # 4 current values, and "Prcard", only in the baseline
    assert payment.count('<g class="bar"') == 5
    assert ">Cash<" in payment and ">Prcard<" in payment
    assert ">0.6500<" in payment and ">650<" in payment  # share and count
    assert "baseline 0.4000" in payment  # the baseline's share of Cash, as a tick
    assert ESCAPED in payment
    company = card(full, "company")
    assert company.count('<g class="bar"') == 20  # at most 20 of the 30 values
    assert "Not in the baseline." in company
    assert "Features only in the baseline" in full and "<strong>dropped</strong>" in full


def test_without_anomalies_baseline_or_drift(current: Statistics) -> None:
    html = render_html(statistics=current)
    html = html[html.index("</style>") :]
    assert 'id="anomalies"' not in html and 'id="drift"' not in html
    assert "anomalous" not in html and "hist-baseline" not in html
    assert "<th>Baseline</th>" not in html
    assert html.count('class="card feature"') == 4
    assert html.count('class="hist-bar"') == 20


def test_drift_only() -> None:
    html = render_html(drift=DRIFT, title="Drift")
    html = html[html.index("</style>") :]
    assert 'id="drift"' in html and 'id="anomalies"' in html
    assert "feature-" not in html  # no cards, so no links
    assert "<strong>payment_type</strong>" in html


def test_single_value_histogram() -> None:
    stats = dataset("one.csv", from_numbers("constant", [2.0] * 5))
    html = render_html(statistics=stats)
    widths = re.findall(r'class="hist-bar" x="[^"]+" y="[^"]+" width="([^"]+)"', html)
    assert len(widths) == 10 and all(float(w) >= 3 for w in widths)


def test_write_html_is_atomic(tmp_path: Path, current: Statistics) -> None:
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    written = write_html(target, statistics=current, anomalies=ANOMALIES)
    assert written == target
    assert target.read_text(encoding="utf-8") == render_html(
        statistics=current, anomalies=ANOMALIES
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    plain = tmp_path / "plain.txt"
    plain.write_text("", encoding="utf-8")
    assert target.stat().st_mode == plain.stat().st_mode  # the umask's mode, not 0600
    plain.unlink()
    with pytest.raises(FileNotFoundError):
        write_html(tmp_path / "missing" / "r.html", statistics=current)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


# --------------------------------------------------------------------------- Chromium
# Playwright is not a dependency of this project, so, as tests/evaluate/test_eval_report.py
# does, the system Chromium runs headless from the command line. A probe script (added to
# a copy of the report; the report itself has none) plays page.evaluate: it records
# errors from the start of <head>, then writes the layout measurements into the DOM,
# which --dump-dom prints.

PROBE_HEAD = """<script>
window.__errors = [];
window.addEventListener("error", (e) => window.__errors.push(
  String(e.message || (e.target && (e.target.src || e.target.href)) || e.type)), true);
for (const level of ["error", "warn"]) {
  const original = console[level];
  console[level] = (...args) => { window.__errors.push(args.join(" ")); original(...args); };
}
</script>"""

PROBE_BODY = """<script>
(() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
  const visible = (el) => {
    const s = getComputedStyle(el);
    const [w, h] = box(el);
    return s.display !== "none" && s.visibility !== "hidden" && w > 0 && h > 0;
  };
  const anomaly = document.querySelector(".anomaly.error");
  const out = {
    charts: [...document.querySelectorAll("svg.chart")].map(box),
    histBars: [...document.querySelectorAll("rect.hist-bar")].map(box),
    anomalyVisible: anomaly !== null && visible(anomaly),
    anomalyColor: anomaly && getComputedStyle(anomaly).borderLeftColor,
    cardBorder: getComputedStyle(document.querySelector(".card.feature.anomalous.error"))
      .borderTopColor,
    resources: performance.getEntriesByType("resource").map((e) => e.name),
    scripts: document.scripts.length,
    errors: window.__errors,
  };
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def _evaluate_in_chromium(
    chromium: Callable[..., Any], html_file: Path, workdir: Path
) -> tuple[dict[str, object], str]:
    """Open a probed copy of ``html_file`` headless; the probe's results and stderr."""
    html = html_file.read_text(encoding="utf-8")
    assert "<script" not in html
    probed = workdir / "probed.html"
    probed.write_text(
        html.replace("<head>", "<head>" + PROBE_HEAD, 1).replace(
            "</body>", PROBE_BODY + "</body>", 1
        ),
        encoding="utf-8",
    )
    done = chromium(
        workdir / "profile",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1200,2000",
        "--dump-dom",
        probed.resolve().as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    match = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert match, "the probe did not run: " + done.stdout[-1000:]
    text = match.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return json.loads(text), done.stderr


def test_report_renders_in_headless_chromium(
    full: str, tmp_path: Path, chromium: Callable[..., Any]
) -> None:
    path = tmp_path / "stats.html"
    path.write_text(full, encoding="utf-8")
    result, stderr = _evaluate_in_chromium(chromium, path, tmp_path)

    charts = result["charts"]
    assert isinstance(charts, list)
    # fare and trip_miles histograms, payment_type and company top values
    assert len(charts) == 4
    assert all(w > 100 and h > 50 for w, h in charts), charts
    hist_bars = result["histBars"]
    assert isinstance(hist_bars, list) and len(hist_bars) == 20
    assert all(w > 0 for w, _ in hist_bars) and sum(h for _, h in hist_bars) > 0
    assert result["anomalyVisible"] is True
    assert result["anomalyColor"] == "rgb(220, 38, 38)"
    assert result["cardBorder"] == "rgb(220, 38, 38)"
    assert result["resources"] == []  # nothing requested from anywhere
    assert result["scripts"] == 2  # the probe's only: the evil value stayed text
    assert result["errors"] == []
    assert "Uncaught" not in stderr
