"""The canary engine's :class:`~goship.rollout.ports.Workloads` port on Kubernetes: one Deployment per
revision, its ``spec.replicas`` set by server-side apply of that field alone.

The apply's field manager is ``goship-canary``, not ``goship``: an apply by ``goship`` that names only
``spec.replicas`` would give up goship's ownership of every other field its deploy set, and the API server
would remove them (it rejects the Deployment: no selector, no containers). kubectl cannot apply to the
``scale`` subresource either (it has no mapping for kind Scale). A field manager of the canary's own owns
the replica count and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from goship.errors import UsageError
from goship.kube.kubectl import ClusterError, Kubectl
from goship.rollout.plan import ReplicaSetState

CANARY_FIELD_MANAGER = "goship-canary"
"""The field manager of the canary's replica counts (see the module's docstring)."""


class KubeWorkloads:
    """Revisions (versions) as Deployments of one namespace."""

    def __init__(self, kubectl: Kubectl, namespace: str, deployments: Mapping[str, str]) -> None:
        self._kubectl = kubectl.in_namespace(namespace)
        self.namespace = namespace
        self.deployments = dict(deployments)
        """Revision → the name of its Deployment."""

    def _deployment(self, revision: str) -> str:
        try:
            return self.deployments[revision]
        except KeyError:
            known = ", ".join(sorted(self.deployments)) or "none"
            raise UsageError(f"no Deployment for revision {revision!r} (known: {known})") from None

    def scale(self, revision: str, replicas: int) -> None:
        """Set the Deployment's ``spec.replicas``; the deployment controller scales its ReplicaSet."""
        if replicas < 0:
            raise UsageError(f"replicas of {revision}: expected 0 or more (found {replicas})")
        name = self._deployment(revision)
        if self._kubectl.get("deployment", name) is None:
            # An apply would try to create it and fail on the missing selector and template.
            raise ClusterError(
                f"Deployment {self.namespace}/{name} (revision {revision}) does not exist",
                reason="NotFound",
                hint="deploy the revision before the canary scales it",
            )
        patch = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {"replicas": replicas},
        }
        # While the canary runs it decides the replica count: it takes the field over from goship's deploy.
        self._kubectl.run(
            "apply",
            "--server-side",
            f"--field-manager={CANARY_FIELD_MANAGER}",
            "--force-conflicts",
            "-f",
            "-",
            input=json.dumps(patch),
        )

    def states(self) -> list[ReplicaSetState]:
        """Each revision's Deployment: desired replicas (its spec) and available ones (its status)."""
        found: list[ReplicaSetState] = []
        for revision, name in self.deployments.items():
            live = self._kubectl.get("deployment", name)
            if live is None:
                continue
            found.append(
                ReplicaSetState(
                    name=revision,
                    replicas=_count(live.get("spec", {}), "replicas"),
                    available=_count(live.get("status", {}), "availableReplicas"),
                )
            )
        return found


def _count(section: Mapping[str, Any], key: str) -> int:
    value = section.get(key)
    return value if isinstance(value, int) else 0
