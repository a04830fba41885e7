"""The objects the Istio and ingress-nginx traffic routers write, built without a cluster; and the rules
each refuses because its provider cannot carry them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from goship.config import KubernetesConfig
from goship.errors import CheckFailedError, UsageError
from goship.kube.istio import IstioRouter, subset_name
from goship.kube.kubectl import Kubectl
from goship.kube.manifests import find, render, workload
from goship.kube.nginx import NginxRouter
from goship.kube.release import Release
from goship.rollout.ports import HeaderMatch, TrafficRules
from tests.ingresses import nginx_ingress_spec

NO_CLUSTER = Kubectl(program="/nonexistent/kubectl")
SERVICES = {"v1.4.0": "api", "v1.5.0": "api-canary"}


def istio(**overrides: Any) -> IstioRouter:
    options: dict[str, Any] = {"host": "api", "service_for": SERVICES, "port": 80, **overrides}
    return IstioRouter(NO_CLUSTER, "shop", "api", **options)


def nginx(**overrides: Any) -> NginxRouter:
    options: dict[str, Any] = {
        "main_ingress": "api",
        "service_for": SERVICES,
        "port": 80,
        "stable": "v1.4.0",
        "canary": "v1.5.0",
        **overrides,
    }
    return NginxRouter(NO_CLUSTER, "shop", "api-canary", **options)


def main_ingress(**spec: Any) -> dict[str, Any]:
    backend = {"service": {"name": "api", "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "api.example.com",
                    "http": {
                        "paths": [
                            {"path": "/", "pathType": "Prefix", "backend": backend},
                            {
                                "path": "/static",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "assets", "port": {"number": 80}}},
                            },
                        ]
                    },
                }
            ],
            **spec,
        },
    }


# -- Istio ---------------------------------------------------------------------------------------------


def test_istio_weighted_route_names_each_versions_subset_of_its_service() -> None:
    vs = istio().virtual_service(TrafficRules(weights={"v1.4.0": 95, "v1.5.0": 5}))

    assert vs["apiVersion"] == "networking.istio.io/v1"
    assert vs["metadata"] == {
        "name": "api",
        "namespace": "shop",
        "labels": {"app.kubernetes.io/managed-by": "goship"},
    }
    assert vs["spec"] == {
        "hosts": ["api"],
        "http": [
            {
                "name": "weights",
                "route": [
                    {
                        "destination": {"host": "api", "subset": "v1-4-0", "port": {"number": 80}},
                        "weight": 95,
                    },
                    {
                        "destination": {"host": "api-canary", "subset": "v1-5-0", "port": {"number": 80}},
                        "weight": 5,
                    },
                ],
            }
        ],
    }


@pytest.mark.parametrize("weights", [{"v1.4.0": 100}, {"v1.4.0": 100, "v1.5.0": 0}])
def test_istio_all_traffic_on_one_version_names_its_service_without_a_subset(weights: dict[str, int]) -> None:
    vs = istio().virtual_service(TrafficRules(weights=weights))

    assert vs["spec"]["http"] == [
        {
            "name": "weights",
            "route": [{"destination": {"host": "api", "port": {"number": 80}}, "weight": 100}],
        }
    ]


def test_istio_follows_a_promotion_in_place_that_points_the_canary_at_the_stable_service() -> None:
    router = istio()
    router.service_for["v1.5.0"] = "api"

    vs = router.virtual_service(TrafficRules(weights={"v1.4.0": 50, "v1.5.0": 50}))

    assert [r["destination"] for r in vs["spec"]["http"][0]["route"]] == [
        {"host": "api", "subset": "v1-4-0", "port": {"number": 80}},
        {"host": "api", "subset": "v1-5-0", "port": {"number": 80}},
    ]
    (rule,) = router.destination_rules()
    assert [s["name"] for s in rule["spec"]["subsets"]] == ["v1-4-0", "v1-5-0"]


def test_istio_destination_rules_select_pods_by_the_version_label_deployments_carry() -> None:
    router = istio(service_for={"v1.4.0+incompatible": "api", "v1.5.0": "api-canary"})

    rules = router.destination_rules()

    assert [(r["kind"], r["metadata"]["name"], r["spec"]) for r in rules] == [
        (
            "DestinationRule",
            "api",
            {
                "host": "api",
                "subsets": [{"name": "v1-4-0-incompatible", "labels": {"version": "v1.4.0_incompatible"}}],
            },
        ),
        (
            "DestinationRule",
            "api-canary",
            {"host": "api-canary", "subsets": [{"name": "v1-5-0", "labels": {"version": "v1.5.0"}}]},
        ),
    ]
    assert all(r["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "goship"} for r in rules)


def test_istio_subsets_select_the_pods_of_the_deployments_goship_renders() -> None:
    version = "v1.4.0+incompatible"
    release = Release("api", "registry.example.com/api", "sha256:" + "ab" * 32, version, "0" * 40)
    config = KubernetesConfig()
    objs = render(
        workload("api", ports=[8080], user="65532:65532", config=config), release, config, namespace="shop"
    )
    pod_labels = find(objs, "Deployment")["spec"]["template"]["metadata"]["labels"]

    (rule,) = istio(service_for={version: "api"}).destination_rules()

    (subset,) = rule["spec"]["subsets"]
    assert subset["labels"].items() <= pod_labels.items()


def test_istio_two_versions_behind_one_service_are_two_subsets_of_one_destination_rule() -> None:
    (rule,) = istio(service_for={"v1": "api", "v2": "api"}).destination_rules()

    assert rule["spec"]["subsets"] == [
        {"name": "v1", "labels": {"version": "v1"}},
        {"name": "v2", "labels": {"version": "v2"}},
    ]


def test_istio_refuses_versions_whose_subset_names_would_collide() -> None:
    with pytest.raises(
        UsageError,
        match=re.escape("versions 'v1.0' and 'v1_0' behind Service api would share Istio subset 'v1-0'"),
    ):
        istio(service_for={"v1.0": "api", "v1_0": "api"})


@pytest.mark.parametrize(
    ("version", "subset"),
    [
        ("v1.4.0", "v1-4-0"),
        ("V2.0.0-RC.1", "v2-0-0-rc-1"),
        ("v1.0.0+build.7", "v1-0-0-build-7"),
        ("x" * 80, "x" * 63),
    ],
)
def test_subset_names_are_dns_labels(version: str, subset: str) -> None:
    assert subset_name(version) == subset
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", subset)


def test_istio_header_matches_come_first_one_route_each_with_lower_case_names() -> None:
    vs = istio().virtual_service(
        TrafficRules(
            weights={"v1.4.0": 100, "v1.5.0": 0},
            matches=(
                HeaderMatch(version="v1.5.0", header="X-Canary", value="1"),
                HeaderMatch(version="v1.5.0", header="X-User", kind="prefix", value="qa."),
                HeaderMatch(version="v1.4.0", header="X-Build", kind="regex", value="2[0-9]+"),
            ),
        )
    )

    http = vs["spec"]["http"]
    assert [(r["name"], r["match"]) for r in http[:3]] == [
        ("match-1", [{"headers": {"x-canary": {"exact": "1"}}}]),
        ("match-2", [{"headers": {"x-user": {"prefix": "qa."}}}]),
        ("match-3", [{"headers": {"x-build": {"regex": "2[0-9]+"}}}]),
    ]
    assert [r["route"] for r in http[:3]] == [
        [{"destination": {"host": "api-canary", "subset": "v1-5-0", "port": {"number": 80}}}],
        [{"destination": {"host": "api-canary", "subset": "v1-5-0", "port": {"number": 80}}}],
        [{"destination": {"host": "api", "subset": "v1-4-0", "port": {"number": 80}}}],
    ]
    assert http[3]["name"] == "weights" and "match" not in http[3]


@pytest.mark.parametrize(
    ("kind", "value", "pattern"),
    [
        ("exact", "yes", r"^(.*?;\s*)?(canary=yes)(;.*)?$"),
        ("prefix", "qa.", r"^(.*?;\s*)?(canary=qa\.[^;]*)(;.*)?$"),
        ("regex", "y|yes", r"^(.*?;\s*)?(canary=(?:y|yes))(;.*)?$"),
    ],
)
def test_istio_cookie_matches_are_regular_expressions_on_the_cookie_header(
    kind: Any, value: str, pattern: str
) -> None:
    vs = istio().virtual_service(
        TrafficRules(
            weights={"v1.4.0": 100},
            matches=(HeaderMatch(version="v1.5.0", cookie="canary", kind=kind, value=value),),
        )
    )

    assert vs["spec"]["http"][0]["match"] == [{"headers": {"cookie": {"regex": pattern}}}]


@pytest.mark.parametrize(
    ("header", "matched"),
    [
        ("canary=yes", True),
        ("session=abc; canary=yes", True),
        ("session=abc;canary=yes; theme=dark", True),
        ("canary=yesterday", False),
        ("notcanary=yes", False),
        ("session=canary=yes", False),
    ],
)
def test_istio_cookie_pattern_finds_the_cookie_wherever_it_is_and_only_that_cookie(
    header: str, matched: bool
) -> None:
    vs = istio().virtual_service(
        TrafficRules(
            weights={"v1.4.0": 100}, matches=(HeaderMatch(version="v1.5.0", cookie="canary", value="yes"),)
        )
    )
    pattern = vs["spec"]["http"][0]["match"][0]["headers"]["cookie"]["regex"]

    assert bool(re.fullmatch(pattern, header)) is matched


def test_istio_mirrors_a_share_of_the_weighted_route_to_the_mirror_version() -> None:
    vs = istio().virtual_service(
        TrafficRules(weights={"v1.4.0": 100, "v1.5.0": 0}, mirror_version="v1.5.0", mirror_percent=10)
    )

    weighted = vs["spec"]["http"][-1]
    assert weighted["mirror"] == {"host": "api-canary", "subset": "v1-5-0", "port": {"number": 80}}
    assert weighted["mirrorPercentage"] == {"value": 10.0}


def test_istio_mirror_of_zero_percent_writes_no_mirror_since_istio_reads_no_percentage_as_all() -> None:
    vs = istio().virtual_service(
        TrafficRules(weights={"v1.4.0": 100}, mirror_version="v1.5.0", mirror_percent=0)
    )

    assert "mirror" not in vs["spec"]["http"][-1]
    assert "mirrorPercentage" not in vs["spec"]["http"][-1]


def test_istio_binds_to_gateways_when_given_some() -> None:
    vs = istio(host="api.example.com", gateways=["istio-system/public"]).virtual_service(
        TrafficRules(weights={"v1.4.0": 100})
    )

    assert vs["spec"]["hosts"] == ["api.example.com"]
    assert vs["spec"]["gateways"] == ["istio-system/public"]


def test_istio_refuses_a_sticky_header_and_points_to_a_header_match() -> None:
    with pytest.raises(UsageError, match="sticky_header 'X-User-Id'") as raised:
        istio().virtual_service(TrafficRules(weights={"v1.4.0": 100}, sticky_header="X-User-Id"))

    assert raised.value.hint is not None and "header match" in raised.value.hint


@pytest.mark.parametrize(
    ("rules", "says"),
    [
        (
            TrafficRules(weights={"v1.4.0": 90, "v1.5.0": 5}),
            "summing to 100 \\(found \\{'v1.4.0': 90, 'v1.5.0': 5\\}\\)",
        ),
        (TrafficRules(weights={"v1.4.0": 110, "v1.5.0": -10}), "0 or more each"),
        (TrafficRules(weights={"v9": 100}), "no Service for version 'v9' \\(known: v1.4.0, v1.5.0\\)"),
        (
            TrafficRules(weights={"v1.4.0": 100}, matches=(HeaderMatch(version="v1.5.0"),)),
            "needs either a header or a cookie",
        ),
        (
            TrafficRules(weights={"v1.4.0": 100}, mirror_version="v1.5.0", mirror_percent=101),
            "mirror_percent: expected 0 to 100 \\(found 101\\)",
        ),
    ],
)
def test_istio_refuses_rules_it_cannot_write(rules: TrafficRules, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        istio().virtual_service(rules)


# -- ingress-nginx -------------------------------------------------------------------------------------


def test_nginx_canary_ingress_copies_the_paths_to_the_stable_service_and_leads_them_to_the_canary() -> None:
    ingress = nginx().canary_ingress(TrafficRules(weights={"v1.4.0": 95, "v1.5.0": 5}), main_ingress())

    assert ingress["metadata"] == {
        "name": "api-canary",
        "namespace": "shop",
        "labels": {"app.kubernetes.io/managed-by": "goship"},
        "annotations": {
            "nginx.ingress.kubernetes.io/canary": "true",
            "nginx.ingress.kubernetes.io/canary-weight": "5",
            "nginx.ingress.kubernetes.io/canary-weight-total": "100",
        },
    }
    assert ingress["spec"] == nginx_ingress_spec("api-canary")


def test_nginx_keeps_a_legacy_ingress_class_annotation() -> None:
    main = main_ingress()
    del main["spec"]["ingressClassName"]
    main["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx-internal"}

    ingress = nginx().canary_ingress(TrafficRules(weights={"v1.4.0": 100}), main)

    assert "ingressClassName" not in ingress["spec"]
    assert ingress["metadata"]["annotations"]["kubernetes.io/ingress.class"] == "nginx-internal"


@pytest.mark.parametrize(
    ("weights", "canary_weight"),
    [
        ({"v1.4.0": 100}, "0"),
        ({"v1.4.0": 100, "v1.5.0": 0}, "0"),
        ({"v1.4.0": 50, "v1.5.0": 50}, "50"),
        ({"v1.5.0": 100}, "100"),
    ],
)
def test_nginx_canary_weight_is_the_canary_versions_share(
    weights: dict[str, int], canary_weight: str
) -> None:
    ingress = nginx().canary_ingress(TrafficRules(weights=weights), main_ingress())

    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == canary_weight


@pytest.mark.parametrize(
    ("match", "annotations"),
    [
        (
            HeaderMatch(version="v1.5.0", header="X-Canary", value="1"),
            {"canary-by-header": "X-Canary", "canary-by-header-value": "1"},
        ),
        (
            HeaderMatch(version="v1.5.0", header="X-User", kind="prefix", value="qa.team+"),
            {"canary-by-header": "X-User", "canary-by-header-pattern": "^qa\\.team\\+"},
        ),
        (
            HeaderMatch(version="v1.5.0", header="X-Build", kind="regex", value="2[0-9]+|dev"),
            {"canary-by-header": "X-Build", "canary-by-header-pattern": "^(?:2[0-9]+|dev)$"},
        ),
        (HeaderMatch(version="v1.5.0", cookie="beta", value="always"), {"canary-by-cookie": "beta"}),
    ],
)
def test_nginx_header_and_cookie_matches_become_canary_annotations(
    match: HeaderMatch, annotations: dict[str, str]
) -> None:
    ingress = nginx().canary_ingress(TrafficRules(weights={"v1.4.0": 100}, matches=(match,)), main_ingress())

    written = ingress["metadata"]["annotations"]
    assert {
        k.removeprefix("nginx.ingress.kubernetes.io/"): v for k, v in written.items() if "canary-by" in k
    } == annotations


def test_nginx_takes_one_header_and_one_cookie_match_together() -> None:
    rules = TrafficRules(
        weights={"v1.4.0": 90, "v1.5.0": 10},
        matches=(
            HeaderMatch(version="v1.5.0", header="X-Canary", value="1"),
            HeaderMatch(version="v1.5.0", cookie="beta", value="always"),
        ),
    )

    annotations = nginx().canary_ingress(rules, main_ingress())["metadata"]["annotations"]

    assert annotations["nginx.ingress.kubernetes.io/canary-by-header"] == "X-Canary"
    assert annotations["nginx.ingress.kubernetes.io/canary-by-cookie"] == "beta"


@pytest.mark.parametrize(
    ("rules", "says"),
    [
        (
            TrafficRules(weights={"v1.4.0": 100}, sticky_header="X-User-Id"),
            "cannot split traffic by a hash of a header",
        ),
        (
            TrafficRules(weights={"v1.4.0": 100}, mirror_version="v1.5.0", mirror_percent=10),
            "cannot mirror a share of requests",
        ),
        (
            TrafficRules(weights={"v1.4.0": 80, "v1.5.0": 10, "v1.6.0": 10}),
            "splits between two versions, 'v1.4.0' and 'v1.5.0' \\(found weights for 'v1.6.0'\\)",
        ),
        (TrafficRules(weights={"v1.4.0": 80, "v1.5.0": 10}), "summing to 100"),
        (
            TrafficRules(
                weights={"v1.4.0": 100}, matches=(HeaderMatch(version="v1.4.0", header="X-Old", value="1"),)
            ),
            "to the canary only \\('v1.5.0'\\); a match for 'v1.4.0' \\(header X-Old exact '1'\\)",
        ),
        (
            TrafficRules(
                weights={"v1.4.0": 100},
                matches=(
                    HeaderMatch(version="v1.5.0", header="X-A", value="1"),
                    HeaderMatch(version="v1.5.0", header="X-B", value="1"),
                ),
            ),
            "at most one header match \\(found 2: header X-A exact '1', header X-B exact '1'\\)",
        ),
        (
            TrafficRules(
                weights={"v1.4.0": 100}, matches=(HeaderMatch(version="v1.5.0", cookie="beta", value="yes"),)
            ),
            "only when its value is 'always' \\(found cookie beta exact 'yes'\\)",
        ),
        (
            TrafficRules(
                weights={"v1.4.0": 100},
                matches=(HeaderMatch(version="v1.5.0", cookie="beta", kind="prefix", value="always"),),
            ),
            "only when its value is 'always' \\(found cookie beta prefix 'always'\\)",
        ),
    ],
)
def test_nginx_refuses_what_ingress_nginx_cannot_express(rules: TrafficRules, says: str) -> None:
    with pytest.raises(UsageError, match=says) as raised:
        nginx().canary_ingress(rules, main_ingress())

    if "summing" not in says:
        assert raised.value.hint


def test_nginx_refuses_a_main_ingress_with_no_path_to_the_stable_service() -> None:
    main = main_ingress()
    main["spec"]["rules"][0]["http"]["paths"] = main["spec"]["rules"][0]["http"]["paths"][1:]

    with pytest.raises(CheckFailedError, match="Ingress shop/api has no path to Service api"):
        nginx().canary_ingress(TrafficRules(weights={"v1.4.0": 100}), main)


def test_nginx_refuses_a_main_ingress_that_is_itself_a_canary() -> None:
    main = main_ingress()
    main["metadata"]["annotations"] = {"nginx.ingress.kubernetes.io/canary": "true"}

    with pytest.raises(CheckFailedError, match="is itself a canary Ingress"):
        nginx().canary_ingress(TrafficRules(weights={"v1.4.0": 100}), main)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"main_ingress": "api-canary"}, "needs a name of its own"),
        ({"canary": "v1.4.0"}, "found 'v1.4.0' twice"),
        ({"canary": "v2"}, "no Service for the canary version 'v2'"),
    ],
)
def test_nginx_router_refuses_a_setup_it_cannot_work_with(overrides: dict[str, Any], says: str) -> None:
    with pytest.raises(UsageError, match=says):
        nginx(**overrides)
