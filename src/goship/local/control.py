"""The local runtime seen from outside its daemon: where its state lives, whether the daemon that wrote it
still runs, how to start it, talk to its loopback JSON control API, wait for a rollout, and stop it so that
no process of it is left.

The state directory holds ``state.json`` (written atomically by the daemon after every change; its
format is described in :mod:`goship.local.daemon`), ``daemon.log``, the router's and the replicas' logs.
A daemon that died without cleaning up leaves a *stale* state file: its pid is gone (or belongs to some
other program by now); :func:`clean_stale` kills what it left running and moves the file aside. A daemon
started in the same directory again puts its router on the address the last one had, when it is free.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goship import _http, _proc
from goship.errors import (
    CheckFailedError,
    EnvironmentFailure,
    GoshipError,
    RemoteError,
    UsageError,
)

__all__ = [
    "DAEMON_MODULE",
    "LAST_STATE_FILE",
    "LOG_FILE",
    "STATE_FILE",
    "ControlClient",
    "Runtime",
    "clean_stale",
    "find_runtime",
    "pid_alive",
    "read_state",
    "runtime_dir",
    "start_daemon",
    "stop_runtime",
    "wait_rollout",
    "write_state",
]

STATE_FILE = "state.json"
LAST_STATE_FILE = "last-state.json"
"""Where a stopped (or stale) runtime's last state is moved, for a post-mortem."""
LOG_FILE = "daemon.log"
DAEMON_MODULE = "goship.local.daemon"
TOKEN_HEADER = "X-Goship-Token"
"""The control API answers only requests that carry the token from the (user-only) state file."""


def runtime_dir(store_root: Path, service: str) -> Path:
    """``<store>/../runtime/<service>``: beside goship's store, one directory per service."""
    return store_root.parent / "runtime" / service


def write_state(directory: Path, document: dict[str, Any]) -> None:
    """Write ``state.json`` atomically (temp file, fsync, rename): a reader never sees half of one."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{STATE_FILE}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(document, out, indent=1, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(directory / STATE_FILE)


def read_state(directory: Path) -> dict[str, Any] | None:
    """The state document, or None when there is none."""
    try:
        data = json.loads((directory / STATE_FILE).read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise EnvironmentFailure(f"{directory / STATE_FILE} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EnvironmentFailure(f"{directory / STATE_FILE}: expected a JSON object")
    return data


def pid_alive(pid: int | None, *, cmdline_has: str | None = None) -> bool:
    """Whether ``pid`` runs (a zombie does not: it only waits to be reaped) and, with ``cmdline_has``,
    runs a program whose command line contains it, so a recycled pid is not taken for ours."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process: not one of ours
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return False
        if cmdline_has is not None:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            return cmdline_has in cmdline
    except (OSError, IndexError):
        return False
    return True


@dataclass(frozen=True)
class Runtime:
    """A state directory and what its state file says."""

    directory: Path
    """``<store>/../runtime/<service>``."""
    state: dict[str, Any]
    """The last state the daemon wrote."""
    alive: bool
    """Whether the daemon that wrote it still runs; False: the state is stale."""

    @property
    def pid(self) -> int:
        return int(self.state["pid"])

    def client(self, *, timeout: float = 30.0) -> ControlClient:
        return ControlClient(str(self.state["control"]), str(self.state["token"]), timeout=timeout)


def find_runtime(directory: Path) -> Runtime | None:
    """The runtime whose state is in ``directory``, alive or stale; None when there is no state file."""
    state = read_state(directory)
    if state is None:
        return None
    alive = pid_alive(int(state.get("pid") or 0), cmdline_has=DAEMON_MODULE)
    return Runtime(directory, state, alive)


def _recorded_processes(state: dict[str, Any]) -> list[tuple[int, str]]:
    """(pid, program) of the router and every replica the state names."""
    found: list[tuple[int, str]] = []
    router = state.get("router") or {}
    if router.get("pid"):
        found.append((int(router["pid"]), str(router.get("program", ""))))
    for replica in state.get("replicas") or []:
        if replica.get("pid"):
            found.append((int(replica["pid"]), str(replica.get("program", ""))))
    return found


def _kill_group(pid: int) -> None:
    # Each replica and the router lead their own process group (goship._proc.spawn starts a session).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def clean_stale(runtime: Runtime) -> list[int]:
    """Kill what a dead daemon left running (only processes still running the program recorded for them)
    and move its state file aside; the pids killed."""
    killed = []
    for pid, program in _recorded_processes(runtime.state):
        if program and pid_alive(pid, cmdline_has=program):
            _kill_group(pid)
            killed.append(pid)
    with contextlib.suppress(FileNotFoundError):
        (runtime.directory / STATE_FILE).replace(runtime.directory / LAST_STATE_FILE)
    return killed


class ControlClient:
    """The daemon's control API (JSON over loopback HTTP)."""

    def __init__(self, address: str, token: str, *, timeout: float = 30.0) -> None:
        self.base = f"http://{address}"
        self.token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        headers = {TOKEN_HEADER: self.token}
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            with _http.Client(timeout=self.timeout, connect_timeout=self.timeout) as http:
                response = http.request(method, self.base + path, headers=headers, content=content)
        except _http.HTTPError as exc:
            raise EnvironmentFailure(
                f"goship's runtime daemon at {self.base} did not answer {method} {path}: {exc}",
                hint="see daemon.log in the runtime's directory; 'goship down' cleans up after a dead daemon",
            ) from exc
        try:
            data = response.json()
        except ValueError:
            data = {"error": response.text[:300]}
        if response.status_code >= 400:
            message = str(data.get("error", response.text[:300]))
            # The daemon says which of goship's errors it met; its exit code picks the class again.
            kind = _ERRORS.get(data.get("exit_code")) if response.status_code != 500 else None
            if kind is not None:
                raise kind(message, hint=data.get("hint"))
            if response.status_code in (400, 404, 409):
                raise UsageError(message, hint=data.get("hint"))
            raise EnvironmentFailure(f"goship's runtime daemon failed {method} {path}: {message}")
        if not isinstance(data, dict):
            raise EnvironmentFailure(f"goship's runtime daemon answered {method} {path} with {data!r}")
        return data

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/status")

    def scale(self, replicas: int) -> dict[str, Any]:
        return self._call("POST", "/scale", {"replicas": replicas})

    def rollout(self, request: dict[str, Any]) -> dict[str, Any]:
        """Start a rollout; the answer names it (``{"rollout": id, ...}``)."""
        return self._call("POST", "/rollout", request)

    def undo(self, to_revision: int | None, settings: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/undo", {"to_revision": to_revision, **settings})

    def down(self) -> dict[str, Any]:
        return self._call("POST", "/down", {})

    def canary(self, request: dict[str, Any]) -> dict[str, Any]:
        """Start a canary (``{version, store, ref, platform, spec}``) beside the current revision."""
        return self._call("POST", "/canary", request)

    def canary_command(self, command: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """``pause``, ``resume`` (or take over), ``promote`` (``{"force"}``) or ``abort`` (``{"reason"}``)."""
        return self._call("POST", f"/canary/{command}", body or {})


_ERRORS: dict[object, type[GoshipError]] = {
    1: CheckFailedError,
    2: UsageError,
    3: EnvironmentFailure,
    4: RemoteError,
}


def start_daemon(
    directory: Path,
    *,
    service: str,
    router_binary: Path,
    rootfs_cache: Path,
    timeout: float = 30.0,
    python: str = sys.executable,
) -> Runtime:
    """Start the daemon in its own session (it outlives the command that started it) and wait until it
    has written its state with the control port; its log's tail in the error when it does not."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    listen = _last_router_address(directory)
    with contextlib.suppress(FileNotFoundError):
        (directory / STATE_FILE).replace(directory / LAST_STATE_FILE)
    log = directory / LOG_FILE
    argv = [
        python,
        "-m",
        DAEMON_MODULE,
        "--state",
        str(directory),
        "--service",
        service,
        "--router",
        str(router_binary),
        "--rootfs-cache",
        str(rootfs_cache),
        f"--router-listen={listen}",
    ]
    with log.open("ab") as out:
        child = _proc.spawn(argv, env=None, cwd=directory, stdout=out, stderr=out)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(directory)
        if state is not None and state.get("pid") == child.pid and state.get("control"):
            return Runtime(directory, state, True)
        if (code := child.poll()) is not None:
            raise EnvironmentFailure(f"goship's runtime daemon exited {code}; its log ends:\n{_tail(log)}")
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    raise EnvironmentFailure(
        f"goship's runtime daemon did not start in {timeout:g}s; its log ends:\n{_tail(log)}"
    )


def _last_router_address(directory: Path) -> str:
    """Where the last runtime in ``directory`` had its router, so its URL stays the same; any port else."""
    for name in (STATE_FILE, LAST_STATE_FILE):
        try:
            listen = str(json.loads((directory / name).read_text())["router"]["listen"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        host, _, port = listen.rpartition(":")
        if host == "127.0.0.1" and port.isdigit():
            return listen
    return "127.0.0.1:0"


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:]) or "(empty)"
    except OSError:
        return "(no log)"


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if pid_alive(p)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def stop_runtime(runtime: Runtime, *, timeout: float = 60.0) -> list[int]:
    """Ask the daemon to stop everything and wait for it to exit; when it does not within ``timeout``,
    kill its process group and whatever it recorded. Returns the pids that had to be killed."""
    killed: list[int] = []
    with contextlib.suppress(EnvironmentFailure):  # not answering: the kill below is all that is left
        runtime.client(timeout=10.0).down()
    if _wait_gone([runtime.pid], timeout):
        _kill_group(runtime.pid)
        killed.append(runtime.pid)
    # The daemon stops its replicas and router before it exits; a killed one could not have.
    state = read_state(runtime.directory) or runtime.state
    for pid, program in _recorded_processes(state):
        if pid_alive(pid, cmdline_has=program or None):
            _kill_group(pid)
            killed.append(pid)
    _wait_gone(killed, 5.0)
    with contextlib.suppress(FileNotFoundError):
        (runtime.directory / STATE_FILE).replace(runtime.directory / LAST_STATE_FILE)
    return killed


def wait_rollout(
    runtime: Runtime,
    rollout_id: int,
    *,
    on_event: Callable[[dict[str, Any]], None] = lambda event: None,
    poll_s: float = 0.25,
) -> dict[str, Any]:
    """Follow rollout ``rollout_id`` until it ends; its record (``state`` complete, undone, failed or
    cancelled). Each new event is passed to ``on_event`` as it appears."""
    client = runtime.client()
    seen = 0
    while True:
        status = client.status()
        record = status.get("rollout") or {}
        if record.get("id") != rollout_id:
            raise EnvironmentFailure(
                f"the runtime no longer reports rollout {rollout_id} (it shows {record.get('id')})"
            )
        events = record.get("events") or []
        for event in events[seen:]:
            on_event(event)
        seen = len(events)
        if record.get("state") != "running":
            return dict(record)
        time.sleep(poll_s)
