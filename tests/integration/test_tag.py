"""``goship tag`` on real repositories: the right tags, annotated with their notes, or none at all."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import Repo

pytestmark = pytest.mark.integration


def bare_remote(repo: Repo, tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    repo.git("remote", "add", "origin", str(remote))
    repo.git("push", "-q", "origin", "main")
    return remote


def remote_tags(remote: Path) -> list[str]:
    out = subprocess.run(
        ["git", "ls-remote", "--tags", str(remote)], capture_output=True, text=True, check=True
    )
    return sorted(line.split("refs/tags/")[1] for line in out.stdout.splitlines() if "^{}" not in line)


def test_tags_every_module_with_a_releasable_change_annotated_with_its_notes(repo: Repo) -> None:
    repo.gomod("services/orders", "example.com/shop/services/orders")
    repo.gomod("services/billing", "example.com/shop/services/billing")
    repo.commit("chore: services")
    repo.tag("v1.0.0")
    repo.tag("services/orders/v1.0.0")
    repo.tag("services/billing/v1.0.0")
    repo.touch("services/orders", "feat(orders): refunds")
    repo.touch(".", "fix: root fix")
    result = repo.goship("tag")
    assert result.code == 0, result.stderr
    assert "created tag services/orders/v1.1.0" in result.stderr
    assert "created tag v1.0.1" in result.stderr
    assert sorted(repo.tags()) == sorted(
        ["v1.0.0", "v1.0.1", "services/orders/v1.0.0", "services/orders/v1.1.0", "services/billing/v1.0.0"]
    )
    assert repo.git("cat-file", "-t", "services/orders/v1.1.0") == "tag"
    message = repo.git("tag", "-l", "--format=%(contents)", "services/orders/v1.1.0")
    assert message.startswith(
        "example.com/shop/services/orders v1.1.0\n\n### Features\n\n- **orders:** refunds"
    )
    assert repo.git("rev-parse", "services/orders/v1.1.0^{commit}") == repo.git("rev-parse", "HEAD")
    # Nothing left to release: said plainly, exit 0.
    again = repo.goship("tag")
    assert again.code == 0
    assert "nothing to tag" in again.stderr


def test_dry_run_creates_nothing(repo: Repo) -> None:
    repo.commit("feat: first")
    result = repo.goship("tag", "--dry-run", "--json")
    assert result.code == 0, result.stderr
    doc = result.json()
    assert isinstance(doc, dict)
    assert [t["tag"] for t in doc["tags"]] == ["v0.1.0"]
    assert doc["dry_run"] is True
    assert repo.tags() == []


def test_refuses_a_dirty_work_tree(repo: Repo) -> None:
    repo.commit("feat: first")
    repo.write("main.go", "package main // edited\n")
    result = repo.goship("tag")
    assert result.code == 1
    assert "error: the work tree has uncommitted changes (main.go)" in result.stderr
    assert "hint: commit or stash them first" in result.stderr
    assert repo.tags() == []


def test_refuses_v2_without_v2_in_the_module_path_and_names_the_fix(repo: Repo) -> None:
    repo.tag("v1.4.0")
    repo.commit("feat!: new order model")
    result = repo.goship("tag")
    assert result.code == 1
    assert (
        "error: v2.0.0 needs module path example.com/shop/v2 (go.mod says example.com/shop)" in result.stderr
    )
    assert "hint: change go.mod to 'module example.com/shop/v2' and update its import paths" in result.stderr
    assert "or keep v1 by releasing v1.5.0" in result.stderr
    assert repo.tags() == ["v1.4.0"]
    version = repo.goship("version", "--json").json()
    assert isinstance(version, dict)
    assert version["modules"][0]["refused"]["error"].startswith("v2.0.0 needs module path")


def test_a_v2_module_path_with_v2_tags_tags_fine_and_refuses_v3(repo: Repo) -> None:
    repo.gomod(".", "example.com/shop/v2")
    repo.commit("feat!: v2 path")
    repo.tag("v2.0.0")
    repo.commit("feat: more")
    assert repo.goship("tag").code == 0
    assert "v2.1.0" in repo.tags()
    repo.commit("fix!: drop old field")
    refused = repo.goship("tag")
    assert refused.code == 1
    assert "v3.0.0 needs module path example.com/shop/v3 (go.mod says example.com/shop/v2)" in refused.stderr


def test_never_repoints_an_existing_tag_and_says_so_on_a_maintenance_branch(repo: Repo) -> None:
    repo.tag("v1.3.0")
    repo.git("checkout", "-q", "-b", "release-1.3")
    repo.git("checkout", "-q", "main")
    repo.commit("feat: new stuff")
    repo.tag("v1.4.0")
    repo.git("checkout", "-q", "release-1.3")
    repo.commit("feat: backported feature")  # would be v1.4.0, which exists on main
    refused = repo.goship("tag")
    assert refused.code == 1
    assert "tag v1.4.0 exists already" in refused.stderr
    assert "not in HEAD's history" in refused.stderr
    assert repo.git("rev-parse", "v1.4.0^{commit}") != repo.git("rev-parse", "HEAD")
    repo.git("reset", "-q", "--hard", "HEAD~1")
    repo.commit("fix: backported fix")
    ok = repo.goship("tag")
    assert ok.code == 0, ok.stderr
    assert "created tag v1.3.1" in ok.stderr
    assert "maintenance release: v1.4.0 exists on another line of history" in ok.stderr


def test_push_sends_only_the_new_tags(repo: Repo, tmp_path: Path) -> None:
    remote = bare_remote(repo, tmp_path)
    repo.tag("v1.0.0")
    repo.tag("local-experiment")
    repo.commit("fix: a bug")
    repo.git("push", "-q", "origin", "main")
    result = repo.goship("tag", "--push")
    assert result.code == 0, result.stderr
    assert remote_tags(remote) == ["v1.0.1"]


def test_a_failed_push_leaves_no_new_tag_behind(repo: Repo, tmp_path: Path) -> None:
    remote = bare_remote(repo, tmp_path)
    repo.gomod("services/orders", "example.com/shop/services/orders")
    repo.commit("feat: orders module")
    # Someone else already published services/orders/v0.1.0 elsewhere: the atomic push must fail.
    other = Repo(tmp_path / "other")
    other.gomod(".", "example.com/other")
    other.commit("chore: other")
    other.git("push", "-q", str(remote), "HEAD:refs/tags/services/orders/v0.1.0")
    result = repo.goship("tag", "--push")
    assert result.code == 3, result.stderr
    assert "removed the 2 local tag(s) created before it" in result.stderr
    assert repo.tags() == []
    assert remote_tags(remote) == ["services/orders/v0.1.0"]


def test_push_to_a_missing_remote_is_refused_before_tagging(repo: Repo) -> None:
    repo.commit("feat: first")
    result = repo.goship("tag", "--push")
    assert result.code == 2
    assert "there is no remote 'origin'" in result.stderr
    assert repo.tags() == []


def test_sign_uses_the_users_git_signing_config(repo: Repo, tmp_path: Path) -> None:
    key = tmp_path / "signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    repo.git("config", "gpg.format", "ssh")
    repo.git("config", "user.signingkey", str(key))
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"ada@example.com {(tmp_path / 'signing_key.pub').read_text()}")
    repo.git("config", "gpg.ssh.allowedSignersFile", str(allowed))
    repo.commit("feat: signed release")
    result = repo.goship("tag", "--sign")
    assert result.code == 0, result.stderr
    assert "created signed tag v0.1.0" in result.stderr
    verified = subprocess.run(
        ["git", "tag", "-v", "v0.1.0"],
        cwd=repo.path,
        env=repo.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert 'Good "git" signature for ada@example.com' in verified.stderr


def test_a_failed_signature_leaves_no_tag(repo: Repo, tmp_path: Path) -> None:
    repo.git("config", "gpg.format", "ssh")
    repo.git("config", "user.signingkey", str(tmp_path / "missing_key"))
    repo.commit("feat: first")
    result = repo.goship("tag", "--sign")
    assert result.code == 3
    assert repo.tags() == []


def test_prerelease_tags_count_up(repo: Repo) -> None:
    repo.tag("v1.0.0")
    repo.commit("feat: beta feature")
    assert repo.goship("tag", "--pre", "beta").code == 0
    repo.commit("fix: beta fix")
    assert repo.goship("tag", "--pre", "beta").code == 0
    assert repo.goship("tag").code == 0
    assert sorted(repo.tags()) == ["v1.0.0", "v1.1.0", "v1.1.0-beta.1", "v1.1.0-beta.2"]
