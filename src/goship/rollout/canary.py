"""The canary engine: a state machine written once against the Workloads, TrafficRouter and MetricsSource
ports (DESIGN.md principle 3) that shifts traffic to a new revision step by step, asks a judge after every
analysis interval, and promotes or rolls back.

    initializing ─► progressing(step k) ─► [awaiting-promotion] ─► promoting ─► succeeded
          └──────────────┴──────────────────────┴─────────────────► rolling-back ─► failed

Failures follow Flagger: the canary rolls back after ``failure_threshold`` consecutive failed analyses;
an analysis without a verdict is ``wait`` until the step's deadline, a failure ("no data") after it.
A paused canary is still judged (and still rolled back) but neither advances nor is promoted.

Every transition is persisted (:mod:`.canary_state`) before the engine goes on, so a later engine on the
same state file continues; when that file says the last analysis is older than one interval plus a
margin, nobody judged the canary meanwhile and traffic goes back to 100 % stable before anything else.
A controller whose ports lost their state with the engine (a restarted local runtime) *takes over*
instead: traffic to stable, the canary's replicas brought back, the step entered again.

A router that holds a split on a lease (:class:`LeasedTraffic`, goship's local router) is renewed before
every wait, so a canary whose engine stops is not left with traffic longer than the lease.

Webhooks (:mod:`goship.rollout.webhooks`) keep Flagger's meanings: ``confirm-rollout`` holds the start,
a ``pre-rollout`` no is a failed analysis before any traffic moves, a ``rollout`` no fails the analysis it
precedes, ``confirm-traffic-increase`` holds the weight, ``confirm-promotion`` holds the promotion (the
canary is still judged), a ``rollback`` yes rolls back, ``post-rollout`` hears the outcome. Every call is
an event of the canary's log.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from goship.errors import CheckFailedError, ConfigError, GoshipError, UsageError
from goship.rollout import canary_state
from goship.rollout.canary_state import CanaryState, Decision, Event, Phase, StateStore, refuse_if_active
from goship.rollout.judges import DEFAULT_JUDGE, JUDGES, Judge, Samples, Verdict
from goship.rollout.ports import HeaderMatch, MetricsSource, TrafficRouter, TrafficRules, Workloads
from goship.rollout.webhooks import Event as HookEvent
from goship.rollout.webhooks import HookResult, HookType, Webhook, WebhookRunner


@dataclass(frozen=True)
class CanarySpec:
    """How a canary proceeds; the analysis fields mirror Flagger's ``analysis`` block."""

    steps: tuple[int, ...] = ()
    """Canary traffic percent per step, ascending (e.g. 5, 25, 50, 100); empty: use ``step_weight``."""
    step_weight: int = 10
    """Percent added per step when ``steps`` is empty."""
    max_weight: int = 50
    """Highest percent before promotion when ``steps`` is empty."""
    interval_s: float = 60.0
    """Length of one analysis window; an analysis is made after each."""
    min_requests: int = 50
    """Fewer canary requests than this in a window is ``wait`` without asking the judge."""
    failure_threshold: int = 5
    """Consecutive failed analyses before the canary is rolled back."""
    step_deadline_s: float = 600.0
    """Seconds a step may go without a verdict; after it every ``wait`` counts as a failure ("no data")."""
    judge: str = DEFAULT_JUDGE
    """Judge name, a key of ``goship.rollout.judges.JUDGES``."""
    judge_settings: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments for the judge's constructor."""
    matches: tuple[HeaderMatch, ...] = ()
    """Header or cookie rules sending matching requests to a version (A/B mode), kept while progressing."""
    sticky_header: str | None = None
    """Split by a hash of this header (a user id) so a user stays on one version."""
    mirror_percent: int = 0
    """Copy this percent of requests to the canary too while progressing (its answers are discarded)."""
    confirm_promotion: bool = False
    """Wait for ``promote`` after the last step instead of promoting by itself."""
    replicas: int = 1
    """Replicas the service runs; the canary gets them all before the stable revision is scaled down."""
    canary_replicas: int | None = None
    """Replicas of the canary while it is analysed; ``None``: ``replicas``."""
    ready_deadline_s: float = 300.0
    """Seconds the canary's replicas have to become available (at the start and at promotion)."""
    poll_s: float = 1.0
    """How often readiness is checked."""
    webhooks: tuple[Webhook, ...] = ()
    """HTTP hooks that gate or hear the stages (:mod:`goship.rollout.webhooks`)."""
    stale_margin_s: float = 30.0
    """A state whose last analysis is older than ``interval_s`` plus this was not being judged."""

    def __post_init__(self) -> None:
        weights = self.weights()
        if not weights or any(not 0 < w <= 100 for w in weights) or list(weights) != sorted(set(weights)):
            raise ConfigError(
                f"expected canary steps ascending between 1 and 100, like 5, 25, 50 (got {weights})"
            )
        if self.judge not in JUDGES:
            raise ConfigError(f"expected judge {', '.join(repr(j) for j in JUDGES)} (got {self.judge!r})")
        if not 0 <= self.mirror_percent <= 100:
            raise ConfigError(f"expected mirror_percent between 0 and 100 (got {self.mirror_percent})")
        if self.failure_threshold < 1 or self.interval_s <= 0 or self.replicas < 1:
            raise ConfigError(
                f"expected failure_threshold >= 1, interval_s > 0 and replicas >= 1 (got "
                f"{self.failure_threshold}, {self.interval_s}, {self.replicas})"
            )

    def weights(self) -> tuple[int, ...]:
        """Canary percent per step."""
        if self.steps:
            return tuple(self.steps)
        if self.step_weight <= 0:
            return ()
        return tuple(range(self.step_weight, min(self.max_weight, 100) + 1, self.step_weight))


_HOOK_PHASES = {
    "initializing": "Initializing",
    "awaiting-promotion": "WaitingPromotion",
    "promoting": "Promoting",
    "rolling-back": "Failed",
    "succeeded": "Succeeded",
    "failed": "Failed",
}
"""The phase a webhook is told, in Flagger's words."""


_STEPPING = ("initializing", "progressing", "awaiting-promotion")
"""Phases in which the engine may (still) enter a step; a command moves a canary past them."""


@runtime_checkable
class LeasedTraffic(Protocol):
    """A ``TrafficRouter`` whose splits expire unless renewed (then all traffic goes back to stable)."""

    def renew(self) -> None:
        """Extend the lease of the rules applied last."""


@runtime_checkable
class PromotesInPlace(Protocol):
    """``Workloads`` whose stable workload lives on (a Kubernetes Deployment that ``goship deploy`` owns):
    at promotion, once the canary's replicas carry all traffic, the stable workload rolls out the canary's
    version and takes the traffic back; the canary's own workload then goes to zero."""

    def promote_in_place(self, stable: str, canary: str) -> bool:
        """Roll ``canary``'s version out onto ``stable``'s workload and point ``canary``'s traffic at it.
        True when it is available; False when it did not become so (and was put back as it was)."""


class CanaryEngine:
    """Runs one canary of ``canary`` against ``stable``; commands act on the persisted state, so they work
    from another process as well as from this one."""

    def __init__(
        self,
        workloads: Workloads,
        router: TrafficRouter,
        metrics: MetricsSource,
        spec: CanarySpec,
        *,
        stable: str,
        canary: str,
        state: StateStore | Path,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        source: str | None = None,
        service: str = "",
    ) -> None:
        self.workloads = workloads
        self.router = router
        self.metrics = metrics
        self.spec = spec
        self.stable = stable
        self.canary = canary
        self.store = canary_state.FileState(state) if isinstance(state, Path) else state
        # Wall-clock time by default: the state is read back by another process.
        self.clock = clock
        self.sleep = sleep
        self.judge: Judge = JUDGES[spec.judge](**dict(spec.judge_settings))
        # Where the numbers come from, for the decision log.
        self.source = source if source is not None else type(metrics).__name__
        self.webhooks = WebhookRunner(spec.webhooks)
        self.service = service

    # -- commands ---------------------------------------------------------------------------------

    def start(self, *, target: Mapping[str, Any] | None = None) -> CanaryState:
        """Begin a new canary and run it to the end; refused while another is active on the state file."""
        self.begin(target=target)
        return self.run()

    def begin(self, *, target: Mapping[str, Any] | None = None) -> CanaryState:
        """Persist a new canary (``initializing``) without driving it; :meth:`run` drives it. Refused while
        another is active on the state file. ``target`` is kept in the state for whoever takes it over."""
        refuse_if_active(self.store.load(), where=self.store.where)
        now = self.clock()
        state = CanaryState(
            stable=self.stable,
            canary=self.canary,
            phase="initializing",
            weights=self.spec.weights(),
            judge=self.spec.judge,
            started=now,
            step_started=now,
            target=dict(target or {}),
        )
        return self._save(
            self._event(state, "phase", f"canary of {self.canary} against {self.stable} started")
        )

    def run(self, *, takeover: bool = False) -> CanaryState:
        """Drive the persisted canary until it succeeds or fails (a new engine continues a killed one).
        ``takeover``: the ports lost what the last engine set up (a restarted runtime), so the current
        step is set up again from stable before it is judged."""
        state = self._load()
        if state.active and state.phase != "initializing":
            state = self._take_over(state) if takeover else self._unjudged_to_stable(state)
        while state.active:
            # Each analysis reloads the file first, so commands from other processes are seen.
            state = self._advance(state)
        return state

    def pause(self) -> CanaryState:
        """Hold the canary at its step: it is still judged, but neither advances nor is promoted."""
        state = self._active("pause")
        return self._save(self._event(dataclasses.replace(state, paused=True), "phase", "paused"))

    def resume(self) -> CanaryState:
        """Let a paused canary advance again (call :meth:`run` to drive it if no engine is running)."""
        state = self._active("resume")
        return self._save(self._event(dataclasses.replace(state, paused=False), "phase", "resumed"))

    def promote(self, *, force: bool = False) -> CanaryState:
        """Skip the remaining steps and promote; only when the last analysis passed, unless ``force``."""
        state = self._active("promote")
        if state.phase in ("promoting", "rolling-back"):
            raise UsageError(f"the canary of {state.canary} is already {state.phase}")
        if state.last_outcome != "pass" and not force:
            raise CheckFailedError(
                f"expected the last analysis of {state.canary} to pass before promotion "
                f"(got {state.last_outcome or 'no analysis yet'})",
                hint="wait for a passing analysis, or promote with --force",
            )
        why = "promotion confirmed" + (" (forced)" if force else "")
        return self._save(self._phase(dataclasses.replace(state, paused=False), "promoting", why))

    def abort(self, reason: str = "aborted by a person") -> CanaryState:
        """Roll back now: traffic to 100 % stable, then the canary scaled down."""
        state = self._active("abort")
        return self._roll_back(self._save(self._phase(state, "rolling-back", reason)))

    def to_stable(self, why: str) -> CanaryState:
        """All traffic back to stable, the canary left as it is for a later :meth:`run` (which enters the
        step again): what a driver that is stopping does so that no traffic stays on an unjudged canary."""
        state = self._load()
        if not state.active:
            return state
        # Whatever the phase says: a step's weight is applied before the phase that names it is saved.
        state = self._event(state, "note", f"{why}: traffic back to stable until the canary is resumed")
        return self._route(self._save(state), {self.stable: 100, self.canary: 0}, matches=False)

    def explain(self) -> tuple[Decision, ...]:
        """Every analysis so far, oldest first, with the numbers behind each verdict."""
        return self._load().decisions

    def status(self) -> CanaryState | None:
        """The persisted state, or ``None`` when no canary was started on the state file."""
        return self.store.load()

    # -- the state machine ------------------------------------------------------------------------

    def _advance(self, state: CanaryState) -> CanaryState:
        if state.phase == "initializing":
            return self._initialize(state)
        if state.phase in ("progressing", "awaiting-promotion"):
            return self._analyse(state)
        if state.phase == "promoting":
            return self._promote(state)
        return self._roll_back(state)

    def _initialize(self, state: CanaryState) -> CanaryState:
        state = self._route(state, {self.stable: 100, self.canary: 0}, matches=False)
        confirmed, state = self._hooks(state, "confirm-rollout")
        if not confirmed:  # asked again after an interval, nothing started meanwhile
            self._wait(self.spec.interval_s)
            return self._save(state)
        state, up = self._canary_up(state)
        if not up:
            return state
        ready, state = self._hooks(state, "pre-rollout")
        if not ready:
            failures = state.failures + 1
            state = dataclasses.replace(state, failures=failures)
            if failures >= self.spec.failure_threshold:
                why = f"the pre-rollout hooks said no {failures} time(s)"
                return self._save(self._phase(state, "rolling-back", why))
            self._wait(self.spec.interval_s)
            return self._save(state)
        state = self._with_commands(dataclasses.replace(state, failures=0))
        return self._enter_step(state, 0) if state.phase in _STEPPING else state

    def _enter_step(self, state: CanaryState, step: int) -> CanaryState:
        weight = state.weights[step]
        state = dataclasses.replace(state, step=step, step_started=self.clock())
        state = self._route(state, {self.stable: 100 - weight, self.canary: weight}, matches=True)
        return self._save(
            self._phase(state, "progressing", f"step {step + 1}/{len(state.weights)}: {weight} %")
        )

    def _analyse(self, state: CanaryState) -> CanaryState:
        self._wait(self.spec.interval_s)
        # Commands given while the window filled (pause, promote, abort) win over this analysis.
        state = self._load()
        if state.phase not in ("progressing", "awaiting-promotion"):
            return state
        stop = self.webhooks.call("rollback", self._hook_event(state, "rollback"))
        state = self._hook_log(state, stop)
        if asked := [r.name for r in stop if r.ok]:
            return self._save(self._phase(state, "rolling-back", f"rollback hook {asked[0]} asked for it"))
        rollout = self.webhooks.call("rollout", self._hook_event(state, "rollout"))
        state = self._hook_log(state, rollout)
        refused = [r for r in rollout if not r.ok]
        now = self.clock()
        try:
            window = self.metrics.window([self.stable, self.canary], self.spec.interval_s)
            unreadable = None
        except GoshipError as exc:  # Prometheus down, a query refused: no data, judged as such
            window, unreadable = {}, exc.message
        stable, canary = self._samples(window, self.stable), self._samples(window, self.canary)
        judge_state = state.judge_state
        if unreadable is not None and not refused:
            verdict = Verdict("wait", f"no data: the metrics source failed: {unreadable}", {}, {})
            judge_name, metric = "engine", "metrics source"
        elif refused:
            no = refused[0]
            answer = f"HTTP {no.status}" if no.status is not None else "no answer"
            verdict = Verdict("fail", f"rollout hook {no.name} said no ({answer}: {no.detail})", {}, {})
            judge_name, metric = "webhooks", "rollout hooks"
        elif canary.requests < self.spec.min_requests:
            verdict = Verdict(
                "wait",
                f"no data: canary served {canary.requests} of the {self.spec.min_requests} requests needed",
                {"canary_requests": float(canary.requests), "min_requests": float(self.spec.min_requests)},
                {"stable": stable.requests, "canary": canary.requests},
            )
            judge_name, metric = "engine", "requests"
        else:
            verdict, judge_state = self.judge.step(state.judge_state, stable, canary)
            judge_name = self.spec.judge
            # Named after what the judge weighed: its figures say whether latency was among them.
            judged_latency = any("latency" in k or k.endswith("_ms") for k in verdict.values)
            metric = "error rate and latency" if judged_latency else "error rate"
        overdue = now - state.step_started > self.spec.step_deadline_s
        if verdict.outcome == "wait" and overdue and state.phase == "progressing" and not state.paused:
            verdict = dataclasses.replace(
                verdict,
                outcome="fail",
                reason=f"no data: no verdict within the {self.spec.step_deadline_s:g}s step deadline "
                f"({verdict.reason})",
            )
        failures = (
            state.failures + 1
            if verdict.outcome == "fail"
            else 0
            if verdict.outcome == "pass"
            else state.failures
        )
        decision = Decision(
            time=now,
            step=state.step,
            weight=state.weight,
            window_s=self.spec.interval_s,
            judge=judge_name,
            samples=dict(verdict.samples),
            values={
                **verdict.values,
                "min_requests": float(self.spec.min_requests),
                "failure_threshold": float(self.spec.failure_threshold),
            },
            verdict=verdict.outcome,
            reason=verdict.reason,
            failures=failures,
            metric=metric,
            source=self.source,
        )
        state = dataclasses.replace(
            state,
            failures=failures,
            last_analysis=now,
            last_outcome=verdict.outcome,
            judge_state=judge_state,
            decisions=(*state.decisions, decision),
        )
        if failures >= self.spec.failure_threshold:
            return self._save(
                self._phase(
                    state, "rolling-back", f"{failures} consecutive failed analyses: {verdict.reason}"
                )
            )
        if verdict.outcome != "pass" or state.paused:
            return self._save(state)
        if state.phase == "awaiting-promotion" and self.spec.confirm_promotion:
            return self._save(state)  # a person promotes
        if state.step + 1 < len(state.weights):
            more, state = self._hooks(state, "confirm-traffic-increase")
            return self._enter_step(state, state.step + 1) if more else self._save(state)
        confirmed, state = self._hooks(state, "confirm-promotion")
        if self.spec.confirm_promotion or not confirmed:
            if state.phase == "awaiting-promotion":
                return self._save(state)
            who = "promote" if self.spec.confirm_promotion else "the confirm-promotion hooks"
            return self._save(
                self._phase(state, "awaiting-promotion", f"last step passed; waiting for {who}")
            )
        return self._save(self._phase(state, "promoting", "last step passed"))

    def _promote(self, state: CanaryState) -> CanaryState:
        state = self._scale(state, self.canary, self.spec.replicas)
        if not self._wait_available(self.canary, self.spec.replicas):
            return self._save(
                self._phase(
                    state,
                    "rolling-back",
                    f"{self.canary} did not get {self.spec.replicas} available replicas for promotion",
                )
            )
        state = self._route(state, {self.canary: 100}, matches=False)
        if isinstance(self.workloads, PromotesInPlace):
            # The stable workload takes the new version while it has no traffic, then all traffic again.
            state = self._save(
                self._event(state, "scale", f"the stable workload rolls out {self.canary} (no traffic on it)")
            )
            if not self.workloads.promote_in_place(self.stable, self.canary):
                why = f"the stable workload did not become available with {self.canary}; it was put back"
                return self._save(self._phase(state, "rolling-back", why))
            state = self._route(state, {self.canary: 100}, matches=False)
            state = self._scale(state, self.canary, 0)
        else:
            state = self._scale(state, self.stable, 0)
        state = self._phase(state, "succeeded", f"{self.canary} serves 100 % of traffic")
        return self._save(self._hooks(self._save(state), "post-rollout")[1])

    def _roll_back(self, state: CanaryState) -> CanaryState:
        # Traffic first: a canary scaled down while it still has weight would drop requests.
        state = self._route(state, {self.stable: 100}, matches=False)
        state = self._scale(state, self.canary, 0)
        state = self._phase(state, "failed", state.reason)
        return self._save(self._hooks(self._save(state), "post-rollout")[1])

    def _take_over(self, state: CanaryState) -> CanaryState:
        """Set the current step up again from stable: the ports forgot it (promotion and rollback need
        nothing of the kind: their actions are safe to repeat)."""
        if state.phase not in ("progressing", "awaiting-promotion"):
            return state
        since = state.last_analysis if state.last_analysis is not None else state.step_started
        state = self._event(
            state,
            "note",
            f"taken over {self.clock() - since:.0f}s after the last analysis; traffic back to stable "
            f"until {self.canary} is available again",
        )
        state = self._route(state, {self.stable: 100, self.canary: 0}, matches=False)
        state, up = self._canary_up(state)
        if not up:
            return state
        state = self._with_commands(state)
        return self._enter_step(state, state.step) if state.phase in _STEPPING else state

    def _canary_up(self, state: CanaryState) -> tuple[CanaryState, bool]:
        """Start the canary's replicas and wait for them; when they do not come up in time, the state
        says rolling back and ``False``."""
        replicas = self.spec.canary_replicas or self.spec.replicas
        state = self._scale(state, self.canary, replicas)
        up = self._wait_available(self.canary, replicas, until_commanded=True)
        if (moved := self._moved_by_command()) is not None:
            return moved, False
        if up:
            return state, True
        why = f"{self.canary} did not get {replicas} available replicas in {self.spec.ready_deadline_s:g}s"
        return self._save(self._phase(state, "rolling-back", why)), False

    def _moved_by_command(self) -> CanaryState | None:
        """The state as a command given while the engine waited left it (``promote``, ``abort`` from
        another process), or ``None`` when none moved it: the command wins."""
        latest = self._load()
        return latest if latest.phase not in _STEPPING else None

    def _with_commands(self, state: CanaryState) -> CanaryState:
        """``state`` after the commands given while the engine waited: a pause or resume is kept, not
        overwritten; a promote or abort wins outright (its state is returned, in a phase past stepping)."""
        latest = self._load()
        return latest if latest.phase not in _STEPPING else dataclasses.replace(state, paused=latest.paused)

    def _unjudged_to_stable(self, state: CanaryState) -> CanaryState:
        """Traffic goes back to stable when nobody judged the canary for longer than an interval."""
        since = state.last_analysis if state.last_analysis is not None else state.step_started
        idle = self.clock() - since
        if state.phase not in ("progressing", "awaiting-promotion") or idle <= (
            self.spec.interval_s + self.spec.stale_margin_s
        ):
            return state
        state = self._event(
            state, "note", f"the canary was not judged for {idle:.0f}s; traffic back to stable"
        )
        state = self._save(self._route(state, {self.stable: 100, self.canary: 0}, matches=False))
        # The step starts over (judge evidence is kept): its weight and deadline begin again now.
        return self._enter_step(state, state.step)

    # -- webhooks ---------------------------------------------------------------------------------

    def _hook_event(self, state: CanaryState, kind: HookType) -> HookEvent:
        return HookEvent(
            service=self.service,
            stable=self.stable,
            canary=self.canary,
            phase=_HOOK_PHASES.get(state.phase, "Progressing"),
            weight=state.weight,
        )

    def _hooks(self, state: CanaryState, kind: HookType) -> tuple[bool, CanaryState]:
        """Whether every hook of ``kind`` said yes (true when there are none); each answer is logged."""
        if not self.webhooks.of(kind):
            return True, state
        results = self.webhooks.call(kind, self._hook_event(state, kind))
        return all(r.ok for r in results), self._hook_log(state, results)

    def _hook_log(self, state: CanaryState, results: Sequence[HookResult]) -> CanaryState:
        for r in results:
            answer = f"HTTP {r.status}" if r.status is not None else "no answer"
            said = f": {r.detail}" if r.detail and not r.ok else ""
            state = self._event(
                state, "webhook", f"{r.type} hook {r.name}: {'yes' if r.ok else 'no'} ({answer}{said})"
            )
        return state

    # -- ports and persistence --------------------------------------------------------------------

    def rules(self, weights: Mapping[str, int], *, matches: bool) -> TrafficRules:
        """The traffic rules for ``weights``; with ``matches``, the spec's header matches, sticky header and
        mirror too (as while the canary is analysed)."""
        mirror = matches and self.spec.mirror_percent > 0
        return TrafficRules(
            weights=dict(weights),
            matches=self.spec.matches if matches else (),
            sticky_header=self.spec.sticky_header if matches else None,
            mirror_version=self.canary if mirror else None,
            mirror_percent=self.spec.mirror_percent if mirror else 0,
        )

    def _route(self, state: CanaryState, weights: Mapping[str, int], *, matches: bool) -> CanaryState:
        rules = self.rules(weights, matches=matches)
        self.router.apply(rules)
        shown = ", ".join(f"{v} {w} %" for v, w in weights.items())
        return self._save(self._event(state, "traffic", shown))

    def _scale(self, state: CanaryState, revision: str, replicas: int) -> CanaryState:
        self.workloads.scale(revision, replicas)
        return self._save(self._event(state, "scale", f"{revision} → {replicas} replicas"))

    def _wait_available(self, revision: str, replicas: int, *, until_commanded: bool = False) -> bool:
        """Whether ``revision`` has ``replicas`` available within the ready deadline; ``until_commanded``:
        give up as soon as a command (promote, abort) moves the canary on meanwhile."""
        deadline = self.clock() + self.spec.ready_deadline_s
        while True:
            if any(s.name == revision and s.available >= replicas for s in self.workloads.states()):
                return True
            if self.clock() > deadline or (until_commanded and self._moved_by_command() is not None):
                return False
            self._wait(self.spec.poll_s)

    def _wait(self, seconds: float) -> None:
        # Renewed before each wait, the lease outlives the wait by its margin; a stopped engine's does not.
        if isinstance(self.router, LeasedTraffic):
            self.router.renew()
        self.sleep(seconds)

    @staticmethod
    def _samples(window: Mapping[str, Any], version: str) -> Samples:
        got = window.get(version)
        if got is None:
            return Samples(0, 0)
        # The port reports latency quantiles per window, not raw latencies.
        return Samples(got.requests, min(got.errors, got.requests), latency_quantiles_ms=dict(got.latency_ms))

    def _phase(self, state: CanaryState, phase: Phase, reason: str) -> CanaryState:
        return self._event(
            dataclasses.replace(state, phase=phase, reason=reason), "phase", f"{phase}: {reason}"
        )

    def _event(self, state: CanaryState, kind: str, message: str) -> CanaryState:
        return dataclasses.replace(state, events=(*state.events, Event(self.clock(), kind, message)))

    def _save(self, state: CanaryState) -> CanaryState:
        self.store.save(state)
        return state

    def _load(self) -> CanaryState:
        state = self.store.load()
        if state is None:
            raise UsageError(
                f"no canary was started with {self.store.where}",
                hint="start one with 'goship canary start'",
            )
        return state

    def _active(self, command: str) -> CanaryState:
        state = self._load()
        if not state.active:
            raise UsageError(f"cannot {command} the canary of {state.canary}: it has {state.phase}")
        return state


__all__ = ["CanaryEngine", "CanarySpec", "LeasedTraffic", "PromotesInPlace"]
