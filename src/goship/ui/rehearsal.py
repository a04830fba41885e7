"""The rehearsal's summary for a terminal: the verdict, failures by cause, latency per version, findings."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from goship.local.report import Report


def render_summary(out: Console, report: Report, *, html: Path) -> None:
    ok = report.verdict == "pass"
    out.print(
        Text.assemble(
            ("PASS" if ok else "FAIL", "bold green" if ok else "bold red"),
            f"  {report.requests} requests, {report.failed_requests} failed",
        )
    )
    table = Table(box=None, header_style="bold")
    for col in ("version", "requests", "errors", "p50 ms", "p99 ms"):
        table.add_column(col)
    for version, stats in report.versions.items():
        table.add_row(
            version, str(stats.requests), str(stats.errors), f"{stats.p50_ms:.2f}", f"{stats.p99_ms:.2f}"
        )
    out.print(table)
    for failure in report.failures:
        out.print(
            Text.assemble(
                ("  failed: ", "red"),
                f"{failure.count} × {failure.cause} ({failure.version or 'no version'})",
            )
        )
    for finding in report.findings:
        out.print(Text.assemble(("  • ", "cyan"), (finding.kind, "bold"), f": {finding.message}"))
    out.print(f"report: {html}")
