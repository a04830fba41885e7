"""goship's router (goship.local.router and the Go program in routerd/) against real processes: the router
built with the real go, in front of small Go upstreams that answer with their version."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from goship.errors import UsageError
from goship.gotool import Go
from goship.local.router import (
    RouterClient,
    RouterMetrics,
    RouterProcess,
    ensure_router_binary,
    source_digest,
)
from goship.rollout.ports import HeaderMatch, TrafficRules

pytestmark = pytest.mark.integration

UPSTREAM_GO = r"""package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	version := flag.String("version", "v1", "")
	flag.Parse()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	addr := ln.Addr().String()
	var mirrored atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Goship-Mirror") != "" {
			mirrored.Add(1)
		}
		w.Header().Set("X-Upstream", addr)
		fmt.Fprint(w, *version)
	})
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		c.(*net.TCPConn).SetLinger(0) // close with RST
		c.Close()
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprint(w, *version)
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(map[string]any{"version": *version, "body": string(body), "headers": r.Header, "host": r.Host})
	})
	mux.HandleFunc("/__mirrored", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, mirrored.Load()) })
	fmt.Printf("%s\n", addr)
	// On SIGTERM it stops as a well-behaved replica does: no new connections, requests received answered.
	srv := &http.Server{Handler: mux}
	drained := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		close(drained)
	}()
	if srv.Serve(ln) == http.ErrServerClosed {
		<-drained
	}
}
"""


@pytest.fixture(scope="session")
def router_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_router_binary(Go(Path.cwd()), tmp_path_factory.mktemp("router-cache"))


@pytest.fixture(scope="session")
def upstream_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("upstream")
    (src / "go.mod").write_text("module example.com/upstream\n\ngo 1.22\n")
    (src / "main.go").write_text(UPSTREAM_GO)
    Go(src).build(".", output=src / "upstream")
    return src / "upstream"


@dataclass
class Upstream:
    version: str
    addr: str
    proc: subprocess.Popen[str]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


@pytest.fixture
def upstream(upstream_binary: Path) -> Iterator[Callable[[str], Upstream]]:
    started: list[Upstream] = []

    def start(version: str) -> Upstream:
        proc = subprocess.Popen(
            [str(upstream_binary), "-version", version], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        addr = proc.stdout.readline().strip()
        assert addr, f"upstream {version} printed no address (exit {proc.poll()})"
        started.append(Upstream(version, addr, proc))
        return started[-1]

    yield start
    for u in started:
        u.proc.kill()
        u.proc.wait()


@pytest.fixture
def router(router_binary: Path, tmp_path: Path) -> Iterator[RouterProcess]:
    with RouterProcess.start(
        router_binary, run_dir=tmp_path / "router", header_timeout=1.0, drain_timeout=5
    ) as r:
        yield r


@pytest.fixture
def admin(router: RouterProcess) -> Iterator[RouterClient]:
    with httpx.Client(timeout=10) as http:
        yield RouterClient(router.admin_url, http)


@pytest.fixture
def client(router: RouterProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=router.url, timeout=10) as http:
        yield http


def versions_seen(client: httpx.Client, n: int, **headers: str) -> Counter[str]:
    seen: Counter[str] = Counter()
    for _ in range(n):
        r = client.get("/", headers=headers)
        assert r.status_code == 200
        assert r.headers["X-Goship-Version"] == r.text
        seen[r.text] += 1
    return seen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_binary_is_built_once_per_source_hash_and_reused(router_binary: Path) -> None:
    assert router_binary.name == f"goship-router-{source_digest()}"
    before = router_binary.stat().st_mtime_ns
    started = time.monotonic()
    assert ensure_router_binary(Go(Path.cwd()), router_binary.parent) == router_binary
    assert time.monotonic() - started < 1
    assert router_binary.stat().st_mtime_ns == before


def test_weights_ninety_ten_hold_over_two_thousand_requests(
    upstream: Callable[[str], Upstream], admin: RouterClient, client: httpx.Client
) -> None:
    v1, v2 = upstream("v1"), upstream("v2")
    admin.configure({"v1": [v1.addr], "v2": [v2.addr]}, TrafficRules(weights={"v1": 90, "v2": 10}))
    seen = versions_seen(client, 2000)
    # Binomial(2000, 0.1): mean 200, sd 13.4; the bounds are more than 4.5 sd away.
    assert 140 <= seen["v2"] <= 260, seen
    assert seen["v1"] + seen["v2"] == 2000


def test_header_and_cookie_matches_win_over_weights(
    upstream: Callable[[str], Upstream], admin: RouterClient, client: httpx.Client
) -> None:
    v1, v2, v3 = upstream("v1"), upstream("v2"), upstream("v3")
    admin.configure(
        {"v1": [v1.addr], "v2": [v2.addr], "v3": [v3.addr]},
        TrafficRules(
            weights={"v1": 100},
            matches=[
                HeaderMatch("v2", header="X-Canary", kind="exact", value="yes"),
                HeaderMatch("v2", header="X-User", kind="prefix", value="beta-"),
                HeaderMatch("v3", header="X-Build", kind="regex", value=r"2\.[0-9]+"),
                HeaderMatch("v3", cookie="track", kind="exact", value="edge"),
            ],
        ),
    )

    def version(headers: dict[str, str] | None = None, cookie: str | None = None) -> str:
        r = client.get("/", headers={**(headers or {}), **({"Cookie": cookie} if cookie else {})})
        assert r.status_code == 200
        return r.text

    assert version({"X-Canary": "yes"}) == "v2"
    assert version({"X-Canary": "yes-please"}) == "v1"  # exact is exact
    assert version({"X-User": "beta-ada"}) == "v2"
    assert version({"X-User": "ada-beta-"}) == "v1"
    assert version({"X-Build": "2.17"}) == "v3"
    assert version({"X-Build": "12.17"}) == "v1"  # a regex matches the whole value
    assert version(cookie="session=1; track=edge") == "v3"
    assert version(cookie="track=stable") == "v1"
    assert version() == "v1"


def test_sticky_header_keeps_each_user_on_one_version(
    upstream: Callable[[str], Upstream], admin: RouterClient, client: httpx.Client
) -> None:
    v1, v2 = upstream("v1"), upstream("v2")
    admin.configure(
        {"v1": [v1.addr], "v2": [v2.addr]},
        TrafficRules(weights={"v1": 50, "v2": 50}, sticky_header="x-user-id"),  # header names ignore case
    )
    per_user = {user: versions_seen(client, 4, **{"X-User-Id": f"user-{user}"}) for user in range(200)}
    assert all(len(seen) == 1 for seen in per_user.values()), per_user
    on_v2 = sum(1 for seen in per_user.values() if "v2" in seen)
    assert 60 <= on_v2 <= 140
    # Without the header the split is random again.
    assert len(versions_seen(client, 100)) == 2


def test_endpoint_changes_are_atomic_and_drop_nothing_while_another_endpoint_is_ready(
    upstream: Callable[[str], Upstream], admin: RouterClient, router: RouterProcess
) -> None:
    a, b = upstream("v1"), upstream("v1")
    admin.configure({"v1": [a.addr, b.addr]}, TrafficRules(weights={"v1": 100}))
    statuses: Counter[int] = Counter()
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=router.url, timeout=10) as http:
            while not stop.is_set():
                statuses[http.get("/").status_code] += 1

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        with httpx.Client(base_url=router.url, timeout=10) as http:
            spread = Counter(http.get("/").headers["X-Upstream"] for _ in range(100))
            assert spread[a.addr] > 20 and spread[b.addr] > 20  # both endpoints share the version's traffic
            for _ in range(30):
                for only in (a, b):
                    admin.set_endpoints({"v1": [only.addr]})
                    # The change is whole when the call returns: no request reaches the other one.
                    assert {http.get("/").headers["X-Upstream"] for _ in range(5)} == {only.addr}
                admin.set_endpoints({"v1": [a.addr, b.addr]})
            admin.set_endpoints({"v1": [a.addr]})
            # A replica that left the endpoints goes away as Kubernetes stops a pod: after a preStop pause in
            # which the router lets go of its connections, then SIGTERM, answering what it has received.
            time.sleep(0.5)
            b.stop()
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert set(statuses) == {200}, statuses
    assert sum(statuses.values()) > 100


def test_a_version_without_a_ready_endpoint_answers_503_with_the_reason(
    admin: RouterClient, client: httpx.Client
) -> None:
    admin.configure({}, TrafficRules(weights={"v1": 100}))
    r = client.get("/")
    assert r.status_code == 503
    assert r.headers["X-Goship-Error"] == "no-ready-endpoint"
    assert r.headers["X-Goship-Version"] == "v1"
    v1 = admin.stats().versions["v1"]
    assert v1.errors["no-ready-endpoint"] == 1 and v1.failures == 1


def test_an_upstream_reset_is_a_502_counted_against_its_version(
    upstream: Callable[[str], Upstream], admin: RouterClient, client: httpx.Client
) -> None:
    v1, v2 = upstream("v1"), upstream("v2")
    admin.configure({"v1": [v1.addr], "v2": [v2.addr]}, TrafficRules(weights={"v2": 100}))
    for _ in range(5):
        r = client.get("/reset")
        assert r.status_code == 502
        assert r.headers["X-Goship-Error"] == "upstream-reset"
        assert r.headers["X-Goship-Version"] == "v2"
    assert client.get("/").status_code == 200  # the version's next request is fine
    stats = admin.stats().versions
    assert stats["v2"].errors["upstream-reset"] == 5
    assert stats["v2"].codes == {502: 5, 200: 1}
    assert stats["v2"].failures == 5
    assert "v1" not in stats or stats["v1"].requests == 0


def test_a_dead_endpoint_is_a_502_connect_error_and_retries_never_hide_it(
    upstream: Callable[[str], Upstream], admin: RouterClient, client: httpx.Client
) -> None:
    live, dead = upstream("v1").addr, f"127.0.0.1:{free_port()}"
    admin.configure({"v1": [dead]}, TrafficRules(weights={"v1": 100}))
    r = client.get("/")
    assert (r.status_code, r.headers["X-Goship-Error"]) == (502, "connect")

    admin.configure({"v1": [dead, live]}, TrafficRules(weights={"v1": 100}), retries=1)
    metrics = RouterMetrics(admin)
    metrics.mark()
    assert versions_seen(client, 40) == {"v1": 40}  # each connect failure was retried on the live one
    v1 = admin.stats().versions["v1"]
    assert v1.retried > 0
    assert v1.errors["connect"] == v1.retried + 1
    assert metrics.window(["v1"], 3600)["v1"].errors == v1.retried


def test_an_upstream_slower_than_the_timeout_is_a_504(
    upstream: Callable[[str], Upstream], admin: RouterClient, client: httpx.Client
) -> None:
    v1 = upstream("v1")
    admin.configure({"v1": [v1.addr]}, TrafficRules(weights={"v1": 100}), timeout_ms=300)
    started = time.monotonic()
    r = client.get("/sleep", params={"ms": 3000})
    elapsed = time.monotonic() - started
    assert (r.status_code, r.headers["X-Goship-Error"]) == (504, "timeout")
    assert 0.25 < elapsed < 2
    assert client.get("/sleep", params={"ms": 10}).status_code == 200
    assert admin.stats().versions["v1"].errors["timeout"] == 1


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The text exposition format 0.0.4, strictly enough to catch a malformed line."""
    typed: dict[str, str] = {}
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            typed[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in typed else name
        assert family in typed, f"{name} has no # TYPE line before it"
        pairs = frozenset(LABEL.findall(labels or ""))
        samples[(name, pairs)] = float(value)
    return samples


def test_metrics_text_parses_and_its_counts_match_what_the_client_saw(
    upstream: Callable[[str], Upstream], admin: RouterClient, client: httpx.Client
) -> None:
    v1 = upstream("v1")
    admin.configure({"v1": [v1.addr]}, TrafficRules(weights={"v1": 100}))
    metrics = RouterMetrics(admin)
    metrics.mark()
    seen: Counter[int] = Counter()
    for path in ["/"] * 30 + ["/status?code=404"] * 5 + ["/reset"] * 3 + ["/status?code=503"] * 2:
        seen[client.get(path).status_code] += 1
    samples = parse_prometheus(admin.metrics_text())

    def value(name: str, **labels: str) -> float:
        return samples[(name, frozenset(labels.items()))]

    for code, n in seen.items():
        assert value("goship_router_requests_total", version="v1", code=str(code)) == n
    assert value("goship_router_upstream_errors_total", version="v1", kind="upstream-reset") == 3
    assert value("goship_router_request_duration_seconds_count", version="v1") == 40
    buckets = sorted(
        (float(dict(labels)["le"]), v)
        for (name, labels), v in samples.items()
        if name == "goship_router_request_duration_seconds_bucket"
    )
    assert buckets[-1] == (math.inf, 40)
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(buckets))

    window = metrics.window(["v1"], 3600)["v1"]
    assert (window.requests, window.errors) == (40, 5)  # 3 resets and 2 upstream 503s
    assert 0 < window.latency_ms[0.5] <= window.latency_ms[0.99] < 1000


def test_mirroring_reaches_the_mirror_upstream_and_is_not_counted_as_primary_traffic(
    upstream: Callable[[str], Upstream], admin: RouterClient, client: httpx.Client
) -> None:
    v1, v2 = upstream("v1"), upstream("v2")
    admin.configure(
        {"v1": [v1.addr], "v2": [v2.addr]},
        TrafficRules(weights={"v1": 100}, mirror_version="v2", mirror_percent=100),
    )
    assert versions_seen(client, 50) == {"v1": 50}
    echoed = client.post("/echo", content=b"order=42").json()
    assert (echoed["version"], echoed["body"]) == ("v1", "order=42")
    deadline = time.monotonic() + 5
    while int(httpx.get(f"http://{v2.addr}/__mirrored").text) < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert int(httpx.get(f"http://{v2.addr}/__mirrored").text) >= 50
    stats = admin.stats().versions
    assert stats["v2"].requests == 0 and stats["v2"].mirrored == 51
    assert stats["v1"].requests == 51


def test_requests_and_bodies_are_forwarded_as_sent_minus_hop_by_hop_headers(
    upstream: Callable[[str], Upstream], admin: RouterClient, client: httpx.Client
) -> None:
    v1 = upstream("v1")
    admin.configure({"v1": [v1.addr]}, TrafficRules(weights={"v1": 100}))
    r = client.post(
        "/echo",
        content=b"x" * 100_000,
        headers={"Keep-Alive": "timeout=5", "X-Trace": "t1", "Host": "shop.local"},
    )
    echoed = r.json()
    assert len(echoed["body"]) == 100_000
    assert echoed["host"] == "shop.local"
    assert echoed["headers"]["X-Trace"] == ["t1"]
    assert echoed["headers"]["X-Forwarded-For"] == ["127.0.0.1"]
    assert "Keep-Alive" not in echoed["headers"]

    def chunks() -> Iterator[bytes]:
        yield b"part1-"
        yield b"part2"

    assert client.post("/echo", content=chunks()).json()["body"] == "part1-part2"


def test_invalid_configuration_is_refused_whole_with_every_problem_named(admin: RouterClient) -> None:
    before = admin.config()
    with pytest.raises(UsageError) as caught:
        admin.configure(
            {"v1": ["not-an-address"]},
            TrafficRules(
                weights={"v1": -5}, matches=[HeaderMatch("v2", header="X", kind="regex", value="(")]
            ),
        )
    message = caught.value.message
    assert "endpoints.v1" in message and "rules.weights.v1" in message and "rules.matches[0].value" in message
    assert admin.config() == before


def test_a_slowloris_client_blocks_nobody_and_is_cut_after_the_header_timeout(
    upstream: Callable[[str], Upstream], admin: RouterClient, router: RouterProcess, client: httpx.Client
) -> None:
    v1 = upstream("v1")
    admin.configure({"v1": [v1.addr]}, TrafficRules(weights={"v1": 100}))
    host, port = router.listen.rsplit(":", 1)
    slow = [socket.create_connection((host, int(port))) for _ in range(50)]
    for s in slow:
        s.sendall(b"GET / HTTP/1.1\r\nHost: shop\r\nX-Half: ")
    started = time.monotonic()
    for _ in range(20):
        t = time.monotonic()
        assert client.get("/").status_code == 200
        assert time.monotonic() - t < 0.5
    for s in slow:
        s.settimeout(5)
        rest = b""
        while chunk := s.recv(4096):  # the router closes the connection (a 408 at most comes first)
            rest += chunk
        assert rest == b"" or rest.startswith(b"HTTP/1.1 408")
        s.close()
    assert 0.8 < time.monotonic() - started < 4  # --header-timeout is 1 s here


def test_sigterm_drains_in_flight_requests_and_leaves_no_process_behind(
    upstream: Callable[[str], Upstream], router_binary: Path, tmp_path: Path
) -> None:
    v1 = upstream("v1")
    router = RouterProcess.start(router_binary, run_dir=tmp_path / "r", drain_timeout=5)
    with httpx.Client(timeout=10) as http:
        RouterClient(router.admin_url, http).configure({"v1": [v1.addr]}, TrafficRules(weights={"v1": 100}))
        result: list[httpx.Response] = []
        slow = threading.Thread(target=lambda: result.append(http.get(f"{router.url}/sleep?ms=800")))
        slow.start()
        time.sleep(0.2)
        started = time.monotonic()
        assert router.stop() == 0
        slow.join()
    assert result[0].status_code == 200 and result[0].text == "v1"  # drained, not cut
    assert time.monotonic() - started < 3
    with pytest.raises(ProcessLookupError):
        os.kill(router.child.pid, 0)
    in_group = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _pgid(p) == router.child.pid]
    assert in_group == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(router.url)


def _pgid(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return None


def test_stats_time_is_monotonic_and_json_config_round_trips(admin: RouterClient) -> None:
    rules = TrafficRules(weights={"v1": 80, "v2": 20}, sticky_header="X-User-Id")
    admin.configure({"v1": ["127.0.0.1:1"]}, rules, timeout_ms=1234, retries=2)
    config = admin.config()
    assert config["timeout_ms"] == 1234 and config["retries"] == 2
    assert config["rules"]["weights"] == {"v1": 80, "v2": 20}
    admin.apply(TrafficRules(weights={"v2": 100}))
    config = admin.config()
    assert config["rules"]["weights"] == {"v2": 100} and config["rules"]["sticky_header"] is None
    assert config["endpoints"] == {"v1": ["127.0.0.1:1"]}  # apply() leaves endpoints alone
    first, second = admin.stats(), admin.stats()
    assert second.time > first.time and second.instance == first.instance
    assert json.loads(json.dumps(config)) == config
