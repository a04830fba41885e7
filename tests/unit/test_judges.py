"""The canary judges: known cases per judge; scipy as the oracle for Mann–Whitney and for the sequential
judge's likelihoods; Monte Carlo checks of the sequential judge's false-fail rate under continuous
monitoring (errors and latency, low and high traffic) and of its power."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from goship.errors import ConfigError, UsageError
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
from goship.rollout.judges.sequential import PRIOR_SPREAD
from goship.rollout.judges.signtest import FAST, SLOW, LatencyCheck, log_e_value


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
    assert "the canary reported no latency" in verdict.reason


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


# sequential: errors


def run(
    judge: SequentialJudge,
    rng: random.Random,
    *,
    per_step: int,
    stable_rate: float,
    ratio: float,
    shares: tuple[float, ...] = (0.1, 0.2, 0.5),
    steps: int = 30,
) -> int | None:
    """Steps until the judge fails (None when it never does within ``steps``), checked after every step,
    with the canary's share of each step drawn from ``shares``."""
    state: SequentialState | None = None
    for step in range(1, steps + 1):
        c = max(1, int(per_step * rng.choice(shares)))
        canary = Samples(c, binomial(rng, c, stable_rate * ratio))
        stable = Samples(per_step - c, binomial(rng, per_step - c, stable_rate))
        verdict, new = judge.step(state, stable, canary)
        assert isinstance(new, SequentialState)
        state = new
        if verdict.outcome == "fail":
            return step
    return None


def slack(alpha: float, runs: int) -> float:
    """Three Monte Carlo standard errors of a rate of ``alpha`` over ``runs`` runs."""
    return 3.0 * math.sqrt(alpha * (1.0 - alpha) / runs)


@pytest.mark.parametrize("per_step", [50, 500, 5000])
def test_sequential_false_fail_rate_stays_below_alpha_under_equal_error_rates(per_step: int) -> None:
    # Equal rates are the null's boundary, where false fails are most likely; every step is a look. At 50
    # requests a step (2 % errors) most steps carry one error or none: low traffic; at 5000, high.
    judge = SequentialJudge(alpha=0.05, min_requests=1)
    rng = random.Random(per_step)
    runs = 300
    fails = sum(
        run(judge, rng, per_step=per_step, stable_rate=0.02, ratio=1.0) is not None for _ in range(runs)
    )
    assert fails / runs <= judge.alpha + slack(judge.alpha, runs)


def test_sequential_default_rarely_fails_equal_error_rates_over_many_looks() -> None:
    judge = SequentialJudge()
    rng = random.Random(99)
    runs = 200
    fails = sum(
        run(judge, rng, per_step=2000, stable_rate=0.01, ratio=1.0, steps=40) is not None for _ in range(runs)
    )
    assert fails / runs <= judge.alpha + slack(judge.alpha, runs)


@pytest.mark.parametrize("share", [0.05, 0.25, 0.5])
def test_sequential_fails_a_doubled_error_rate_within_8000_canary_requests(share: float) -> None:
    # 1 % -> 2 % errors; 8000 canary requests carry 80 errors where stable's rate would give 80.
    judge = SequentialJudge()
    rng = random.Random(int(share * 100))
    per_step = 2000
    steps = math.ceil(8000 / (per_step * share))
    delays = [
        run(judge, rng, per_step=per_step, stable_rate=0.01, ratio=2.0, shares=(share,), steps=steps)
        for _ in range(100)
    ]
    assert sum(d is not None for d in delays) >= 90


def test_sequential_error_e_value_is_the_prior_mixture_of_scipy_binomial_likelihood_ratios() -> None:
    from scipy import stats  # the oracle

    judge = SequentialJudge(max_latency_ratio={})
    rng = random.Random(5)
    windows = []
    state = None
    for _ in range(6):
        c, s = rng.randint(50, 500), rng.randint(500, 5000)
        canary, stable = Samples(c, binomial(rng, c, 0.03)), Samples(s, binomial(rng, s, 0.015))
        windows.append((c, s, canary.errors, stable.errors))
        verdict, state = judge.step(state, stable, canary)
    assert isinstance(state, SequentialState)

    def log_likelihood(theta: float) -> float:
        total = 0.0
        for c, s, k, j in windows:
            total += float(stats.binom.logpmf(k, k + j, theta * c / (theta * c + s)))
        return total

    above = [t for t in state.grid if t > judge.null_ratio]
    prior = [
        math.exp(-0.5 * ((math.log2(t) - math.log2(judge.detect_ratio)) / PRIOR_SPREAD) ** 2) for t in above
    ]
    expected = sum(
        w * math.exp(log_likelihood(t) - log_likelihood(1.0)) for w, t in zip(prior, above, strict=True)
    ) / sum(prior)
    assert verdict.values["error_e_value"] == pytest.approx(expected, rel=1e-9)
    # Without latency tests the decisive e-value is the error e-value.
    assert verdict.values["e_value"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("c", "s", "errors"), [(50, 950, 12), (300, 5700, 60), (1000, 1000, 40), (20, 180, 3)]
)
def test_every_error_likelihood_ratio_averages_at_most_one_under_the_null(
    c: int, s: int, errors: int
) -> None:
    # The supermartingale step, computed exactly: given a window's total errors, the canary's count is
    # binomial (Poisson errors) or hypergeometric (binomial errors at equal rates); either way each grid
    # ratio's likelihood ratio against theta0 = 1 has expectation <= 1 when the canary is no worse.
    from scipy import stats

    grid = SequentialJudge().initial_state().grid
    ks = range(errors + 1)
    null = [float(stats.binom.pmf(k, errors, c / (c + s))) for k in ks]
    for theta1 in (t for t in grid if t > 1.0):
        p1 = theta1 * c / (theta1 * c + s)
        ratio = [
            float(stats.binom.pmf(k, errors, p1)) / n if n > 0 else 0.0 for k, n in zip(ks, null, strict=True)
        ]
        for theta in (1.0, 0.5):
            p = theta * c / (theta * c + s)
            assert (
                sum(float(stats.binom.pmf(k, errors, p)) * r for k, r in zip(ks, ratio, strict=True))
                <= 1.0 + 1e-9
            )
        hypergeometric = stats.hypergeom(c + s, c, errors)
        assert sum(float(hypergeometric.pmf(k)) * r for k, r in zip(ks, ratio, strict=True)) <= 1.0 + 1e-9


def test_sequential_fail_reason_carries_the_numbers() -> None:
    verdict, _ = SequentialJudge().step(None, Samples(9000, 90), Samples(1000, 60))
    assert verdict.outcome == "fail"
    assert "error rate is above stable's" in verdict.reason
    assert "e-value" in verdict.reason and "canary 60 errors in 1000 requests, 6.00 %" in verdict.reason


def test_sequential_tolerates_the_configured_error_ratio() -> None:
    # 1.2x stable's rate over 200 000 canary requests: failed at tolerance 0, never at 0.5.
    rng = random.Random(8)
    strict, lenient = SequentialJudge(), SequentialJudge(error_ratio_tolerance=0.5, pass_ratio=2.5)
    strict_state = lenient_state = None
    outcomes = set()
    for _ in range(20):
        stable = Samples(10_000, binomial(rng, 10_000, 0.02))
        canary = Samples(10_000, binomial(rng, 10_000, 0.024))
        verdict, strict_state = strict.step(strict_state, stable, canary)
        outcomes.add(verdict.outcome)
        lenient_verdict, lenient_state = lenient.step(lenient_state, stable, canary)
        assert lenient_verdict.outcome != "fail"
    assert "fail" in outcomes


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
    with pytest.raises(UsageError, match="other settings"):
        SequentialJudge(max_latency_ratio={0.99: 1.2}).step(state, Samples(900, 9), Samples(100, 3))


def test_sequential_continues_a_state_saved_before_latency_was_judged() -> None:
    judge = SequentialJudge()
    _, fresh = judge.step(None, Samples(900, 9), Samples(100, 3))
    assert isinstance(fresh, SequentialState)
    older = SequentialState(
        grid=fresh.grid,
        log_likelihoods=fresh.log_likelihoods,
        stable_requests=900,
        stable_errors=9,
        canary_requests=100,
        canary_errors=3,
        steps=1,
    )
    verdict, state = judge.step(older, Samples(900, 9), Samples(100, 3))
    assert isinstance(state, SequentialState)
    assert state.latency_quantiles == (0.5,) and state.canary_requests == 200
    assert verdict.values["p50_windows"] == 0.0


def test_sequential_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="pass_ratio and detect_ratio above"):
        SequentialJudge(error_ratio_tolerance=1.0)
    with pytest.raises(ConfigError, match=r"from 0\.5 up to"):
        SequentialJudge(max_latency_ratio={0.25: 1.2})
    with pytest.raises(ConfigError, match="ratio >= 1"):
        SequentialJudge(max_latency_ratio={0.5: 0.9})
    with pytest.raises(ConfigError, match="quantile -> ratio numbers"):
        SequentialJudge(max_latency_ratio={"p50": 1.2})  # type: ignore[dict-item]


# sequential: latency


def latency_window(rng: random.Random, n: int, median_ms: float, *, sigma: float = 0.5) -> Samples:
    """A window that reports its p50 and p99 only, as a metrics source does."""
    draws = [rng.lognormvariate(math.log(median_ms), sigma) for _ in range(n)]
    return Samples(n, 0, latency_quantiles_ms={0.5: quantile(draws, 0.5), 0.99: quantile(draws, 0.99)})


def test_sign_test_e_values_are_mixtures_of_scipy_binomial_likelihood_ratios() -> None:
    from scipy import stats

    for n in (0, 1, 7, 30):
        for k in range(n + 1):
            for bets in (SLOW, FAST):
                ratios = [float(stats.binom.pmf(k, n, p) / stats.binom.pmf(k, n, 0.5)) for p in bets]
                assert math.exp(log_e_value(k, n, bets)) == pytest.approx(sum(ratios) / len(ratios), rel=1e-9)


def test_sign_test_bets_average_one_under_a_fair_coin_and_less_below_it() -> None:
    for p in (*SLOW, *FAST):
        assert 0.5 * (2 * p) + 0.5 * (2 * (1 - p)) == pytest.approx(1.0)
    for p in SLOW:
        assert 0.3 * (2 * p) + 0.7 * (2 * (1 - p)) < 1.0


@pytest.mark.parametrize("q", [0.5, 0.99])
@pytest.mark.parametrize(
    "draw",
    [
        lambda rng: rng.lognormvariate(0.0, 1.5),
        lambda rng: rng.expovariate(1.0),
        lambda rng: rng.paretovariate(1.1),
    ],
    ids=["lognormal", "exponential", "pareto"],
)
def test_a_same_speed_canary_is_slow_in_at_most_half_the_windows(q: float, draw: object) -> None:
    # The sign test's null, checked where it is not exact: skewed latencies, and fewer canary requests
    # than stable ones (5, 25 and 50 % of traffic), with the worst ratio, 1.
    rng = random.Random(int(q * 100))
    check = LatencyCheck(q, 1.0)
    sample = draw  # type: ignore[assignment]
    draws = 600
    for canary_n, stable_n in ((10, 190), (50, 150), (40, 40)):
        slow = 0
        for _ in range(draws):
            values = [sample(rng) for _ in range(canary_n + stable_n)]  # type: ignore[operator]
            canary, stable = values[:canary_n], values[canary_n:]
            slow += bool(
                check.compare(
                    Samples(stable_n, 0, tuple(stable)), Samples(canary_n, 0, tuple(canary)), min_requests=1
                )
            )
        assert slow / draws <= 0.5 + slack(0.5, draws)


def test_upper_quantiles_need_the_canary_to_be_the_smaller_sample_medians_do_not() -> None:
    median, p99 = LatencyCheck(0.5, 1.2), LatencyCheck(0.99, 1.2)
    slow = Samples(100, 0, latency_quantiles_ms={0.5: 90.0, 0.99: 200.0})
    fast = Samples(100, 0, latency_quantiles_ms={0.5: 50.0, 0.99: 100.0})
    assert median.compare(fast, slow, min_requests=20) is True
    assert median.compare(slow, fast, min_requests=20) is False
    bigger = Samples(101, 0, latency_quantiles_ms={0.5: 90.0, 0.99: 200.0})
    assert median.compare(fast, bigger, min_requests=20) is True
    assert p99.compare(fast, bigger, min_requests=20) is None
    assert p99.compare(fast, slow, min_requests=20) is True
    assert median.compare(fast, slow, min_requests=101) is None
    assert median.compare(Samples(10, 0, latency_quantiles_ms={0.5: 50.0}), slow, min_requests=20) is None
    assert median.compare(Samples(100, 0), slow, min_requests=20) is None


def test_a_larger_canary_sample_leaves_the_median_slow_probability_at_one_half() -> None:
    # Why medians may be compared whichever version served more: under the null the canary's median
    # is above stable's in half of the windows, at canary shares above 50 % too.
    rng = random.Random(11)
    for share in (0.55, 0.7):
        slow = 0
        for _ in range(4000):
            n = rng.randint(40, 120)
            c = max(1, round(n * share))
            canary = sorted(rng.lognormvariate(3.0, 0.8) for _ in range(c))
            stable = sorted(rng.lognormvariate(3.0, 0.8) for _ in range(n - c))
            slow += statistics.median(canary) > statistics.median(stable)
        assert slow / 4000 < 0.5 + 0.03, share


def test_sequential_false_fail_rate_on_latency_stays_below_alpha_at_the_boundary() -> None:
    # Ratio 1 and exchangeable quantiles: each window is slow with probability exactly 1/2, the null's
    # worst case. Almost all of alpha goes to latency so that its bound is the one tested.
    judge = SequentialJudge(alpha=0.1, latency_alpha_share=0.9, max_latency_ratio={0.5: 1.0})
    rng = random.Random(3)
    runs, fails = 300, 0
    for _ in range(runs):
        state = None
        for _ in range(40):
            stable = Samples(100, 0, latency_quantiles_ms={0.5: rng.random()})
            canary = Samples(100, 0, latency_quantiles_ms={0.5: rng.random()})
            verdict, state = judge.step(state, stable, canary)
            if verdict.outcome == "fail":
                fails += 1
                break
    assert fails / runs <= judge.alpha + slack(judge.alpha, runs)


@pytest.mark.parametrize("n", [30, 200])
def test_sequential_rarely_fails_a_canary_of_the_same_speed(n: int) -> None:
    judge = SequentialJudge()
    rng = random.Random(n)
    fails = 0
    for _ in range(40):
        state = None
        for _ in range(30):
            verdict, state = judge.step(state, latency_window(rng, n * 3, 50.0), latency_window(rng, n, 50.0))
            fails += verdict.outcome == "fail"
    assert fails == 0


def test_sequential_fails_a_one_and_a_half_times_slower_canary_within_sixteen_windows() -> None:
    # Each window can at most double the sign test's e-value, and latency holds a fifth of alpha: about
    # eleven all-slow windows are needed, and a window that happens to be fast costs a few more.
    judge = SequentialJudge()
    rng = random.Random(15)
    delays = []
    for _ in range(40):
        state = None
        for window in range(1, 17):
            verdict, state = judge.step(state, latency_window(rng, 100, 50.0), latency_window(rng, 100, 75.0))
            assert verdict.outcome != "pass"
            if verdict.outcome == "fail":
                delays.append(window)
                break
    assert len(delays) >= 38
    assert "p50 latency is above 1.2 x stable's" in verdict.reason
    assert "slow in" in verdict.reason and verdict.values["p50_slow_windows"] >= 7


def test_sequential_passes_a_healthy_canary_only_once_latency_is_shown_not_slower() -> None:
    judge = SequentialJudge()
    rng = random.Random(21)
    state = None
    outcomes = []
    for _ in range(20):
        verdict, state = judge.step(state, latency_window(rng, 1000, 50.0), latency_window(rng, 500, 50.0))
        outcomes.append(verdict.outcome)
        if verdict.outcome == "pass":
            break
    # Errors alone (500 error-free requests a window) would pass at the second window; the latency sign
    # test needs about seven fast windows to show, with 99 % confidence, that fewer than half are slow.
    assert outcomes[-1] == "pass" and 6 <= len(outcomes) <= 10, outcomes
    assert "latency p50 above 1.2 x stable's in 0 of" in verdict.reason
    assert verdict.values["p50_fast_e_value"] >= 100


def test_sequential_judges_errors_alone_when_no_source_reports_latency() -> None:
    judge = SequentialJudge()
    verdict, state = judge.step(None, Samples(500, 0), Samples(500, 0))
    verdict, _ = judge.step(state, Samples(500, 0), Samples(500, 0))
    assert verdict.outcome == "pass" and "latency" not in verdict.reason
