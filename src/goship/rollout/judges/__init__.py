"""Canary judges: each compares one analysis window of the canary with the stable version and answers
pass, fail or wait, with the numbers behind the answer.

Three judges share one interface, :class:`Judge`; the canary engine calls ``judge.step(state, stable,
canary)`` at every analysis and persists the returned state for the next call:

- ``threshold`` (:mod:`.threshold`): Flagger-style absolute and stable-relative bounds, one check per call.
- ``mann-whitney`` (:mod:`.mannwhitney`): Kayenta-style Mann–Whitney U test on latency samples plus a
  two-proportion test on error rates, one window per call.
- ``sequential`` (:mod:`.sequential`, the default): anytime-valid tests -- a mixture likelihood-ratio test
  on the canary's share of errors and sequential sign tests on latency quantiles -- meant to be checked
  after every batch.

Too little traffic is always ``wait``, never ``fail``: an idle canary is not a broken one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from goship.errors import UsageError

Outcome = Literal["pass", "fail", "wait"]


@dataclass(frozen=True)
class Samples:
    """What one version served during one analysis window."""

    requests: int
    """Requests answered (or failed) in the window."""
    errors: int
    """Of those, 5xx responses and connection errors."""
    latencies_ms: tuple[float, ...] = ()
    """Latency samples in milliseconds; may be empty when the source only counts requests."""
    latency_quantiles_ms: Mapping[float, float] = field(default_factory=dict, hash=False)
    """Latency quantiles over the window as a metrics source reports them: quantile (0.5, 0.99) ->
    milliseconds, like ``VersionMetrics.latency_ms``; may be empty."""

    def __post_init__(self) -> None:
        if self.requests < 0 or self.errors < 0 or self.errors > self.requests:
            raise UsageError(
                f"expected 0 <= errors <= requests in a metrics window "
                f"(got {self.errors} errors of {self.requests} requests)"
            )

    @property
    def error_rate(self) -> float:
        """Errors per request; 0 when there were no requests."""
        return self.errors / self.requests if self.requests else 0.0

    def latency_quantile(self, q: float) -> float | None:
        """The ``q`` latency quantile: as reported when the source gave it, else from the samples, else
        ``None``."""
        if q in self.latency_quantiles_ms:
            return self.latency_quantiles_ms[q]
        return quantile(self.latencies_ms, q) if self.latencies_ms else None


@dataclass(frozen=True)
class Verdict:
    """A judge's answer for one analysis."""

    outcome: Outcome
    """``pass``, ``fail`` or ``wait`` (not enough data or evidence yet)."""
    reason: str
    """One sentence for a person, with the numbers that decided it."""
    values: Mapping[str, float] = field(default_factory=dict)
    """The computed figures (error rates, quantiles, statistic, p-value, e-value...) by name."""
    samples: Mapping[str, int] = field(default_factory=dict)
    """Requests the verdict rests on: ``{"stable": n, "canary": n}``."""


@dataclass(frozen=True)
class JudgeState:
    """What a sequential judge carries from one analysis to the next; stateless judges return ``None``.

    Subclasses hold only numbers and tuples of numbers, so the engine can persist them with
    ``dataclasses.asdict``.
    """


class Judge(Protocol):
    """Decides one analysis of a canary against the stable version."""

    def step(
        self, state: JudgeState | None, stable: Samples, canary: Samples
    ) -> tuple[Verdict, JudgeState | None]:
        """Judge one window; ``state`` is what the previous call returned (``None`` at the first)."""
        ...


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile by linear interpolation between order statistics (Hyndman & Fan type 7, numpy's
    default), so figures match what people compute by hand or with numpy."""
    if not values:
        raise UsageError("expected at least one latency sample to take a quantile of (got none)")
    ordered = sorted(values)
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def normal_sf(z: float) -> float:
    """Upper tail of the standard normal, ``P(Z > z)``; erfc keeps precision far into the tail."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def counts(stable: Samples, canary: Samples) -> dict[str, int]:
    """The ``samples`` field of a verdict."""
    return {"stable": stable.requests, "canary": canary.requests}


def too_little_traffic(
    stable: Samples, canary: Samples, *, min_requests: int, check_stable: bool = True
) -> Verdict | None:
    """A ``wait`` verdict when the canary (and, with ``check_stable``, the stable version) served fewer than
    ``min_requests`` in the window; ``None`` when there is enough traffic to judge."""
    checked = (("canary", canary), ("stable", stable)) if check_stable else (("canary", canary),)
    thin = [name for name, s in checked if s.requests < min_requests]
    if not thin:
        return None
    detail = ", ".join(f"{name} served {counts(stable, canary)[name]}" for name in thin)
    return Verdict(
        outcome="wait",
        reason=f"too little traffic to judge: {detail} of the {min_requests} requests needed",
        values={"stable_error_rate": stable.error_rate, "canary_error_rate": canary.error_rate},
        samples=counts(stable, canary),
    )


# The judges import the interface above, so they are imported after it is defined.
from goship.rollout.judges.mannwhitney import MannWhitneyJudge  # noqa: E402
from goship.rollout.judges.sequential import SequentialJudge, SequentialState  # noqa: E402
from goship.rollout.judges.threshold import ThresholdJudge  # noqa: E402

JUDGES: Mapping[str, Callable[..., Judge]] = {
    "threshold": ThresholdJudge,
    "mann-whitney": MannWhitneyJudge,
    "sequential": SequentialJudge,
}
"""Judge name (as written in goship.yaml) → constructor taking that judge's settings as keywords."""

DEFAULT_JUDGE = "sequential"

__all__ = [
    "DEFAULT_JUDGE",
    "JUDGES",
    "Judge",
    "JudgeState",
    "MannWhitneyJudge",
    "Outcome",
    "Samples",
    "SequentialJudge",
    "SequentialState",
    "ThresholdJudge",
    "Verdict",
    "quantile",
]
