"""``goship version`` on real git histories: current, next, bump and why, per module."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Repo

pytestmark = pytest.mark.integration


def modules(repo: Repo, *args: str) -> dict[str, dict[str, Any]]:
    result = repo.goship("version", "--json", *args)
    assert result.code == 0, result.stderr
    doc = result.json()
    assert isinstance(doc, dict)
    return {m["dir"]: m for m in doc["modules"]}


def test_first_release_of_a_module_is_the_initial_version(repo: Repo) -> None:
    repo.commit("feat: take orders")
    root = modules(repo)["."]
    assert root["current"] is None
    assert root["next"] == "v0.1.0"
    assert root["bump"] == "minor"
    assert root["tag_prefix"] == ""
    assert root["path"] == "example.com/shop"


def test_feat_bumps_minor_fix_bumps_patch_and_chore_bumps_nothing(repo: Repo) -> None:
    repo.tag("v1.2.3")
    repo.commit("chore: tidy")
    assert modules(repo)["."]["next"] is None
    repo.commit("fix: off by one")
    assert modules(repo)["."]["next"] == "v1.2.4"
    repo.commit("feat(api): list orders")
    root = modules(repo)["."]
    assert (root["current"], root["next"], root["bump"]) == ("v1.2.3", "v1.3.0", "minor")
    assert [c["bump"] for c in root["commits"]] == ["minor", "patch", "none"]


def test_no_releasable_commit_is_said_plainly(repo: Repo) -> None:
    repo.tag("v1.0.0")
    repo.commit("docs: explain the API")
    repo.commit("update things")
    result = repo.goship("version")
    assert result.code == 0
    assert "no releasable commit since v1.0.0 (2 commits, none bumps)" in result.stdout
    explained = repo.goship("version", "--explain")
    assert "not a conventional commit" in explained.stdout
    assert "update things" in explained.stdout


def test_current_is_the_highest_tag_that_is_an_ancestor_of_head_not_the_highest_in_the_repo(
    repo: Repo,
) -> None:
    repo.tag("v1.3.0")
    repo.git("checkout", "-q", "-b", "next")
    repo.commit("feat: next big thing")
    repo.tag("v1.4.0")
    repo.git("checkout", "-q", "main")
    repo.commit("fix: urgent")
    root = modules(repo)["."]
    assert root["current"] == "v1.3.0"
    assert root["next"] == "v1.3.1"
    assert root["refused"] is None
    assert any("maintenance release: v1.4.0 exists" in n for n in root["notes"])


def test_breaking_change_bumps_major_and_before_v1_only_minor(repo: Repo) -> None:
    repo.tag("v0.4.2")
    repo.commit("feat!: drop the XML API")
    root = modules(repo)["."]
    assert (root["next"], root["bump"]) == ("v0.5.0", "minor")
    assert "below v1.0.0 it bumps minor" in root["commits"][0]["reason"]
    repo.write("goship.yaml", "versioning:\n  breaking_before_v1: major\n")
    root = modules(repo)["."]
    assert root["next"] == "v1.0.0"


def test_breaking_change_footer_in_the_body_is_seen(repo: Repo) -> None:
    repo.tag("v1.0.0")
    repo.commit("refactor: rename fields\n\nBREAKING-CHANGE: the JSON field id is now order_id\n")
    root = modules(repo)["."]
    assert root["next"] == "v2.0.0"
    assert root["refused"] is not None  # no /v2 on the module path: see the guard tests


def test_nested_modules_have_prefixes_and_only_their_own_commits(repo: Repo) -> None:
    repo.gomod("services/orders", "example.com/shop/services/orders")
    repo.gomod("services/billing", "example.com/shop/services/billing")
    repo.commit("chore: add services")
    repo.tag("v1.0.0")
    repo.tag("services/orders/v0.3.0")
    repo.tag("services/billing/v2.0.0")  # no /v2 in billing's path: ignored, with why
    repo.touch("services/orders", "feat(orders): refunds")
    repo.touch("services/billing", "fix(billing): rounding")
    mods = modules(repo)
    assert list(mods) == [".", "services/billing", "services/orders"]
    assert (mods["."]["current"], mods["."]["next"]) == ("v1.0.0", None)
    orders = mods["services/orders"]
    assert (orders["tag_prefix"], orders["current"], orders["next"]) == (
        "services/orders/",
        "v0.3.0",
        "v0.4.0",
    )
    assert orders["next_tag"] == "services/orders/v0.4.0"
    assert [c["subject"] for c in orders["commits"]] == ["feat(orders): refunds"]
    billing = mods["services/billing"]
    assert billing["current"] is None
    assert billing["ignored_tags"] == [
        {
            "tag": "services/billing/v2.0.0",
            "reason": "major v2 needs module path example.com/shop/services/billing/v2 (go.mod has no /v2 suffix)",
        }
    ]


def test_module_option_selects_by_directory_or_path(repo: Repo) -> None:
    repo.gomod("tools", "example.com/shop/tools")
    repo.commit("chore: tools")
    assert list(modules(repo, "--module", "./tools/")) == ["tools"]
    assert list(modules(repo, "-m", "example.com/shop")) == ["."]
    bad = repo.goship("version", "--module", "nope")
    assert bad.code == 2
    assert "error: no Go module at 'nope' (expected one of: ., tools)" in bad.stderr


def test_odd_tags_are_listed_as_ignored_with_why(repo: Repo) -> None:
    for t in [
        "v1.0.0",
        "v1.1",
        "v1.2.0+build.5",
        "v1.0.1-0.20240101000000-abcdefabcdef",
        "latest",
        "v1.02.0",
    ]:
        repo.tag(t)
    root = modules(repo)["."]
    reasons = {t["tag"]: t["reason"] for t in root["ignored_tags"]}
    assert root["current"] == "v1.0.0"
    assert set(reasons) == {
        "v1.1",
        "v1.2.0+build.5",
        "v1.0.1-0.20240101000000-abcdefabcdef",
        "latest",
        "v1.02.0",
    }
    assert "shorthand" in reasons["v1.1"]
    assert "build metadata" in reasons["v1.2.0+build.5"]
    assert "pseudo-version" in reasons["v1.0.1-0.20240101000000-abcdefabcdef"]
    assert "not a version tag" in reasons["latest"]
    assert "not a semantic version" in reasons["v1.02.0"]


def test_prerelease_channel_counts_up_and_ends_in_the_final_version(repo: Repo) -> None:
    repo.tag("v1.3.0")
    repo.commit("feat: search")
    assert modules(repo, "--pre", "rc")["."]["next"] == "v1.4.0-rc.1"
    repo.tag("v1.4.0-rc.1")
    assert modules(repo, "--pre", "rc")["."]["next"] is None  # nothing new since rc.1
    repo.commit("fix: search paging")
    pre = modules(repo, "--pre", "rc")["."]
    assert (pre["current"], pre["next"]) == ("v1.4.0-rc.1", "v1.4.0-rc.2")
    repo.tag("v1.4.0-rc.2")
    final = modules(repo)["."]
    assert (final["current"], final["next"], final["bump"]) == ("v1.4.0-rc.2", "v1.4.0", "minor")


def test_prerelease_channel_must_be_a_name(repo: Repo) -> None:
    result = repo.goship("version", "--pre", "1")
    assert result.code == 2
    assert "error: --pre: expected a name such as 'rc'" in result.stderr


def test_revert_of_an_unreleased_feature_cancels_it(repo: Repo) -> None:
    repo.tag("v1.0.0")
    feat = repo.commit("feat: risky thing")
    repo.git("revert", "--no-edit", feat)
    root = modules(repo)["."]
    assert root["next"] is None
    assert {c["reason"].split(" ")[0] for c in root["commits"]} == {"reverted", "reverts"}


def test_revert_of_a_released_feature_is_a_patch(repo: Repo) -> None:
    feat = repo.commit("feat: risky thing")
    repo.tag("v1.1.0")
    repo.git("revert", "--no-edit", feat)
    assert modules(repo)["."]["next"] == "v1.1.1"


def test_merge_commits_count_through_the_commits_they_merge(repo: Repo) -> None:
    repo.tag("v1.0.0")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("feat: gift cards")
    repo.git("checkout", "-q", "main")
    repo.commit("fix: typo", files={"other.go": "package main\n"})
    repo.git("merge", "--no-ff", "-q", "-m", "Merge branch 'feature'", "feature")
    root = modules(repo)["."]
    assert root["next"] == "v1.1.0"
    merge = next(c for c in root["commits"] if c["subject"].startswith("Merge"))
    assert merge["bump"] == "none"
    assert "merge commit" in merge["reason"]


def test_a_v2_module_in_a_major_subdirectory_shares_the_root_prefix(repo: Repo) -> None:
    repo.tag("v1.5.0")
    repo.gomod("v2", "example.com/shop/v2")
    repo.commit("feat: start v2", files={"v2/x.go": "package shop\n"})
    mods = modules(repo)
    assert mods["v2"]["tag_prefix"] == ""
    assert (mods["v2"]["current"], mods["v2"]["next"]) == (None, "v2.0.0")
    assert mods["."]["next"] is None  # the v2 directory is not the root module's
    repo.tag("v2.0.0")
    repo.touch("v2", "fix: v2 bug")
    mods = modules(repo)
    assert (mods["v2"]["current"], mods["v2"]["next"]) == ("v2.0.0", "v2.0.1")
    assert mods["."]["current"] == "v1.5.0"


def test_custom_bump_types_from_goship_yaml(repo: Repo) -> None:
    repo.tag("v1.0.0")
    repo.write(
        "goship.yaml", "versioning:\n  bump_types:\n    feat: minor\n    fix: patch\n    deps: patch\n"
    )
    repo.commit("deps: bump grpc")
    assert modules(repo)["."]["next"] == "v1.0.1"


def test_human_output_explains_each_commit(repo: Repo) -> None:
    repo.tag("v1.0.0")
    repo.commit("feat(cart): coupons")
    out = repo.goship("version", "--explain")
    assert out.code == 0
    assert "v1.1.0" in out.stdout
    assert "feat(cart): coupons" in out.stdout
    assert "type 'feat' → minor" in out.stdout
    assert "\x1b[" not in out.stdout  # not a terminal: no colour


def identity(repo: Repo, dir: str = ".") -> tuple[str, bool]:
    from pathlib import Path

    from goship.config import GoshipConfig
    from goship.git import Git
    from goship.versioning.plan import build_identity, open_repository

    r = open_repository(Git(Path(repo.path)), GoshipConfig())
    ident = build_identity(r, next(m for m in r.modules if m.dir == dir))
    assert ident.commit == repo.git("rev-parse", "HEAD")
    assert ident.date.endswith("Z")
    return ident.version, ident.released


def test_a_build_of_a_tagged_head_is_its_release_and_otherwise_a_pseudo_version(repo: Repo) -> None:
    repo.commit("feat: one")
    repo.tag("v1.2.3")
    assert identity(repo) == ("v1.2.3", True)
    repo.commit("fix: two")
    version, released = identity(repo)
    sha12 = repo.git("rev-parse", "HEAD")[:12]
    stamp = repo.git("show", "-s", "--format=%cd", "--date=format-local:%Y%m%d%H%M%S", "HEAD")
    assert (version, released) == (f"v1.2.4-0.{stamp}-{sha12}", False)


def test_pseudo_versions_follow_prereleases_and_major_paths(repo: Repo) -> None:
    repo.gomod("v2", "example.com/shop/v2")
    repo.commit("feat: v2", files={"v2/x.go": "package shop\n"})
    version, _ = identity(repo, "v2")
    assert version.startswith("v2.0.0-") and version.count("-") == 2
    repo.tag("v1.4.0-rc.1")
    repo.commit("fix: after rc")
    assert identity(repo)[0].startswith("v1.4.0-rc.1.0.")
