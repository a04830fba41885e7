"""The two subprocess wrappers: typed results from the real git and go, and errors that keep stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from goship.errors import GitError, GoToolError
from goship.git import Git
from goship.gotool import Go
from tests.conftest import Repo

pytestmark = pytest.mark.integration


def test_go_reports_its_version_and_builds(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/hello\n\ngo 1.22\n")
    (tmp_path / "main.go").write_text('package main\n\nfunc main() { println("hi") }\n')
    go = Go(tmp_path)
    assert go.version().startswith("go1.")
    go.build(".", output=tmp_path / "hello")
    assert (tmp_path / "hello").is_file()


def test_a_failing_go_command_keeps_its_stderr(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/broken\n\ngo 1.22\n")
    (tmp_path / "main.go").write_text("package main\n\nfunc main() { undefinedThing() }\n")
    with pytest.raises(GoToolError) as caught:
        Go(tmp_path).build(".", output=tmp_path / "out")
    assert caught.value.exit_code == 3
    assert "undefined: undefinedThing" in caught.value.message


def test_missing_programs_are_environment_errors_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(GoToolError) as go_missing:
        Go(tmp_path, program="go-not-installed").version()
    assert go_missing.value.exit_code == 3
    assert go_missing.value.hint
    with pytest.raises(GitError) as git_missing:
        Git(tmp_path, program="git-not-installed").repo_info()
    assert git_missing.value.exit_code == 3
    assert "apt-get install git" in (git_missing.value.hint or "")


def test_log_keeps_a_modules_commits_and_leaves_out_nested_ones(repo: Repo) -> None:
    repo.gomod("services/orders", "example.com/shop/services/orders")
    repo.commit("chore: orders")
    root_change = repo.touch(".", "fix: root")
    repo.touch("services/orders", "fix: orders")
    git = Git(repo.path)
    root = git.log(["HEAD"], paths=["."], exclude_paths=["services/orders"])
    assert root[0].sha == root_change
    assert all(c.subject != "fix: orders" for c in root)
    assert root[0].author_email == "ada@example.com"
    assert root[0].parents and not root[0].is_merge


def test_a_failing_git_command_names_the_command_and_keeps_stderr(repo: Repo) -> None:
    with pytest.raises(GitError) as caught:
        Git(repo.path).run("log", "no-such-revision")
    assert caught.value.message.startswith("git log no-such-revision failed: fatal:")
