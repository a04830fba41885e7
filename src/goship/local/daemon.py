"""The local runtime as a long-lived target: one daemon per service owns goship's router, the replica
supervisor and the replica sets of every revision, and takes orders on a loopback JSON control API
(``python -m goship.local.daemon --state DIR --service NAME --router BINARY --rootfs-cache DIR``).

Its orders come by the control API (:mod:`goship.local.controlapi`); rollouts and undo are
:mod:`goship.local.daemonrollouts`, canaries :mod:`goship.local.daemoncanary`.

The state document (``DIR/state.json``, written atomically whenever it changes; format 1)::

    {"format": 1, "pid": 4242, "phase": "running",          # then "stopping"
     "control": "127.0.0.1:P", "token": "...", "service": "hello", "started": "2025-…Z",
     "router": {"url": "http://127.0.0.1:R", "listen": "127.0.0.1:R", "admin": "127.0.0.1:A",
                "pid": 4243, "program": "/…/goship-router-…"},
     "desired_replicas": 3, "current_revision": 2, "version": "v1.1.0",
     "revisions": [{"number": 1, "version": "v1.0.0", "digest": "sha256:…", "store": "/…",
                    "platform": "linux/amd64", "created": "…Z", "undo_of": null}, …],
     "replicas": [{"id": "v1.1.0-r2-4", "revision": 2, "version": "v1.1.0", "port": 41234, "pid": 4250,
                   "phase": "running", "ready": true, "restarts": 0, "program": "/…/hello",
                   "log": "/…/logs/v1.1.0-r2-4.log"}, …],
     "rollout": {"id": 2, "kind": "rollout", "from_revision": 1, "to_revision": 2, "state": "complete",
                 "reason": "…", "seconds": 3.1, "started": "…Z", "finished": "…Z",
                 "events": [{"t": 0.01, "kind": "scale", "message": "v1.1.0@r2 → 1 replicas"}, …]},
     "canary": {"running": true, "phase": "progressing", "stable": "v1.0.0", "canary": "v1.1.0",
                "step": 0, "weight": 5, "paused": false, "last_outcome": "wait"},   # null: none yet
     "events": [{"time": "…Z", "kind": "restarted", "replica": "v1.1.0-r2-4", "version": "v1.1.0",
                 "detail": "…"}, …]}                      # the last 100 replica events

When the daemon stops it moves the file to ``last-state.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from goship import _http
from goship.errors import EnvironmentFailure, GoshipError, UsageError
from goship.local.control import LAST_STATE_FILE, STATE_FILE, write_state
from goship.local.controlapi import ControlHandler
from goship.local.daemoncanary import DaemonCanary
from goship.local.daemonrollouts import DaemonRollouts
from goship.local.probes import ProbeSpec
from goship.local.revisions import ConflictError, Revision, now_iso
from goship.local.rootfs import Rootfs
from goship.local.router import RouterClient, RouterProcess
from goship.local.routing import route_ready
from goship.local.supervisor import Event as ReplicaEvent
from goship.local.supervisor import ReplicaSpec, Supervisor
from goship.local.workloads import LocalWorkloads
from goship.rollout.ports import TrafficRules

log = logging.getLogger("goship.daemon")

_KEEP_EVENTS = 100


@dataclass(frozen=True)
class DaemonSettings:
    """How the daemon runs replicas; the defaults suit a developer's machine."""

    readiness: ProbeSpec = field(
        default_factory=lambda: ProbeSpec.http("/readyz", period_s=0.5, failure_threshold=1)
    )
    """Every replica's readiness probe."""
    termination_grace_s: float = 10.0
    """terminationGracePeriodSeconds of every replica."""
    backoff_base_s: float = 1.0
    """CrashLoopBackOff's first delay: shorter than the kubelet's, for a machine a person waits on."""
    backoff_cap_s: float = 10.0
    """CrashLoopBackOff's longest delay."""


class Daemon:
    """Everything one service's local runtime runs, and the state it persists.

    One re-entrant lock guards that state; its rollouts (:class:`DaemonRollouts`) and its canary side
    (:class:`DaemonCanary`) work on it under the same lock, from the control API's and their own threads.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        service: str,
        router_binary: Path,
        rootfs_cache: Path,
        settings: DaemonSettings | None = None,
        router_listen: str = "127.0.0.1:0",
    ) -> None:
        self.state_dir = state_dir
        self.service = service
        self.router_binary = router_binary
        self.rootfs_cache = rootfs_cache
        self.settings = settings or DaemonSettings()
        self.token = secrets.token_urlsafe(24)
        self.started = now_iso()
        self.phase = "starting"
        self.desired = 0
        self.revisions: list[Revision] = []
        self.current: Revision | None = None
        self.rollout: dict[str, Any] | None = None
        self.events: deque[dict[str, Any]] = deque(maxlen=_KEEP_EVENTS)
        self._specs: dict[str, ReplicaSpec] = {}
        self._lock = threading.RLock()
        self._halt = threading.Event()
        self._rollout_thread: threading.Thread | None = None
        self._last_written = ""
        self._http = _http.Client(timeout=5.0, connect_timeout=5.0)
        self.router = _start_router(router_binary, state_dir / "router", router_listen)
        self.client = RouterClient(self.router.admin_url, self._http)
        self.client.configure({}, TrafficRules())
        self.canary = DaemonCanary(self)
        self.rollouts = DaemonRollouts(self)
        self.supervisor = Supervisor(
            log_dir=state_dir / "logs",
            on_event=self._replica_event,
            on_endpoints_changed=self._route,
        )
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), ControlHandler)
        self.server.daemon_threads = True
        self.server.daemon = self  # type: ignore[attr-defined]

    # --- life -----------------------------------------------------------------------------------------

    @property
    def control(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def run(self) -> None:
        """Serve until asked to go down (POST /down, SIGTERM or SIGINT), then stop everything."""
        self.supervisor.run_background()
        threading.Thread(target=self.server.serve_forever, name="goship-control", daemon=True).start()
        with self._lock:
            self.phase = "running"
        self.persist()
        log.info("serving %s: control %s, router %s", self.service, self.control, self.router.url)
        while not self._halt.wait(0.2):
            self.persist()
        self._shut_down()

    def stop(self) -> None:
        """Ask the daemon to go down (returns at once)."""
        self._halt.set()

    def _shut_down(self) -> None:
        log.info("going down")
        with self._lock:
            self.phase = "stopping"
        self.persist()
        if self._rollout_thread is not None:
            self._rollout_thread.join(timeout=30)
        self.canary.controller.close()
        try:
            self.supervisor.close()
        except Exception:
            log.exception("stopping the replicas")
        self.router.stop()
        self._http.close()
        self.server.shutdown()
        self.server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.persist(force=True)
            (self.state_dir / STATE_FILE).replace(self.state_dir / LAST_STATE_FILE)
        log.info("stopped")

    # --- state ----------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            by_name = {r.name: r for r in self.revisions}
            replicas = []
            for r in self.supervisor.replicas():
                spec = self._specs.get(r.revision)
                replicas.append(
                    {
                        "id": r.id,
                        "revision": by_name[r.revision].number if r.revision in by_name else None,
                        "version": r.version,
                        "port": r.port,
                        "pid": r.pid,
                        "phase": r.phase,
                        "ready": r.ready,
                        "restarts": r.restarts,
                        "program": spec.argv[0] if spec else "",
                        "log": str(r.log_path),
                    }
                )
            return {
                "format": 1,
                "pid": os.getpid(),
                "phase": self.phase,
                "control": self.control,
                "token": self.token,
                "service": self.service,
                "started": self.started,
                "router": {
                    "url": self.router.url,
                    "listen": self.router.listen,
                    "admin": self.router.admin,
                    "pid": self.router.child.pid,
                    "program": str(self.router_binary),
                },
                "desired_replicas": self.desired,
                "current_revision": self.current.number if self.current else None,
                "version": self.current.version if self.current else None,
                "revisions": [
                    {
                        "number": r.number,
                        "version": r.version,
                        "digest": r.digest,
                        "store": r.store,
                        "platform": r.platform,
                        "created": r.created,
                        "undo_of": r.undo_of,
                    }
                    for r in self.revisions
                ],
                "replicas": replicas,
                "rollout": json.loads(json.dumps(self.rollout)) if self.rollout else None,
                "canary": self.canary.summary(),
                "events": list(self.events),
            }

    def persist(self, *, force: bool = False) -> None:
        """Write the state file when it changed (the supervisor changes it between requests too)."""
        # persist() runs on the main loop, the control API's threads and the canary's: one write at a time
        # (they share the temp file's name, and a second writer would find it gone). The state lock is
        # re-entrant, and callers may hold it already.
        with self._lock:
            document = self.snapshot()
            text = json.dumps(document, sort_keys=True)
            if force or text != self._last_written:
                write_state(self.state_dir, document)
                self._last_written = text

    # --- callbacks (on the supervisor's thread, its lock held: no blocking) ---------------------------

    def _route(self, endpoints: Mapping[str, list[str]]) -> None:
        versions = self.canary.controller.versions
        if versions is not None:
            # The canary engine owns the weights; the replicas only say where each version is.
            self.client.set_endpoints({**{v: [] for v in versions}, **endpoints})
            return
        current = self.current
        route_ready(self.client, endpoints, fallback=current.version if current else None)

    def _replica_event(self, event: ReplicaEvent) -> None:
        self.events.append(
            {
                "time": now_iso(),
                "kind": event.kind,
                "replica": event.replica,
                "version": event.version,
                "detail": event.detail,
            }
        )
        if event.kind in ("crashed", "restarted", "killed"):
            log.info("%s %s: %s", event.replica, event.kind, event.detail)

    # --- orders ---------------------------------------------------------------------------------------

    def _workloads(self) -> LocalWorkloads:
        """Replica sets of every revision, as many replicas desired of each as it runs now."""
        workloads = LocalWorkloads(self.supervisor, self._specs)
        counts: dict[str, int] = {}
        for r in self.supervisor.replicas():
            if r.phase != "terminating":
                counts[r.revision] = counts.get(r.revision, 0) + 1
        for revision in self._specs:
            if counts.get(revision):
                workloads.scale(revision, counts[revision])  # no change: it only records the count
        return workloads

    def _busy(self) -> bool:
        return self._rollout_thread is not None and self._rollout_thread.is_alive()

    def _refuse_during_canary(self, what: str) -> None:
        if self.canary.controller.versions is not None:
            stable, canary = self.canary.controller.versions
            raise ConflictError(
                f"a canary of {canary} against {stable} is in progress; {what} when it has finished",
                hint="see 'goship canary status'; 'goship canary abort' stops it",
            )

    def scale(self, replicas: int) -> dict[str, Any]:
        if replicas < 0:
            raise UsageError(f"replicas: expected 0 or more (not {replicas})")
        with self._lock:
            if self._busy():
                raise ConflictError("a rollout is in progress; scale when it has finished")
            self._refuse_during_canary("scale")
            if self.current is None:
                raise UsageError("nothing to scale: no revision has been rolled out yet")
            self.desired = replicas
            self._workloads().scale(self.current.name, replicas)
        self.persist()
        return {"desired_replicas": replicas}

    # --- revisions (the rollouts' and the canary's, under the lock) -------------------------------------

    def _new_revision(self, version: str, rootfs: Rootfs, *, store: str, platform: str) -> Revision:
        revision = Revision(
            number=len(self.revisions) + 1,
            version=version,
            digest=rootfs.manifest_digest,
            store=store,
            platform=platform,
            created=now_iso(),
        )
        self._specs[revision.name] = self._replica_spec(revision, rootfs)
        self.revisions.append(revision)
        return revision

    def _replica_spec(self, revision: Revision, rootfs: Rootfs) -> ReplicaSpec:
        s = self.settings
        return ReplicaSpec.from_rootfs(
            rootfs,
            revision=revision.name,
            version=revision.version,
            readiness=s.readiness,
            termination_grace_s=s.termination_grace_s,
            backoff_base_s=s.backoff_base_s,
            backoff_cap_s=s.backoff_cap_s,
        )


def _start_router(binary: Path, run_dir: Path, listen: str) -> RouterProcess:
    """The router on ``listen`` (the address an earlier runtime had, so clients keep their URL), or on any
    free port when that one is taken."""
    try:
        return RouterProcess.start(binary, run_dir=run_dir, listen=listen)
    except EnvironmentFailure:
        if listen.endswith(":0"):
            raise
        log.warning("the router could not listen on %s again; it takes another port", listen)
        return RouterProcess.start(binary, run_dir=run_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m goship.local.daemon", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--state", type=Path, required=True, help="the runtime's state directory")
    parser.add_argument("--service", required=True, help="the service it runs")
    parser.add_argument("--router", type=Path, required=True, help="goship-router's binary")
    parser.add_argument("--rootfs-cache", type=Path, required=True, help="where images are unpacked")
    parser.add_argument(
        "--router-listen", default="127.0.0.1:0", help="the router's address (another one when taken)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        daemon = Daemon(
            args.state,
            service=args.service,
            router_binary=args.router,
            rootfs_cache=args.rootfs_cache,
            router_listen=args.router_listen,
        )
    except GoshipError as exc:
        log.error("cannot start: %s", exc.message)
        return exc.exit_code
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: daemon.stop())
    daemon.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
