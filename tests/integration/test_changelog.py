"""``goship changelog`` on real git histories: grouped notes, folded bot bumps, CHANGELOG.md."""

from __future__ import annotations

import pytest

from tests.conftest import Repo
from tests.integration.conftest import run_go

pytestmark = pytest.mark.integration


def test_notes_are_grouped_with_breaking_changes_first(repo: Repo) -> None:
    repo.tag("v1.0.0")
    fix = repo.commit("fix(cart): keep coupons on reload")
    feat = repo.commit("feat: gift cards")
    perf = repo.commit("perf: cache prices")
    repo.commit("docs: readme")
    brk = repo.commit(
        "feat(api)!: orders are paginated\n\nBREAKING CHANGE: GET /orders returns pages of 50\n"
    )
    repo.git("remote", "add", "origin", "git@github.com:acme/shop.git")
    result = repo.goship("changelog")
    assert result.code == 0, result.stderr
    url = "https://github.com/acme/shop/commit/"
    assert result.stdout == (
        "## [v2.0.0] - 2026-11-18\n\n"
        "### Breaking changes\n\n"
        f"- **api:** orders are paginated: GET /orders returns pages of 50 ([{brk[:7]}]({url}{brk}))\n\n"
        "### Features\n\n"
        f"- gift cards ([{feat[:7]}]({url}{feat}))\n\n"
        "### Fixes\n\n"
        f"- **cart:** keep coupons on reload ([{fix[:7]}]({url}{fix}))\n\n"
        "### Performance\n\n"
        f"- cache prices ([{perf[:7]}]({url}{perf}))\n"
    )


def test_bot_dependency_bumps_fold_into_one_line(repo: Repo) -> None:
    repo.tag("v1.0.0")
    repo.commit("fix: real fix")
    bot = "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>"
    repo.commit("build(deps): bump golang.org/x/net from 0.30.0 to 0.31.0", author=bot)
    repo.commit("build(deps): bump google.golang.org/grpc from 1.66.0 to 1.67.1", author=bot)
    repo.commit(
        "fix(deps): update module github.com/lib/pq to v1.10.9", author="renovate[bot] <bot@renovateapp.com>"
    )
    out = repo.goship("changelog").stdout
    assert out.count("**Dependencies:**") == 1
    assert (
        "- **Dependencies:** golang.org/x/net 0.30.0 → 0.31.0, google.golang.org/grpc 1.66.0 → 1.67.1, "
        "github.com/lib/pq → v1.10.9 (3 updates)"
    ) in out
    assert "- real fix" in out


def test_write_prepends_in_keep_a_changelog_form_once_per_release(repo: Repo) -> None:
    repo.commit("feat: first")
    first = repo.goship("changelog", "--write", "CHANGELOG.md")
    assert first.code == 0, first.stderr
    text = (repo.path / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n\nAll notable changes")
    assert "## [v0.1.0] - 2026-11-18" in text
    again = repo.goship("changelog", "--write", "CHANGELOG.md")
    assert again.code == 1
    assert "already has a section for v0.1.0" in again.stderr
    repo.git("add", "CHANGELOG.md")
    repo.commit("chore: changelog")
    repo.tag("v0.1.0")
    repo.commit("fix: second")
    assert repo.goship("changelog", "--write", "CHANGELOG.md").code == 0
    text = (repo.path / "CHANGELOG.md").read_text()
    assert text.index("## [v0.1.1]") < text.index("## [v0.1.0]")


def test_dry_run_writes_nothing(repo: Repo) -> None:
    repo.commit("feat: first")
    result = repo.goship("changelog", "--write", "CHANGELOG.md", "--dry-run")
    assert result.code == 0
    assert "## [v0.1.0]" in result.stdout
    assert not (repo.path / "CHANGELOG.md").exists()


def test_since_covers_the_commits_after_a_ref_even_without_a_release(repo: Repo) -> None:
    repo.tag("v1.0.0")
    repo.commit("feat: a")
    repo.tag("v1.1.0")
    repo.commit("refactor: b")
    result = repo.goship("changelog", "--since", "v1.0.0", "--json")
    assert result.code == 0, result.stderr
    doc = result.json()
    assert isinstance(doc, dict)
    [release] = doc["releases"]
    assert release["title"] == "Unreleased"
    assert [s["title"] for s in release["sections"]] == ["Features", "Other"]
    bad = repo.goship("changelog", "--since", "nope")
    assert bad.code == 2
    assert "--since 'nope' names no commit" in bad.stderr


def test_nothing_releasable_prints_no_notes(repo: Repo) -> None:
    repo.tag("v1.0.0")
    repo.commit("chore: noise")
    result = repo.goship("changelog")
    assert result.code == 0
    assert result.stdout == ""
    assert "no releasable changes" in result.stderr


def test_monorepo_module_notes_use_the_prefixed_tag(repo: Repo) -> None:
    repo.gomod("services/orders", "example.com/shop/services/orders")
    repo.commit("chore: orders")
    repo.tag("services/orders/v1.0.0")
    repo.touch("services/orders", "feat(orders): refunds")
    out = repo.goship("changelog", "--module", "services/orders").stdout
    assert out.startswith("## [services/orders/v1.1.0] - 2026-11-18\n")


def test_dependencies_line_comes_from_the_go_mod_diff_between_releases(
    app: Repo, goenv: dict[str, str]
) -> None:
    app.tag("v1.0.0")
    run_go(app, goenv, "get", "example.com/lib@v1.1.0")
    bot = "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>"
    app.commit("build(deps): bump example.com/lib from 1.0.0 to 1.1.0", files={}, author=bot)
    app.commit("fix: a real fix")
    out = app.goship("changelog", **goenv).stdout
    assert "- **Dependencies:** example.com/lib v1.0.0 → v1.1.0 (minor upgrade) (1 update)" in out
    assert "bump example.com/lib" not in out
