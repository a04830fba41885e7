"""The canary engine's ports on a real API server: Deployments scaled through ``KubeWorkloads`` (kwok
makes their pods Ready after ``goship.dev/ready-after``) and an HTTPRoute written by ``GatewayRouter``."""

from __future__ import annotations

import time
from typing import Any

import pytest

from goship.errors import CheckFailedError
from goship.kube.kubectl import ClusterError, Kubectl
from goship.kube.traffic import GatewayRouter
from goship.kube.workloads import KubeWorkloads
from goship.rollout.plan import ReplicaSetState
from goship.rollout.ports import HeaderMatch, TrafficRules
from tests.integration.k8scluster import READY_AFTER_ANNOTATION, KubeCluster

pytestmark = pytest.mark.integration

VERSIONS = ("v1", "v2")


@pytest.fixture
def kubectl(k8s_cluster: KubeCluster) -> Kubectl:
    return Kubectl(program=str(k8s_cluster.bin_dir / "kubectl"), kubeconfig=k8s_cluster.kubeconfig)


def deployment(version: str, *, replicas: int) -> dict[str, Any]:
    labels = {"app": "api", "version": version}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"api-{version}"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": {READY_AFTER_ANNOTATION: "1s"}},
                "spec": {"containers": [{"name": "api", "image": f"example.invalid/api:{version}"}]},
            },
        },
    }


def service(version: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"api-{version}"},
        "spec": {"selector": {"app": "api", "version": version}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


@pytest.fixture
def two_versions(k8s_cluster: KubeCluster, namespace: str) -> None:
    """v1 with one replica, v2 with none, each behind a Service; applied as goship's deploy applies them."""
    for version, replicas in zip(VERSIONS, (1, 0), strict=True):
        k8s_cluster.apply(deployment(version, replicas=replicas), namespace=namespace, server_side=True)
        k8s_cluster.apply(service(version), namespace=namespace, server_side=True)


def wait_for(check: Any, *, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


@pytest.mark.usefixtures("two_versions")
def test_scaling_a_revision_sets_its_deployment_replicas_and_they_become_available(
    k8s_cluster: KubeCluster, kubectl: Kubectl, namespace: str
) -> None:
    workloads = KubeWorkloads(kubectl, namespace, {v: f"api-{v}" for v in VERSIONS})

    workloads.scale("v2", 2)

    assert [(s.name, s.replicas) for s in workloads.states()] == [("v1", 1), ("v2", 2)]
    expected = [ReplicaSetState("v1", 1, 1), ReplicaSetState("v2", 2, 2)]
    assert wait_for(lambda: workloads.states() == expected), workloads.states()
    # Only the replica count changed: goship's deploy still owns, and kept, the rest of the Deployment.
    live = k8s_cluster.get("deployment", "-n", namespace, "api-v2")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "example.invalid/api:v2"
    assert live["spec"]["template"]["metadata"]["annotations"] == {READY_AFTER_ANNOTATION: "1s"}
    managed = k8s_cluster.get("deployment", "-n", namespace, "api-v2", "--show-managed-fields")
    owners = {
        f["manager"]: f["fieldsV1"] for f in managed["metadata"]["managedFields"] if f["operation"] == "Apply"
    }
    assert owners["goship-canary"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in owners["goship"]["f:spec"]
    assert "f:template" in owners["goship"]["f:spec"]


@pytest.mark.usefixtures("two_versions")
def test_scaling_a_revision_without_a_deployment_says_which_is_missing(
    kubectl: Kubectl, namespace: str
) -> None:
    workloads = KubeWorkloads(kubectl, namespace, {"v3": "api-v3"})

    with pytest.raises(ClusterError, match=f"Deployment {namespace}/api-v3 \\(revision v3\\) does not exist"):
        workloads.scale("v3", 1)
    assert workloads.states() == []


def route_of(k8s_cluster: KubeCluster, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = k8s_cluster.get("httproute", "-n", namespace, "api")
    return found


def backends(rule: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(ref["name"], ref["port"], ref["weight"]) for ref in rule["backendRefs"]]


@pytest.mark.usefixtures("two_versions")
def test_gateway_router_writes_weights_and_header_rules_then_updates_and_deletes_its_route(
    k8s_cluster: KubeCluster, kubectl: Kubectl, namespace: str
) -> None:
    router = GatewayRouter(
        kubectl, namespace, "api", parent_ref="gw", service_for={v: f"api-{v}" for v in VERSIONS}, port=80
    )

    router.apply(
        TrafficRules(
            weights={"v1": 75, "v2": 25}, matches=(HeaderMatch(version="v2", header="X-Canary", value="1"),)
        )
    )

    first = route_of(k8s_cluster, namespace)
    assert first["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "goship"}
    assert first["spec"]["parentRefs"][0]["name"] == "gw"
    header_rule, weighted_rule = first["spec"]["rules"]
    assert [m["headers"] for m in header_rule["matches"]] == [
        [{"type": "Exact", "name": "X-Canary", "value": "1"}]
    ]
    assert backends(header_rule) == [("api-v2", 80, 100)]
    assert backends(weighted_rule) == [("api-v1", 80, 75), ("api-v2", 80, 25)]

    router.apply(TrafficRules(weights={"v2": 100}))

    second = route_of(k8s_cluster, namespace)
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert second["metadata"]["generation"] > first["metadata"]["generation"]
    assert [backends(rule) for rule in second["spec"]["rules"]] == [[("api-v2", 80, 100)]]

    router.delete()

    gone = k8s_cluster.kubectl("get", "httproute", "-n", namespace, "api", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    router.delete()  # nothing left to delete is not an error


@pytest.mark.usefixtures("two_versions")
def test_gateway_router_refuses_a_route_of_the_same_name_that_is_not_goships(
    k8s_cluster: KubeCluster, kubectl: Kubectl, namespace: str
) -> None:
    theirs = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "api"},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "rules": [{"backendRefs": [{"name": "api-v1", "port": 80}]}],
        },
    }
    k8s_cluster.apply(theirs, namespace=namespace)
    router = GatewayRouter(
        kubectl, namespace, "api", parent_ref="gw", service_for={v: f"api-{v}" for v in VERSIONS}, port=80
    )

    with pytest.raises(CheckFailedError, match=f"HTTPRoute {namespace}/api exists and is not goship's"):
        router.apply(TrafficRules(weights={"v2": 100}))
    with pytest.raises(CheckFailedError, match="is not goship's"):
        router.delete()

    kept = route_of(k8s_cluster, namespace)
    assert backends(kept["spec"]["rules"][0]) == [("api-v1", 80, 1)]


@pytest.mark.usefixtures("two_versions")
def test_prefix_regex_and_cookie_matches_become_header_matches_the_crd_accepts(
    k8s_cluster: KubeCluster, kubectl: Kubectl, namespace: str
) -> None:
    router = GatewayRouter(
        kubectl, namespace, "api", parent_ref="gw", service_for={v: f"api-{v}" for v in VERSIONS}, port=80
    )

    router.apply(
        TrafficRules(
            weights={"v1": 100, "v2": 0},
            matches=(
                HeaderMatch(version="v2", header="X-User", kind="prefix", value="qa.team+"),
                HeaderMatch(version="v2", header="X-Build", kind="regex", value="^2[0-9]+$"),
                HeaderMatch(version="v2", cookie="canary", value="yes"),
            ),
        )
    )

    rules = route_of(k8s_cluster, namespace)["spec"]["rules"]
    assert [rule["matches"][0]["headers"] for rule in rules[:3]] == [
        [{"type": "RegularExpression", "name": "X-User", "value": "^qa\\.team\\+.*"}],
        [{"type": "RegularExpression", "name": "X-Build", "value": "^2[0-9]+$"}],
        [{"type": "RegularExpression", "name": "Cookie", "value": "(^|;\\s*)canary=yes(;|$)"}],
    ]
    assert backends(rules[3]) == [("api-v1", 80, 100), ("api-v2", 80, 0)]
