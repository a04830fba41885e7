"""The sequential judge (goship's default): an anytime-valid test of the canary's error rate, safe to check
after every batch without inflating false alarms.

Method -- a mixture sequential probability ratio test on the canary's share of errors, the conditional
multinomial approach of Lindon & Malek, "Anytime-valid inference for multinomial count data" (arXiv
2205.14762), adapted to a traffic split that may change between batches:

1. Let theta = canary error rate / stable error rate. Given that a batch with ``c`` canary and ``s`` stable
   requests produced ``E`` errors, the canary's count of them is Binomial(E, p(theta)) with
   p(theta) = theta c / (theta c + s) when errors are Poisson counts. Under binomial counts and equal rates
   it is hypergeometric, which the binomial dominates in convex order (Hoeffding 1963), so every
   likelihood ratio below is still a supermartingale. Batches where either version had no requests say
   nothing about theta and are skipped.
2. The state keeps the cumulative log-likelihood l(theta) on a fixed geometric grid of ratios
   (2^(k/4), k = -16..16, plus the configured ratios).
3. **fail**: the null is "theta <= theta0" with theta0 = 1 + ``error_ratio_tolerance``. The e-value is the
   equal-weight mixture over grid ratios above theta0 of exp(l(theta) - l(theta0)); because p(theta) grows
   with theta, each term has expectation <= 1 for every theta <= theta0, so by Ville's inequality
   P(e-value ever >= 1/alpha) <= alpha. Fail when it reaches 1/``alpha``.
4. **pass**, once the canary has served ``min_requests_to_pass`` requests in all, by either rule:
   a. the anytime-valid upper confidence bound on theta is at most ``pass_ratio``. The bound inverts the
      mirrored tests: "theta >= u" is rejected when the mixture over grid ratios below u of
      exp(l(theta) - l(u)) reaches 1/alpha; the bound is the smallest grid u above which every grid
      ratio is rejected (infinite while none is);
   b. the canary has had no error at all and 1 - alpha^(1/n) (the bound on its error rate after n
      error-free requests, valid at any n since error-free runs are nested) is at most
      ``negligible_error_rate`` -- the ratio test learns nothing from a canary that never errs.
5. Otherwise **wait**; the engine's analysis deadline decides what endless waiting means.

A window with fewer than ``min_requests`` canary requests is ``wait`` and leaves the state unchanged.
Windows must not overlap: each call adds its counts to the totals. Latency is not judged here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from goship.errors import ConfigError, UsageError
from goship.rollout.judges import JudgeState, Outcome, Samples, Verdict, counts


@dataclass(frozen=True)
class SequentialState(JudgeState):
    """Evidence gathered so far; persist it between analyses and hand it back unchanged."""

    grid: tuple[float, ...]
    """Error-rate ratios (canary / stable) at which the likelihood is tracked, ascending."""
    log_likelihoods: tuple[float, ...]
    """Cumulative log-likelihood of the canary's error shares at each ratio of ``grid``."""
    stable_requests: int = 0
    """Stable requests over every window so far."""
    stable_errors: int = 0
    """Stable errors over every window so far."""
    canary_requests: int = 0
    """Canary requests over every window so far."""
    canary_errors: int = 0
    """Canary errors over every window so far."""
    steps: int = 0
    """Windows added so far (thin windows, which are not added, do not count)."""


def _log_mean_exp(xs: Sequence[float]) -> float:
    top = max(xs)
    return top + math.log(sum(math.exp(x - top) for x in xs) / len(xs))


@dataclass(frozen=True)
class SequentialJudge:
    """Fails as soon as the canary's error rate is shown to exceed stable's beyond the tolerance."""

    alpha: float = 0.01
    """Chance of ever failing a canary that is no worse than stable (within tolerance), over any number
    of looks; also the miss chance of the pass bound."""
    error_ratio_tolerance: float = 0.25
    """A canary error rate up to (1 + this) x stable's is not a regression."""
    pass_ratio: float = 2.0
    """Pass once the upper confidence bound on canary / stable error rate is at most this."""
    min_requests_to_pass: int = 1000
    """Canary requests needed over all windows before the judge may pass."""
    negligible_error_rate: float = 0.005
    """An error-free canary passes once its error rate is bounded below this (0.005 = 0.5 %)."""
    min_requests: int = 10
    """A window with fewer canary requests than this is ``wait`` and is not added."""

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 0.5:
            raise ConfigError(f"expected alpha between 0 and 0.5, like 0.01 (got {self.alpha})")
        if self.error_ratio_tolerance < 0.0:
            raise ConfigError(f"expected error_ratio_tolerance >= 0 (got {self.error_ratio_tolerance})")
        if self.pass_ratio <= 1.0 + self.error_ratio_tolerance:
            raise ConfigError(
                f"expected pass_ratio above 1 + error_ratio_tolerance = {1 + self.error_ratio_tolerance:g} "
                f"(got {self.pass_ratio})"
            )

    @property
    def null_ratio(self) -> float:
        """theta0: the largest canary / stable error-rate ratio that is not a regression."""
        return 1.0 + self.error_ratio_tolerance

    def initial_state(self) -> SequentialState:
        """The state before any window: no evidence either way."""
        grid = sorted({2.0 ** (k / 4) for k in range(-16, 17)} | {self.null_ratio, self.pass_ratio})
        return SequentialState(grid=tuple(grid), log_likelihoods=(0.0,) * len(grid))

    def step(
        self, state: JudgeState | None, stable: Samples, canary: Samples
    ) -> tuple[Verdict, JudgeState | None]:
        """Add this window's counts to the evidence and decide; returns the verdict and the new state."""
        current = self._checked(state)
        if canary.requests < self.min_requests:
            values = self._figures(current)
            return Verdict(
                "wait",
                f"too little traffic to judge: canary served {canary.requests} of the {self.min_requests} "
                f"requests needed in this window",
                values,
                counts(stable, canary),
            ), current
        updated = self._added(current, stable, canary)
        return self._decide(updated), updated

    def _checked(self, state: JudgeState | None) -> SequentialState:
        fresh = self.initial_state()
        if state is None:
            return fresh
        if not isinstance(state, SequentialState):
            raise UsageError(
                f"expected a SequentialState from the previous analysis (got {type(state).__name__})"
            )
        if state.grid != fresh.grid or len(state.log_likelihoods) != len(state.grid):
            raise UsageError(
                "the saved sequential state was made with other settings",
                hint="restart the analysis, or restore the error_ratio_tolerance and pass_ratio it began with",
            )
        return state

    @staticmethod
    def _added(state: SequentialState, stable: Samples, canary: Samples) -> SequentialState:
        logs = state.log_likelihoods
        if stable.requests > 0 and canary.requests > 0 and canary.errors + stable.errors > 0:
            c, s = canary.requests, stable.requests
            new = []
            for theta, ll in zip(state.grid, logs, strict=True):
                p = theta * c / (theta * c + s)
                # A version with no errors contributes nothing, also where its share is tiny.
                ll += canary.errors * math.log(p) if canary.errors else 0.0
                ll += stable.errors * math.log1p(-p) if stable.errors else 0.0
                new.append(ll)
            logs = tuple(new)
        return replace(
            state,
            log_likelihoods=logs,
            stable_requests=state.stable_requests + stable.requests,
            stable_errors=state.stable_errors + stable.errors,
            canary_requests=state.canary_requests + canary.requests,
            canary_errors=state.canary_errors + canary.errors,
            steps=state.steps + 1,
        )

    def _log_e_value(self, state: SequentialState) -> float:
        i0 = state.grid.index(self.null_ratio)
        above = state.log_likelihoods[i0 + 1 :]
        return _log_mean_exp(above) - state.log_likelihoods[i0]

    def _upper_bound(self, state: SequentialState) -> float:
        threshold = math.log(1.0 / self.alpha)
        rejected = [False] * len(state.grid)
        # Running log-sum-exp of the likelihoods below each candidate keeps this linear in the grid size.
        running = -math.inf
        for i, ll in enumerate(state.log_likelihoods):
            if i > 0:
                rejected[i] = running - math.log(i) - ll >= threshold
            running = (
                max(running, ll) + math.log1p(math.exp(-abs(running - ll))) if running > -math.inf else ll
            )
        bound = math.inf
        for i in range(len(state.grid) - 1, -1, -1):
            if not rejected[i]:
                break
            bound = state.grid[i]
        return bound

    def _figures(self, state: SequentialState) -> dict[str, float]:
        stable_rate = state.stable_errors / state.stable_requests if state.stable_requests else 0.0
        canary_rate = state.canary_errors / state.canary_requests if state.canary_requests else 0.0
        log_e = self._log_e_value(state)
        return {
            "stable_error_rate": stable_rate,
            "canary_error_rate": canary_rate,
            "e_value": math.exp(min(log_e, 700.0)),
            "log_e_value": log_e,
            "fail_e_value": 1.0 / self.alpha,
            "error_ratio_upper_bound": self._upper_bound(state),
            "steps": float(state.steps),
        }

    def _decide(self, state: SequentialState) -> Verdict:
        values = self._figures(state)
        samples = {"stable": state.stable_requests, "canary": state.canary_requests}
        totals = (
            f"after {state.steps} windows (canary {state.canary_errors} errors in {state.canary_requests} "
            f"requests, {100 * values['canary_error_rate']:.2f} %; stable {state.stable_errors} in "
            f"{state.stable_requests}, {100 * values['stable_error_rate']:.2f} %)"
        )
        e_value, bound = values["e_value"], values["error_ratio_upper_bound"]
        outcome: Outcome
        if values["log_e_value"] >= math.log(1.0 / self.alpha):
            outcome = "fail"
            reason = (
                f"canary error rate is above {self.null_ratio:g} x stable's: e-value {e_value:.3g} >= "
                f"1/alpha = {1 / self.alpha:g} {totals}"
            )
        elif state.canary_requests >= self.min_requests_to_pass and bound <= self.pass_ratio:
            outcome = "pass"
            reason = (
                f"no error regression: with {1 - self.alpha:.0%} confidence canary's error rate is at most "
                f"{bound:.3g} x stable's (<= {self.pass_ratio:g} x needed) {totals}"
            )
        elif (
            state.canary_requests >= self.min_requests_to_pass
            and state.canary_errors == 0
            and (zero_bound := 1.0 - self.alpha ** (1.0 / state.canary_requests))
            <= self.negligible_error_rate
        ):
            outcome = "pass"
            reason = (
                f"no error regression: canary served {state.canary_requests} requests without an error, so "
                f"with {1 - self.alpha:.0%} confidence its error rate is below {100 * zero_bound:.2f} % "
                f"(<= {100 * self.negligible_error_rate:g} % needed)"
            )
        else:
            outcome = "wait"
            reason = (
                f"not decided yet: e-value {e_value:.3g} of {1 / self.alpha:g} needed to fail; error ratio "
                f"bound {bound:.3g} x (<= {self.pass_ratio:g} x and {self.min_requests_to_pass} canary "
                f"requests needed to pass) {totals}"
            )
        return Verdict(outcome, reason, values, samples)
