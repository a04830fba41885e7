"""``goship rehearse``: an upgrade run on this machine under load, before a cluster sees it."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from goship.cli._app import Parameter
from goship.errors import UsageError

if TYPE_CHECKING:
    from goship.cli._images import ImageSession
    from goship.local.rehearsal import RehearsalSpec
    from goship.local.report import Report


def rehearse(
    *,
    from_: Annotated[str, Parameter(name="--from")],
    to: str = "HEAD",
    strategy: Literal["rolling", "canary"] = "rolling",
    rps: float = 200.0,
    replicas: int = 3,
    service: str | None = None,
    max_surge: str = "1",
    max_unavailable: str = "0",
    env: Annotated[list[str] | None, Parameter(negative=())] = None,
    progress_deadline: float = 30.0,
    pre_stop: float = 0.0,
    store: Path | None = None,
    html: Path | None = None,
    json: Annotated[bool, Parameter(negative=())] = False,
) -> int:
    """Rehearse an upgrade: replicas of the old version behind goship's router under open-loop load, a
    rolling update to the new one, then one new replica stopped under load. Reports every failed request
    and its cause, latency per version, the mixed-version window, whether SIGTERM drained in-flight
    requests, and a verdict (exit 1 when the upgrade is not safe).

    Parameters
    ----------
    from_
        The version running now: a git revision (built in a scratch checkout) or an image in the store.
    to
        The version to roll out (default HEAD).
    strategy
        rolling (Deployment semantics) or canary (traffic shifted 20 % → 50 %, judged by the sequential
        judge against the stable version, promoted or rolled back by itself).
    rps
        Requests per second of the open-loop load.
    replicas
        Replicas of each version.
    service
        The service to rehearse (needed when the repository has several).
    max_surge
        maxSurge, an integer or a percentage.
    max_unavailable
        maxUnavailable, an integer or a percentage.
    env
        KEY=VALUE for every replica of both versions (e.g. to make requests slow); repeatable.
    progress_deadline
        progressDeadlineSeconds: a rollout without progress this long is undone.
    pre_stop
        Seconds a stopping replica stays up, out of the endpoints, before its SIGTERM: a preStop sleep
        (default 0, SIGTERM at once, which shows whether the app drains; give your pods' pre_stop_sleep to
        rehearse what your cluster does). Below the 10 s termination grace period.
    store
        goship's local OCI image layout.
    html
        Where to write the HTML report (default: next to the store).
    json
        Print the report as one JSON document: {"verdict", "requests", "failed_requests", "failures",
        "versions", "findings", ...}.

    Example: goship rehearse --from v1.3.0 --to HEAD --rps 300
    """
    from goship.cli._images import open_images
    from goship.local.rehearsal import RehearsalSpec
    from goship.ui import console

    grace = RehearsalSpec.termination_grace_s
    if not 0 <= pre_stop < grace:
        raise UsageError(
            f"--pre-stop {pre_stop:g}: expected seconds from 0 up to (not including) the rehearsal's "
            f"{grace:g} s termination grace period",
            hint="e.g. --pre-stop 5, the pre_stop_sleep goship render gives pods",
        )
    images = open_images(names=[service] if service else [], platforms=[], store=store, insecure=False)
    pairs = [e.partition("=") for e in env or []]
    bad = next((e for e, (k, sep, _) in zip(env or [], pairs, strict=True) if not sep or not k), None)
    if bad is not None:
        raise UsageError(f"--env {bad!r}: expected KEY=VALUE", hint="e.g. --env HELLO_SLOW_MS=100")
    spec = RehearsalSpec(
        pre_stop_s=pre_stop,
        strategy=strategy,
        replicas=replicas,
        rps=rps,
        env={k: v for k, _, v in pairs},
        rollout=dataclasses.replace(
            RehearsalSpec().rollout,
            replicas=replicas,
            max_surge=max_surge,
            max_unavailable=max_unavailable,
            progress_deadline_s=progress_deadline,
        ),
    )
    say = (lambda m: None) if json else console.info
    report, where = run_rehearsal(images, from_, to, spec, say=say, html=html)
    if json:
        console.print_json({**report.to_json(), "html": str(where)})
    else:
        from goship.ui.rehearsal import render_summary

        render_summary(console.stdout(), report, html=where)
    return 0 if report.verdict == "pass" else 1


def run_rehearsal(
    images: ImageSession,
    from_: str,
    to: str,
    spec: RehearsalSpec,
    *,
    say: Callable[[str], None],
    html: Path | None = None,
) -> tuple[Report, Path]:
    """Resolve both sides (building revisions as needed), rehearse, and write the HTML report."""
    from goship.gotool import Go
    from goship.local.rehearsal import Rehearsal
    from goship.local.sides import resolve_side
    from goship.ui.report_html import write_report_html

    if len(images.services) != 1:
        names = ", ".join(s.name for s in images.services)
        raise UsageError(f"which service? this repository has {names}", hint="name one with --service")
    chosen = images.services[0]
    repo = images.session.repo
    cache = images.store.root.parent / "rootfs"
    old, new = (
        resolve_side(
            what,
            repo=repo,
            service=chosen,
            store=images.store,
            go_cache=True,
            open_registry=images.open_registry,
            unpack_dir=cache,
        )
        for what in (from_, to)
    )
    with tempfile.TemporaryDirectory(prefix="goship-rehearsal-") as work:
        report = Rehearsal(
            old, new, spec, go=Go(repo.top), work_dir=Path(work), bin_cache=cache.parent / "bin", say=say
        ).run()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    where = (
        html
        or images.store.root.parent / "rehearsals" / f"{chosen.name}-{old.version}-{new.version}-{stamp}.html"
    )
    where.parent.mkdir(parents=True, exist_ok=True)
    write_report_html(report, where, title=f"{chosen.name}: {old.version} → {new.version}")
    return report, where
