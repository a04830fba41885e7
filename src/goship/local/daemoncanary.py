"""The daemon's canary side: a new revision beside the current one, judged by a :class:`CanaryController`
in its engine thread, and the winner made the current revision when it finishes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goship.errors import GoshipError, UsageError
from goship.image.layout import Layout
from goship.image.oci import Platform
from goship.local.canary import CANARY_FILE, CanaryController, spec_from_document
from goship.local.revisions import ConflictError, Revision, image_fields
from goship.local.rootfs import unpack
from goship.rollout.canary import CanarySpec
from goship.rollout.canary_state import CanaryState, refuse_if_active

if TYPE_CHECKING:
    from goship.local.daemon import Daemon

log = logging.getLogger("goship.daemon")


class DaemonCanary:
    """POST /canary and /canary/<command> on one daemon. It works on the daemon's state under the daemon's
    lock; the controller's engine thread reaches back only through :meth:`_finished` (the controller's
    ``on_finished``), which takes that lock like any other order."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        self.controller = CanaryController(
            daemon.state_dir / CANARY_FILE,
            router=daemon.client,
            on_finished=self._finished,
            service=daemon.service,
        )
        self._revisions: tuple[Revision, Revision] | None = None
        """(stable, canary) of the canary this daemon drives; guarded by the daemon's lock."""

    def summary(self) -> dict[str, Any] | None:
        """The ``canary`` entry of the daemon's state document (None: no canary yet)."""
        try:
            state = self.controller.state()
        except GoshipError:
            return None
        if state is None:
            return None
        return {
            "running": self.controller.running(),
            "phase": state.phase,
            "stable": state.stable,
            "canary": state.canary,
            "step": state.step,
            "weight": state.weight,
            "paused": state.paused,
            "last_outcome": state.last_outcome,
        }

    def start(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /canary: a new revision from an image in a store, beside the current one, as a canary."""
        d = self._daemon
        version, store, ref = image_fields(body, "/canary")
        spec_doc = dict(body.get("spec") or {})
        with d._lock:
            stable = self._preconditions()
            if version == stable.version:
                raise UsageError(
                    f"{version} is what runs already (revision {stable.number}): a canary needs another version"
                )
            spec = spec_from_document(spec_doc, canary=version, replicas=max(d.desired, 1))
        platform = Platform.parse(str(body.get("platform") or "linux/amd64"))
        rootfs = unpack(Layout(Path(store)), ref, platform, d.rootfs_cache)
        with d._lock:
            stable = self._preconditions()
            if rootfs.manifest_digest == stable.digest:
                raise UsageError(f"{version} is the image that runs already (revision {stable.number})")
            canary = d._new_revision(version, rootfs, store=store, platform=str(platform))
            target = {
                "stable": _image(stable),
                "canary": _image(canary),
                "spec": spec_doc,
                "replicas": spec.replicas,
            }
            state = self._run(stable, canary, spec, target, takeover=False)
        log.info("canary of %s (revision %d) against %s", version, canary.number, stable.version)
        return {
            "canary": canary.version,
            "stable": stable.version,
            "revision": canary.number,
            "phase": state.phase,
        }

    def _preconditions(self) -> Revision:
        """The stable revision a canary starts from; refused while a rollout or another canary runs."""
        d = self._daemon
        if d._busy():
            raise ConflictError("a rollout is in progress; start the canary when it has finished")
        if self.controller.running():
            d._refuse_during_canary("start another")
        refuse_if_active(self.controller.state())
        if d.current is None:
            raise UsageError(
                "nothing runs yet: a canary is judged against the version that runs",
                hint="start the stable version with 'goship up'",
            )
        return d.current

    def _run(
        self,
        stable: Revision,
        canary: Revision,
        spec: CanarySpec,
        target: Mapping[str, Any],
        *,
        takeover: bool,
    ) -> CanaryState:
        """Hand the two revisions to the controller's engine (the daemon's lock held by the caller)."""
        self._revisions = (stable, canary)
        return self.controller.start(
            self._daemon._workloads(),
            stable=(stable.version, stable.name),
            canary=(canary.version, canary.name),
            spec=spec,
            target=target,
            takeover=takeover,
        )

    def command(self, command: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /canary/<command>: pause, resume (or take over), promote, abort."""
        if command == "resume" and not self.controller.running():
            return self._take_over()
        if command == "pause":
            state = self.controller.pause()
        elif command == "resume":
            before = self.controller.state()
            state = self.controller.resume()
            if before is not None and not before.paused:
                return {"phase": state.phase, "message": "the canary is not paused: it goes on by itself"}
        elif command == "promote":
            state = self.controller.promote(force=bool(body.get("force", False)))
        elif command == "abort":
            state = self.controller.abort(str(body.get("reason") or "aborted with 'goship canary abort'"))
        else:
            raise UsageError(f"no canary command {command!r} (expected pause, resume, promote or abort)")
        return {"phase": state.phase, "paused": state.paused, "reason": state.reason}

    def _take_over(self) -> dict[str, Any]:
        """Drive the active canary of the state file (its engine went down with an earlier runtime)."""
        d = self._daemon
        state = self.controller.state()
        if state is None or not state.active:
            done = f"the canary of {state.canary} has {state.phase}" if state else "no canary was started"
            raise UsageError(f"nothing to resume: {done}", hint="start one with 'goship canary start'")
        target = state.target
        try:
            image = dict(target["canary"])
            spec_doc, replicas = dict(target["spec"]), int(target["replicas"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(
                f"the canary of {state.canary} was not started by the runtime: it cannot be taken over",
                hint="stop it with 'goship canary abort'",
            ) from exc
        with d._lock:
            if d._busy():
                raise ConflictError("a rollout is in progress; resume the canary when it has finished")
            stable = d.current
            if stable is None or stable.version != state.stable:
                runs = stable.version if stable else "nothing"
                raise UsageError(
                    f"the runtime runs {runs}, the canary's stable version is {state.stable}",
                    hint=f"'goship canary resume' starts {state.stable} first when the runtime is down",
                )
        spec = spec_from_document(spec_doc, canary=state.canary, replicas=replicas)
        platform = Platform.parse(str(image.get("platform") or "linux/amd64"))
        rootfs = unpack(Layout(Path(str(image["store"]))), str(image["ref"]), platform, d.rootfs_cache)
        with d._lock:
            canary = next((r for r in d.revisions if r.digest == rootfs.manifest_digest), None)
            if canary is None or canary.version != state.canary:
                canary = d._new_revision(
                    state.canary, rootfs, store=str(image["store"]), platform=str(platform)
                )
            taken = self._run(stable, canary, spec, target, takeover=True)
        log.info(
            "took over the canary of %s against %s at step %d", state.canary, state.stable, state.step + 1
        )
        return {"phase": taken.phase, "taken_over": True, "step": taken.step}

    def _finished(self, state: CanaryState) -> None:
        """The engine is done: the winner becomes the current revision, the loser's replicas go."""
        d = self._daemon
        with d._lock:
            revisions, self._revisions = self._revisions, None
            if revisions is not None:
                stable, canary = revisions
                winner, loser = (canary, stable) if state.phase == "succeeded" else (stable, canary)
                d.current = winner
                d._workloads().scale(loser.name, 0)
        d._route(d.supervisor.ready_endpoints())
        d.persist()


def _image(revision: Revision) -> dict[str, Any]:
    """Where a revision's image is, as POST /rollout takes it (a canary's state keeps both)."""
    return {
        "version": revision.version,
        "store": revision.store,
        "ref": revision.digest,
        "platform": revision.platform,
    }
