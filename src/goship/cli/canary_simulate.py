"""``goship canary simulate``: every canary judge on the same seeded synthetic traffic, side by side."""

from __future__ import annotations

from typing import Annotated

from goship.cli._app import Parameter


def _figure(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def simulate(
    *,
    runs: int = 100,
    seed: int = 1,
    json: Annotated[bool, Parameter(negative=())] = False,
) -> int:
    """Run every judge (flagger-default, threshold, mann-whitney, sequential) on seeded synthetic traces:
    healthy canaries at 1 and 100 requests/s, bursty and idle traffic, error-rate regressions of 1.5x, 2x
    and 5x and a 1.5x latency regression; nothing sleeps.

    Parameters
    ----------
    runs
        Seeded traces per scenario.
    seed
        Seed of the traces; the same seed prints the same figures.
    json
        Print one JSON document: {"judges": {"<judge>": {"false_rollback_rate", "miss_rate",
        "median_detect_seconds", "median_bad_requests", ...}}, "traces": N, ...}.

    Example: goship canary simulate --runs 200 --json
    """
    from goship.rollout.simulate import report_json
    from goship.rollout.simulate import simulate as run_simulation

    report = run_simulation(runs=runs, seed=seed)
    if json:
        from goship.ui.console import print_json

        print_json(report_json(report))
        return 0
    from rich.table import Table

    from goship.ui.console import stdout

    table = Table(box=None, header_style="bold")
    for column in ("judge", "false rollbacks", "misses", "stalled", "median detect", "median bad requests"):
        table.add_column(column, justify="left" if column == "judge" else "right")
    for j in report.judges:
        table.add_row(
            j.judge,
            f"{j.false_rollback_rate:.1%}",
            f"{j.miss_rate:.1%}",
            f"{j.stall_rate:.1%}",
            _figure(j.median_detect_seconds, ".0f") + (" s" if j.median_detect_seconds is not None else ""),
            _figure(j.median_bad_requests, ".1f"),
        )
    console = stdout()
    console.print(table)
    console.print(
        f"{report.traces} traces ({len(report.scenarios)} scenarios x {report.runs} runs, seed {report.seed}); "
        "false rollbacks over healthy traces, misses over regressed ones, medians over detected regressions"
    )
    return 0
