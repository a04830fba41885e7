"""The Mann–Whitney judge: Kayenta's classifier for one analysis window.

Latency: a two-sided Mann–Whitney U test of canary against stable samples (Mann & Whitney 1947), with the
normal approximation, continuity correction and tie correction of the variance -- the same figures as
``scipy.stats.mannwhitneyu(canary, stable, alternative="two-sided", method="asymptotic")``. As Kayenta's
judge, a significant difference fails only when it is also large: the canary median must exceed
``(1 + effect_size_tolerance)`` x the stable median; a faster canary never fails.

Errors: a two-sided pooled two-proportion z-test of the error rates; fails when significant, the canary
rate is the higher one, and the difference is larger than ``error_rate_tolerance_pp``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from goship.errors import ConfigError
from goship.rollout.judges import (
    JudgeState,
    Outcome,
    Samples,
    Verdict,
    counts,
    normal_sf,
    quantile,
    too_little_traffic,
)


@dataclass(frozen=True)
class MannWhitneyResult:
    """The U test of one sample against another."""

    u: float
    """U statistic of the first sample (the number of pairs where it is larger, ties counting half)."""
    z: float
    """Continuity-corrected standard score of ``max(U, n1 n2 - U)``."""
    p_value: float
    """Two-sided p-value from the normal approximation."""


def mann_whitney_u(x: Sequence[float], y: Sequence[float]) -> MannWhitneyResult:
    """Two-sided Mann–Whitney U test of ``x`` against ``y`` (normal approximation, tie-corrected)."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ConfigError(f"expected latency samples from both versions (got {n1} and {n2})")
    pooled = sorted([(v, 0) for v in x] + [(v, 1) for v in y])
    n = n1 + n2
    rank_sum_x = 0.0
    tie_term = 0.0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        # Tied values share the mean of the ranks they span (ranks are 1-based).
        mid_rank = (i + j + 2) / 2.0
        t = j - i + 1
        tie_term += t**3 - t
        rank_sum_x += mid_rank * sum(1 for k in range(i, j + 1) if pooled[k][1] == 0)
        i = j + 1
    u = rank_sum_x - n1 * (n1 + 1) / 2.0
    mean = n1 * n2 / 2.0
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0.0:
        # Every value tied: the samples cannot be told apart.
        return MannWhitneyResult(u=u, z=0.0, p_value=1.0)
    z = (max(u, n1 * n2 - u) - mean - 0.5) / math.sqrt(variance)
    return MannWhitneyResult(u=u, z=z, p_value=min(1.0, 2.0 * normal_sf(z)))


def two_proportion_p_value(errors_a: int, n_a: int, errors_b: int, n_b: int) -> tuple[float, float]:
    """Pooled two-proportion z-test: ``(z, two-sided p)`` for rate a versus rate b."""
    pooled = (errors_a + errors_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    if spread == 0.0:
        return 0.0, 1.0
    z = (errors_a / n_a - errors_b / n_b) / spread
    return z, min(1.0, 2.0 * normal_sf(abs(z)))


@dataclass(frozen=True)
class MannWhitneyJudge:
    """Fails on a significant and material latency shift or error-rate increase of the canary."""

    confidence: float = 0.98
    """Confidence level of both tests; a difference is significant when p < 1 - confidence."""
    effect_size_tolerance: float = 0.1
    """Latency fails only if canary median > (1 + this) x stable median: 0.1 tolerates a 10 % shift."""
    error_rate_tolerance_pp: float = 0.5
    """Error rates fail only if canary exceeds stable by more than this many percentage points."""
    min_requests: int = 100
    """Fewer requests than this from either version in the window -> wait."""
    min_latency_samples: int = 20
    """Fewer latency samples than this from either version -> the latency test waits."""

    def __post_init__(self) -> None:
        if not 0.5 < self.confidence < 1.0:
            raise ConfigError(f"expected a confidence between 0.5 and 1, like 0.98 (got {self.confidence})")
        if self.effect_size_tolerance < 0 or self.error_rate_tolerance_pp < 0:
            raise ConfigError("expected tolerances >= 0")

    def step(
        self, state: JudgeState | None, stable: Samples, canary: Samples
    ) -> tuple[Verdict, JudgeState | None]:
        """Run both tests on this window; stateless, so ``state`` is ignored and ``None`` returned."""
        thin = too_little_traffic(stable, canary, min_requests=self.min_requests)
        if thin is not None:
            return thin, None
        alpha = 1.0 - self.confidence
        values: dict[str, float] = {
            "stable_error_rate": stable.error_rate,
            "canary_error_rate": canary.error_rate,
        }
        failed: list[str] = []
        passed: list[str] = []
        waiting: list[str] = []

        z_err, p_err = two_proportion_p_value(canary.errors, canary.requests, stable.errors, stable.requests)
        values |= {"error_rate_z": z_err, "error_rate_p_value": p_err}
        diff_pp = 100.0 * (canary.error_rate - stable.error_rate)
        errors_line = (
            f"error rate {100 * canary.error_rate:.2f} % vs stable {100 * stable.error_rate:.2f} % "
            f"(p = {p_err:.3g})"
        )
        if p_err < alpha and diff_pp > self.error_rate_tolerance_pp:
            failed.append(f"{errors_line}, higher by {diff_pp:.2f} pp > {self.error_rate_tolerance_pp:g} pp")
        else:
            passed.append(errors_line)

        n_c, n_s = len(canary.latencies_ms), len(stable.latencies_ms)
        if min(n_c, n_s) < self.min_latency_samples:
            waiting.append(
                f"latency needs {self.min_latency_samples} samples per version (got canary {n_c}, "
                f"stable {n_s})"
            )
        else:
            test = mann_whitney_u(canary.latencies_ms, stable.latencies_ms)
            med_c, med_s = quantile(canary.latencies_ms, 0.5), quantile(stable.latencies_ms, 0.5)
            ratio = med_c / med_s if med_s > 0 else math.inf
            values |= {
                "u": test.u,
                "z": test.z,
                "p_value": test.p_value,
                "canary_p50_ms": med_c,
                "stable_p50_ms": med_s,
                "median_ratio": ratio,
            }
            latency_line = f"median latency {med_c:.1f} ms vs stable {med_s:.1f} ms (p = {test.p_value:.3g})"
            if test.p_value < alpha and ratio > 1.0 + self.effect_size_tolerance:
                failed.append(
                    f"{latency_line}, {ratio:.2f} x stable > {1 + self.effect_size_tolerance:g} x tolerated"
                )
            else:
                passed.append(latency_line)

        outcome: Outcome
        if failed:
            outcome, reason = (
                "fail",
                f"canary regressed at {self.confidence:.0%} confidence: " + "; ".join(failed),
            )
        elif waiting:
            outcome, reason = "wait", "; ".join([*waiting, *passed])
        else:
            outcome, reason = "pass", "no material regression: " + "; ".join(passed)
        return Verdict(outcome, reason, values, counts(stable, canary)), None
