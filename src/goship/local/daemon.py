"""The local runtime as a long-lived target: one daemon per service owns goship's router, the replica
supervisor and the replica sets of every revision, and takes orders on a loopback JSON control API
(``python -m goship.local.daemon --state DIR --service NAME --router BINARY --rootfs-cache DIR``).

    GET  /status                                   the state document below, live
    POST /scale     {replicas}                     resize the current revision
    POST /rollout   {version, store, ref, platform, replicas?, max_surge?, max_unavailable?,
                     progress_deadline_s?}         a new revision, rolled out by the RollingUpdate engine
    POST /undo      {to_revision|null, ...}        back to an earlier revision (default: the one before)
    POST /canary    {version, store, ref, platform, spec}
                                                   a new revision beside the current one, analysed as a
                                                   canary (:mod:`goship.local.canary`; spec as documented there)
    POST /canary/pause, /canary/resume, /canary/promote {force?}, /canary/abort {reason?}
                                                   the canary's commands; resume also takes over a canary
                                                   whose engine is gone (a restarted runtime)
    POST /down      {}                             stop every replica gracefully, the router, then exit

Rollouts and canaries run in background threads; ``GET /status`` shows their events and outcome (the
canary's whole record is in ``DIR/canary.json``). Every request must carry the token from the state file
(header ``X-Goship-Token``); errors answer ``{"error", "hint", "exit_code"}``.

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
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from goship import _http
from goship.errors import EnvironmentFailure, GoshipError, UsageError
from goship.image.layout import Layout
from goship.image.oci import Platform
from goship.local.canary import CANARY_FILE, CanaryController, spec_from_document
from goship.local.control import LAST_STATE_FILE, STATE_FILE, TOKEN_HEADER, write_state
from goship.local.probes import ProbeSpec
from goship.local.rootfs import Rootfs, unpack
from goship.local.router import RouterClient, RouterProcess
from goship.local.routing import route_ready
from goship.local.supervisor import Event as ReplicaEvent
from goship.local.supervisor import ReplicaSpec, Supervisor
from goship.local.workloads import LocalWorkloads
from goship.rollout.canary import CanarySpec
from goship.rollout.canary_state import CanaryState
from goship.rollout.ports import TrafficRules
from goship.rollout.rolling import RollingUpdate, RolloutEvent, RolloutSpec

log = logging.getLogger("goship.daemon")

_KEEP_EVENTS = 100


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class _Cancelled(Exception):
    """The daemon is going down: the rollout in progress stops where it is."""


class _Conflict(GoshipError):
    """The request cannot be served now (a rollout or a canary is in progress): HTTP 409."""

    exit_code = 2


@dataclass(frozen=True)
class Revision:
    """One version of the service as the runtime ran it (a ReplicaSet's template, kept for undo)."""

    number: int
    """1, 2, …: in the order revisions were made; an undo makes a new one."""
    version: str
    """The version its replicas serve; the router groups endpoints by it."""
    digest: str
    """The platform image manifest's digest in the store."""
    store: str
    """The OCI layout it came from."""
    platform: str
    """``linux/amd64`` or ``linux/arm64``."""
    created: str
    """When it was made (UTC, ISO 8601)."""
    undo_of: int | None = None
    """The revision an undo copied, if it came from one."""

    @property
    def name(self) -> str:
        """Its replica set's name on the supervisor and in rollout events (replica ids start with it)."""
        return f"{self.version}@r{self.number}"


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
    """Everything one service's local runtime runs, and the state it persists."""

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
        self.started = _now_iso()
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
        self.canary = CanaryController(
            state_dir / CANARY_FILE,
            router=self.client,
            on_finished=self._canary_finished,
            service=self.service,
        )
        self._canary_revisions: tuple[Revision, Revision] | None = None  # (stable, canary)
        self.supervisor = Supervisor(
            log_dir=state_dir / "logs",
            on_event=self._replica_event,
            on_endpoints_changed=self._route,
        )
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
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
        self.canary.close()
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
                "canary": self._canary_summary(),
                "events": list(self.events),
            }

    def _canary_summary(self) -> dict[str, Any] | None:
        try:
            state = self.canary.state()
        except GoshipError:
            return None
        if state is None:
            return None
        return {
            "running": self.canary.running(),
            "phase": state.phase,
            "stable": state.stable,
            "canary": state.canary,
            "step": state.step,
            "weight": state.weight,
            "paused": state.paused,
            "last_outcome": state.last_outcome,
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
        versions = self.canary.versions
        if versions is not None:
            # The canary engine owns the weights; the replicas only say where each version is.
            self.client.set_endpoints({**{v: [] for v in versions}, **endpoints})
            return
        current = self.current
        route_ready(self.client, endpoints, fallback=current.version if current else None)

    def _replica_event(self, event: ReplicaEvent) -> None:
        self.events.append(
            {
                "time": _now_iso(),
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
        if self.canary.versions is not None:
            stable, canary = self.canary.versions
            raise _Conflict(
                f"a canary of {canary} against {stable} is in progress; {what} when it has finished",
                hint="see 'goship canary status'; 'goship canary abort' stops it",
            )

    def scale(self, replicas: int) -> dict[str, Any]:
        if replicas < 0:
            raise UsageError(f"replicas: expected 0 or more (not {replicas})")
        with self._lock:
            if self._busy():
                raise _Conflict("a rollout is in progress; scale when it has finished")
            self._refuse_during_canary("scale")
            if self.current is None:
                raise UsageError("nothing to scale: no revision has been rolled out yet")
            self.desired = replicas
            self._workloads().scale(self.current.name, replicas)
        self.persist()
        return {"desired_replicas": replicas}

    def add_revision(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /rollout: a new revision from an image in a store, rolled out."""
        try:
            version, store, ref = str(body["version"]), str(body["store"]), str(body["ref"])
        except KeyError as exc:
            raise UsageError(
                f"/rollout: missing field {exc.args[0]!r} (expected version, store, ref)"
            ) from exc
        platform = Platform.parse(str(body.get("platform") or "linux/amd64"))
        rootfs = unpack(Layout(Path(store)), ref, platform, self.rootfs_cache)
        with self._lock:
            if self._busy():
                raise _Conflict("a rollout is in progress; wait for it or 'goship down'")
            self._refuse_during_canary("roll out")
            if self.current is not None and self.current.digest == rootfs.manifest_digest:
                if "replicas" in body and int(body["replicas"]) != self.desired:
                    self.scale(int(body["replicas"]))
                return {
                    "rollout": None,
                    "message": f"{version} is running already (revision {self.current.number})",
                }
            revision = Revision(
                number=len(self.revisions) + 1,
                version=version,
                digest=rootfs.manifest_digest,
                store=store,
                platform=str(platform),
                created=_now_iso(),
            )
            self._specs[revision.name] = self._replica_spec(revision, rootfs)
            self.revisions.append(revision)
            return self._start_rollout(revision, body, kind="rollout")

    def undo(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /undo: a new revision copying an earlier one (by default the one before the current),
        rolled out; the history keeps every revision."""
        with self._lock:
            if self._busy():
                raise _Conflict("a rollout is in progress; wait for it or 'goship down'")
            self._refuse_during_canary("undo")
            if self.current is None:
                raise UsageError("nothing to undo: no revision has been rolled out yet")
            wanted = body.get("to_revision")
            if wanted is None:
                earlier = [r for r in self.revisions if r.number < self.current.number]
                if not earlier:
                    raise UsageError(
                        f"revision {self.current.number} is the first: there is nothing to go back to"
                    )
                target = earlier[-1]
            else:
                found = [r for r in self.revisions if r.number == int(wanted)]
                if not found:
                    known = ", ".join(str(r.number) for r in self.revisions)
                    raise UsageError(f"no revision {wanted} (revisions: {known})")
                target = found[0]
            if target.digest == self.current.digest:
                raise UsageError(
                    f"revision {target.number} ({target.version}) is what runs already "
                    f"(revision {self.current.number})"
                )
            revision = Revision(
                number=len(self.revisions) + 1,
                version=target.version,
                digest=target.digest,
                store=target.store,
                platform=target.platform,
                created=_now_iso(),
                undo_of=target.number,
            )
            self._specs[revision.name] = replace(self._specs[target.name], revision=revision.name)
            self.revisions.append(revision)
            return self._start_rollout(revision, body, kind="undo")

    # --- canary -----------------------------------------------------------------------------------------

    def start_canary(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /canary: a new revision from an image in a store, beside the current one, as a canary."""
        try:
            version, store, ref = str(body["version"]), str(body["store"]), str(body["ref"])
        except KeyError as exc:
            raise UsageError(
                f"/canary: missing field {exc.args[0]!r} (expected version, store, ref)"
            ) from exc
        spec_doc = dict(body.get("spec") or {})
        with self._lock:
            stable = self._canary_preconditions()
            if version == stable.version:
                raise UsageError(
                    f"{version} is what runs already (revision {stable.number}): a canary needs another version"
                )
            spec = spec_from_document(spec_doc, canary=version, replicas=max(self.desired, 1))
        platform = Platform.parse(str(body.get("platform") or "linux/amd64"))
        rootfs = unpack(Layout(Path(store)), ref, platform, self.rootfs_cache)
        with self._lock:
            stable = self._canary_preconditions()
            if rootfs.manifest_digest == stable.digest:
                raise UsageError(f"{version} is the image that runs already (revision {stable.number})")
            canary = self._new_revision(version, rootfs, store=store, platform=str(platform))
            target = {
                "stable": _image(stable),
                "canary": _image(canary),
                "spec": spec_doc,
                "replicas": spec.replicas,
            }
            state = self._run_canary(stable, canary, spec, target, takeover=False)
        log.info("canary of %s (revision %d) against %s", version, canary.number, stable.version)
        return {
            "canary": canary.version,
            "stable": stable.version,
            "revision": canary.number,
            "phase": state.phase,
        }

    def _canary_preconditions(self) -> Revision:
        """The stable revision a canary starts from; refused while a rollout or another canary runs."""
        if self._busy():
            raise _Conflict("a rollout is in progress; start the canary when it has finished")
        if self.canary.running():
            self._refuse_during_canary("start another")
        state = self.canary.state()
        if state is not None and state.active:
            raise UsageError(
                f"a canary of {state.canary} against {state.stable} is already {state.phase} "
                f"(step {state.step + 1} of {len(state.weights)})",
                hint="see 'goship canary status'; continue it with 'goship canary resume' or stop it "
                "with 'goship canary abort'",
            )
        if self.current is None:
            raise UsageError(
                "nothing runs yet: a canary is judged against the version that runs",
                hint="start the stable version with 'goship up'",
            )
        return self.current

    def _new_revision(self, version: str, rootfs: Rootfs, *, store: str, platform: str) -> Revision:
        revision = Revision(
            number=len(self.revisions) + 1,
            version=version,
            digest=rootfs.manifest_digest,
            store=store,
            platform=platform,
            created=_now_iso(),
        )
        self._specs[revision.name] = self._replica_spec(revision, rootfs)
        self.revisions.append(revision)
        return revision

    def _run_canary(
        self,
        stable: Revision,
        canary: Revision,
        spec: CanarySpec,
        target: Mapping[str, Any],
        *,
        takeover: bool,
    ) -> CanaryState:
        self._canary_revisions = (stable, canary)
        return self.canary.start(
            self._workloads(),
            stable=(stable.version, stable.name),
            canary=(canary.version, canary.name),
            spec=spec,
            target=target,
            takeover=takeover,
        )

    def canary_command(self, command: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /canary/<command>: pause, resume (or take over), promote, abort."""
        if command == "resume" and not self.canary.running():
            return self._take_over_canary()
        if command == "pause":
            state = self.canary.pause()
        elif command == "resume":
            before = self.canary.state()
            state = self.canary.resume()
            if before is not None and not before.paused:
                return {"phase": state.phase, "message": "the canary is not paused: it goes on by itself"}
        elif command == "promote":
            state = self.canary.promote(force=bool(body.get("force", False)))
        elif command == "abort":
            state = self.canary.abort(str(body.get("reason") or "aborted with 'goship canary abort'"))
        else:
            raise UsageError(f"no canary command {command!r} (expected pause, resume, promote or abort)")
        return {"phase": state.phase, "paused": state.paused, "reason": state.reason}

    def _take_over_canary(self) -> dict[str, Any]:
        """Drive the active canary of the state file (its engine went down with an earlier runtime)."""
        state = self.canary.state()
        if state is None or not state.active:
            done = f"the canary of {state.canary} has {state.phase}" if state else "no canary was started"
            raise UsageError(f"nothing to resume: {done}", hint="start one with 'goship canary start'")
        target = state.target
        try:
            image = dict(target["canary"])
            spec_doc, replicas = dict(target["spec"]), int(target["replicas"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(
                f"the canary of {state.canary} was not started by the runtime: it cannot be taken over",
                hint="stop it with 'goship canary abort'",
            ) from exc
        with self._lock:
            if self._busy():
                raise _Conflict("a rollout is in progress; resume the canary when it has finished")
            stable = self.current
            if stable is None or stable.version != state.stable:
                runs = stable.version if stable else "nothing"
                raise UsageError(
                    f"the runtime runs {runs}, the canary's stable version is {state.stable}",
                    hint=f"'goship canary resume' starts {state.stable} first when the runtime is down",
                )
        spec = spec_from_document(spec_doc, canary=state.canary, replicas=replicas)
        platform = Platform.parse(str(image.get("platform") or "linux/amd64"))
        rootfs = unpack(Layout(Path(str(image["store"]))), str(image["ref"]), platform, self.rootfs_cache)
        with self._lock:
            canary = next((r for r in self.revisions if r.digest == rootfs.manifest_digest), None)
            if canary is None or canary.version != state.canary:
                canary = self._new_revision(
                    state.canary, rootfs, store=str(image["store"]), platform=str(platform)
                )
            taken = self._run_canary(stable, canary, spec, target, takeover=True)
        log.info(
            "took over the canary of %s against %s at step %d", state.canary, state.stable, state.step + 1
        )
        return {"phase": taken.phase, "taken_over": True, "step": taken.step}

    def _canary_finished(self, state: CanaryState) -> None:
        """The engine is done: the winner becomes the current revision, the loser's replicas go."""
        with self._lock:
            revisions, self._canary_revisions = self._canary_revisions, None
            if revisions is not None:
                stable, canary = revisions
                winner, loser = (canary, stable) if state.phase == "succeeded" else (stable, canary)
                self.current = winner
                self._workloads().scale(loser.name, 0)
        self._route(self.supervisor.ready_endpoints())
        self.persist()

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

    def _start_rollout(self, revision: Revision, body: Mapping[str, Any], *, kind: str) -> dict[str, Any]:
        if body.get("replicas") is not None:
            self.desired = int(body["replicas"])
        if self.desired < 1 and self.current is None:
            raise UsageError("the first rollout needs replicas (1 or more)")
        spec = RolloutSpec(
            replicas=self.desired,
            max_surge=_surge(body.get("max_surge", 1)),
            max_unavailable=_surge(body.get("max_unavailable", 0)),
            progress_deadline_s=float(body.get("progress_deadline_s", 60.0)),
        )
        previous = self.current
        self.rollout = {
            "id": revision.number,
            "kind": kind,
            "from_revision": previous.number if previous else None,
            "to_revision": revision.number,
            "version": revision.version,
            "state": "running",
            "reason": "",
            "seconds": None,
            "started": _now_iso(),
            "finished": None,
            "events": [],
        }
        record = self.rollout
        thread = threading.Thread(
            target=self._roll, args=(revision, previous, spec, record), name="goship-rollout", daemon=True
        )
        self._rollout_thread = thread
        thread.start()
        log.info("%s to revision %d (%s)", kind, revision.number, revision.version)
        return {"rollout": revision.number, "revision": revision.number, "version": revision.version}

    def _roll(
        self, revision: Revision, previous: Revision | None, spec: RolloutSpec, record: dict[str, Any]
    ) -> None:
        started = time.monotonic()

        def on_event(event: RolloutEvent) -> None:
            with self._lock:
                record["events"].append(
                    {"t": round(time.monotonic() - started, 3), "kind": event.kind, "message": event.message}
                )

        def sleep(seconds: float) -> None:
            if self._halt.wait(seconds):
                raise _Cancelled

        try:
            with self._lock:
                workloads = self._workloads()
                running = {s.name for s in workloads.states() if s.replicas}
                # Oldest first, the current revision last: it is the one a failed rollout returns to.
                old = [r.name for r in self.revisions if r.name in running and r is not previous]
                if previous is not None:
                    old.append(previous.name)
            result = RollingUpdate(
                workloads, spec, new=revision.name, old=old, sleep=sleep, on_event=on_event
            ).run()
            with self._lock:
                by_name = {r.name: r for r in self.revisions}
                if result.outcome == "complete":
                    self.current = revision
                elif result.revision in by_name and result.revision != revision.name:
                    self.current = by_name[result.revision]
                record.update(state=result.outcome, reason=result.reason, seconds=round(result.seconds, 3))
        except _Cancelled:
            with self._lock:
                record.update(state="cancelled", reason="the runtime went down")
        except Exception as exc:
            log.exception("rollout to revision %d", revision.number)
            with self._lock:
                record.update(state="failed", reason=str(exc))
        finally:
            with self._lock:
                record["finished"] = _now_iso()
                if record["seconds"] is None:
                    record["seconds"] = round(time.monotonic() - started, 3)
            # Weights fall back to the current version when nothing is ready: keep them in step.
            self._route(self.supervisor.ready_endpoints())
            self.persist()
            log.info("revision %d: %s %s", revision.number, record["state"], record["reason"])


def _image(revision: Revision) -> dict[str, Any]:
    """Where a revision's image is, as POST /rollout takes it (a canary's state keeps both)."""
    return {
        "version": revision.version,
        "store": revision.store,
        "ref": revision.digest,
        "platform": revision.platform,
    }


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


def _surge(value: object) -> int | str:
    """maxSurge/maxUnavailable: an integer or a percentage, as the Deployment field."""
    text = str(value).strip()
    if text.endswith("%"):
        return text
    try:
        return int(text)
    except ValueError as exc:
        raise UsageError(f"expected an integer or a percentage such as 25% (not {text!r})") from exc


class _Handler(BaseHTTPRequestHandler):
    """The control API: JSON in, JSON out; errors as ``{"error", "hint"}`` with 400, 409 or 500."""

    server: ThreadingHTTPServer

    @property
    def _daemon(self) -> Daemon:
        daemon: Daemon = self.server.daemon  # type: ignore[attr-defined]
        return daemon

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("control: " + format, *args)

    def _send(self, code: int, document: object) -> None:
        data = json.dumps(document).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        given = self.headers.get(TOKEN_HEADER, "")
        if secrets.compare_digest(given, self._daemon.token):
            return True
        self._send(403, {"error": "missing or wrong token (it is in the runtime's state.json)"})
        return False

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path == "/status":
            self._send(200, self._daemon.snapshot())
        else:
            self._send(404, {"error": f"no such endpoint: GET {self.path}"})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
        except ValueError as exc:
            self._send(400, {"error": f"the request body is not a JSON object: {exc}"})
            return
        daemon = self._daemon
        try:
            if self.path == "/scale":
                answer = daemon.scale(int(body.get("replicas", -1)))
            elif self.path == "/rollout":
                answer = daemon.add_revision(body)
            elif self.path == "/undo":
                answer = daemon.undo(body)
            elif self.path == "/canary":
                answer = daemon.start_canary(body)
            elif self.path.startswith("/canary/"):
                answer = daemon.canary_command(self.path.removeprefix("/canary/"), body)
            elif self.path == "/down":
                daemon.stop()
                answer = {"stopping": True}
            else:
                self._send(404, {"error": f"no such endpoint: POST {self.path}"})
                return
        except _Conflict as exc:
            self._send(409, {"error": exc.message, "hint": exc.hint, "exit_code": exc.exit_code})
            return
        except GoshipError as exc:
            self._send(
                400 if exc.exit_code in (1, 2) else 500,
                {"error": exc.message, "hint": exc.hint, "exit_code": exc.exit_code},
            )
            return
        except (ValueError, TypeError) as exc:
            self._send(400, {"error": f"bad request: {exc}"})
            return
        except Exception as exc:
            log.exception("POST %s", self.path)
            self._send(500, {"error": f"{type(exc).__name__}: {exc}"})
            return
        daemon.persist()
        self._send(200, answer)


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
