"""An upgrade rehearsed on one machine: the old version's replicas behind goship's router under
open-loop load, a rolling update with Deployment semantics to the new version, then one new replica
stopped under load as a node drain would — and a report of every request that failed, and why."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from goship import _http
from goship.gotool import Go
from goship.local import report as rpt
from goship.local.loadgen import LoadResult, LoadRun, LoadSpec
from goship.local.probes import ProbeSpec
from goship.local.rootfs import Rootfs
from goship.local.router import RouterClient, RouterProcess, ensure_router_binary
from goship.local.routerstats import RouterMetrics
from goship.local.routing import route_ready
from goship.local.supervisor import STOP_REQUESTED, ReplicaSpec, Supervisor
from goship.local.supervisor import Event as ReplicaEvent
from goship.local.workloads import LocalWorkloads
from goship.rollout.canary import CanaryEngine, CanarySpec
from goship.rollout.ports import TrafficRules
from goship.rollout.rolling import RollingUpdate, RolloutEvent, RolloutResult, RolloutSpec


@dataclass(frozen=True)
class RehearsalSpec:
    """How the rehearsal runs: the Deployment it imitates and the load it drives."""

    replicas: int = 3
    rps: float = 200.0
    warmup_s: float = 3.0
    """Load on the old version alone before the update starts."""
    settle_s: float = 2.0
    """Load after each step (the update, the final replica stop) before the next."""
    rollout: RolloutSpec = field(
        default_factory=lambda: RolloutSpec(max_surge=1, max_unavailable=0, progress_deadline_s=30)
    )
    readiness: ProbeSpec = field(
        default_factory=lambda: ProbeSpec.http("/readyz", period_s=0.5, failure_threshold=1)
    )
    liveness: ProbeSpec | None = None
    termination_grace_s: float = 10.0
    pre_stop_s: float = 0.0
    env: Mapping[str, str] = field(default_factory=dict)
    users: int = 50
    """User ids in the load (header X-User-Id), for sticky routing."""
    strategy: Literal["rolling", "canary"] = "rolling"
    canary: CanarySpec = field(
        default_factory=lambda: CanarySpec(
            steps=(20, 50),
            interval_s=2.0,
            min_requests=20,
            failure_threshold=2,
            step_deadline_s=30.0,
            judge_settings={"min_requests_to_pass": 200},
            poll_s=0.2,
            stale_margin_s=10.0,
            ready_deadline_s=60.0,
        )
    )
    """The canary analysis (``strategy="canary"``): short intervals, for a rehearsal of seconds."""
    timeout_s: float = 2.0


@dataclass(frozen=True)
class Side:
    """One version to rehearse with: its name and its unpacked image."""

    version: str
    rootfs: Rootfs


class Rehearsal:
    """Runs one rehearsal in ``work_dir``; everything it starts is stopped when it returns."""

    def __init__(
        self,
        old: Side,
        new: Side,
        spec: RehearsalSpec,
        *,
        go: Go,
        work_dir: Path,
        bin_cache: Path,
        say: Callable[[str], None] = lambda message: None,
    ) -> None:
        if old.version == new.version:
            raise ValueError("a rehearsal needs two different versions")
        self.old, self.new, self.spec = old, new, spec
        self.go, self.work_dir, self.bin_cache, self.say = go, work_dir, bin_cache, say
        self.events: list[rpt.Event] = []
        self._canary_findings: list[rpt.Finding] = []
        self._lock = threading.Lock()
        self._t0: float | None = None

    def run(self) -> rpt.Report:
        binary = ensure_router_binary(self.go, self.bin_cache)
        router = RouterProcess.start(binary, run_dir=self.work_dir / "router")
        http = _http.Client(timeout=5.0, connect_timeout=5.0)
        client = RouterClient(router.admin_url, http)
        client.configure({}, TrafficRules(weights={self.old.version: 100}))
        # Kept on the rehearsal so a subclass (a chaos test) can reach the replicas mid-rollout.
        supervisor = self.supervisor = Supervisor(
            log_dir=self.work_dir / "logs",
            on_event=self._replica_event,
            on_endpoints_changed=lambda endpoints: self._route(client, endpoints),
        )
        specs = {side.version: self._replica_spec(side) for side in (self.old, self.new)}
        workloads = LocalWorkloads(supervisor, specs, min_ready_s=self.spec.rollout.min_ready_s)
        load: LoadRun | None = None
        try:
            supervisor.run_background()
            self.say(f"starting {self.spec.replicas} replicas of {self.old.version}")
            workloads.scale(self.old.version, self.spec.replicas)
            self._wait_available(workloads, self.old.version)
            load = LoadRun(
                LoadSpec(
                    target=router.url,
                    rps=self.spec.rps,
                    duration_s=3600,
                    users=self.spec.users,
                    timeout_s=self.spec.timeout_s,
                )
            ).start()
            self._t0 = time.monotonic() - load.elapsed()
            self.say(f"{self.spec.rps:g} requests/s through the router; rolling out {self.new.version}")
            time.sleep(self.spec.warmup_s)
            self._event(rpt.ROLLOUT_STARTED, f"{self.spec.strategy} {self.old.version} → {self.new.version}")
            if self.spec.strategy == "canary":
                result = self._canary(workloads, client)
            else:
                result = RollingUpdate(
                    workloads,
                    self.spec.rollout,
                    new=self.new.version,
                    old=[self.old.version],
                    on_event=self._rollout_event,
                ).run()
            self._event(rpt.ROLLOUT_FINISHED, f"{result.outcome}: {result.reason}")
            time.sleep(self.spec.settle_s)
            if result.outcome == "complete":
                self.say("stopping one new replica under load, as a node drain would")
                workloads.scale(self.new.version, self.spec.replicas - 1)
                time.sleep(self.spec.settle_s + min(self.spec.termination_grace_s, 5.0))
            load.stop()
            records = load.wait(30)
            findings = rpt.standard_findings(records, self.events)
            if result.outcome != "complete":
                findings.insert(0, rpt.Finding("rollout-undone", f"the rollout was undone: {result.reason}"))
            findings += self._ready_too_early(records) + self._canary_findings
            verdict: rpt.Verdict = "fail" if result.outcome != "complete" or records.failures() else "pass"
            return rpt.Report.from_load(records, events=self.events, findings=findings, verdict=verdict)
        finally:
            if load is not None:
                load.stop()
            supervisor.close()
            router.stop()
            http.close()

    # -- pieces ------------------------------------------------------------------------------------

    def _replica_spec(self, side: Side) -> ReplicaSpec:
        return ReplicaSpec.from_rootfs(
            side.rootfs,
            revision=side.version,
            version=side.version,
            env=dict(self.spec.env),
            readiness=self.spec.readiness,
            liveness=self.spec.liveness,
            termination_grace_s=self.spec.termination_grace_s,
            pre_stop_s=self.spec.pre_stop_s,
            backoff_base_s=1.0,
            backoff_cap_s=10.0,
        )

    def _canary(self, workloads: LocalWorkloads, client: RouterClient) -> RolloutResult:
        """The canary engine on the local ports; its decision log becomes the report's findings."""
        spec = dataclasses.replace(self.spec.canary, replicas=self.spec.replicas)
        engine = CanaryEngine(
            workloads,
            client,
            RouterMetrics(client),
            spec,
            stable=self.old.version,
            canary=self.new.version,
            state=self.work_dir / "canary.json",
        )
        started = time.monotonic()
        state = engine.start()
        for d in state.decisions:
            self._canary_findings.append(
                rpt.Finding(
                    "canary-analysis",
                    f"step {d.step + 1} at {d.weight} %: {d.verdict} — {d.reason}",
                )
            )
        outcome: Literal["complete", "undone"] = "complete" if state.phase == "succeeded" else "undone"
        winner = self.new.version if outcome == "complete" else self.old.version
        return RolloutResult(outcome, winner, state.reason or state.phase, time.monotonic() - started)

    def _route(self, client: RouterClient, endpoints: Mapping[str, list[str]]) -> None:
        if self.spec.strategy == "canary":
            # The canary engine owns the weights; the replicas only say where each version is.
            client.set_endpoints(
                {v: list(endpoints.get(v, [])) for v in (self.old.version, self.new.version)}
            )
            return
        route_ready(client, endpoints, fallback=self.old.version)

    def _wait_available(self, workloads: LocalWorkloads, revision: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = next((s for s in workloads.states() if s.name == revision), None)
            if state is not None and state.available >= self.spec.replicas:
                return
            time.sleep(0.1)
        raise TimeoutError(
            f"{revision} did not become ready within {timeout_s:g}s (see {self.work_dir / 'logs'})"
        )

    def _now(self) -> float | None:
        return None if self._t0 is None else time.monotonic() - self._t0

    def _event(
        self, kind: str, message: str, *, replica: str | None = None, version: str | None = None
    ) -> None:
        with self._lock:
            now = self._now()
            if now is None:
                return
            self.events.append(rpt.Event(now, kind, message, replica=replica, version=version))

    def _ready_too_early(self, records: LoadResult) -> list[rpt.Finding]:
        """Did a new replica report ready before it could serve? Failures of its version within two
        seconds of one of its ready events say so."""
        readies = [e.t for e in self.events if e.kind == rpt.REPLICA_READY and e.version == self.new.version]
        early = [
            r
            for r in records.failures()
            if r.version == self.new.version and any(0 <= r.start_s - t <= 2.0 for t in readies)
        ]
        if not early:
            return []
        return [
            rpt.Finding(
                "ready-before-serving",
                f"{len(early)} request(s) to {self.new.version} failed within 2 s of a replica turning ready: "
                "its readiness probe goes green before it can serve",
            )
        ]

    def _replica_event(self, event: ReplicaEvent) -> None:
        name = f"{event.version}#{event.replica}"
        if event.kind == "ready":
            self._event(rpt.REPLICA_READY, f"{name} ready", replica=event.replica, version=event.version)
        elif event.kind == "sigterm" and event.detail == STOP_REQUESTED:
            self._event(rpt.SIGTERM, f"SIGTERM to {name}", replica=event.replica, version=event.version)
        elif event.kind in ("crashed", "killed", "restarted"):
            self._event(
                event.kind,
                f"{name} {event.kind}: {event.detail}",
                replica=event.replica,
                version=event.version,
            )

    def _rollout_event(self, event: RolloutEvent) -> None:
        if event.kind in ("scale", "undo", "complete"):
            self._event(f"rollout-{event.kind}", event.message)
