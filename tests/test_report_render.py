"""The backtest HTML report renders in headless Chromium and references nothing outside itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.test_backtest import (
    CDRS,
    FRAUD,
    INCIDENTS,
    RATER,
    _full_outputs,
    action,
    allow_all,
    build_dataset,
    call,
    terminate,
)
from tollguard.app.backtest import BacktestResult, score_policies
from tollguard.app.backtest.report import render_html, render_report

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "screenshots" / "backtest-report.png"


def _chromium() -> str:
    """The Chromium binary, installed by scripts/chromium.sh when missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "chromium.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    path = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode != 0 or not path or not os.access(path, os.X_OK):
        pytest.skip(f"Chromium cannot be installed here: {proc.stderr.strip()[-300:]}")
    return path


def _result(tmp_path: Path) -> BacktestResult:
    data = build_dataset(
        tmp_path / "data", CDRS, INCIDENTS, FRAUD, lookalikes=[("S4", "heavy_intl_caller")]
    )
    reference = [
        *allow_all({"L5": call(70, "L5", "deny")}),
        terminate(8, "F3"),
        action(70, "contact_attempt", subscriber_id="S1"),
        action(75, "suspend_international", subscriber_id="S1", reason="hourly meter"),
        action(75, "suspend_international", subscriber_id="S4", reason="hourly meter"),
    ]
    return score_policies(data, {"tollguard": _full_outputs(), "reference": reference}, rater=RATER)


def _urls(html: str) -> list[str]:
    return re.findall(r"https?://", html, flags=re.IGNORECASE)


def test_report_is_self_contained(tmp_path: Path) -> None:
    html = render_html(_result(tmp_path))
    assert _urls(html) == []
    for needle in ("<link", "<script", "@import", "url(", "src="):
        assert needle not in html, needle
    assert html.count("<svg") >= 6  # loss plot, two heat maps, two timelines, alert bars
    assert "I1" in html and "I2" in html and "S3" in html


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    result = _result(tmp_path)
    report = render_report(result, tmp_path / "out" / "report.html")
    assert _urls(report.read_text(encoding="utf-8")) == []
    chromium = _chromium()
    png = tmp_path / "report.png"
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=1280,2000",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert png.exists(), f"no screenshot; chromium said: {proc.stderr[-2000:]}"
    assert png.stat().st_size > 20_000
    with Image.open(png) as image:
        assert image.size == (1280, 2000)
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20)
        assert colours is not None
        assert len(colours) > 50, "the screenshot is (nearly) a single colour"
        # the policy colours of the plots are on screen: tollguard blue and reference orange
        present = {colour for _count, colour in colours}
        assert (0x25, 0x63, 0xEB) in present
        assert (0xD9, 0x77, 0x06) in present
        # and the heat map's darkest cell colour
        assert (0xB9, 0x1C, 0x1C) in present
    if os.environ.get("TOLLGUARD_SAVE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, SCREENSHOT)


def test_report_of_an_empty_data_set(tmp_path: Path) -> None:
    data = build_dataset(tmp_path / "empty", [], [], {})
    result = score_policies(data, {"tollguard": []}, rater=RATER)
    html = render_html(result)
    assert "No incidents in this data set." in html
    assert "No fraud loss in this data set." in html
    assert _urls(html) == []


def test_formatting_helpers() -> None:
    from tollguard.app.backtest.report import duration
    from tollguard.app.backtest.svg import heatmap, nice_step

    assert duration(None) == "never"
    assert duration(0) == "0 s"
    assert duration(150) == "2 min 30 s"
    assert duration(3600 + 5 * 60) == "1 h 05 min"
    assert duration(-90) == "−1 min 30 s"
    assert duration(2 * 86400 + 3 * 3600) == "2 d 3 h"
    assert [nice_step(x) for x in (7, 45, 1_000_000)] == [2.0, 10.0, 200_000.0]
    grid = [[0] * 24 for _ in range(7)]
    grid[6][3] = 1322
    svg = heatmap(grid, title="t")
    assert ">1.3k<" in svg and "Sun 03:00 — 1322" in svg
