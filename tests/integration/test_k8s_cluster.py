"""The test cluster itself, on the real API server: its version, Deployments whose pods kwok makes Ready
after a delay or keeps NotReady, and the Istio and Gateway API CRDs the traffic providers need."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from tests.integration.k8scluster import BROKEN_LABEL, READY_AFTER_ANNOTATION, KubeCluster

pytestmark = pytest.mark.integration


def deployment(
    name: str,
    *,
    image: str,
    replicas: int = 2,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    progress_deadline_s: int = 600,
) -> str:
    """A Deployment with an HTTP readiness probe, as JSON (which kubectl reads as YAML too)."""
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "progressDeadlineSeconds": progress_deadline_s,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {
                        "labels": {"app": name, **(labels or {})},
                        "annotations": annotations or {},
                    },
                    "spec": {
                        "containers": [
                            {
                                "name": name,
                                "image": image,
                                "ports": [{"containerPort": 8080}],
                                "readinessProbe": {
                                    "httpGet": {"path": "/healthz", "port": 8080},
                                    "periodSeconds": 1,
                                },
                            }
                        ]
                    },
                },
            },
        }
    )


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in obj["status"].get("conditions", []) if c["type"] == kind]
    assert found, f"no {kind} condition in {obj['status']}"
    return found[0]


def stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_server_is_a_real_kubernetes_1_35_api_server(k8s_cluster: KubeCluster) -> None:
    version = json.loads(k8s_cluster.kubectl("version", "-o", "json").stdout)

    assert version["serverVersion"]["gitVersion"].startswith("v1.35.")
    assert version["clientVersion"]["gitVersion"] == version["serverVersion"]["gitVersion"]
    assert k8s_cluster.server.startswith("https://127.0.0.1:")
    nodes = k8s_cluster.get("nodes")["items"]
    assert [condition(n, "Ready")["status"] for n in nodes] == ["True"]


def test_deployment_pods_turn_ready_after_the_stage_delay_and_the_rollout_completes(
    k8s_cluster: KubeCluster, namespace: str
) -> None:
    k8s_cluster.apply(
        deployment("api", image="example.invalid/api:v1", annotations={READY_AFTER_ANNOTATION: "3s"}),
        namespace=namespace,
    )

    k8s_cluster.kubectl("rollout", "status", "-n", namespace, "deployment/api", "--timeout=60s", timeout=90)

    pods = k8s_cluster.get("pods", "-n", namespace, "-l", "app=api")["items"]
    assert len(pods) == 2
    for pod in pods:
        ready = condition(pod, "Ready")
        assert ready["status"] == "True"
        # Timestamps have whole seconds: 3 s of delay shows as at least 2.
        waited = stamp(ready["lastTransitionTime"]) - stamp(pod["metadata"]["creationTimestamp"])
        assert waited.total_seconds() >= 2, f"{pod['metadata']['name']} was Ready after {waited}"
        assert pod["status"]["phase"] == "Running"
        assert pod["spec"]["nodeName"] == "kwok-node-0"
    assert k8s_cluster.get("deployment", "-n", namespace, "api")["status"]["readyReplicas"] == 2


def test_broken_pods_stay_not_ready_so_the_rollout_exceeds_its_progress_deadline(
    k8s_cluster: KubeCluster, namespace: str
) -> None:
    k8s_cluster.apply(deployment("api", image="example.invalid/api:v1"), namespace=namespace)
    k8s_cluster.kubectl("rollout", "status", "-n", namespace, "deployment/api", "--timeout=60s", timeout=90)

    bad = deployment(
        "api", image="example.invalid/api:v2", labels={BROKEN_LABEL: "true"}, progress_deadline_s=5
    )
    k8s_cluster.apply(bad, namespace=namespace)
    started = time.monotonic()
    rollout = k8s_cluster.kubectl(
        "rollout", "status", "-n", namespace, "deployment/api", "--timeout=60s", check=False, timeout=90
    )

    assert rollout.returncode != 0
    assert 'deployment "api" exceeded its progress deadline' in rollout.stderr
    assert time.monotonic() - started < 30
    progressing = condition(k8s_cluster.get("deployment", "-n", namespace, "api"), "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    pods = k8s_cluster.get("pods", "-n", namespace, "-l", "app=api")["items"]
    readiness = sorted(
        (p["spec"]["containers"][0]["image"], p["status"]["phase"], condition(p, "Ready")["status"])
        for p in pods
    )
    # The surge pod runs but never turns Ready; both old pods keep serving.
    assert readiness == [
        ("example.invalid/api:v1", "Running", "True"),
        ("example.invalid/api:v1", "Running", "True"),
        ("example.invalid/api:v2", "Running", "False"),
    ]


@pytest.mark.parametrize(
    "crd",
    [
        "virtualservices.networking.istio.io",
        "destinationrules.networking.istio.io",
        "httproutes.gateway.networking.k8s.io",
        "gateways.gateway.networking.k8s.io",
    ],
)
def test_traffic_crds_are_established(k8s_cluster: KubeCluster, crd: str) -> None:
    assert condition(k8s_cluster.get("crd", crd), "Established")["status"] == "True"


VIRTUAL_SERVICE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "api"},
    "spec": {
        "hosts": ["api"],
        "http": [
            {
                "route": [
                    {"destination": {"host": "api", "subset": "stable"}, "weight": 90},
                    {"destination": {"host": "api", "subset": "canary"}, "weight": 10},
                ]
            }
        ],
    },
}

HTTP_ROUTE = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "api"},
    "spec": {
        "parentRefs": [{"name": "gw"}],
        "rules": [
            {
                "backendRefs": [
                    {"name": "api-stable", "port": 80, "weight": 90},
                    {"name": "api-canary", "port": 80, "weight": 10},
                ]
            }
        ],
    },
}


def virtual_service_weights(spec: dict[str, Any]) -> list[int]:
    return [route["weight"] for route in spec["http"][0]["route"]]


def http_route_weights(spec: dict[str, Any]) -> list[int]:
    return [ref["weight"] for ref in spec["rules"][0]["backendRefs"]]


@pytest.mark.parametrize(
    ("manifest", "weights"),
    [(VIRTUAL_SERVICE, virtual_service_weights), (HTTP_ROUTE, http_route_weights)],
    ids=["VirtualService", "HTTPRoute"],
)
def test_traffic_objects_apply_server_side(
    k8s_cluster: KubeCluster,
    namespace: str,
    manifest: dict[str, Any],
    weights: Callable[[dict[str, Any]], list[int]],
) -> None:
    k8s_cluster.apply(manifest, namespace=namespace, server_side=True)

    stored = k8s_cluster.get(manifest["kind"].lower(), "-n", namespace, "api", "--show-managed-fields")
    assert weights(stored["spec"]) == [90, 10]
    assert [(f["manager"], f["operation"]) for f in stored["metadata"]["managedFields"]] == [
        ("goship", "Apply")
    ]


def test_an_invalid_virtual_service_is_rejected_by_the_crd_schema(
    k8s_cluster: KubeCluster, namespace: str
) -> None:
    invalid = {**VIRTUAL_SERVICE, "spec": {"hosts": "api-not-a-list"}}

    done = k8s_cluster.apply(invalid, namespace=namespace, server_side=True, check=False)

    assert done.returncode != 0
    assert "spec.hosts" in done.stderr
