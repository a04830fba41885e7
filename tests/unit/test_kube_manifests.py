"""The Kubernetes objects goship renders from goship.yaml: the defaults a careful platform team would
pick, and what each setting changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from goship.config import KubeHpaConfig, KubePdbConfig, KubernetesConfig, parse_config
from goship.errors import ConfigError, UsageError
from goship.kube.deploy import keep_live_replicas, resource
from goship.kube.manifests import (
    find,
    intstr,
    label_value,
    memory_bytes,
    render,
    strategy_summary,
    to_list,
    to_yaml,
    workload,
)
from goship.kube.release import Release, release_of_image

DIGEST = "sha256:" + "ab" * 32
RELEASE = Release("orders", "registry.example.com/team/orders", DIGEST, "v1.4.0", "1a2b3c4d5e6f" + "0" * 28)


def objects(config: KubernetesConfig | None = None, **kw: Any) -> list[dict[str, Any]]:
    config = config or KubernetesConfig()
    work = workload(
        "orders", ports=kw.pop("ports", [8080]), user=kw.pop("user", "65532:65532"), config=config
    )
    return render(work, RELEASE, config, namespace=kw.pop("namespace", "shop"))


def container(objs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = find(objs, "Deployment")["spec"]["template"]["spec"]
    return dict(spec["containers"][0])


def test_the_four_objects_in_order_with_their_api_versions() -> None:
    assert [(o["apiVersion"], o["kind"]) for o in objects()] == [
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("policy/v1", "PodDisruptionBudget"),
    ]
    assert {o["metadata"]["namespace"] for o in objects()} == {"shop"}


def test_the_image_is_pinned_by_digest_and_the_release_is_on_the_deployment_and_its_pods() -> None:
    deployment = find(objects(), "Deployment")

    assert container(objects())["image"] == f"registry.example.com/team/orders@{DIGEST}"
    meta = deployment["metadata"]
    assert (
        meta["annotations"]["kubernetes.io/change-cause"]
        == f"goship deploy v1.4.0 {DIGEST} commit 1a2b3c4d5e6f"
    )
    template = deployment["spec"]["template"]["metadata"]
    for notes in (meta["annotations"], template["annotations"]):
        assert notes["goship.dev/version"] == "v1.4.0"
        assert notes["goship.dev/digest"] == DIGEST
        assert notes["goship.dev/commit"] == RELEASE.commit
    assert template["labels"]["app"] == "orders"
    assert template["labels"]["version"] == "v1.4.0"
    # The selector must never change between releases: only the app label.
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "orders"}}


def test_default_rolling_update_keeps_full_capacity_and_fails_after_ten_minutes_without_progress() -> None:
    spec = find(objects(), "Deployment")["spec"]

    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
    }
    assert spec["replicas"] == 3
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["revisionHistoryLimit"] == 10
    assert (
        strategy_summary(KubernetesConfig())
        == "rolling update of 3 replicas: up to 1 extra pod, none unavailable"
    )


def test_default_probes_readiness_liveness_and_a_startup_probe_on_the_named_port() -> None:
    c = container(objects())

    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert c["readinessProbe"] == {
        "httpGet": {"path": "/readyz", "port": "http"},
        "periodSeconds": 5,
        "timeoutSeconds": 1,
        "failureThreshold": 3,
    }
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["livenessProbe"]["periodSeconds"] == 10
    # A minute to start before liveness may restart it: 30 probes, 2 s apart.
    assert (c["startupProbe"]["periodSeconds"], c["startupProbe"]["failureThreshold"]) == (2, 30)


def test_default_resources_request_cpu_and_memory_limit_memory_only_and_set_gomemlimit_under_it() -> None:
    c = container(objects())

    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
    assert c["env"] == [{"name": "GOMEMLIMIT", "value": str(int(256 * 2**20 * 0.9))}]


def test_default_security_nonroot_read_only_no_capabilities_no_token_and_a_writable_tmp() -> None:
    deployment = find(objects(), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    c = container(objects())

    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
    }
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["automountServiceAccountToken"] is False
    assert c["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]


def test_default_shutdown_pauses_before_sigterm_within_the_grace_period() -> None:
    pod = find(objects(), "Deployment")["spec"]["template"]["spec"]

    assert pod["terminationGracePeriodSeconds"] == 30
    assert pod["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}


def test_no_pre_stop_sleep_when_it_is_zero() -> None:
    assert "lifecycle" not in container(objects(KubernetesConfig(pre_stop_sleep=0)))


def test_service_hpa_and_pdb_defaults() -> None:
    objs = objects()

    assert find(objs, "Service")["spec"] == {
        "type": "ClusterIP",
        "selector": {"app": "orders"},
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
    }
    hpa = find(objs, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "orders"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    assert hpa["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert hpa["behavior"]["scaleUp"]["policies"] == [
        {"type": "Percent", "value": 100, "periodSeconds": 15},
        {"type": "Pods", "value": 4, "periodSeconds": 15},
    ]
    assert hpa["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 300,
        "selectPolicy": "Min",
        "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}],
    }
    assert find(objs, "PodDisruptionBudget")["spec"] == {
        "selector": {"matchLabels": {"app": "orders"}},
        "maxUnavailable": 1,
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }


def test_hpa_and_pdb_can_be_turned_off_and_pdb_can_ask_for_min_available() -> None:
    off = KubernetesConfig(hpa=KubeHpaConfig(enabled=False), pdb=KubePdbConfig(enabled=False))
    assert [o["kind"] for o in objects(off)] == ["Deployment", "Service"]
    assert "goship.dev/autoscaled" not in find(objects(off), "Deployment")["metadata"]["annotations"]

    pdb = find(objects(KubernetesConfig(pdb=KubePdbConfig(min_available="50%"))), "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == "50%"
    assert "maxUnavailable" not in pdb["spec"]


def test_settings_from_goship_yaml_reach_the_manifest() -> None:
    config = parse_config(
        """
kubernetes:
  replicas: 2
  max_surge: "1"
  max_unavailable: 50%
  progress_deadline: 2m
  port: 9090
  service_type: LoadBalancer
  probes:
    readiness: {path: /ready, period: 1.5s}
    startup: {enabled: false}
  resources: {requests: {cpu: 250m}, limits: {}}
  hpa: {min_replicas: 4, max_replicas: 8, cpu_utilization: 60}
  pod_labels: {team: payments}
  pod_annotations: {prometheus.io/scrape: "true"}
""",
        source="goship.yaml",
    ).kubernetes
    objs = objects(config)
    deployment = find(objs, "Deployment")
    c = container(objs)

    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": "50%"}
    assert deployment["spec"]["progressDeadlineSeconds"] == 120
    assert deployment["spec"]["replicas"] == 4  # the HPA's minimum
    assert c["ports"][0]["containerPort"] == 9090
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["readinessProbe"]["periodSeconds"] == 2  # whole seconds, rounded up
    assert "startupProbe" not in c
    assert c["resources"] == {"requests": {"cpu": "250m"}}
    assert "env" not in c  # no memory limit, no GOMEMLIMIT
    assert find(objs, "Service")["spec"]["type"] == "LoadBalancer"
    assert find(objs, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == 4
    template = deployment["spec"]["template"]["metadata"]
    assert template["labels"]["team"] == "payments"
    assert template["annotations"]["prometheus.io/scrape"] == "true"
    assert strategy_summary(config) == "rolling update of 2 replicas: up to 1 extra pod, up to 1 unavailable"


def test_pod_labels_cannot_override_the_selector_label() -> None:
    objs = objects(KubernetesConfig(pod_labels={"app": "other", "team": "x"}))

    assert find(objs, "Deployment")["spec"]["template"]["metadata"]["labels"]["app"] == "orders"


def test_the_port_defaults_to_the_services_first_port_then_8080() -> None:
    assert container(objects(ports=[7000, 7001]))["ports"][0]["containerPort"] == 7000
    assert container(objects(ports=[]))["ports"][0]["containerPort"] == 8080


def test_no_namespace_leaves_it_to_kubectl() -> None:
    assert all("namespace" not in o["metadata"] for o in objects(namespace=None))


@pytest.mark.parametrize("name", ["orders_v2", "2fast", "a.b", "x" * 64])
def test_a_service_name_kubernetes_cannot_take_is_refused(name: str) -> None:
    with pytest.raises(UsageError, match="cannot name Kubernetes objects"):
        workload(name, ports=[], user="65532", config=KubernetesConfig())


def test_a_service_running_as_root_is_refused() -> None:
    with pytest.raises(ConfigError, match="runs as root"):
        objects(user="0:0")


def test_a_non_numeric_user_keeps_run_as_non_root_without_a_uid() -> None:
    pod = find(objects(user="app"), "Deployment")["spec"]["template"]["spec"]

    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


@pytest.mark.parametrize(
    ("text", "value"),
    [("v1.4.0", "v1.4.0"), ("v2.0.0+incompatible", "v2.0.0_incompatible"), ("v0.0.0-2026" + "9" * 60, None)],
)
def test_versions_become_valid_label_values(text: str, value: str | None) -> None:
    got = label_value(text)

    assert len(got) <= 63
    if value is not None:
        assert got == value


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [("256Mi", 256 * 2**20), ("1Gi", 2**30), ("500M", 500 * 10**6), ("1000", 1000), ("lots", None)],
)
def test_memory_quantities(quantity: str, expected: int | None) -> None:
    assert memory_bytes(quantity) == expected


def test_intstr_turns_digit_strings_into_numbers_and_keeps_percentages() -> None:
    assert (intstr("2"), intstr("25%"), intstr(0)) == (2, "25%", 0)


def test_yaml_and_list_output_carry_the_same_objects() -> None:
    objs = objects()

    assert list(yaml.safe_load_all(to_yaml(objs))) == objs
    document = to_list(objs)
    assert document["kind"] == "List"
    assert json.loads(json.dumps(document))["items"] == objs


def test_config_refuses_a_rollout_that_cannot_move_and_bad_quantities_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("kubernetes:\n  max_surge: 0\n  max_unavailable: 0%\n", source="goship.yaml")
    assert "max_surge and max_unavailable may not both be 0" in "\n".join(info.value.details)

    with pytest.raises(ConfigError) as info:
        parse_config(
            "kubernetes:\n  max_surge: lots\n  resources: {limits: {memory: big}}\n  pdb: {max_unavailable: 1, min_available: 1}\n",
            source="goship.yaml",
        )
    details = "\n".join(info.value.details)
    assert "kubernetes.max_surge" in details
    assert "expected a Kubernetes quantity" in details
    assert "not both" in details


def test_config_refuses_an_hpa_maximum_below_the_replicas_and_a_pre_stop_longer_than_the_grace() -> None:
    with pytest.raises(ConfigError, match="problem") as info:
        parse_config("kubernetes:\n  replicas: 12\n", source="goship.yaml")
    assert "hpa.max_replicas (10) is below the minimum (12 replicas)" in info.value.details[0]

    with pytest.raises(ConfigError) as info:
        parse_config(
            "kubernetes:\n  termination_grace_period: 5s\n  pre_stop_sleep: 5\n", source="goship.yaml"
        )
    assert "must be longer than pre_stop_sleep" in info.value.details[0]


def test_the_hpa_keeps_its_replica_count_across_deploys() -> None:
    deployment = find(objects(), "Deployment")

    keep_live_replicas(deployment, {"spec": {"replicas": 7}})
    assert deployment["spec"]["replicas"] == 7

    fixed = find(objects(KubernetesConfig(hpa=KubeHpaConfig(enabled=False))), "Deployment")
    keep_live_replicas(fixed, {"spec": {"replicas": 7}})
    assert fixed["spec"]["replicas"] == 3


def test_kubectl_resource_names() -> None:
    assert [resource(o) for o in objects()] == [
        "deployment.apps",
        "service",
        "horizontalpodautoscaler.autoscaling",
        "poddisruptionbudget.policy",
    ]


def test_an_image_by_reference_must_carry_a_digest() -> None:
    release = release_of_image(
        f"registry.example.com/team/orders:v1@{DIGEST}", service="orders", version=None
    )
    assert (release.repository, release.digest, release.version) == (
        "registry.example.com/team/orders",
        DIGEST,
        "unknown",
    )

    with pytest.raises(UsageError, match="expected REGISTRY/REPOSITORY@sha256") as info:
        release_of_image("registry.example.com/team/orders:v1", service="orders", version="v1")
    assert info.value.hint is not None and "by digest" in info.value.hint
