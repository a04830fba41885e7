"""The three ports the rollout and canary engines are written against (DESIGN.md principle 3); the
local runtime and Kubernetes are adapters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from goship.rollout.plan import ReplicaSetState


class Workloads(Protocol):
    """Runs replicas of revisions (a revision is one version of one service)."""

    def scale(self, revision: str, replicas: int) -> None:
        """Ask for ``replicas`` replicas of ``revision`` (0 stops them, gracefully)."""

    def states(self) -> Sequence[ReplicaSetState]:
        """Every revision with replicas: how many it should run and how many are available."""


@dataclass(frozen=True)
class HeaderMatch:
    """Send requests whose header (or cookie) matches to one version."""

    version: str
    header: str | None = None
    cookie: str | None = None
    kind: Literal["exact", "prefix", "regex"] = "exact"
    value: str = ""


@dataclass(frozen=True)
class TrafficRules:
    """How traffic is split between versions; applied atomically."""

    weights: Mapping[str, int] = field(default_factory=dict)
    """Percent of (unmatched) traffic per version; sums to 100."""
    matches: Sequence[HeaderMatch] = ()
    """Checked in order before the weights."""
    sticky_header: str | None = None
    """Split by a hash of this header's value (a user id) instead of at random, so a user stays put."""
    mirror_version: str | None = None
    """Copy requests to this version too (responses are discarded)."""
    mirror_percent: int = 0


class TrafficRouter(Protocol):
    def apply(self, rules: TrafficRules) -> None: ...


@dataclass(frozen=True)
class VersionMetrics:
    """One version's traffic over a window."""

    requests: int
    errors: int
    """5xx responses and connection errors."""
    latency_ms: Mapping[float, float]
    """Quantile (0.5, 0.99) → milliseconds."""


class MetricsSource(Protocol):
    def window(self, versions: Sequence[str], seconds: float) -> Mapping[str, VersionMetrics]: ...
