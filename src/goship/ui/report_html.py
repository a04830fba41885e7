"""The rehearsal report as one self-contained HTML file: verdict and findings first, then inline SVG charts
(traffic share per version, error rate, latency per version, with the rehearsal's events marked) and tables.

Nothing is fetched when the file is opened — no scripts, fonts or stylesheets from elsewhere — so it can be
kept as a CI artifact and read offline years later.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from goship.local.report import Event, Report, SeriesPoint

_Fmt = Callable[[float], str]
"""Formats a y-axis value."""

_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f")
_ERROR = "#d62728"
_WIDTH, _HEIGHT = 920, 230
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 16, 26, 30
_TIMELINE_ROWS = 40  # one row per event (a rehearsal has a dozen or two); more wrap around

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 960px; color: #222; }
h1 { font-size: 20px; margin: 0 0 8px; } h2 { font-size: 16px; margin: 28px 0 6px; }
.verdict { display: inline-block; padding: 4px 14px; border-radius: 4px; color: #fff; font-weight: 700;
  letter-spacing: .08em; }
.verdict.pass { background: #2e7d32; } .verdict.fail { background: #c62828; }
.summary { margin: 8px 0 4px; } .findings li { margin: 2px 0; } .kind { color: #666; font-family: monospace; }
table { border-collapse: collapse; margin: 4px 0; } th, td { padding: 3px 10px; text-align: left; }
th { border-bottom: 1px solid #999; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #f5f5f5; }
svg text { font: 11px system-ui, sans-serif; fill: #444; } svg .grid { stroke: #e3e3e3; }
svg .axis { stroke: #888; } svg .event { stroke: #555; stroke-dasharray: 4 3; }
svg .badge { fill: #555; } svg .badge-text { fill: #fff; font-weight: 700; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }
"""


def write_report_html(report: Report, path: Path, *, title: str = "goship rehearsal") -> Path:
    """Write the report to ``path`` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report_html(report, title=title), encoding="utf-8")
    return path


def render_report_html(report: Report, *, title: str = "goship rehearsal") -> str:
    """The whole HTML document."""
    colours = {v: _PALETTE[i % len(_PALETTE)] for i, v in enumerate(_versions(report))}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)} — {report.verdict}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<div id="verdict" class="verdict {report.verdict}">{report.verdict.upper()}</div>',
        f'<p class="summary">{report.requests} requests over {report.duration_s:.1f} s, '
        f"{report.failed_requests} failed.</p>",
        _findings(report),
        "<h2>Traffic share per version</h2>",
        _legend(colours),
        _timeline(report),
        _traffic_chart(report, colours),
        "<h2>Error rate</h2>",
        _error_chart(report),
        "<h2>Latency per version (p50 solid, p99 dashed)</h2>",
        _legend(colours),
        _latency_chart(report, colours),
        _versions_table(report, colours),
        _failures_table(report),
        _events_table(report.events),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _versions(report: Report) -> list[str]:
    seen = dict.fromkeys(report.versions)
    for p in report.series:
        seen.update(dict.fromkeys(p.share))
    return list(seen)


def _findings(report: Report) -> str:
    if not report.findings:
        return '<ul class="findings" id="findings"><li>No findings.</li></ul>'
    items = "".join(
        f'<li><span class="kind">{escape(f.kind)}</span> {escape(f.message)}</li>' for f in report.findings
    )
    return f'<ul class="findings" id="findings">{items}</ul>'


def _legend(colours: dict[str, str]) -> str:
    items = "".join(f'<span><i style="background:{c}"></i>{escape(v)}</span>' for v, c in colours.items())
    return f'<div class="legend">{items}</div>'


@dataclass(frozen=True)
class _Frame:
    """Maps run time and a value range onto one chart's plot area."""

    duration_s: float
    """Time at the right edge."""
    y_max: float
    """Value at the top edge."""

    def x(self, t: float) -> float:
        return _LEFT + (_WIDTH - _LEFT - _RIGHT) * min(max(t / self.duration_s, 0.0), 1.0)

    def y(self, value: float) -> float:
        return _HEIGHT - _BOTTOM - (_HEIGHT - _TOP - _BOTTOM) * min(max(value / self.y_max, 0.0), 1.0)


def _svg(
    chart_id: str, label: str, frame: _Frame, body: list[str], events: Sequence[Event], fmt: _Fmt
) -> str:
    return "\n".join(
        [
            f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
            f'viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="{escape(label)}">',
            *_axes(frame, fmt),
            *body,
            *_event_markers(frame, events),
            "</svg>",
        ]
    )


def _axes(frame: _Frame, fmt: _Fmt) -> list[str]:
    out = []
    for i in range(5):
        value = frame.y_max * i / 4
        y = frame.y(value)
        out.append(f'<line class="grid" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(value)}</text>')
    step = _nice_step(frame.duration_s / 8)
    t = 0.0
    while t <= frame.duration_s + 1e-9:
        x = frame.x(t)
        out.append(
            f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{_HEIGHT - _BOTTOM}" y2="{_HEIGHT - _BOTTOM + 4}"/>'
        )
        out.append(f'<text x="{x:.1f}" y="{_HEIGHT - _BOTTOM + 16}" text-anchor="middle">{t:g} s</text>')
        t += step
    out.append(
        f'<line class="axis" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{_HEIGHT - _BOTTOM}" y2="{_HEIGHT - _BOTTOM}"/>'
    )
    return out


def _nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``raw``."""
    if raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _event_markers(frame: _Frame, events: Sequence[Event]) -> list[str]:
    out = []
    for n, e in enumerate(events, start=1):
        x = frame.x(e.t)
        tip = escape(f"{n}. {e.t:.2f} s {e.message}")
        out += [
            f'<g class="event-marker" data-kind="{escape(e.kind)}"><title>{tip}</title>',
            f'<line class="event" x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{_HEIGHT - _BOTTOM}"/>',
            f'<circle class="badge" cx="{x:.1f}" cy="{_TOP - 10}" r="8"/>',
            f'<text class="badge-text" x="{x:.1f}" y="{_TOP - 6}" text-anchor="middle">{n}</text></g>',
        ]
    return out


def _timeline(report: Report) -> str:
    """The events' labels, one row each, on the charts' time axis (the charts carry only their numbers)."""
    if not report.events:
        return ""
    frame = _Frame(max(report.duration_s, 1e-9), 1.0)
    rows = min(len(report.events), _TIMELINE_ROWS)
    height = rows * 18 + 8
    out = [
        f'<svg id="chart-events" xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" role="img" aria-label="events">'
    ]
    for n, e in enumerate(report.events, start=1):
        x, y = frame.x(e.t), 4 + ((n - 1) % rows) * 18
        # Labels past the middle hang to the left of their marker so they stay on the page.
        left = x > _WIDTH / 2
        anchor, dx = ("end", -12) if left else ("start", 12)
        out += [
            f'<g class="event-label" data-kind="{escape(e.kind)}">',
            f'<line class="event" x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{height}"/>',
            f'<circle class="badge" cx="{x:.1f}" cy="{y + 8}" r="8"/>',
            f'<text class="badge-text" x="{x:.1f}" y="{y + 12}" text-anchor="middle">{n}</text>',
            f'<text x="{x + dx:.1f}" y="{y + 12}" text-anchor="{anchor}">{e.t:.1f} s {escape(e.message)}</text></g>',
        ]
    out.append("</svg>")
    return "\n".join(out)


def _bounds(report: Report, p: SeriesPoint) -> tuple[float, float]:
    return p.t, min(p.t + report.bucket_s, report.duration_s)


def _traffic_chart(report: Report, colours: dict[str, str]) -> str:
    frame = _Frame(max(report.duration_s, 1e-9), 1.0)
    body = []
    below = [0.0] * len(report.series)
    for version, colour in colours.items():
        upper, lower = [], []
        for i, p in enumerate(report.series):
            top = below[i] + p.share.get(version, 0.0)
            x0, x1 = _bounds(report, p)
            upper += [(x0, top), (x1, top)]
            lower += [(x0, below[i]), (x1, below[i])]
            below[i] = top
        points = " ".join(f"{frame.x(t):.1f},{frame.y(v):.1f}" for t, v in upper + lower[::-1])
        body.append(
            f'<polygon class="share" data-version="{escape(version)}" fill="{colour}" fill-opacity="0.85" '
            f'points="{points}"><title>{escape(version)}</title></polygon>'
        )
    return _svg("chart-traffic", "traffic share per version", frame, body, report.events, _percent)


def _error_chart(report: Report) -> str:
    peak = max((p.error_rate for p in report.series), default=0.0)
    frame = _Frame(max(report.duration_s, 1e-9), _nice_step(max(0.01, peak * 1.1) / 4) * 4)
    steps = []
    for p in report.series:
        x0, x1 = _bounds(report, p)
        steps += [(x0, p.error_rate), (x1, p.error_rate)]
    body = []
    if steps:
        points = " ".join(f"{frame.x(t):.1f},{frame.y(v):.1f}" for t, v in steps)
        area = f"{frame.x(steps[0][0]):.1f},{frame.y(0):.1f} {points} {frame.x(steps[-1][0]):.1f},{frame.y(0):.1f}"
        body += [
            f'<polygon class="error-area" fill="{_ERROR}" fill-opacity="0.2" points="{area}"/>',
            f'<polyline class="error-rate" fill="none" stroke="{_ERROR}" stroke-width="1.5" points="{points}"/>',
        ]
    return _svg("chart-errors", "error rate", frame, body, report.events, _percent)


def _latency_chart(report: Report, colours: dict[str, str]) -> str:
    peak = max((v for p in report.series for v in p.p99_ms.values() if v is not None), default=0.0)
    frame = _Frame(max(report.duration_s, 1e-9), _nice_step(max(peak, 1.0) * 1.1 / 4) * 4)
    body = []
    for version, colour in colours.items():
        for quantile, dash in (("p50", ""), ("p99", ' stroke-dasharray="5 3"')):
            for run in _runs(report.series, version, quantile):
                points = " ".join(f"{frame.x(t):.1f},{frame.y(ms):.1f}" for t, ms in run)
                body.append(
                    f'<polyline class="latency {quantile}" data-version="{escape(version)}" fill="none" '
                    f'stroke="{colour}" stroke-width="1.5"{dash} points="{points}">'
                    f"<title>{escape(version)} {quantile}</title></polyline>"
                )
    return _svg("chart-latency", "latency per version", frame, body, report.events, _millis)


def _runs(series: Sequence[SeriesPoint], version: str, quantile: str) -> list[list[tuple[float, float]]]:
    """Unbroken stretches of (bucket middle, latency); a bucket the version did not answer breaks the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for i, p in enumerate(series):
        v = (p.p50_ms if quantile == "p50" else p.p99_ms).get(version)
        if v is None:
            if runs[-1]:
                runs.append([])
            continue
        width = series[i + 1].t - p.t if i + 1 < len(series) else (p.t - series[i - 1].t if i else 1.0)
        runs[-1].append((p.t + width / 2, v))
    return [r for r in runs if r]


def _percent(value: float) -> str:
    return f"{value * 100:.3g} %"


def _millis(value: float) -> str:
    return f"{value:.4g} ms"


def _versions_table(report: Report, colours: dict[str, str]) -> str:
    rows = "".join(
        f'<tr><td><i style="display:inline-block;width:10px;height:10px;background:{colours.get(v, "#999")}"></i> '
        f'{escape(v)}</td><td class="n">{s.requests}</td><td class="n">{s.errors}</td>'
        f'<td class="n">{_opt_ms(s.p50_ms)}</td><td class="n">{_opt_ms(s.p99_ms)}</td></tr>'
        for v, s in report.versions.items()
    )
    return (
        '<h2>Versions</h2><table id="versions"><tr><th>version</th><th>requests</th><th>errors</th>'
        f"<th>p50</th><th>p99</th></tr>{rows}</table>"
    )


def _failures_table(report: Report) -> str:
    if not report.failures:
        return '<h2>Failures</h2><p id="failures">None.</p>'
    rows = "".join(
        f'<tr><td>{escape(f.cause)}</td><td>{escape(f.version or "—")}</td><td class="n">{f.count}</td></tr>'
        for f in report.failures
    )
    return f'<h2>Failures</h2><table id="failures"><tr><th>cause</th><th>version</th><th>count</th></tr>{rows}</table>'


def _events_table(events: Sequence[Event]) -> str:
    if not events:
        return '<h2>Events</h2><p id="events">None recorded.</p>'
    rows = "".join(
        f'<tr><td class="n">{n}</td><td class="n">{e.t:.2f} s</td><td>{escape(e.kind)}</td>'
        f"<td>{escape(e.message)}</td></tr>"
        for n, e in enumerate(events, start=1)
    )
    return (
        '<h2>Events</h2><table id="events"><tr><th>#</th><th>time</th><th>kind</th><th>message</th></tr>'
        f"{rows}</table>"
    )


def _opt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"
