"""Compares the canary judges side by side on the same seeded synthetic traffic (``goship.rollout.simulate``)
and checks the issue's goals against the Flagger-default rule.

Goals: the sequential judge (alpha = 0.01) rolls back at most 1 % of healthy canaries at every traffic
level; a 2x error-rate regression is detected at least 3x faster and with at least 3x fewer bad requests
than Flagger's defaults. Exit status: 0 when both goals are met, 1 when one is missed.

It also prints what no judge at alpha = 0.01 can beat on the 2x trace: an oracle that knows stable's error
rate runs Wald's sequential probability ratio test for exactly 2x (the test needing the fewest requests
for it, Wald & Wolfowitz 1948), once per analysis interval on the same traces, and once per request on the
same traffic model -- the latter at 5 % only, and with the weight raised every minute whatever the
evidence (which only an engine that advances without evidence could do).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass

from goship.rollout.judges import JudgeState, Samples, Verdict
from goship.rollout.simulate import (
    FLAGGER_POLICY,
    SCENARIOS,
    JudgeEntry,
    JudgeSummary,
    SimulationSettings,
    flagger_default_judge,
    poisson,
    simulate,
)

FALSE_ROLLBACK_TARGET = 0.01
SPEEDUP_TARGET = 3.0
REGRESSION = "errors-2x"
ORACLE_RUNS = 2000
"""Runs of the per-request oracle: cheap, and its median moves by 10 % between seeds at 300 runs."""


def cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def ratio(baseline: float | None, ours: float | None) -> float | None:
    """How many times smaller ``ours`` is; ``None`` when either side detected nothing."""
    if baseline is None or ours is None:
        return None
    return baseline / ours if ours > 0 else float("inf")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="seeded traces per scenario (default 300)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the traces (default 1)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1 (not {args.runs})")

    started = time.perf_counter()
    report = simulate(runs=args.runs, seed=args.seed)
    elapsed = time.perf_counter() - started
    by_name = {j.judge: j for j in report.judges}
    order = [by_name[n] for n in ("flagger-default", "threshold", "mann-whitney", "sequential")]

    print(
        f"{report.traces} traces ({len(SCENARIOS)} scenarios x {args.runs} runs, seed {args.seed}), {elapsed:.1f} s"
    )
    print()
    print(f"{'judge':<16} {'false rb':>9} {'misses':>8} {'stalled':>8} {'detect s':>9} {'bad req':>8}")
    for j in order:
        print(
            f"{j.judge:<16} {j.false_rollback_rate:>9.1%} {j.miss_rate:>8.1%} {j.stall_rate:>8.1%} "
            f"{cell(j.median_detect_seconds, '.0f'):>9} {cell(j.median_bad_requests, '.1f'):>8}"
        )
    print()
    print("rollback rate per scenario (median detect s / bad requests of rollbacks)")
    print(f"{'scenario':<16}" + "".join(f" {j.judge:>26}" for j in order))
    for s in SCENARIOS:
        row = f"{s.name:<16}"
        for j in order:
            f = j.scenarios[s.name]
            detail = f"({cell(f.median_detect_seconds, '.0f')}/{cell(f.median_bad_requests, '.1f')})"
            row += f" {f'{f.rollback_rate:.1%} {detail}':>26}"
        print(row)

    sequential, flagger = by_name["sequential"], by_name["flagger-default"]
    worst = max((sequential.scenarios[s.name].rollback_rate, s.name) for s in SCENARIOS if s.healthy)
    false_ok = worst[0] <= FALSE_ROLLBACK_TARGET
    print()
    print(
        f"goal  sequential false rollbacks <= {FALSE_ROLLBACK_TARGET:.0%} at every traffic level: "
        f"worst {worst[0]:.1%} ({worst[1]})  {'MET' if false_ok else 'MISSED'}"
    )
    speed_ok = _regression_goal(flagger, sequential)
    _information_bound(args.runs, args.seed, flagger)
    return 0 if false_ok and speed_ok else 1


def _regression_goal(flagger: JudgeSummary, sequential: JudgeSummary) -> bool:
    base, ours = flagger.scenarios[REGRESSION], sequential.scenarios[REGRESSION]
    faster = ratio(base.median_detect_seconds, ours.median_detect_seconds)
    fewer = ratio(base.median_bad_requests, ours.median_bad_requests)
    ok = faster is not None and fewer is not None and faster >= SPEEDUP_TARGET and fewer >= SPEEDUP_TARGET
    print(
        f"goal  {REGRESSION}: sequential >= {SPEEDUP_TARGET:g}x faster and >= {SPEEDUP_TARGET:g}x fewer bad "
        f"requests than flagger-default: detect {cell(ours.median_detect_seconds, '.0f')} s vs "
        f"{cell(base.median_detect_seconds, '.0f')} s ({cell(faster, '.2f')}x), bad requests "
        f"{cell(ours.median_bad_requests, '.1f')} vs {cell(base.median_bad_requests, '.1f')} "
        f"({cell(fewer, '.2f')}x); sequential caught {ours.rollback_rate:.0%}, flagger-default "
        f"{base.rollback_rate:.0%}  {'MET' if ok else 'MISSED'}"
    )
    return ok


@dataclass(frozen=True)
class OracleState(JudgeState):
    """Log-likelihood ratio of the canary's errors so far, 2x stable's rate against 1x."""

    llr: float = 0.0


@dataclass(frozen=True)
class OracleJudge:
    """Wald's SPRT for a canary error rate of exactly ``ratio`` x a *known* stable rate: fails when the
    likelihood ratio reaches 1/alpha (Ville's inequality bounds its false fails by alpha), never passes."""

    stable_rate: float
    ratio: float = 2.0
    alpha: float = 0.01

    def step(self, state: JudgeState | None, stable: Samples, canary: Samples) -> tuple[Verdict, JudgeState]:
        p0, p1 = self.stable_rate, self.stable_rate * self.ratio
        before = state.llr if isinstance(state, OracleState) else 0.0
        llr = before + canary.errors * math.log(p1 / p0)
        llr += (canary.requests - canary.errors) * math.log((1 - p1) / (1 - p0))
        outcome = "fail" if llr >= math.log(1 / self.alpha) else "wait"
        return Verdict(outcome, "oracle", {"llr": llr}), OracleState(llr)


def per_request_oracle(
    runs: int, seed: int, settings: SimulationSettings, *, rps: float, advance_every_minute: bool
) -> tuple[float, float]:
    """Median seconds and bad requests to detection for the oracle checked after every request, on Poisson
    traffic of ``rps`` with the canary at the first step's weight (or a step further each minute)."""
    p0 = settings.stable_error_rate
    p1, threshold = 2 * p0, math.log(100.0)
    up, down = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
    rng = random.Random(seed)
    seconds, bad = [], []
    for _ in range(runs):
        llr, n, errors = 0.0, 0, 0
        for t in range(int(settings.max_intervals * settings.interval_seconds)):
            step = (
                min(int(t // settings.interval_seconds), len(settings.weights) - 1)
                if advance_every_minute
                else 0
            )
            for _ in range(poisson(rng, rps * settings.weights[step] / 100)):
                failed = rng.random() < p1
                n, errors, llr = n + 1, errors + failed, llr + (up if failed else down)
                if llr >= threshold:
                    break
            if llr >= threshold:
                seconds.append(t + 1.0)
                bad.append(errors - p0 * n)
                break
    return statistics.median(seconds), statistics.median(bad)


def _information_bound(runs: int, seed: int, flagger: JudgeSummary) -> None:
    settings = SimulationSettings()
    scenario = next(s for s in SCENARIOS if s.name == REGRESSION)
    oracle = JudgeEntry("oracle-sprt", lambda: OracleJudge(settings.stable_error_rate))
    # Flagger as the simulation modelled it before the rollback delay was taken from its scheduler.
    immediate = JudgeEntry(
        "flagger-immediate",
        flagger_default_judge,
        dataclasses.replace(FLAGGER_POLICY, rollback_delay_intervals=0),
    )
    report = simulate(runs=runs, seed=seed, scenarios=[scenario], judges=[oracle, immediate])
    per_interval, early_flagger = (j.scenarios[REGRESSION] for j in report.judges)
    base = flagger.scenarios[REGRESSION]
    print()
    print(
        f"information bound on {REGRESSION} (alpha = 0.01; flagger-default {cell(base.median_detect_seconds, '.0f')} s, "
        f"{cell(base.median_bad_requests, '.1f')} bad requests)"
    )
    rows: list[tuple[str, float | None, float | None]] = [
        ("oracle SPRT, every interval", per_interval.median_detect_seconds, per_interval.median_bad_requests)
    ]
    for label, advance in (("oracle SPRT, every request", False), ("  + weight raised each minute", True)):
        rows.append(
            (
                label,
                *per_request_oracle(
                    ORACLE_RUNS, seed, settings, rps=scenario.rps, advance_every_minute=advance
                ),
            )
        )
    for label, secs, bad in rows:
        print(
            f"  {label:<31} detect {cell(secs, '.0f'):>4} s ({cell(ratio(base.median_detect_seconds, secs), '.2f')}x)"
            f"  bad requests {cell(bad, '.1f'):>5} ({cell(ratio(base.median_bad_requests, bad), '.2f')}x)"
        )
    print(
        f"  flagger-default rolling back at the fifth failed check itself: detect "
        f"{cell(early_flagger.median_detect_seconds, '.0f')} s, bad requests {cell(early_flagger.median_bad_requests, '.1f')}"
    )


if __name__ == "__main__":
    sys.exit(main())
