"""The canary simulation: repeatable traces, the sequential judge's false rollbacks, every judge catching a
gross regression, the sequential judge catching a latency regression, Flagger's rollback timing, and the
``goship canary simulate --json`` contract from the real command."""

from __future__ import annotations

import json
import subprocess
import sys

from goship.rollout.judges import quantile
from goship.rollout.simulate import (
    FLAGGER_POLICY,
    JUDGE_ENTRIES,
    SCENARIOS,
    JudgeEntry,
    Scenario,
    Trace,
    analyse,
    flagger_default_judge,
    report_json,
    simulate,
)
from goship.rollout.simulate import SimulationSettings as Settings

HEALTHY = tuple(s for s in SCENARIOS if s.healthy)
BY_NAME = {s.name: s for s in SCENARIOS}


def test_the_same_seed_gives_the_same_report_and_another_seed_other_traces() -> None:
    first = report_json(simulate(runs=3, seed=7))
    assert report_json(simulate(runs=3, seed=7)) == first
    a = Trace(BY_NAME["errors-2x"], Settings(), seed=7, run=0).window(0, 0)
    b = Trace(BY_NAME["errors-2x"], Settings(), seed=8, run=0).window(0, 0)
    assert a != b


def test_every_step_of_an_interval_shares_its_total_traffic() -> None:
    trace = Trace(BY_NAME["healthy-100rps"], Settings(), seed=3, run=1)
    totals = {w.stable.requests + w.canary.requests for w in (trace.window(4, s) for s in range(3))}
    assert len(totals) == 1


def test_idle_intervals_carry_no_requests() -> None:
    idle = Scenario("idle", "always idle", rps=50.0, idle_probability=1.0)
    window = Trace(idle, Settings(), seed=1, run=0).window(0, 0)
    assert window.stable.requests == window.canary.requests == 0


def test_windows_report_latency_quantiles_of_their_samples_as_the_metrics_port_does() -> None:
    window = Trace(BY_NAME["healthy-100rps"], Settings(), seed=2, run=0).window(0, 0)
    for served in (window.stable, window.canary):
        assert set(served.latency_quantiles_ms) == {0.5, 0.99}
        assert served.latency_quantiles_ms[0.99] == quantile(served.latencies_ms, 0.99)


def test_flagger_rolls_back_one_interval_after_its_fifth_failed_check() -> None:
    # Every check of a 5x canary fails: the fifth at 300 s; Flagger's next run, at 360 s, rolls back, and
    # the canary's errors of that sixth interval count as served.
    trace = Trace(BY_NAME["errors-5x"], Settings(), seed=4, run=0)
    result = analyse(JudgeEntry("flagger-default", flagger_default_judge, FLAGGER_POLICY), trace, run=0)
    assert (result.outcome, result.seconds) == ("rollback", 360.0)
    served = [trace.window(i, 0).canary for i in range(6)]
    assert result.bad_requests == sum(w.errors - 0.01 * w.requests for w in served)


def test_sequential_rolls_back_a_slower_canary_from_quantiles_alone() -> None:
    sequential = [e for e in JUDGE_ENTRIES if e.name == "sequential"]
    report = simulate(runs=10, seed=9, scenarios=[BY_NAME["latency-1.5x"]], judges=sequential)
    (summary,) = report.judges
    assert summary.miss_rate == 0.0


def test_sequential_rarely_rolls_back_a_healthy_canary_at_any_traffic_level() -> None:
    sequential = [e for e in JUDGE_ENTRIES if e.name == "sequential"]
    report = simulate(runs=100, seed=11, scenarios=HEALTHY, judges=sequential)
    (summary,) = report.judges
    assert summary.false_rollback_rate <= 0.01
    assert all(s.rollback_rate <= 0.01 for s in summary.scenarios.values())


def test_every_judge_rolls_back_a_fivefold_error_rate() -> None:
    report = simulate(runs=10, seed=5, scenarios=[BY_NAME["errors-5x"]])
    assert {j.judge: j.miss_rate for j in report.judges} == {e.name: 0.0 for e in JUDGE_ENTRIES}
    assert all(j.median_detect_seconds is not None for j in report.judges)


def test_json_document_has_exactly_the_contract_keys_first() -> None:
    document = report_json(simulate(runs=1, seed=1))
    assert list(document)[:2] == ["judges", "traces"]
    assert document["traces"] == len(SCENARIOS)
    assert list(document["judges"]) == ["flagger-default", "threshold", "mann-whitney", "sequential"]
    for figures in document["judges"].values():
        assert list(figures)[:4] == [
            "false_rollback_rate",
            "miss_rate",
            "median_detect_seconds",
            "median_bad_requests",
        ]


def test_cli_prints_one_json_document() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "goship", "canary", "simulate", "--runs", "2", "--seed", "3", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert done.stdout.count("\n") == 1
    assert document["traces"] == 2 * len(SCENARIOS)
    assert set(document["judges"]) == {"flagger-default", "threshold", "mann-whitney", "sequential"}
