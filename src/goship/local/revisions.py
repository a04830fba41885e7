"""The revisions a service's local runtime keeps (its ReplicaSet history, for undo), and the refusal the
daemon answers an order with while a rollout or a canary changes them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from goship.errors import GoshipError, UsageError


def now_iso() -> str:
    """Now, as the daemon's records keep times (UTC, ISO 8601, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ConflictError(GoshipError):
    """The request cannot be served now (a rollout or a canary is in progress): HTTP 409."""

    exit_code = 2


@dataclass(frozen=True)
class Revision:
    """One version of the service as the runtime ran it (a ReplicaSet's template, kept for undo)."""

    number: int
    """1, 2, …: in the order revisions were made; an undo makes a new one."""
    version: str
    """The version its replicas serve; the router groups endpoints by it."""
    digest: str
    """The platform image manifest's digest in the store."""
    store: str
    """The OCI layout it came from."""
    platform: str
    """``linux/amd64`` or ``linux/arm64``."""
    created: str
    """When it was made (UTC, ISO 8601)."""
    undo_of: int | None = None
    """The revision an undo copied, if it came from one."""

    @property
    def name(self) -> str:
        """Its replica set's name on the supervisor and in rollout events (replica ids start with it)."""
        return f"{self.version}@r{self.number}"


def image_fields(body: Mapping[str, Any], endpoint: str) -> tuple[str, str, str]:
    """``version``, ``store`` and ``ref`` of a request that names an image in a store (POST /rollout,
    POST /canary); a UsageError naming the missing one."""
    try:
        return str(body["version"]), str(body["store"]), str(body["ref"])
    except KeyError as exc:
        raise UsageError(f"{endpoint}: missing field {exc.args[0]!r} (expected version, store, ref)") from exc
