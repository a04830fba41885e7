"""A canary for a person: where it stands (``goship canary status``), each action and analysis as it
happens (``--wait``), and the decision log behind its outcome (``goship canary explain``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from goship.rollout.canary_state import CanaryState, Decision, Event

# The figures worth a column, by the names the judges give them; the rest stays in --json.
_FIGURES = (
    ("canary_error_rate", "canary errors", "{:.2%}"),
    ("stable_error_rate", "stable errors", "{:.2%}"),
    ("e_value", "e-value", "{:.3g}"),
    ("fail_e_value", "fail at", "{:g}"),
    ("error_ratio_upper_bound", "ratio bound", "{:.3g}"),
    ("p_value", "p", "{:.3g}"),
)


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def event_line(state: CanaryState, event: Event) -> str:
    """``+3.2s  traffic   v1.0.0 95 %, v1.1.0 5 %``."""
    return f"+{event.time - state.started:6.1f}s  {event.kind:<8} {event.message}"


def decision_line(state: CanaryState, d: Decision) -> str:
    """One analysis on one line: step, weight, samples, verdict and why."""
    samples = ", ".join(f"{k} {v}" for k, v in d.samples.items())
    return (
        f"+{d.time - state.started:6.1f}s  analysis step {d.step + 1}/{len(state.weights)} at {d.weight} %: "
        f"{d.verdict.upper()} ({d.judge}; {samples}) {d.reason}"
    )


def progress_line(state: CanaryState) -> str:
    """Where the canary stands, in one line."""
    where = {
        "progressing": f"step {state.step + 1}/{len(state.weights)} at {state.weight} %",
        "awaiting-promotion": f"at {state.weight} %, waiting for 'goship canary promote'",
    }.get(state.phase, "")
    paused = " (paused)" if state.paused else ""
    reason = f": {state.reason}" if state.reason and not state.active else ""
    return f"canary {state.canary} against {state.stable}: {state.phase}{paused} {where}".rstrip() + reason


def render_status(
    out: Console, state: CanaryState, *, judged: bool, runtime: bool, cluster: bool = False
) -> None:
    """Where the canary stands; ``cluster``: it runs on Kubernetes, driven by a goship somewhere."""
    out.print(progress_line(state))
    steps = " → ".join(f"{w} %" for w in state.weights) + " → promotion"
    out.print(f"steps {steps}; judge {state.judge}; started {_clock(state.started)}")
    if state.decisions:
        last = state.decisions[-1]
        out.print(
            f"last analysis {_clock(last.time)}: {last.verdict} — {last.reason} "
            f"({last.failures} consecutive failure(s))"
        )
    if state.active and not judged and cluster:
        out.print(
            "[bold yellow]not judged now[/]: no goship has written its state for an interval (the one "
            "that drove it was stopped); its traffic split stays as it was. Continue here with "
            "'goship canary resume --target kubernetes' or stop it with 'goship canary abort --target "
            "kubernetes'."
        )
    elif state.active and not judged:
        where = "the runtime daemon is gone" if not runtime else "the runtime runs no engine for it"
        out.print(
            f"[bold yellow]not judged now[/]: {where}; the router sends traffic back to {state.stable} "
            "when its lease runs out. Continue with 'goship canary resume' or stop with 'goship canary abort'."
        )


def render_explain(out: Console, state: CanaryState) -> None:
    """Every action and every analysis in order, then the table of analyses with their figures."""
    from rich.table import Table

    out.print(progress_line(state))
    if state.decisions:
        d = state.decisions[0]
        out.print(
            f"judged by {state.judge} on {d.metric or 'error rate'} from {d.source or 'the metrics source'}, "
            f"windows of {d.window_s:g}s, at least {d.values.get('min_requests', 0):g} canary requests each, "
            f"rollback after {d.values.get('failure_threshold', 0):g} consecutive failed analyses"
        )
    entries: list[tuple[float, str]] = [(e.time, event_line(state, e)) for e in state.events]
    entries += [(d.time, decision_line(state, d)) for d in state.decisions]
    for _, line in sorted(entries, key=lambda entry: entry[0]):
        out.print(line)
    if not state.decisions:
        return
    shown = [f for f in _FIGURES if any(f[0] in d.values for d in state.decisions)]
    table = Table(box=None, header_style="bold")
    for column in ("time", "step", "weight", "judge", "stable req", "canary req"):
        table.add_column(column, justify="right")
    for _, title, _ in shown:
        table.add_column(title, justify="right")
    table.add_column("verdict")
    table.add_column("failures", justify="right")
    for d in state.decisions:
        figures = [fmt.format(d.values[key]) if key in d.values else "-" for key, _, fmt in shown]
        table.add_row(
            f"+{d.time - state.started:.1f}s",
            f"{d.step + 1}/{len(state.weights)}",
            f"{d.weight} %",
            d.judge,
            str(d.samples.get("stable", "-")),
            str(d.samples.get("canary", "-")),
            *figures,
            d.verdict,
            str(d.failures),
        )
    out.print(table)
