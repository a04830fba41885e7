"""``goship up``, ``status``, ``rollout``, ``rollout undo`` and ``down``: the local runtime as a long-lived
target. A daemon per service (``goship.local.daemon``) owns the router and the replicas; these commands
find it through its state file beside goship's store and talk to its control API, from any shell."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from goship.cli._app import App, Parameter
from goship.cli._local import dry, open_local, public, request_for, running, say_for, version_name
from goship.cli._options import RuntimeStore, ServiceName
from goship.errors import CheckFailedError, UsageError

if TYPE_CHECKING:
    from goship.cli._images import ImageSession
    from goship.image.services import Service
    from goship.local.control import Runtime

__all__ = ["down", "rollout", "rollout_app", "rollout_undo", "status", "up"]

Json = Annotated[bool, Parameter(negative=())]


def _follow(runtime: Runtime, answer: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any] | None:
    from goship.local.control import wait_rollout

    if answer.get("rollout") is None:
        say(str(answer.get("message", "nothing to roll out")))
        return None
    say(f"revision {answer['revision']}: rolling out {answer['version']}")
    return wait_rollout(
        runtime, int(answer["rollout"]), on_event=lambda e: say(f"  {e['kind']:<9} {e['message']}")
    )


def _settings(max_surge: str, max_unavailable: str, progress_deadline: float) -> dict[str, Any]:
    if progress_deadline <= 0:
        raise UsageError(f"--progress-deadline: expected seconds > 0 (not {progress_deadline:g})")
    return {
        "max_surge": max_surge,
        "max_unavailable": max_unavailable,
        "progress_deadline_s": progress_deadline,
    }


def _finish(
    runtime: Runtime, record: dict[str, Any] | None, *, json: bool, action: str, say: Callable[[str], None]
) -> int:
    from goship.ui import console

    state = runtime.client().status()
    url = state["router"]["url"]
    if record is not None:
        say(f"{record['kind']} {record['state']}: {record['reason']} ({record['seconds']:g}s)")
    if json:
        console.print_json({"action": action, "router": url, "rollout": record, "status": public(state)})
    else:
        say(f"{state['service']} {state['version']} × {state['desired_replicas']} behind {url}")
    if record is None or record["state"] == "complete":
        return 0
    if record["state"] == "undone":
        return 1
    raise CheckFailedError(f"the {record['kind']} {record['state']}: {record['reason']}")


def up(
    *,
    version: str = "HEAD",
    replicas: int = 3,
    service: ServiceName = None,
    store: RuntimeStore = None,
    max_surge: str = "1",
    max_unavailable: str = "0",
    progress_deadline: float = 60.0,
    dry_run: Annotated[bool, Parameter(negative=())] = False,
    json: Json = False,
) -> int:
    """Run a service on this machine behind goship's router, and keep it running after the command exits.
    Idempotent: nothing happens when it runs that version with that many replicas already; only the count
    differs: it scales; another version: it rolls out. Prints the router's URL.

    Parameters
    ----------
    version
        A git revision (built into the store) or an image in the store (e.g. hello:v1.0.0).
    replicas
        How many replicas.
    max_surge
        maxSurge when it rolls out to another version.
    max_unavailable
        maxUnavailable when it rolls out to another version.
    progress_deadline
        progressDeadlineSeconds: a rollout without progress this long is undone.
    dry_run
        Say what would happen (start, scale, roll out, nothing), do nothing.
    json
        Print {"action", "router", "rollout", "status"} as one JSON document.

    Example: goship up --version v1.0.0 --replicas 2
    """
    from goship.local.control import start_daemon
    from goship.local.router import ensure_router_binary

    if replicas < 1:
        raise UsageError(f"--replicas: expected 1 or more (not {replicas})", hint="'goship down' stops it")
    say = say_for(json)
    settings = _settings(max_surge, max_unavailable, progress_deadline)
    images, chosen, directory = open_local(service, store)
    runtime = running(directory)
    if dry_run:
        wanted = version_name(images, chosen, version) or version
        current = runtime.client().status() if runtime is not None else None
        if current is None:
            plan = f"would start the runtime for {chosen.name} with {replicas} × {wanted}"
        elif current["version"] == wanted:
            plan = (
                "nothing to do"
                if current["desired_replicas"] == replicas
                else f"would scale {wanted} from {current['desired_replicas']} to {replicas}"
            )
        else:
            plan = f"would roll {chosen.name} out from {current['version']} to {wanted}"
        return dry(plan, json=json)
    if runtime is not None:
        state = runtime.client().status()
        busy = (state.get("rollout") or {}).get("state") == "running"
        if (
            not busy
            and state["version"] is not None
            and state["version"] == version_name(images, chosen, version)
        ):
            if state["desired_replicas"] == replicas:
                say(f"{chosen.name} runs {state['version']} × {replicas} already: nothing to do")
                return _finish(runtime, None, json=json, action="none", say=say)
            say(f"scaling {chosen.name} {state['version']} from {state['desired_replicas']} to {replicas}")
            runtime.client().scale(replicas)
            return _finish(runtime, None, json=json, action="scaled", say=say)
    request = {**request_for(images, chosen, version), **settings, "replicas": replicas}
    action = "rolled-out"
    if runtime is None:
        cache = images.store.root.parent
        binary = ensure_router_binary(images.go, cache / "bin")
        runtime = start_daemon(
            directory, service=chosen.name, router_binary=binary, rootfs_cache=cache / "rootfs"
        )
        say(f"started the runtime daemon for {chosen.name} (pid {runtime.pid}, state in {directory})")
        action = "started"
    record = _follow(runtime, runtime.client().rollout(request), say)
    return _finish(runtime, record, json=json, action=action, say=say)


def status(*, service: ServiceName = None, store: RuntimeStore = None, json: Json = False) -> int:
    """The local runtime of a service: its replicas (id, version, port, pid, ready, restarts), revisions,
    router URL and last rollout. Exit 0 whether or not it runs (--json says "running": false when not).

    Parameters
    ----------
    json
        Print the runtime's state as one JSON document, with "running".
    """
    from goship.ui import console

    _, chosen, directory = open_local(service, store)
    runtime = running(directory)
    if runtime is None:
        if json:
            console.print_json({"running": False, "service": chosen.name})
        else:
            console.info(f"{chosen.name}: nothing is running (start it with 'goship up')")
        return 0
    state = runtime.client().status()
    if json:
        console.print_json({"running": True, **public(state)})
        return 0
    _render(state)
    return 0


def _render(state: dict[str, Any]) -> None:
    from rich.table import Table

    from goship.ui import console

    out = console.stdout()
    current = state["current_revision"]
    out.print(
        f"{state['service']} {state['version'] or '(no version yet)'} (revision {current}) × "
        f"{state['desired_replicas']} behind {state['router']['url']}   daemon pid {state['pid']}"
    )
    table = Table("replica", "version", "port", "pid", "phase", "ready", "restarts")
    for r in state["replicas"]:
        table.add_row(
            r["id"],
            r["version"],
            str(r["port"]),
            str(r["pid"] or "-"),
            r["phase"],
            "yes" if r["ready"] else "no",
            str(r["restarts"]),
        )
    out.print(table)
    for rev in state["revisions"]:
        mark = "*" if rev["number"] == current else " "
        undo = f" (undo to {rev['undo_of']})" if rev["undo_of"] else ""
        out.print(
            f"{mark} revision {rev['number']}: {rev['version']} {rev['digest'][:19]} {rev['created']}{undo}"
        )
    if rollout_ := state.get("rollout"):
        out.print(
            f"last {rollout_['kind']}: revision {rollout_['to_revision']} {rollout_['state']} {rollout_['reason']}"
        )
    if canary := state.get("canary"):
        judged = "judged" if canary["running"] else "not judged now"
        paused = ", paused" if canary["paused"] else ""
        out.print(
            f"canary: {canary['canary']} against {canary['stable']}, {canary['phase']} at {canary['weight']} %"
            f" ({judged}{paused}; last analysis {canary['last_outcome'] or 'none yet'})"
            "   see 'goship canary status'"
        )


def _live(service: str | None, store: Path | None) -> tuple[ImageSession, Service, Runtime]:
    images, chosen, directory = open_local(service, store)
    runtime = running(directory)
    if runtime is None:
        raise UsageError(f"{chosen.name} is not running here", hint="start it with 'goship up'")
    return images, chosen, runtime


def rollout(
    *,
    to: str = "HEAD",
    service: ServiceName = None,
    store: RuntimeStore = None,
    max_surge: str = "1",
    max_unavailable: str = "0",
    progress_deadline: float = 60.0,
    dry_run: Annotated[bool, Parameter(negative=())] = False,
    json: Json = False,
) -> int:
    """Roll the running service out to another version with a rolling update; waits for the outcome and
    prints its events. Exit 1 when it made no progress and was undone.

    Parameters
    ----------
    to
        A git revision (built into the store) or an image in the store.
    max_surge
        maxSurge, an integer or a percentage.
    max_unavailable
        maxUnavailable, an integer or a percentage.
    progress_deadline
        progressDeadlineSeconds: a rollout without progress this long is undone.
    dry_run
        Say what would be rolled out, do nothing.
    json
        Print {"action", "router", "rollout", "status"} as one JSON document.
    """
    say = say_for(json)
    settings = _settings(max_surge, max_unavailable, progress_deadline)
    images, chosen, runtime = _live(service, store)
    if dry_run:
        current = runtime.client().status()["version"]
        return dry(
            f"would roll {chosen.name} out from {current} to {version_name(images, chosen, to) or to}",
            json=json,
        )
    request = {**request_for(images, chosen, to), **settings}
    record = _follow(runtime, runtime.client().rollout(request), say)
    return _finish(runtime, record, json=json, action="rollout" if record else "none", say=say)


def rollout_undo(
    *,
    to_revision: int | None = None,
    service: ServiceName = None,
    store: RuntimeStore = None,
    max_surge: str = "1",
    max_unavailable: str = "0",
    progress_deadline: float = 60.0,
    dry_run: Annotated[bool, Parameter(negative=())] = False,
    json: Json = False,
) -> int:
    """Roll back to an earlier revision (by default the one before the current) with the same rolling
    update; the history keeps every revision, the rollback is a new one. Exit 1 when it was undone.

    Parameters
    ----------
    to_revision
        The revision number to return to (see 'goship status').
    max_surge
        maxSurge, an integer or a percentage.
    max_unavailable
        maxUnavailable, an integer or a percentage.
    progress_deadline
        progressDeadlineSeconds: a rollback without progress this long is undone.
    dry_run
        Say which revision it would return to, do nothing.
    json
        Print {"action", "router", "rollout", "status"} as one JSON document.
    """
    say = say_for(json)
    settings = _settings(max_surge, max_unavailable, progress_deadline)
    _, chosen, runtime = _live(service, store)
    if dry_run:
        target = f"revision {to_revision}" if to_revision is not None else "the previous revision"
        return dry(f"would roll {chosen.name} back to {target}", json=json)
    record = _follow(runtime, runtime.client().undo(to_revision, settings), say)
    return _finish(runtime, record, json=json, action="undo", say=say)


def down(
    *,
    service: ServiceName = None,
    store: RuntimeStore = None,
    timeout: float = 60.0,
    dry_run: Annotated[bool, Parameter(negative=())] = False,
) -> int:
    """Stop the service's local runtime: every replica gracefully, the router, then the daemon. When the
    daemon does not exit within --timeout, its process group and what it recorded are killed.

    Parameters
    ----------
    timeout
        Seconds to wait for the daemon to stop by itself.
    dry_run
        Say what would be stopped, stop nothing.
    """
    from goship.local.control import stop_runtime
    from goship.ui import console

    _, chosen, directory = open_local(service, store)
    runtime = running(directory)
    if runtime is None:
        console.info(f"{chosen.name}: nothing is running")
        return 0
    if dry_run:
        return dry(
            f"would stop {chosen.name}'s runtime (daemon pid {runtime.pid}), its router and replicas",
            json=False,
        )
    killed = stop_runtime(runtime, timeout=timeout)
    how = f" (killed {len(killed)} process(es) that did not stop in time)" if killed else ""
    console.info(f"{chosen.name}: stopped the runtime (daemon pid {runtime.pid}){how}")
    return 0


rollout_app = App(name="rollout", help="Roll the local runtime out to another version; 'undo' rolls back.")
rollout_app.default(rollout)
rollout_app.command(rollout_undo, name="undo")
