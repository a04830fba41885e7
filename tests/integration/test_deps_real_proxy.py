"""The dependency gates on a real module from the Go module proxy (github.com/google/uuid)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import Repo

pytestmark = pytest.mark.integration


def go(repo: Repo, *args: str) -> None:
    done = subprocess.run(
        ["go", *args], cwd=repo.path, capture_output=True, text=True, check=False, env=os.environ
    )
    assert done.returncode == 0, done.stderr


def test_check_and_diff_with_a_real_proxy_module(repo: Repo) -> None:
    repo.write(
        "main.go",
        'package main\n\nimport "github.com/google/uuid"\n\nfunc main() { println(uuid.NewString()) }\n',
    )
    repo.write("go.mod", "module example.com/shop\n\ngo 1.22\n")
    go(repo, "get", "github.com/google/uuid@v1.5.0")
    go(repo, "mod", "tidy")
    repo.commit("feat: ids", files={})
    checked = repo.goship("deps", "check", "--json")
    assert checked.code == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["findings"] == []

    go(repo, "get", "github.com/google/uuid@v1.6.0")
    result = repo.goship("deps", "diff", "--base", "HEAD", "--format", "json")
    assert result.code == 0, result.stderr
    [module] = json.loads(result.stdout)["modules"]
    [change] = module["requirements"]
    assert (change["path"], change["old"], change["new"], change["level"], change["action"]) == (
        "github.com/google/uuid",
        "v1.5.0",
        "v1.6.0",
        "minor",
        "review",
    )
