"""goship deploy, history and rollback on a real API server (kube-apiserver 1.35.4 with the controller
manager; kwok makes pods Ready after ``goship.dev/ready-after``, and never when labelled
``goship.dev/broken``). Each rollout is judged by goship and by ``kubectl rollout status`` side by side
on the same Deployment, and the two must agree."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from goship.image.layout import Layout
from goship.image.publish import save_record
from tests.conftest import Repo, Result
from tests.integration.k8scluster import BROKEN_LABEL, READY_AFTER_ANNOTATION, KubeCluster

pytestmark = pytest.mark.integration

REPOSITORY = "registry.example.com/team/api"
VERSIONS = ("v1.0.0", "v2.0.0", "v3.0.0", "v4.0.0")


def digest_of(version: str) -> str:
    return "sha256:" + hashlib.sha256(version.encode()).hexdigest()


def commit_of(version: str) -> str:
    return hashlib.sha1(version.encode()).hexdigest()


@dataclass
class Shop:
    """A repository with one service 'api', its releases recorded as 'goship publish' records them, and a
    namespace of its own on the test cluster."""

    repo: Repo
    cluster: KubeCluster
    namespace: str
    store: Path

    def configure(self, **kubernetes: Any) -> None:
        settings: dict[str, Any] = {
            "replicas": 2,
            "progress_deadline": "10s",
            "rollout_timeout": "60s",
            "hpa": {"max_replicas": 4},
            "pod_annotations": {READY_AFTER_ANNOTATION: "1s"},
        }
        settings.update(kubernetes)
        config = {
            "services": [{"name": "api", "image": REPOSITORY, "ports": [8080]}],
            "images": {"store": str(self.store)},
            "kubernetes": settings,
        }
        self.repo.write("goship.yaml", yaml.safe_dump(config))

    def break_pods(self) -> None:
        """The next deploy's pods never turn Ready."""
        self.configure(pod_labels={BROKEN_LABEL: "true"})

    def cluster_args(self) -> list[str]:
        return ["-n", self.namespace, "--kubeconfig", str(self.cluster.kubeconfig)]

    def env(self) -> dict[str, str]:
        return {"GOSHIP_KUBECTL": str(self.cluster.bin_dir / "kubectl")}

    def goship(self, *args: str) -> Result:
        return self.repo.goship(*args, **self.env())

    def kube(self, command: str, *args: str) -> Result:
        return self.goship(command, *args, *self.cluster_args())

    def deployment(self) -> dict[str, Any] | None:
        done = self.cluster.kubectl(
            "get", "deployment", "api", "-n", self.namespace, "-o", "json", check=False
        )
        return json.loads(done.stdout) if done.returncode == 0 else None

    def image(self) -> str:
        deployment = self.deployment()
        assert deployment is not None
        return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])

    def replica_set_digests(self) -> set[str]:
        sets = self.cluster.get("replicasets", "-n", self.namespace, "-l", "app=api")["items"]
        return {rs["spec"]["template"]["metadata"]["annotations"]["goship.dev/digest"] for rs in sets}

    def deploy_beside_kubectl(
        self, *args: str, kubectl_timeout: int = 90
    ) -> tuple[Result, subprocess.CompletedProcess[str]]:
        """``goship deploy ARGS --json`` and, from the moment goship has applied the Deployment,
        ``kubectl rollout status`` on it: both verdicts on one rollout."""
        before = self.deployment()
        generation = before["metadata"]["generation"] if before else 0
        argv = [sys.executable, "-m", "goship", "deploy", *args, *self.cluster_args(), "--json"]
        proc = subprocess.Popen(
            argv,
            cwd=self.repo.path,
            env=self.repo.env(**self.env()),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = self.deployment()
            if now is not None and now["metadata"]["generation"] > generation:
                break
            assert proc.poll() is None, f"goship ended before it applied: {proc.communicate()}"
            time.sleep(0.1)
        else:
            proc.kill()
            raise AssertionError("goship did not apply the Deployment within 30 s")
        kubectl = self.cluster.kubectl(
            "rollout",
            "status",
            "deployment/api",
            "-n",
            self.namespace,
            f"--timeout={kubectl_timeout}s",
            check=False,
            timeout=kubectl_timeout + 30,
        )
        out, err = proc.communicate(timeout=120)
        return Result(proc.returncode, out, err), kubectl


def record(shop: Shop, version: str) -> None:
    save_record(
        Layout(shop.store),
        {
            "service": "api",
            "repository": REPOSITORY,
            "digest": digest_of(version),
            "version": version,
            "commit": commit_of(version),
            "platforms": ["linux/amd64"],
            "tags": [],
        },
    )


@pytest.fixture
def shop(tmp_path: Path, k8s_cluster: KubeCluster, namespace: str) -> Shop:
    repo = Repo(tmp_path / "repo")
    repo.gomod(".", "example.com/api")
    repo.write("main.go", "package main\n\nfunc main() {}\n")
    repo.commit("feat: the api service", files={})
    s = Shop(repo, k8s_cluster, namespace, tmp_path / "store")
    for version in VERSIONS:
        record(s, version)
    s.configure()
    return s


def verdicts(result: Result, kubectl: subprocess.CompletedProcess[str]) -> tuple[dict[str, Any], str]:
    """goship's rollout and kubectl's last word."""
    document = result.json()
    assert isinstance(document, dict), result.stderr
    said = (
        (kubectl.stdout.strip().splitlines() or [""])[-1]
        if kubectl.returncode == 0
        else kubectl.stderr.strip()
    )
    return document["rollout"], said.removeprefix("error: ")


def test_deploys_roll_out_with_kubectls_verdict_and_history_shows_every_release(shop: Shop) -> None:
    for version in ("v1.0.0", "v2.0.0"):
        result, kubectl = shop.deploy_beside_kubectl("--version", version)
        rollout, kubectl_said = verdicts(result, kubectl)

        assert (result.code, kubectl.returncode) == (0, 0), result.stderr
        assert rollout["verdict"] == "complete"
        assert rollout["message"] == kubectl_said == 'deployment "api" successfully rolled out'

    deployment = shop.cluster.get("deployment", "api", "-n", shop.namespace, "--show-managed-fields")
    assert shop.image() == f"{REPOSITORY}@{digest_of('v2.0.0')}"
    cause = deployment["metadata"]["annotations"]["kubernetes.io/change-cause"]
    assert cause == f"goship deploy v2.0.0 {digest_of('v2.0.0')} commit {commit_of('v2.0.0')[:12]}"
    assert ("goship", "Apply") in {
        (f["manager"], f["operation"]) for f in deployment["metadata"]["managedFields"]
    }
    rollout_history = shop.cluster.kubectl(
        "rollout", "history", "deployment/api", "-n", shop.namespace
    ).stdout
    assert f"goship deploy v1.0.0 {digest_of('v1.0.0')}" in rollout_history

    history = shop.kube("history", "--json")
    assert history.code == 0, history.stderr
    document = history.json()
    assert isinstance(document, dict)
    assert [
        (r["revision"], r["version"], r["digest"], r["commit"], r["current"]) for r in document["revisions"]
    ] == [
        (1, "v1.0.0", digest_of("v1.0.0"), commit_of("v1.0.0"), False),
        (2, "v2.0.0", digest_of("v2.0.0"), commit_of("v2.0.0"), True),
    ]
    assert [(r["action"], r["version"], r["state"], r["revision"]) for r in document["record"]] == [
        ("deploy", "v1.0.0", "complete", 1),
        ("deploy", "v2.0.0", "complete", 2),
    ]
    assert all(r["time"].endswith("Z") for r in document["record"])
    human = shop.kube("history")
    assert human.code == 0
    assert "← running" in human.stdout
    assert "v2.0.0" in human.stdout.splitlines()[3]


def test_a_stalled_rollout_fails_as_kubectl_says_and_is_undone_to_the_last_good_digest(shop: Shop) -> None:
    assert shop.kube("deploy", "--version", "v1.0.0").code == 0
    shop.break_pods()

    result, kubectl = shop.deploy_beside_kubectl("--version", "v2.0.0")
    rollout, kubectl_said = verdicts(result, kubectl)

    assert result.code == 1
    assert kubectl.returncode != 0
    assert rollout["verdict"] == "failed"
    assert rollout["message"] == kubectl_said == 'deployment "api" exceeded its progress deadline'
    undo = result.json()["undo"]  # type: ignore[index]
    assert undo["to"]["digest"] == digest_of("v1.0.0")
    assert undo["rollout"]["verdict"] == "complete"
    assert shop.image() == f"{REPOSITORY}@{digest_of('v1.0.0')}"
    after = shop.cluster.kubectl("rollout", "status", "deployment/api", "-n", shop.namespace, "--timeout=5s")
    assert after.stdout.strip() == 'deployment "api" successfully rolled out'
    deployment = shop.deployment()
    assert deployment is not None
    assert BROKEN_LABEL not in deployment["spec"]["template"]["metadata"]["labels"]
    history = shop.kube("history", "--json").json()
    assert [(r["action"], r["version"], r["state"]) for r in history["record"]] == [  # type: ignore[index]
        ("deploy", "v1.0.0", "complete"),
        ("deploy", "v2.0.0", "undone"),
        ("undo", "v1.0.0", "complete"),
    ]


def test_no_undo_leaves_the_failed_rollout_and_rollback_reaches_a_release_kubernetes_forgot(
    shop: Shop,
) -> None:
    shop.configure(revision_history_limit=1)
    for version in ("v1.0.0", "v2.0.0", "v3.0.0"):
        done = shop.kube("deploy", "--version", version)
        assert done.code == 0, done.stderr
    # revisionHistoryLimit 1: only v2's ReplicaSet is kept beside v3's; v1's is gone.
    assert digest_of("v1.0.0") not in shop.replica_set_digests()
    shop.break_pods()

    failed = shop.kube("deploy", "--version", "v4.0.0", "--no-undo")

    assert failed.code == 1
    assert "error: deploy v4.0.0 (sha256:" in failed.stderr
    assert 'the rollout failed: deployment "api" exceeded its progress deadline' in failed.stderr
    assert "hint: it was left as it is (--no-undo); 'goship rollback'" in failed.stderr
    assert shop.image() == f"{REPOSITORY}@{digest_of('v4.0.0')}"
    deployment = shop.deployment()
    assert deployment is not None
    progressing = [c for c in deployment["status"]["conditions"] if c["type"] == "Progressing"]
    assert progressing[0]["reason"] == "ProgressDeadlineExceeded"

    back = shop.kube("rollback", "--to", "v1.0.0")

    assert back.code == 0, back.stderr
    assert (
        f'rollback v1.0.0 ({digest_of("v1.0.0")[:19]}…): deployment "api" successfully rolled out'
        in back.stderr
    )
    assert shop.image() == f"{REPOSITORY}@{digest_of('v1.0.0')}"
    assert digest_of("v1.0.0") in shop.replica_set_digests()
    deployment = shop.deployment()
    assert deployment is not None
    cause = deployment["metadata"]["annotations"]["kubernetes.io/change-cause"]
    assert cause.startswith(f"goship rollback v1.0.0 {digest_of('v1.0.0')} commit {commit_of('v1.0.0')[:12]}")
    history = shop.kube("history", "--json").json()
    assert [(r["action"], r["version"], r["state"]) for r in history["record"]] == [  # type: ignore[index]
        ("deploy", "v1.0.0", "complete"),
        ("deploy", "v2.0.0", "complete"),
        ("deploy", "v3.0.0", "complete"),
        ("deploy", "v4.0.0", "failed"),
        ("rollback", "v1.0.0", "complete"),
    ]


def test_rollback_without_a_version_returns_to_the_previous_good_release(shop: Shop) -> None:
    for version in ("v1.0.0", "v2.0.0"):
        assert shop.kube("deploy", "--version", version).code == 0

    back = shop.kube("rollback", "--json")

    assert back.code == 0, back.stderr
    assert back.json()["version"] == "v1.0.0"  # type: ignore[index]
    assert shop.image() == f"{REPOSITORY}@{digest_of('v1.0.0')}"
    unknown = shop.kube("rollback", "--to", "v3.0.0")
    assert unknown.code == 1
    assert "nothing to roll back to: no v3.0.0 in the history of api" in unknown.stderr


KUBECTL_MADE = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "api"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "api"}},
        "template": {
            "metadata": {"labels": {"app": "api"}, "annotations": {READY_AFTER_ANNOTATION: "1s"}},
            "spec": {"containers": [{"name": "api", "image": f"{REPOSITORY}:v0"}]},
        },
    },
}


def test_a_deployment_kubectl_made_is_taken_over_and_a_stalled_rollout_goes_back_to_its_last_template(
    shop: Shop,
) -> None:
    shop.cluster.apply(KUBECTL_MADE, namespace=shop.namespace)
    shop.cluster.kubectl(
        "rollout", "status", "deployment/api", "-n", shop.namespace, "--timeout=60s", timeout=90
    )

    refused = shop.kube("deploy", "--version", "v1.0.0")

    assert refused.code == 4
    assert 'conflicts with "kubectl-client-side-apply" using apps/v1' in refused.stderr
    assert '.spec.template.spec.containers[name="api"].image' in refused.stderr
    assert "take them over with --force-conflicts" in refused.stderr

    shop.break_pods()
    failed = shop.kube("deploy", "--version", "v1.0.0", "--force-conflicts", "--json")

    assert failed.code == 1
    document = failed.json()
    assert isinstance(document, dict)
    rollout = document["rollout"]
    # Right after a kubectl-made rollout finished, the controller sometimes keeps that rollout's
    # Progressing condition and never flags the deadline (kubectl then waits until its own timeout);
    # goship calls the rollout stalled at the deadline instead. Either way it fails within ~13 s.
    assert (rollout["verdict"], rollout["message"][:9]) in {("failed", "deploymen"), ("timeout", "stalled: ")}
    assert rollout["seconds"] < 18
    undo = document["undo"]
    assert undo["to"] is None
    assert undo["note"].startswith("undone to the previous ReplicaSet's pod template")
    assert undo["rollout"]["verdict"] == "complete"
    assert shop.image() == f"{REPOSITORY}:v0"
    records = shop.kube("history", "--json").json()["record"]  # type: ignore[index]
    assert [(r["action"], r["state"], r["reason"][:12]) for r in records] == [
        ("deploy", "failed", "not applied:"),
        ("deploy", "undone", rollout["message"][:12]),
        ("undo", "complete", 'deployment "'),
    ]
