"""The ``Workloads`` port (:mod:`goship.rollout.ports`) on the local supervisor: one replica set per
revision, scaled the way a ReplicaSet controller scales.

Scaling down picks its victims as the controller does (``ActivePodsWithRanks``): replicas waiting to
restart before running ones, not-ready before ready, the most recently ready before those ready longer,
more restarts before fewer, newer before older. A replica counts as available once it has been ready for
``min_ready_s`` (``minReadySeconds``); terminating replicas count neither as replicas nor as available.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

from goship.errors import UsageError
from goship.local.supervisor import ReplicaSpec, ReplicaStatus, Supervisor
from goship.rollout.plan import ReplicaSetState

__all__ = ["LocalWorkloads", "deletion_order"]


def deletion_order(replicas: Sequence[ReplicaStatus]) -> list[ReplicaStatus]:
    """``replicas`` (oldest first, as :meth:`Supervisor.replicas` lists them) in the order a ReplicaSet
    deletes them, first to go first."""

    def rank(r: ReplicaStatus) -> tuple[int, int, float, int, float]:
        running = 0 if r.phase == "backoff" else 1
        # Among ready replicas, the one ready for the shortest time goes first.
        recently_ready = -(r.ready_since or 0.0) if r.ready else 0.0
        return (running, int(r.ready), recently_ready, -r.restarts, -r.created_at)

    # Reversed first so that, the sort being stable, of two replicas alike in all else the newer goes first.
    return sorted(reversed(replicas), key=rank)


class LocalWorkloads:
    """Replica sets of local processes, one per revision, each run from its :class:`ReplicaSpec`."""

    def __init__(
        self,
        supervisor: Supervisor,
        specs_by_revision: Mapping[str, ReplicaSpec],
        *,
        min_ready_s: float = 0.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if min_ready_s < 0:
            raise UsageError(f"min_ready_s: expected 0 or more (not {min_ready_s})")
        self._supervisor = supervisor
        self._specs = dict(specs_by_revision)
        self._min_ready_s = min_ready_s
        # ready_since is on the supervisor's clock, so availability must be judged on the same one.
        self._clock = clock or supervisor.clock
        self._desired: dict[str, int] = {}  # in the order revisions were first scaled: oldest first
        self._lock = threading.Lock()

    def scale(self, revision: str, replicas: int) -> None:
        """Run ``replicas`` replicas of ``revision``: start the missing ones, or begin stopping the extra
        ones gracefully (they leave the endpoints at once and are no longer counted)."""
        spec = self._specs.get(revision)
        if spec is None:
            known = ", ".join(self._specs) or "none"
            raise UsageError(f"no replica spec for revision {revision!r} (revisions: {known})")
        if replicas < 0:
            raise UsageError(f"replicas: expected 0 or more (not {replicas})")
        with self._lock:
            self._desired[revision] = replicas
            current = self._active(revision)
            for _ in range(replicas - len(current)):
                self._supervisor.start_replica(spec)
            for victim in deletion_order(current)[: max(len(current) - replicas, 0)]:
                self._supervisor.stop_replica(victim.id)

    def states(self) -> Sequence[ReplicaSetState]:
        """Every revision scaled so far (scaled to 0 included), in the order first scaled."""
        with self._lock:
            now = self._clock()
            statuses = [r for r in self._supervisor.replicas() if r.phase != "terminating"]
            return [
                ReplicaSetState(
                    name=revision,
                    replicas=desired,
                    available=sum(
                        1
                        for r in statuses
                        if r.revision == revision
                        and r.ready
                        and r.ready_since is not None
                        and now - r.ready_since >= self._min_ready_s
                    ),
                )
                for revision, desired in self._desired.items()
            ]

    def _active(self, revision: str) -> list[ReplicaStatus]:
        return [r for r in self._supervisor.replicas() if r.revision == revision and r.phase != "terminating"]
