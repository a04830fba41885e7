"""The canary's Kubernetes objects and settings, without a cluster (tests/integration/test_kube_canary.py
runs it on one)."""

from __future__ import annotations

from typing import Any

import pytest

from goship.cli.canary_kube import driven
from goship.config import CanaryMetricsConfig, KubernetesConfig
from goship.errors import ConfigError, UsageError
from goship.kube.canary import (
    CANARY_OF_LABEL,
    canary_objects,
    metrics_template,
    prometheus_metrics,
    stable_version,
)
from goship.kube.kubectl import ClusterError
from goship.kube.manifests import render, workload
from goship.kube.release import Release
from goship.rollout.canary_state import CanaryState, Event

RELEASE = Release("orders", "registry.example.com/team/orders", "sha256:" + "c" * 64, "v1.4.0", "f" * 40)
WORK = workload("orders", ports=[8080], user="65532:65532", config=KubernetesConfig())


def objects(live: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    deployment, service = canary_objects(WORK, RELEASE, KubernetesConfig(), namespace="shop", live=live)
    return deployment, service


def test_the_canary_is_named_and_selected_apart_from_stable_so_no_service_takes_the_others_pods() -> None:
    deployment, service = objects()
    stable = render(WORK, RELEASE, KubernetesConfig(), namespace="shop")

    assert (deployment["metadata"]["name"], service["metadata"]["name"]) == ("orders-canary", "orders-canary")
    pods = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": "orders-canary"}
    assert service["spec"]["selector"] == {"app": "orders-canary"}
    assert pods["version"] == "v1.4.0" and pods[CANARY_OF_LABEL] == "orders"
    stable_selector = stable[1]["spec"]["selector"]
    assert not set(stable_selector.items()) <= set(pods.items())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == RELEASE.image
    # Rendered like the stable Deployment in every other respect (probes, resources, security).
    stable_container = stable[0]["spec"]["template"]["spec"]["containers"][0]
    assert {k: v for k, v in container.items() if k != "name"} == {
        k: v for k, v in stable_container.items() if k != "name"
    }


def test_a_new_canary_deployment_starts_at_zero_and_an_existing_one_keeps_its_count() -> None:
    assert objects()[0]["spec"]["replicas"] == 0
    assert "replicas" not in objects(live={"spec": {"replicas": 3}})[0]["spec"]
    assert "goship.dev/autoscaled" not in objects()[0]["metadata"].get("annotations", {})


def test_the_stable_version_is_the_one_goship_deploy_annotated() -> None:
    live = {"metadata": {"annotations": {"goship.dev/version": "v1.3.0"}}}
    assert stable_version(live, service="orders", namespace="shop") == "v1.3.0"
    with pytest.raises(ClusterError, match="Deployment shop/orders does not exist") as missing:
        stable_version(None, service="orders", namespace="shop")
    assert missing.value.hint is not None and "goship deploy" in missing.value.hint
    with pytest.raises(UsageError, match="was not deployed by goship"):
        stable_version({"metadata": {}}, service="orders", namespace="shop")


def test_metrics_templates_take_fixed_labels_a_version_label_and_nginx_canary_matchers() -> None:
    client = metrics_template(
        CanaryMetricsConfig(labels={"namespace": "shop"}, version_label="app_version"),
        stable="v1",
        canary="v2",
        canary_upstream="shop-orders-canary-80",
    )
    query = client.render("requests", "v2", 60)
    assert 'namespace="shop"' in query and 'app_version="v2"' in query
    nginx = metrics_template(
        CanaryMetricsConfig(template="nginx-ingress"),
        stable="v1",
        canary="v2",
        canary_upstream="shop-orders-canary-80",
    )
    assert 'canary="shop-orders-canary-80"' in nginx.render("requests", "v2", 60)
    assert 'canary=~"-?"' in nginx.render("requests", "v1", 60)


def test_prometheus_must_be_named_and_a_token_variable_must_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="names none") as none:
        prometheus_metrics(CanaryMetricsConfig(), stable="v1", canary="v2", canary_upstream="u")
    assert none.value.hint is not None and "canary.metrics.prometheus" in none.value.hint
    monkeypatch.delenv("PROM_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"\$PROM_TOKEN, which is not set"):
        prometheus_metrics(
            CanaryMetricsConfig(prometheus="http://127.0.0.1:9", bearer_token_env="PROM_TOKEN"),
            stable="v1",
            canary="v2",
            canary_upstream="u",
        )
    monkeypatch.setenv("PROM_TOKEN", "t0ken")
    metrics = prometheus_metrics(
        CanaryMetricsConfig(prometheus="http://127.0.0.1:9", bearer_token_env="PROM_TOKEN"),
        stable="v1",
        canary="v2",
        canary_upstream="u",
    )
    assert metrics.source == "prometheus http://127.0.0.1:9 (client-golang)"
    assert "t0ken" not in metrics.source


def test_a_canary_is_driven_while_its_state_is_written_within_an_interval_and_the_margin() -> None:
    state = CanaryState(
        stable="v1",
        canary="v2",
        phase="progressing",
        weights=(5, 50),
        judge="threshold",
        started=1000.0,
        step_started=1000.0,
        events=(Event(1010.0, "traffic", "v1 95 %, v2 5 %"),),
    )
    # interval 10 s, margin max(5 s, 5 s): written at 1010, driven until 1025.
    assert driven(state, 10.0, now=1025.0)
    assert not driven(state, 10.0, now=1025.5)
    # A long interval gets half of itself as margin.
    assert driven(state, 60.0, now=1010.0 + 60 + 29)
    assert not driven(state, 60.0, now=1010.0 + 60 + 31)
