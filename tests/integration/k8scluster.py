"""A real Kubernetes control plane for the cluster tests: ``scripts/test-cluster`` builds etcd,
kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok from Go modules (once per set
of versions, cached outside the repo) and runs them as local processes through kwokctl's binary runtime,
every port on 127.0.0.1 and picked free by kwokctl. kwok stands in for kubelets on one fake node, by the
Stages the script installs:

- a pod becomes Running and Ready after the ``goship.dev/ready-after`` annotation's duration, else its
  first container's ``readinessProbe.initialDelaySeconds``, else one second;
- a pod labelled ``goship.dev/broken`` (any value) becomes Running but never Ready;
- a deleted pod disappears at once.

The Istio (``istio.io/api``) and Gateway API (``sigs.k8s.io/gateway-api``, standard channel) CRDs are
installed and established before the fixture yields.

One cluster per test process (each xdist worker has its own), named uniquely, with kwokctl's working
directory in the session's temporary directory; it is deleted at the end of the session whatever happened.
A missing binary is built, not skipped over; a build or start that fails fails the tests that use it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "test-cluster"
BROKEN_LABEL = "goship.dev/broken"
"""A pod labelled with this (any value) runs but never turns Ready."""
READY_AFTER_ANNOTATION = "goship.dev/ready-after"
"""A Go duration (``"5s"``) after which kwok makes a pod Ready."""

# A cold build of every binary takes tens of minutes on two cores; a warm one is a no-op.
BUILD_TIMEOUT_S = 60 * 60
# kwokctl waits up to 2 minutes for the API server to serve, then 1 more for readiness, before the
# script reports the components' logs.
UP_TIMEOUT_S = 300


class ClusterError(RuntimeError):
    """The script could not build, start or stop the cluster; carries the command's output."""


@dataclass(frozen=True)
class KubeCluster:
    """A running control plane and what a test needs to talk to it."""

    name: str
    """kwokctl's cluster name, unique per test process."""
    kubeconfig: Path
    """Admin kubeconfig (client certificates) for the API server on 127.0.0.1."""
    bin_dir: Path
    """The cached binaries: ``kubectl``, ``kwokctl``, ``kube-apiserver``, ..."""
    workdir: Path
    """kwokctl's working directory (``KWOK_WORKDIR``); the component logs are under ``clusters/<name>/logs``."""

    @property
    def server(self) -> str:
        """The API server's URL, ``https://127.0.0.1:<port>``."""
        config = json.loads(self.kubectl("config", "view", "-o", "json").stdout)
        server: str = config["clusters"][0]["cluster"]["server"]
        return server

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run the cluster's own kubectl against it; a non-zero exit fails with its stderr unless ``check=False``."""
        done = subprocess.run(
            [str(self.bin_dir / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
        return done

    def apply(
        self, manifest: str | dict[str, Any], *, namespace: str, server_side: bool = False, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``kubectl apply`` of one manifest (YAML/JSON text or a dict); server-side as field manager ``goship``."""
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        flags = ["--server-side", "--field-manager=goship"] if server_side else []
        return self.kubectl("apply", *flags, "-n", namespace, "-f", "-", input=text, check=check)

    def get(self, *args: str) -> Any:
        """``kubectl get ARGS -o json``, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def logs(self, component: str, *, tail: int = 40) -> str:
        """The last lines of a component's log (``kube-apiserver``, ``kwok-controller``, ...), for failure messages."""
        path = self.workdir / "clusters" / self.name / "logs" / f"{component}.log"
        if not path.exists():
            return f"(no {path})"
        return "\n".join(path.read_text(errors="replace").splitlines()[-tail:])


def _script(*args: str, env: dict[str, str], timeout: float) -> str:
    try:
        done = subprocess.run(
            [str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ClusterError(f"scripts/test-cluster {' '.join(args)} took over {timeout:.0f}s") from exc
    if done.returncode != 0:
        raise ClusterError(
            f"scripts/test-cluster {' '.join(args)} exited {done.returncode}:\n{done.stderr[-12000:]}"
        )
    return done.stdout.strip()


def build() -> Path:
    """Build whatever is missing (a no-op when cached); the directory of the binaries."""
    env = dict(os.environ)
    _script("build", env=env, timeout=BUILD_TIMEOUT_S)
    return Path(_script("bin", env=env, timeout=30))


@contextmanager
def cluster_running(workdir: Path, *, name: str | None = None) -> Iterator[KubeCluster]:
    """Create a cluster with kwokctl's working directory in ``workdir``, yield it, delete it afterwards
    (also when creating it failed half-way)."""
    name = name or f"goship-{os.getpid()}-{secrets.token_hex(3)}"
    env = {**os.environ, "KWOK_WORKDIR": str(workdir)}
    bin_dir = build()
    try:
        kubeconfig = Path(_script("up", name, env=env, timeout=UP_TIMEOUT_S).splitlines()[-1])
        yield KubeCluster(name=name, kubeconfig=kubeconfig, bin_dir=bin_dir, workdir=workdir)
    finally:
        _script("down", name, env=env, timeout=60)


@pytest.fixture(scope="session")
def k8s_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    """One real control plane for this test process, deleted at the end of the session."""
    with cluster_running(tmp_path_factory.mktemp("kwok")) as cluster:
        yield cluster


@pytest.fixture
def namespace(k8s_cluster: KubeCluster) -> Iterator[str]:
    """A fresh namespace for one test, deleted (without waiting) after it."""
    name = f"t-{secrets.token_hex(4)}"
    k8s_cluster.kubectl("create", "namespace", name)
    yield name
    k8s_cluster.kubectl("delete", "namespace", name, "--wait=false")
