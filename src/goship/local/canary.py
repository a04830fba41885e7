"""The canary controller of the local runtime (Flagger's job, for one service on one machine): the runtime
daemon runs at most one :class:`~goship.rollout.canary.CanaryEngine` at a time in a background thread,
over its replica sets, goship's router (splits held on a lease) and the router's counters, and passes it
the commands of the control API.

The canary's spec travels as a JSON document (``POST /canary``'s ``spec``, kept in the canary's state for a
later take-over)::

    {"steps": [5, 25, 50], "interval_s": 60, "min_requests": 50, "failure_threshold": 5,
     "step_deadline_s": 600, "judge": "sequential", "judge_settings": {},
     "matches": [{"header": "X-Beta", "cookie": null, "kind": "exact", "value": "1"}],
     "sticky_header": null, "mirror_percent": 0, "confirm_promotion": false, "canary_replicas": null}

The state file (:mod:`goship.rollout.canary_state`) lives beside the runtime's ``state.json``; a finished
canary's file is moved to ``canaries/`` when the next one begins, so every canary can still be explained.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from goship.config import CanaryConfig
from goship.errors import ConfigError, UsageError
from goship.local.router import LeasedRouter, RouterClient, RouterMetrics
from goship.rollout import canary_state
from goship.rollout.canary import CanaryEngine, CanarySpec
from goship.rollout.canary_state import CanaryState, Event
from goship.rollout.judges import JUDGES
from goship.rollout.plan import ReplicaSetState
from goship.rollout.ports import HeaderMatch, TrafficRules, Workloads
from goship.rollout.webhooks import HOOK_TYPES, Webhook

__all__ = [
    "CANARY_FILE",
    "HISTORY_DIR",
    "CanaryController",
    "VersionWorkloads",
    "abandon",
    "find_canary",
    "lease_seconds",
    "spec_document",
    "spec_from_document",
]

log = logging.getLogger("goship.daemon.canary")

CANARY_FILE = "canary.json"
HISTORY_DIR = "canaries"
"""Finished canaries, one file each (``<start time>-<canary version>.json``), oldest first by name."""


def spec_document(config: CanaryConfig) -> dict[str, Any]:
    """goship.yaml's ``canary:`` section as the spec document."""
    return {
        "steps": config.weights(),
        "interval_s": config.interval,
        "min_requests": config.min_requests,
        "failure_threshold": config.failure_threshold,
        "step_deadline_s": config.step_deadline,
        "judge": config.judge,
        "judge_settings": dict(config.judge_settings),
        "matches": [dataclasses.asdict(m) for m in config.matches],
        "sticky_header": config.sticky_header,
        "mirror_percent": config.mirror_percent,
        "confirm_promotion": config.confirm_promotion,
        "canary_replicas": config.canary_replicas,
        "webhooks": [dataclasses.asdict(w) for w in config.webhooks],
    }


def spec_from_document(doc: Mapping[str, Any], *, canary: str, replicas: int) -> CanarySpec:
    """The engine's spec from a spec document; a ConfigError naming what is wrong."""
    try:
        interval = float(doc.get("interval_s", 60.0))
        matches = tuple(
            HeaderMatch(
                version=canary,
                header=m.get("header"),
                cookie=m.get("cookie"),
                kind=m.get("kind", "exact"),
                value=str(m.get("value", "")),
            )
            for m in doc.get("matches") or []
        )
        spec = CanarySpec(
            steps=tuple(int(w) for w in doc.get("steps") or (5, 25, 50)),
            interval_s=interval,
            min_requests=int(doc.get("min_requests", 50)),
            failure_threshold=int(doc.get("failure_threshold", 5)),
            step_deadline_s=float(doc.get("step_deadline_s", 600.0)),
            judge=str(doc.get("judge", "sequential")),
            judge_settings=dict(doc.get("judge_settings") or {}),
            matches=matches,
            sticky_header=doc.get("sticky_header"),
            mirror_percent=int(doc.get("mirror_percent", 0)),
            confirm_promotion=bool(doc.get("confirm_promotion", False)),
            replicas=replicas,
            canary_replicas=doc.get("canary_replicas"),
            poll_s=min(0.5, interval),
            webhooks=tuple(_webhook(w) for w in doc.get("webhooks") or []),
        )
        # The judge is built now, so that bad settings are refused before anything starts.
        JUDGES[spec.judge](**dict(spec.judge_settings))
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise ConfigError(f"the canary spec is not one goship can run: {exc!s}") from exc
    return spec


def _webhook(doc: Mapping[str, Any]) -> Webhook:
    kind = doc.get("type")
    if kind not in HOOK_TYPES:
        raise ValueError(
            f"webhook {doc.get('name')!r}: expected a type among {', '.join(HOOK_TYPES)} (got {kind!r})"
        )
    return Webhook(
        name=str(doc["name"]),
        type=kind,
        url=str(doc["url"]),
        timeout_s=float(doc.get("timeout", 10.0)),
        metadata={str(k): str(v) for k, v in (doc.get("metadata") or {}).items()},
    )


def lease_seconds(interval_s: float) -> float:
    """How long the router holds a canary's split without a renewal: one interval, plus a margin for
    the analysis itself (a quarter of the interval, at least 2 s)."""
    return interval_s + max(2.0, interval_s / 4)


def find_canary(directory: Path, version: str | None = None) -> tuple[CanaryState, Path] | None:
    """The runtime's latest canary, or with ``version`` the latest canary of that version (finished ones
    included); ``None`` when there is none."""
    candidates = [directory / CANARY_FILE, *sorted((directory / HISTORY_DIR).glob("*.json"), reverse=True)]
    for path in candidates:
        state = canary_state.load(path)
        if state is not None and (version is None or state.canary == version):
            return state, path
    return None


def abandon(path: Path, reason: str, *, clock: Callable[[], float] = time.time) -> CanaryState:
    """Mark an active canary that no engine drives any more as failed (nothing is routed or scaled: the
    runtime that ran it is gone, or no longer runs its canary version)."""
    state = canary_state.load(path)
    if state is None or not state.active:
        raise UsageError("there is no active canary to abort")
    now = clock()
    state = dataclasses.replace(
        state,
        phase="failed",
        reason=reason,
        events=(*state.events, Event(now, "phase", f"failed: {reason}")),
    )
    canary_state.save(path, state)
    return state


class VersionWorkloads:
    """The engine names versions (the router's and the metrics' keys); the runtime's replica sets are named
    by revision (``v1.1.0@r2``): this maps one onto the other for the canary's two revisions."""

    def __init__(self, workloads: Workloads, revisions: Mapping[str, str]) -> None:
        self.workloads = workloads
        self.revisions = dict(revisions)
        self._versions = {r: v for v, r in self.revisions.items()}

    def scale(self, revision: str, replicas: int) -> None:
        self.workloads.scale(self.revisions[revision], replicas)

    def states(self) -> Sequence[ReplicaSetState]:
        return [
            dataclasses.replace(s, name=self._versions[s.name])
            for s in self.workloads.states()
            if s.name in self._versions
        ]


class _Stopped(Exception):
    """The engine's thread is asked to stop where it is (abort, or the daemon going down)."""


class CanaryController:
    """At most one canary engine at a time, in a background thread.

    The thread holds the controller's lock except while the engine waits, and commands take that lock, so
    a command never lands between the engine's reading of the state and its writing of the next one.
    """

    def __init__(
        self,
        state_path: Path,
        *,
        router: RouterClient,
        on_finished: Callable[[CanaryState], None],
        service: str = "",
    ) -> None:
        self.state_path = state_path
        self.service = service
        """Named to webhooks."""
        self.router = router
        self.on_finished = on_finished
        self.versions: tuple[str, str] | None = None
        """(stable, canary) while an engine owns the router's weights; the runtime only sets endpoints."""
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._engine: CanaryEngine | None = None

    def running(self) -> bool:
        """Whether an engine judges the canary now."""
        return self._thread is not None and self._thread.is_alive()

    def state(self) -> CanaryState | None:
        return canary_state.load(self.state_path)

    def start(
        self,
        workloads: Workloads,
        *,
        stable: tuple[str, str],
        canary: tuple[str, str],
        spec: CanarySpec,
        target: Mapping[str, Any],
        takeover: bool = False,
    ) -> CanaryState:
        """Begin a canary of ``canary`` against ``stable`` (each ``(version, replica set)``) and drive it in
        the background; with ``takeover``, drive the active canary of the state file instead."""
        if self.running():
            raise UsageError("a canary engine is running already")
        metrics = RouterMetrics(self.router)
        engine = CanaryEngine(
            VersionWorkloads(workloads, dict([stable, canary])),
            LeasedRouter(self.router, fallback=stable[0], lease_s=lease_seconds(spec.interval_s)),
            metrics,
            spec,
            stable=stable[0],
            canary=canary[0],
            state=self.state_path,
            sleep=self._sleep,
            source=f"goship-router GET /stats ({self.router.admin_url}): requests and failures per version",
            service=self.service,
        )
        if takeover:
            state = engine.status()
            if state is None or not state.active:
                raise UsageError("there is no active canary to take over")
            if state.paused:
                state = engine.resume()
        else:
            self._archive()
            state = engine.begin(target=target)
        # Windows are counted from now: the router's counters before the canary are not its evidence.
        metrics.mark()
        self._engine = engine
        self._stop = threading.Event()
        self.versions = (stable[0], canary[0])
        self._thread = threading.Thread(
            target=self._drive, args=(engine, self._stop, takeover), name="goship-canary", daemon=True
        )
        self._thread.start()
        return state

    def pause(self) -> CanaryState:
        with self._lock:
            return self._driving("pause").pause()

    def resume(self) -> CanaryState:
        with self._lock:
            engine = self._driving("resume")
            state = engine.status()
            if state is not None and not state.paused:
                return state  # nothing to do: it goes on by itself
            return engine.resume()

    def promote(self, *, force: bool = False) -> CanaryState:
        with self._lock:
            engine = self._driving("promote")
            state = engine.status()
            if state is not None and state.phase == "initializing":
                raise UsageError(
                    f"the canary of {state.canary} is still starting its replicas: nothing to promote yet"
                )
            return engine.promote(force=force)

    def abort(self, reason: str) -> CanaryState:
        """Stop the engine where it waits, then roll back now (traffic first, then the canary's replicas)."""
        engine = self._engine
        if engine is None or not self.running():
            state = abandon(self.state_path, f"{reason} (no engine was judging it)")
            self.versions = None
            self.on_finished(state)
            return state
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        finished = engine.status()
        if finished is not None and not finished.active:
            # It ended by itself while being stopped: the daemon still needs to hear of it.
            self.versions = None
            self.on_finished(finished)
            raise UsageError(
                f"the canary of {finished.canary} has {finished.phase} already: nothing to abort"
            )
        try:
            state = engine.abort(reason)
        finally:
            self.versions = None
        self.on_finished(state)
        return state

    def close(self) -> None:
        """Stop the engine (the daemon goes down); the canary stays where it is, for a later take-over."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    # -- the engine's thread ------------------------------------------------------------------------

    def _driving(self, command: str) -> CanaryEngine:
        if self._engine is None or not self.running():
            raise UsageError(
                f"cannot {command} the canary: no engine is judging it in this runtime",
                hint="continue it with 'goship canary resume' (or stop it with 'goship canary abort')",
            )
        return self._engine

    def _sleep(self, seconds: float) -> None:
        stop = self._stop
        self._lock.release()
        try:
            stopped = stop.wait(seconds)
        finally:
            self._lock.acquire()
        if stopped:
            raise _Stopped

    def _drive(self, engine: CanaryEngine, stop: threading.Event, takeover: bool) -> None:
        with self._lock:
            try:
                state = engine.run(takeover=takeover)
            except _Stopped:
                log.info("canary engine stopped")
                return
            except Exception:
                # Nobody judges the canary now: traffic to stable (the router's lease would do it too),
                # and the state stays active for 'goship canary resume' or 'abort'.
                log.exception("the canary engine failed; traffic back to %s", engine.stable)
                try:
                    self.router.apply(TrafficRules(weights={engine.stable: 100}))
                except Exception:
                    log.exception("sending the traffic back to %s", engine.stable)
                return
        self.versions = None
        log.info("canary of %s: %s (%s)", state.canary, state.phase, state.reason)
        if not stop.is_set():
            self.on_finished(state)

    def _archive(self) -> None:
        """Keep a finished canary's file under ``canaries/`` before a new one takes its place."""
        state = canary_state.load(self.state_path)
        if state is None or state.active:
            return
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(state.started))
        history = self.state_path.parent / HISTORY_DIR
        history.mkdir(parents=True, exist_ok=True)
        self.state_path.replace(history / f"{stamp}-{state.canary}.json")
