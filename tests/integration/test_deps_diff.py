"""``goship deps diff`` between real revisions of real Go modules (a disk module proxy, the real go)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Repo
from tests.integration.conftest import run_go

pytestmark = pytest.mark.integration


def diff(repo: Repo, env: dict[str, str], *args: str) -> tuple[int, dict[str, object]]:
    result = repo.goship("deps", "diff", "--format", "json", *args, **env)
    assert result.code in (0, 1), result.stderr
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    return result.code, doc


def requirement_changes(doc: dict[str, object], dir: str = ".") -> list[tuple[str, str, str | None, str]]:
    modules = doc["modules"]
    assert isinstance(modules, list)
    [module] = [m for m in modules if m["dir"] == dir]
    return [(c["path"], c["kind"], c["level"], c["action"]) for c in module["requirements"]]


def test_patch_upgrade_is_allowed(app: Repo, goenv: dict[str, str]) -> None:
    base = app.git("rev-parse", "HEAD")
    run_go(app, goenv, "get", "example.com/lib@v1.0.1")
    app.commit("fix(deps): lib v1.0.1")
    code, doc = diff(app, goenv, "--base", base, "--head", "HEAD")
    assert code == 0
    assert requirement_changes(doc) == [("example.com/lib", "upgraded", "patch", "allow")]
    assert doc["action"] == "allow"


def test_minor_upgrade_needs_review_and_a_new_requirement_too(app: Repo, goenv: dict[str, str]) -> None:
    app.write("extra.go", 'package main\n\nimport "example.com/util"\n\nvar _ = util.Version\n')
    run_go(app, goenv, "get", "example.com/lib@v1.1.0", "example.com/util@v0.1.0")
    run_go(app, goenv, "mod", "tidy")
    code, doc = diff(app, goenv, "--base", "HEAD")  # the work tree against the last commit
    assert code == 0
    assert requirement_changes(doc) == [
        ("example.com/lib", "upgraded", "minor", "review"),
        ("example.com/util", "added", None, "review"),
    ]
    assert doc["head"] == "the work tree"


def test_major_upgrade_by_path_change_is_blocked_unless_allowlisted(app: Repo, goenv: dict[str, str]) -> None:
    app.write(
        "main.go", 'package main\n\nimport "example.com/lib/v2"\n\nfunc main() { println(lib.Version()) }\n'
    )
    run_go(app, goenv, "mod", "tidy")
    result = app.goship("deps", "diff", "--base", "HEAD", **goenv)
    assert result.code == 1
    assert "BLOCKED  example.com/lib/v2 example.com/lib v1.0.0 → v2.0.0 (major upgrade)" in result.stdout
    code, doc = diff(app, goenv, "--base", "HEAD")
    assert code == 1
    [change] = doc["modules"][0]["requirements"]  # type: ignore[index]
    assert (change["old_path"], change["old"], change["new"], change["level"]) == (
        "example.com/lib",
        "v1.0.0",
        "v2.0.0",
        "major",
    )
    app.write("goship.yaml", "deps:\n  diff:\n    allow: ['example.com/lib*']\n")
    assert diff(app, goenv, "--base", "HEAD")[0] == 0


def test_downgrade_directives_and_rules_are_listed(app: Repo, goenv: dict[str, str]) -> None:
    run_go(app, goenv, "get", "example.com/lib@v1.0.1")
    app.commit("chore: lib v1.0.1")
    base = app.git("rev-parse", "HEAD")
    run_go(app, goenv, "get", "example.com/lib@v1.0.0")
    run_go(app, goenv, "mod", "edit", "-go=1.23", "-exclude=example.com/util@v0.1.0")
    code, doc = diff(app, goenv, "--base", base)
    [module] = doc["modules"]  # type: ignore[misc]
    assert requirement_changes(doc) == [("example.com/lib", "downgraded", "patch", "review")]
    assert module["directives"] == [{"directive": "go", "old": "1.22", "new": "1.23"}]
    assert module["rules"] == [{"directive": "exclude", "change": "added", "text": "example.com/util v0.1.0"}]
    assert code == 0


def test_go_sum_lines_without_a_go_mod_change_need_review(app: Repo, goenv: dict[str, str]) -> None:
    gosum = app.path / "go.sum"
    gosum.write_text(
        gosum.read_text() + "example.com/util v0.2.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    )
    code, doc = diff(app, goenv, "--base", "HEAD")
    [module] = doc["modules"]  # type: ignore[misc]
    assert module["sum_added_without_mod_change"] == [
        "example.com/util v0.2.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    ]
    assert module["action"] == "review"
    assert code == 0


def test_markdown_is_a_pull_request_comment(app: Repo, goenv: dict[str, str]) -> None:
    run_go(app, goenv, "get", "example.com/lib@v1.0.1")
    result = app.goship("deps", "diff", "--base", "HEAD", "--format", "markdown", **goenv)
    assert result.code == 0
    assert result.stdout.startswith(
        "### Dependency changes (HEAD → the work tree)\n\nVerdict: ✅ all allowed\n"
    )
    assert (
        "| ✅ | `example.com/lib` | v1.0.0 → v1.0.1 | patch upgraded | patch upgrade: deps.diff.patch is allow |"
        in result.stdout
    )


def test_modules_added_and_removed_between_revisions(app: Repo, goenv: dict[str, str]) -> None:
    app.write("tools/go.mod", "module example.com/shop/tools\n\ngo 1.22\n")
    code, doc = diff(app, goenv, "--base", "HEAD")
    assert code == 0
    statuses = {m["dir"]: m["status"] for m in doc["modules"]}  # type: ignore[union-attr]
    assert statuses == {".": "unchanged", "tools": "added"}


def test_unknown_base_is_a_usage_error(app: Repo, goenv: dict[str, str]) -> None:
    result = app.goship("deps", "diff", "--base", "origin/nope", **goenv)
    assert result.code == 2
    assert "--base 'origin/nope' names no commit" in result.stderr
