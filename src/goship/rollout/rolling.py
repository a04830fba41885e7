"""The rolling-update engine, written once against the ``Workloads`` port: reconcile until the new
revision is complete, or undo to the previous one when it makes no progress for progressDeadlineSeconds
(Kubernetes reports ProgressDeadlineExceeded; goship then rolls back by itself)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from goship.rollout.plan import ReplicaSetState, complete, fenceposts, rolling_step
from goship.rollout.ports import Workloads


@dataclass(frozen=True)
class RolloutSpec:
    """The Deployment fields that shape a rolling update."""

    replicas: int = 3
    max_surge: int | str = "25%"
    max_unavailable: int | str = "25%"
    min_ready_s: float = 0.0
    """Seconds a replica must be ready before it counts as available (applied by the Workloads adapter)."""
    progress_deadline_s: float = 600.0
    """Seconds without progress before the rollout counts as failed and is undone."""
    poll_s: float = 0.2
    """How often the engine reconciles."""


@dataclass(frozen=True)
class RolloutEvent:
    t: float
    kind: str
    message: str


@dataclass(frozen=True)
class RolloutResult:
    outcome: Literal["complete", "undone"]
    revision: str
    """The revision running at the end."""
    reason: str
    seconds: float


class RollingUpdate:
    """Moves ``replicas`` from the old revisions to ``new``; ``old`` is oldest first, the last is the
    revision an undo returns to."""

    def __init__(
        self,
        workloads: Workloads,
        spec: RolloutSpec,
        *,
        new: str,
        old: list[str],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_event: Callable[[RolloutEvent], None] = lambda e: None,
    ) -> None:
        self.workloads = workloads
        self.spec = spec
        self.new = new
        self.old = old
        self.clock = clock
        self.sleep = sleep
        self.on_event = on_event

    def run(self) -> RolloutResult:
        start = self.clock()
        outcome = self._converge(self.new, self.old, start)
        if outcome is None:
            return RolloutResult(
                "complete",
                self.new,
                f"{self.spec.replicas} replicas of {self.new} available",
                self.clock() - start,
            )
        previous = self.old[-1] if self.old else None
        if previous is None:
            self.workloads.scale(self.new, 0)
            return RolloutResult("undone", self.new, outcome, self.clock() - start)
        self._event("undo", f"{outcome}; rolling back to {previous}")
        back = self._converge(previous, [*self.old[:-1], self.new], self.clock())
        if back is not None:
            self._event("undo-stalled", f"the rollback to {previous} stalled too: {back}")
        return RolloutResult("undone", previous, outcome, self.clock() - start)

    def _converge(self, new: str, old: list[str], start: float) -> str | None:
        """Reconcile towards ``new``; ``None`` when complete, else why it was given up."""
        surge, unavailable = fenceposts(self.spec.max_surge, self.spec.max_unavailable, self.spec.replicas)
        self._event(
            "rollout",
            f"to {new}: maxSurge {surge}, maxUnavailable {unavailable}, {self.spec.replicas} replicas",
        )
        last_progress = start
        last_seen: tuple[int, int, int] | None = None
        while True:
            states = {s.name: s for s in self.workloads.states()}
            new_state = states.get(new, ReplicaSetState(new, 0, 0))
            old_states = [states.get(name, ReplicaSetState(name, 0, 0)) for name in old]
            others = [s for name, s in states.items() if name != new and name not in old and s.replicas]
            old_states += others  # replicas of any other revision go too
            if complete(self.spec.replicas, new_state, old_states):
                self._event("complete", f"{new}: {new_state.available}/{self.spec.replicas} available")
                return None
            seen = (new_state.replicas, new_state.available, sum(s.replicas for s in old_states))
            now = self.clock()
            if seen != last_seen:
                last_seen, last_progress = seen, now
            elif now - last_progress > self.spec.progress_deadline_s:
                return (
                    f"{new} made no progress for {self.spec.progress_deadline_s:g}s "
                    f"({new_state.available}/{self.spec.replicas} available)"
                )
            for name, count in rolling_step(
                self.spec.replicas, surge, unavailable, new_state, old_states
            ).items():
                self._event("scale", f"{name} → {count} replicas")
                self.workloads.scale(name, count)
            self.sleep(self.spec.poll_s)

    def _event(self, kind: str, message: str) -> None:
        self.on_event(RolloutEvent(self.clock(), kind, message))
