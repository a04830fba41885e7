"""The daemon's rollouts: a new revision (from an image, or copying an earlier one for undo) rolled out by
the RollingUpdate engine in a background thread, on the daemon's state and under its lock."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goship.errors import UsageError
from goship.image.layout import Layout
from goship.image.oci import Platform
from goship.local.revisions import ConflictError, Revision, image_fields, now_iso
from goship.local.rootfs import unpack
from goship.rollout.rolling import RollingUpdate, RolloutEvent, RolloutSpec

if TYPE_CHECKING:
    from goship.local.daemon import Daemon

log = logging.getLogger("goship.daemon")


class _Cancelled(Exception):
    """The daemon is going down: the rollout in progress stops where it is."""


class DaemonRollouts:
    """POST /rollout and POST /undo. The rollout's record and thread are the daemon's (``rollout``,
    ``_rollout_thread``): its status shows them and its other orders wait for them."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    def add_revision(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /rollout: a new revision from an image in a store, rolled out."""
        d = self._daemon
        version, store, ref = image_fields(body, "/rollout")
        platform = Platform.parse(str(body.get("platform") or "linux/amd64"))
        rootfs = unpack(Layout(Path(store)), ref, platform, d.rootfs_cache)
        with d._lock:
            if d._busy():
                raise ConflictError("a rollout is in progress; wait for it or 'goship down'")
            d._refuse_during_canary("roll out")
            if d.current is not None and d.current.digest == rootfs.manifest_digest:
                if "replicas" in body and int(body["replicas"]) != d.desired:
                    d.scale(int(body["replicas"]))
                return {
                    "rollout": None,
                    "message": f"{version} is running already (revision {d.current.number})",
                }
            revision = d._new_revision(version, rootfs, store=store, platform=str(platform))
            return self._start(revision, body, kind="rollout")

    def undo(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /undo: a new revision copying an earlier one (by default the one before the current),
        rolled out; the history keeps every revision."""
        d = self._daemon
        with d._lock:
            if d._busy():
                raise ConflictError("a rollout is in progress; wait for it or 'goship down'")
            d._refuse_during_canary("undo")
            if d.current is None:
                raise UsageError("nothing to undo: no revision has been rolled out yet")
            wanted = body.get("to_revision")
            if wanted is None:
                earlier = [r for r in d.revisions if r.number < d.current.number]
                if not earlier:
                    raise UsageError(
                        f"revision {d.current.number} is the first: there is nothing to go back to"
                    )
                target = earlier[-1]
            else:
                found = [r for r in d.revisions if r.number == int(wanted)]
                if not found:
                    known = ", ".join(str(r.number) for r in d.revisions)
                    raise UsageError(f"no revision {wanted} (revisions: {known})")
                target = found[0]
            if target.digest == d.current.digest:
                raise UsageError(
                    f"revision {target.number} ({target.version}) is what runs already "
                    f"(revision {d.current.number})"
                )
            revision = Revision(
                number=len(d.revisions) + 1,
                version=target.version,
                digest=target.digest,
                store=target.store,
                platform=target.platform,
                created=now_iso(),
                undo_of=target.number,
            )
            d._specs[revision.name] = replace(d._specs[target.name], revision=revision.name)
            d.revisions.append(revision)
            return self._start(revision, body, kind="undo")

    def _start(self, revision: Revision, body: Mapping[str, Any], *, kind: str) -> dict[str, Any]:
        """Roll out ``revision`` in a background thread (the daemon's lock held by the caller)."""
        d = self._daemon
        if body.get("replicas") is not None:
            d.desired = int(body["replicas"])
        if d.desired < 1 and d.current is None:
            raise UsageError("the first rollout needs replicas (1 or more)")
        spec = RolloutSpec(
            replicas=d.desired,
            max_surge=_surge(body.get("max_surge", 1)),
            max_unavailable=_surge(body.get("max_unavailable", 0)),
            progress_deadline_s=float(body.get("progress_deadline_s", 60.0)),
        )
        previous = d.current
        d.rollout = {
            "id": revision.number,
            "kind": kind,
            "from_revision": previous.number if previous else None,
            "to_revision": revision.number,
            "version": revision.version,
            "state": "running",
            "reason": "",
            "seconds": None,
            "started": now_iso(),
            "finished": None,
            "events": [],
        }
        record = d.rollout
        thread = threading.Thread(
            target=self._roll, args=(revision, previous, spec, record), name="goship-rollout", daemon=True
        )
        d._rollout_thread = thread
        thread.start()
        log.info("%s to revision %d (%s)", kind, revision.number, revision.version)
        return {"rollout": revision.number, "revision": revision.number, "version": revision.version}

    def _roll(
        self, revision: Revision, previous: Revision | None, spec: RolloutSpec, record: dict[str, Any]
    ) -> None:
        d = self._daemon
        started = time.monotonic()

        def on_event(event: RolloutEvent) -> None:
            with d._lock:
                record["events"].append(
                    {"t": round(time.monotonic() - started, 3), "kind": event.kind, "message": event.message}
                )

        def sleep(seconds: float) -> None:
            if d._halt.wait(seconds):
                raise _Cancelled

        try:
            with d._lock:
                workloads = d._workloads()
                running = {s.name for s in workloads.states() if s.replicas}
                # Oldest first, the current revision last: it is the one a failed rollout returns to.
                old = [r.name for r in d.revisions if r.name in running and r is not previous]
                if previous is not None:
                    old.append(previous.name)
            result = RollingUpdate(
                workloads, spec, new=revision.name, old=old, sleep=sleep, on_event=on_event
            ).run()
            with d._lock:
                by_name = {r.name: r for r in d.revisions}
                if result.outcome == "complete":
                    d.current = revision
                elif result.revision in by_name and result.revision != revision.name:
                    d.current = by_name[result.revision]
                record.update(state=result.outcome, reason=result.reason, seconds=round(result.seconds, 3))
        except _Cancelled:
            with d._lock:
                record.update(state="cancelled", reason="the runtime went down")
        except Exception as exc:
            log.exception("rollout to revision %d", revision.number)
            with d._lock:
                record.update(state="failed", reason=str(exc))
        finally:
            with d._lock:
                record["finished"] = now_iso()
                if record["seconds"] is None:
                    record["seconds"] = round(time.monotonic() - started, 3)
            # Weights fall back to the current version when nothing is ready: keep them in step.
            d._route(d.supervisor.ready_endpoints())
            d.persist()
            log.info("revision %d: %s %s", revision.number, record["state"], record["reason"])


def _surge(value: object) -> int | str:
    """maxSurge/maxUnavailable: an integer or a percentage, as the Deployment field."""
    text = str(value).strip()
    if text.endswith("%"):
        return text
    try:
        return int(text)
    except ValueError as exc:
        raise UsageError(f"expected an integer or a percentage such as 25% (not {text!r})") from exc
