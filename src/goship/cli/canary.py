"""``goship canary``: canary releases — ``start`` a new version beside the one that runs, then
``status``, ``pause``, ``resume``, ``promote``, ``abort`` and ``explain``. The commands and their options
are here; what they do is :mod:`goship.cli.canary_local`'s on the local runtime (its daemon judges the
canary) and :mod:`goship.cli.canary_kube`'s with ``--target kubernetes``. ``simulate`` is
:mod:`goship.cli.canary_simulate`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from goship.cli._app import App, Parameter
from goship.cli._cluster import Context, Kubeconfig, KubectlProgram, Namespace
from goship.cli._options import RuntimeStore, ServiceName
from goship.errors import CheckFailedError, UsageError

if TYPE_CHECKING:
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


def canary_document(state: CanaryState, *, judged: bool | None = None) -> dict[str, Any]:
    from goship.rollout import canary_state

    doc = canary_state.to_json(state)
    # Where the images are, and the judge's working state: the runtime's business, in the state file.
    doc.pop("target", None)
    doc.pop("judge_state", None)
    if judged is not None:
        doc["judged"] = judged
    return doc


def settings_document(
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


def report_outcome(state: CanaryState, *, json: bool, action: str) -> int:
    """Exit 0 when promoted, 1 when rolled back."""
    from goship.ui import console
    from goship.ui.canary import progress_line

    if json:
        console.print_json({"action": action, "canary": canary_document(state)})
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
    service: ServiceName = None,
    store: RuntimeStore = None,
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
    dry_run
        Say what would start, start nothing.
    json
        Print one JSON document: {"action", "canary"} (with --wait, the canary's whole record).

    Example: goship canary start --to v1.4.0 --wait
    """
    doc = settings_document(
        steps=steps,
        interval=interval,
        judge=judge,
        min_requests=min_requests,
        failure_threshold=failure_threshold,
        confirm_promotion=confirm_promotion,
    )
    if target == "kubernetes":
        from goship.cli import canary_kube

        cluster = canary_kube.Cluster(namespace, kubeconfig, context, kubectl)
        return canary_kube.start(
            to=to, doc=doc, service=service, store=store, cluster=cluster, dry_run=dry_run, json=json
        )
    from goship.cli import canary_local

    return canary_local.start(
        to=to, doc=doc, wait=wait, service=service, store=store, dry_run=dry_run, json=json
    )


@app.command
def status(
    *,
    service: ServiceName = None,
    store: RuntimeStore = None,
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
    from goship.cli import canary_local

    return canary_local.status(service=service, store=store, json=json)


@app.command
def explain(
    *,
    version: str | None = None,
    service: ServiceName = None,
    store: RuntimeStore = None,
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
    from goship.cli import canary_local

    return canary_local.explain(version=version, service=service, store=store, json=json)


def report_command(state: CanaryState, answer: dict[str, Any], *, json: bool, action: str) -> int:
    from goship.ui import console
    from goship.ui.canary import progress_line

    if json:
        console.print_json({"action": action, **answer, "canary": canary_document(state)})
    else:
        console.info(str(answer.get("message") or progress_line(state)))
    return 0


@app.command
def pause(
    *,
    service: ServiceName = None,
    store: RuntimeStore = None,
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
    from goship.cli import canary_local

    return canary_local.pause(service=service, store=store, dry_run=dry_run, json=json)


@app.command
def promote(
    *,
    force: Flag = False,
    service: ServiceName = None,
    store: RuntimeStore = None,
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
    from goship.cli import canary_local

    return canary_local.promote(force=force, service=service, store=store, dry_run=dry_run, json=json)


@app.command
def abort(
    *,
    reason: str = "aborted with 'goship canary abort'",
    service: ServiceName = None,
    store: RuntimeStore = None,
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
    from goship.cli import canary_local

    return canary_local.abort(reason=reason, service=service, store=store, dry_run=dry_run, json=json)


@app.command
def resume(
    *,
    wait: Flag = False,
    service: ServiceName = None,
    store: RuntimeStore = None,
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

    from goship.cli import canary_local

    return canary_local.resume(wait=wait, service=service, store=store, dry_run=dry_run, json=json)


app.command(
    "goship.cli.canary_simulate:simulate",
    name="simulate",
    help="Every canary judge on the same synthetic traffic: false rollbacks, misses, time to detect, bad requests.",
)
