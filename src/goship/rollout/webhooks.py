"""Canary webhooks, with Flagger's kinds and meanings, so hooks written for Flagger work unchanged.

Each hook is an HTTP POST of a JSON document; an answer in 2xx is a yes, anything else (or no answer
within the hook's timeout) a no:

- ``confirm-rollout``: before the canary's replicas start; the canary waits until every one says yes.
- ``pre-rollout``: before any traffic goes to the canary; a no is a failed analysis (and enough of
  them roll the canary back).
- ``rollout``: at every analysis, before the metrics (e.g. to start load); a no is a failed analysis.
- ``confirm-traffic-increase``: before each step up; the canary holds its weight until yes.
- ``confirm-promotion``: before promotion; the canary is still judged, and is promoted once yes.
- ``post-rollout``: after promotion or roll-back; a no is recorded, nothing else.
- ``rollback``: asked at every analysis; a *yes* rolls the canary back (a manual kill switch).

The document::

    {"name": "orders", "namespace": "local", "phase": "Progressing", "type": "rollout",
     "stable": "v1.3.0", "canary": "v1.4.0", "weight": 25, "checksum": "…", "metadata": {…}}
"""

from __future__ import annotations

import hashlib
import json
import time
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from goship import _http
from goship.config import HookType

__all__ = ["HOOK_TYPES", "Event", "HookResult", "HookType", "Webhook", "WebhookRunner"]

HOOK_TYPES: tuple[HookType, ...] = typing.get_args(HookType)
_SHOWN = 200
"""Characters of a hook's answer kept in the decision log."""


@dataclass(frozen=True)
class Webhook:
    name: str
    type: HookType
    url: str
    timeout_s: float = 10.0
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HookResult:
    """One call of one hook, as the decision log keeps it."""

    name: str
    type: HookType
    url: str
    ok: bool
    """The hook said yes (2xx in time)."""
    status: int | None
    """The HTTP status; None when there was no answer."""
    detail: str
    """The start of the answer's body, or why there was none."""
    seconds: float


@dataclass(frozen=True)
class Event:
    """Where the canary is when hooks are called."""

    service: str
    stable: str
    canary: str
    phase: str
    weight: int
    namespace: str = "local"


class WebhookRunner:
    """Calls the hooks of one canary; a hook's failure is an answer (``ok=False``), never an exception."""

    def __init__(
        self,
        hooks: Sequence[Webhook],
        *,
        client: Callable[[float], _http.Client] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hooks = tuple(hooks)
        self._client = client or (lambda timeout: _http.Client(timeout=timeout, connect_timeout=timeout))
        self._clock = clock

    def of(self, kind: HookType) -> tuple[Webhook, ...]:
        return tuple(h for h in self.hooks if h.type == kind)

    def call(self, kind: HookType, event: Event) -> list[HookResult]:
        """Every hook of ``kind``, in the order configured."""
        return [self._call(hook, event) for hook in self.of(kind)]

    def all_ok(self, kind: HookType, event: Event) -> tuple[bool, list[HookResult]]:
        """Whether every hook of ``kind`` said yes (true when there are none), and their answers."""
        results = self.call(kind, event)
        return all(r.ok for r in results), results

    def _call(self, hook: Webhook, event: Event) -> HookResult:
        document = {
            "name": event.service,
            "namespace": event.namespace,
            "phase": event.phase,
            "type": hook.type,
            "stable": event.stable,
            "canary": event.canary,
            "weight": event.weight,
            "checksum": hashlib.sha256(f"{event.stable}\0{event.canary}".encode()).hexdigest()[:16],
            "metadata": dict(hook.metadata),
        }
        started = self._clock()
        try:
            with self._client(hook.timeout_s) as client:
                answer = client.request(
                    "POST",
                    hook.url,
                    headers={"content-type": "application/json", "user-agent": "goship-canary"},
                    content=json.dumps(document).encode(),
                )
        except (_http.HTTPError, ValueError, OSError) as exc:
            return HookResult(
                hook.name, hook.type, hook.url, False, None, str(exc)[:_SHOWN], self._clock() - started
            )
        body = answer.content.decode("utf-8", "replace").strip()[:_SHOWN]
        ok = 200 <= answer.status_code < 300
        return HookResult(
            hook.name, hook.type, hook.url, ok, answer.status_code, body, self._clock() - started
        )
