"""Is a Deployment's rollout done, still going, or failed? The verdict ``kubectl rollout status`` gives
(k8s.io/kubectl polymorphichelpers, DeploymentStatusViewer), so goship and kubectl agree on one cluster:

1. until the controller has seen the latest spec (``status.observedGeneration`` ≥ ``metadata.generation``)
   nothing else is judged;
2. a ``Progressing`` condition with reason ``ProgressDeadlineExceeded`` is a failed rollout;
3. then it waits while fewer than ``spec.replicas`` pods run the new template, while old pods are still
   there (``status.replicas`` > ``updatedReplicas``), and while updated pods are not all available;
4. otherwise the rollout is complete.

:func:`watch_rollout` polls a reader until one of those verdicts, or its own timeout. One case kubectl
waits out forever: the controller never flags the deadline while the ``Progressing`` condition still
says ``NewReplicaSetAvailable`` (it does not estimate progress after a completed rollout; seen when a
Deployment made by ``kubectl apply`` is taken over and rolled at once). The watch calls such a rollout
stalled once it has made no progress for ``progressDeadlineSeconds``, as the controller would have.

A read that fails for a transient reason (the API server unreachable, a 5xx or 429 past
:class:`~goship.kube.kubectl.Kubectl`'s own retries) says nothing about the rollout: the watch reads on
until its timeout, and only then raises — a lost watch is not a failed rollout, and nothing is undone for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from goship.kube.kubectl import ClusterError

PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
"""The Progressing condition's reason when a rollout made no progress for progressDeadlineSeconds."""
NEW_REPLICA_SET_AVAILABLE = "NewReplicaSetAvailable"
"""The Progressing condition's reason after a completed rollout; the controller keeps no deadline then."""
STALE_GRACE_S = 2.0
"""How long past progressDeadlineSeconds the watch waits for the controller before deciding itself."""

Verdict = Literal["complete", "failed", "timeout"]


@dataclass(frozen=True)
class RolloutStatus:
    """One look at a Deployment."""

    done: bool
    """The rollout is complete."""
    failed: bool
    """The rollout failed (its progress deadline passed); it will not finish by itself."""
    message: str
    """What kubectl would print for it."""


def rollout_status(deployment: Mapping[str, Any]) -> RolloutStatus:
    """The verdict on ``deployment`` (as ``kubectl get -o json`` prints it)."""
    name = deployment.get("metadata", {}).get("name", "")
    generation = int(deployment.get("metadata", {}).get("generation", 0))
    status = deployment.get("status", {})
    if generation > int(status.get("observedGeneration", 0)):
        return RolloutStatus(False, False, "Waiting for deployment spec update to be observed...")
    progressing = next((c for c in status.get("conditions", []) if c.get("type") == "Progressing"), None)
    if progressing is not None and progressing.get("reason") == PROGRESS_DEADLINE_EXCEEDED:
        return RolloutStatus(False, True, f'deployment "{name}" exceeded its progress deadline')
    wanted = deployment.get("spec", {}).get("replicas")
    updated = int(status.get("updatedReplicas", 0))
    replicas = int(status.get("replicas", 0))
    available = int(status.get("availableReplicas", 0))
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if wanted is not None and updated < int(wanted):
        return RolloutStatus(
            False, False, f"{waiting}{updated} out of {wanted} new replicas have been updated..."
        )
    if replicas > updated:
        return RolloutStatus(
            False, False, f"{waiting}{replicas - updated} old replicas are pending termination..."
        )
    if available < updated:
        return RolloutStatus(
            False, False, f"{waiting}{available} of {updated} updated replicas are available..."
        )
    return RolloutStatus(True, False, f'deployment "{name}" successfully rolled out')


@dataclass(frozen=True)
class RolloutOutcome:
    """How a watched rollout ended."""

    verdict: Verdict
    """complete, failed (progress deadline exceeded, or the Deployment went away) or timeout."""
    message: str
    seconds: float
    """How long it was watched."""
    revision: int | None
    """The Deployment's revision (``deployment.kubernetes.io/revision``) when last seen."""
    deployment: Mapping[str, Any] | None
    """The Deployment when last seen (None when it was deleted)."""

    @property
    def ok(self) -> bool:
        return self.verdict == "complete"


def progress_mark(deployment: Mapping[str, Any]) -> tuple[int, ...]:
    """What the controller counts as progress (more updated, ready or available pods, fewer old ones)."""
    status = deployment.get("status", {})
    updated = int(status.get("updatedReplicas", 0))
    old = int(status.get("replicas", 0)) - updated
    return updated, -old, int(status.get("readyReplicas", 0)), int(status.get("availableReplicas", 0))


def _stale_progressing(deployment: Mapping[str, Any]) -> bool:
    """The controller has seen the spec, yet its Progressing condition still speaks of the last rollout."""
    generation = int(deployment.get("metadata", {}).get("generation", 0))
    if generation > int(deployment.get("status", {}).get("observedGeneration", 0)):
        return False
    conditions = deployment.get("status", {}).get("conditions", [])
    progressing = next((c for c in conditions if c.get("type") == "Progressing"), None)
    return progressing is not None and progressing.get("reason") == NEW_REPLICA_SET_AVAILABLE


def revision_of(obj: Mapping[str, Any]) -> int | None:
    value = obj.get("metadata", {}).get("annotations", {}).get("deployment.kubernetes.io/revision")
    return int(value) if value and str(value).isdigit() else None


def watch_rollout(
    read: Callable[[], Mapping[str, Any] | None],
    *,
    timeout: float,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_status: Callable[[str], None] | None = None,
) -> RolloutOutcome:
    """Read the Deployment every ``interval`` seconds until :func:`rollout_status` says done or failed,
    or ``timeout`` seconds pass; ``on_status`` hears each new message. A transient read failure is read
    past; one that lasts until the timeout is raised (a :class:`ClusterError`), not judged."""
    start = clock()
    last_message = ""
    mark: tuple[int, ...] | None = None
    progressed = start
    lost: float | None = None
    """Since when reads fail."""
    while True:
        try:
            deployment = read()
        except ClusterError as err:
            if not err.transient:
                raise
            now = clock()
            lost = now if lost is None else lost
            if now - start >= timeout:
                raise ClusterError(
                    f"watching the rollout: the Deployment could not be read for the last {now - lost:.0f}s, "
                    f"until the watch's timeout ({timeout:g}s): {err.message}",
                    reason=err.reason,
                    hint="the rollout goes on without goship; 'goship history' records how it ended once the "
                    "API server answers again",
                    transient=True,
                    attempts=err.attempts,
                ) from err
            message = f"cannot read the Deployment ({err.reason}); watching on"
            if message != last_message and on_status is not None:
                on_status(message)
            last_message = message
            sleep(min(interval, max(0.0, timeout - (now - start))))
            continue
        lost = None
        now = clock()
        elapsed = now - start
        if deployment is None:
            return RolloutOutcome(
                "failed", "the Deployment was deleted during the rollout", elapsed, None, None
            )
        status = rollout_status(deployment)
        if status.message != last_message and on_status is not None:
            on_status(status.message)
        last_message = status.message
        revision = revision_of(deployment)
        if status.done or status.failed:
            verdict: Verdict = "complete" if status.done else "failed"
            return RolloutOutcome(verdict, status.message, elapsed, revision, deployment)
        if progress_mark(deployment) != mark:
            mark, progressed = progress_mark(deployment), now
        deadline = deployment.get("spec", {}).get("progressDeadlineSeconds")
        still = now - progressed
        if isinstance(deadline, int) and _stale_progressing(deployment) and still > deadline + STALE_GRACE_S:
            why = (
                f"stalled: no progress for {still:.0f}s, past progressDeadlineSeconds ({deadline}), which the "
                f"controller will not flag (its Progressing condition still says {NEW_REPLICA_SET_AVAILABLE})"
            )
            return RolloutOutcome("timeout", f"{why}: {status.message}", elapsed, revision, deployment)
        if elapsed >= timeout:
            message = f"timed out after {timeout:g}s: {status.message}"
            return RolloutOutcome("timeout", message, elapsed, revision, deployment)
        sleep(min(interval, max(0.0, timeout - elapsed)))
