"""The HTML report: self-contained, escaped, and rendered by headless Chromium."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from tensorbridge.evaluate import ChangeThreshold, EvalResult, Slice, ValueThreshold, evaluate

EVIL = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def result() -> EvalResult:
    rng = np.random.default_rng(7)
    n = 600
    label = rng.integers(0, 2, n)
    p = np.clip(0.5 * label + rng.normal(0.25, 0.2, n), 0, 1)
    base = np.clip(0.3 * label + rng.normal(0.35, 0.25, n), 0, 1)
    region = rng.choice(["north", "south", EVIL, None], n, p=[0.4, 0.3, 0.2, 0.1])
    hour = rng.integers(0, 6, n)
    table = pa.table(
        {"label": label, "p": p, "base": base, "region": region.tolist(), "hour": hour}
    )
    return evaluate(
        table,
        label="label",
        prediction="p",
        baseline_prediction="base",
        slices=[Slice("region"), Slice("hour")],
        thresholds={
            "auc": [ValueThreshold(lower=0.7), ChangeThreshold(absolute=0.0)],
            "accuracy": ValueThreshold(lower=0.99, slices=Slice("region")),
        },
        model_name="model & <friends>",
    )


def test_report_is_self_contained(result: EvalResult) -> None:
    html = result.to_html()
    assert html.startswith("<!DOCTYPE html>")
    for external in ("http://", "https://", "src=", "@import", "url(", "<link", "<script"):
        assert external not in html, external


def test_report_escapes_every_text(result: EvalResult) -> None:
    html = result.to_html()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "model &amp; &lt;friends&gt;" in html
    assert "<friends>" not in html


def test_report_content(result: EvalResult) -> None:
    html = result.to_html()
    # ROC, PR, calibration, and one bar chart per slicing spec
    assert html.count("<svg") == 5
    assert html.count('class="curve"') == 4  # candidate and baseline, ROC and PR
    assert "AUC by region" in html and "AUC by hour" in html
    assert 'id="blessing">NOT BLESSED<' in html
    assert "north" in html and "(missing)" in html
    assert 'class="failcell"' in html
    assert "Threshold checks" in html
    precision = result.to_html(metric="precision")
    assert "Precision by region" in precision


def test_report_without_thresholds_says_not_validated() -> None:
    table = pa.table({"label": [0, 1, 1, 0], "p": [0.2, 0.7, 0.6, 0.1]})
    html = evaluate(table, label="label", prediction="p").to_html()
    assert 'id="blessing">NOT VALIDATED<' in html
    assert "no thresholds configured: not blessed (as TFX)" in html


def _png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the (still filtered) pixel bytes of a PNG, with the stdlib."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_report_renders_in_headless_chromium(
    result: EvalResult, tmp_path: Path, chromium: Callable[..., Any]
) -> None:
    out = result.write(tmp_path / "eval")
    url = (out / "report.html").resolve().as_uri()
    dom = chromium(tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") == 5
    for name in ("north", "south", "(missing)", "AUC by region", "NOT BLESSED"):
        assert name in dom.stdout, name
    assert "&lt;script&gt;" in dom.stdout  # the evil slice value stayed text
    assert re.search(r"<path[^>]+class=\"curve\"", dom.stdout)

    png = tmp_path / "r.png"
    shot = chromium(
        tmp_path / "profile-shot", f"--screenshot={png}", "--window-size=1200,2000", url
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert png.exists()
    width, height, pixels = _png_pixels(png)
    assert (width, height) == (1200, 2000)
    # A blank page would hold a couple of distinct byte values; the report holds many.
    assert len(set(pixels)) > 50
