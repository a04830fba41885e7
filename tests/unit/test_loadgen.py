"""The load generator without a network: a virtual-time event loop stands in for the clock and fake
transports for the server, so a 10 s run at 100 rps takes milliseconds and the schedule is exact."""

from __future__ import annotations

import asyncio
import math
import selectors
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship.errors import UsageError
from goship.local.loadgen import (
    LoadResult,
    LoadSpec,
    Reply,
    Request,
    RequestRecord,
    WeightedPath,
    classify,
    generate,
    percentile,
    run_load,
    target_address,
)

TARGET = "http://127.0.0.1:8080"


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer instead of waiting for it."""

    def __init__(self) -> None:
        self.now = 0.0
        loop = self

        class Selector(selectors.DefaultSelector):
            def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
                if timeout:
                    loop.now += timeout
                return super().select(0)

        super().__init__(Selector())

    def time(self) -> float:
        return self.now


class FakeServer:
    """Answers after ``delay`` seconds (of loop time) with what ``answer`` says for the path."""

    def __init__(self, delay: float = 0.005, answer: dict[str, Reply] | None = None) -> None:
        self.delay = delay
        self.answer = answer or {}
        self.received: list[Request] = []
        self.closed = False

    def __call__(self, spec: LoadSpec) -> FakeServer:
        return self

    async def send(self, request: Request) -> Reply:
        self.received.append(request)
        await asyncio.sleep(self.delay)
        return self.answer.get(request.path, Reply(200, "v1.0.0"))

    async def aclose(self) -> None:
        self.closed = True


def run(spec: LoadSpec, server: FakeServer) -> LoadResult:
    return run_load(spec, transport_factory=server, loop_factory=VirtualTimeLoop)


def test_schedule_is_open_loop_a_slow_server_does_not_reduce_the_requests_sent() -> None:
    spec = LoadSpec(TARGET, rps=100, duration_s=10, timeout_s=1.0, max_in_flight=8)
    fast = run(spec, FakeServer(delay=0.005))
    slow = run(spec, FakeServer(delay=30.0))

    assert len(fast.records) == len(slow.records) == 1000
    assert [r.start_s for r in slow.records] == pytest.approx([i / 100 for i in range(1000)])
    assert Counter(r.cause for r in fast.records) == {None: 1000}
    assert Counter(r.cause for r in slow.records) == {"timeout": 1000}
    # A stall is latency: every request waited its whole budget, counted from its scheduled start.
    assert {round(r.latency_ms, 6) for r in slow.records} == {1000.0}
    assert fast.achieved_rps == slow.achieved_rps == pytest.approx(100)


def test_requests_queued_behind_the_in_flight_limit_count_their_wait_as_latency() -> None:
    spec = LoadSpec(TARGET, rps=100, duration_s=1, timeout_s=5.0, max_in_flight=1)
    server = FakeServer(delay=0.02)
    result = run(spec, server)

    assert len(result.records) == 100
    assert len(server.received) == 100
    # One at a time at 20 ms each: request i finishes at 20 ms × (i + 1), scheduled at 10 ms × i.
    assert [r.latency_ms for r in result.records[:4]] == pytest.approx([20, 30, 40, 50])
    assert result.latency_ms(1.0) == pytest.approx(20 * 100 - 10 * 99)


def test_a_request_past_its_timeout_while_queued_is_a_timeout_and_the_schedule_goes_on() -> None:
    spec = LoadSpec(TARGET, rps=10, duration_s=2, timeout_s=0.25, max_in_flight=1)
    result = run(spec, FakeServer(delay=1.0))

    assert len(result.records) == 20
    assert all(r.cause == "timeout" and r.latency_ms == pytest.approx(250) for r in result.records)


def test_stop_ends_the_schedule_early_and_in_flight_requests_finish() -> None:
    spec = LoadSpec(TARGET, rps=100, duration_s=10, timeout_s=1.0)

    async def main() -> LoadResult:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(2.0, stop.set)
        return await generate(spec, FakeServer(delay=0.5), stop=stop)

    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        result = runner.run(main())

    assert len(result.records) == 200  # due at 0 … 1.99 s; the one due at 2.00 s meets the stop
    assert result.duration_s == pytest.approx(2.0)
    assert all(r.status == 200 for r in result.records)


def test_every_failure_is_classified_by_cause() -> None:
    answers = {
        "/ok": Reply(200, "v1"),
        "/teapot": Reply(418, "v1"),
        "/boom": Reply(500, "v2"),
        "/app-unavailable": Reply(503, "v2"),
        "/unready": Reply(503, None, "no-ready-endpoint"),
        "/bad-gateway": Reply(502, None, "upstream-reset"),
        "/reset": Reply(failure="reset"),
        "/refused": Reply(failure="connect"),
    }
    paths = tuple(WeightedPath(p) for p in answers)
    spec = LoadSpec(TARGET, rps=80, duration_s=1, paths=paths, seed=7)
    result = run(spec, FakeServer(answer=answers))

    by_path = {r.path: (r.status, r.version, r.cause, r.router_error) for r in result.records}
    assert by_path == {
        "/ok": (200, "v1", None, None),
        "/teapot": (418, "v1", None, None),
        "/boom": (500, "v2", "5xx", None),
        "/app-unavailable": (503, "v2", "5xx", None),
        "/unready": (503, None, "no-ready-endpoint", "no-ready-endpoint"),
        "/bad-gateway": (502, None, "reset", "upstream-reset"),  # the replica reset, the router said so
        "/reset": (None, None, "reset", None),
        "/refused": (None, None, "connect", None),
    }


def test_classify_treats_a_reply_without_status_as_a_reset() -> None:
    assert classify(Reply()) == "reset"


def test_paths_are_drawn_by_weight_and_users_from_the_pool() -> None:
    spec = LoadSpec(
        TARGET,
        rps=200,
        duration_s=10,
        paths=(WeightedPath("/a", 3), WeightedPath("/b", 1), WeightedPath("/never", 0)),
        headers={"X-Rehearsal": "yes"},
        users=5,
    )
    server = FakeServer()
    result = run(spec, server)

    paths = Counter(r.path for r in server.received)
    assert set(paths) == {"/a", "/b"}
    assert paths["/a"] / paths["/b"] == pytest.approx(3, rel=0.15)
    assert {r.user for r in result.records} == {f"user-{k}" for k in range(5)}
    first = server.received[0]
    assert first.headers == (("X-Rehearsal", "yes"), ("X-User-Id", result.records[0].user))


def test_the_same_seed_draws_the_same_paths_and_users() -> None:
    spec = LoadSpec(TARGET, rps=50, duration_s=1, paths=(WeightedPath("/a"), WeightedPath("/b")), users=9)
    first, second = run(spec, FakeServer()), run(spec, FakeServer())
    assert [(r.path, r.user) for r in first.records] == [(r.path, r.user) for r in second.records]


def test_the_transport_is_closed_at_the_end() -> None:
    server = FakeServer()
    run(LoadSpec(TARGET, rps=10, duration_s=0.5), server)
    assert server.closed


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1:8080",
        "http://192.168.1.10",
        "http://example.com:80",
        "http://[::2]:8080",
        "http://0.0.0.0:8080",
        "http://[::ffff:8.8.8.8]:80",
        "http://localhost.example.com:80",
    ],
)
def test_targets_off_the_loopback_are_refused(target: str) -> None:
    with pytest.raises(UsageError, match="loopback only"):
        LoadSpec(target, rps=10, duration_s=1)


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("http://127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("http://127.9.8.7:1", ("127.9.8.7", 1)),
        ("http://[::1]:8080/", ("::1", 8080)),
        ("http://LOCALHOST", ("localhost", 80)),
    ],
)
def test_loopback_targets_are_accepted(target: str, address: tuple[str, int]) -> None:
    assert target_address(target) == address


@pytest.mark.parametrize(
    "target",
    ["https://127.0.0.1:8443", "127.0.0.1:8080", "http://127.0.0.1:8080/api", "http://127.0.0.1:99999"],
)
def test_targets_that_are_not_a_plain_http_base_url_are_refused(target: str) -> None:
    with pytest.raises(UsageError, match="target: expected http://"):
        LoadSpec(target, rps=10, duration_s=1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rps": 0}, "rps: expected more than 0"),
        ({"rps": -5}, "rps: expected more than 0"),
        ({"rps": 1e9}, "at most 5000"),
        ({"rps": math.nan}, "rps"),
        ({"duration_s": 0}, "duration_s"),
        ({"duration_s": 86_400 * 7}, "duration_s"),
        ({"rps": 5000, "duration_s": 3600}, "requests"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"max_in_flight": 1_000_000}, "max_in_flight"),
        ({"users": -1}, "users"),
        ({"paths": ()}, "paths"),
        ({"paths": (WeightedPath("/a", 0),)}, "paths"),
        ({"paths": (WeightedPath("/a", -1), WeightedPath("/b"))}, "paths"),
        ({"paths": (WeightedPath("api"),)}, "absolute path"),
        ({"paths": (WeightedPath("/a\r\nX-Evil: 1"),)}, "absolute path"),
        ({"headers": {"X-A": "1\r\nX-Evil: 1"}}, "headers"),
        ({"headers": {"X A": "1"}}, "headers"),
        ({"method": "get me"}, "method"),
    ],
)
def test_absurd_or_unsafe_settings_are_refused(change: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {"target": TARGET, "rps": 100, "duration_s": 10, **change}
    with pytest.raises(UsageError, match=message):
        LoadSpec(**settings)  # type: ignore[arg-type]


def record(
    start_s: float,
    latency_ms: float,
    version: str | None = "v1",
    status: int | None = 200,
    cause: str | None = None,
    router_error: str | None = None,
) -> RequestRecord:
    return RequestRecord(start_s, latency_ms, status, version, cause, router_error, "/")  # type: ignore[arg-type]


def result_of(records: list[RequestRecord], duration_s: float) -> LoadResult:
    spec = LoadSpec(TARGET, rps=len(records) / duration_s, duration_s=duration_s)
    return LoadResult(spec, tuple(records), duration_s, 0.0)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([7.0], 0.99) == 7
    assert percentile([], 0.5) is None


@given(st.lists(st.floats(0, 1e6), min_size=1), st.floats(0.01, 1), st.floats(0.01, 1))
def test_percentile_is_one_of_the_values_and_grows_with_q(values: list[float], q1: float, q2: float) -> None:
    low, high = sorted((q1, q2))
    p_low, p_high = percentile(values, low), percentile(values, high)
    assert p_low in values and p_high in values
    assert p_low is not None and p_high is not None and p_low <= p_high


def test_summary_counts_versions_failures_and_latency() -> None:
    records = [
        *(record(i * 0.01, 10.0 + i) for i in range(100)),  # v1: 10 … 109 ms
        *(record(1 + i * 0.01, 5.0, version="v2") for i in range(50)),
        record(1.5, 30.0, version="v2", status=500, cause="5xx"),
        record(1.6, 2.0, version=None, status=None, cause="reset"),
        record(1.7, 1000.0, version=None, status=None, cause="timeout"),
        record(
            1.8, 1.0, version=None, status=503, cause="no-ready-endpoint", router_error="no-ready-endpoint"
        ),
    ]
    result = result_of(records, 2.0)

    assert result.versions() == ["v1", "v2"]
    assert result.counts_by_version() == {"v1": 100, "v2": 51, None: 3}
    assert result.failure_counts() == {
        ("5xx", "v2"): 1,
        ("reset", None): 1,
        ("timeout", None): 1,
        ("no-ready-endpoint", None): 1,
    }
    assert len(result.failures()) == 4
    stats = result.by_version()
    assert (stats["v1"].requests, stats["v1"].errors, stats["v1"].p50_ms, stats["v1"].p99_ms) == (
        100,
        0,
        59,
        108,
    )
    assert (stats["v2"].requests, stats["v2"].errors, stats["v2"].p50_ms, stats["v2"].p99_ms) == (
        51,
        1,
        5,
        30,
    )
    # Latency quantiles cover answered requests only; the timeout is counted as a failure instead.
    assert result.latency_ms(1.0) == 109
    assert result.latency_ms(0.5, version="v2") == 5


def test_series_buckets_by_scheduled_start_with_shares_and_error_rates() -> None:
    records = [
        record(0.1, 1.0),
        record(0.6, 3.0),
        record(1.2, 2.0),
        record(1.4, 4.0, version="v2"),
        record(1.6, 8.0, version="v2"),
        record(1.9, 1.0, version=None, status=None, cause="reset"),
    ]
    buckets = result_of(records, 3.0).series(1.0)

    assert [b.start_s for b in buckets] == [0.0, 1.0, 2.0]
    assert [b.requests for b in buckets] == [2, 4, 0]
    assert [b.error_rate for b in buckets] == [0.0, 0.25, 0.0]
    assert [b.share() for b in buckets] == [{"v1": 1.0}, {"v1": 1 / 3, "v2": 2 / 3}, {}]
    assert (buckets[0].p50_ms, buckets[0].p99_ms) == (1.0, 3.0)
    assert buckets[1].versions["v2"].p99_ms == 8.0
    assert buckets[2].p50_ms is None


def test_series_refuses_a_bucket_of_no_width() -> None:
    with pytest.raises(UsageError, match="bucket_s"):
        result_of([record(0, 1)], 1.0).series(0)


def test_router_reported_upstream_failures_keep_their_cause() -> None:
    from goship.local.loadgen import Reply, classify

    assert classify(Reply(status=502, version="v2", router_error="upstream-reset")) == "reset"
    assert classify(Reply(status=502, version="v2", router_error="connect")) == "connect"
    assert classify(Reply(status=504, version="v2", router_error="timeout")) == "timeout"
    assert classify(Reply(status=500, version="v2", router_error=None)) == "5xx"
