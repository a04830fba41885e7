"""Replicas as local processes, run the way the kubelet runs a Deployment's containers.

Each replica gets its own loopback port (in ``$PORT``) and log file, and keeps both across restarts, as a
pod keeps its IP. Probes (:mod:`goship.local.probes`) decide readiness; a crashed process, or one whose
liveness or startup probe fails, is restarted under the kubelet's back-off (CrashLoopBackOff): the first
restart at once, then after 10 s, 20 s, 40 s… up to 5 min, measured from the crash, and forgotten once a
replica has gone twice the cap without needing a restart (``flowcontrol.Backoff``, without its jitter).

A replica is stopped as a pod is deleted: it leaves the endpoints first (``on_endpoints_changed`` is
called before anything else happens), the preStop pause runs, SIGTERM goes to the process, and SIGKILL to
its whole process group when the grace period (counted from the start of termination, preStop included)
runs out; when preStop used it all up the process still gets 2 s after SIGTERM, as the kubelet grants.
Whenever a replica's process exits, what it left running in its process group is killed, as a
container's processes end with its main one.

Everything happens in :meth:`Supervisor.step`, one reconcile pass that reads the injected clock; a
background thread calls it every tick (:meth:`Supervisor.run_background`), and unit tests call it
themselves with a fake clock, spawner and prober. Probes run in a thread pool so a slow one holds up
nothing else; their results are applied by the next pass.
"""

from __future__ import annotations

import queue
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from goship.errors import UsageError
from goship.local.probes import ProbeResult, ProbeRole, ProbeSpec, ProbeTarget, ProbeTracker, run_probe
from goship.local.processes import Process, RestartBackoff, Spawner, _signal, _spawn_group
from goship.local.rootfs import Rootfs

__all__ = [
    "HOST",
    "STOP_REQUESTED",
    "Event",
    "EventKind",
    "Phase",
    "Process",
    "ReplicaSpec",
    "ReplicaStatus",
    "RestartBackoff",
    "Spawner",
    "Supervisor",
    "free_port",
]

HOST = "127.0.0.1"
"""Replicas listen on loopback only."""

Phase = Literal["running", "backoff", "terminating"]
"""``running``: the process runs; ``backoff``: it exited and waits to be restarted (CrashLoopBackOff);
``terminating``: it is being stopped for good."""
EventKind = Literal["started", "ready", "not-ready", "sigterm", "crashed", "restarted", "killed", "stopped"]
"""What happened to a replica. ``sigterm`` comes when the signal is sent, after the preStop pause; its
detail is the reason the termination began (the ``not-ready`` event's)."""

STOP_REQUESTED = "stop requested"
"""The reason of a replica's ``not-ready`` and ``sigterm`` events when :meth:`Supervisor.stop_replica`
stopped it (not a failed probe)."""

_MIN_GRACE_S = 2.0  # what the kubelet still grants after SIGTERM when preStop used up the grace period
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ReplicaSpec:
    """How to run replicas of one revision: a container spec, for a process."""

    revision: str
    """The revision (one version of one service) the replicas belong to."""
    version: str
    """The version they serve; endpoints are grouped by it."""
    argv: tuple[str, ...]
    """The program and its arguments."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Environment laid over goship's own; the port variable is added to it."""
    cwd: Path | None = None
    """Working directory; None for goship's own."""
    port_env: str = "PORT"
    """The variable that tells a replica which port to listen on."""
    readiness: ProbeSpec | None = None
    """``readinessProbe``; without one a replica is ready once it runs."""
    liveness: ProbeSpec | None = None
    """``livenessProbe``; failing it restarts the replica."""
    startup: ProbeSpec | None = None
    """``startupProbe``; holds the other two back until it passes once."""
    termination_grace_s: float = 30.0
    """``terminationGracePeriodSeconds``: from the start of termination to SIGKILL."""
    pre_stop_s: float = 0.0
    """A ``preStop: sleep`` hook: time out of the endpoints before SIGTERM, for routers to notice."""
    backoff_base_s: float = 10.0
    """First back-off delay of a crash loop (the kubelet's 10 s)."""
    backoff_cap_s: float = 300.0
    """Longest back-off delay (the kubelet's 5 min)."""

    def __post_init__(self) -> None:
        if not self.argv:
            raise UsageError(f"revision {self.revision}: expected a command to run (argv is empty)")
        if not self.port_env or "=" in self.port_env:
            raise UsageError(f"expected an environment variable name for the port (not {self.port_env!r})")
        if self.termination_grace_s < 0 or self.pre_stop_s < 0:
            raise UsageError(
                "expected termination_grace_s and pre_stop_s of 0 or more "
                f"(not {self.termination_grace_s}, {self.pre_stop_s})"
            )
        if not 0 < self.backoff_base_s <= self.backoff_cap_s:
            raise UsageError(
                "expected 0 < backoff_base_s <= backoff_cap_s "
                f"(not {self.backoff_base_s}, {self.backoff_cap_s})"
            )
        for role, probe in (("liveness", self.liveness), ("startup", self.startup)):
            if probe is not None and probe.success_threshold != 1:
                raise UsageError(
                    f"a {role} probe's success_threshold must be 1 (not {probe.success_threshold})"
                )

    @classmethod
    def from_rootfs(
        cls,
        rootfs: Rootfs,
        *,
        revision: str,
        version: str,
        env: Mapping[str, str] | None = None,
        **settings: Any,
    ) -> ReplicaSpec:
        """Replicas of an unpacked image: its entrypoint, its environment (``env`` laid over it) and its
        working directory, all inside the rootfs."""
        image_env = dict(entry.split("=", 1) for entry in rootfs.env if "=" in entry)
        return cls(
            revision=revision,
            version=version,
            argv=rootfs.argv,
            env={**image_env, **(env or {})},
            cwd=rootfs.working_dir,
            **settings,
        )


@dataclass(frozen=True)
class ReplicaStatus:
    """One replica as it is now."""

    id: str
    """``<revision>-<n>``, unique within the supervisor; also its log file's name."""
    revision: str
    """Its revision."""
    version: str
    """The version it serves."""
    port: int
    """Its loopback port, kept across restarts."""
    pid: int | None
    """Its process, None while it waits to be restarted."""
    phase: Phase
    """Running, waiting to restart, or terminating."""
    ready: bool
    """Whether it is in the endpoints."""
    ready_since: float | None
    """When it last became ready (supervisor clock); None when not ready."""
    restarts: int
    """How many times it was restarted (``restartCount``)."""
    created_at: float
    """When it was first started (supervisor clock)."""
    log_path: Path
    """The file its stdout and stderr go to, across restarts."""

    @property
    def endpoint(self) -> str:
        return f"{HOST}:{self.port}"


@dataclass(frozen=True)
class Event:
    """Something that happened to a replica."""

    at: float
    """When, on the supervisor's clock (monotonic unless another was given)."""
    kind: EventKind
    """What happened."""
    replica: str
    """The replica's id."""
    revision: str
    """Its revision."""
    version: str
    """Its version."""
    detail: str = ""
    """Why, or what was seen: an exit code, a probe's answer."""


Prober = Callable[[ProbeSpec, ProbeTarget], ProbeResult]
"""Runs one check (:func:`goship.local.probes.run_probe`, or a fake)."""
Submit = Callable[[Callable[[], None]], object]
"""Runs a probe job somewhere (a thread pool's ``submit``; tests run it inline)."""


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class _Termination:
    began_at: float
    term_at: float
    kill_at: float
    then_restart: bool
    reason: str
    term_sent: bool = False
    kill_sent: bool = False


@dataclass
class _Replica:
    id: str
    spec: ReplicaSpec
    port: int
    log_path: Path
    created_at: float
    backoff: RestartBackoff
    process: Process | None = None
    tracker: ProbeTracker | None = None
    generation: int = 0
    starts: int = 0
    restarts: int = 0
    ready: bool = False
    ready_since: float | None = None
    crashed_at: float | None = None
    restart_at: float | None = None
    termination: _Termination | None = None

    @property
    def phase(self) -> Phase:
        if self.termination is not None and not self.termination.then_restart:
            return "terminating"
        return "backoff" if self.process is None else "running"

    def status(self) -> ReplicaStatus:
        return ReplicaStatus(
            id=self.id,
            revision=self.spec.revision,
            version=self.spec.version,
            port=self.port,
            pid=self.process.pid if self.process is not None else None,
            phase=self.phase,
            ready=self.ready,
            ready_since=self.ready_since,
            restarts=self.restarts,
            created_at=self.created_at,
            log_path=self.log_path,
        )


class Supervisor:
    """Runs replicas as processes on loopback ports, probes them, restarts and stops them (see the module
    docstring). Callbacks run on whichever thread drives :meth:`step`, with the supervisor's lock held:
    they may read the supervisor but must not block."""

    def __init__(
        self,
        *,
        log_dir: Path,
        on_event: Callable[[Event], None] | None = None,
        on_endpoints_changed: Callable[[Mapping[str, list[str]]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        spawn: Spawner = _spawn_group,
        prober: Prober = run_probe,
        submit: Submit | None = None,
        ports: Callable[[], int] = free_port,
        tick_s: float = 0.05,
    ) -> None:
        self.clock = clock
        self._sleep = sleep
        self._log_dir = log_dir
        self._on_event = on_event
        self._on_endpoints = on_endpoints_changed
        self._spawn = spawn
        self._prober = prober
        self._submit = submit
        self._executor: ThreadPoolExecutor | None = None
        self._ports = ports
        self._tick_s = tick_s
        self._lock = threading.RLock()
        self._replicas: dict[str, _Replica] = {}
        self._results: queue.SimpleQueue[tuple[str, int, ProbeRole, ProbeResult]] = queue.SimpleQueue()
        self._published: dict[str, list[str]] = {}
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._background_error: BaseException | None = None

    # --- the public surface ---------------------------------------------------------------------------

    def start_replica(self, spec: ReplicaSpec) -> str:
        """Start one more replica of ``spec``; returns its id."""
        with self._lock:
            now = self.clock()
            self._seq += 1
            rid = f"{_UNSAFE.sub('-', spec.revision)}-{self._seq}"
            taken = {r.port for r in self._replicas.values()}
            port = self._ports()
            while port in taken:  # a replica waiting to restart holds its port without listening on it
                port = self._ports()
            self._log_dir.mkdir(parents=True, exist_ok=True)
            replica = _Replica(
                id=rid,
                spec=spec,
                port=port,
                log_path=self._log_dir / f"{rid}.log",
                created_at=now,
                backoff=RestartBackoff(spec.backoff_base_s, spec.backoff_cap_s),
            )
            self._replicas[rid] = replica
            self._start_process(replica, now)
            return rid

    def stop_replica(self, replica_id: str) -> None:
        """Begin stopping a replica for good (out of the endpoints, preStop, SIGTERM, SIGKILL after the
        grace period); returns at once, later passes finish it."""
        with self._lock:
            replica = self._replicas.get(replica_id)
            if replica is None:
                raise UsageError(
                    f"no replica {replica_id!r} (replicas: {', '.join(self._replicas) or 'none'})"
                )
            self._stop(replica, self.clock(), STOP_REQUESTED)

    def stop_all(self) -> None:
        """Stop every replica, the graceful way, and return once no process is left."""
        with self._lock:
            now = self.clock()
            for replica in list(self._replicas.values()):
                self._stop(replica, now, "stopping all")
        while True:
            self.step()
            with self._lock:
                if not self._replicas:
                    return
            self._sleep(self._tick_s)

    def replicas(self) -> list[ReplicaStatus]:
        """Every replica, oldest first."""
        with self._lock:
            return [r.status() for r in self._replicas.values()]

    def ready_endpoints(self) -> dict[str, list[str]]:
        """``{version: ["127.0.0.1:port", ...]}`` of the replicas that are ready and not terminating."""
        with self._lock:
            endpoints: dict[str, list[str]] = {}
            for r in self._replicas.values():
                if r.ready and r.termination is None:
                    endpoints.setdefault(r.spec.version, []).append(f"{HOST}:{r.port}")
            return endpoints

    def step(self) -> None:
        """One reconcile pass: take probe results, notice exits, advance terminations, restart what is due,
        start the probes that are due."""
        with self._lock:
            now = self.clock()
            self._apply_results(now)
            for replica in list(self._replicas.values()):
                self._reap(replica, now)
            for replica in list(self._replicas.values()):
                self._advance_termination(replica, now)
                if replica.restart_at is not None and replica.restart_at <= now:
                    self._start_process(replica, now)
                self._run_due_probes(replica, now)
            self._apply_results(now)

    def run_background(self) -> None:
        """Call :meth:`step` every tick on a daemon thread until :meth:`close`."""
        with self._lock:
            if self._thread is not None:
                return
            self._halt.clear()
            self._thread = threading.Thread(target=self._loop, name="goship-supervisor", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop every replica, the background thread and the probe threads; re-raises an error the
        background thread met."""
        try:
            self.stop_all()
        finally:
            self._halt.set()
            if self._thread is not None:
                self._thread.join()
                self._thread = None
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None
        if self._background_error is not None:
            error, self._background_error = self._background_error, None
            raise error

    def __enter__(self) -> Supervisor:
        self.run_background()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the reconcile pass ---------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._halt.wait(self._tick_s):
            try:
                self.step()
            except Exception as exc:  # a callback failed; keep supervising, report it on close()
                if self._background_error is None:
                    self._background_error = exc

    def _emit(self, kind: EventKind, replica: _Replica, now: float, detail: str = "") -> None:
        if self._on_event is not None:
            spec = replica.spec
            self._on_event(Event(now, kind, replica.id, spec.revision, spec.version, detail))

    def _publish_endpoints(self) -> None:
        endpoints = self.ready_endpoints()
        if endpoints != self._published:
            self._published = endpoints
            if self._on_endpoints is not None:
                self._on_endpoints({version: list(eps) for version, eps in endpoints.items()})

    def _set_ready(self, replica: _Replica, ready: bool, now: float, detail: str = "") -> None:
        if replica.ready == ready:
            return
        replica.ready = ready
        replica.ready_since = now if ready else None
        self._emit("ready" if ready else "not-ready", replica, now, detail)
        self._publish_endpoints()

    def _start_process(self, replica: _Replica, now: float) -> None:
        spec = replica.spec
        is_restart = replica.starts > 0 or replica.crashed_at is not None
        if replica.crashed_at is not None:
            replica.backoff.restarted(replica.crashed_at, now)
        replica.restart_at = None
        env = {**spec.env, spec.port_env: str(replica.port)}
        cwd = spec.cwd if spec.cwd is not None else Path.cwd()
        try:
            with replica.log_path.open("ab") as log:
                log.write(
                    f"--- goship: {replica.id} start {replica.starts + 1} on port {replica.port}\n".encode()
                )
                log.flush()
                process = self._spawn(spec.argv, env=env, cwd=cwd, stdout=log, stderr=log)
        except OSError as exc:
            # A program that cannot start is a crash like any other (the kubelet's RunContainerError).
            self._crashed(replica, now, f"cannot start {spec.argv[0]}: {exc.strerror or exc}")
            return
        replica.process = process
        replica.starts += 1
        replica.generation += 1
        replica.crashed_at = None
        replica.tracker = ProbeTracker(
            started_at=now, readiness=spec.readiness, liveness=spec.liveness, startup=spec.startup
        )
        if is_restart:
            replica.restarts += 1
            self._emit("restarted", replica, now, f"restart {replica.restarts}, pid {process.pid}")
        else:
            self._emit("started", replica, now, f"pid {process.pid}, port {replica.port}")
        if replica.tracker.ready:
            self._set_ready(replica, True, now, "running, no readiness probe")

    def _crashed(self, replica: _Replica, now: float, detail: str, *, report: bool = True) -> None:
        replica.process = None
        replica.tracker = None
        replica.crashed_at = now
        replica.restart_at = replica.backoff.restart_at(now)
        if report:
            self._emit("crashed", replica, now, detail)
        self._set_ready(replica, False, now, detail)

    def _reap(self, replica: _Replica, now: float) -> None:
        if replica.process is None:
            return
        code = replica.process.poll()
        if code is None:
            return
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        termination = replica.termination
        replica.process = None
        if termination is None:
            self._crashed(replica, now, how)
        elif termination.then_restart:
            replica.termination = None
            self._crashed(replica, now, how, report=False)  # "killed" already said why
        else:
            self._remove(replica, now, f"{how} after {now - termination.began_at:.1f}s")

    def _remove(self, replica: _Replica, now: float, detail: str) -> None:
        del self._replicas[replica.id]
        self._emit("stopped", replica, now, detail)

    def _stop(self, replica: _Replica, now: float, reason: str) -> None:
        if replica.termination is not None:
            # Already stopping (perhaps to restart after a failed liveness probe): now it is for good.
            replica.termination.then_restart = False
            return
        self._begin_termination(replica, now, restart=False, reason=reason)

    def _begin_termination(self, replica: _Replica, now: float, *, restart: bool, reason: str) -> None:
        # Endpoints first, so a router stops sending before the process hears anything.
        self._set_ready(replica, False, now, reason)
        if replica.process is None:
            replica.termination = None
            if not restart:
                self._remove(replica, now, f"{reason}; it was waiting to restart")
            return
        grace, pre_stop = replica.spec.termination_grace_s, replica.spec.pre_stop_s
        term_at = now + min(pre_stop, grace)
        kill_at = now + grace if pre_stop < grace else term_at + _MIN_GRACE_S
        replica.termination = _Termination(now, term_at, kill_at, then_restart=restart, reason=reason)
        replica.tracker = None
        if restart:
            self._emit("killed", replica, now, f"{reason}; it will be restarted")
        self._advance_termination(replica, now)

    def _advance_termination(self, replica: _Replica, now: float) -> None:
        t, process = replica.termination, replica.process
        if t is None or process is None:
            return
        if not t.term_sent and now >= t.term_at:
            t.term_sent = True
            _signal(process, signal.SIGTERM)
            self._emit("sigterm", replica, now, t.reason)
        if not t.kill_sent and now >= t.kill_at:
            t.kill_sent = True
            process.kill()
            self._emit(
                "killed", replica, now, f"SIGKILL: still running {now - t.began_at:.1f}s after stop began"
            )

    def _run_due_probes(self, replica: _Replica, now: float) -> None:
        tracker, spec = replica.tracker, replica.spec
        if tracker is None or replica.process is None or replica.termination is not None:
            return
        cwd = spec.cwd if spec.cwd is not None else Path.cwd()
        target = ProbeTarget(HOST, replica.port, cwd, dict(spec.env))
        for role in tracker.due(now):
            probe = {"startup": spec.startup, "liveness": spec.liveness, "readiness": spec.readiness}[role]
            assert probe is not None
            self._submit_probe(replica.id, replica.generation, role, probe, target)

    def _submit_probe(
        self, rid: str, generation: int, role: ProbeRole, probe: ProbeSpec, target: ProbeTarget
    ) -> None:
        def job() -> None:
            try:
                result = self._prober(probe, target)
            except Exception as exc:  # a broken prober fails the check rather than the supervisor
                result = ProbeResult(False, f"probe error: {exc}")
            self._results.put((rid, generation, role, result))

        if self._submit is not None:
            self._submit(job)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="goship-probe")
        self._executor.submit(job)

    def _apply_results(self, now: float) -> None:
        while True:
            try:
                rid, generation, role, result = self._results.get_nowait()
            except queue.Empty:
                return
            replica = self._replicas.get(rid)
            # A result for a process that has since exited, or is being stopped, changes nothing.
            if replica is None or replica.generation != generation or replica.tracker is None:
                continue
            if replica.termination is not None:
                continue
            verdict = replica.tracker.record(role, result.ok, now)
            if verdict == "ready":
                self._set_ready(replica, True, now, result.detail)
            elif verdict == "not-ready":
                self._set_ready(replica, False, now, result.detail)
            elif verdict == "restart":
                probe = replica.spec.startup if role == "startup" else replica.spec.liveness
                assert probe is not None
                reason = f"{role} probe failed {probe.failure_threshold} times, last: {result.detail}"
                self._begin_termination(replica, now, restart=True, reason=reason)
