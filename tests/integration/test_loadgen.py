"""The load generator against a real HTTP server on loopback: rate, latency, and how failures are told apart."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from goship.local.loadgen import LoadRun, LoadSpec, WeightedPath, run_load

pytestmark = pytest.mark.integration


class LocalServer:
    """An asyncio HTTP/1.1 keep-alive server in its own thread; the path picks the behaviour."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.connections = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._main, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    def _main(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()
        self.loop.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                if not await self._answer(path, head, writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def _answer(self, path: str, head: bytes, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection is finished."""
        version = b"X-Goship-Version: v1.0.0\r\n"
        if path.startswith("/delay/"):
            await asyncio.sleep(int(path.rsplit("/", 1)[1]) / 1000)
        if path == "/reset":
            # Half a status line, then a TCP RST (linger 0): the connection dies mid-response.
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")
            await writer.drain()
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if path == "/fail":
            writer.write(
                b"HTTP/1.1 500 Internal Server Error\r\n" + version + b"Content-Length: 4\r\n\r\nboom"
            )
        elif path == "/unready":
            writer.write(
                b"HTTP/1.1 503 Service Unavailable\r\nX-Goship-Error: no-ready-endpoint\r\nContent-Length: 0\r\n\r\n"
            )
        elif path == "/chunked":
            writer.write(
                b"HTTP/1.1 200 OK\r\n"
                + version
                + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            )
        elif path == "/close":
            writer.write(b"HTTP/1.1 200 OK\r\n" + version + b"Connection: close\r\n\r\nuntil the end")
            await writer.drain()
            writer.close()
            return False
        elif path == "/then-close":
            # Keep-alive in words, then the connection goes away: the client must not count that as a reset.
            writer.write(b"HTTP/1.1 200 OK\r\n" + version + b"Content-Length: 2\r\n\r\nok")
            await writer.drain()
            writer.close()
            return False
        elif path == "/echo-user":
            user = next(
                (
                    line.split(b":", 1)[1].strip()
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"x-user-id:")
                ),
                b"none",
            )
            writer.write(b"HTTP/1.1 200 OK\r\nX-Goship-Version: " + user + b"\r\nContent-Length: 0\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\n" + version + b"Content-Length: 2\r\n\r\nok")
        await writer.drain()
        return True


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer()
    yield srv
    srv.close()


def test_1000_rps_for_3_s_delivers_3000_requests_with_their_latencies(server: LocalServer) -> None:
    result = run_load(LoadSpec(server.url, rps=1000, duration_s=3, timeout_s=2.0))

    assert len(result.records) == 3000
    assert Counter(r.status for r in result.records) == {200: 3000}
    assert result.counts_by_version() == {"v1.0.0": 3000}
    assert result.achieved_rps == pytest.approx(1000, rel=0.01)
    # Scheduled starts are exact; a loopback answer takes about a millisecond, generator overhead included.
    assert result.records[1500].start_s == pytest.approx(1.5)
    p50, p99 = result.latency_ms(0.5), result.latency_ms(0.99)
    assert p50 is not None and p99 is not None
    assert 0 < p50 < 10 and p99 < 100
    assert [b.requests for b in result.series(1.0)] == [1000, 1000, 1000]
    # Keep-alive: connections are reused, not opened per request.
    assert server.connections < 100


def test_latency_measures_the_server_time(server: LocalServer) -> None:
    result = run_load(LoadSpec(server.url, rps=200, duration_s=1, paths=(WeightedPath("/delay/20"),)))

    p50 = result.latency_ms(0.5)
    assert p50 is not None and 20 <= p50 < 30
    assert min(r.latency_ms for r in result.records) >= 20


def test_resets_are_classified_as_reset(server: LocalServer) -> None:
    spec = LoadSpec(
        server.url, rps=100, duration_s=1, paths=(WeightedPath("/reset"), WeightedPath("/")), seed=3
    )
    result = run_load(spec)

    by_path = {path: Counter(r.cause for r in result.records if r.path == path) for path in ("/reset", "/")}
    assert set(by_path["/reset"]) == {"reset"}
    assert set(by_path["/"]) == {None}
    assert all(r.status is None and r.version is None for r in result.records if r.path == "/reset")


def test_timeouts_are_classified_as_timeout_and_do_not_slow_the_schedule(server: LocalServer) -> None:
    spec = LoadSpec(server.url, rps=50, duration_s=1, timeout_s=0.2, paths=(WeightedPath("/delay/1000"),))
    started = time.monotonic()
    result = run_load(spec)

    assert time.monotonic() - started < 1.6
    assert len(result.records) == 50
    assert {r.cause for r in result.records} == {"timeout"}
    assert all(200 <= r.latency_ms < 260 for r in result.records)


def test_5xx_and_no_ready_endpoint_are_told_apart(server: LocalServer) -> None:
    paths = (
        WeightedPath("/fail"),
        WeightedPath("/unready"),
        WeightedPath("/chunked"),
        WeightedPath("/close"),
    )
    result = run_load(LoadSpec(server.url, rps=200, duration_s=1, paths=paths))

    causes = {(r.path, r.status, r.cause, r.router_error) for r in result.records}
    assert causes == {
        ("/fail", 500, "5xx", None),
        ("/unready", 503, "no-ready-endpoint", "no-ready-endpoint"),
        ("/chunked", 200, None, None),
        ("/close", 200, None, None),
    }
    assert result.failure_counts() == {
        ("5xx", "v1.0.0"): sum(r.path == "/fail" for r in result.records),
        ("no-ready-endpoint", None): sum(r.path == "/unready" for r in result.records),
    }


def test_a_connection_the_server_closed_after_answering_is_replaced_not_counted_as_a_reset(
    server: LocalServer,
) -> None:
    result = run_load(LoadSpec(server.url, rps=500, duration_s=1, paths=(WeightedPath("/then-close"),)))

    assert Counter(r.cause for r in result.records) == {None: 500}
    assert server.connections == 500


def test_a_port_nobody_listens_on_is_a_connect_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the load starts
    result = run_load(LoadSpec(f"http://127.0.0.1:{port}", rps=20, duration_s=0.5))

    assert {r.cause for r in result.records} == {"connect"}


def test_user_ids_reach_the_server(server: LocalServer) -> None:
    result = run_load(
        LoadSpec(server.url, rps=100, duration_s=1, users=3, paths=(WeightedPath("/echo-user"),))
    )

    assert {r.version for r in result.records} == {"user-0", "user-1", "user-2"}
    assert all(r.version == r.user for r in result.records)


def test_a_background_run_can_be_stopped_while_the_caller_works(server: LocalServer) -> None:
    run = LoadRun(LoadSpec(server.url, rps=200, duration_s=30)).start()
    time.sleep(0.5)
    elapsed = run.elapsed()
    run.stop()
    result = run.wait(timeout=10)

    assert 0.4 < elapsed < 1.5
    assert 80 <= len(result.records) <= 400
    assert result.duration_s < 2
    assert {r.cause for r in result.records} == {None}


def test_a_background_run_ends_by_itself_at_its_duration(server: LocalServer) -> None:
    with LoadRun(LoadSpec(server.url, rps=100, duration_s=0.5)) as run:
        result = run.wait(timeout=10)
    assert len(result.records) == 50
