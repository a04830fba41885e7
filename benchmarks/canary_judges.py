"""Compares the canary judges side by side on the same seeded synthetic traffic (``goship.rollout.simulate``)
and checks the issue's goals against the Flagger-default rule.

Goals: the sequential judge (alpha = 0.01) rolls back at most 1 % of healthy canaries at every traffic
level; a 2x error-rate regression is detected at least 3x faster and with at least 3x fewer bad requests
than Flagger's defaults. Exit status: 0 when both goals are met, 1 when one is missed.
"""

from __future__ import annotations

import argparse
import sys
import time

from goship.rollout.simulate import SCENARIOS, JudgeSummary, simulate

FALSE_ROLLBACK_TARGET = 0.01
SPEEDUP_TARGET = 3.0
REGRESSION = "errors-2x"


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


if __name__ == "__main__":
    sys.exit(main())
