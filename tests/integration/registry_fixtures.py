"""Session fixtures with real registries (one of each kind per test process): ``registry`` without
auth, ``basic_registry`` with htpasswd Basic auth, ``token_registry`` with token auth."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.registryserver import RunningRegistry, registry_running


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with registry_running(tmp_path_factory.mktemp("registry"), "none") as running:
        yield running


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with registry_running(tmp_path_factory.mktemp("basic-registry"), "basic") as running:
        yield running


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with registry_running(tmp_path_factory.mktemp("token-registry"), "token") as running:
        yield running
