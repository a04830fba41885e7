"""``goship canary … --target kubernetes`` end to end on a real API server, judged from a real Prometheus.

The service's pods are kwok's (Ready after ``goship.dev/ready-after``, serving nothing), so the traffic the
judge sees comes from an exporter the test controls: promhttp-style ``http_requests_total`` and
``http_request_duration_seconds`` per ``version``, counted up ten times a second with the error rate the
test sets for each version, scraped every second by Prometheus (Debian's) and read by goship through the
``client-golang`` template. Everything else is goship's own: the canary Deployment and Service, the
HTTPRoute's weights, the promotion by ``goship deploy``'s apply and watch, the state in an annotation.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result
from tests.ingresses import nginx_ingress
from tests.integration.k8scluster import KubeCluster
from tests.integration.prometheusserver import JOB, RunningPrometheus, prometheus_running
from tests.integration.test_kube_deploy import REPOSITORY, Shop, digest_of, record

pytestmark = pytest.mark.integration

STABLE, CANARY = "v1.0.0", "v2.0.0"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1)
INTERVAL = 2


class Exporter:
    """promhttp-style metrics for each version: ``per_tick`` requests every 0.1 s, ``error_rate[v]`` of
    them answered 500, every one taking 8 ms."""

    def __init__(self, per_tick: int = 10) -> None:
        self.per_tick = per_tick
        self.error_rate: dict[str, float] = {STABLE: 0.0, CANARY: 0.0}
        self.requests: dict[tuple[str, str], int] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.text().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.threads = [
            threading.Thread(target=self.server.serve_forever, daemon=True),
            threading.Thread(target=self._count, daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _count(self) -> None:
        while not self.stop.wait(0.1):
            with self.lock:
                for version, rate in self.error_rate.items():
                    errors = round(self.per_tick * rate)
                    for code, n in (("200", self.per_tick - errors), ("500", errors)):
                        self.requests[version, code] = self.requests.get((version, code), 0) + n

    def text(self) -> str:
        with self.lock:
            lines = ["# TYPE http_requests_total counter"]
            totals: dict[str, int] = {}
            for (version, code), n in sorted(self.requests.items()):
                lines.append(f'http_requests_total{{version="{version}",code="{code}"}} {n}')
                totals[version] = totals.get(version, 0) + n
            lines.append("# TYPE http_request_duration_seconds histogram")
            for version, n in sorted(totals.items()):
                for le in BUCKETS:
                    count = n if le >= 0.008 else 0
                    lines.append(
                        f'http_request_duration_seconds_bucket{{version="{version}",le="{le}"}} {count}'
                    )
                lines.append(f'http_request_duration_seconds_bucket{{version="{version}",le="+Inf"}} {n}')
                lines.append(f'http_request_duration_seconds_sum{{version="{version}"}} {n * 0.008}')
                lines.append(f'http_request_duration_seconds_count{{version="{version}"}} {n}')
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    running = Exporter()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def prometheus(tmp_path: Path, exporter: Exporter) -> Iterator[RunningPrometheus]:
    with prometheus_running(tmp_path / "prometheus", [exporter.address]) as running:
        running.scrape_after(time.time())
        yield running


@pytest.fixture
def shop(tmp_path: Path, k8s_cluster: KubeCluster, namespace: str, prometheus: RunningPrometheus) -> Shop:
    from tests.conftest import Repo

    repo = Repo(tmp_path / "repo")
    repo.gomod(".", "example.com/api")
    repo.write("main.go", "package main\n\nfunc main() {}\n")
    repo.commit("feat: the api service", files={})
    s = Shop(repo, k8s_cluster, namespace, tmp_path / "store")
    for version in (STABLE, CANARY):
        record(s, version)
    configure(s, prometheus)
    result = s.kube("deploy", "--version", STABLE)
    assert result.code == 0, result.stderr
    return s


PROVIDERS = {
    "gateway-api": {"provider": "gateway-api", "gateway": "public"},
    "istio": {"provider": "istio"},
    "nginx": {"provider": "nginx", "ingress": "api"},
}


def configure(
    shop: Shop, prometheus: RunningPrometheus, provider: str = "gateway-api", **canary: Any
) -> None:
    import yaml

    config = {
        "services": [{"name": "api", "image": REPOSITORY, "ports": [8080]}],
        "images": {"store": str(shop.store)},
        "kubernetes": {
            "replicas": 2,
            "progress_deadline": "15s",
            "rollout_timeout": "60s",
            "hpa": {"enabled": False},
            "pod_annotations": {"goship.dev/ready-after": "1s"},
            "canary": PROVIDERS[provider],
        },
        "canary": {
            "steps": [20, 50],
            "interval": f"{INTERVAL}s",
            "min_requests": 20,
            "failure_threshold": 2,
            "judge": "threshold",
            "judge_settings": {"min_requests": 20},
            "metrics": {"prometheus": prometheus.url, "template": "client-golang", "labels": {"job": JOB}},
            **canary,
        },
    }
    shop.repo.write("goship.yaml", yaml.safe_dump(config))


def canary(shop: Shop, command: str, *args: str) -> Result:
    return shop.goship("canary", command, "--target", "kubernetes", *args, *shop.cluster_args())


def state_of(shop: Shop) -> dict[str, Any]:
    result = canary(shop, "explain", "--json")
    assert result.code == 0, result.stderr
    doc: dict[str, Any] = result.json()["canary"]
    return doc


def deployment(shop: Shop, name: str) -> dict[str, Any]:
    found: dict[str, Any] = shop.cluster.get("deployment", name, "-n", shop.namespace)
    return found


def route_weights(shop: Shop) -> list[tuple[str, int]]:
    route = shop.cluster.get("httproute", "api", "-n", shop.namespace)
    weighted = route["spec"]["rules"][-1]
    return [(ref["name"], ref["weight"]) for ref in weighted["backendRefs"]]


def traffic_events(doc: dict[str, Any]) -> list[str]:
    return [e["message"] for e in doc["events"] if e["kind"] == "traffic"]


MAIN_INGRESS = nginx_ingress("api", "api")


def final_routing(shop: Shop, provider: str) -> object:
    """Where the provider's objects send traffic once the canary has ended."""
    if provider == "gateway-api":
        return route_weights(shop)
    if provider == "istio":
        service = shop.cluster.get("virtualservice", "api", "-n", shop.namespace)
        route = service["spec"]["http"][-1]["route"]
        return [(r["destination"]["host"], r["destination"].get("subset"), r.get("weight")) for r in route]
    gone = shop.cluster.kubectl("get", "ingress", "api-canary", "-n", shop.namespace, check=False)
    main = shop.cluster.get("ingress", "api", "-n", shop.namespace)
    backend = main["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    return ("canary Ingress gone" if "NotFound" in gone.stderr else gone.stdout, backend)


EXPECTED_FINAL = {
    "gateway-api": [("api", 100)],
    "istio": [("api", None, 100)],  # no subset: a later deploy changes the pods' version label
    "nginx": ("canary Ingress gone", "api"),
}


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_a_healthy_canary_is_promoted_onto_the_stable_deployment(
    shop: Shop, prometheus: RunningPrometheus, provider: str
) -> None:
    configure(shop, prometheus, provider)
    if provider == "nginx":
        shop.cluster.apply(MAIN_INGRESS, namespace=shop.namespace)

    result = canary(shop, "start", "--to", CANARY)

    assert result.code == 0, result.stderr + result.stdout
    doc = state_of(shop)
    assert doc["phase"] == "succeeded"
    assert [d["verdict"] for d in doc["decisions"]][-2:] == ["pass", "pass"]
    assert doc["decisions"][-1]["source"] == f"prometheus {prometheus.url} (client-golang)"
    assert traffic_events(doc) == [
        f"{STABLE} 100 %, {CANARY} 0 %",
        f"{STABLE} 80 %, {CANARY} 20 %",
        f"{STABLE} 50 %, {CANARY} 50 %",
        f"{CANARY} 100 %",
        f"{CANARY} 100 %",
    ]
    # The stable Deployment runs the canary's release (deployed as 'goship deploy' deploys); the canary's
    # Deployment is at zero and the provider sends everything to the stable Service.
    stable = deployment(shop, "api")
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPOSITORY}@{digest_of(CANARY)}"
    assert stable["metadata"]["annotations"]["goship.dev/version"] == CANARY
    assert deployment(shop, "api-canary")["spec"]["replicas"] == 0
    assert final_routing(shop, provider) == EXPECTED_FINAL[provider]
    history = shop.kube("history", "--json")
    assert [r["version"] for r in history.json()["revisions"]] == [STABLE, CANARY]


def test_a_canary_with_errors_is_rolled_back_and_the_stable_deployment_is_untouched(
    shop: Shop, exporter: Exporter
) -> None:
    exporter.error_rate[CANARY] = 0.3

    result = canary(shop, "start", "--to", CANARY)

    assert result.code == 1, result.stderr + result.stdout
    assert "rolled back" in result.stderr
    doc = state_of(shop)
    assert doc["phase"] == "failed"
    assert "2 consecutive failed analyses" in doc["reason"]
    assert [d["verdict"] for d in doc["decisions"]] == ["fail", "fail"]
    assert traffic_events(doc)[-1] == f"{STABLE} 100 %"
    stable = deployment(shop, "api")
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPOSITORY}@{digest_of(STABLE)}"
    assert deployment(shop, "api-canary")["spec"]["replicas"] == 0
    assert route_weights(shop) == [("api", 100)]


def test_a_canary_whose_goship_was_killed_is_resumed_from_its_annotation(shop: Shop) -> None:
    proc = start_in_background(shop, "--steps", "10,20,30,40,50")
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()
            doc = json.loads(canary(shop, "status", "--json").stdout)["canary"]
            if doc and doc["phase"] == "progressing" and doc["decisions"]:
                break
            assert time.monotonic() < deadline, doc
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    killed_at = doc["step"]
    assert route_weights(shop)[1][1] > 0  # the canary had traffic when goship died

    # Nobody judges it: after an interval and the margin, status says so and resume drives it here.
    time.sleep(INTERVAL + 5 + 1)
    status = json.loads(canary(shop, "status", "--json").stdout)
    assert status["canary"]["phase"] == "progressing" and status["judged"] is False
    said = canary(shop, "status").stdout
    assert "not judged now" in said and "goship canary resume --target kubernetes" in " ".join(said.split())

    result = canary(shop, "resume")

    assert result.code == 0, result.stderr + result.stdout
    doc = state_of(shop)
    assert doc["phase"] == "succeeded"
    notes = [e["message"] for e in doc["events"] if e["kind"] == "note"]
    assert any(n.startswith("taken over") and "traffic back to stable" in n for n in notes), notes
    assert f"{STABLE} 100 %, {CANARY} 0 %" in traffic_events(doc)[2:]
    assert max(d["step"] for d in doc["decisions"]) >= killed_at
    assert deployment(shop, "api")["metadata"]["annotations"]["goship.dev/version"] == CANARY


def test_a_second_start_while_one_is_active_is_refused_and_abort_rolls_back(shop: Shop) -> None:
    proc = start_in_background(shop, "--confirm-promotion")
    try:
        deadline = time.monotonic() + 60
        while True:
            doc = json.loads(canary(shop, "status", "--json").stdout)["canary"]
            if doc and doc["phase"] == "progressing":
                break
            assert proc.poll() is None and time.monotonic() < deadline, (
                proc.communicate() if proc.poll() else doc
            )
            time.sleep(0.5)

        again = canary(shop, "start", "--to", CANARY)
        assert again.code == 2
        assert "is already progressing" in again.stderr and "abort --target kubernetes" in again.stderr

        aborted = canary(shop, "abort", "--reason", "the on-call said so")
        assert aborted.code == 0, aborted.stderr
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, err  # the engine saw the abort and ended with the rollback
    doc = state_of(shop)
    assert doc["phase"] == "failed" and doc["reason"] == "the on-call said so"
    assert route_weights(shop) == [("api", 100)]
    assert deployment(shop, "api-canary")["spec"]["replicas"] == 0


def start_in_background(shop: Shop, *args: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "goship", "canary", "start", "--target", "kubernetes", "--to", CANARY]
    return subprocess.Popen(
        [*argv, *args, *shop.cluster_args()],
        cwd=shop.repo.path,
        env=shop.repo.env(**shop.env()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_stopped_goship_leaves_all_traffic_on_stable_and_the_canary_waiting(shop: Shop) -> None:
    proc = start_in_background(shop, "--steps", "10,20,30,40,50")
    try:
        deadline = time.monotonic() + 60
        while not any(weight for name, weight in route_weights_or_none(shop) if name == "api-canary"):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.3)
        # Stopped as soon as the canary has traffic: in its first step's window, or just before the state
        # names the step (either way the driver must take the traffic back).
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert proc.returncode == 130, err
    assert "held with all traffic on stable" in err and "canary resume --target kubernetes" in err
    assert route_weights(shop) == [("api", 100), ("api-canary", 0)]
    doc = state_of(shop)
    assert doc["phase"] in ("initializing", "progressing")
    assert "goship was stopped" in [e for e in doc["events"] if e["kind"] == "note"][-1]["message"]

    aborted = canary(shop, "abort")
    assert aborted.code == 0, aborted.stderr
    assert deployment(shop, "api-canary")["spec"]["replicas"] == 0


def route_weights_or_none(shop: Shop) -> list[tuple[str, int]]:
    done = shop.cluster.kubectl("get", "httproute", "api", "-n", shop.namespace, "-o", "json", check=False)
    if done.returncode != 0:
        return []
    weighted = json.loads(done.stdout)["spec"]["rules"][-1]
    return [(ref["name"], ref["weight"]) for ref in weighted["backendRefs"]]


def test_rules_the_provider_cannot_carry_are_refused_before_anything_is_created(
    shop: Shop, prometheus: RunningPrometheus
) -> None:
    planned = canary(shop, "start", "--to", CANARY, "--dry-run")
    assert planned.code == 0, planned.stderr
    assert f"would start a canary of {CANARY}" in planned.stderr and f"against {STABLE}" in planned.stderr
    configure(shop, prometheus, sticky_header="X-User-Id")
    assert canary(shop, "start", "--to", CANARY, "--dry-run").code == 2

    result = canary(shop, "start", "--to", CANARY)

    assert result.code == 2, result.stderr
    assert "the Gateway API cannot split traffic by a hash of a header" in result.stderr
    missing = shop.cluster.kubectl("get", "deployment", "api-canary", "-n", shop.namespace, check=False)
    assert "NotFound" in missing.stderr
    assert route_weights_or_none(shop) == []


def test_the_readme_role_is_all_a_canary_needs(shop: Shop, tmp_path: Path) -> None:
    from tests.integration.test_kube_render import readme_role_kubeconfig

    cluster, ns = shop.cluster, shop.namespace
    kubeconfig = readme_role_kubeconfig(cluster, ns, tmp_path / "deployer.yaml")
    as_deployer = ("--target", "kubernetes", "-n", ns, "--kubeconfig", str(kubeconfig))

    result = shop.goship("canary", "start", "--to", CANARY, *as_deployer)

    assert result.code == 0, result.stderr
    status = shop.goship("canary", "status", "--json", *as_deployer)
    assert status.code == 0, status.stderr
    assert status.json()["canary"]["phase"] == "succeeded"


def test_an_autoscaled_service_is_promoted_with_the_replicas_it_serves_with(
    shop: Shop, prometheus: RunningPrometheus
) -> None:
    import yaml

    config = yaml.safe_load((shop.repo.path / "goship.yaml").read_text())
    config["kubernetes"]["hpa"] = {"enabled": True, "min_replicas": 2, "max_replicas": 5}
    shop.repo.write("goship.yaml", yaml.safe_dump(config))
    assert shop.kube("deploy", "--version", STABLE).code == 0
    # What the HPA would do under load (this cluster has no metrics server, so the test does it).
    shop.cluster.kubectl("scale", "deployment", "api", "-n", shop.namespace, "--replicas=3")

    result = canary(shop, "start", "--to", CANARY)

    assert result.code == 0, result.stderr + result.stdout
    doc = state_of(shop)
    scales = [e["message"] for e in doc["events"] if e["kind"] == "scale"]
    assert f"{CANARY} → 3 replicas" in scales, scales
    stable = deployment(shop, "api")
    assert stable["metadata"]["annotations"]["goship.dev/version"] == CANARY
    assert stable["spec"]["replicas"] == 3  # the promotion kept the count the autoscaler set
