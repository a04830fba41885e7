"""``goship build``: real Go builds into a real OCI layout, read back by umoci and skopeo."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from goship.image.layout import Layout, StoredImage
from goship.image.oci import Platform
from tests.conftest import Repo
from tests.integration.images import add_service

pytestmark = pytest.mark.integration


def build(repo: Repo, store: Path, *args: str) -> dict[str, object]:
    result = repo.goship("build", "--store", str(store), "--json", *args)
    assert result.code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    return doc


def run_image_binary(store: Path, digest: str, tmp: Path) -> tuple[str, str]:
    """Unpack one platform's image with umoci and run its entrypoint; returns (output, passwd)."""
    layout = Layout(store)
    layout.add_to_index(layout.resolve(digest), ref="under-test")
    bundle = tmp / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--rootless", "--image", f"{store}:under-test", str(bundle)],
        check=True,
        capture_output=True,
    )
    out = subprocess.run([str(bundle / "rootfs/app/orders")], capture_output=True, text=True, check=True)
    return out.stdout.strip(), (bundle / "rootfs/etc/passwd").read_text()


def test_a_release_is_built_into_an_index_umoci_and_skopeo_read(repo: Repo, tmp_path: Path) -> None:
    commit = add_service(repo)
    repo.tag("v1.3.0")
    store = tmp_path / "store"
    doc = build(repo, store)
    [image] = doc["images"]  # type: ignore[misc]
    assert (image["service"], image["ref"], image["version"], image["released"]) == (
        "orders",
        "orders:v1.3.0",
        "v1.3.0",
        True,
    )
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", f"oci:{store}:orders:v1.3.0"], capture_output=True, check=True
    ).stdout
    index = json.loads(raw)
    assert index["annotations"]["org.opencontainers.image.version"] == "v1.3.0"
    assert index["annotations"]["org.opencontainers.image.revision"] == commit
    [platform] = image["platforms"]
    assert index["manifests"][0]["digest"] == platform["digest"]
    output, passwd = run_image_binary(store, platform["digest"], tmp_path)
    date = repo.git("show", "-s", "--format=%cd", "--date=format-local:%Y-%m-%dT%H:%M:%SZ", "HEAD")
    assert output == f"orders v1.3.0 {commit} {date}"
    assert "nonroot:x:65532:65532" in passwd


def test_the_same_commit_gives_the_same_digest_and_a_change_a_new_one(repo: Repo, tmp_path: Path) -> None:
    add_service(repo)
    repo.tag("v1.0.0")
    first = build(repo, tmp_path / "a")["images"][0]  # type: ignore[index]
    again = build(repo, tmp_path / "a")["images"][0]  # type: ignore[index]
    assert again["reused"] is True and again["digest"] == first["digest"]
    fresh = build(repo, tmp_path / "b", "--no-cache")["images"][0]  # type: ignore[index]
    assert fresh["reused"] is False and fresh["digest"] == first["digest"]
    repo.commit("fix: say more", files={"cmd/orders/extra.go": 'package main\n\nvar extra = "x"\n'})
    changed = build(repo, tmp_path / "a")["images"][0]  # type: ignore[index]
    assert changed["reused"] is False and changed["digest"] != first["digest"]
    assert changed["version"].startswith("v1.0.1-0.")  # untagged: Go's pseudo-version


def test_each_platform_image_has_an_spdx_sbom_referring_to_it(repo: Repo, tmp_path: Path) -> None:
    add_service(repo)
    repo.tag("v2.0.0")
    repo.gomod(".", "example.com/shop/v2")
    repo.commit("feat!: v2 path", files={})
    repo.tag("v2.0.1")
    store = tmp_path / "store"
    doc = build(repo, store, "--platform", "linux/amd64", "--platform", "linux/arm64")
    [image] = doc["images"]  # type: ignore[misc]
    layout = Layout(store)
    assert [p["platform"] for p in image["platforms"]] == ["linux/amd64", "linux/arm64"]
    for platform in image["platforms"]:
        artifact = layout.read(platform["sbom"])
        assert isinstance(artifact, StoredImage)
        assert (
            artifact.manifest.subject is not None and artifact.manifest.subject.digest == platform["digest"]
        )
        assert artifact.manifest.artifact_type == "application/spdx+json"
        document = json.loads(layout.read_blob(artifact.layers[0].digest))
        assert document["spdxVersion"] == "SPDX-2.3"
        purls = [r["referenceLocator"] for p in document["packages"] for r in p.get("externalRefs", [])]
        assert any(p.startswith("pkg:golang/example.com/shop/v2@v2.0.1") for p in purls)
        pulled = layout.read(platform["digest"])
        assert isinstance(pulled, StoredImage) and pulled.config is not None
        assert Platform(pulled.config.os, pulled.config.architecture) == Platform.parse(platform["platform"])


def test_verify_reproducible_builds_twice_in_fresh_checkouts(repo: Repo, tmp_path: Path) -> None:
    add_service(repo)
    repo.tag("v0.4.0")
    result = repo.goship("build", "--store", str(tmp_path / "s"), "--verify-reproducible")
    assert result.code == 0, result.stderr
    assert "built orders:v0.4.0" in result.stderr
    assert repo.git("worktree", "list").count("\n") == 0  # the scratch checkouts are gone


def test_dry_run_builds_nothing(repo: Repo, tmp_path: Path) -> None:
    add_service(repo)
    result = repo.goship("build", "--store", str(tmp_path / "s"), "--dry-run")
    assert result.code == 0, result.stderr
    assert "would build orders:v0.0.0-" in result.stderr
    assert not (tmp_path / "s" / "index.json").exists() or Layout(tmp_path / "s").refs() == {}


def test_services_from_goship_yaml_and_bad_names(repo: Repo, tmp_path: Path) -> None:
    add_service(repo)
    repo.write("goship.yaml", "services:\n  - name: Orders\n    main: ./cmd/orders\n")
    bad = repo.goship("build", "--store", str(tmp_path / "s"))
    assert bad.code == 2
    assert "service name 'Orders': expected lower-case letters" in bad.stderr
    repo.write("goship.yaml", "services:\n  - name: shop-orders\n    main: ./cmd/orders\n    ports: [8080]\n")
    [image] = build(repo, tmp_path / "s")["images"]  # type: ignore[misc]
    assert image["ref"].startswith("shop-orders:")
    unknown = repo.goship("build", "--store", str(tmp_path / "s"), "--service", "nope")
    assert unknown.code == 2
    assert "no service named 'nope'" in unknown.stderr


def test_a_repository_without_main_packages_has_nothing_to_build(repo: Repo, tmp_path: Path) -> None:
    result = repo.goship("build", "--store", str(tmp_path / "s"))
    assert result.code == 2
    assert "no Go service to build" in result.stderr
