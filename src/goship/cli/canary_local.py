"""``goship canary`` on the local runtime: the runtime daemon judges the canary (see
:mod:`goship.local.canary`); these commands start it, read its state file and talk to the daemon."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goship.cli._local import dry, open_local, request_for, running, say_for, version_name
from goship.cli.canary import Flag, Json, canary_document, report_command, report_outcome
from goship.errors import EnvironmentFailure, UsageError

if TYPE_CHECKING:
    from goship.cli._images import ImageSession
    from goship.image.services import Service
    from goship.local.control import Runtime
    from goship.rollout.canary_state import CanaryState


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


def start(
    *,
    to: str,
    doc: dict[str, Any],
    wait: Flag = False,
    service: str | None = None,
    store: Path | None = None,
    dry_run: Flag = False,
    json: Json = False,
) -> int:
    """``goship canary start`` on the local runtime, with ``doc`` the canary settings (goship.yaml and flags)."""
    from goship.local.canary import spec_from_document
    from goship.rollout.canary_state import refuse_if_active

    images, chosen, directory = open_local(service, store)
    refuse_if_active(_load(directory))
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
        return report_outcome(_follow(runtime, directory, json=json), json=json, action="started")
    state = _load(directory)
    if json:
        from goship.ui import console

        console.print_json(
            {"action": "started", "canary": canary_document(state, judged=True) if state else None}
        )
    else:
        say("follow it with 'goship canary status' or 'goship canary explain'")
    return 0


def status(
    *,
    service: str | None = None,
    store: Path | None = None,
    json: Json = False,
) -> int:
    """``goship canary status`` on the local runtime."""
    from goship.ui import console

    name, directory = _directory(service, store)
    state = _load(directory)
    runtime = _live(directory)
    judged = _judged(runtime)
    if json:
        console.print_json(
            {
                "canary": canary_document(state) if state else None,
                "judged": judged,
                "runtime": runtime is not None,
            }
        )
        return 0
    if state is None:
        console.info(f"{name}: no canary yet (start one with 'goship canary start --to VERSION')")
        return 0
    from goship.ui.canary import render_status

    render_status(console.stdout(), state, judged=judged, runtime=runtime is not None)
    return 0


def explain(
    *,
    version: str | None = None,
    service: str | None = None,
    store: Path | None = None,
    json: Json = False,
) -> int:
    """``goship canary explain`` on the local runtime."""
    from goship.local.canary import find_canary
    from goship.ui import console

    name, directory = _directory(service, store)
    found = find_canary(directory, version)
    if found is None:
        which = f"of {version} " if version else ""
        raise UsageError(f"{name}: no canary {which}to explain", hint="start one with 'goship canary start'")
    state, _ = found
    if json:
        console.print_json({"canary": canary_document(state)})
        return 0
    from goship.ui.canary import render_explain

    render_explain(console.stdout(), state)
    return 0


def pause(
    *,
    service: str | None = None,
    store: Path | None = None,
    dry_run: Flag = False,
    json: Json = False,
) -> int:
    """``goship canary pause`` on the local runtime."""
    state, answer = _command(
        "pause",
        {},
        service=service,
        store=store,
        dry_run=dry_run,
        json=json,
        plan="would pause the canary of {canary}",
    )
    return 0 if answer is None else report_command(state, answer, json=json, action="paused")


def promote(
    *,
    force: Flag = False,
    service: str | None = None,
    store: Path | None = None,
    dry_run: Flag = False,
    json: Json = False,
) -> int:
    """``goship canary promote`` on the local runtime."""
    state, answer = _command(
        "promote",
        {"force": force},
        service=service,
        store=store,
        dry_run=dry_run,
        json=json,
        plan="would promote {canary} to 100 % and scale {stable} down",
    )
    return 0 if answer is None else report_command(state, answer, json=json, action="promoting")


def abort(
    *,
    reason: str = "aborted with 'goship canary abort'",
    service: str | None = None,
    store: Path | None = None,
    dry_run: Flag = False,
    json: Json = False,
) -> int:
    """``goship canary abort`` on the local runtime."""
    from goship.local.canary import abandon

    _, directory = _directory(service, store)
    state = _active(directory, "abort")
    if dry_run:
        return dry(f"would roll the canary of {state.canary} back to {state.stable}", json=json)
    runtime = _live(directory)
    if runtime is None:
        state = abandon(_state_path(directory), f"{reason} (the runtime was not running)")
        return report_command(
            state, {"phase": state.phase, "reason": state.reason}, json=json, action="aborted"
        )
    answer = runtime.client().canary_command("abort", {"reason": reason})
    return report_command(_load(directory) or state, answer, json=json, action="aborted")


def resume(
    *,
    wait: Flag = False,
    service: str | None = None,
    store: Path | None = None,
    dry_run: Flag = False,
    json: Json = False,
) -> int:
    """``goship canary resume`` on the local runtime."""
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
        return report_outcome(_follow(runtime, directory, json=json), json=json, action="resumed")
    return report_command(_load(directory) or state, answer, json=json, action="resumed")
