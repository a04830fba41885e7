"""The Kubernetes objects of one service, rendered from goship.yaml's ``kubernetes`` section: a Deployment
(image by digest, RollingUpdate, probes, resources, a nonroot read-only container, a preStop pause), a
Service, a HorizontalPodAutoscaler (autoscaling/v2) and a PodDisruptionBudget (policy/v1).

The defaults are a careful platform team's: no capacity lost during a rollout (maxUnavailable 0), a
startup probe instead of long initial delays, no CPU limit but a memory limit (and GOMEMLIMIT under it),
no service-account token, a read-only root with a small writable /tmp, and a pause before SIGTERM so
endpoints stop sending traffic before the process stops taking it. Pure functions: no cluster needed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from goship.config import KubeProbeConfig, KubernetesConfig
from goship.errors import ConfigError, UsageError
from goship.kube.release import Release
from goship.rollout.plan import fenceposts

Manifest = dict[str, Any]

MANAGED_BY = "goship"
ANNOTATION_VERSION = "goship.dev/version"
ANNOTATION_DIGEST = "goship.dev/digest"
ANNOTATION_COMMIT = "goship.dev/commit"
ANNOTATION_AUTOSCALED = "goship.dev/autoscaled"
"""On a Deployment whose replica count the HPA owns: deploys keep the live count."""
CHANGE_CAUSE = "kubernetes.io/change-cause"
REVISION = "deployment.kubernetes.io/revision"
DEFAULT_PORT = 8080
TMP_SIZE_LIMIT = "64Mi"
GOMEMLIMIT_SHARE = 0.9
"""GOMEMLIMIT as a share of the memory limit: the GC works harder before the kernel kills the pod."""

_DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_LABEL_VALUE_BAD = re.compile(r"[^A-Za-z0-9_.\-]")
_MEMORY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?")
_UNITS = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_UNITS.update({"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40})


@dataclass(frozen=True)
class Workload:
    """What the manifests take from the service beside the kubernetes section."""

    name: str
    """The service's name: the Deployment's, the Service's, the container's, the ``app`` label."""
    port: int
    """The container port the probes and the Service use."""
    user: str = "65532:65532"
    """``uid[:gid]`` the image runs as (goship.yaml services[].user)."""


def workload(name: str, *, ports: Sequence[int], user: str, config: KubernetesConfig) -> Workload:
    """The workload of a service, its name checked against Kubernetes' rules for Service names."""
    if not _DNS_LABEL.fullmatch(name):
        raise UsageError(
            f"service name {name!r} cannot name Kubernetes objects: expected lower-case letters, digits "
            "and '-', starting with a letter, at most 63 characters (RFC 1035)",
            hint="rename the service in goship.yaml 'services'",
        )
    port = config.port or (ports[0] if ports else DEFAULT_PORT)
    return Workload(name=name, port=port, user=user)


def label_value(text: str) -> str:
    """``text`` as a label value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends
    (``v1.0.0+incompatible`` → ``v1.0.0_incompatible``)."""
    value = _LABEL_VALUE_BAD.sub("_", text)[:63]
    return value.strip("_.-")


def change_cause(action: str, release: Release, *, note: str = "") -> str:
    """``goship deploy v1.4.0 sha256:… commit 1a2b3c4d5e6f``: what ``kubectl rollout history`` shows."""
    commit = release.commit[:12]
    cause = f"goship {action} {release.version} {release.digest} commit {commit}"
    return f"{cause} ({note})" if note else cause


def release_annotations(release: Release) -> dict[str, str]:
    return {
        ANNOTATION_VERSION: release.version,
        ANNOTATION_DIGEST: release.digest,
        ANNOTATION_COMMIT: release.commit,
    }


def intstr(value: int | str) -> int | str:
    """An IntOrString as the API wants it: ``"2"`` is 2, ``"25%"`` stays a string."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value.strip() if isinstance(value, str) else value


def _selector(name: str) -> dict[str, str]:
    return {"app": name}


def _labels(name: str) -> dict[str, str]:
    return {"app": name, "app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": MANAGED_BY}


def _metadata(name: str, namespace: str | None, **extra: Any) -> Manifest:
    meta: Manifest = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = _labels(name)
    meta.update(extra)
    return meta


def _seconds(value: float) -> int:
    return max(1, math.ceil(value))


def _probe(probe: KubeProbeConfig) -> Manifest:
    return {
        "httpGet": {"path": probe.path, "port": "http"},
        "periodSeconds": _seconds(probe.period),
        "timeoutSeconds": _seconds(probe.timeout),
        "failureThreshold": probe.failure_threshold,
    }


def memory_bytes(quantity: str) -> int | None:
    """A memory quantity (``256Mi``, ``1G``, ``134217728``) in bytes; None for other spellings."""
    m = _MEMORY.fullmatch(quantity.strip())
    return int(float(m[1]) * _UNITS[m[2]]) if m else None


def _security(user: str) -> tuple[Manifest, Manifest]:
    """Pod and container securityContext: nonroot, no privilege escalation, no capabilities, read-only root."""
    pod: Manifest = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    uid, _, gid = user.partition(":")
    if uid.isdigit():
        if int(uid) == 0:
            raise ConfigError(
                f"the service runs as root (user {user!r}); the Kubernetes manifests require a nonroot user",
                hint="set services[].user to a nonroot uid:gid such as 65532:65532",
            )
        pod["runAsUser"] = int(uid)
        if gid.isdigit():
            pod["runAsGroup"] = int(gid)
            pod["fsGroup"] = int(gid)
    container: Manifest = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    return pod, container


def _container(work: Workload, release: Release, config: KubernetesConfig) -> Manifest:
    _, security = _security(work.user)
    resources: Manifest = {}
    if config.resources.requests:
        resources["requests"] = dict(config.resources.requests)
    if config.resources.limits:
        resources["limits"] = dict(config.resources.limits)
    container: Manifest = {
        "name": work.name,
        "image": release.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": work.port, "protocol": "TCP"}],
    }
    limit = memory_bytes(config.resources.limits.get("memory", ""))
    if limit:
        container["env"] = [{"name": "GOMEMLIMIT", "value": str(int(limit * GOMEMLIMIT_SHARE))}]
    probes = config.probes
    if probes.readiness.enabled:
        container["readinessProbe"] = _probe(probes.readiness)
    if probes.liveness.enabled:
        container["livenessProbe"] = _probe(probes.liveness)
    if probes.startup.enabled:
        container["startupProbe"] = _probe(probes.startup)
    if resources:
        container["resources"] = resources
    container["securityContext"] = security
    if config.pre_stop_sleep:
        # The sleep action (Kubernetes 1.30+) needs no shell in the image: goship's bases have none.
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": config.pre_stop_sleep}}}
    container["volumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
    return container


def deployment(
    work: Workload,
    release: Release,
    config: KubernetesConfig,
    *,
    namespace: str | None,
    action: str = "deploy",
) -> Manifest:
    """The Deployment: ``app``/``version`` labels, the release's annotations on it and on its pod template
    (so each ReplicaSet says what it runs), the image by digest."""
    pod_security, _ = _security(work.user)
    version = label_value(release.version)
    annotations = {CHANGE_CAUSE: change_cause(action, release), **release_annotations(release)}
    if config.hpa.enabled:
        annotations[ANNOTATION_AUTOSCALED] = "true"
    meta = _metadata(work.name, namespace, annotations=annotations)
    meta["labels"].update({"version": version, "app.kubernetes.io/version": version})
    pod_labels = {
        **config.pod_labels,
        **_labels(work.name),
        "version": version,
        "app.kubernetes.io/version": version,
    }
    pod_annotations = {**config.pod_annotations, **release_annotations(release)}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": (config.hpa.min_replicas or config.replicas)
            if config.hpa.enabled
            else config.replicas,
            "revisionHistoryLimit": config.revision_history_limit,
            "progressDeadlineSeconds": _seconds(config.progress_deadline),
            "selector": {"matchLabels": _selector(work.name)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {
                    "maxSurge": intstr(config.max_surge),
                    "maxUnavailable": intstr(config.max_unavailable),
                },
            },
            "template": {
                "metadata": {"labels": pod_labels, "annotations": pod_annotations},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security,
                    "terminationGracePeriodSeconds": _seconds(config.termination_grace_period),
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": key,
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": _selector(work.name)},
                        }
                        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
                    ],
                    "containers": [_container(work, release, config)],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}}],
                },
            },
        },
    }


def service(work: Workload, config: KubernetesConfig, *, namespace: str | None) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(work.name, namespace),
        "spec": {
            "type": config.service_type,
            "selector": _selector(work.name),
            "ports": [{"name": "http", "port": config.service_port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def autoscaler(work: Workload, config: KubernetesConfig, *, namespace: str | None) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(work.name, namespace),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": work.name},
            "minReplicas": config.hpa.min_replicas or config.replicas,
            "maxReplicas": config.hpa.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": config.hpa.cpu_utilization},
                    },
                }
            ],
            # Bounded scaling: up fast (doubling, or 4 pods, every 15 s), down slowly and late.
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "selectPolicy": "Max",
                    "policies": [
                        {"type": "Percent", "value": config.hpa.scale_up_percent, "periodSeconds": 15},
                        {"type": "Pods", "value": 4, "periodSeconds": 15},
                    ],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": _seconds(config.hpa.scale_down_stabilization),
                    "selectPolicy": "Min",
                    "policies": [
                        {"type": "Percent", "value": config.hpa.scale_down_percent, "periodSeconds": 60}
                    ],
                },
            },
        },
    }


def disruption_budget(work: Workload, config: KubernetesConfig, *, namespace: str | None) -> Manifest:
    spec: Manifest = {"selector": {"matchLabels": _selector(work.name)}}
    if config.pdb.min_available is not None:
        spec["minAvailable"] = intstr(config.pdb.min_available)
    else:
        spec["maxUnavailable"] = intstr(
            1 if config.pdb.max_unavailable is None else config.pdb.max_unavailable
        )
    # A pod that is not Ready serves nothing: let a drain evict it rather than block on it.
    spec["unhealthyPodEvictionPolicy"] = "AlwaysAllow"
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(work.name, namespace),
        "spec": spec,
    }


def render(
    work: Workload, release: Release, config: KubernetesConfig, *, namespace: str | None
) -> list[Manifest]:
    """Deployment, Service, then the HPA and PDB when enabled."""
    check_strategy(config)
    objects = [
        deployment(work, release, config, namespace=namespace),
        service(work, config, namespace=namespace),
    ]
    if config.hpa.enabled:
        objects.append(autoscaler(work, config, namespace=namespace))
    if config.pdb.enabled:
        objects.append(disruption_budget(work, config, namespace=namespace))
    return objects


def check_strategy(config: KubernetesConfig) -> tuple[int, int]:
    """(surge, unavailable) in pods for the configured replicas, as the deployment controller resolves
    them; a config error for values it would refuse."""
    try:
        return fenceposts(intstr(config.max_surge), intstr(config.max_unavailable), config.replicas)
    except UsageError as exc:
        raise ConfigError(f"goship.yaml kubernetes: {exc.message}") from exc


def strategy_summary(config: KubernetesConfig) -> str:
    """``rolling update of 3 replicas: up to 1 extra pod, none unavailable``."""
    surge, unavailable = check_strategy(config)
    extra = f"up to {surge} extra pod{'s' if surge != 1 else ''}" if surge else "no extra pods"
    down = f"up to {unavailable} unavailable" if unavailable else "none unavailable"
    return f"rolling update of {config.replicas} replicas: {extra}, {down}"


def find(objects: Sequence[Mapping[str, Any]], kind: str) -> Manifest:
    """The object of ``kind`` (there is one of each)."""
    for obj in objects:
        if obj.get("kind") == kind:
            return dict(obj)
    raise KeyError(kind)


def to_yaml(objects: Sequence[Mapping[str, Any]]) -> str:
    """Multi-document YAML, keys in the order written (apiVersion, kind, metadata, spec)."""
    import yaml

    return yaml.safe_dump_all(list(objects), sort_keys=False, default_flow_style=False, width=120)


def to_list(objects: Sequence[Mapping[str, Any]]) -> Manifest:
    """A ``v1`` List, as ``kubectl get -o json`` prints several objects."""
    return {"apiVersion": "v1", "kind": "List", "items": json.loads(json.dumps(list(objects)))}
