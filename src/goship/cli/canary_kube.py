"""``goship canary … --target kubernetes``: the canary engine driven by this process on a cluster.

There is no daemon: ``start`` (and ``resume``) run the engine in the foreground until the canary is
promoted or rolled back, printing every action and analysis. The state lives in an annotation of the
canary's Deployment (:mod:`goship.kube.canary`), so ``status``, ``explain``, ``pause``, ``promote`` and
``abort`` work from any machine with the kubeconfig, and ``resume`` continues a canary whose ``goship``
was killed (traffic goes back to stable first when nobody judged it for an interval).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goship.errors import GoshipError, UsageError

if TYPE_CHECKING:
    from goship.cli._images import ImageSession
    from goship.image.services import Service
    from goship.kube.canary import AnnotationState, Provider
    from goship.kube.kubectl import Kubectl
    from goship.kube.release import Release
    from goship.rollout.canary import CanaryEngine
    from goship.rollout.canary_state import CanaryState


@dataclass(frozen=True)
class Cluster:
    """Where the command acts: kubectl's options as the command line gave them."""

    namespace: str | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    kubectl: str | None = None


@dataclass
class _Session:
    images: ImageSession
    chosen: Service
    kubectl: Kubectl
    namespace: str
    store: AnnotationState


def _open(service: str | None, store: Path | None, cluster: Cluster) -> _Session:
    from goship.cli._cluster import kubectl_for, open_service
    from goship.kube.canary import AnnotationState, canary_name

    images, chosen = open_service(service, store)
    client = kubectl_for(
        images,
        program=cluster.kubectl,
        kubeconfig=cluster.kubeconfig,
        context=cluster.context,
        namespace=cluster.namespace,
    )
    namespace = client.current_namespace()
    client = client.in_namespace(namespace)
    return _Session(
        images, chosen, client, namespace, AnnotationState(client, namespace, canary_name(chosen.name))
    )


class _Reporting:
    """The state store, printing each new action and analysis as the engine saves it."""

    def __init__(
        self, inner: AnnotationState, say: Callable[[str], None], *, seen: CanaryState | None
    ) -> None:
        from goship.ui.canary import decision_line, event_line

        self.inner = inner
        self.say = say
        self._event_line, self._decision_line = event_line, decision_line
        self._events = len(seen.events) if seen else 0
        self._decisions = len(seen.decisions) if seen else 0

    @property
    def where(self) -> str:
        return self.inner.where

    def load(self) -> CanaryState | None:
        return self.inner.load()

    def save(self, state: CanaryState) -> None:
        self.inner.save(state)
        self.save_seen(state)

    def save_seen(self, state: CanaryState) -> None:
        """Print what ``state`` holds that was not printed yet."""
        lines = [(e.time, self._event_line(state, e)) for e in state.events[self._events :]]
        lines += [(d.time, self._decision_line(state, d)) for d in state.decisions[self._decisions :]]
        for _, line in sorted(lines, key=lambda entry: entry[0]):
            self.say(line)
        self._events, self._decisions = len(state.events), len(state.decisions)


def _engine(
    session: _Session,
    *,
    stable: str,
    release: Release,
    doc: Mapping[str, Any],
    say: Callable[[str], None],
    seen: CanaryState | None,
    stable_live: Mapping[str, Any] | None = None,
) -> tuple[CanaryEngine, Provider]:
    """The engine for a canary of ``release`` against ``stable``, with the cluster's ports."""
    from goship.cli._cluster import deployer_for
    from goship.kube.canary import (
        KubeCanaryWorkloads,
        canary_upstream,
        deploy_promotion,
        prometheus_metrics,
        provider,
    )
    from goship.kube.manifests import render, workload
    from goship.local.canary import spec_from_document
    from goship.rollout.canary import CanaryEngine

    config = session.images.session.config
    kube = config.kubernetes
    name = session.chosen.name
    canary = release.version
    chosen = provider(kube, session.kubectl, session.namespace, service=name, stable=stable, canary=canary)
    work = workload(name, ports=session.chosen.settings.ports, user=session.chosen.settings.user, config=kube)
    promotion_objects = render(work, release, kube, namespace=session.namespace)
    deployer = deployer_for(session.images, session.chosen, session.kubectl, json=False)
    deployer.say = say
    workloads = KubeCanaryWorkloads(
        session.kubectl,
        session.namespace,
        stable=stable,
        canary=canary,
        service=name,
        promote=deploy_promotion(deployer, release, promotion_objects, timeout=kube.rollout_timeout),
        router=chosen.router,
    )
    upstream = canary_upstream(session.namespace, name, kube.service_port)
    metrics = prometheus_metrics(
        config.canary.metrics, stable=stable, canary=canary, canary_upstream=upstream
    )
    # Before it takes all traffic the canary gets as many replicas as stable serves with now (the HPA may
    # have scaled it past goship.yaml's count).
    live = stable_live if stable_live is not None else session.kubectl.get("deployment.apps", name)
    serving = ((live or {}).get("spec") or {}).get("replicas")
    replicas = max(kube.replicas, serving if isinstance(serving, int) else 0)
    spec = spec_from_document(doc, canary=canary, replicas=replicas)
    # The canary's pods get as long to become available as a rollout has to progress.
    spec = dataclasses.replace(
        spec,
        ready_deadline_s=kube.progress_deadline,
        poll_s=1.0,
        stale_margin_s=stale_margin(spec.interval_s),
    )
    engine = CanaryEngine(
        workloads,
        chosen.router,
        metrics,
        spec,
        stable=stable,
        canary=canary,
        state=_Reporting(session.store, say, seen=seen),
        source=metrics.source,
        service=name,
    )
    return engine, chosen


def _finish(state: CanaryState, chosen: Provider, *, json: bool) -> int:
    from goship.cli.canary import report_outcome

    if chosen.remove_at_end and not state.active:
        chosen.router.delete()
    return report_outcome(state, json=json, action="finished")


def start(
    *,
    to: str,
    doc: dict[str, Any],
    service: str | None,
    store: Path | None,
    cluster: Cluster,
    dry_run: bool,
    json: bool,
) -> int:
    """``goship canary start --target kubernetes``: deploy the canary beside stable and drive it."""
    from goship.cli._cluster import release_for
    from goship.cli._local import dry, say_for
    from goship.kube.canary import canary_name, canary_objects, stable_version
    from goship.kube.manifests import workload
    from goship.local.canary import spec_from_document
    from goship.rollout.canary_state import refuse_if_active

    session = _open(service, store, cluster)
    name = session.chosen.name
    spec_from_document(doc, canary=to, replicas=1)  # settings are refused before the cluster is asked
    refuse_if_active(session.store.load(), where=session.store.where, flags=" --target kubernetes")
    release = release_for(session.images, session.chosen, version=to, image=None)
    live = session.kubectl.get("deployment.apps", name)
    stable = stable_version(live, service=name, namespace=session.namespace)
    if stable == release.version:
        raise UsageError(
            f"{name} already runs {stable} in {session.namespace}: a canary needs another version",
            hint="name the new release with --to",
        )
    kube = session.images.session.config.kubernetes
    weights = ", ".join(f"{w} %" for w in spec_from_document(doc, canary=to, replicas=1).weights())
    plan = (
        f"canary of {release.version} ({release.digest[:19]}…) against {stable} in {session.namespace}: "
        f"Deployment and Service {canary_name(name)}, traffic by {kube.canary.provider} {weights}, then promotion"
    )
    say = say_for(json)
    engine, chosen = _engine(
        session, stable=stable, release=release, doc=doc, say=say, seen=None, stable_live=live
    )
    # What the provider will be asked to carry is refused now (a dry run too), before anything is created.
    first = engine.spec.weights()[0]
    chosen.router.check(engine.rules({stable: 100 - first, release.version: first}, matches=True))
    if dry_run:
        return dry(f"would start a {plan}", json=json)
    work = workload(name, ports=session.chosen.settings.ports, user=session.chosen.settings.user, config=kube)
    canary_live = session.kubectl.get("deployment.apps", canary_name(name))
    session.kubectl.apply(
        canary_objects(work, release, kube, namespace=session.namespace, live=canary_live),
        force_conflicts=True,
    )
    say(f"started: {plan}")
    engine.begin(
        target={
            "kubernetes": {
                "namespace": session.namespace,
                "release": dataclasses.asdict(release),
                "spec": doc,
            }
        }
    )
    return _finish(_drive(engine, takeover=False), chosen, json=json)


def _drive(engine: CanaryEngine, *, takeover: bool) -> CanaryState:
    """Run the canary to its end here. Stopped by Ctrl-C or SIGTERM, the driver sends all traffic back to
    stable before it goes (the state stays active: ``resume`` takes it over); only a SIGKILL leaves the
    split as it was until someone resumes or aborts it."""
    import signal

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        return engine.run(takeover=takeover)
    except KeyboardInterrupt:
        engine.to_stable(f"goship was stopped (pid {os.getpid()})")
        raise CanaryStopped(engine.canary) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


class CanaryStopped(GoshipError):
    """The driving goship was stopped; its canary waits, traffic on stable, for ``resume``."""

    exit_code = 130

    def __init__(self, canary: str) -> None:
        super().__init__(
            f"stopped: the canary of {canary} is held with all traffic on stable",
            hint="'goship canary resume --target kubernetes' continues it; "
            "'goship canary abort --target kubernetes' ends it",
        )


def _active(session: _Session, command: str) -> CanaryState:
    state = session.store.load()
    if state is None:
        raise UsageError(
            f"nothing to {command}: no canary of {session.chosen.name} in {session.namespace}",
            hint="start one with 'goship canary start --target kubernetes --to VERSION'",
        )
    if not state.active:
        raise UsageError(
            f"nothing to {command}: the canary of {state.canary} has {state.phase}",
            hint="'goship canary explain --target kubernetes' shows why",
        )
    return state


def _resumed_engine(
    session: _Session, state: CanaryState, *, say: Callable[[str], None]
) -> tuple[CanaryEngine, Provider]:
    from goship.kube.release import Release

    target = (state.target or {}).get("kubernetes") or {}
    try:
        release = Release(**target["release"])
        doc = dict(target["spec"])
    except (KeyError, TypeError) as exc:
        raise UsageError(f"the canary's state names no release to resume ({session.store.where})") from exc
    return _engine(session, stable=state.stable, release=release, doc=doc, say=say, seen=state)


def stale_margin(interval_s: float) -> float:
    """How late past its interval an engine's next save may be before nobody is taken to drive the canary:
    half an interval, at least 5 s (an analysis is a few Prometheus queries and one annotation write)."""
    return max(5.0, interval_s / 2)


def driven(state: CanaryState, interval_s: float, *, now: float | None = None) -> bool:
    """Whether an engine saved the state within the last interval (plus :func:`stale_margin`): someone
    drives it."""
    margin_s = stale_margin(interval_s)
    last = max([state.step_started, state.last_analysis or 0.0, *(e.time for e in state.events[-1:])])
    return (now if now is not None else time.time()) - last <= interval_s + margin_s


def _interval(state: CanaryState, session: _Session) -> float:
    """The analysis interval the canary was started with (flags included), else goship.yaml's."""
    spec = ((state.target or {}).get("kubernetes") or {}).get("spec") or {}
    try:
        return float(spec["interval_s"])
    except (KeyError, TypeError, ValueError):
        return session.images.session.config.canary.interval


def status(*, service: str | None, store: Path | None, cluster: Cluster, json: bool) -> int:
    from goship.cli.canary import canary_document
    from goship.ui import console
    from goship.ui.canary import render_status

    session = _open(service, store, cluster)
    state = session.store.load()
    judged = state is not None and state.active and driven(state, _interval(state, session))
    if json:
        console.print_json(
            {"canary": canary_document(state) if state else None, "judged": judged, "runtime": False}
        )
        return 0
    if state is None:
        console.info(
            f"{session.chosen.name}: no canary in {session.namespace} "
            "(start one with 'goship canary start --target kubernetes --to VERSION')"
        )
        return 0
    render_status(console.stdout(), state, judged=judged, runtime=False, cluster=True)
    return 0


def explain(*, service: str | None, store: Path | None, cluster: Cluster, json: bool) -> int:
    from goship.cli.canary import canary_document
    from goship.ui import console
    from goship.ui.canary import render_explain

    session = _open(service, store, cluster)
    state = session.store.load()
    if state is None:
        raise UsageError(
            f"{session.chosen.name}: no canary in {session.namespace} to explain",
            hint="start one with 'goship canary start --target kubernetes'",
        )
    if json:
        console.print_json({"canary": canary_document(state)})
        return 0
    render_explain(console.stdout(), state)
    return 0


def command(
    command: str,
    *,
    service: str | None,
    store: Path | None,
    cluster: Cluster,
    dry_run: bool,
    json: bool,
    force: bool = False,
    reason: str = "",
    wait: bool = False,
) -> int:
    """pause, resume, promote or abort on the state in the cluster; ``abort`` rolls back at once, and
    ``resume`` drives the canary here when no engine does."""
    from goship.cli._local import dry, say_for
    from goship.cli.canary import report_command

    session = _open(service, store, cluster)
    state = _active(session, command)
    if dry_run:
        return dry(f"would {command} the canary of {state.canary} against {state.stable}", json=json)
    say = say_for(json)
    engine, chosen = _resumed_engine(session, state, say=say)
    if command == "pause":
        state = engine.pause()
    elif command == "promote":
        state = engine.promote(force=force)
    elif command == "abort":
        state = engine.abort(reason)
        if chosen.remove_at_end:
            chosen.router.delete()
        return report_command(
            state, {"phase": state.phase, "reason": state.reason}, json=json, action="aborted"
        )
    else:
        if state.paused:
            state = engine.resume()
        if not driven(state, engine.spec.interval_s):
            say(f"nobody judged the canary of {state.canary} for an interval: driving it from here")
            return _finish(_drive(engine, takeover=True), chosen, json=json)
        if wait:
            return _finish(
                _follow(session, state, say, poll_s=min(engine.spec.interval_s, 5.0)), chosen, json=json
            )
    return report_command(state, {"phase": state.phase, "paused": state.paused}, json=json, action=command)


def _follow(
    session: _Session, state: CanaryState, say: Callable[[str], None], *, poll_s: float
) -> CanaryState:
    """Print what the engine elsewhere does until the canary ends."""
    report = _Reporting(session.store, say, seen=state)
    while state.active:
        time.sleep(poll_s)
        state = session.store.load() or state
        report.save_seen(state)
    return state


__all__ = ["Cluster", "command", "driven", "explain", "start", "status"]
