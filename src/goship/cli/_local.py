"""What the local runtime's commands share (``goship up``/``status``/``rollout``/``down`` and
``goship canary``): finding the service's runtime, naming and building versions for it, dry runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goship.errors import UsageError

if TYPE_CHECKING:
    from goship.cli._images import ImageSession
    from goship.image.services import Service
    from goship.local.control import Runtime

__all__ = ["dry", "open_local", "public", "request_for", "running", "say_for", "version_name"]


def open_local(service: str | None, store: Path | None) -> tuple[ImageSession, Service, Path]:
    from goship.cli._images import open_images
    from goship.local.control import runtime_dir

    images = open_images(names=[service] if service else [], platforms=[], store=store, insecure=False)
    if len(images.services) != 1:
        names = ", ".join(s.name for s in images.services)
        raise UsageError(f"which service? this repository has {names}", hint="name one with --service")
    chosen = images.services[0]
    return images, chosen, runtime_dir(images.store.root, chosen.name)


def running(directory: Path) -> Runtime | None:
    """The live runtime in ``directory``; a stale one is cleaned up, with a warning (on stderr, so even
    with --json)."""
    from goship.local.control import clean_stale, find_runtime
    from goship.ui import console

    runtime = find_runtime(directory)
    if runtime is None or runtime.alive:
        return runtime
    killed = clean_stale(runtime)
    left = f"; killed {len(killed)} process(es) it left running" if killed else ""
    console.warn(
        f"the runtime daemon (pid {runtime.pid}) is no longer running: cleaned up its stale state{left}"
    )
    return None


def dry(plan: str, *, json: bool) -> int:
    from goship.ui import console

    if json:
        console.print_json({"dry_run": True, "plan": plan})
    else:
        console.info(f"dry run: {plan}")
    return 0


def public(state: dict[str, Any]) -> dict[str, Any]:
    """The state without the control token: what --json prints."""
    return {k: v for k, v in state.items() if k != "token"}


def version_name(images: ImageSession, service: Service, what: str) -> str | None:
    """The version ``what`` would run as, without building it; None when only building tells."""
    from goship.versioning.plan import build_identity

    repo = images.session.repo
    commit = repo.git.rev_parse(what)
    if commit is not None:
        return build_identity(repo, service.module, commit=commit).version
    return None


def request_for(images: ImageSession, service: Service, what: str) -> dict[str, Any]:
    """Build (or find) ``what`` in the store and say where the daemon finds it."""
    from goship.local.sides import host_platform, resolve_side

    side = resolve_side(
        what,
        repo=images.session.repo,
        service=service,
        store=images.store,
        go_cache=True,
        open_registry=images.open_registry,
        unpack_dir=images.store.root.parent / "rootfs",
    )
    return {
        "version": side.version,
        "store": str(images.store.root),
        "ref": side.rootfs.manifest_digest,
        "platform": str(host_platform()),
    }


def say_for(json: bool) -> Callable[[str], None]:
    from goship.ui import console

    return (lambda message: None) if json else console.info
