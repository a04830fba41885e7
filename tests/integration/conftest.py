"""Fixtures for dependency tests: a Go module proxy on disk and Go modules that use it."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import Repo
from tests.integration.goproxy import build_proxy, go_env
from tests.integration.k8scluster import k8s_cluster, namespace
from tests.integration.registry_fixtures import basic_registry, registry, token_registry

__all__ = [
    "basic_registry",
    "k8s_cluster",
    "namespace",
    "registry",
    "token_registry",
]  # one real one of each per test process


@pytest.fixture(scope="session")
def goenv(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """GOPROXY and friends pointing at a disk proxy of example.com/{lib,lib/v2,util}."""
    root = tmp_path_factory.mktemp("goproxy")
    return go_env(build_proxy(root / "proxy"), root / "modcache")


def run_go(repo: Repo, env: dict[str, str], *args: str, dir: str = ".") -> str:
    done = subprocess.run(
        ["go", *args],
        cwd=repo.path / dir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"go {' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.fixture
def app(repo: Repo, goenv: dict[str, str]) -> Repo:
    """The root module example.com/shop importing example.com/lib v1.0.0, tidy, committed."""
    repo.write(
        "main.go", 'package main\n\nimport "example.com/lib"\n\nfunc main() { println(lib.Version()) }\n'
    )
    repo.write("go.mod", "module example.com/shop\n\ngo 1.22\n\nrequire example.com/lib v1.0.0\n")
    (repo.path / "doc.go").unlink()  # the root is this main package now
    run_go(repo, goenv, "mod", "tidy")
    repo.commit("feat: use lib", files={})
    return repo
