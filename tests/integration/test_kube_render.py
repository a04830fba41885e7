"""goship render on a real API server (every object valid in a server-side dry run), image pinning in a
team's own manifests, deploy --dry-run, the README's RBAC Role, and each way reaching a cluster can fail
with its exit code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.integration.k8scluster import KubeCluster
from tests.integration.test_kube_deploy import REPOSITORY, Shop, digest_of, pytestmark, shop

__all__ = ["pytestmark", "shop"]  # shared with the deploy tests

README = Path(__file__).resolve().parents[2] / "README.md"


def server_dry_run(shop: Shop, text: str) -> str:
    done = shop.cluster.kubectl(
        "apply", "--server-side", "--field-manager=goship", "--dry-run=server", "-n", shop.namespace, "-f", "-",
        input=text, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_rendered_objects_pass_a_server_side_dry_run_as_yaml_and_as_a_json_list(shop: Shop) -> None:
    rendered = shop.goship("render", "--version", "v1.0.0", "--namespace", shop.namespace)
    as_json = shop.goship("render", "--version", "v1.0.0", "--namespace", shop.namespace, "--json")

    assert rendered.code == 0, rendered.stderr
    documents = list(yaml.safe_load_all(rendered.stdout))
    assert [d["kind"] for d in documents] == [
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    ]
    assert documents == as_json.json()["items"]  # type: ignore[index]
    assert server_dry_run(shop, rendered.stdout).splitlines() == [
        "deployment.apps/api serverside-applied (server dry run)",
        "service/api serverside-applied (server dry run)",
        "horizontalpodautoscaler.autoscaling/api serverside-applied (server dry run)",
        "poddisruptionbudget.policy/api serverside-applied (server dry run)",
    ]
    server_dry_run(shop, as_json.stdout)
    image = documents[0]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{REPOSITORY}@{digest_of('v1.0.0')}"


def test_render_takes_an_image_by_digest_and_refuses_one_by_tag(shop: Shop) -> None:
    pinned = f"{REPOSITORY}@{digest_of('v9')}"

    by_digest = shop.goship("render", "--image", pinned, "--version", "v9.0.0", "--json")
    by_tag = shop.goship("render", "--image", f"{REPOSITORY}:v9")

    assert by_digest.code == 0, by_digest.stderr
    deployment = by_digest.json()["items"][0]  # type: ignore[index]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == pinned
    assert deployment["metadata"]["annotations"]["goship.dev/commit"] == "unknown"
    assert by_tag.code == 2
    assert "expected REGISTRY/REPOSITORY@sha256" in by_tag.stderr


OWN_MANIFEST = """\
# kept by the team; only the image is goship's business
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api-worker
spec:
  selector: {matchLabels: {app: api-worker}}
  template:
    metadata: {labels: {app: api-worker}}
    spec:
      containers:
        - name: worker
          image: registry.example.com/team/api:latest   # pinned on release
          args: [--worker]
        - name: sidecar
          image: registry.example.com/team/proxy:v3
"""


def test_rewrite_pins_the_services_image_in_a_teams_own_manifest_and_keeps_the_rest(shop: Shop) -> None:
    own = shop.repo.path / "k8s" / "worker.yaml"
    own.parent.mkdir()
    own.write_text(OWN_MANIFEST)
    pinned = f"{REPOSITORY}@{digest_of('v2.0.0')}"

    printed = shop.goship("render", "--version", "v2.0.0", "--rewrite", str(own))

    assert printed.code == 0, printed.stderr
    assert printed.stdout == OWN_MANIFEST.replace("registry.example.com/team/api:latest", pinned)
    assert f"{own}:13: registry.example.com/team/api:latest → {pinned}" in printed.stderr
    assert own.read_text() == OWN_MANIFEST
    server_dry_run(shop, printed.stdout)

    in_place = shop.goship("render", "--version", "v2.0.0", "--rewrite", str(own), "--in-place")
    assert (in_place.code, in_place.stdout) == (0, "")
    assert own.read_text() == printed.stdout

    elsewhere = shop.repo.path / "other.yaml"
    elsewhere.write_text("image: docker.io/library/nginx:1.27\n")
    nothing = shop.goship("render", "--version", "v2.0.0", "--rewrite", str(elsewhere))
    assert nothing.code == 2
    assert f"no image of {REPOSITORY} in {elsewhere}" in nothing.stderr


def test_deploy_dry_run_is_validated_by_the_server_and_stores_nothing(shop: Shop) -> None:
    planned = shop.kube("deploy", "--version", "v1.0.0", "--dry-run", "--json")

    assert planned.code == 0, planned.stderr
    document = planned.json()
    assert isinstance(document, dict)
    assert document["dry_run"] is True
    assert [(c["kind"], c["action"]) for c in document["changes"]] == [
        ("Deployment", "create"),
        ("Service", "create"),
        ("HorizontalPodAutoscaler", "create"),
        ("PodDisruptionBudget", "create"),
    ]
    assert shop.deployment() is None
    left = shop.cluster.kubectl("get", "configmap", "goship-api-history", "-n", shop.namespace, check=False)
    assert left.returncode != 0

    shop.configure(pod_labels={"not a label!": "x"})
    rejected = shop.kube("deploy", "--version", "v1.0.0", "--dry-run")
    assert rejected.code == 4
    assert (
        "error: kubectl apply --server-side --field-manager=goship: the API server rejected the object"
        in rejected.stderr
    )
    assert "not a label!" in rejected.stderr


def test_without_a_release_record_deploy_is_a_usage_error_that_says_to_publish(shop: Shop) -> None:
    done = shop.kube("deploy", "--version", "v7.0.0")

    assert done.code == 2
    assert f"error: no release record of api v7.0.0 in {shop.store}" in done.stderr
    assert "(published: v1.0.0, v2.0.0, v3.0.0, v4.0.0)" in done.stderr
    assert "hint: publish it first ('goship publish' on v7.0.0)" in done.stderr


def test_an_unreachable_api_server_is_a_remote_error(shop: Shop, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "nowhere.yaml"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )

    done = shop.goship("deploy", "--version", "v1.0.0", "--kubeconfig", str(kubeconfig))
    history = shop.goship("history", "--kubeconfig", str(kubeconfig), "--json")

    assert (done.code, history.code) == (4, 4)
    assert (
        "error: cannot reach the Kubernetes API server: The connection to the server 127.0.0.1:1 was refused"
        in done.stderr
    )
    assert history.stdout == ""


def test_a_missing_kubectl_is_an_environment_error_and_a_missing_context_a_usage_error(shop: Shop) -> None:
    missing = shop.repo.goship("history", *shop.cluster_args(), GOSHIP_KUBECTL="/nonexistent/kubectl")
    no_context = shop.kube("history", "--context", "nope")

    assert missing.code == 3
    assert "error: kubectl is not installed (looked for '/nonexistent/kubectl')" in missing.stderr
    assert no_context.code == 2
    assert 'context "nope" does not exist' in no_context.stderr


def readme_role() -> str:
    text = README.read_text()
    section = text[text.index("#### Kubernetes: RBAC") :]
    m = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert m is not None
    return m[1]


def token_kubeconfig(cluster: KubeCluster, namespace: str, account: str, path: Path) -> Path:
    cluster.kubectl("create", "serviceaccount", account, "-n", namespace)
    token = cluster.kubectl("create", "token", account, "-n", namespace).stdout.strip()
    admin = json.loads(cluster.kubectl("config", "view", "--raw", "-o", "json").stdout)["clusters"][0][
        "cluster"
    ]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": admin}],
                "users": [{"name": account, "user": {"token": token}}],
                "contexts": [
                    {"name": "x", "context": {"cluster": "c", "user": account, "namespace": namespace}}
                ],
                "current-context": "x",
            }
        )
    )
    return path


def readme_role_kubeconfig(cluster: KubeCluster, ns: str, path: Path) -> Path:
    """A kubeconfig at ``path`` of ServiceAccount ``deployer``, bound to the README's Role applied in ``ns``."""
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=readme_role())
    kubeconfig = token_kubeconfig(cluster, ns, "deployer", path)
    cluster.kubectl(
        "create",
        "rolebinding",
        "goship",
        "-n",
        ns,
        "--role=goship-deployer",
        f"--serviceaccount={ns}:deployer",
    )
    return kubeconfig


def test_the_readme_role_is_all_goship_needs_and_without_it_the_error_names_the_role(
    shop: Shop, tmp_path: Path
) -> None:
    cluster, ns = shop.cluster, shop.namespace
    deployer = readme_role_kubeconfig(cluster, ns, tmp_path / "deployer.yaml")
    stranger = token_kubeconfig(cluster, ns, "stranger", tmp_path / "stranger.yaml")

    def as_(kubeconfig: Path, *args: str) -> int:
        done = shop.goship(*args, "--kubeconfig", str(kubeconfig))
        assert done.code == 0, done.stderr
        return done.code

    for args in (
        ("deploy", "--version", "v1.0.0", "--dry-run"),
        ("deploy", "--version", "v1.0.0"),
        ("deploy", "--version", "v2.0.0"),
        ("history",),
        ("rollback",),
    ):
        as_(deployer, *args)
    refused = shop.goship("deploy", "--version", "v1.0.0", "--kubeconfig", str(stranger))

    assert refused.code == 4
    assert "the API server refused: Error from server (Forbidden)" in refused.stderr
    assert "hint: goship needs the Role in the README ('Kubernetes: RBAC')" in refused.stderr
