"""The rollout verdict of goship.kube.rollout, on Deployment states recorded from kube-apiserver 1.35.4
(``kubectl get deployment -w -o json`` during a rolling update of 2 replicas with maxSurge 1 and
maxUnavailable 0, and during one whose new pods never turn Ready), and the watch with a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from goship.kube.kubectl import ClusterError
from goship.kube.rollout import rollout_status, watch_rollout


def progressing(reason: str, status: str = "True") -> dict[str, str]:
    return {"type": "Progressing", "status": status, "reason": reason}


AVAILABLE = {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}


def deployment(
    generation: int, status: dict[str, Any], *, replicas: int = 2, revision: str = "2"
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "api",
            "generation": generation,
            "annotations": {"deployment.kubernetes.io/revision": revision},
        },
        "spec": {"replicas": replicas},
        "status": status,
    }


# v1 → v2, as the watch saw it: (generation, status), conditions abridged to type/status/reason.
RECORDED_SUCCESS = [
    (1, {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, "readyReplicas": 2,
         "conditions": [AVAILABLE, progressing("NewReplicaSetAvailable")]}),
    (2, {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, "readyReplicas": 2,
         "conditions": [AVAILABLE, progressing("NewReplicaSetAvailable")]}),
    (2, {"observedGeneration": 2, "replicas": 2, "availableReplicas": 2, "readyReplicas": 2, "unavailableReplicas": 1,
         "conditions": [AVAILABLE, progressing("NewReplicaSetCreated")]}),
    (2, {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2, "readyReplicas": 2,
         "unavailableReplicas": 1, "conditions": [AVAILABLE, progressing("ReplicaSetUpdated")]}),
    (2, {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 3, "readyReplicas": 3,
         "conditions": [AVAILABLE, progressing("ReplicaSetUpdated")]}),
    (2, {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 2, "readyReplicas": 2,
         "terminatingReplicas": 1, "conditions": [AVAILABLE, progressing("ReplicaSetUpdated")]}),
    (2, {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2, "readyReplicas": 2,
         "unavailableReplicas": 1, "conditions": [AVAILABLE, progressing("ReplicaSetUpdated")]}),
    (2, {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 3, "readyReplicas": 3,
         "conditions": [AVAILABLE, progressing("ReplicaSetUpdated")]}),
    (2, {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, "readyReplicas": 2,
         "conditions": [AVAILABLE, progressing("NewReplicaSetAvailable")]}),
]  # fmt: skip

RECORDED_STALL = [
    (2, {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2, "readyReplicas": 2,
         "unavailableReplicas": 1, "conditions": [AVAILABLE, progressing("ReplicaSetUpdated")]}),
    (2, {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2, "readyReplicas": 2,
         "unavailableReplicas": 1, "conditions": [AVAILABLE, progressing("ProgressDeadlineExceeded", "False")]}),
]  # fmt: skip


def test_every_recorded_state_of_a_rolling_update_gets_kubectls_message() -> None:
    messages = [rollout_status(deployment(g, s)).message for g, s in RECORDED_SUCCESS]

    waiting = 'Waiting for deployment "api" rollout to finish: '
    assert messages == [
        'deployment "api" successfully rolled out',
        "Waiting for deployment spec update to be observed...",
        f"{waiting}0 out of 2 new replicas have been updated...",
        f"{waiting}1 out of 2 new replicas have been updated...",
        f"{waiting}1 out of 2 new replicas have been updated...",
        f"{waiting}1 out of 2 new replicas have been updated...",
        f"{waiting}1 old replicas are pending termination...",
        f"{waiting}1 old replicas are pending termination...",
        'deployment "api" successfully rolled out',
    ]


def test_a_new_generation_not_yet_observed_is_not_done_although_its_old_status_looks_complete() -> None:
    generation, status = RECORDED_SUCCESS[1]

    verdict = rollout_status(deployment(generation, status))

    assert (verdict.done, verdict.failed) == (False, False)


def test_progress_deadline_exceeded_fails_the_rollout_once_the_generation_is_observed() -> None:
    states = [rollout_status(deployment(g, s)) for g, s in RECORDED_STALL]

    assert [(s.done, s.failed) for s in states] == [(False, False), (False, True)]
    assert states[1].message == 'deployment "api" exceeded its progress deadline'


def test_an_unobserved_generation_hides_a_stale_progress_deadline() -> None:
    # Re-applying after a failed rollout: the old condition is still there until the controller looks.
    _, status = RECORDED_STALL[1]

    verdict = rollout_status(deployment(3, status))

    assert (verdict.done, verdict.failed) == (False, False)
    assert verdict.message == "Waiting for deployment spec update to be observed..."


def test_updated_replicas_not_yet_available_keep_it_waiting() -> None:
    status = {"observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1}

    verdict = rollout_status(deployment(4, status, replicas=3))

    assert (
        verdict.message
        == 'Waiting for deployment "api" rollout to finish: 1 of 3 updated replicas are available...'
    )
    assert not verdict.done


def test_scaled_to_zero_is_done() -> None:
    assert rollout_status(deployment(5, {"observedGeneration": 5}, replicas=0)).done


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def reader(states: list[tuple[int, dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for g, s in states:
        yield deployment(g, s)


def test_the_watch_follows_the_recorded_rollout_to_complete_and_reports_each_new_message() -> None:
    clock = FakeClock()
    states = reader(RECORDED_SUCCESS[1:])
    heard: list[str] = []

    outcome = watch_rollout(
        lambda: next(states), timeout=60, interval=0.5, clock=clock, sleep=clock.sleep, on_status=heard.append
    )

    assert outcome.verdict == "complete"
    assert outcome.revision == 2
    assert outcome.seconds == pytest.approx(3.5)  # 8 reads, 7 pauses
    assert heard[0] == "Waiting for deployment spec update to be observed..."
    assert heard[-1] == 'deployment "api" successfully rolled out'
    assert len(heard) == len(set(heard))


def test_the_watch_stops_with_failed_at_the_progress_deadline() -> None:
    clock = FakeClock()
    states = reader(RECORDED_STALL)

    outcome = watch_rollout(lambda: next(states), timeout=60, clock=clock, sleep=clock.sleep)

    assert (outcome.verdict, outcome.message) == ("failed", 'deployment "api" exceeded its progress deadline')


def test_the_watch_gives_up_after_its_timeout_as_a_stall() -> None:
    clock = FakeClock()
    _, stuck = RECORDED_STALL[0]

    outcome = watch_rollout(
        lambda: deployment(2, stuck), timeout=10, interval=2, clock=clock, sleep=clock.sleep
    )

    assert outcome.verdict == "timeout"
    assert outcome.message.startswith("timed out after 10s: Waiting for deployment")
    assert clock.now == 110.0


def test_a_deployment_deleted_during_the_watch_fails_it() -> None:
    clock = FakeClock()

    outcome = watch_rollout(lambda: None, timeout=10, clock=clock, sleep=clock.sleep)

    assert outcome.verdict == "failed"
    assert outcome.deployment is None


# Recorded after 'kubectl apply' made the Deployment and goship rolled it at once: the controller left
# the Progressing condition of the finished rollout in place, so it never flags the deadline.
STALE = {
    "observedGeneration": 3,
    "replicas": 3,
    "updatedReplicas": 1,
    "availableReplicas": 2,
    "readyReplicas": 2,
    "unavailableReplicas": 1,
    "conditions": [AVAILABLE, progressing("NewReplicaSetAvailable")],
}


def stale_deployment(generation: int = 3) -> dict[str, Any]:
    d = deployment(generation, STALE)
    d["spec"]["progressDeadlineSeconds"] = 10
    return d


def test_a_rollout_whose_progress_condition_is_stale_is_called_stalled_after_the_progress_deadline() -> None:
    clock = FakeClock()

    outcome = watch_rollout(stale_deployment, timeout=600, interval=1, clock=clock, sleep=clock.sleep)

    assert outcome.verdict == "timeout"
    assert clock.now - 100 == 13  # 10 s deadline + 2 s grace, seen at the next read
    assert outcome.message.startswith("stalled: no progress for 13s, past progressDeadlineSeconds (10)")
    # kubectl's own verdict on that state is to keep waiting.
    assert not rollout_status(stale_deployment()).failed


def test_progress_resets_the_stall_clock_and_an_unobserved_spec_is_never_stale() -> None:
    clock = FakeClock()
    reads = iter(range(1000))

    def creeping() -> dict[str, Any]:
        d = stale_deployment()
        d["status"] = {**STALE, "readyReplicas": next(reads)}  # a little progress every read
        return d

    outcome = watch_rollout(creeping, timeout=30, interval=1, clock=clock, sleep=clock.sleep)
    unobserved = watch_rollout(
        lambda: stale_deployment(generation=4), timeout=30, interval=1, clock=clock, sleep=clock.sleep
    )

    assert outcome.verdict == unobserved.verdict == "timeout"
    assert outcome.message.startswith("timed out after 30s")
    assert unobserved.message == "timed out after 30s: Waiting for deployment spec update to be observed..."


def unreachable() -> ClusterError:
    return ClusterError(
        "cannot reach the Kubernetes API server: Unable to connect to the server: EOF (gave up after 5 attempts)",
        reason="Unreachable",
        transient=True,
        attempts=5,
    )


def test_reads_that_fail_mid_watch_are_read_past_and_the_rollout_judged_when_seen_again() -> None:
    clock = FakeClock()
    states = reader(RECORDED_SUCCESS[1:])
    heard: list[str] = []
    reads = iter(range(100))

    def flaky() -> dict[str, Any]:
        if next(reads) in (2, 3, 4):
            raise unreachable()
        return next(states)

    outcome = watch_rollout(
        flaky, timeout=60, interval=0.5, clock=clock, sleep=clock.sleep, on_status=heard.append
    )

    assert outcome.verdict == "complete"
    assert outcome.seconds == pytest.approx(5.0)  # 8 reads and 3 failed ones, 10 pauses
    assert heard.count("cannot read the Deployment (Unreachable); watching on") == 1


def test_a_watch_that_cannot_read_until_its_timeout_raises_instead_of_judging() -> None:
    clock = FakeClock()
    reads = iter(range(100))

    def lost() -> dict[str, Any]:
        if next(reads) == 0:
            return deployment(*RECORDED_STALL[0])
        raise unreachable()

    with pytest.raises(ClusterError) as raised:
        watch_rollout(lost, timeout=10, interval=1, clock=clock, sleep=clock.sleep)

    assert raised.value.reason == "Unreachable"
    assert raised.value.message.startswith(
        "watching the rollout: the Deployment could not be read for the last 9s, until the watch's timeout (10s): "
        "cannot reach the Kubernetes API server"
    )
    assert "goship history" in str(raised.value.hint)
    assert clock.now == 110.0


def test_a_refusal_mid_watch_ends_it_at_once() -> None:
    clock = FakeClock()

    def forbidden() -> dict[str, Any]:
        raise ClusterError("kubectl get deployment.apps api: the API server refused", reason="Forbidden")

    with pytest.raises(ClusterError):
        watch_rollout(forbidden, timeout=10, clock=clock, sleep=clock.sleep)

    assert clock.now == 100.0
