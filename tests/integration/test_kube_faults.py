"""goship's deploys when the Kubernetes API misbehaves: kube-apiserver 1.35.4 (the session's test
cluster) behind the fault proxy of kubefaults.py, which answers chosen requests with 5xx, 429 or 409, or
drops their connection before or after the server acted. A deploy goes through transient faults on its
apply, its reads and its watch without doing anything twice; the history ConfigMap holds one record per
deploy whatever answers were lost; refusals (Forbidden, Invalid) fail at once, and a fault that outlasts
the retries ends with an error that says what failed and how often it was tried."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from goship.config import KubeHpaConfig, KubernetesConfig
from goship.kube.deploy import Deployer
from goship.kube.history import DeployHistory, DeployRecord, history_name, now_rfc3339
from goship.kube.kubectl import ClusterError, Kubectl
from goship.kube.manifests import Manifest, render, workload
from goship.kube.release import Release
from tests.integration.k8scluster import BROKEN_LABEL, READY_AFTER_ANNOTATION, KubeCluster
from tests.integration.kubefaults import FaultProxy, fault_proxy

pytestmark = pytest.mark.integration

REPOSITORY = "registry.example.com/team/api"
DEPLOYMENT = r"/apis/apps/v1/namespaces/[^/]+/deployments/api(\?|$)"
"""The Deployment by name: goship's reads and watch polls (GET), its apply (PATCH)."""
APPLY = r"/apis/apps/v1/namespaces/[^/]+/deployments/api\?(?!.*dryRun)"
HISTORY = r"/api/v1/namespaces/[^/]+/configmaps/goship-api-history(\?|$)"
HISTORY_CREATE = r"/api/v1/namespaces/[^/]+/configmaps\?"


def release(version: str) -> Release:
    return Release(
        "api",
        REPOSITORY,
        "sha256:" + hashlib.sha256(version.encode()).hexdigest(),
        version,
        hashlib.sha1(version.encode()).hexdigest(),
    )


def config(**changes: Any) -> KubernetesConfig:
    settings: dict[str, Any] = {
        "replicas": 2,
        "progress_deadline": 10.0,
        "hpa": KubeHpaConfig(max_replicas=4),
        "pod_annotations": {READY_AFTER_ANNOTATION: "1s"},
    }
    return KubernetesConfig(**{**settings, **changes})


def objects(version: str, settings: KubernetesConfig) -> list[Manifest]:
    work = workload("api", ports=[8080], user="65532:65532", config=settings)
    return render(work, release(version), settings, namespace=None)


@pytest.fixture
def proxy(k8s_cluster: KubeCluster, tmp_path: Path) -> Iterator[FaultProxy]:
    with fault_proxy(k8s_cluster, tmp_path / "proxy") as p:
        yield p


def kubectl(
    cluster: KubeCluster, proxy: FaultProxy, namespace: str, *, impersonate: str | None = None
) -> Kubectl:
    return Kubectl(
        program=str(cluster.bin_dir / "kubectl"),
        kubeconfig=proxy.kubeconfig(impersonate=impersonate),
        namespace=namespace,
    )


def deployer(kube: Kubectl, *, say: list[str] | None = None, **changes: Any) -> Deployer:
    heard = say if say is not None else []
    return Deployer(kube, service="api", config=config(**changes), say=heard.append, interval=0.2)


def stored_records(cluster: KubeCluster, namespace: str) -> list[dict[str, Any]]:
    """The history ConfigMap's records, read past the proxy."""
    found = cluster.get("configmap", history_name("api"), "-n", namespace)
    records: list[dict[str, Any]] = json.loads(found["data"]["history.json"])
    return records


def test_a_deploy_goes_through_5xx_429_and_dropped_connections_on_its_apply_and_reads(
    k8s_cluster: KubeCluster, proxy: FaultProxy, namespace: str
) -> None:
    kube = kubectl(k8s_cluster, proxy, namespace)
    proxy.fail("PATCH", APPLY, code=503)
    proxy.fail("PATCH", APPLY, code=429)
    proxy.drop("PATCH", APPLY, how="reset")
    proxy.fail("GET", DEPLOYMENT, code=500)
    proxy.fail("GET", HISTORY, code=504)
    proxy.drop("GET", HISTORY)

    result = deployer(kube).deploy(release("v1.0.0"), objects("v1.0.0", config()), timeout=60)

    assert result.ok and result.rollout is not None
    assert result.rollout.message == 'deployment "api" successfully rolled out'
    assert proxy.pending() == 0
    assert proxy.seen("PATCH", APPLY) == ["status 503", "status 429", "reset", "forwarded 201"]
    live = k8s_cluster.get("deployment", "api", "-n", namespace)
    assert live["metadata"]["generation"] == 1  # applied once: no second rollout
    assert live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert [(r["id"], r["version"], r["state"]) for r in stored_records(k8s_cluster, namespace)] == [
        (1, "v1.0.0", "complete")
    ]


def test_the_watch_reads_past_a_lost_api_server_and_neither_fails_nor_undoes_the_rollout(
    k8s_cluster: KubeCluster, proxy: FaultProxy, namespace: str
) -> None:
    kube = kubectl(k8s_cluster, proxy, namespace)
    deployer(kube).deploy(release("v1.0.0"), objects("v1.0.0", config()), timeout=60)
    heard: list[str] = []

    def lose_the_watch(message: str) -> None:
        heard.append(message)
        if message.endswith(": applied"):
            # More failed polls than one read's retries: the watch itself must read on.
            proxy.fail("GET", DEPLOYMENT, code=503, times=7)
            proxy.drop("GET", DEPLOYMENT, times=2)
            proxy.fail("GET", DEPLOYMENT, code=429, times=2)

    watched = Deployer(kube, service="api", config=config(), say=lose_the_watch, interval=0.2)
    result = watched.deploy(release("v2.0.0"), objects("v2.0.0", config()), timeout=60)

    assert result.ok, result.rollout
    assert result.undo is None
    assert proxy.pending() == 0
    assert "  cannot read the Deployment (ServerError); watching on" in heard
    assert proxy.count("PATCH", APPLY) == 2  # v1 and v2, nothing more: no undo
    assert [(r["version"], r["state"]) for r in stored_records(k8s_cluster, namespace)] == [
        ("v1.0.0", "complete"),
        ("v2.0.0", "complete"),
    ]


def test_a_watch_lost_until_its_timeout_raises_and_leaves_the_rollout_alone(
    k8s_cluster: KubeCluster, proxy: FaultProxy, namespace: str
) -> None:
    kube = kubectl(k8s_cluster, proxy, namespace)
    deployer(kube).deploy(release("v1.0.0"), objects("v1.0.0", config()), timeout=60)
    broken = config(pod_labels={BROKEN_LABEL: "true"})

    def lose_the_watch(message: str) -> None:
        if message.endswith(": applied"):
            proxy.fail("GET", DEPLOYMENT, code=503, times=1000)

    watched = Deployer(kube, service="api", config=broken, say=lose_the_watch, interval=0.2)
    with pytest.raises(ClusterError) as lost:
        watched.deploy(release("v2.0.0"), objects("v2.0.0", broken), timeout=4)

    assert lost.value.reason == "ServerError"
    assert lost.value.message.startswith(
        "watching the rollout: the Deployment could not be read for the last"
    )
    assert "until the watch's timeout (4s)" in lost.value.message
    assert "Error from server (ServiceUnavailable)" in lost.value.message
    assert proxy.count("PATCH", APPLY) == 2  # no undo of a rollout nobody could see
    live = k8s_cluster.get("deployment", "api", "-n", namespace)
    assert live["spec"]["template"]["metadata"]["labels"][BROKEN_LABEL] == "true"
    assert [(r["version"], r["state"]) for r in stored_records(k8s_cluster, namespace)] == [
        ("v1.0.0", "complete"),
        ("v2.0.0", "progressing"),  # for the next run to settle
    ]


def test_history_holds_one_record_per_deploy_when_its_writes_answers_were_lost_after_they_were_stored(
    k8s_cluster: KubeCluster, proxy: FaultProxy, namespace: str
) -> None:
    kube = kubectl(k8s_cluster, proxy, namespace)
    proxy.drop("POST", HISTORY_CREATE, how="drop-after")  # the first write: a create
    proxy.drop("PATCH", HISTORY, how="drop-after")  # the outcome's write: an apply with resourceVersion

    first = deployer(kube).deploy(release("v1.0.0"), objects("v1.0.0", config()), timeout=60)

    assert first.ok
    assert proxy.seen("POST", HISTORY_CREATE) == ["drop-after 201", "forwarded 409"]  # AlreadyExists: ours
    assert proxy.seen("PATCH", HISTORY) == ["drop-after 200", "forwarded 409"]  # modified: by us
    proxy.drop("PATCH", HISTORY, how="drop-after", times=2)
    proxy.fail("PATCH", HISTORY, code=409)  # and one conflict the server never had

    second = deployer(kube).deploy(release("v2.0.0"), objects("v2.0.0", config()), timeout=60)

    assert second.ok
    assert proxy.pending() == 0
    records = stored_records(k8s_cluster, namespace)
    assert [(r["id"], r["version"], r["state"]) for r in records] == [
        (1, "v1.0.0", "complete"),
        (2, "v2.0.0", "complete"),
    ]
    assert second.record is not None and second.record.id == 2


def test_two_deploys_writing_the_history_at_once_both_keep_their_records(
    k8s_cluster: KubeCluster, proxy: FaultProxy, namespace: str
) -> None:
    kube = kubectl(k8s_cluster, proxy, namespace)
    direct = Kubectl(
        program=str(k8s_cluster.bin_dir / "kubectl"), kubeconfig=k8s_cluster.kubeconfig, namespace=namespace
    )
    # Both read an empty history, both add record 1: the first create wins, the second is renumbered.
    one = DeployHistory.load(kube, "api", limit=20)
    two = DeployHistory.load(direct, "api", limit=20)

    def entry(history: DeployHistory, version: str) -> DeployRecord:
        return DeployRecord(
            id=history.next_id(),
            action="deploy",
            version=version,
            digest=release(version).digest,
            commit=release(version).commit,
            image=release(version).image,
            time=now_rfc3339(),
            state="progressing",
        )

    mine = one.add(entry(one, "v1.0.0"))
    theirs = two.add(entry(two, "v2.0.0"))
    proxy.drop("PATCH", HISTORY, how="drop-after")
    one.update(mine.id, state="complete", reason="rolled out")  # lost answer, then a real conflict
    two.update(theirs.id, state="failed", reason="deadline")
    one.update(mine.id, revision=1)

    assert (mine.id, theirs.id) == (1, 2)
    assert [
        (r["id"], r["version"], r["state"], r["revision"]) for r in stored_records(k8s_cluster, namespace)
    ] == [
        (1, "v1.0.0", "complete", 1),
        (2, "v2.0.0", "failed", None),
    ]
    assert [(r.id, r.state) for r in one.records] == [(1, "complete"), (2, "failed")]


def test_forbidden_fails_at_once_without_a_retry(
    k8s_cluster: KubeCluster, proxy: FaultProxy, namespace: str
) -> None:
    nobody = kubectl(k8s_cluster, proxy, namespace, impersonate=f"system:serviceaccount:{namespace}:nobody")

    with pytest.raises(ClusterError) as refused:
        deployer(nobody).deploy(release("v1.0.0"), objects("v1.0.0", config()), timeout=60)

    assert refused.value.reason == "Forbidden"
    assert refused.value.exit_code == 4
    assert 'User "system:serviceaccount:' in refused.value.message
    assert "Role in the README" in str(refused.value.hint)
    assert proxy.seen("GET", DEPLOYMENT) == ["forwarded 403"]
    assert proxy.count("PATCH", APPLY) == 0


def test_an_invalid_object_fails_at_once_without_a_retry_and_is_recorded_not_applied(
    k8s_cluster: KubeCluster, proxy: FaultProxy, namespace: str
) -> None:
    kube = kubectl(k8s_cluster, proxy, namespace)
    invalid = objects("v1.0.0", config())
    invalid[0]["spec"]["template"]["metadata"]["labels"]["not a label!"] = "x"

    with pytest.raises(ClusterError) as rejected:
        deployer(kube).deploy(release("v1.0.0"), invalid, timeout=60)

    assert rejected.value.reason == "Invalid"
    assert "the API server rejected the object" in rejected.value.message
    assert proxy.seen("PATCH", APPLY) == ["forwarded 422"]
    assert [(r["state"], r["reason"][:13]) for r in stored_records(k8s_cluster, namespace)] == [
        ("failed", "not applied: ")
    ]


def test_a_fault_that_outlasts_the_retries_says_what_failed_and_how_often_it_was_tried(
    k8s_cluster: KubeCluster, proxy: FaultProxy, namespace: str
) -> None:
    kube = kubectl(k8s_cluster, proxy, namespace)
    proxy.fail("PATCH", APPLY, code=503, times=1000)

    with pytest.raises(ClusterError) as gave_up:
        deployer(kube).deploy(release("v1.0.0"), objects("v1.0.0", config()), timeout=60)

    err = gave_up.value
    assert (err.reason, err.attempts, err.exit_code) == ("ServerError", 5, 4)
    assert err.message.startswith(
        "kubectl apply --server-side --field-manager=goship: the API server failed: "
        "Error from server (ServiceUnavailable)"
    )
    assert "(gave up after 5 attempts in " in err.message
    assert proxy.seen("PATCH", APPLY) == ["status 503"] * 5
    assert proxy.count("PATCH", APPLY) == 0
    # Whether it was applied nobody knows: the record stays undecided, for the next run to settle.
    records = stored_records(k8s_cluster, namespace)
    assert [(r["state"], r["reason"][:18]) for r in records] == [("progressing", "maybe not applied:")]
