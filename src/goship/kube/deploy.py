"""Deploy, watch, undo, roll back — one service's Deployment on a cluster, through server-side apply.

A deploy records its intent in goship's history first (state ``progressing``), applies the objects as
field manager ``goship``, watches the rollout with ``kubectl rollout status`` semantics and records the
outcome. A rollout that fails (progress deadline exceeded) or stalls (the watch times out) is undone by
re-applying the newest known-good Deployment from the history — or, when goship has none, the pod template
of the previous ReplicaSet — and that undo is watched and recorded too. A rollback re-applies a recorded
known-good Deployment: its old ReplicaSet is scaled back up when Kubernetes still keeps it, and a new one
is made from the record when it does not.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from goship.config import KubernetesConfig
from goship.errors import CheckFailedError, GoshipError
from goship.kube.history import Action, DeployHistory, DeployRecord, now_rfc3339, previous_template
from goship.kube.kubectl import ClusterError, Kubectl
from goship.kube.manifests import (
    ANNOTATION_AUTOSCALED,
    ANNOTATION_COMMIT,
    ANNOTATION_DIGEST,
    ANNOTATION_VERSION,
    CHANGE_CAUSE,
    Manifest,
    change_cause,
    find,
)
from goship.kube.release import Release
from goship.kube.rollout import RolloutOutcome, watch_rollout

ChangeAction = Literal["create", "update", "unchanged", "applied"]
"""create / update / unchanged as a dry run (or the Deployment's generation) tells; applied otherwise."""


@dataclass(frozen=True)
class ObjectChange:
    """What an apply does (or, in a dry run, would do) to one object."""

    kind: str
    name: str
    action: ChangeAction


@dataclass(frozen=True)
class Undo:
    """What happened after a failed rollout."""

    to: DeployRecord | None
    """The record re-applied (None: the previous ReplicaSet's template, or nothing)."""
    outcome: RolloutOutcome | None
    """The undo's own rollout (None when there was nothing to undo to)."""
    note: str


@dataclass(frozen=True)
class DeployResult:
    """The whole story of one deploy or rollback."""

    action: Action
    release: Release
    namespace: str
    name: str
    dry_run: bool
    changes: list[ObjectChange] = field(default_factory=list)
    record: DeployRecord | None = None
    rollout: RolloutOutcome | None = None
    """None when not watched (--no-wait, dry run)."""
    undo: Undo | None = None

    @property
    def ok(self) -> bool:
        return self.rollout is None or self.rollout.ok

    def as_json(self) -> dict[str, Any]:
        def outcome(o: RolloutOutcome | None) -> dict[str, Any] | None:
            if o is None:
                return None
            return {
                "verdict": o.verdict,
                "message": o.message,
                "seconds": round(o.seconds, 2),
                "revision": o.revision,
            }

        undo = None
        if self.undo is not None:
            to = self.undo.to
            undo = {
                "to": {"version": to.version, "digest": to.digest, "commit": to.commit} if to else None,
                "rollout": outcome(self.undo.outcome),
                "note": self.undo.note,
            }
        return {
            "action": self.action,
            "service": self.release.service,
            "namespace": self.namespace,
            "deployment": self.name,
            "version": self.release.version,
            "digest": self.release.digest,
            "commit": self.release.commit,
            "image": self.release.image,
            "dry_run": self.dry_run,
            "changes": [{"kind": c.kind, "name": c.name, "action": c.action} for c in self.changes],
            "record": self.record.id if self.record else None,
            "rollout": outcome(self.rollout),
            "undo": undo,
        }


def resource(obj: Mapping[str, Any]) -> str:
    """``deployment.apps``, ``service``: how kubectl names the object's kind."""
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    kind = str(obj["kind"]).lower()
    return f"{kind}.{group}" if group else kind


def _compared(obj: Mapping[str, Any]) -> tuple[Any, ...]:
    meta = obj.get("metadata", {})
    return meta.get("labels"), meta.get("annotations"), obj.get("spec"), obj.get("data")


def keep_live_replicas(deployment: Manifest, live: Mapping[str, Any] | None) -> None:
    """With the HPA in charge, apply the replica count it set, not goship.yaml's: a deploy must not
    scale a busy service down to its minimum."""
    annotations = deployment.get("metadata", {}).get("annotations", {})
    if live is None or annotations.get(ANNOTATION_AUTOSCALED) != "true":
        return
    replicas = live.get("spec", {}).get("replicas")
    if isinstance(replicas, int):
        deployment["spec"]["replicas"] = replicas


def _release_of(record: DeployRecord, service: str) -> Release:
    repository = record.image.rpartition("@")[0] or record.image
    return Release(service, repository, record.digest, record.version, record.commit)


class Deployer:
    """Deploys one service's objects with ``kubectl`` (its namespace set) and keeps its history."""

    def __init__(
        self,
        kubectl: Kubectl,
        *,
        service: str,
        config: KubernetesConfig,
        say: Callable[[str], None] = lambda message: None,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.kubectl = kubectl
        self.service = service
        self.config = config
        self.say = say
        self.interval = interval
        self.clock = clock
        self.sleep = sleep

    @property
    def namespace(self) -> str:
        return self.kubectl.current_namespace()

    def history(self) -> DeployHistory:
        return DeployHistory.load(self.kubectl, self.service, limit=self.config.history_limit)

    def live(self) -> dict[str, Any] | None:
        return self.kubectl.get("deployment.apps", self.service)

    def plan(self, objects: Sequence[Manifest], *, force_conflicts: bool = False) -> list[ObjectChange]:
        """A server-side dry run of ``objects``: what applying them would create, change or leave."""
        objects = [copy.deepcopy(o) for o in objects]
        keep_live_replicas(find(objects, "Deployment"), self.live())
        answers = self.kubectl.apply(objects, dry_run=True, force_conflicts=force_conflicts)
        changes = []
        for wanted, answer in zip(objects, answers, strict=True):
            live = self.kubectl.get(resource(wanted), wanted["metadata"]["name"])
            action: ChangeAction
            if live is None:
                action = "create"
            else:
                action = "unchanged" if _compared(live) == _compared(answer) else "update"
            changes.append(ObjectChange(wanted["kind"], wanted["metadata"]["name"], action))
        return changes

    def deploy(
        self,
        release: Release,
        objects: Sequence[Manifest],
        *,
        wait: bool = True,
        undo: bool = True,
        timeout: float,
        force_conflicts: bool = False,
    ) -> DeployResult:
        """Apply ``objects``, watch the rollout (``wait``), undo it when it fails (``undo``)."""
        objects = [copy.deepcopy(o) for o in objects]
        deployment = find(objects, "Deployment")
        return self._apply(
            "deploy",
            release,
            objects,
            deployment,
            wait=wait,
            undo=undo,
            timeout=timeout,
            force_conflicts=force_conflicts,
        )

    def rollback(
        self, to: str | None, *, wait: bool = True, timeout: float, force_conflicts: bool = False
    ) -> DeployResult:
        """Re-apply the known-good Deployment of version (or digest) ``to``; by default the newest one
        that runs another digest than the live Deployment."""
        history = self.history()
        live = self.live()
        history.settle(live)
        running = (live or {}).get("metadata", {}).get("annotations", {}).get(ANNOTATION_DIGEST)
        target = history.find(to) if to else history.known_good(excluding_digest=running)
        if target is None:
            good = sorted(
                {f"{r.version} ({r.digest[:19]}…)" for r in history.records if r.state == "complete"}
            )
            known = f"known-good: {', '.join(good)}" if good else "goship has no completed deploy of it"
            wanted = to or "a known-good release other than the one running"
            raise CheckFailedError(
                f"nothing to roll back to: no {wanted} in the history of {self.service} ({known})",
                hint="see 'goship history'; to run a release goship never deployed here: 'goship deploy --version …'",
            )
        release = _release_of(target, self.service)
        deployment = copy.deepcopy(target.deployment)
        deployment["metadata"].setdefault("annotations", {})[CHANGE_CAUSE] = change_cause(
            "rollback", release, note=f"to record {target.id}"
        )
        return self._apply(
            "rollback",
            release,
            [deployment],
            deployment,
            wait=wait,
            undo=False,
            timeout=timeout,
            force_conflicts=force_conflicts,
            history=history,
        )

    def _apply(
        self,
        action: Action,
        release: Release,
        objects: list[Manifest],
        deployment: Manifest,
        *,
        wait: bool,
        undo: bool,
        timeout: float,
        force_conflicts: bool,
        history: DeployHistory | None = None,
    ) -> DeployResult:
        namespace = self.namespace
        live = self.live()
        if history is None:
            history = self.history()
            history.settle(live)
        keep_live_replicas(deployment, live)
        record, stored = self._record_and_apply(
            history, action, release, objects, deployment, wait=wait, force_conflicts=force_conflicts
        )
        changes = [_change(o, live) for o in stored]
        self.say(f"{action} {release.version} ({release.digest}) to {namespace}/{self.service}: applied")
        result = DeployResult(action, release, namespace, self.service, False, changes, record)
        if not wait:
            return result
        outcome = self._watch(timeout)
        if outcome.ok:
            record = history.update(
                record.id, state="complete", revision=outcome.revision, reason=outcome.message
            )
            return DeployResult(action, release, namespace, self.service, False, changes, record, outcome)
        if not undo:
            record = history.update(
                record.id, state="failed", revision=outcome.revision, reason=outcome.message
            )
            return DeployResult(action, release, namespace, self.service, False, changes, record, outcome)
        undone = self._undo(history, record, outcome, timeout=timeout, force_conflicts=force_conflicts)
        record = history.update(
            record.id,
            state="undone" if undone.outcome is not None else "failed",
            revision=outcome.revision,
            reason=outcome.message,
        )
        return DeployResult(action, release, namespace, self.service, False, changes, record, outcome, undone)

    def _record_and_apply(
        self,
        history: DeployHistory,
        action: Action,
        release: Release,
        objects: list[Manifest],
        deployment: Manifest,
        *,
        wait: bool,
        force_conflicts: bool,
    ) -> tuple[DeployRecord, list[dict[str, Any]]]:
        """Record the intent first, then apply: a run that dies in between leaves a record the next run
        settles. An apply the server refuses is recorded as failed, and raised."""
        record = history.add(
            DeployRecord(
                id=history.next_id(),
                action=action,
                version=release.version,
                digest=release.digest,
                commit=release.commit,
                image=deployment["spec"]["template"]["spec"]["containers"][0]["image"],
                time=now_rfc3339(),
                state="progressing" if wait else "applied",
                deployment=deployment,
            )
        )
        try:
            stored = self.kubectl.apply(objects, force_conflicts=force_conflicts)
        except GoshipError as err:
            # A refusal was not applied; after a fault that outlasted the retries nobody knows, and the
            # record stays undecided for the next run to settle from the live Deployment.
            if isinstance(err, ClusterError) and err.transient:
                changes: dict[str, Any] = {"reason": f"maybe not applied: {err.message}"[:500]}
            else:
                changes = {"state": "failed", "reason": f"not applied: {err.message}"[:500]}
            with contextlib.suppress(GoshipError):  # the refusal is what to report
                history.update(record.id, **changes)
            raise
        return record, stored

    def _watch(self, timeout: float) -> RolloutOutcome:
        return watch_rollout(
            self.live,
            timeout=timeout,
            interval=self.interval,
            clock=self.clock,
            sleep=self.sleep,
            on_status=lambda message: self.say(f"  {message}"),
        )

    def _undo(
        self,
        history: DeployHistory,
        failed: DeployRecord,
        outcome: RolloutOutcome,
        *,
        timeout: float,
        force_conflicts: bool,
    ) -> Undo:
        why = f"{failed.version} {outcome.verdict}: {outcome.message}"
        target = history.known_good()
        if target is not None:
            release = _release_of(target, self.service)
            deployment = copy.deepcopy(target.deployment)
            deployment["metadata"].setdefault("annotations", {})[CHANGE_CAUSE] = change_cause(
                "undo", release, note=why
            )
            note = f"undone to {target.version} ({target.digest}), record {target.id}"
        else:
            replica_sets = self.kubectl.select("replicaset.apps", selector=f"app={self.service}")
            previous = previous_template(outcome.deployment, replica_sets)
            if previous is None:
                return Undo(None, None, f"nothing to undo to: no earlier revision of {self.service} ({why})")
            deployment = copy.deepcopy(failed.deployment)
            deployment["spec"]["template"] = previous
            annotations = previous.get("metadata", {}).get("annotations", {})
            image = str(previous["spec"]["containers"][0].get("image", ""))
            repository, _, by_digest = image.partition("@")
            release = Release(
                self.service,
                repository,
                annotations.get(ANNOTATION_DIGEST) or by_digest,
                annotations.get(ANNOTATION_VERSION, "unknown"),
                annotations.get(ANNOTATION_COMMIT, "unknown"),
            )
            deployment["metadata"]["annotations"][CHANGE_CAUSE] = (
                f"goship undo to the previous revision ({why})"
            )
            note = (
                "undone to the previous ReplicaSet's pod template (goship's history has no known-good deploy)"
            )
        self.say(f"{why}; {note}")
        keep_live_replicas(deployment, outcome.deployment)
        record, _ = self._record_and_apply(
            history, "undo", release, [deployment], deployment, wait=True, force_conflicts=force_conflicts
        )
        undo_outcome = self._watch(timeout)
        history.update(
            record.id,
            state="complete" if undo_outcome.ok else "failed",
            revision=undo_outcome.revision,
            reason=undo_outcome.message,
        )
        return Undo(target, undo_outcome, note)


def _change(stored: Mapping[str, Any], live: Mapping[str, Any] | None) -> ObjectChange:
    """For the Deployment, whether the apply changed its spec (a new generation); the others are listed."""
    kind, name = str(stored.get("kind")), str(stored.get("metadata", {}).get("name"))
    if kind != "Deployment":
        return ObjectChange(kind, name, "applied")
    if live is None:
        return ObjectChange(kind, name, "create")
    changed = stored["metadata"].get("generation") != live["metadata"].get("generation")
    return ObjectChange(kind, name, "update" if changed else "unchanged")
