"""Rolling-update arithmetic with Kubernetes Deployment semantics, in one place for both targets.

maxSurge and maxUnavailable are integers or percentages of the desired replicas; a surge percentage
rounds up and an unavailable percentage rounds down, and if both come out 0 maxUnavailable becomes 1
(the deployment controller's ResolveFenceposts). Each step scales the new replica set up within the
surge budget, then scales old replica sets down — unhealthy replicas first — while keeping at least
``desired - maxUnavailable`` replicas available (rolloutRolling / reconcileOldReplicaSets).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from goship.errors import UsageError

_PERCENT = re.compile(r"(0|[1-9][0-9]*)%")


def scaled_value(value: int | str, total: int, *, round_up: bool, field: str) -> int:
    """An integer, or a percentage of ``total`` (rounded up or down), as intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        if value < 0:
            raise UsageError(f"{field}: expected 0 or more (found {value})")
        return value
    m = _PERCENT.fullmatch(value.strip())
    if not m:
        if value.strip().isdigit():
            return int(value.strip())
        raise UsageError(f"{field}: expected an integer or a percentage such as 25% (found {value!r})")
    scaled = int(m.group(1)) * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def fenceposts(max_surge: int | str, max_unavailable: int | str, desired: int) -> tuple[int, int]:
    """(surge, unavailable) in replicas; both 0 would stall, so unavailable becomes 1 then."""
    surge = scaled_value(max_surge, desired, round_up=True, field="maxSurge")
    unavailable = scaled_value(max_unavailable, desired, round_up=False, field="maxUnavailable")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


@dataclass(frozen=True)
class ReplicaSetState:
    """One revision's replicas as the controller sees them."""

    name: str
    replicas: int
    """How many replicas it should run now (its spec)."""
    available: int
    """How many have been ready for at least minReadySeconds."""


def rolling_step(
    desired: int,
    surge: int,
    unavailable: int,
    new: ReplicaSetState,
    old: Sequence[ReplicaSetState],
) -> dict[str, int]:
    """The replica counts after one reconcile: new scaled up within the surge, old scaled down within the
    availability budget. ``old`` oldest first. Returns only the sets whose count changes."""
    changes: dict[str, int] = {}
    # Scale the new replica set up (NewRSNewReplicas).
    new_count = new.replicas
    if new.replicas > desired:
        new_count = desired
    elif new.replicas < desired:
        current = new.replicas + sum(r.replicas for r in old)
        room = desired + surge - current
        if room > 0:
            new_count = new.replicas + min(room, desired - new.replicas)
    if new_count != new.replicas:
        changes[new.name] = new_count
        return changes  # one direction per reconcile, as the controller does when it scaled up
    # Scale old replica sets down (reconcileOldReplicaSets).
    if not any(r.replicas for r in old):
        return changes
    all_pods = new.replicas + sum(r.replicas for r in old)
    min_available = desired - unavailable
    new_unavailable = new.replicas - new.available
    budget = all_pods - min_available - new_unavailable
    if budget <= 0:
        return changes
    counts = {r.name: r.replicas for r in old}
    # Unhealthy old replicas go first: removing them costs no availability.
    for r in old:
        if budget <= 0:
            break
        unhealthy = r.replicas - r.available
        if unhealthy > 0:
            cut = min(unhealthy, budget)
            counts[r.name] -= cut
            budget -= cut
    available = new.available + sum(min(r.available, counts[r.name]) for r in old)
    room = available - min_available
    for r in old:
        if room <= 0:
            break
        cut = min(counts[r.name], room)
        counts[r.name] -= cut
        room -= cut
    changes.update(
        {name: n for name, n in counts.items() if n != next(r.replicas for r in old if r.name == name)}
    )
    return changes


def complete(desired: int, new: ReplicaSetState, old: Sequence[ReplicaSetState]) -> bool:
    """The rollout is done: every desired replica is new and available, and no old replica is left."""
    return new.replicas == desired and new.available >= desired and not any(r.replicas for r in old)
