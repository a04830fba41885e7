"""Container probes with Kubernetes semantics (the kubelet's prober): what to check (httpGet, tcpSocket,
exec), how to run one check, and how a replica's results over time become its state.

As in the kubelet: an httpGet succeeds on a status from 200 to 399 within the timeout, a tcpSocket when the
connection opens, an exec when the command exits 0 in time. A startup probe, when there is one, holds the
liveness and readiness probes back until it has succeeded once; ``failureThreshold`` consecutive failures
of a startup or liveness probe mean "restart the container"; readiness turns true after
``successThreshold`` consecutive successes and false after ``failureThreshold`` consecutive failures, and
starts false. A replica with no readiness probe is ready as soon as it runs (and its startup probe passed).
"""

from __future__ import annotations

import http.client
import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from goship import _proc
from goship.errors import UsageError

__all__ = [
    "CommandSpawner",
    "ExecProbe",
    "HttpGetProbe",
    "Probe",
    "ProbeResult",
    "ProbeRole",
    "ProbeSpec",
    "ProbeTarget",
    "ProbeTracker",
    "TcpSocketProbe",
    "Verdict",
    "probe_for",
    "run_probe",
]

ProbeRole = Literal["startup", "liveness", "readiness"]
"""Which of a container's three probes a check is for."""
Verdict = Literal["ready", "not-ready", "restart"]
"""What a probe result changes about a replica, when it changes anything."""

_USER_AGENT = "goship-probe/1"


@dataclass(frozen=True)
class ProbeSpec:
    """One probe, as a container spec's ``readinessProbe``/``livenessProbe``/``startupProbe`` (with the
    Kubernetes defaults); times in seconds, fractions allowed so tests can run fast."""

    kind: Literal["http", "tcp", "exec"]
    """``httpGet``, ``tcpSocket`` or ``exec``."""
    path: str = "/"
    """httpGet: the path (and query) to GET."""
    port: int | None = None
    """httpGet, tcpSocket: the port; None means the replica's own port."""
    command: tuple[str, ...] = ()
    """exec: the command, program first (no shell)."""
    initial_delay_s: float = 0.0
    """``initialDelaySeconds``: no check before the container has run this long."""
    period_s: float = 10.0
    """``periodSeconds``: time between two checks."""
    timeout_s: float = 1.0
    """``timeoutSeconds``: a check that takes longer fails."""
    success_threshold: int = 1
    """``successThreshold``: consecutive successes to count as passing again (1 for liveness and startup)."""
    failure_threshold: int = 3
    """``failureThreshold``: consecutive failures to count as failing."""

    def __post_init__(self) -> None:
        if self.kind not in ("http", "tcp", "exec"):
            raise UsageError(f'probe kind: expected "http", "tcp" or "exec" (not {self.kind!r})')
        if self.kind == "exec" and not self.command:
            raise UsageError("an exec probe needs a command")
        if self.kind == "http" and not self.path.startswith("/"):
            raise UsageError(f"an httpGet probe's path starts with / (not {self.path!r})")
        if self.port is not None and not 0 < self.port < 65536:
            raise UsageError(f"probe port: expected 1..65535 (not {self.port})")
        if self.initial_delay_s < 0 or self.period_s <= 0 or self.timeout_s <= 0:
            raise UsageError(
                "probe times: expected initial_delay_s >= 0 and period_s, timeout_s > 0 "
                f"(not {self.initial_delay_s}, {self.period_s}, {self.timeout_s})"
            )
        if self.success_threshold < 1 or self.failure_threshold < 1:
            raise UsageError(
                "probe thresholds: expected 1 or more "
                f"(not success {self.success_threshold}, failure {self.failure_threshold})"
            )

    @classmethod
    def http(cls, path: str = "/", *, port: int | None = None, **timing: Any) -> ProbeSpec:
        """An httpGet probe of ``path``."""
        return cls("http", path=path, port=port, **timing)

    @classmethod
    def tcp(cls, *, port: int | None = None, **timing: Any) -> ProbeSpec:
        """A tcpSocket probe."""
        return cls("tcp", port=port, **timing)

    @classmethod
    def exec(cls, command: Sequence[str], **timing: Any) -> ProbeSpec:
        """An exec probe running ``command``."""
        return cls("exec", command=tuple(command), **timing)


@dataclass(frozen=True)
class ProbeTarget:
    """The replica a probe checks."""

    host: str
    """Where it listens, e.g. ``127.0.0.1``."""
    port: int
    """Its own port, used when the probe names none."""
    cwd: Path
    """exec: the directory to run the command in (the replica's)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """exec: the replica's environment overrides, so the command sees what the replica sees."""


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one check."""

    ok: bool
    """Whether the check passed."""
    detail: str = ""
    """What was seen: the status, the error, the exit code; for events and logs."""


class Probe(Protocol):
    """One runnable check."""

    def check(self) -> ProbeResult: ...


@dataclass(frozen=True)
class HttpGetProbe:
    """GET ``path`` on ``host:port``; a status from 200 to 399 within ``timeout_s`` passes. Redirects are
    not followed: a 3xx already counts as success."""

    host: str
    """Host to connect to."""
    port: int
    """Port to connect to."""
    path: str
    """Path (and query) to GET."""
    timeout_s: float
    """Deadline for the whole exchange."""

    def check(self) -> ProbeResult:
        deadline = time.monotonic() + self.timeout_s
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            conn.request("GET", self.path, headers={"User-Agent": _USER_AGENT, "Accept": "*/*"})
            if conn.sock is not None:
                # The socket timeout is per operation; keep the whole exchange within one timeout.
                conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            response = conn.getresponse()
            response.read(64 * 1024)  # the kubelet reads (a bounded part of) the body too
        except (OSError, http.client.HTTPException) as exc:
            return ProbeResult(False, f"GET {self.path}: {_describe(exc)}")
        finally:
            conn.close()
        ok = 200 <= response.status < 400
        return ProbeResult(ok, f"GET {self.path}: {response.status}")


@dataclass(frozen=True)
class TcpSocketProbe:
    """Open a TCP connection to ``host:port`` within ``timeout_s``."""

    host: str
    """Host to connect to."""
    port: int
    """Port to connect to."""
    timeout_s: float
    """Deadline for the connection."""

    def check(self) -> ProbeResult:
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout_s):
                return ProbeResult(True, f"tcp {self.port}: connected")
        except OSError as exc:
            return ProbeResult(False, f"tcp {self.port}: {_describe(exc)}")


class _Command(Protocol):
    def wait(self) -> int: ...

    def kill(self) -> None: ...


class CommandSpawner(Protocol):
    """Starts an exec probe's command (:func:`goship._proc.spawn`, or a fake)."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None,
        cwd: Path,
        stdout: IO[bytes],
        stderr: IO[bytes],
    ) -> _Command: ...


@dataclass(frozen=True)
class ExecProbe:
    """Run ``command`` in ``cwd``; exit 0 within ``timeout_s`` passes, and a command still running at
    the deadline is killed and fails."""

    command: tuple[str, ...]
    """The command, program first."""
    cwd: Path
    """Where to run it."""
    timeout_s: float
    """Deadline for the command."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Environment overrides."""
    spawn: CommandSpawner = _proc.spawn
    """How to start it (``_proc.run`` waits without a deadline, so the probe spawns and times it)."""

    def check(self) -> ProbeResult:
        program = self.command[0]
        with open(os.devnull, "wb") as devnull:
            try:
                proc = self.spawn(
                    self.command, env=dict(self.env), cwd=self.cwd, stdout=devnull, stderr=devnull
                )
            except OSError as exc:
                return ProbeResult(False, f"exec {program}: {_describe(exc)}")
        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            proc.kill()

        # A timer rather than wait(timeout): its TimeoutExpired lives in subprocess, which only _proc imports.
        timer = threading.Timer(self.timeout_s, expire)
        timer.start()
        try:
            code = proc.wait()
        finally:
            timer.cancel()
        if timed_out.is_set():
            return ProbeResult(False, f"exec {program}: timed out after {self.timeout_s:g}s")
        return ProbeResult(code == 0, f"exec {program}: exit {code}")


def probe_for(spec: ProbeSpec, target: ProbeTarget, *, spawn: CommandSpawner = _proc.spawn) -> Probe:
    """The runnable check ``spec`` describes, aimed at ``target``."""
    port = spec.port if spec.port is not None else target.port
    if spec.kind == "http":
        return HttpGetProbe(target.host, port, spec.path, spec.timeout_s)
    if spec.kind == "tcp":
        return TcpSocketProbe(target.host, port, spec.timeout_s)
    return ExecProbe(spec.command, target.cwd, spec.timeout_s, env=dict(target.env), spawn=spawn)


def run_probe(spec: ProbeSpec, target: ProbeTarget) -> ProbeResult:
    """One check of ``spec`` against ``target`` (the supervisor's default prober)."""
    return probe_for(spec, target).check()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


@dataclass
class _Schedule:
    spec: ProbeSpec
    next_at: float
    in_flight: bool = False
    successes: int = 0
    failures: int = 0


class ProbeTracker:
    """One run of one replica's probes, from the moment its process started until it stops: which checks
    are due, and what their results change. A restarted process gets a new tracker."""

    def __init__(
        self,
        *,
        started_at: float,
        readiness: ProbeSpec | None = None,
        liveness: ProbeSpec | None = None,
        startup: ProbeSpec | None = None,
    ) -> None:
        if liveness is not None and liveness.success_threshold != 1:
            raise UsageError(
                f"a liveness probe's success_threshold must be 1 (not {liveness.success_threshold})"
            )
        if startup is not None and startup.success_threshold != 1:
            raise UsageError(
                f"a startup probe's success_threshold must be 1 (not {startup.success_threshold})"
            )
        roles: tuple[tuple[ProbeRole, ProbeSpec | None], ...] = (
            ("startup", startup),
            ("liveness", liveness),
            ("readiness", readiness),
        )
        self._probes = {
            role: _Schedule(spec, started_at + spec.initial_delay_s)
            for role, spec in roles
            if spec is not None
        }
        self.started_at = started_at
        self.started = startup is None
        """Whether the startup probe has passed (True when there is none)."""
        self.ready = self.started and readiness is None
        """Whether the replica should receive traffic."""

    def _active(self) -> list[ProbeRole]:
        # Until the startup probe passes, it is the only one that runs (the kubelet's rule).
        return ["startup"] if not self.started else [r for r in self._probes if r != "startup"]

    def due(self, now: float) -> list[ProbeRole]:
        """The checks to run now; each is marked in flight until :meth:`record` gets its result."""
        roles = [
            role
            for role in self._active()
            if role in self._probes and not self._probes[role].in_flight and self._probes[role].next_at <= now
        ]
        for role in roles:
            self._probes[role].in_flight = True
        return roles

    def next_due(self) -> float | None:
        """When the next check is due (None when nothing is scheduled)."""
        times = [s.next_at for r in self._active() if (s := self._probes.get(r)) and not s.in_flight]
        return min(times, default=None)

    def record(self, role: ProbeRole, ok: bool, now: float) -> Verdict | None:
        """Take a check's result; returns what it changes about the replica, if anything."""
        schedule = self._probes[role]
        schedule.in_flight = False
        # The kubelet's worker ticks every period; a check that overran its period is not run twice.
        schedule.next_at = max(schedule.next_at + schedule.spec.period_s, now)
        if ok:
            schedule.successes, schedule.failures = schedule.successes + 1, 0
        else:
            schedule.successes, schedule.failures = 0, schedule.failures + 1
        failed = schedule.failures >= schedule.spec.failure_threshold
        passed = schedule.successes >= schedule.spec.success_threshold
        if role == "startup":
            if failed:
                return "restart"
            if ok and not self.started:
                self.started = True
                # Liveness and readiness begin now (or after their own initial delay, if later).
                for other in ("liveness", "readiness"):
                    if (s := self._probes.get(other)) is not None:
                        s.next_at = max(self.started_at + s.spec.initial_delay_s, now)
                if "readiness" not in self._probes:
                    self.ready = True
                    return "ready"
            return None
        if role == "liveness":
            return "restart" if failed else None
        if passed and not self.ready:
            self.ready = True
            return "ready"
        if failed and self.ready:
            self.ready = False
            return "not-ready"
        return None
