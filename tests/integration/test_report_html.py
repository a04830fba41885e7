"""The HTML report opened in a real browser (headless Chromium, Debian package ``chromium``): the charts and
the verdict must be in the DOM it renders. A missing Chromium fails these tests; it is part of the toolset."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from goship.local.loadgen import Cause, LoadResult, LoadSpec, RequestRecord
from goship.local.report import ROLLOUT_FINISHED, ROLLOUT_STARTED, SIGTERM, Event, Report, standard_findings
from goship.ui.report_html import render_report_html, write_report_html

pytestmark = pytest.mark.integration


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "headless Chromium is needed for the HTML report test: apt-get install chromium"
    return found


def open_in_chromium(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def rehearsal() -> Report:
    """20 s at 20 rps: v1.0.0 alone, then shared with v1.1.0, then v1.1.0 alone; a SIGTERM drops requests."""
    records = []
    for i in range(400):
        t = i / 20
        cause: Cause | None = None
        if 9.0 <= t < 9.3:
            cause = "reset"
        version = "v1.0.0" if t < 6 or (t < 12 and i % 2) else "v1.1.0"
        if cause:
            records.append(RequestRecord(t, 3.0, None, None, cause, None, "/"))
        else:
            records.append(
                RequestRecord(
                    t, 4.0 + (i % 7) * (3 if version == "v1.1.0" else 1), 200, version, None, None, "/"
                )
            )
    result = LoadResult(LoadSpec("http://127.0.0.1:8080", rps=20, duration_s=20), tuple(records), 20.0, 0.4)
    events = [
        Event(5.0, ROLLOUT_STARTED, "rollout started"),
        Event(5.8, "replica-ready", "replica v1.1.0#1 ready", replica="v1.1.0#1", version="v1.1.0"),
        Event(9.0, SIGTERM, "SIGTERM to v1.0.0#1 <&>", replica="v1.0.0#1", version="v1.0.0"),
        Event(12.5, ROLLOUT_FINISHED, "rollout finished"),
    ]
    return Report.from_load(result, events=events, findings=standard_findings(result, events))


def test_the_rendered_page_shows_the_verdict_findings_and_every_chart(tmp_path: Path) -> None:
    page = write_report_html(rehearsal(), tmp_path / "out" / "report.html", title="rehearsal of v1.1.0")
    dom = open_in_chromium(page, tmp_path, "--dump-dom").stdout

    assert re.search(r'<div id="verdict" class="verdict fail">FAIL</div>', dom)
    for chart in ("chart-events", "chart-traffic", "chart-errors", "chart-latency"):
        assert re.search(rf'<svg id="{chart}"[^>]*>', dom), chart
    # Stacked share areas and latency lines per version, the error rate line, and four markers per chart.
    assert len(re.findall(r'<polygon class="share" data-version="v1\.(0|1)\.0"', dom)) == 2
    assert len(re.findall(r'<polyline class="latency p(50|99)" data-version="v1\.1\.0"', dom)) == 2
    assert '<polyline class="error-rate"' in dom
    assert len(re.findall(r'<g class="event-marker"', dom)) == 3 * 4
    assert len(re.findall(r'<g class="event-label"', dom)) == 4
    assert "dropped-on-sigterm" in dom
    assert "SIGTERM to v1.0.0#1 &lt;&amp;&gt;" in dom  # escaped, not markup


def test_a_screenshot_of_the_page_can_be_taken(tmp_path: Path) -> None:
    page = write_report_html(rehearsal(), tmp_path / "report.html")
    shot = tmp_path / "report.png"
    open_in_chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1000,1400", "--hide-scrollbars")

    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000


def test_the_page_is_self_contained() -> None:
    html = render_report_html(rehearsal())

    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']""", html)
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
