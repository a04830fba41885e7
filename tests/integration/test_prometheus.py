"""goship's Prometheus metrics source against a real Prometheus (Debian's, behind Basic auth) scraping a real
goship router every second, in front of two examples/hello versions: v1 failing about 5 % of requests, v2
answering 60 ms late. A known batch of requests goes through the router between two scrapes, and the
source's window over exactly those scrapes must agree with the router's own /stats."""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from goship.errors import RemoteError
from goship.gotool import Go
from goship.local.router import RouterClient, RouterMetrics, RouterProcess, ensure_router_binary
from goship.rollout.ports import HeaderMatch, TrafficRules, VersionMetrics
from goship.rollout.prometheus import (
    BUILTINS,
    PrometheusClient,
    PrometheusMetrics,
    custom,
    nginx_canary_versions,
    quote,
)
from tests.integration.prometheusserver import JOB, RunningPrometheus, prometheus_running
from tests.integration.registryserver import free_port

pytestmark = pytest.mark.integration

HELLO_SRC = Path(__file__).resolve().parents[2] / "examples" / "hello"
SLOW_MS = 60
SENT = {"v1": 400, "v2": 200}
VERSIONS = ["v1", "v2", "v3", "never-deployed"]
ROUTER = BUILTINS["goship-router"].where(job=JOB)


@dataclass
class Stage:
    """The router, its admin API, the backends and the Prometheus scraping the router."""

    router: RouterProcess
    admin: RouterClient
    prometheus: RunningPrometheus

    def client(self, basic_auth: tuple[str, str] | None = None) -> PrometheusClient:
        """goship's client of this Prometheus, with its user and password unless others are given."""
        return PrometheusClient(self.prometheus.url, basic_auth=basic_auth or self.prometheus.basic_auth)

    def send(self, version: str, n: int) -> Counter[int]:
        """``n`` requests to ``version`` (8 at a time); the status codes the client got."""
        with httpx.Client(base_url=self.router.url, timeout=10) as http:

            def one(_: int) -> int:
                return http.get("/", headers={"X-Version": version}).status_code

            with ThreadPoolExecutor(8) as pool:
                return Counter(pool.map(one, range(n)))


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hello-bin") / "hello"
    Go(HELLO_SRC).build(".", output=out, env={"CGO_ENABLED": "0", "GOWORK": "off", "GOFLAGS": "-mod=mod"})
    return out


def start_hello(binary: Path, logdir: Path, name: str, **env: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    with (logdir / f"{name}.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(binary)], env={**os.environ, "PORT": str(port), **env}, stdout=log, stderr=log
        )
    addr = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            if httpx.get(f"http://{addr}/readyz", timeout=1).status_code == 200:
                return addr, proc
        except httpx.TransportError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, f"hello {name} did not start"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def stage(hello: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    root = tmp_path_factory.mktemp("prometheus-stage")
    backends = [
        start_hello(hello, root, "v1", HELLO_FAIL_RATE="0.05"),
        start_hello(hello, root, "v2", HELLO_SLOW_MS=str(SLOW_MS)),
    ]
    (v1, _), (v2, _) = backends
    binary = ensure_router_binary(Go(Path.cwd()), root / "router-cache")
    try:
        with (
            RouterProcess.start(binary, run_dir=root / "router", drain_timeout=1) as router,
            httpx.Client(timeout=10) as http,
        ):
            admin = RouterClient(router.admin_url, http)
            admin.configure(
                # v3 is routed nowhere: its series exist, all zero.
                {"v1": [v1], "v2": [v2], "v3": [v2]},
                TrafficRules(
                    weights={"v1": 100},
                    matches=[HeaderMatch(v, header="X-Version", value=v) for v in ("v1", "v2")],
                ),
            )
            with prometheus_running(root / "prometheus", [router.admin], basic_auth=True) as prometheus:
                yield Stage(router, admin, prometheus)
    finally:
        for _, proc in backends:
            proc.terminate()
            proc.wait(10)


@dataclass(frozen=True)
class Traffic:
    """A batch of requests between two scrapes, and what the router counted of it."""

    first_scrape: float
    """The scrape just before the batch (epoch seconds)."""
    last_scrape: float
    """The first scrape after it."""
    statuses: dict[str, Counter[int]]
    """What the client got, by version."""
    stats: dict[str, VersionMetrics]
    """The router's /stats over the batch, through RouterMetrics."""


@pytest.fixture(scope="module")
def traffic(stage: Stage) -> Traffic:
    # Warm-up: every series the batch touches (v1's code="500" too) must exist before its first scrape,
    # or increase() would miss the value a series is born with.
    assert stage.prometheus.scrape_after(0) > 0
    warm: Counter[int] = Counter()
    while warm[500] == 0 or warm[200] == 0:
        warm += stage.send("v1", 40)
        assert warm.total() < 2000, f"v1 did not fail once in {warm.total()} requests: {warm}"
    stage.send("v2", 5)
    stats = RouterMetrics(stage.admin)
    stats.mark()
    # Scrape timestamps come from the same clock as time.time(); the margin covers the router counting a
    # request just after its client read the answer.
    first = stage.prometheus.scrape_after(time.time() + 0.05)
    statuses = {version: stage.send(version, n) for version, n in SENT.items()}
    last = stage.prometheus.scrape_after(time.time() + 0.05)
    window = stats.window(VERSIONS, 3600)  # since mark(), the quiet moment before the batch
    return Traffic(first, last, statuses, dict(window))


def prometheus_window(stage: Stage, traffic: Traffic) -> dict[str, VersionMetrics]:
    # Evaluated at the last scrape, the range reaches 1 ms before the first one: increase() then sees exactly
    # the samples of these two scrapes and those between, and its extrapolation (1 ms over a span of
    # seconds) adds far less than half a request, which rounding removes. (Prometheus 2.x ranges are closed
    # at the start, 3.x open; the extra millisecond serves both.)
    seconds = traffic.last_scrape - traffic.first_scrape + 0.001
    with stage.client() as client:
        metrics = PrometheusMetrics(client, ROUTER, clock=lambda: traffic.last_scrape)
        return dict(metrics.window(VERSIONS, seconds))


def test_window_counts_agree_exactly_with_the_routers_own_stats(stage: Stage, traffic: Traffic) -> None:
    window = prometheus_window(stage, traffic)
    for version, n in SENT.items():
        assert traffic.stats[version].requests == n
        assert (window[version].requests, window[version].errors) == (
            traffic.stats[version].requests,
            traffic.stats[version].errors,
        )
    assert window["v1"].errors == traffic.statuses["v1"][500] > 0
    assert window["v2"].errors == 0


def test_quantiles_match_the_routers_and_show_the_slow_version(stage: Stage, traffic: Traffic) -> None:
    window = prometheus_window(stage, traffic)
    for version in SENT:
        assert set(window[version].latency_ms) == {0.5, 0.99}
        for q, ms in window[version].latency_ms.items():
            # Both interpolate the same bucket counts as histogram_quantile does.
            assert ms == pytest.approx(traffic.stats[version].latency_ms[q], rel=1e-6)
    slow, fast = window["v2"].latency_ms, window["v1"].latency_ms
    # Upper bounds would depend on how busy the machine is; the 60 ms delay is a floor for v2 only.
    assert fast[0.5] < SLOW_MS <= slow[0.5] <= slow[0.99]


def test_versions_without_traffic_or_series_have_no_requests_and_no_latency(
    stage: Stage, traffic: Traffic
) -> None:
    window = prometheus_window(stage, traffic)
    empty = VersionMetrics(requests=0, errors=0, latency_ms={})
    # v3's series exist with zeros (its quantiles are NaN); never-deployed has none at all.
    assert window["v3"] == window["never-deployed"] == empty == traffic.stats["v3"]


def test_describe_gives_the_promql_each_window_sends(stage: Stage) -> None:
    with stage.client() as client:
        queries = PrometheusMetrics(client, ROUTER).describe(["v2"], 60)
    assert [(q.name, q.query) for q in queries] == [
        ("requests", 'sum(increase(goship_router_requests_total{job="goship-router",version="v2"}[60s]))'),
        ("errors", 'sum(increase(goship_router_failures_total{job="goship-router",version="v2"}[60s]))'),
        (
            "latency_p50",
            "histogram_quantile(0.5, sum by (le) (rate(goship_router_request_duration_seconds_bucket"
            '{job="goship-router",version="v2"}[60s])))',
        ),
        (
            "latency_p99",
            "histogram_quantile(0.99, sum by (le) (rate(goship_router_request_duration_seconds_bucket"
            '{job="goship-router",version="v2"}[60s])))',
        ),
    ]


def test_range_and_scalar_queries_read_the_counter_as_scraped(stage: Stage, traffic: Traffic) -> None:
    promql = 'sum(goship_router_requests_total{version="v2"})'
    with stage.client() as client:
        result = client.query_range(promql, start=traffic.first_scrape, end=traffic.last_scrape, step_s=1)
        scalar = client.query(f"scalar({promql})", at=traffic.last_scrape)
    assert result.type == "matrix" and len(result.series) == 1
    points = result.series[0].points
    values = [v for _, v in points]
    assert values == sorted(values)
    assert values[-1] - values[0] == SENT["v2"]
    assert points[0][0] == pytest.approx(traffic.first_scrape)
    assert scalar.type == "scalar" and scalar.samples[0].value == values[-1]
    assert stage.admin.stats().versions["v2"].requests == values[-1]


def test_every_builtin_template_is_promql_prometheus_accepts(stage: Stage) -> None:
    with stage.client() as client:
        for name, template in BUILTINS.items():
            if name == "nginx-ingress":
                template = template.with_versions(nginx_canary_versions(stable="v1", canary="v2"))
            window = PrometheusMetrics(client, template.where(namespace="shop")).window(["v1", "v2"], 30)
            assert all(w.requests == 0 and w.latency_ms == {} for w in window.values()), name


def test_label_values_are_quoted_as_prometheus_reads_them(stage: Stage) -> None:
    value = 'v1"} or vector(1) # \\ \n\t\x01 é 🚀'
    with stage.client() as client:
        result = client.query(f'label_replace(vector(1), "v", {quote(value)}, "", "")')
    assert [s.labels for s in result.samples] == [{"v": value}]


def test_invalid_custom_promql_is_a_remote_error_with_prometheus_own_message(stage: Stage) -> None:
    broken = custom(
        requests="sum(increase(goship_router_requests_total{{version}}[{window}])",  # one ")" short
        errors="sum(increase(goship_router_failures_total{{version}}[{window}]))",
    )
    with stage.client() as client, pytest.raises(RemoteError) as caught:
        PrometheusMetrics(client, broken).window(["v1"], 60)
    err = caught.value
    assert err.exit_code == 4
    assert "bad_data" in err.message and "parse error" in err.message
    assert 'sum(increase(goship_router_requests_total{version="v1"}[60s])' in err.message
    assert err.hint is not None and "query template" in err.hint


def test_wrong_credentials_are_refused_with_a_hint_and_never_shown(stage: Stage) -> None:
    with (
        stage.client(basic_auth=("ada", "not-the-password")) as client,
        pytest.raises(RemoteError) as caught,
    ):
        client.query("up")
    err = caught.value
    assert "HTTP 401" in err.message
    assert err.hint is not None and "credentials" in err.hint
    assert "not-the-password" not in f"{err.message} {err.hint} {err.details}"


def test_prometheus_down_is_a_remote_error_with_a_hint() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with PrometheusClient(url, timeout_s=2) as client, pytest.raises(RemoteError) as caught:
        PrometheusMetrics(client, ROUTER).window(["v1"], 60)
    err = caught.value
    assert f"could not reach Prometheus at {url}" in err.message
    assert err.hint is not None and f"listens at {url}" in err.hint
    assert err.exit_code == 4
