"""The local runtime with real processes: examples/hello built with the real go (version injected), run as
replicas under goship.local.supervisor — readiness through /readyz, restarts after SIGKILL, a slow warm-up,
a graceful stop that drains, a release that does not, a crash loop's back-off, nothing left behind — the
probes against real sockets and commands, and an image composed with goship.image unpacked by
goship.local.rootfs (whiteouts, escapes) and run from its rootfs."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import platform as host
import signal
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from goship.errors import CheckFailedError
from goship.image.base import Scratch, static_base
from goship.image.compose import compose_image, compose_index
from goship.image.layers import Layer, LayerBuilder
from goship.image.layout import Layout
from goship.image.oci import Digest, Platform
from goship.local.probes import ProbeSpec, ProbeTarget, run_probe
from goship.local.rootfs import unpack
from goship.local.supervisor import Event, ReplicaSpec, ReplicaStatus, Supervisor, free_port
from goship.local.workloads import LocalWorkloads
from goship.rollout.plan import ReplicaSetState

pytestmark = pytest.mark.integration

HELLO_SRC = Path(__file__).resolve().parents[2] / "examples" / "hello"
VERSION = "v1.4.2"
COMMIT = "0123abc"
DATE = "2026-01-02T03:04:05Z"
GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
PLATFORM = Platform("linux", GOARCH.get(host.machine(), host.machine()))


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/hello, static, with version, commit and date injected. Fails (never skips) without go."""
    out = tmp_path_factory.mktemp("hello-bin") / "hello"
    ldflags = f"-s -w -X main.version={VERSION} -X main.commit={COMMIT} -X main.date={DATE}"
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": ""}
    done = subprocess.run(
        ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(out), "."],
        cwd=HELLO_SRC,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"go build examples/hello: {done.stderr}"
    vet = subprocess.run(
        ["go", "vet", "./..."], cwd=HELLO_SRC, env=env, capture_output=True, text=True, check=False
    )
    assert vet.returncode == 0, f"go vet examples/hello: {vet.stderr}"
    return out


class Runtime:
    """A real supervisor on a background thread, recording its events and endpoint changes."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.events: list[Event] = []
        self.endpoint_changes: list[dict[str, list[str]]] = []
        self.on_endpoints: Callable[[Mapping[str, list[str]]], None] | None = None
        self.supervisor = Supervisor(
            log_dir=tmp_path / "logs",
            on_event=self.events.append,
            on_endpoints_changed=self._endpoints_changed,
            tick_s=0.02,
        )

    def _endpoints_changed(self, endpoints: Mapping[str, list[str]]) -> None:
        self.endpoint_changes.append(dict(endpoints))
        if self.on_endpoints is not None:
            self.on_endpoints(endpoints)

    def status(self, rid: str) -> ReplicaStatus:
        return next(r for r in self.supervisor.replicas() if r.id == rid)

    def events_of(self, rid: str, kind: str | None = None) -> list[Event]:
        return [e for e in list(self.events) if e.replica == rid and (kind is None or e.kind == kind)]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime(tmp_path)
    rt.supervisor.run_background()
    try:
        yield rt
    finally:
        rt.supervisor.close()


def wait_for(done: Callable[[], object], *, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def hello_spec(
    binary: Path, tmp_path: Path, *, env: Mapping[str, str] | None = None, **settings: Any
) -> ReplicaSpec:
    values: dict[str, Any] = {
        "revision": f"hello-{VERSION}",
        "version": VERSION,
        "argv": (str(binary),),
        "env": dict(env or {}),
        "cwd": tmp_path,
        "readiness": ProbeSpec.http("/readyz", period_s=0.05, timeout_s=1),
        "liveness": ProbeSpec.http("/healthz", period_s=0.2, timeout_s=1),
        "termination_grace_s": 10.0,
        "backoff_base_s": 0.2,
        "backoff_cap_s": 0.8,
    }
    values.update(settings)
    return ReplicaSpec(**values)


def get(endpoint: str, path: str, *, timeout: float = 5.0) -> tuple[int, str]:
    host_, port = endpoint.rsplit(":", 1)
    conn = http.client.HTTPConnection(host_, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _group_gone(pgid: int) -> bool:
    """No live process is left in the group: zombies (dead, waiting for init to reap them — which in
    some sandboxes never happens) count as gone."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return False
    return True


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# --- replicas of hello --------------------------------------------------------------------------------


def test_three_replicas_become_ready_and_answer_with_the_injected_version(
    hello: Path, runtime: Runtime, tmp_path: Path
) -> None:
    ids = [runtime.supervisor.start_replica(hello_spec(hello, tmp_path)) for _ in range(3)]
    wait_for(lambda: len(runtime.supervisor.ready_endpoints().get(VERSION, [])) == 3, what="3 ready replicas")
    endpoints = runtime.supervisor.ready_endpoints()[VERSION]
    assert len(set(endpoints)) == 3
    for endpoint in endpoints:
        assert get(endpoint, "/") == (200, f"hello from {VERSION}\n")
        status, body = get(endpoint, "/version")
        assert (status, json.loads(body)) == (200, {"version": VERSION, "commit": COMMIT, "date": DATE})
    for rid in ids:
        replica = runtime.status(rid)
        assert replica.ready and replica.phase == "running" and replica.restarts == 0
        assert [e.kind for e in runtime.events_of(rid)] == ["started", "ready"]
        assert f"listening on 127.0.0.1:{replica.port}" in replica.log_path.read_text()
    assert runtime.endpoint_changes[-1] == {VERSION: endpoints}


def test_a_replica_killed_with_sigkill_is_restarted_on_its_port_and_counted(
    hello: Path, runtime: Runtime, tmp_path: Path
) -> None:
    rid = runtime.supervisor.start_replica(hello_spec(hello, tmp_path))
    wait_for(lambda: runtime.status(rid).ready, what="ready")
    before = runtime.status(rid)
    assert before.pid is not None
    os.kill(before.pid, signal.SIGKILL)
    wait_for(lambda: runtime.status(rid).restarts == 1 and runtime.status(rid).ready, what="restart")
    after = runtime.status(rid)
    assert after.pid != before.pid and after.port == before.port
    assert gone(before.pid)
    crashed = runtime.events_of(rid, "crashed")
    assert [e.detail for e in crashed] == ["killed by signal 9"]
    kinds = [e.kind for e in runtime.events_of(rid)]
    assert kinds == ["started", "ready", "crashed", "not-ready", "restarted", "ready"]
    assert get(after.endpoint, "/") == (200, f"hello from {VERSION}\n")


def test_a_slow_warmup_keeps_a_live_replica_out_of_the_endpoints_until_it_is_ready(
    hello: Path, runtime: Runtime, tmp_path: Path
) -> None:
    started = time.monotonic()
    rid = runtime.supervisor.start_replica(hello_spec(hello, tmp_path, env={"HELLO_WARMUP_MS": "3000"}))
    endpoint = runtime.status(rid).endpoint
    wait_for(lambda: _answers(endpoint, "/healthz"), what="the process to listen")
    assert time.monotonic() - started < 2.5, "the check below needs the replica still warming up"
    assert get(endpoint, "/readyz")[0] == 503
    assert not runtime.status(rid).ready
    assert runtime.supervisor.ready_endpoints() == {}
    wait_for(lambda: runtime.status(rid).ready, what="ready after warm-up")
    assert time.monotonic() - started >= 3.0
    assert runtime.supervisor.ready_endpoints() == {VERSION: [endpoint]}


def _answers(endpoint: str, path: str) -> bool:
    try:
        return get(endpoint, path, timeout=0.5)[0] == 200
    except OSError:
        return False


def _slow_get(endpoint: str, results: list[object]) -> threading.Thread:
    def call() -> None:
        try:
            results.append(get(endpoint, "/", timeout=10))
        except (OSError, http.client.HTTPException) as exc:
            results.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    return thread


def test_a_graceful_stop_leaves_the_endpoints_before_sigterm_and_drains_in_flight_requests(
    hello: Path, runtime: Runtime, tmp_path: Path
) -> None:
    spec = hello_spec(hello, tmp_path, env={"HELLO_SLOW_MS": "800"}, pre_stop_s=0.3)
    rid = runtime.supervisor.start_replica(spec)
    wait_for(lambda: runtime.status(rid).ready, what="ready")
    endpoint = runtime.status(rid).endpoint
    seen_by_callback: list[tuple[dict[str, list[str]], int]] = []
    # The replica marks itself not ready on SIGTERM, so a /readyz of 200 here proves SIGTERM has not come.
    runtime.on_endpoints = lambda eps: seen_by_callback.append((dict(eps), get(endpoint, "/readyz")[0]))
    results: list[object] = []
    request = _slow_get(endpoint, results)
    time.sleep(0.2)  # the request is in flight
    stopping = time.monotonic()
    runtime.supervisor.stop_replica(rid)
    assert seen_by_callback == [({}, 200)]
    wait_for(lambda: runtime.events_of(rid, "stopped"), what="stopped")
    request.join()
    assert results == [(200, f"hello from {VERSION}\n")]
    stopped = runtime.events_of(rid, "stopped")[0]
    assert stopped.detail.startswith("exit code 0 after")
    assert stopped.at - stopping >= 0.3  # preStop came before SIGTERM
    assert not runtime.events_of(rid, "killed")
    log = (tmp_path / "logs" / f"{rid}.log").read_text()
    assert "terminated: not ready, draining" in log and "stopped" in log


def test_a_release_without_grace_exits_at_once_and_drops_in_flight_requests(
    hello: Path, runtime: Runtime, tmp_path: Path
) -> None:
    spec = hello_spec(hello, tmp_path, env={"HELLO_NO_GRACE": "1", "HELLO_SLOW_MS": "3000"})
    rid = runtime.supervisor.start_replica(spec)
    wait_for(lambda: runtime.status(rid).ready, what="ready")
    results: list[object] = []
    request = _slow_get(runtime.status(rid).endpoint, results)
    time.sleep(0.2)
    stopping = time.monotonic()
    runtime.supervisor.stop_replica(rid)
    wait_for(lambda: runtime.events_of(rid, "stopped"), timeout=2.5, what="an immediate exit")
    request.join()
    assert time.monotonic() - stopping < 2.5
    assert runtime.events_of(rid, "stopped")[0].detail.startswith("exit code 143 after")
    assert len(results) == 1 and isinstance(results[0], OSError | http.client.HTTPException)


def test_a_crash_looping_binary_backs_off_doubling_to_the_cap(runtime: Runtime, tmp_path: Path) -> None:
    spec = ReplicaSpec(
        revision="crasher",
        version="v0",
        argv=("/bin/sh", "-c", "echo boom; exit 1"),
        cwd=tmp_path,
        backoff_base_s=0.2,
        backoff_cap_s=0.8,
    )
    rid = runtime.supervisor.start_replica(spec)
    phases: set[str] = set()

    def five_restarts() -> bool:
        status = runtime.status(rid)
        phases.add(status.phase)
        return status.restarts >= 5

    wait_for(five_restarts, what="5 restarts")
    events = runtime.events_of(rid)
    crashes = [e.at for e in events if e.kind == "crashed"]
    restarts = [e.at for e in events if e.kind == "restarted"]
    delays = [r - c for c, r in zip(crashes, restarts, strict=False)][:5]
    for delay, expected in zip(delays, [0, 0.2, 0.4, 0.8, 0.8], strict=True):
        assert expected <= delay < expected + 0.5, delays
    assert "backoff" in phases
    assert {e.detail for e in events if e.kind == "crashed"} == {"exit code 1"}
    assert runtime.status(rid).log_path.read_text().count("boom") >= 5


def test_stop_all_leaves_no_process_behind(hello: Path, runtime: Runtime, tmp_path: Path) -> None:
    specs = [
        hello_spec(hello, tmp_path),
        hello_spec(hello, tmp_path, env={"HELLO_NO_GRACE": "1"}),
        # A shell that ignores SIGTERM and has a child: SIGKILL after the grace period must reach both.
        ReplicaSpec(
            revision="stubborn",
            version="v0",
            argv=("/bin/sh", "-c", 'trap "" TERM; while :; do sleep 0.1; done'),
            cwd=tmp_path,
            termination_grace_s=0.5,
        ),
    ]
    ids = [runtime.supervisor.start_replica(s) for s in specs]
    wait_for(lambda: all(runtime.status(rid).ready for rid in ids), what="all ready")
    pids = {r.pid for r in runtime.supervisor.replicas()}
    os.kill(runtime.status(ids[0]).pid or 0, signal.SIGKILL)
    wait_for(lambda: runtime.status(ids[0]).restarts == 1, what="a restart")
    pids |= {r.pid for r in runtime.supervisor.replicas()}
    assert None not in pids and len(pids) == 4
    runtime.supervisor.stop_all()
    assert runtime.supervisor.replicas() == []
    for pid in pids:
        assert pid is not None
        assert gone(pid), f"process {pid} is still there"
        # Nor anything in its process group, once init has reaped the orphans SIGKILL left behind.
        wait_for(lambda: _group_gone(pid), timeout=5, what=f"process group {pid} to be empty")  # noqa: B023
    assert [e.replica for e in runtime.events if e.kind == "killed"] == [ids[2]]


def test_local_workloads_scale_a_revision_up_and_down(hello: Path, runtime: Runtime, tmp_path: Path) -> None:
    revision = f"hello-{VERSION}"
    workloads = LocalWorkloads(runtime.supervisor, {revision: hello_spec(hello, tmp_path)}, min_ready_s=0.2)
    workloads.scale(revision, 3)
    wait_for(lambda: workloads.states() == [ReplicaSetState(revision, 3, 3)], what="3 available")
    workloads.scale(revision, 1)
    assert workloads.states() == [ReplicaSetState(revision, 1, 1)]
    wait_for(lambda: len(runtime.supervisor.replicas()) == 1, what="2 replicas stopped")
    assert len(runtime.supervisor.ready_endpoints()[VERSION]) == 1


# --- probes against real sockets and commands -------------------------------------------------------


def test_probes_against_real_sockets_and_commands(hello: Path, runtime: Runtime, tmp_path: Path) -> None:
    rid = runtime.supervisor.start_replica(
        hello_spec(hello, tmp_path, env={"HELLO_WARMUP_MS": "60000"}, readiness=None, liveness=None)
    )
    port = runtime.status(rid).port
    target = ProbeTarget("127.0.0.1", port, tmp_path)
    wait_for(lambda: run_probe(ProbeSpec.tcp(), target).ok, what="the port to open")
    assert run_probe(ProbeSpec.http("/healthz"), target).detail == "GET /healthz: 200"
    warming = run_probe(ProbeSpec.http("/readyz"), target)
    assert (warming.ok, warming.detail) == (False, "GET /readyz: 503")
    closed = ProbeTarget("127.0.0.1", free_port(), tmp_path)
    assert not run_probe(ProbeSpec.tcp(), closed).ok
    assert run_probe(ProbeSpec.http("/"), closed).detail == "GET /: connection refused"

    # A server that accepts connections and never answers: the timeout is what fails the check.
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        silent = ProbeTarget("127.0.0.1", mute.getsockname()[1], tmp_path)
        began = time.monotonic()
        result = run_probe(ProbeSpec.http("/", timeout_s=0.3), silent)
        assert (result.ok, result.detail) == (False, "GET /: timed out")
        assert time.monotonic() - began < 1.5

    assert run_probe(ProbeSpec.exec(["true"]), target).ok
    assert run_probe(ProbeSpec.exec(["false"]), target).detail == "exec false: exit 1"
    assert run_probe(ProbeSpec.exec(["/no/such/program"]), target).detail.startswith(
        "exec /no/such/program: "
    )
    began = time.monotonic()
    slow = run_probe(ProbeSpec.exec(["sleep", "5"], timeout_s=0.3), target)
    assert (slow.ok, slow.detail) == (False, "exec sleep: timed out after 0.3s")
    assert time.monotonic() - began < 2


# --- images unpacked from goship's layout -------------------------------------------------------------


def test_an_image_composed_by_goship_is_unpacked_once_and_its_entrypoint_runs(
    hello: Path, runtime: Runtime, tmp_path: Path
) -> None:
    layout = Layout(tmp_path / "layout")
    image = compose_image(static_base(), hello, platform=PLATFORM, created=1_700_000_000)
    layout.write(compose_index([image]), ref=f"hello:{VERSION}")
    cache = tmp_path / "rootfs-cache"

    with ThreadPoolExecutor(4) as pool:  # concurrent callers share one unpack
        unpacked = list(pool.map(lambda _: unpack(layout, f"hello:{VERSION}", PLATFORM, cache), range(4)))
    rootfs = unpacked[0]
    assert all(r == rootfs for r in unpacked)
    assert rootfs.manifest_digest == image.descriptor.digest
    assert rootfs.path == cache / image.descriptor.digest.removeprefix("sha256:") / "rootfs"
    assert rootfs.argv == (str(rootfs.path / "app" / "hello"),)
    assert rootfs.working_dir == rootfs.path / "home" / "nonroot"
    assert "root:x:0:0" in (rootfs.path / "etc" / "passwd").read_text()
    assert any(e.startswith("SSL_CERT_FILE=") for e in rootfs.env)
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == [
        rootfs.path.parent.name
    ]
    marker = rootfs.path / "unpacked-once"
    marker.write_text("")
    assert unpack(layout, rootfs.manifest_digest, PLATFORM, cache) == rootfs  # by digest, from the cache
    assert marker.exists()

    spec = ReplicaSpec.from_rootfs(
        rootfs, revision="hello-image", version=VERSION, readiness=ProbeSpec.http("/readyz", period_s=0.05)
    )
    rid = runtime.supervisor.start_replica(spec)
    wait_for(lambda: runtime.status(rid).ready, what="the image's entrypoint to be ready")
    assert get(runtime.status(rid).endpoint, "/") == (200, f"hello from {VERSION}\n")


def _tar_layer(build: Callable[[tarfile.TarFile], None]) -> Layer:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    tar_bytes = raw.getvalue()
    blob = gzip.compress(tar_bytes, mtime=0)
    return Layer(
        digest=Digest("sha256:" + hashlib.sha256(blob).hexdigest()),
        size=len(blob),
        diff_id=Digest("sha256:" + hashlib.sha256(tar_bytes).hexdigest()),
        content=blob,
    )


def _add(
    tar: tarfile.TarFile, name: str, *, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size, info.mode = kind, link, len(data), 0o644
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _image_on(hello: Path, tmp_path: Path, *layers: Layer) -> tuple[Layout, str]:
    layout = Layout(tmp_path / "layout")
    image = compose_image(Scratch(layers=layers), hello, platform=PLATFORM, created=1_700_000_000)
    layout.write(image, ref="custom")
    return layout, "custom"


def test_layers_apply_with_whiteouts_and_every_path_stays_inside_the_root(
    hello: Path, tmp_path: Path
) -> None:
    lower = (
        LayerBuilder()
        .add_file("/etc/a", b"a")
        .add_file("/etc/b", b"b")
        .add_file("/data/old/1", b"1")
        .add_file("/data/keep-me-not", b"x")
        .add_symlink("/abs", "/etc")
        .add_symlink("/up", "../../../../../../tmp")
        .add_symlink("/usr/lib/tool", "../../etc/b")
        .build()
    )

    def upper_entries(tar: tarfile.TarFile) -> None:
        _add(tar, "etc/.wh.a")
        _add(tar, "data/.wh..wh..opq")
        _add(tar, "data/new", data=b"new")
        _add(tar, "/abs/through-link", data=b"via /abs")  # a leading / is dropped; /abs leads to <root>/etc
        _add(tar, "up/escape", data=b"must land inside")  # /up leads to <root>/tmp, never the host's
        _add(tar, "etc/b-link", kind=tarfile.LNKTYPE, link="etc/b")
        _add(tar, "dev/null", kind=tarfile.CHRTYPE)
        _add(tar, "lib", kind=tarfile.SYMTYPE, link="/usr/lib")

    layout, ref = _image_on(hello, tmp_path, lower, _tar_layer(upper_entries))
    root = unpack(layout, ref, PLATFORM, tmp_path / "cache").path
    assert not (root / "etc" / "a").exists()
    assert (root / "etc" / "b").read_bytes() == b"b"
    assert sorted(p.name for p in (root / "data").iterdir()) == ["new"]
    assert (root / "etc" / "through-link").read_bytes() == b"via /abs"
    assert (root / "tmp" / "escape").read_bytes() == b"must land inside"
    assert not Path("/tmp/escape").exists()
    assert os.stat(root / "etc" / "b-link").st_ino == os.stat(root / "etc" / "b").st_ino
    assert not (root / "dev" / "null").exists()
    # Symlinks are rewritten to relative links that resolve inside the root on this machine.
    assert os.readlink(root / "abs") == "etc"
    assert os.readlink(root / "up") == "tmp"  # .. stops at the root, as it does at /
    assert os.readlink(root / "lib") == "usr/lib"
    assert (root / "lib" / "tool").read_bytes() == b"b"
    for path in root.rglob("*"):
        assert path.resolve().is_relative_to(root.resolve()), path


def test_a_layer_that_climbs_out_with_dotdot_is_refused_and_leaves_nothing(
    hello: Path, tmp_path: Path
) -> None:
    layout, ref = _image_on(hello, tmp_path, _tar_layer(lambda tar: _add(tar, "../../evil", data=b"x")))
    cache = tmp_path / "cache"
    with pytest.raises(CheckFailedError, match=r"climbs out of the root with '\.\.'"):
        unpack(layout, ref, PLATFORM, cache)
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []
    assert not (tmp_path / "evil").exists()


def test_a_corrupted_layer_blob_is_caught_by_its_digest(hello: Path, tmp_path: Path) -> None:
    layer = LayerBuilder().add_file("/etc/a", b"a" * 1000).build()
    layout, ref = _image_on(hello, tmp_path, layer)
    blob = layout.blob_path(layer.digest)
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[-5] ^= 0xFF  # the gzip trailer's length: the tar is intact, the blob is not
    blob.write_bytes(bytes(data))
    with pytest.raises(CheckFailedError):
        unpack(layout, ref, PLATFORM, tmp_path / "cache")
