"""The canary judges: known cases per judge, scipy as the oracle for Mann–Whitney, and a simulation of the
sequential judge's false-fail rate and detection delay."""

from __future__ import annotations

import math
import random

import pytest

from goship.errors import UsageError
from goship.rollout.judges import (
    JUDGES,
    MannWhitneyJudge,
    Samples,
    SequentialJudge,
    SequentialState,
    ThresholdJudge,
    quantile,
)
from goship.rollout.judges.mannwhitney import mann_whitney_u


def binomial(rng: random.Random, n: int, p: float) -> int:
    """Binomial draw by geometric jumps between successes: cost grows with the count, not with n."""
    if p <= 0.0:
        return 0
    hits, i, log_q = 0, -1, math.log1p(-p)
    while True:
        i += int(math.log(1.0 - rng.random()) / log_q) + 1
        if i >= n:
            return hits
        hits += 1


def window(rng: random.Random, n: int, error_rate: float, median_ms: float, count: int = 200) -> Samples:
    return Samples(
        requests=n,
        errors=binomial(rng, n, error_rate),
        latencies_ms=tuple(rng.lognormvariate(math.log(median_ms), 0.3) for _ in range(count)),
    )


def test_registry_names_the_three_judges_and_each_builds_with_defaults() -> None:
    assert set(JUDGES) == {"threshold", "mann-whitney", "sequential"}
    assert all(hasattr(make(), "step") for make in JUDGES.values())


def test_samples_refuse_more_errors_than_requests() -> None:
    with pytest.raises(UsageError, match="3 errors of 2 requests"):
        Samples(requests=2, errors=3)


def test_quantile_interpolates_like_numpy() -> None:
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([10.0, 0.0], 0.99) == pytest.approx(9.9)


# threshold


def test_threshold_fails_on_absolute_error_rate_and_names_the_bound() -> None:
    verdict, state = ThresholdJudge().step(
        None, Samples(1000, 2, (100.0,) * 50), Samples(200, 10, (100.0,) * 50)
    )
    assert state is None
    assert verdict.outcome == "fail"
    assert "error rate 5.00 % > 1 % bound" in verdict.reason
    assert "error rate 5.00 % > stable 0.20 % + 0.5 pp = 0.70 %" in verdict.reason
    assert verdict.samples == {"stable": 1000, "canary": 200}


def test_threshold_fails_when_p99_exceeds_1_2_times_stable() -> None:
    stable = Samples(1000, 0, tuple(float(v) for v in range(1, 101)))
    canary = Samples(1000, 0, tuple(float(v) * 1.5 for v in range(1, 101)))
    verdict, _ = ThresholdJudge(max_latency_ms={}).step(None, stable, canary)
    assert verdict.outcome == "fail"
    assert "p99 148.5 ms > 1.2 x stable p99 99.0 ms = 118.8 ms" in verdict.reason
    assert verdict.values["canary_p99_ms"] == pytest.approx(148.515)


def test_threshold_passes_a_healthy_canary() -> None:
    rng = random.Random(1)
    verdict, _ = ThresholdJudge(max_latency_ratio={0.99: 1.5}).step(
        None, window(rng, 2000, 0.002, 80.0, 500), window(rng, 500, 0.002, 80.0, 500)
    )
    assert verdict.outcome == "pass", verdict.reason


def test_threshold_waits_for_traffic_and_for_latency_samples() -> None:
    judge = ThresholdJudge()
    assert judge.step(None, Samples(1000, 0, (1.0,)), Samples(20, 20, (1.0,)))[0].outcome == "wait"
    verdict, _ = judge.step(None, Samples(1000, 0, (1.0,)), Samples(100, 0))
    assert verdict.outcome == "wait"
    assert "no latency samples" in verdict.reason


# mann-whitney


def test_mann_whitney_p_values_match_scipy_on_random_samples() -> None:
    from scipy import stats  # the oracle; `make test` installs it (the test extra)

    rng = random.Random(7)
    for _ in range(300):
        n1, n2 = rng.randint(1, 60), rng.randint(1, 60)
        # Rounded values make ties common, which exercises the tie correction.
        x = [round(rng.gauss(0, 1), rng.choice([0, 1, 3])) for _ in range(n1)]
        y = [round(rng.gauss(rng.choice([0, 0.5]), 1), rng.choice([0, 1, 3])) for _ in range(n2)]
        if len(set(x + y)) == 1:
            continue
        ours = mann_whitney_u(x, y)
        theirs = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")
        assert ours.u == pytest.approx(float(theirs.statistic), abs=1e-9)
        assert ours.p_value == pytest.approx(float(theirs.pvalue), abs=1e-9)


def test_mann_whitney_fails_a_clear_latency_regression() -> None:
    rng = random.Random(2)
    verdict, _ = MannWhitneyJudge().step(None, window(rng, 1000, 0.0, 100.0), window(rng, 1000, 0.0, 150.0))
    assert verdict.outcome == "fail"
    assert "median latency" in verdict.reason and "x tolerated" in verdict.reason
    assert verdict.values["p_value"] < 0.02


def test_mann_whitney_tolerates_a_significant_but_small_shift() -> None:
    rng = random.Random(3)
    stable = window(rng, 1000, 0.0, 100.0, 5000)
    canary = window(rng, 1000, 0.0, 105.0, 5000)
    verdict, _ = MannWhitneyJudge().step(None, stable, canary)
    assert verdict.values["p_value"] < 0.02
    assert verdict.outcome == "pass", verdict.reason


def test_mann_whitney_fails_an_error_rate_regression() -> None:
    rng = random.Random(4)
    verdict, _ = MannWhitneyJudge().step(None, window(rng, 5000, 0.01, 100.0), window(rng, 2000, 0.04, 100.0))
    assert verdict.outcome == "fail"
    assert "error rate" in verdict.reason and "pp" in verdict.reason


def test_mann_whitney_passes_healthy_and_waits_without_data() -> None:
    rng = random.Random(5)
    judge = MannWhitneyJudge()
    assert (
        judge.step(None, window(rng, 5000, 0.01, 100.0), window(rng, 1000, 0.01, 100.0))[0].outcome == "pass"
    )
    assert judge.step(None, window(rng, 5000, 0.01, 100.0), window(rng, 50, 0.01, 100.0))[0].outcome == "wait"
    assert judge.step(None, Samples(5000, 1), Samples(1000, 0))[0].outcome == "wait"


# sequential


def run(
    judge: SequentialJudge, rng: random.Random, *, per_step: int, stable_rate: float, ratio: float
) -> int | None:
    """Steps until the judge fails (None when it never does in 30), with a canary share between 10 and 50 %."""
    state: SequentialState | None = None
    for step in range(1, 31):
        share = rng.choice([0.1, 0.2, 0.5])
        c = max(1, int(per_step * share))
        canary = Samples(c, binomial(rng, c, stable_rate * ratio))
        stable = Samples(per_step - c, binomial(rng, per_step - c, stable_rate))
        verdict, new = judge.step(state, stable, canary)
        assert isinstance(new, SequentialState)
        state = new
        if verdict.outcome == "fail":
            return step
    return None


@pytest.mark.parametrize("per_step", [50, 500, 5000])
def test_sequential_false_fail_rate_stays_below_alpha_under_equal_error_rates(per_step: int) -> None:
    # Zero tolerance puts the truth on the null's boundary, where false fails are most likely.
    judge = SequentialJudge(error_ratio_tolerance=0.0, min_requests=1)
    rng = random.Random(per_step)
    fails = sum(
        run(judge, rng, per_step=per_step, stable_rate=0.02, ratio=1.0) is not None for _ in range(200)
    )
    assert fails / 200 <= judge.alpha + 0.02


@pytest.mark.parametrize(("per_step", "within", "at_least"), [(500, 30, 30), (5000, 5, 45)])
def test_sequential_fails_a_doubled_error_rate_quickly(per_step: int, within: int, at_least: int) -> None:
    judge = SequentialJudge()
    rng = random.Random(per_step + 1)
    delays = [run(judge, rng, per_step=per_step, stable_rate=0.02, ratio=2.0) for _ in range(50)]
    caught = [d for d in delays if d is not None and d <= within]
    assert len(caught) >= at_least


def test_sequential_fail_reason_carries_the_numbers() -> None:
    verdict, _ = SequentialJudge().step(None, Samples(9000, 90), Samples(1000, 60))
    assert verdict.outcome == "fail"
    assert "e-value" in verdict.reason and "canary 60 errors in 1000 requests, 6.00 %" in verdict.reason


def test_sequential_passes_a_healthy_canary_once_enough_evidence_is_in() -> None:
    judge = SequentialJudge()
    rng = random.Random(11)
    state = None
    outcomes = []
    for _ in range(30):
        verdict, state = judge.step(
            state, Samples(4000, binomial(rng, 4000, 0.02)), Samples(1000, binomial(rng, 1000, 0.02))
        )
        outcomes.append(verdict.outcome)
        if verdict.outcome != "wait":
            break
    assert outcomes[-1] == "pass", verdict.reason
    assert "at most" in verdict.reason and verdict.values["error_ratio_upper_bound"] <= 2.0


def test_sequential_passes_an_error_free_canary_after_enough_requests() -> None:
    judge = SequentialJudge()
    verdict, state = judge.step(None, Samples(500, 0), Samples(500, 0))
    assert verdict.outcome == "wait"
    verdict, _ = judge.step(state, Samples(500, 0), Samples(500, 0))
    assert verdict.outcome == "pass"
    assert "without an error" in verdict.reason


def test_sequential_waits_on_a_thin_window_and_keeps_its_state() -> None:
    judge = SequentialJudge()
    _, state = judge.step(None, Samples(900, 9), Samples(100, 3))
    verdict, same = judge.step(state, Samples(90, 0), Samples(5, 5))
    assert verdict.outcome == "wait" and "too little traffic" in verdict.reason
    assert same == state


def test_sequential_refuses_state_saved_under_other_settings() -> None:
    _, state = SequentialJudge().step(None, Samples(900, 9), Samples(100, 3))
    with pytest.raises(UsageError, match="other settings"):
        SequentialJudge(error_ratio_tolerance=0.5).step(state, Samples(900, 9), Samples(100, 3))
