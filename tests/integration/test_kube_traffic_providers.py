"""The Istio and ingress-nginx traffic routers on a real API server with Istio's CRDs and the built-in
Ingress API: what the server accepts and stores at every step of a canary, and what goship leaves alone.
There is no mesh or ingress controller; the objects as stored are what is checked."""

from __future__ import annotations

from typing import Any

import pytest

from goship.errors import CheckFailedError
from goship.kube.istio import IstioRouter
from goship.kube.kubectl import ClusterError, Kubectl
from goship.kube.nginx import NginxRouter
from goship.rollout.ports import HeaderMatch, TrafficRules
from tests.ingresses import nginx_ingress, nginx_ingress_spec
from tests.integration.k8scluster import KubeCluster

pytestmark = pytest.mark.integration

STABLE, CANARY = "v1.4.0", "v1.5.0"
SERVICES = {STABLE: "api", CANARY: "api-canary"}
PROGRESSION = (5, 25, 50, 100)
GOSHIP = {"app.kubernetes.io/managed-by": "goship"}
NGINX = "nginx.ingress.kubernetes.io/"


@pytest.fixture
def namespace(namespace: str, k8s_cluster: KubeCluster) -> str:
    """The shared fresh namespace, with a Service per version."""
    for version, service in SERVICES.items():
        k8s_cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": service},
                "spec": {
                    "selector": {"app": "api", "version": version},
                    "ports": [{"port": 80, "targetPort": 8080}],
                },
            },
            namespace=namespace,
        )
    return namespace


@pytest.fixture
def kubectl(k8s_cluster: KubeCluster) -> Kubectl:
    return Kubectl(program=str(k8s_cluster.bin_dir / "kubectl"), kubeconfig=k8s_cluster.kubeconfig)


def step(canary_percent: int, *matches: HeaderMatch) -> TrafficRules:
    if canary_percent == 100:
        return TrafficRules(weights={CANARY: 100})
    return TrafficRules(weights={STABLE: 100 - canary_percent, CANARY: canary_percent}, matches=matches)


def missing(k8s_cluster: KubeCluster, namespace: str, kind: str, name: str) -> bool:
    done = k8s_cluster.kubectl("get", kind, "-n", namespace, name, check=False)
    return done.returncode != 0 and "NotFound" in done.stderr


# -- Istio ---------------------------------------------------------------------------------------------


def istio_router(kubectl: Kubectl, namespace: str) -> IstioRouter:
    return IstioRouter(kubectl, namespace, "api", host="api", service_for=SERVICES, port=80)


def virtual_service(k8s_cluster: KubeCluster, namespace: str, name: str = "api") -> dict[str, Any]:
    found: dict[str, Any] = k8s_cluster.get("virtualservices.networking.istio.io", "-n", namespace, name)
    return found


def destinations(route: dict[str, Any]) -> list[tuple[str, str | None, int, int | None]]:
    return [
        (
            r["destination"]["host"],
            r["destination"].get("subset"),
            r["destination"]["port"]["number"],
            r.get("weight"),
        )
        for r in route["route"]
    ]


def test_istio_router_carries_a_canary_from_5_to_100_percent_in_one_virtual_service_then_deletes_it(
    k8s_cluster: KubeCluster, kubectl: Kubectl, namespace: str
) -> None:
    router = istio_router(kubectl, namespace)
    beta = HeaderMatch(version=CANARY, header="X-Canary", value="1")
    seen: list[dict[str, Any]] = []

    for percent in PROGRESSION:
        router.apply(step(percent, beta))

        vs = virtual_service(k8s_cluster, namespace)
        seen.append(vs)
        assert vs["apiVersion"] == "networking.istio.io/v1"
        assert vs["metadata"]["labels"] == GOSHIP
        assert vs["spec"]["hosts"] == ["api"]
        *matched, weighted = vs["spec"]["http"]
        if percent < 100:
            assert [(r["match"], destinations(r)) for r in matched] == [
                ([{"headers": {"x-canary": {"exact": "1"}}}], [("api-canary", "v1-5-0", 80, None)])
            ]
            assert destinations(weighted) == [
                ("api", "v1-4-0", 80, 100 - percent),
                ("api-canary", "v1-5-0", 80, percent),
            ]
        else:
            # All on one version: its Service, whatever version later runs behind it.
            assert matched == []
            assert destinations(weighted) == [("api-canary", None, 80, 100)]

    assert len({vs["metadata"]["uid"] for vs in seen}) == 1
    generations = [vs["metadata"]["generation"] for vs in seen]
    assert generations == sorted(set(generations))

    rules = {
        name: k8s_cluster.get("destinationrules.networking.istio.io", "-n", namespace, name)
        for name in ("api", "api-canary")
    }
    assert {name: (dr["metadata"]["labels"], dr["spec"]) for name, dr in rules.items()} == {
        "api": (GOSHIP, {"host": "api", "subsets": [{"name": "v1-4-0", "labels": {"version": "v1.4.0"}}]}),
        "api-canary": (
            GOSHIP,
            {"host": "api-canary", "subsets": [{"name": "v1-5-0", "labels": {"version": "v1.5.0"}}]},
        ),
    }

    # Promoted in place: the stable Service's pods run the canary's version and take its traffic back.
    router.service_for[CANARY] = "api"
    router.apply(step(100))

    (promoted,) = virtual_service(k8s_cluster, namespace)["spec"]["http"]
    assert destinations(promoted) == [("api", None, 80, 100)]
    both = k8s_cluster.get("destinationrules.networking.istio.io", "-n", namespace, "api")["spec"]["subsets"]
    assert [s["name"] for s in both] == ["v1-4-0", "v1-5-0"]

    router.delete()

    assert missing(k8s_cluster, namespace, "virtualservices.networking.istio.io", "api")
    assert missing(k8s_cluster, namespace, "destinationrules.networking.istio.io", "api")
    assert missing(k8s_cluster, namespace, "destinationrules.networking.istio.io", "api-canary")
    router.delete()  # nothing left to delete is not an error


def test_istio_prefix_regex_cookie_matches_and_mirroring_are_stored_as_written(
    k8s_cluster: KubeCluster, kubectl: Kubectl, namespace: str
) -> None:
    router = istio_router(kubectl, namespace)

    router.apply(
        TrafficRules(
            weights={STABLE: 100, CANARY: 0},
            matches=(
                HeaderMatch(version=CANARY, header="X-User", kind="prefix", value="qa.team+"),
                HeaderMatch(version=CANARY, header="X-Build", kind="regex", value="^2[0-9]+$"),
                HeaderMatch(version=CANARY, cookie="canary", value="yes"),
            ),
            mirror_version=CANARY,
            mirror_percent=20,
        )
    )

    http = virtual_service(k8s_cluster, namespace)["spec"]["http"]
    assert [r["match"][0]["headers"] for r in http[:3]] == [
        {"x-user": {"prefix": "qa.team+"}},
        {"x-build": {"regex": "^2[0-9]+$"}},
        {"cookie": {"regex": "^(.*?;\\s*)?(canary=yes)(;.*)?$"}},
    ]
    assert destinations(http[3]) == [("api", "v1-4-0", 80, 100), ("api-canary", "v1-5-0", 80, 0)]
    assert http[3]["mirror"] == {"host": "api-canary", "subset": "v1-5-0", "port": {"number": 80}}
    assert http[3]["mirrorPercentage"] == {"value": 20}

    router.apply(step(50))

    weighted = virtual_service(k8s_cluster, namespace)["spec"]["http"]
    assert len(weighted) == 1 and "mirror" not in weighted[0] and "mirrorPercentage" not in weighted[0]


def test_istio_router_refuses_a_virtual_service_of_the_same_name_that_is_not_goships(
    k8s_cluster: KubeCluster, kubectl: Kubectl, namespace: str
) -> None:
    theirs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "api"},
        "spec": {"hosts": ["api"], "http": [{"route": [{"destination": {"host": "api"}}]}]},
    }
    k8s_cluster.apply(theirs, namespace=namespace)
    before = virtual_service(k8s_cluster, namespace)
    router = istio_router(kubectl, namespace)

    with pytest.raises(CheckFailedError, match=f"VirtualService {namespace}/api exists and is not goship's"):
        router.apply(step(5))
    with pytest.raises(CheckFailedError, match="is not goship's"):
        router.delete()

    after = virtual_service(k8s_cluster, namespace)
    assert (after["metadata"]["resourceVersion"], after["spec"]) == (
        before["metadata"]["resourceVersion"],
        before["spec"],
    )
    assert missing(k8s_cluster, namespace, "destinationrules.networking.istio.io", "api")


def test_istio_router_refuses_a_destination_rule_of_a_services_name_that_is_not_goships(
    k8s_cluster: KubeCluster, kubectl: Kubectl, namespace: str
) -> None:
    theirs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "api-canary"},
        "spec": {"host": "api-canary", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
    }
    k8s_cluster.apply(theirs, namespace=namespace)
    router = istio_router(kubectl, namespace)

    with pytest.raises(
        CheckFailedError, match=f"DestinationRule {namespace}/api-canary exists and is not goship's"
    ):
        router.apply(step(5))

    kept = k8s_cluster.get("destinationrules.networking.istio.io", "-n", namespace, "api-canary")
    assert kept["spec"] == theirs["spec"]
    assert missing(k8s_cluster, namespace, "virtualservices.networking.istio.io", "api")
    assert missing(k8s_cluster, namespace, "destinationrules.networking.istio.io", "api")


# -- ingress-nginx -------------------------------------------------------------------------------------

MAIN_INGRESS = nginx_ingress("api", "api", annotations={NGINX + "proxy-body-size": "8m"})


def nginx_router(kubectl: Kubectl, namespace: str) -> NginxRouter:
    return NginxRouter(
        kubectl,
        namespace,
        "api-canary",
        main_ingress="api",
        service_for=SERVICES,
        port=80,
        stable=STABLE,
        canary=CANARY,
    )


def ingress(k8s_cluster: KubeCluster, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = k8s_cluster.get("ingresses.networking.k8s.io", "-n", namespace, name)
    return found


def canary_annotations(obj: dict[str, Any]) -> dict[str, str]:
    return {
        k.removeprefix(NGINX): v for k, v in obj["metadata"]["annotations"].items() if k.startswith(NGINX)
    }


def test_nginx_router_carries_a_canary_from_5_to_100_percent_beside_an_untouched_main_ingress(
    k8s_cluster: KubeCluster, kubectl: Kubectl, namespace: str
) -> None:
    k8s_cluster.apply(MAIN_INGRESS, namespace=namespace)
    main_before = ingress(k8s_cluster, namespace, "api")
    router = nginx_router(kubectl, namespace)
    beta = HeaderMatch(version=CANARY, header="X-Canary", value="1")
    uids = set()

    for percent in PROGRESSION:
        router.apply(step(percent, beta))

        canary = ingress(k8s_cluster, namespace, "api-canary")
        uids.add(canary["metadata"]["uid"])
        assert canary["metadata"]["labels"] == GOSHIP
        by_header = {"canary-by-header": "X-Canary", "canary-by-header-value": "1"} if percent < 100 else {}
        assert canary_annotations(canary) == {
            "canary": "true",
            "canary-weight": str(percent),
            "canary-weight-total": "100",
            **by_header,
        }
        assert canary["spec"] == nginx_ingress_spec("api-canary")
    assert len(uids) == 1

    router.apply(step(0))  # aborted: all to the stable version, the canary Ingress stays at weight 0
    assert canary_annotations(ingress(k8s_cluster, namespace, "api-canary"))["canary-weight"] == "0"

    router.delete()

    assert missing(k8s_cluster, namespace, "ingresses.networking.k8s.io", "api-canary")
    router.delete()  # nothing left to delete is not an error
    main_after = ingress(k8s_cluster, namespace, "api")
    assert main_after["metadata"]["resourceVersion"] == main_before["metadata"]["resourceVersion"]
    assert main_after["spec"] == MAIN_INGRESS["spec"]


def test_nginx_pattern_and_cookie_annotations_are_stored_as_written(
    k8s_cluster: KubeCluster, kubectl: Kubectl, namespace: str
) -> None:
    k8s_cluster.apply(MAIN_INGRESS, namespace=namespace)
    router = nginx_router(kubectl, namespace)

    router.apply(
        TrafficRules(
            weights={STABLE: 90, CANARY: 10},
            matches=(
                HeaderMatch(version=CANARY, header="X-User", kind="prefix", value="qa.team+"),
                HeaderMatch(version=CANARY, cookie="beta", value="always"),
            ),
        )
    )

    assert canary_annotations(ingress(k8s_cluster, namespace, "api-canary")) == {
        "canary": "true",
        "canary-weight": "10",
        "canary-weight-total": "100",
        "canary-by-header": "X-User",
        "canary-by-header-pattern": "^qa\\.team\\+",
        "canary-by-cookie": "beta",
    }


def test_nginx_router_refuses_an_ingress_of_the_same_name_that_is_not_goships(
    k8s_cluster: KubeCluster, kubectl: Kubectl, namespace: str
) -> None:
    k8s_cluster.apply(MAIN_INGRESS, namespace=namespace)
    theirs = {**MAIN_INGRESS, "metadata": {"name": "api-canary"}}
    k8s_cluster.apply(theirs, namespace=namespace)
    before = ingress(k8s_cluster, namespace, "api-canary")
    router = nginx_router(kubectl, namespace)

    with pytest.raises(CheckFailedError, match=f"Ingress {namespace}/api-canary exists and is not goship's"):
        router.apply(step(5))
    with pytest.raises(CheckFailedError, match="is not goship's"):
        router.delete()

    after = ingress(k8s_cluster, namespace, "api-canary")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert "annotations" not in after["metadata"] or not canary_annotations(after)


def test_nginx_router_says_the_main_ingress_is_missing(kubectl: Kubectl, namespace: str) -> None:
    router = nginx_router(kubectl, namespace)

    with pytest.raises(
        ClusterError, match=f"Ingress {namespace}/api \\(the main Ingress\\) does not exist"
    ) as raised:
        router.apply(step(5))
    assert raised.value.reason == "NotFound"
