"""``goship publish`` against the real registry (Debian's docker-registry), read back with skopeo."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Repo
from tests.integration.images import add_service
from tests.integration.registryserver import Fault, FaultProxy, RunningRegistry

pytestmark = pytest.mark.integration


def configure(repo: Repo, host: str, tmp_path: Path) -> str:
    """Point the repo's images at ``host`` under a namespace of this test; returns the image path."""
    namespace = re.sub(r"[^a-z0-9]+", "-", tmp_path.name.lower()).strip("-")
    repo.write("goship.yaml", f"images:\n  registry: {host}/{namespace}\n")
    repo.write(".gitignore", "goship.yaml\n")
    repo.commit("chore: ignore local config", files={})
    return f"{host}/{namespace}/orders"


def publish(repo: Repo, tmp_path: Path, *args: str, **env: str) -> tuple[int, dict[str, object], str]:
    result = repo.goship("publish", "--insecure", "--store", str(tmp_path / "store"), "--json", *args, **env)
    doc = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.code, doc, result.stderr


def tag_digest(image: str, tag: str) -> str | None:
    done = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{image}:{tag}"], capture_output=True
    )
    if done.returncode != 0:
        return None
    import hashlib

    return "sha256:" + hashlib.sha256(done.stdout).hexdigest()


def actions(doc: dict[str, object]) -> dict[str, str]:
    [image] = doc["images"]  # type: ignore[misc]
    return {t["tag"]: t["action"] for t in image["tags"]}


def test_a_release_gets_its_exact_and_rolling_tags(
    repo: Repo, registry: RunningRegistry, tmp_path: Path
) -> None:
    image = configure(repo, registry.host, tmp_path)
    add_service(repo)
    repo.tag("v1.3.0")
    code, doc, err = publish(repo, tmp_path)
    assert code == 0, err
    assert actions(doc) == {"v1.3.0": "created", "v1.3": "created", "v1": "created", "latest": "created"}
    [record] = doc["images"]  # type: ignore[misc]
    for tag in ("v1.3.0", "v1.3", "v1", "latest"):
        assert tag_digest(image, tag) == record["digest"]
    assert record["sbom"] is not None
    # distribution 2.8 has no referrers API: the SBOM is listed under the subject's fallback tag.
    platform_digest = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{image}:v1.3.0"],
            capture_output=True,
            check=True,
        ).stdout
    )["manifests"][0]["digest"]
    assert tag_digest(image, platform_digest.replace(":", "-")) is not None
    # An independent copy of the pushed image runs and answers with the injected version.
    copy = tmp_path / "copy"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--src-tls-verify=false",
            f"docker://{image}@{platform_digest}",
            f"oci:{copy}:run",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["umoci", "unpack", "--rootless", "--image", f"{copy}:run", str(tmp_path / "b")], check=True
    )
    ran = subprocess.run([str(tmp_path / "b/rootfs/app/orders")], capture_output=True, text=True, check=True)
    assert ran.stdout.split()[:2] == ["orders", "v1.3.0"]
    again = publish(repo, tmp_path)[1]
    assert set(actions(again).values()) == {"unchanged"}
    assert (tmp_path / "store" / "releases" / "orders" / "v1.3.0.json").is_file()


def test_backport_moves_its_minor_tag_and_leaves_newer_lines_alone(
    repo: Repo, registry: RunningRegistry, tmp_path: Path
) -> None:
    image = configure(repo, registry.host, tmp_path)
    add_service(repo)
    repo.tag("v1.2.8")
    base = repo.git("rev-parse", "HEAD")
    repo.commit("feat: new line", files={"cmd/orders/new.go": "package main\n"})
    repo.tag("v1.3.0")
    newest = publish(repo, tmp_path)[1]["images"][0]["digest"]  # type: ignore[index]
    repo.git("checkout", "-q", "-b", "release-1.2", base)
    repo.commit("fix: backport", files={"cmd/orders/fix.go": "package main\n"})
    repo.tag("v1.2.9")
    code, doc, err = publish(repo, tmp_path)
    assert code == 0, err
    assert actions(doc) == {"v1.2.9": "created", "v1.2": "created", "v1": "skipped", "latest": "skipped"}
    backport = doc["images"][0]["digest"]  # type: ignore[index]
    assert tag_digest(image, "v1.2") == backport
    assert tag_digest(image, "v1") == newest
    assert tag_digest(image, "latest") == newest


def test_an_exact_tag_never_moves_unless_forced(
    repo: Repo, registry: RunningRegistry, tmp_path: Path
) -> None:
    image = configure(repo, registry.host, tmp_path)
    add_service(repo)
    repo.tag("v1.7.0")
    first = publish(repo, tmp_path)[1]["images"][0]["digest"]  # type: ignore[index]
    repo.commit("fix: oops", files={"cmd/orders/fix.go": "package main\n"})
    repo.git("tag", "-f", "v1.7.0")  # someone moved the git tag
    code, _, err = publish(repo, tmp_path)
    assert code == 1
    assert "exact tags never move" in err
    assert tag_digest(image, "v1.7.0") == first
    code, doc, err = publish(repo, tmp_path, "--force")
    assert code == 0, err
    assert actions(doc)["v1.7.0"] == "moved"
    assert tag_digest(image, "v1.7.0") == doc["images"][0]["digest"]  # type: ignore[index]


def test_prereleases_and_untagged_commits_get_only_their_own_tag(
    repo: Repo, registry: RunningRegistry, tmp_path: Path
) -> None:
    configure(repo, registry.host, tmp_path)
    add_service(repo)
    repo.tag("v1.4.0-rc.1")
    assert actions(publish(repo, tmp_path)[1]) == {"v1.4.0-rc.1": "created"}
    repo.commit("fix: after rc", files={"cmd/orders/fix.go": "package main\n"})
    sha = repo.git("rev-parse", "HEAD")[:12]
    assert actions(publish(repo, tmp_path)[1]) == {f"sha-{sha}": "created"}


def test_dry_run_prints_the_plan_and_pushes_nothing(
    repo: Repo, registry: RunningRegistry, tmp_path: Path
) -> None:
    image = configure(repo, registry.host, tmp_path)
    add_service(repo)
    repo.tag("v0.1.0")
    result = repo.goship("publish", "--insecure", "--store", str(tmp_path / "store"), "--dry-run")
    assert result.code == 0, result.stderr
    assert re.search(r"v0\.1: created — \(none\) → sha256:[0-9a-f]{12}…", result.stderr)
    assert tag_digest(image, "v0.1.0") is None


def test_basic_auth_from_docker_config_and_wrong_credentials(
    repo: Repo, basic_registry: RunningRegistry, tmp_path: Path
) -> None:
    configure(repo, basic_registry.host, tmp_path)
    add_service(repo)
    repo.tag("v1.0.0")
    config = tmp_path / "docker"
    config.mkdir()

    def login(password: str) -> None:
        token = base64.b64encode(f"{basic_registry.username}:{password}".encode()).decode()
        (config / "config.json").write_text(json.dumps({"auths": {basic_registry.host: {"auth": token}}}))

    login("not-the-password")
    code, _, err = publish(repo, tmp_path, DOCKER_CONFIG=str(config))
    assert code == 4
    assert basic_registry.host in err
    assert "not-the-password" not in err
    login(basic_registry.password)
    code, doc, err = publish(repo, tmp_path, DOCKER_CONFIG=str(config))
    assert code == 0, err
    assert actions(doc)["v1.0.0"] == "created"


def test_a_flaky_registry_is_retried(repo: Repo, registry: RunningRegistry, tmp_path: Path) -> None:
    with FaultProxy(
        registry.host,
        [
            Fault("POST", r"/blobs/uploads/", 1, "status", 500),
            Fault("PUT", r"/manifests/sha256:", 1, "status", 429, {"Retry-After": "1"}),
        ],
    ) as proxy:
        configure(repo, proxy.host, tmp_path)
        add_service(repo)
        repo.tag("v1.8.0")
        code, doc, err = publish(repo, tmp_path)
        assert code == 0, err
        assert actions(doc)["v1.8.0"] == "created"
        assert {s.status for s in proxy.seen} >= {500, 429}


def test_a_registry_that_dies_mid_push_leaves_no_rolling_tag_before_its_exact_tag(
    repo: Repo, registry: RunningRegistry, tmp_path: Path
) -> None:
    faults = [Fault("PUT", r"/manifests/v1\.9\.0$", n, "drop") for n in range(1, 11)]
    with FaultProxy(registry.host, faults) as proxy:
        image = configure(repo, proxy.host, tmp_path)
        add_service(repo)
        repo.tag("v1.9.0")
        code, _, err = publish(repo, tmp_path)
        assert code == 4, err
        assert err.startswith("error: ")
        for tag in ("v1.9.0", "v1.9", "v1", "latest"):
            assert tag_digest(image, tag) is None
        proxy.faults.clear()
        code, doc, err = publish(repo, tmp_path)  # the next run finishes the release
        assert code == 0, err
        assert tag_digest(image, "v1") == doc["images"][0]["digest"]  # type: ignore[index]


def test_a_second_service_mounts_the_shared_base_layer(
    repo: Repo, registry: RunningRegistry, tmp_path: Path
) -> None:
    with FaultProxy(registry.host, []) as proxy:
        configure(repo, proxy.host, tmp_path)
        add_service(repo)
        add_service(repo, "billing", message="feat: billing service")
        repo.tag("v1.1.0")
        code, doc, err = publish(repo, tmp_path)
        assert code == 0, err
        assert sorted(i["service"] for i in doc["images"]) == ["billing", "orders"]  # type: ignore[union-attr]
        mounts = [s for s in proxy.seen if s.method == "POST" and "mount=" in s.path]
        assert mounts and all(s.status == 201 for s in mounts)


def test_a_service_on_a_base_pulled_by_digest(repo: Repo, registry: RunningRegistry, tmp_path: Path) -> None:
    image = configure(repo, registry.host, tmp_path)
    add_service(repo)
    repo.tag("v1.0.0")
    base_digest = publish(repo, tmp_path)[1]["images"][0]["digest"]  # type: ignore[index]
    namespace = image.rsplit("/", 1)[0]
    repo.write(
        "goship.yaml",
        f"images:\n  registry: {namespace}\nservices:\n  - name: edge\n    main: ./cmd/orders\n"
        f"    base: {image}@{base_digest}\n",
    )
    result = repo.goship("build", "--insecure", "--store", str(tmp_path / "store"), "--json")
    assert result.code == 0, result.stderr
    [built] = json.loads(result.stdout)["images"]
    index = json.loads((tmp_path / "store" / "blobs" / "sha256" / built["digest"].split(":")[1]).read_bytes())
    manifest_digest = index["manifests"][0]["digest"]
    manifest = json.loads(
        (tmp_path / "store" / "blobs" / "sha256" / manifest_digest.split(":")[1]).read_bytes()
    )
    assert manifest["annotations"]["org.opencontainers.image.base.name"] == image
    assert manifest["annotations"]["org.opencontainers.image.base.digest"] == base_digest
    assert len(manifest["layers"]) == 3  # the base's static layer and binary, then this binary


def test_a_reused_image_goes_where_the_config_says_today(
    repo: Repo, registry: RunningRegistry, tmp_path: Path
) -> None:
    configure(repo, registry.host, tmp_path)
    add_service(repo)
    repo.tag("v1.2.0")
    first = publish(repo, tmp_path)[1]["images"][0]  # type: ignore[index]
    moved = f"{registry.host}/elsewhere-{tmp_path.name.lower()[-12:].strip('_-')}"
    repo.write("goship.yaml", f"images:\n  registry: {moved}\n")
    code, doc, err = publish(repo, tmp_path)
    assert code == 0, err
    [image] = doc["images"]  # type: ignore[misc]
    assert image["repository"] == f"{moved}/orders" and image["digest"] == first["digest"]
    assert tag_digest(f"{moved}/orders", "v1.2.0") == first["digest"]
