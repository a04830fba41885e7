"""The router's counters as values, and the ``MetricsSource`` built on them: windows of requests, errors
and latency quantiles interpolated from histogram buckets as PromQL's ``histogram_quantile`` does."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from goship.rollout.ports import VersionMetrics

__all__ = [
    "Histogram",
    "RouterMetrics",
    "RouterStats",
    "StatsSource",
    "VersionStats",
    "histogram_quantile",
]


@dataclass(frozen=True)
class Histogram:
    """A latency histogram as Prometheus keeps one: cumulative counts per upper bound."""

    bounds: tuple[float, ...]
    """Finite upper bounds in seconds, ascending; +Inf is implied after the last."""
    counts: tuple[int, ...]
    """Cumulative: one per bound, then the +Inf bucket (which is the count of observations)."""
    sum: float = 0.0
    """Seconds, all observations together."""

    @property
    def count(self) -> int:
        return self.counts[-1] if self.counts else 0

    def minus(self, earlier: Histogram) -> Histogram:
        """The observations made since ``earlier`` (an empty histogram subtracts nothing)."""
        if not earlier.counts:
            return self
        if earlier.bounds != self.bounds:
            raise ValueError(f"bucket bounds differ: {earlier.bounds} then {self.bounds}")
        counts = tuple(now - then for now, then in zip(self.counts, earlier.counts, strict=True))
        return Histogram(self.bounds, counts, self.sum - earlier.sum)

    def quantile(self, q: float) -> float:
        """``histogram_quantile(q, …)`` in seconds: NaN without observations."""
        return histogram_quantile(q, [*self.bounds, math.inf], self.counts)


def histogram_quantile(q: float, bounds: Sequence[float], cumulative: Sequence[int | float]) -> float:
    """PromQL's ``histogram_quantile`` (promql/quantile.go, classic buckets): find the bucket holding rank
    ``q × count`` and interpolate linearly inside it, the lowest bucket starting at 0; a rank in the +Inf
    bucket answers the highest finite bound. ``bounds`` must end with +Inf."""
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if len(bounds) < 2 or not math.isinf(bounds[-1]) or len(bounds) != len(cumulative):
        return math.nan
    counts = list(cumulative)
    for i in range(1, len(counts)):  # as ensureMonotonic: a scrape racing increments may dip
        counts[i] = max(counts[i], counts[i - 1])
    total = counts[-1]
    if total == 0:
        return math.nan
    rank = q * total
    # Empty buckets never hold the rank: PromQL would divide 0 by 0 for q=0 and answer NaN; the lowest
    # non-empty bucket's lower bound is the honest minimum.
    b = next(i for i, c in enumerate([*counts[:-1], math.inf]) if c >= rank and c > 0)
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, count = 0.0, bounds[b], counts[b]
    if b > 0:
        start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * (rank / count)


def _minus_counts(now: Mapping[Any, int], then: Mapping[Any, int]) -> dict[Any, int]:
    return {k: v - then.get(k, 0) for k, v in now.items()}


@dataclass(frozen=True)
class VersionStats:
    """One version's counters since the router started."""

    requests: int = 0
    """Requests routed to the version (mirrored copies not included)."""
    responses: Mapping[str, int] = field(default_factory=dict)
    """Answers by status class: ``"2xx"`` … ``"5xx"``."""
    codes: Mapping[int, int] = field(default_factory=dict)
    """Answers by status code (499: the client broke off)."""
    errors: Mapping[str, int] = field(default_factory=dict)
    """Failed attempts by kind: connect, upstream-reset, timeout, no-ready-endpoint."""
    failures: int = 0
    """5xx answers, answers cut short and failed attempts a retry hid: the canary's error count."""
    retried: int = 0
    latency: Histogram = Histogram((), ())
    mirrored: int = 0
    """Copies sent to this version as the mirror."""
    mirror_failures: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VersionStats:
        lat, mirror = data["latency"], data.get("mirror", {})
        return cls(
            requests=int(data["requests"]),
            responses={str(k): int(v) for k, v in data["responses"].items()},
            codes={int(k): int(v) for k, v in data["codes"].items()},
            errors={str(k): int(v) for k, v in data["errors"].items()},
            failures=int(data["failures"]),
            retried=int(data["retried"]),
            latency=Histogram(
                tuple(float(b) for b in lat["bounds"]),
                tuple(int(c) for c in lat["counts"]),
                float(lat["sum"]),
            ),
            mirrored=int(mirror.get("requests", 0)),
            mirror_failures=int(mirror.get("failures", 0)),
        )

    def minus(self, earlier: VersionStats) -> VersionStats:
        """What happened since ``earlier``."""
        return VersionStats(
            requests=self.requests - earlier.requests,
            responses=_minus_counts(self.responses, earlier.responses),
            codes=_minus_counts(self.codes, earlier.codes),
            errors=_minus_counts(self.errors, earlier.errors),
            failures=self.failures - earlier.failures,
            retried=self.retried - earlier.retried,
            latency=self.latency.minus(earlier.latency),
            mirrored=self.mirrored - earlier.mirrored,
            mirror_failures=self.mirror_failures - earlier.mirror_failures,
        )


@dataclass(frozen=True)
class RouterStats:
    """One ``GET /stats`` snapshot."""

    instance: str
    """Random per router process: counters of two instances cannot be subtracted."""
    time: float
    """Seconds since the router started, on a monotonic clock."""
    versions: Mapping[str, VersionStats]
    unrouted: int = 0
    """Requests no rule sent anywhere (no weights, no match)."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RouterStats:
        versions = {str(k): VersionStats.from_json(v) for k, v in data["versions"].items()}
        return cls(str(data["instance"]), float(data["time"]), versions, int(data.get("unrouted", 0)))


class StatsSource(Protocol):
    def stats(self) -> RouterStats: ...


class RouterMetrics:
    """The ``MetricsSource`` of the local runtime, from the router's counters.

    A window is the difference between a snapshot taken now and the newest remembered snapshot at least
    ``seconds`` older. When none is that old, the window starts at the oldest one remembered (it is
    shorter than asked); with none at all, it starts at the router's start if that lies within ``seconds``
    and is empty otherwise. Every call remembers its snapshot; :meth:`mark` starts a window on purpose
    (right after a traffic shift, say).
    """

    def __init__(
        self, source: StatsSource, *, quantiles: Sequence[float] = (0.5, 0.99), keep: int = 1024
    ) -> None:
        self.source = source
        self.quantiles = tuple(quantiles)
        self._history: deque[RouterStats] = deque(maxlen=keep)

    def mark(self) -> RouterStats:
        """Take a snapshot and remember it."""
        snap = self.source.stats()
        if self._history and self._history[-1].instance != snap.instance:
            self._history.clear()  # a restarted router counts from zero again
        self._history.append(snap)
        return snap

    def _baseline(self, now: RouterStats, seconds: float) -> RouterStats:
        earlier = list(self._history)[:-1]
        for snap in reversed(earlier):
            if now.time - snap.time >= seconds:
                return snap
        if earlier:
            return earlier[0]
        if now.time <= seconds:
            return RouterStats(now.instance, 0.0, {})
        return now

    def window(self, versions: Sequence[str], seconds: float) -> Mapping[str, VersionMetrics]:
        now = self.mark()
        base = self._baseline(now, seconds)
        out: dict[str, VersionMetrics] = {}
        for version in versions:
            current = now.versions.get(version, VersionStats())
            delta = current.minus(base.versions.get(version, VersionStats()))
            latency = (
                {q: delta.latency.quantile(q) * 1000 for q in self.quantiles} if delta.latency.count else {}
            )
            out[version] = VersionMetrics(requests=delta.requests, errors=delta.failures, latency_ms=latency)
        return out
