"""The threshold judge: Flagger-compatible metric checks, one analysis interval at a time.

As Flagger's ``analysis.metrics`` (``thresholdRange.max``), each bound is checked per interval: absolute
bounds on the canary (error rate <= X %, p50/p99 <= Y ms) and bounds relative to the stable version
(error rate <= stable + D percentage points, pNN <= R x stable pNN). Flagger's ``threshold`` -- fail the
rollout only after N consecutive failed checks -- is the canary engine's job, not this judge's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from goship.errors import ConfigError
from goship.rollout.judges import JudgeState, Samples, Verdict, counts, too_little_traffic


def _label(q: float) -> str:
    return f"p{q * 100:g}"


@dataclass(frozen=True)
class ThresholdJudge:
    """Fails a check when any configured bound is exceeded; says which bounds failed and by how much."""

    max_error_rate_pct: float | None = 1.0
    """Absolute bound on the canary's error rate in percent; ``None`` turns it off."""
    max_latency_ms: Mapping[float, float] = field(default_factory=lambda: {0.99: 500.0})
    """Absolute bounds on canary latency quantiles: quantile (0.5, 0.99) -> milliseconds."""
    max_error_rate_increase_pp: float | None = 0.5
    """Canary error rate may exceed stable's by at most this many percentage points; ``None`` turns it off."""
    max_latency_ratio: Mapping[float, float] = field(default_factory=lambda: {0.99: 1.2})
    """Canary quantile may be at most this multiple of stable's same quantile: quantile -> ratio."""
    min_requests: int = 50
    """Fewer requests than this in the window (canary; stable too when a relative bound is set) -> wait."""

    def __post_init__(self) -> None:
        bad = [q for q in (*self.max_latency_ms, *self.max_latency_ratio) if not 0.0 <= q <= 1.0]
        if bad:
            raise ConfigError(f"expected latency quantiles between 0 and 1, like 0.99 (got {bad})")
        if self.min_requests < 1:
            raise ConfigError(f"expected min_requests >= 1 (got {self.min_requests})")

    def step(
        self, state: JudgeState | None, stable: Samples, canary: Samples
    ) -> tuple[Verdict, JudgeState | None]:
        """Check every bound on this interval; stateless, so ``state`` is ignored and ``None`` returned."""
        relative = self.max_error_rate_increase_pp is not None or bool(self.max_latency_ratio)
        thin = too_little_traffic(stable, canary, min_requests=self.min_requests, check_stable=relative)
        if thin is not None:
            return thin, None
        quantiles = sorted({*self.max_latency_ms, *self.max_latency_ratio})
        if any(canary.latency_quantile(q) is None for q in quantiles):
            return self._wait("the canary reported no latency", stable, canary), None
        if any(stable.latency_quantile(q) is None for q in self.max_latency_ratio):
            return self._wait("the stable version reported no latency", stable, canary), None

        values: dict[str, float] = {
            "stable_error_rate": stable.error_rate,
            "canary_error_rate": canary.error_rate,
        }
        for q in quantiles:
            values[f"canary_{_label(q)}_ms"] = canary.latency_quantile(q) or 0.0
            if (base := stable.latency_quantile(q)) is not None:
                values[f"stable_{_label(q)}_ms"] = base

        failed: list[str] = []
        passed: list[str] = []
        canary_pct, stable_pct = 100 * canary.error_rate, 100 * stable.error_rate
        if self.max_error_rate_pct is not None:
            line = f"error rate {canary_pct:.2f} % {{}} {self.max_error_rate_pct:g} % bound"
            (failed if canary_pct > self.max_error_rate_pct else passed).append(
                line.format(">" if canary_pct > self.max_error_rate_pct else "<=")
            )
        if self.max_error_rate_increase_pp is not None:
            limit = stable_pct + self.max_error_rate_increase_pp
            bad = canary_pct > limit
            (failed if bad else passed).append(
                f"error rate {canary_pct:.2f} % {'>' if bad else '<='} stable {stable_pct:.2f} % "
                f"+ {self.max_error_rate_increase_pp:g} pp = {limit:.2f} %"
            )
        for q, bound in sorted(self.max_latency_ms.items()):
            got = values[f"canary_{_label(q)}_ms"]
            (failed if got > bound else passed).append(
                f"{_label(q)} {got:.1f} ms {'>' if got > bound else '<='} {bound:g} ms bound"
            )
        for q, ratio in sorted(self.max_latency_ratio.items()):
            got, base = values[f"canary_{_label(q)}_ms"], values[f"stable_{_label(q)}_ms"]
            limit = ratio * base
            (failed if got > limit else passed).append(
                f"{_label(q)} {got:.1f} ms {'>' if got > limit else '<='} {ratio:g} x stable "
                f"{_label(q)} {base:.1f} ms = {limit:.1f} ms"
            )
        if failed:
            reason = f"canary failed {len(failed)} of {len(failed) + len(passed)} bounds: " + "; ".join(
                failed
            )
            return Verdict("fail", reason, values, counts(stable, canary)), None
        reason = "canary within every bound: " + "; ".join(passed) if passed else "no bounds configured"
        return Verdict("pass", reason, values, counts(stable, canary)), None

    @staticmethod
    def _wait(why: str, stable: Samples, canary: Samples) -> Verdict:
        return Verdict(
            "wait",
            f"cannot check latency bounds: {why}",
            {"stable_error_rate": stable.error_rate, "canary_error_rate": canary.error_rate},
            counts(stable, canary),
        )
