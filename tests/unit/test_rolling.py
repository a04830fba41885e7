"""The rolling-update engine on a simulated Workloads: completion, undo at the progress deadline."""

from __future__ import annotations

from collections.abc import Sequence

from goship.rollout.plan import ReplicaSetState
from goship.rollout.rolling import RollingUpdate, RolloutEvent, RolloutSpec


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class SimulatedWorkloads:
    """Replicas become available ``ready_after`` seconds after they start, unless their revision is broken."""

    def __init__(self, clock: FakeClock, broken: set[str] = frozenset(), ready_after: float = 1.0) -> None:  # type: ignore[assignment]
        self.clock = clock
        self.broken = broken
        self.ready_after = ready_after
        self.started: dict[str, list[float]] = {}
        self.max_total = 0
        self.min_available = 10**9

    def scale(self, revision: str, replicas: int) -> None:
        starts = self.started.setdefault(revision, [])
        while len(starts) < replicas:
            starts.append(self.clock.now)
        del starts[replicas:]

    def states(self) -> Sequence[ReplicaSetState]:
        out = []
        for name, starts in self.started.items():
            available = (
                0 if name in self.broken else sum(self.clock.now - s >= self.ready_after for s in starts)
            )
            out.append(ReplicaSetState(name, len(starts), available))
        total = sum(s.replicas for s in out)
        self.max_total = max(self.max_total, total)
        if any(s.replicas for s in out):
            self.min_available = min(self.min_available, sum(s.available for s in out))
        return out


def test_a_healthy_release_completes_within_surge_and_availability() -> None:
    clock = FakeClock()
    workloads = SimulatedWorkloads(clock)
    workloads.started["v1"] = [-10.0] * 3
    spec = RolloutSpec(replicas=3, max_surge=1, max_unavailable=0, poll_s=0.5)
    result = RollingUpdate(workloads, spec, new="v2", old=["v1"], clock=clock, sleep=clock.sleep).run()
    assert result.outcome == "complete" and result.revision == "v2"
    assert len(workloads.started["v2"]) == 3 and workloads.started["v1"] == []
    assert workloads.max_total <= 4
    assert workloads.min_available >= 3


def test_a_release_that_never_becomes_ready_is_undone_at_the_deadline() -> None:
    clock = FakeClock()
    workloads = SimulatedWorkloads(clock, broken={"v2"})
    workloads.started["v1"] = [-10.0] * 3
    events: list[RolloutEvent] = []
    spec = RolloutSpec(replicas=3, max_surge=1, max_unavailable=0, progress_deadline_s=5, poll_s=0.5)
    result = RollingUpdate(
        workloads, spec, new="v2", old=["v1"], clock=clock, sleep=clock.sleep, on_event=events.append
    ).run()
    assert result.outcome == "undone" and result.revision == "v1"
    assert "v2 made no progress for 5s (0/3 available)" in result.reason
    assert workloads.started["v2"] == [] and len(workloads.started["v1"]) == 3
    assert workloads.min_available >= 3  # v1 kept serving the whole time
    assert [e.kind for e in events].count("undo") == 1
