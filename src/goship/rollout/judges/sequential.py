"""The sequential judge (goship's default): anytime-valid tests of the canary's error rate and latency, safe
to check after every batch without inflating false alarms.

**Errors** -- a one-sided mixture sequential probability ratio test on the canary's share of errors, the
conditional approach of Lindon & Malek, "Anytime-valid inference for multinomial count data" (arXiv
2205.14762), adapted to a traffic split that may change between batches:

1. Let theta = canary error rate / stable error rate. Given that a batch with ``c`` canary and ``s`` stable
   requests produced ``E`` errors, the canary's count of them is Binomial(E, p(theta)) with
   p(theta) = theta c / (theta c + s) when errors are Poisson counts. Under binomial counts and equal rates
   it is hypergeometric, which the binomial dominates in convex order (Hoeffding 1963), so every
   likelihood ratio below is still a supermartingale. Batches where either version had no requests say
   nothing about theta and are skipped.
2. The state keeps the cumulative log-likelihood l(theta) on a fixed geometric grid of ratios
   (2^(k/4), k = -16..16, plus the configured ratios).
3. The null is "theta <= theta0", theta0 = 1 + ``error_ratio_tolerance`` (1 by default: any canary worse
   than stable is a regression; we roll back only on *worse*, so the test is one-sided). The error e-value
   is a mixture over the grid ratios above theta0 of exp(l(theta) - l(theta0)), weighted by a prior
   centred on ``detect_ratio`` (normal in log2(theta), sd :data:`PRIOR_SPREAD`), so the evidence a 1.5-3x
   regression needs is close to what a test for exactly that ratio needs; any fixed weights keep it
   valid. Because p(theta) grows with theta, each term has expectation <= 1 for every theta <= theta0.

**Latency** -- per configured quantile, a sequential sign test on windows where the canary's quantile
exceeds ``ratio`` x stable's (:mod:`.signtest`, which says why quantiles per window allow no stronger
test that assumes nothing about the distribution).

**fail** when the weighted mean of the e-values -- ``1 - latency_alpha_share`` for errors and the rest
split evenly between the latency quantiles -- reaches 1/``alpha``. A weighted mean of test
supermartingales on the same windows is one, so by Ville's inequality a canary no worse than stable is
failed with probability <= alpha however often it is checked; the reason names the test that weighs most.

**pass**, once the canary has served ``min_requests_to_pass`` requests in all, when both hold:

- errors: the anytime-valid upper confidence bound on theta is at most ``pass_ratio`` (the bound inverts
  the mirrored tests: "theta >= u" is rejected when the mixture over grid ratios below u of
  exp(l(theta) - l(u)) reaches 1/alpha; the bound is the smallest grid u above which every grid ratio is
  rejected), or the canary has had no error at all and 1 - alpha^(1/n) (the bound on its error rate after
  n error-free requests, valid at any n since error-free runs are nested) is at most
  ``negligible_error_rate`` -- the ratio test learns nothing from a canary that never errs;
- latency: every quantile compared in some window has its mirrored sign test ("at least half the windows
  are slow") rejected at alpha. A source that never reports quantiles leaves latency unjudged.

Otherwise **wait**; the engine's analysis deadline decides what endless waiting means. A window with fewer
than ``min_requests`` canary requests is ``wait`` and leaves the state unchanged. Windows must not overlap:
each call adds its counts to the totals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

from goship.errors import ConfigError, UsageError
from goship.rollout.judges import JudgeState, Samples, Verdict, counts
from goship.rollout.judges.signtest import FAST, SLOW, LatencyCheck, log_e_value

PRIOR_SPREAD = 0.5
"""Standard deviation, in log2 units, of the prior over error-rate ratios around ``detect_ratio``: with 2,
most weight lies between 1.4x and 2.8x and some reaches 1.2x and 5x."""


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
    latency_quantiles: tuple[float, ...] = ()
    """Latency quantiles compared, ascending (empty in states saved before latency was judged)."""
    latency_ratios: tuple[float, ...] = ()
    """Per quantile, the ratio above which a window is slow."""
    latency_windows: tuple[int, ...] = ()
    """Per quantile, windows whose quantiles were compared."""
    slow_windows: tuple[int, ...] = ()
    """Per quantile, compared windows where the canary was slow."""


def _log_mean_exp(xs: Sequence[float], weights: Sequence[float] | None = None) -> float:
    """log of the (weighted) mean of exp(xs); weights sum to 1."""
    top = max(xs)
    if weights is None:
        return top + math.log(sum(math.exp(x - top) for x in xs) / len(xs))
    return top + math.log(sum(w * math.exp(x - top) for w, x in zip(weights, xs, strict=True)))


@dataclass(frozen=True)
class SequentialJudge:
    """Fails as soon as the canary's error rate or latency is shown to be worse than stable's."""

    alpha: float = 0.01
    """Chance of ever failing a canary that is no worse than stable (within tolerance), over any number
    of looks; also the miss chance of each pass bound."""
    error_ratio_tolerance: float = 0.0
    """A canary error rate up to (1 + this) x stable's is not a regression."""
    detect_ratio: float = 2.0
    """Error-rate ratio the fail test is tuned to catch with the least evidence; larger ones are caught
    sooner still, smaller ones later."""
    pass_ratio: float = 2.0
    """Pass once the upper confidence bound on canary / stable error rate is at most this."""
    min_requests_to_pass: int = 1000
    """Canary requests needed over all windows before the judge may pass."""
    negligible_error_rate: float = 0.005
    """An error-free canary passes once its error rate is bounded below this (0.005 = 0.5 %)."""
    min_requests: int = 10
    """A window with fewer canary requests than this is ``wait`` and is not added."""
    max_latency_ratio: Mapping[float, float] = field(default_factory=lambda: {0.5: 1.2})
    """Latency sign tests: quantile (0.5 <= q < 1) -> ratio; a window is slow when the canary's quantile
    exceeds ratio x stable's. Empty: latency is not judged. Add 0.99 when the source's p99 rests on a few
    hundred requests per window; over fewer it is too noisy for a healthy canary to pass soon."""
    min_latency_requests: int = 20
    """Canary requests a window needs before its latency quantiles are compared."""
    latency_alpha_share: float = 0.2
    """Part of ``alpha`` (as weight of the e-values) spent on the latency tests; the rest on errors."""

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 0.5:
            raise ConfigError(f"expected alpha between 0 and 0.5, like 0.01 (got {self.alpha})")
        if self.error_ratio_tolerance < 0.0:
            raise ConfigError(f"expected error_ratio_tolerance >= 0 (got {self.error_ratio_tolerance})")
        if self.pass_ratio <= self.null_ratio or self.detect_ratio <= self.null_ratio:
            raise ConfigError(
                f"expected pass_ratio and detect_ratio above 1 + error_ratio_tolerance = {self.null_ratio:g} "
                f"(got {self.pass_ratio} and {self.detect_ratio})"
            )
        if not 0.0 < self.latency_alpha_share < 1.0:
            raise ConfigError(
                f"expected latency_alpha_share between 0 and 1, like 0.2 (got {self.latency_alpha_share})"
            )
        if self.min_latency_requests < 1:
            raise ConfigError(f"expected min_latency_requests >= 1 (got {self.min_latency_requests})")
        try:
            self.latency_checks  # noqa: B018 -- building the checks refuses quantiles they cannot test
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"expected max_latency_ratio as quantile -> ratio numbers, like {{0.5: 1.2}} "
                f"(got {dict(self.max_latency_ratio)!r})"
            ) from exc

    @property
    def null_ratio(self) -> float:
        """theta0: the largest canary / stable error-rate ratio that is not a regression."""
        return 1.0 + self.error_ratio_tolerance

    @cached_property
    def latency_checks(self) -> tuple[LatencyCheck, ...]:
        """The latency sign tests, by quantile."""
        pairs = sorted((float(q), float(r)) for q, r in self.max_latency_ratio.items())
        return tuple(LatencyCheck(q, r) for q, r in pairs)

    def initial_state(self) -> SequentialState:
        """The state before any window: no evidence either way."""
        return self._initial

    @cached_property
    def _initial(self) -> SequentialState:
        grid = sorted({2.0 ** (k / 4) for k in range(-16, 17)} | {self.null_ratio, self.pass_ratio})
        checks = self.latency_checks
        return SequentialState(
            grid=tuple(grid),
            log_likelihoods=(0.0,) * len(grid),
            latency_quantiles=tuple(c.quantile for c in checks),
            latency_ratios=tuple(c.ratio for c in checks),
            latency_windows=(0,) * len(checks),
            slow_windows=(0,) * len(checks),
        )

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
        return self._decide(updated, stable, canary), updated

    def _checked(self, state: JudgeState | None) -> SequentialState:
        fresh = self.initial_state()
        if state is None:
            return fresh
        if not isinstance(state, SequentialState):
            raise UsageError(
                f"expected a SequentialState from the previous analysis (got {type(state).__name__})"
            )
        if not state.latency_quantiles and not state.latency_windows and not state.slow_windows:
            # Saved before latency was judged: no latency evidence yet.
            state = replace(
                state,
                latency_quantiles=fresh.latency_quantiles,
                latency_ratios=fresh.latency_ratios,
                latency_windows=fresh.latency_windows,
                slow_windows=fresh.slow_windows,
            )
        same_latency = (
            state.latency_quantiles == fresh.latency_quantiles
            and state.latency_ratios == fresh.latency_ratios
            and len(state.latency_windows) == len(state.slow_windows) == len(fresh.latency_quantiles)
        )
        if state.grid != fresh.grid or len(state.log_likelihoods) != len(state.grid) or not same_latency:
            raise UsageError(
                "the saved sequential state was made with other settings",
                hint="restart the analysis, or restore the error_ratio_tolerance, pass_ratio and "
                "max_latency_ratio it began with",
            )
        return state

    def _added(self, state: SequentialState, stable: Samples, canary: Samples) -> SequentialState:
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
        windows, slow = list(state.latency_windows), list(state.slow_windows)
        for i, check in enumerate(self.latency_checks):
            outcome = check.compare(stable, canary, min_requests=self.min_latency_requests)
            if outcome is not None:
                windows[i] += 1
                slow[i] += outcome
        return replace(
            state,
            log_likelihoods=logs,
            stable_requests=state.stable_requests + stable.requests,
            stable_errors=state.stable_errors + stable.errors,
            canary_requests=state.canary_requests + canary.requests,
            canary_errors=state.canary_errors + canary.errors,
            steps=state.steps + 1,
            latency_windows=tuple(windows),
            slow_windows=tuple(slow),
        )

    @cached_property
    def _prior(self) -> tuple[float, ...]:
        """Weights of the error e-value's mixture over the grid ratios above theta0, summing to 1."""
        grid = self._initial.grid
        centre = math.log2(self.detect_ratio)
        raw = [
            math.exp(-0.5 * ((math.log2(t) - centre) / PRIOR_SPREAD) ** 2)
            for t in grid[grid.index(self.null_ratio) + 1 :]
        ]
        total = sum(raw)
        return tuple(w / total for w in raw)

    def _log_error_e_value(self, state: SequentialState) -> float:
        i0 = state.grid.index(self.null_ratio)
        return _log_mean_exp(state.log_likelihoods[i0 + 1 :], self._prior) - state.log_likelihoods[i0]

    def _log_e_values(self, state: SequentialState) -> dict[str, float]:
        """Every test's log e-value by name: ``errors`` and one per latency quantile (``p50``...)."""
        out = {"errors": self._log_error_e_value(state)}
        for check, n, k in zip(self.latency_checks, state.latency_windows, state.slow_windows, strict=True):
            out[check.label] = log_e_value(k, n, SLOW)
        return out

    def _weights(self) -> dict[str, float]:
        checks = self.latency_checks
        if not checks:
            return {"errors": 1.0}
        share = self.latency_alpha_share / len(checks)
        return {"errors": 1.0 - self.latency_alpha_share, **{c.label: share for c in checks}}

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
        logs, weights = self._log_e_values(state), self._weights()
        log_e = _log_mean_exp(list(logs.values()), [weights[name] for name in logs])
        values = {
            "stable_error_rate": stable_rate,
            "canary_error_rate": canary_rate,
            "e_value": math.exp(min(log_e, 700.0)),
            "log_e_value": log_e,
            "fail_e_value": 1.0 / self.alpha,
            "error_e_value": math.exp(min(logs["errors"], 700.0)),
            "error_ratio_upper_bound": self._upper_bound(state),
            "steps": float(state.steps),
        }
        for check, n, k in zip(self.latency_checks, state.latency_windows, state.slow_windows, strict=True):
            values[f"{check.label}_windows"] = float(n)
            values[f"{check.label}_slow_windows"] = float(k)
            values[f"{check.label}_slow_e_value"] = math.exp(min(logs[check.label], 700.0))
            values[f"{check.label}_fast_e_value"] = math.exp(min(log_e_value(k, n, FAST), 700.0))
        return values

    def _decide(self, state: SequentialState, stable: Samples, canary: Samples) -> Verdict:
        values = self._figures(state)
        for check in self.latency_checks:
            for name, version in (("canary", canary), ("stable", stable)):
                got = version.latency_quantile(check.quantile)
                if got is not None:
                    values[f"{name}_{check.label}_ms"] = got
        samples = {"stable": state.stable_requests, "canary": state.canary_requests}
        totals = (
            f"after {state.steps} windows (canary {state.canary_errors} errors in {state.canary_requests} "
            f"requests, {100 * values['canary_error_rate']:.2f} %; stable {state.stable_errors} in "
            f"{state.stable_requests}, {100 * values['stable_error_rate']:.2f} %)"
        )
        if values["log_e_value"] >= math.log(1.0 / self.alpha):
            return Verdict("fail", self._fail_reason(state, values, totals), values, samples)
        errors_ok = self._errors_pass(state, values)
        latency_ok, latency_line = self._latency_pass(state)
        if state.canary_requests >= self.min_requests_to_pass and errors_ok and latency_ok:
            return Verdict("pass", f"no regression: {errors_ok}{latency_line} {totals}", values, samples)
        e_value, bound = values["e_value"], values["error_ratio_upper_bound"]
        reason = (
            f"not decided yet: e-value {e_value:.3g} of {1 / self.alpha:g} needed to fail; error ratio "
            f"bound {bound:.3g} x (<= {self.pass_ratio:g} x and {self.min_requests_to_pass} canary "
            f"requests needed to pass){latency_line} {totals}"
        )
        return Verdict("wait", reason, values, samples)

    def _fail_reason(self, state: SequentialState, values: Mapping[str, float], totals: str) -> str:
        logs, weights = self._log_e_values(state), self._weights()
        blamed = max(logs, key=lambda name: math.log(weights[name]) + logs[name])
        head = f"e-value {values['e_value']:.3g} >= 1/alpha = {1 / self.alpha:g}"
        if blamed == "errors":
            than = "stable's" if self.null_ratio == 1 else f"{self.null_ratio:g} x stable's"
            return f"canary error rate is above {than}: {head} {totals}"
        i = [c.label for c in self.latency_checks].index(blamed)
        check = self.latency_checks[i]
        return (
            f"canary {check.label} latency is above {check.ratio:g} x stable's in more windows than not: "
            f"slow in {state.slow_windows[i]} of {state.latency_windows[i]} compared windows, {head} {totals}"
        )

    def _errors_pass(self, state: SequentialState, values: Mapping[str, float]) -> str:
        """Why the error rate passes, or ``""`` while it does not."""
        bound = values["error_ratio_upper_bound"]
        if bound <= self.pass_ratio:
            return (
                f"with {1 - self.alpha:.0%} confidence canary's error rate is at most {bound:.3g} x "
                f"stable's (<= {self.pass_ratio:g} x needed)"
            )
        n = state.canary_requests
        if n and state.canary_errors == 0:
            zero_bound = 1.0 - self.alpha ** (1.0 / n)
            if zero_bound <= self.negligible_error_rate:
                return (
                    f"canary served {n} requests without an error, so with {1 - self.alpha:.0%} confidence "
                    f"its error rate is below {100 * zero_bound:.2f} % (<= "
                    f"{100 * self.negligible_error_rate:g} % needed)"
                )
        return ""

    def _latency_pass(self, state: SequentialState) -> tuple[bool, str]:
        """Whether latency lets the canary pass, and a clause on it for the reason (empty when no window
        was compared: the source reports no quantiles, or traffic was too thin)."""
        threshold = math.log(1.0 / self.alpha)
        parts: list[str] = []
        ok = True
        for check, n, k in zip(self.latency_checks, state.latency_windows, state.slow_windows, strict=True):
            if n == 0:
                continue
            fast = log_e_value(k, n, FAST) >= threshold
            ok = ok and fast
            parts.append(
                f"{check.label} above {check.ratio:g} x stable's in {k} of {n} windows"
                + (" (fewer than half, with confidence)" if fast else "")
            )
        return ok, ("; latency " + ", ".join(parts) if parts else "")
