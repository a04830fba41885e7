"""The canary engine (:mod:`goship.rollout.canary`) on Kubernetes: its ports over a canary Deployment and
Service beside the stable ones, one traffic provider's objects, Prometheus, and its state in an annotation.

Names follow Flagger's: the stable version runs as ``goship deploy`` left it (Deployment and Service
``<service>``, pods ``app=<service>``); the canary runs as Deployment and Service ``<service>-canary``
(pods ``app=<service>-canary``), so no selector of one ever takes the other's pods. Traffic is split by
the provider between the two Services. Promotion rolls the canary's release out onto the stable
Deployment with ``goship deploy``'s own apply, watch and undo while the canary's replicas carry all
traffic, then routes everything to the stable Service again and scales the canary to zero.

The canary's state is a JSON annotation on its Deployment, written by server-side apply under a field
manager of its own: a ``goship canary resume`` on any machine with the kubeconfig continues a canary
whose ``goship`` was killed, and ``status`` / ``explain`` read it from anywhere.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from goship.config import CanaryMetricsConfig, KubernetesConfig
from goship.errors import ConfigError, UsageError
from goship.kube import manifests
from goship.kube.deploy import Deployer
from goship.kube.kubectl import ClusterError, Kubectl
from goship.kube.manifests import Manifest, Workload
from goship.kube.release import Release
from goship.kube.workloads import KubeWorkloads
from goship.rollout import canary_state
from goship.rollout.canary_state import CanaryState
from goship.rollout.ports import TrafficRules

if TYPE_CHECKING:
    from goship.rollout.prometheus.metrics import PrometheusMetrics
    from goship.rollout.prometheus.templates import QueryTemplate

STATE_ANNOTATION = "goship.dev/canary-state"
STATE_FIELD_MANAGER = "goship-canary-state"
"""Owns the state annotation and nothing else (an apply naming one field keeps only that field)."""
CANARY_OF_LABEL = "goship.dev/canary-of"
"""On the canary's Deployment, Service and pods: the service it is a canary of."""


def canary_name(service: str) -> str:
    """``<service>-canary``: the canary's Deployment and Service."""
    return f"{service}-canary"


def canary_upstream(namespace: str, service: str, port: int) -> str:
    """The upstream ingress-nginx names the canary's Service by (``<namespace>-<service>-canary-<port>``),
    which its metrics carry in the ``canary`` label for requests it routed there."""
    return f"{namespace}-{canary_name(service)}-{port}"


class AnnotationState:
    """A :class:`~goship.rollout.canary_state.StateStore` in an annotation of the canary's Deployment."""

    def __init__(self, kubectl: Kubectl, namespace: str, deployment: str) -> None:
        self._kubectl = kubectl.in_namespace(namespace)
        self.namespace = namespace
        self.deployment = deployment

    @property
    def where(self) -> str:
        return f"annotation {STATE_ANNOTATION} of Deployment {self.namespace}/{self.deployment}"

    def load(self) -> CanaryState | None:
        live = self._kubectl.get("deployment.apps", self.deployment)
        text = ((live or {}).get("metadata", {}).get("annotations") or {}).get(STATE_ANNOTATION)
        if not text:
            return None
        try:
            return canary_state.from_json(json.loads(text))
        except json.JSONDecodeError as exc:
            raise UsageError(f"the {self.where} is not JSON: {exc}") from exc

    def save(self, state: CanaryState) -> None:
        patch = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": self.deployment,
                "namespace": self.namespace,
                "annotations": {
                    STATE_ANNOTATION: json.dumps(canary_state.to_json(state), separators=(",", ":"))
                },
            },
        }
        self._kubectl.run(
            "apply",
            "--server-side",
            f"--field-manager={STATE_FIELD_MANAGER}",
            "--force-conflicts",
            "-f",
            "-",
            input=json.dumps(patch),
        )


def canary_objects(
    work: Workload,
    release: Release,
    config: KubernetesConfig,
    *,
    namespace: str,
    live: Mapping[str, Any] | None,
) -> list[Manifest]:
    """The canary's Deployment and Service: the stable ones as goship renders them, for the canary's
    release, named and labelled ``<service>-canary``. A new canary Deployment starts at 0 replicas; an
    existing one keeps its count (the canary's field manager owns it)."""
    canary = dataclasses.replace(work, name=canary_name(work.name))
    deployment = manifests.deployment(canary, release, config, namespace=namespace)
    service = manifests.service(canary, config, namespace=namespace)
    for obj in (deployment, service, deployment["spec"]["template"]):
        obj["metadata"].setdefault("labels", {})[CANARY_OF_LABEL] = work.name
    if live is None:
        deployment["spec"]["replicas"] = 0
    else:
        deployment["spec"].pop("replicas", None)
    # The canary is scaled by the engine, never by an autoscaler or goship's deploy.
    deployment["metadata"].get("annotations", {}).pop(manifests.ANNOTATION_AUTOSCALED, None)
    return [deployment, service]


class Router(Protocol):
    """What the engine needs of a Kubernetes traffic provider."""

    service_for: dict[str, str]

    def check(self, rules: TrafficRules) -> object:
        """Refuse ``rules`` the provider cannot carry, or objects of its names that are not goship's,
        before anything is written."""

    def apply(self, rules: TrafficRules) -> None: ...

    def delete(self) -> None: ...


class KubeCanaryWorkloads(KubeWorkloads):
    """The canary's workloads; promotion is ``goship deploy`` of the canary's release onto the stable
    Deployment (:class:`~goship.rollout.canary.PromotesInPlace`)."""

    def __init__(
        self,
        kubectl: Kubectl,
        namespace: str,
        *,
        stable: str,
        canary: str,
        service: str,
        promote: Callable[[], bool],
        router: Router,
    ) -> None:
        super().__init__(kubectl, namespace, {stable: service, canary: canary_name(service)})
        self.service = service
        self._promote = promote
        self._router = router

    def promote_in_place(self, stable: str, canary: str) -> bool:
        if not self._promote():
            return False
        # The stable Service's pods now run the canary's version: its traffic goes there.
        self._router.service_for[canary] = self.service
        return True


def deploy_promotion(
    deployer: Deployer, release: Release, objects: list[Manifest], *, timeout: float
) -> Callable[[], bool]:
    """A promotion that deploys ``objects`` (the stable objects rendered for the canary's release) as
    ``goship deploy`` does: applied, watched, undone when the rollout fails."""

    def promote() -> bool:
        result = deployer.deploy(release, copy.deepcopy(objects), wait=True, undo=True, timeout=timeout)
        return result.ok

    return promote


def stable_version(live: Mapping[str, Any] | None, *, service: str, namespace: str) -> str:
    """The release the stable Deployment runs, from the annotation ``goship deploy`` put on it."""
    if live is None:
        raise ClusterError(
            f"Deployment {namespace}/{service} does not exist: a canary is judged against the version that runs",
            reason="NotFound",
            hint=f"deploy the stable version first: 'goship deploy --service {service} --version …'",
        )
    version = (live.get("metadata", {}).get("annotations") or {}).get(manifests.ANNOTATION_VERSION)
    if not version:
        raise UsageError(
            f"Deployment {namespace}/{service} was not deployed by goship (no {manifests.ANNOTATION_VERSION} "
            "annotation), so the stable version is unknown",
            hint="deploy it once with 'goship deploy', then start the canary",
        )
    return str(version)


def metrics_template(
    config: CanaryMetricsConfig, *, stable: str, canary: str, canary_upstream: str
) -> QueryTemplate:
    """The PromQL template goship.yaml's canary.metrics names, with its fixed labels."""
    from goship.rollout.prometheus.templates import BUILTINS, Matcher, nginx_canary_versions

    template = BUILTINS[config.template]
    if config.labels:
        template = template.where(*(Matcher(k, v) for k, v in sorted(config.labels.items())))
    if config.version_label:
        template = template.versions_by(config.version_label)
    if config.template == "nginx-ingress":
        template = template.with_versions(
            nginx_canary_versions(stable=stable, canary=canary, canary_upstream=canary_upstream)
        )
    return template


def prometheus_metrics(
    config: CanaryMetricsConfig, *, stable: str, canary: str, canary_upstream: str
) -> PrometheusMetrics:
    """A :class:`~goship.rollout.prometheus.metrics.PrometheusMetrics` from goship.yaml's canary.metrics."""
    from goship.rollout.prometheus.client import PrometheusClient
    from goship.rollout.prometheus.metrics import PrometheusMetrics

    if not config.prometheus:
        raise ConfigError(
            "a canary on Kubernetes is judged from Prometheus, and goship.yaml names none",
            hint="set canary.metrics.prometheus (e.g. http://prometheus.monitoring:9090) and "
            "canary.metrics.template (istio, nginx-ingress, client-golang, grpc)",
        )
    token = None
    if config.bearer_token_env:
        token = os.environ.get(config.bearer_token_env)
        if not token:
            raise ConfigError(
                f"canary.metrics.bearer_token_env names ${config.bearer_token_env}, which is not set",
                hint=f"export {config.bearer_token_env}=… (the token Prometheus expects)",
            )
    client = PrometheusClient(config.prometheus, bearer_token=token)
    template = metrics_template(config, stable=stable, canary=canary, canary_upstream=canary_upstream)
    return PrometheusMetrics(client, template)


@dataclass(frozen=True)
class Provider:
    """The traffic provider's router and whether its objects go when the canary ends."""

    router: Router
    remove_at_end: bool
    """ingress-nginx's canary Ingress is removed (the main Ingress already points at the stable Service);
    an HTTPRoute or VirtualService stays, all traffic on the stable Service, since requests pass through it."""


def provider(
    config: KubernetesConfig, kubectl: Kubectl, namespace: str, *, service: str, stable: str, canary: str
) -> Provider:
    """The router goship.yaml's kubernetes.canary names, between ``<service>`` and ``<service>-canary``."""
    settings = config.canary
    service_for = {stable: service, canary: canary_name(service)}
    port = config.service_port
    if settings.provider == "gateway-api":
        from goship.kube.traffic import GatewayRouter

        if not settings.gateway:
            raise ConfigError(
                "kubernetes.canary.provider gateway-api needs the Gateway the route attaches to",
                hint="set kubernetes.canary.gateway to the Gateway's name (in the service's namespace)",
            )
        router: Router = GatewayRouter(
            kubectl,
            namespace,
            settings.name or service,
            parent_ref=settings.gateway,
            service_for=service_for,
            port=port,
        )
        return Provider(router, remove_at_end=False)
    if settings.provider == "istio":
        from goship.kube.istio import IstioRouter

        router = IstioRouter(
            kubectl,
            namespace,
            settings.name or service,
            host=settings.host or service,
            service_for=service_for,
            port=port,
        )
        return Provider(router, remove_at_end=False)
    from goship.kube.nginx import NginxRouter

    main = settings.ingress or service
    router = NginxRouter(
        kubectl,
        namespace,
        settings.name or f"{main}-canary",
        main_ingress=main,
        service_for=service_for,
        port=port,
        stable=stable,
        canary=canary,
    )
    return Provider(router, remove_at_end=True)


__all__ = [
    "CANARY_OF_LABEL",
    "STATE_ANNOTATION",
    "AnnotationState",
    "KubeCanaryWorkloads",
    "Provider",
    "canary_name",
    "canary_objects",
    "canary_upstream",
    "deploy_promotion",
    "metrics_template",
    "prometheus_metrics",
    "provider",
    "stable_version",
]
