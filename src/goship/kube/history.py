"""What ran, and what ran well: goship's own record of a service's deploys, and the Deployment's revisions.

Kubernetes keeps a Deployment's old pod templates in its ReplicaSets, but only ``revisionHistoryLimit``
of them, and not whether a rollout of one ever succeeded. goship keeps its own record in a ConfigMap
(``goship-<service>-history``, field manager goship): each deploy, rollback and undo with its version,
digest, commit, time, outcome, and the Deployment exactly as goship applied it — so a rollback re-applies
a known-good state whatever ReplicaSets are left.

Writes are guarded: the first one is a ``create`` (AlreadyExists if another deploy made it first), every
later one a server-side apply carrying the resourceVersion read. A 409 — another deploy wrote meanwhile,
or a repeat of this run's own write whose answer was lost — makes the write re-read the ConfigMap, lay
this run's changes over what it holds (:func:`merge`) and write again: two deploys at once keep both
their entries, and a write that landed twice is one entry.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args

from goship.kube.kubectl import FIELD_MANAGER, ClusterError, Kubectl
from goship.kube.manifests import (
    ANNOTATION_COMMIT,
    ANNOTATION_DIGEST,
    ANNOTATION_VERSION,
    CHANGE_CAUSE,
    MANAGED_BY,
    Manifest,
)
from goship.kube.rollout import revision_of, rollout_status

HISTORY_KEY = "history.json"
Action = Literal["deploy", "rollback", "undo"]
State = Literal["progressing", "applied", "complete", "failed", "undone"]
"""progressing: applied and being watched (or the watcher died); applied: not watched (--no-wait);
complete: the rollout finished; failed: it did not and was left so; undone: it did not and was undone."""
_STATES = set(get_args(State))
WRITE_ATTEMPTS = 5
"""Writes of the history tried, each after re-reading it, before a run of 409s counts as a failure."""


def history_name(service: str) -> str:
    return f"goship-{service}-history"


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(frozen=True)
class DeployRecord:
    """One deploy, rollback or undo of a service."""

    id: int
    """goship's sequence number for the service, from 1."""
    action: Action
    version: str
    digest: str
    commit: str
    image: str
    time: str
    """When it was applied (RFC 3339, UTC)."""
    state: State
    revision: int | None = None
    """The Deployment's revision it became, when known."""
    reason: str = ""
    """Why it ended as it did (the rollout's last message)."""
    deployment: Manifest = field(default_factory=dict)
    """The Deployment as goship applied it: what a rollback re-applies."""

    def summary(self) -> dict[str, Any]:
        """The record without the manifest: what history prints."""
        return {k: v for k, v in asdict(self).items() if k != "deployment"}


class DeployHistory:
    """goship's records of one service's deploys, read from and written to its ConfigMap."""

    def __init__(self, kubectl: Kubectl, service: str, *, limit: int) -> None:
        self.kubectl = kubectl
        self.service = service
        self.limit = limit
        self.records: list[DeployRecord] = []
        self._resource_version: str | None = None
        self._stored: list[DeployRecord] = []
        """The records as the ConfigMap held them when last read or written: what this run changed is
        the difference."""
        self._own: set[int] = set()
        """Ids of the records this run added: its changes to them win over another writer's."""

    @classmethod
    def load(cls, kubectl: Kubectl, service: str, *, limit: int) -> DeployHistory:
        history = cls(kubectl, service, limit=limit)
        history._read()
        history.records = list(history._stored)
        return history

    def next_id(self) -> int:
        return max((r.id for r in self.records), default=0) + 1

    def add(self, record: DeployRecord) -> DeployRecord:
        """Append ``record`` and write; the record as stored (with another id when a concurrent deploy
        took this one)."""
        self.records.append(record)
        self._own.add(record.id)
        self.save()
        return next((r for r in reversed(self.records) if _same_deploy(r, replace(record, id=r.id))), record)

    def update(self, record_id: int, **changes: Any) -> DeployRecord:
        for i, r in enumerate(self.records):
            if r.id == record_id:
                self.records[i] = updated = replace(r, **changes)
                self.save()
                return next((x for x in self.records if x.id == record_id), updated)
        raise KeyError(record_id)

    def save(self) -> None:
        """Write the records; after a 409 re-read, merge and write again (at most ``WRITE_ATTEMPTS`` times)."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            self.records = prune(self.records, self.limit)
            try:
                stored = self._write()
            except ClusterError as err:
                if err.reason != "Conflict":
                    raise
                if attempt == WRITE_ATTEMPTS:
                    raise ClusterError(
                        f"the history of {self.service} changed under each of {attempt} writes: {err.message}",
                        reason="Conflict",
                        hint="other goship deploys of this service are writing at the same time; run again",
                    ) from err
                if not self._rebase():
                    return  # what this run changed is stored already
                continue
            self._resource_version = stored["metadata"].get("resourceVersion")
            self._stored = list(self.records)
            return

    def _read(self) -> None:
        found = self.kubectl.get("configmap", history_name(self.service))
        self._resource_version = None if found is None else found["metadata"].get("resourceVersion")
        self._stored = [] if found is None else parse_records(found.get("data", {}).get(HISTORY_KEY, "[]"))

    def _rebase(self) -> bool:
        """Re-read the ConfigMap and lay this run's changes over it; whether anything is left to write."""
        base, mine = self._stored, self.records
        self._read()
        merged = merge(base, mine, self._stored, own=self._own)
        self._own = {merged.renamed.get(i, i) for i in self._own}
        self.records = merged.records
        return prune(self.records, self.limit) != self._stored

    def _write(self) -> dict[str, Any]:
        config_map: Manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": history_name(self.service),
                "labels": {
                    "app": self.service,
                    "app.kubernetes.io/name": self.service,
                    "app.kubernetes.io/managed-by": MANAGED_BY,
                },
            },
            "data": {HISTORY_KEY: json.dumps([asdict(r) for r in self.records], separators=(",", ":"))},
        }
        if self._resource_version is None:
            # Of two first deploys one makes it, the other is told AlreadyExists and merges: safe to
            # repeat for this caller, which re-reads on that 409.
            made: dict[str, Any] = self.kubectl.json(
                "create",
                f"--field-manager={FIELD_MANAGER}",
                "-f",
                "-",
                input=json.dumps(config_map),
                repeatable=True,
            )
            return made
        config_map["metadata"]["resourceVersion"] = self._resource_version
        # The resourceVersion is the guard; the fields are goship's (taking over from its own create).
        (stored,) = self.kubectl.apply([config_map], force_conflicts=True)
        return stored

    def settle(self, live: Mapping[str, Any] | None) -> None:
        """Decide the newest record if it was left undecided (--no-wait, or a watcher that died): complete
        when the live Deployment runs its digest and its rollout is done, failed when that rollout failed.
        Kept in memory; the next write stores it."""
        if not self.records or live is None or self.records[-1].state not in ("progressing", "applied"):
            return
        last = self.records[-1]
        if live.get("metadata", {}).get("annotations", {}).get(ANNOTATION_DIGEST) != last.digest:
            return
        status = rollout_status(live)
        if status.done or status.failed:
            state: State = "complete" if status.done else "failed"
            self.records[-1] = replace(last, state=state, revision=revision_of(live), reason=status.message)

    def known_good(self, *, excluding_digest: str | None = None) -> DeployRecord | None:
        """The newest record whose rollout completed (with another digest than ``excluding_digest``)."""
        for r in reversed(self.records):
            if r.state == "complete" and r.deployment and r.digest != excluding_digest:
                return r
        return None

    def find(self, wanted: str) -> DeployRecord | None:
        """The newest completed record of version (or digest) ``wanted``."""
        for r in reversed(self.records):
            if r.state == "complete" and r.deployment and wanted in (r.version, r.digest):
                return r
        return None


def parse_records(text: str) -> list[DeployRecord]:
    """The records of a history ConfigMap; entries goship cannot read are skipped (written by a newer goship)."""
    try:
        raw = json.loads(text)
    except ValueError:
        return []
    records = []
    known = set(DeployRecord.__dataclass_fields__)
    for item in raw if isinstance(raw, list) else []:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("id"), int)
            or item.get("state") not in _STATES
        ):
            continue
        try:
            records.append(DeployRecord(**{k: v for k, v in item.items() if k in known}))
        except TypeError:
            continue
    return records


def _same_deploy(a: DeployRecord, b: DeployRecord) -> bool:
    """One deploy, whatever became of it since: the id and everything but the outcome (state, revision,
    reason) agree. Two runs that applied the same Deployment in the same second count as one."""
    return replace(a, state=b.state, revision=b.revision, reason=b.reason) == b


@dataclass(frozen=True)
class Merged:
    """What :func:`merge` made."""

    records: list[DeployRecord]
    """Oldest first."""
    renamed: dict[int, int]
    """Ids of records added here that another writer took meanwhile, to the ids they have now."""


def merge(
    base: Sequence[DeployRecord],
    mine: Sequence[DeployRecord],
    theirs: Sequence[DeployRecord],
    *,
    own: Collection[int],
) -> Merged:
    """Three-way: the records this run added or changed since it read ``base``, laid over ``theirs``
    (what the ConfigMap holds now).

    - A record added here and already in ``theirs`` as the same deploy (this run's write, whose answer was
      lost, landed) is not added again; one whose id another writer took gets the next free id.
    - A record changed here replaces theirs when it is one of this run's own (``own``) or nobody else
      changed it; otherwise (another run settled it meanwhile) theirs stands.
    """
    before = {r.id: r for r in base}
    merged = {r.id: r for r in theirs}
    renamed: dict[int, int] = {}
    for r in mine:
        old = before.get(r.id)
        if old == r:
            continue
        there = merged.get(r.id)
        if old is None:
            if there is not None and _same_deploy(there, r):
                continue
            if there is not None:
                renamed[r.id] = max(merged) + 1
                r = replace(r, id=renamed[r.id])
            merged[r.id] = r
        elif there is None or there == old or r.id in own:
            merged[r.id] = r
    return Merged([merged[i] for i in sorted(merged)], renamed)


def prune(records: Sequence[DeployRecord], limit: int) -> list[DeployRecord]:
    """The newest ``limit`` records, and the newest completed one even if it is older: a run of failed
    deploys must not push the last known-good state out."""
    kept = list(records[-limit:])
    if not any(r.state == "complete" for r in kept):
        good = [r for r in records if r.state == "complete"]
        if good:
            kept.insert(0, good[-1])
    return kept


@dataclass(frozen=True)
class Revision:
    """One of the Deployment's ReplicaSets: a revision Kubernetes still keeps."""

    revision: int | None
    version: str
    digest: str
    commit: str
    image: str
    created: str
    replicas: int
    ready: int
    change_cause: str
    current: bool
    """The Deployment's current revision."""


def revisions(deployment: Mapping[str, Any], replica_sets: Sequence[Mapping[str, Any]]) -> list[Revision]:
    """The ReplicaSets owned by ``deployment``, oldest revision first."""
    uid = deployment.get("metadata", {}).get("uid")
    current = revision_of(deployment)
    out = []
    for rs in replica_sets:
        owners = rs.get("metadata", {}).get("ownerReferences", [])
        if not any(o.get("uid") == uid for o in owners):
            continue
        template = rs.get("spec", {}).get("template", {})
        notes = template.get("metadata", {}).get("annotations", {})
        containers = template.get("spec", {}).get("containers", [{}])
        revision = revision_of(rs)
        out.append(
            Revision(
                revision=revision,
                version=notes.get(ANNOTATION_VERSION, ""),
                digest=notes.get(ANNOTATION_DIGEST, ""),
                commit=notes.get(ANNOTATION_COMMIT, ""),
                image=containers[0].get("image", "") if containers else "",
                created=rs.get("metadata", {}).get("creationTimestamp", ""),
                replicas=int(rs.get("status", {}).get("replicas", 0)),
                ready=int(rs.get("status", {}).get("readyReplicas", 0)),
                change_cause=rs.get("metadata", {}).get("annotations", {}).get(CHANGE_CAUSE, ""),
                current=revision is not None and revision == current,
            )
        )
    return sorted(out, key=lambda r: r.revision or 0)


def previous_template(
    deployment: Mapping[str, Any] | None, replica_sets: Sequence[Mapping[str, Any]]
) -> Manifest | None:
    """The pod template of the newest of ``deployment``'s ReplicaSets older than its current revision,
    without the pod-template-hash label the controller adds: what ``kubectl rollout undo`` goes back to."""
    if deployment is None:
        return None
    current = revision_of(deployment)
    uid = deployment.get("metadata", {}).get("uid")
    older = []
    for rs in replica_sets:
        owned = any(o.get("uid") == uid for o in rs.get("metadata", {}).get("ownerReferences", []))
        revision = revision_of(rs)
        if owned and revision is not None and (current is None or revision < current):
            older.append((revision, rs))
    if not older:
        return None
    template: Manifest = copy.deepcopy(dict(max(older, key=lambda pair: pair[0])[1]["spec"]["template"]))
    template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    return template
