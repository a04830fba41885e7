"""``goship canary``: canary releases on the local runtime — ``start`` a new version beside the one that
runs, then ``status``, ``pause``, ``resume``, ``promote``, ``abort`` and ``explain``; the runtime daemon
judges it (see :mod:`goship.local.canary`). With ``--target kubernetes`` each command is
:mod:`goship.cli.canary_kube`'s. ``simulate`` runs every judge on the same synthetic traffic."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from goship.cli._app import App, Parameter
from goship.cli._local import dry, open_local, request_for, running, say_for, version_name
from goship.errors import CheckFailedError, EnvironmentFailure, UsageError

if TYPE_CHECKING:
    from goship.cli._images import ImageSession
    from goship.image.services import Service
    from goship.local.control import Runtime
    from goship.rollout.canary_state import CanaryState

app = App(
    name="canary",
    help="Canary releases on the local runtime or a cluster (--target kubernetes): start, status, pause, "
    "resume, promote, abort, explain; "
    "'simulate' compares the judges on synthetic traffic.",
)

Json = Annotated[bool, Parameter(negative=())]
Flag = Annotated[bool, Parameter(negative=())]
JudgeName = Literal["sequential", "threshold", "mann-whitney"]
Target = Annotated[
    Literal["local", "kubernetes"],
    Parameter(
        help="local (the runtime 'goship up' started) or kubernetes (the cluster kubectl reaches; the "
        "canary's state lives in an annotation there)."
    ),
]
Namespace = Annotated[
    str | None,
    Parameter(
        name=["--namespace", "-n"],
        help="With --target kubernetes: the namespace (default: kubernetes.namespace, else the context's).",
    ),
]
Kubeconfig = Annotated[
    Path | None, Parameter(help="With --target kubernetes: the kubeconfig file (default: as kubectl's).")
]
Context = Annotated[
    str | None, Parameter(help="With --target kubernetes: the kubeconfig context (default: its current one).")
]
KubectlProgram = Annotated[
    str | None,
    Parameter(help="With --target kubernetes: the kubectl program (default: $GOSHIP_KUBECTL, else kubectl)."),
]


def _directory(service: str | None, store: Path | None) -> tuple[str, Path]:
    """The service's name and its runtime directory, without building anything."""

    _, chosen, directory = open_local(service, store)
    return chosen.name, directory


def _state_path(directory: Path) -> Path:
    from goship.local.canary import CANARY_FILE

    return directory / CANARY_FILE


def _load(directory: Path) -> CanaryState | None:
    from goship.rollout import canary_state

    return canary_state.load(_state_path(directory))


def _active(directory: Path, command: str) -> CanaryState:
    state = _load(directory)
    if state is None:
        raise UsageError(
            f"nothing to {command}: no canary was started here", hint="start one with 'goship canary start'"
        )
    if not state.active:
        raise UsageError(
            f"nothing to {command}: the canary of {state.canary} has {state.phase}",
            hint="'goship canary explain' shows why; 'goship canary start' begins another",
        )
    return state


def _live(directory: Path) -> Runtime | None:
    """The runtime if its daemon runs (a dead one is left as it is: status and explain only read)."""
    from goship.local.control import find_runtime

    runtime = find_runtime(directory)
    return runtime if runtime is not None and runtime.alive else None


def _judged(runtime: Runtime | None) -> bool:
    if runtime is None:
        return False
    try:
        return bool((runtime.client(timeout=5.0).status().get("canary") or {}).get("running"))
    except EnvironmentFailure:
        return False


def _document(state: CanaryState, *, judged: bool | None = None) -> dict[str, Any]:
    from goship.rollout import canary_state

    doc = canary_state.to_json(state)
    # Where the images are, and the judge's working state: the runtime's business, in the state file.
    doc.pop("target", None)
    doc.pop("judge_state", None)
    if judged is not None:
        doc["judged"] = judged
    return doc


def _spec(
    *,
    steps: str | None,
    interval: str | None,
    judge: str | None,
    min_requests: int | None,
    failure_threshold: int | None,
    confirm_promotion: bool,
) -> dict[str, Any]:
    """goship.yaml's canary section with the flags laid over it, as the daemon takes it."""
    from goship.cli._session import open_workspace
    from goship.config import parse_seconds
    from goship.local.canary import spec_document

    config = open_workspace().config.canary
    doc = spec_document(config)
    if steps is not None:
        try:
            doc["steps"] = [int(w) for w in steps.replace(" ", "").split(",") if w]
        except ValueError as exc:
            raise UsageError(f"--steps: expected percents such as 5,25,50 (not {steps!r})") from exc
    if interval is not None:
        try:
            doc["interval_s"] = parse_seconds(interval)
        except ValueError as exc:
            raise UsageError(f"--interval: {exc}") from exc
    if judge is not None:
        doc["judge"] = judge
        if judge != config.judge:
            doc["judge_settings"] = {}  # the file's settings are another judge's
    for key, value in (("min_requests", min_requests), ("failure_threshold", failure_threshold)):
        if value is not None:
            doc[key] = value
    if confirm_promotion:
        doc["confirm_promotion"] = True
    return doc


def _follow(runtime: Runtime, directory: Path, *, json: bool, poll_s: float = 0.25) -> CanaryState:
    """Print every action and analysis as it happens, until the canary has succeeded or failed."""
    import time

    from goship.local.control import pid_alive
    from goship.ui.canary import decision_line, event_line

    say = say_for(json)
    seen_events = seen_decisions = 0
    while True:
        state = _load(directory)
        if state is None:
            raise EnvironmentFailure(f"the canary's state file is gone from {directory}")
        lines = [(e.time, event_line(state, e)) for e in state.events[seen_events:]]
        lines += [(d.time, decision_line(state, d)) for d in state.decisions[seen_decisions:]]
        for _, line in sorted(lines, key=lambda entry: entry[0]):
            say(line)
        seen_events, seen_decisions = len(state.events), len(state.decisions)
        if not state.active:
            return state
        if not pid_alive(runtime.pid) or not _judged(runtime):
            # One more look: it may have finished between the two reads.
            state = _load(directory) or state
            if not state.active:
                continue
            raise EnvironmentFailure(
                f"the canary of {state.canary} is {state.phase} but nothing judges it any more "
                "(the runtime daemon stopped or its engine failed; see daemon.log)",
                hint="the router sends traffic back to the stable version when its lease runs out; "
                "'goship canary resume' continues the canary, 'goship canary abort' stops it",
            )
        time.sleep(poll_s)


def _outcome(state: CanaryState, *, json: bool, action: str) -> int:
    """Exit 0 when promoted, 1 when rolled back."""
    from goship.ui import console
    from goship.ui.canary import progress_line

    if json:
        console.print_json({"action": action, "canary": _document(state)})
    else:
        console.info(progress_line(state))
    if state.phase == "succeeded":
        return 0
    if json:
        return 1
    raise CheckFailedError(
        f"the canary of {state.canary} was rolled back: {state.reason}",
        hint="'goship canary explain' shows every analysis",
    )


@app.command
def start(
    *,
    to: str,
    steps: str | None = None,
    interval: str | None = None,
    judge: JudgeName | None = None,
    min_requests: int | None = None,
    failure_threshold: int | None = None,
    confirm_promotion: Flag = False,
    wait: Flag = False,
    service: str | None = None,
    store: Path | None = None,
    dry_run: Flag = False,
    json: Json = False,
    target: Target = "local",
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    kubectl: KubectlProgram = None,
) -> int:
    """Start a canary of another version beside the one the local runtime (or the cluster) runs.

    Traffic shifts to it step by step (5 % → 25 % → 50 % → promotion by default), each step judged
    against the stable version; a healthy canary is promoted, a bad one rolled back, by the runtime
    daemon. Returns at once unless --wait.
    With --target kubernetes: a <service>-canary Deployment and Service beside the stable ones, traffic
    moved by goship.yaml's kubernetes.canary provider, judged from canary.metrics' Prometheus; this
    goship drives it to the end (exit 0 promoted, 1 rolled back; Ctrl-C puts all traffic back on stable
    and leaves it for 'resume').
    Settings come from goship.yaml's canary section; the options below override them.

    Parameters
    ----------
    to
        The canary: a git revision (built into the store) or an image in the store (e.g. hello:v1.4.0);
        with --target kubernetes, a release version 'goship publish' recorded (e.g. v1.4.0).
    steps
        Canary percent per step, e.g. 5,25,50.
    interval
        Analysis interval, e.g. 30s or 1m.
    judge
        Who judges each analysis.
    min_requests
        Fewer canary requests in a window is 'wait', not judged.
    failure_threshold
        Consecutive failed analyses before the rollback.
    confirm_promotion
        After the last step, wait for 'goship canary promote'.
    wait
        Follow the canary until it ends; exit 0 when promoted, 1 when rolled back.
    service
        The service (needed when the repository has several).
    store
        goship's local OCI image layout; the runtime's state lives beside it.
    dry_run
        Say what would start, start nothing.
    json
        Print one JSON document: {"action", "canary"} (with --wait, the canary's whole record).

    Example: goship canary start --to v1.4.0 --wait
    """
    if target == "kubernetes":
        from goship.cli import canary_kube

        return canary_kube.start(
            to=to,
            doc=_spec(
                steps=steps,
                interval=interval,
                judge=judge,
                min_requests=min_requests,
                failure_threshold=failure_threshold,
                confirm_promotion=confirm_promotion,
            ),
            service=service,
            store=store,
            cluster=canary_kube.Cluster(namespace, kubeconfig, context, kubectl),
            dry_run=dry_run,
            json=json,
        )
    from goship.local.canary import spec_from_document

    images, chosen, directory = open_local(service, store)
    current = _load(directory)
    if current is not None and current.active:
        raise UsageError(
            f"a canary of {current.canary} against {current.stable} is already {current.phase} "
            f"(step {current.step + 1} of {len(current.weights)})",
            hint="see 'goship canary status'; stop it with 'goship canary abort' (or continue a stopped one "
            "with 'goship canary resume')",
        )
    doc = _spec(
        steps=steps,
        interval=interval,
        judge=judge,
        min_requests=min_requests,
        failure_threshold=failure_threshold,
        confirm_promotion=confirm_promotion,
    )
    spec_from_document(doc, canary=to, replicas=1)  # settings are refused before anything is looked up
    runtime = running(directory)
    if runtime is None:
        raise UsageError(
            f"{chosen.name} is not running here: a canary is judged against the version that runs",
            hint="start the stable version with 'goship up', then 'goship canary start --to VERSION'",
        )
    status = runtime.client().status()
    spec = spec_from_document(doc, canary=to, replicas=max(int(status["desired_replicas"] or 1), 1))
    if dry_run:
        wanted = version_name(images, chosen, to) or to
        shown = ", ".join(f"{w} %" for w in spec.weights())
        return dry(
            f"would start a canary of {wanted} against {status['version']}: {shown}, then promotion; "
            f"analysis every {spec.interval_s:g}s by the {spec.judge} judge",
            json=json,
        )
    request = {**request_for(images, chosen, to), "spec": doc}
    answer = runtime.client().canary(request)
    say = say_for(json)
    say(
        f"canary of {answer['canary']} (revision {answer['revision']}) against {answer['stable']} started; "
        "the runtime daemon judges it"
    )
    if wait:
        return _outcome(_follow(runtime, directory, json=json), json=json, action="started")
    state = _load(directory)
    if json:
        from goship.ui import console

        console.print_json({"action": "started", "canary": _document(state, judged=True) if state else None})
    else:
        say("follow it with 'goship canary status' or 'goship canary explain'")
    return 0


@app.command
def status(
    *,
    service: str | None = None,
    store: Path | None = None,
    json: Json = False,
    target: Target = "local",
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    kubectl: KubectlProgram = None,
) -> int:
    """Where the service's canary stands: phase, step and weight, the last analysis.

    Also whether the runtime is judging it now. Reads the persisted state, so it works when the runtime
    is down too.

    Parameters
    ----------
    service
        The service (needed when the repository has several).
    store
        goship's local OCI image layout; the runtime's state lives beside it.
    json
        Print {"canary": the state (null when none), "judged", "runtime"} as one JSON document.
    """
    if target == "kubernetes":
        from goship.cli import canary_kube

        return canary_kube.status(
            service=service,
            store=store,
            cluster=canary_kube.Cluster(namespace, kubeconfig, context, kubectl),
            json=json,
        )
    from goship.ui import console

    name, directory = _directory(service, store)
    state = _load(directory)
    runtime = _live(directory)
    judged = _judged(runtime)
    if json:
        console.print_json(
            {"canary": _document(state) if state else None, "judged": judged, "runtime": runtime is not None}
        )
        return 0
    if state is None:
        console.info(f"{name}: no canary yet (start one with 'goship canary start --to VERSION')")
        return 0
    from goship.ui.canary import render_status

    render_status(console.stdout(), state, judged=judged, runtime=runtime is not None)
    return 0


@app.command
def explain(
    *,
    version: str | None = None,
    service: str | None = None,
    store: Path | None = None,
    json: Json = False,
    target: Target = "local",
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    kubectl: KubectlProgram = None,
) -> int:
    """Why the canary went as it did, step by step.

    Every action and every analysis in order — metric and source, window, samples per version, the
    judge's figures against its thresholds, the verdict and its reason.

    Parameters
    ----------
    version
        Explain the latest canary of this version (earlier, finished canaries are kept).
    service
        The service (needed when the repository has several).
    store
        goship's local OCI image layout; the runtime's state lives beside it.
    json
        Print {"canary": the whole record, with "decisions" and "events"} as one JSON document.
    """
    if target == "kubernetes":
        from goship.cli import canary_kube

        return canary_kube.explain(
            service=service,
            store=store,
            cluster=canary_kube.Cluster(namespace, kubeconfig, context, kubectl),
            json=json,
        )
    from goship.local.canary import find_canary
    from goship.ui import console

    name, directory = _directory(service, store)
    found = find_canary(directory, version)
    if found is None:
        which = f"of {version} " if version else ""
        raise UsageError(f"{name}: no canary {which}to explain", hint="start one with 'goship canary start'")
    state, _ = found
    if json:
        console.print_json({"canary": _document(state)})
        return 0
    from goship.ui.canary import render_explain

    render_explain(console.stdout(), state)
    return 0


def _command(
    command: str,
    body: dict[str, Any],
    *,
    service: str | None,
    store: Path | None,
    dry_run: bool,
    json: bool,
    plan: str,
) -> tuple[CanaryState, dict[str, Any] | None]:
    """A command for the daemon judging the canary; ``None`` as the answer for a dry run."""
    _, directory = _directory(service, store)
    state = _active(directory, command)
    if dry_run:
        dry(plan.format(canary=state.canary, stable=state.stable), json=json)
        return state, None
    runtime = _live(directory)
    if runtime is None:
        raise UsageError(
            f"cannot {command} the canary of {state.canary}: the runtime that judged it is not running",
            hint="continue it with 'goship canary resume', or stop it with 'goship canary abort'",
        )
    answer = runtime.client().canary_command(command, body)
    return _load(directory) or state, answer


def _done(state: CanaryState, answer: dict[str, Any], *, json: bool, action: str) -> int:
    from goship.ui import console
    from goship.ui.canary import progress_line

    if json:
        console.print_json({"action": action, **answer, "canary": _document(state)})
    else:
        console.info(str(answer.get("message") or progress_line(state)))
    return 0


@app.command
def pause(
    *,
    service: str | None = None,
    store: Path | None = None,
    dry_run: Flag = False,
    json: Json = False,
    target: Target = "local",
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    kubectl: KubectlProgram = None,
) -> int:
    """Hold the canary at its step.

    It is still judged (and still rolled back when bad) but neither advances nor is promoted until
    'goship canary resume'.

    Parameters
    ----------
    service
        The service (needed when the repository has several).
    store
        goship's local OCI image layout; the runtime's state lives beside it.
    dry_run
        Say what would be paused, do nothing.
    json
        Print {"action", "phase", "paused", "canary"} as one JSON document.
    """
    if target == "kubernetes":
        from goship.cli import canary_kube

        return canary_kube.command(
            "pause",
            service=service,
            store=store,
            cluster=canary_kube.Cluster(namespace, kubeconfig, context, kubectl),
            dry_run=dry_run,
            json=json,
        )
    state, answer = _command(
        "pause",
        {},
        service=service,
        store=store,
        dry_run=dry_run,
        json=json,
        plan="would pause the canary of {canary}",
    )
    return 0 if answer is None else _done(state, answer, json=json, action="paused")


@app.command
def promote(
    *,
    force: Flag = False,
    service: str | None = None,
    store: Path | None = None,
    dry_run: Flag = False,
    json: Json = False,
    target: Target = "local",
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    kubectl: KubectlProgram = None,
) -> int:
    """Promote the canary now, skipping the steps left.

    It gets every replica and all traffic, then the stable version is scaled down. Only after a passing
    analysis, unless --force; this is also how a canary with confirm_promotion waiting after its last
    step goes on.

    Parameters
    ----------
    force
        Promote even though the last analysis did not pass.
    service
        The service (needed when the repository has several).
    store
        goship's local OCI image layout; the runtime's state lives beside it.
    dry_run
        Say what would be promoted, do nothing.
    json
        Print {"action", "phase", "canary"} as one JSON document.
    """
    if target == "kubernetes":
        from goship.cli import canary_kube

        return canary_kube.command(
            "promote",
            service=service,
            store=store,
            cluster=canary_kube.Cluster(namespace, kubeconfig, context, kubectl),
            dry_run=dry_run,
            json=json,
            force=force,
        )
    state, answer = _command(
        "promote",
        {"force": force},
        service=service,
        store=store,
        dry_run=dry_run,
        json=json,
        plan="would promote {canary} to 100 % and scale {stable} down",
    )
    return 0 if answer is None else _done(state, answer, json=json, action="promoting")


@app.command
def abort(
    *,
    reason: str = "aborted with 'goship canary abort'",
    service: str | None = None,
    store: Path | None = None,
    dry_run: Flag = False,
    json: Json = False,
    target: Target = "local",
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    kubectl: KubectlProgram = None,
) -> int:
    """Roll the canary back now.

    All traffic goes to the stable version first, then the canary's replicas go.
    Works when the runtime is down too (the canary is then only marked failed).

    Parameters
    ----------
    reason
        Why, for the decision log.
    service
        The service (needed when the repository has several).
    store
        goship's local OCI image layout; the runtime's state lives beside it.
    dry_run
        Say what would be rolled back, do nothing.
    json
        Print {"action", "phase", "canary"} as one JSON document.
    """
    if target == "kubernetes":
        from goship.cli import canary_kube

        return canary_kube.command(
            "abort",
            service=service,
            store=store,
            cluster=canary_kube.Cluster(namespace, kubeconfig, context, kubectl),
            dry_run=dry_run,
            json=json,
            reason=reason,
        )
    from goship.local.canary import abandon

    _, directory = _directory(service, store)
    state = _active(directory, "abort")
    if dry_run:
        return dry(f"would roll the canary of {state.canary} back to {state.stable}", json=json)
    runtime = _live(directory)
    if runtime is None:
        state = abandon(_state_path(directory), f"{reason} (the runtime was not running)")
        return _done(state, {"phase": state.phase, "reason": state.reason}, json=json, action="aborted")
    answer = runtime.client().canary_command("abort", {"reason": reason})
    return _done(_load(directory) or state, answer, json=json, action="aborted")


@app.command
def resume(
    *,
    wait: Flag = False,
    service: str | None = None,
    store: Path | None = None,
    dry_run: Flag = False,
    json: Json = False,
    target: Target = "local",
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    kubectl: KubectlProgram = None,
) -> int:
    """Let a paused canary go on, or continue one whose judge is gone (goship or its runtime was killed).

    The runtime is brought back with the stable version when it is down, then the canary is taken over —
    traffic to stable, the canary's replicas back, its current step again — and judged to the end.

    Parameters
    ----------
    wait
        Follow the canary until it ends; exit 0 when promoted, 1 when rolled back.
    service
        The service (needed when the repository has several).
    store
        goship's local OCI image layout; the runtime's state lives beside it.
    dry_run
        Say what would happen, do nothing.
    json
        Print {"action", "canary"} as one JSON document.
    """
    if target == "kubernetes":
        from goship.cli import canary_kube

        return canary_kube.command(
            "resume",
            service=service,
            store=store,
            cluster=canary_kube.Cluster(namespace, kubeconfig, context, kubectl),
            dry_run=dry_run,
            json=json,
            wait=wait,
        )

    images, chosen, directory = open_local(service, store)
    state = _active(directory, "resume")
    runtime = running(directory)
    if dry_run:
        how = "resume" if runtime is not None else f"start the runtime with {state.stable}, then take over"
        return dry(f"would {how} the canary of {state.canary} at step {state.step + 1}", json=json)
    say = say_for(json)
    if runtime is None:
        runtime = _bring_back(images, chosen, directory, state, say)
    answer = runtime.client().canary_command("resume")
    if answer.get("taken_over"):
        say(f"took over the canary of {state.canary} at step {int(answer['step']) + 1}")
    else:
        say(str(answer.get("message") or f"resumed the canary of {state.canary}"))
    if wait:
        return _outcome(_follow(runtime, directory, json=json), json=json, action="resumed")
    return _done(_load(directory) or state, answer, json=json, action="resumed")


def _bring_back(
    images: ImageSession, chosen: Service, directory: Path, state: CanaryState, say: Callable[[str], None]
) -> Runtime:
    """``goship up`` with the canary's stable image, as the canary's state recorded it."""
    from goship.local.control import start_daemon, wait_rollout
    from goship.local.router import ensure_router_binary

    try:
        stable, replicas = dict(state.target["stable"]), int(state.target["replicas"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(
            f"the canary of {state.canary} does not say which image its stable version {state.stable} is",
            hint=f"start it with 'goship up --version {state.stable}', then 'goship canary resume'",
        ) from exc
    cache = images.store.root.parent
    binary = ensure_router_binary(images.go, cache / "bin")
    runtime = start_daemon(
        directory, service=chosen.name, router_binary=binary, rootfs_cache=cache / "rootfs"
    )
    say(f"started the runtime daemon for {chosen.name} (pid {runtime.pid}) with {state.stable} × {replicas}")
    answer = runtime.client().rollout({**stable, "replicas": replicas})
    if answer.get("rollout") is not None:
        record = wait_rollout(runtime, int(answer["rollout"]))
        if record["state"] != "complete":
            raise EnvironmentFailure(f"{state.stable} did not come back up: {record['reason']}")
    return runtime


app.command(
    "goship.cli.canary_simulate:simulate",
    name="simulate",
    help="Every canary judge on the same synthetic traffic: false rollbacks, misses, time to detect, bad requests.",
)
