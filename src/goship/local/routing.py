"""How the local runtime points goship's router at replicas: as a Kubernetes Service does, traffic is
balanced over the ready endpoints whatever their version, so each version's weight follows its count of
ready endpoints. Shared by the rehearsal and the long-lived runtime daemon."""

from __future__ import annotations

from collections.abc import Mapping

from goship.local.router import RouterClient
from goship.rollout.ports import TrafficRules

__all__ = ["route_ready", "weights_for"]


def weights_for(endpoints: Mapping[str, list[str]], *, fallback: str | None) -> dict[str, int]:
    """Percent per version in proportion to its ready endpoints, summing to 100 (the largest share takes
    the rounding); with none ready, everything to ``fallback`` (nothing at all when it is None)."""
    counts = {v: len(a) for v, a in endpoints.items() if a}
    total = sum(counts.values())
    if not total:
        return {fallback: 100} if fallback is not None else {}
    weights = {v: round(100 * n / total) for v, n in counts.items()}
    if sum(weights.values()) != 100:
        top = max(weights, key=lambda v: weights[v])
        weights[top] += 100 - sum(weights.values())
    return weights


def route_ready(client: RouterClient, endpoints: Mapping[str, list[str]], *, fallback: str | None) -> None:
    """Endpoints and weights change in one atomic PUT, so no request goes to a version without endpoints."""
    client.configure(
        {v: list(a) for v, a in endpoints.items()},
        TrafficRules(weights=weights_for(endpoints, fallback=fallback)),
    )
