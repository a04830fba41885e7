"""Sequential sign tests of latency from per-window quantiles: the part of the sequential judge that judges
latency with no more than a metrics source reports (each version's p50 / p99 per window, and counts).

Why a sign test: a window's quantile is one number per version, with no spread or sample size behind it
that could be trusted, so the strongest statement that holds for *any* latency distribution is about its
sign. A window is **slow** when the canary's quantile exceeds ``ratio`` x stable's (strictly; ties are
not slow). The null is a canary no slower than stable: in each window both versions' latencies are
independent draws from one distribution, new requests each window.

- When both quantiles summarise equally many requests, the two versions are exchangeable, so
  ``P(canary > stable) <= 1/2`` and, for ``ratio >= 1``, ``P(slow) <= 1/2`` -- whatever the distribution.
- With fewer canary requests than stable ones, the bound holds approximately, and conservatively for an
  upper quantile (q >= 0.5): the smaller sample's estimate sits lower in probability (a type-7 q quantile of
  n values has expected level ((n - 1) q + 1) / (n + 1), which grows with n for q > 1/2). The unit tests
  check it by simulation for lognormal, exponential and Pareto latencies and canary shares of 5-50 %.
- With more canary requests than stable ones the canary's estimate of an upper quantile sits higher and the
  bound can fail, so such windows are not compared (:func:`comparable`) -- except for the median, whose
  estimate's expected level is 1/2 at any sample size.
- A metrics source reporting quantiles from histogram buckets (Prometheus ``histogram_quantile``, the local
  router) applies one function to each version's buckets, so the same reasoning holds as long as both
  versions share the bucket layout.

Given ``k`` slow windows out of ``n`` compared, each test is a mixture of Bernoulli likelihood ratios
against p = 1/2 (Wald 1945; a discrete mixture as in Robbins 1970):

- **slow** -- the null "P(slow) <= 1/2", against slow probabilities in :data:`SLOW`. Every term has
  expectation <= 1 under the null, so the mixture is a test supermartingale and, by Ville's inequality, it
  reaches 1/alpha with probability <= alpha however often it is checked.
- **fast** -- the mirrored null "P(slow) >= 1/2", against :data:`FAST`; reaching 1/alpha shows with
  confidence 1 - alpha that most windows are not slow.

The price of assuming nothing: each window multiplies an e-value by at most 2, so a slow canary needs at
least log2(1/alpha) windows -- 7 at alpha = 0.01 -- however large the regression (about 11 with the
sequential judge's defaults, which give latency a fifth of alpha); a healthy one needs about 8 to pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from goship.errors import ConfigError
from goship.rollout.judges import Samples

SLOW: tuple[float, ...] = (0.75, 0.9, 0.98)
"""Slow-window probabilities the slow test bets on: moderate, clear and gross latency regressions."""
FAST: tuple[float, ...] = (0.02, 0.1, 0.25)
"""Slow-window probabilities the fast test bets on, mirrored: a healthy canary is seldom slow."""


@dataclass(frozen=True)
class LatencyCheck:
    """One latency quantile compared window by window."""

    quantile: float
    """Quantile (0.5 <= q < 1) as the metrics source reports it, like 0.99."""
    ratio: float
    """A window is slow when the canary's quantile exceeds this multiple of stable's (>= 1)."""

    def __post_init__(self) -> None:
        if not 0.5 <= self.quantile < 1.0:
            raise ConfigError(
                f"expected latency quantiles from 0.5 up to (not including) 1, like 0.5 or 0.99 "
                f"(got {self.quantile}); lower quantiles of the smaller canary sample are biased upward"
            )
        if self.ratio < 1.0:
            raise ConfigError(f"expected a latency ratio >= 1, like 1.2 (got {self.ratio})")

    @property
    def label(self) -> str:
        """``p50``, ``p99``."""
        return f"p{self.quantile * 100:g}"

    def compare(self, stable: Samples, canary: Samples, *, min_requests: int) -> bool | None:
        """``True`` for a slow window, ``False`` for one that is not, ``None`` when the window cannot be
        compared (a quantile missing, too few requests, or for an upper quantile more canary requests
        than stable)."""
        if not comparable(stable, canary, min_requests=min_requests, quantile=self.quantile):
            return None
        got, base = canary.latency_quantile(self.quantile), stable.latency_quantile(self.quantile)
        if got is None or base is None or not (math.isfinite(got) and math.isfinite(base)) or base < 0:
            return None
        return got > self.ratio * base


def comparable(stable: Samples, canary: Samples, *, min_requests: int, quantile: float = 0.99) -> bool:
    """Whether one window's quantiles may be compared: both versions served at least ``min_requests``, and
    for a quantile above the median the canary no more than stable did (see the module docstring for why
    the canary must then be the smaller sample). A sample median's expected level is 1/2 whatever the
    sample size, so medians are compared whichever version served more -- at a 50 % step, about half the
    windows would otherwise be thrown away. The choice depends on counts only, never on latencies, so it
    cannot bias the test."""
    if canary.requests < min_requests or stable.requests < min_requests:
        return False
    return quantile <= 0.5 or canary.requests <= stable.requests


def log_e_value(slow: int, windows: int, bets: Sequence[float]) -> float:
    """Log of the equal-weight mixture over ``bets`` of the likelihood ratio of ``slow`` slow windows out of
    ``windows`` under each bet against p = 1/2."""
    if not 0 <= slow <= windows:
        raise ConfigError(f"expected 0 <= slow <= windows (got {slow} of {windows})")
    terms = [slow * math.log(2.0 * p) + (windows - slow) * math.log(2.0 * (1.0 - p)) for p in bets]
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms) / len(terms))
