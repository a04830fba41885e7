"""goship's local router from Python: build the Go program shipped in ``routerd/`` (once per source hash),
run it, and drive its loopback JSON admin API as the ``TrafficRouter`` and ``MetricsSource`` ports of
:mod:`goship.rollout.ports`. Latency quantiles are interpolated from histogram buckets exactly as PromQL's
``histogram_quantile`` does, so a local canary and a Prometheus-backed one judge the same numbers alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goship import _http, _proc
from goship.errors import EnvironmentFailure, UsageError
from goship.gotool import Go
from goship.local.processes import Process, Spawner
from goship.local.routerstats import (
    Histogram,
    RouterMetrics,
    RouterStats,
    StatsSource,
    VersionStats,
    histogram_quantile,
)
from goship.rollout.ports import TrafficRules

__all__ = [
    "SOURCES",
    "Histogram",
    "LeasedRouter",
    "RouterClient",
    "RouterMetrics",
    "RouterProcess",
    "RouterStats",
    "Spawner",
    "StatsSource",
    "VersionStats",
    "ensure_router_binary",
    "histogram_quantile",
    "rules_json",
    "source_digest",
]

SOURCES = Path(__file__).with_name("routerd")
"""The router's Go module (stdlib only), shipped as package data."""


def source_digest(sources: Path = SOURCES) -> str:
    """A hash of the router's Go sources: a binary built from other sources is never reused."""
    h = hashlib.sha256()
    for path in sorted([sources / "go.mod", *sources.glob("*.go")]):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def ensure_router_binary(go: Go, cache_dir: Path, *, sources: Path = SOURCES) -> Path:
    """``cache_dir/goship-router-<hash>``, built with ``go build -trimpath`` unless it is there already."""
    binary = cache_dir / f"goship-router-{source_digest(sources)}"
    if binary.is_file():
        return binary
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename: two goship processes starting at once both end up with a
    # whole binary, never one the other is still writing.
    partial = cache_dir / f".{binary.name}.{os.getpid()}.partial"
    try:
        go.build(
            ".",
            output=partial,
            cwd=sources,
            flags=["-trimpath"],
            # The user's GOFLAGS (-mod=vendor) or go.work must not reach a module with no dependencies.
            env={"CGO_ENABLED": "0", "GOWORK": "off", "GOFLAGS": "-mod=mod"},
        )
        partial.replace(binary)
    finally:
        partial.unlink(missing_ok=True)
    return binary


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:]) or "(empty)"
    except OSError:
        return "(no log)"


def _wait(child: Process, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while (code := child.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return code


@dataclass(frozen=True)
class RouterProcess:
    """A running goship-router: where it listens, where its admin API is, and how to stop it."""

    child: Process
    listen: str
    """``127.0.0.1:P``: where clients send traffic."""
    admin: str
    """``127.0.0.1:Q``: the admin API."""
    log: Path
    """The router's stderr."""
    drain_timeout: float
    """Seconds the router gives in-flight requests after SIGTERM (its ``--drain-timeout``)."""

    @property
    def url(self) -> str:
        return f"http://{self.listen}"

    @property
    def admin_url(self) -> str:
        return f"http://{self.admin}"

    @classmethod
    def start(
        cls,
        binary: Path,
        *,
        run_dir: Path,
        listen: str = "127.0.0.1:0",
        admin: str = "127.0.0.1:0",
        header_timeout: float = 10.0,
        drain_timeout: float = 10.0,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 10.0,
        spawn: Spawner = _proc.spawn,
    ) -> RouterProcess:
        """Start ``binary`` and wait for the JSON line it prints once both listeners accept."""
        run_dir.mkdir(parents=True, exist_ok=True)
        out, log = run_dir / "router.out", run_dir / "router.log"
        argv = [
            str(binary),
            f"--listen={listen}",
            f"--admin={admin}",
            f"--header-timeout={header_timeout}s",
            f"--drain-timeout={drain_timeout}s",
            *extra_args,
        ]
        # stdout goes to a file, not a pipe: nobody would read a pipe after the first line.
        with out.open("wb") as stdout, log.open("wb") as stderr:
            try:
                child = spawn(argv, env=None, cwd=run_dir, stdout=stdout, stderr=stderr)
            except OSError as exc:
                raise EnvironmentFailure(f"could not start goship's router {binary}: {exc}") from exc
        deadline = time.monotonic() + startup_timeout
        while True:
            text = out.read_text(errors="replace")
            if "\n" in text:
                break
            if (code := child.poll()) is not None or time.monotonic() > deadline:
                if code is None:
                    child.kill()
                    _wait(child, 5)
                how = f"exited {code}" if code is not None else f"printed nothing in {startup_timeout:g}s"
                raise EnvironmentFailure(f"goship's router {how}; its log ends:\n{_tail(log)}")
            time.sleep(0.005)
        try:
            addresses = json.loads(text.splitlines()[0])
            return cls(child, str(addresses["listen"]), str(addresses["admin"]), log, drain_timeout)
        except (ValueError, KeyError, TypeError) as exc:
            child.kill()
            raise EnvironmentFailure(
                f"goship's router printed {text[:200]!r}, expected its addresses"
            ) from exc

    def stop(self) -> int:
        """SIGTERM, wait for the drain (plus a margin), SIGKILL if it is still there; its exit code."""
        if (code := self.child.poll()) is not None:
            return code
        self.child.send_signal(signal.SIGTERM)
        code = _wait(self.child, self.drain_timeout + 5)
        if code is None:
            self.child.kill()
            code = _wait(self.child, 5)
        return code if code is not None else -int(signal.SIGKILL)

    def __enter__(self) -> RouterProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rules_json(rules: TrafficRules) -> dict[str, Any]:
    """TrafficRules as the admin API spells them."""
    return {
        "weights": dict(rules.weights),
        "matches": [
            {"version": m.version, "header": m.header, "cookie": m.cookie, "kind": m.kind, "value": m.value}
            for m in rules.matches
        ],
        "sticky_header": rules.sticky_header,
        "mirror_version": rules.mirror_version,
        "mirror_percent": rules.mirror_percent,
    }


class RouterClient:
    """The admin API of a running goship-router; the local runtime's ``TrafficRouter``. ``http`` carries
    the calls on kept-alive connections, its timeouts bounding each (the router answers in milliseconds)."""

    def __init__(self, admin_url: str, http: _http.Client) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.http = http

    def _call(self, method: str, path: str, body: object = None) -> _http.Response:
        content, headers = None, {}
        if body is not None:
            content, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
        try:
            response = self.http.request(method, self.admin_url + path, headers=headers, content=content)
        except _http.HTTPError as exc:
            raise EnvironmentFailure(
                f"goship's router at {self.admin_url} did not answer {method} {path}: {exc}",
                hint="the router process may have exited; its log is in the runtime's directory",
            ) from exc
        if response.status_code == 400:
            # The router validates the whole document and names every field it refused, one per line.
            try:
                reason = str(response.json()["error"])
            except (ValueError, KeyError, TypeError):
                reason = response.text[:300]
            raise UsageError(f"goship's router refused {method} {path}: {reason}")
        if response.status_code != 200:
            raise EnvironmentFailure(
                f"goship's router answered {method} {path} with {response.status_code}: {response.text[:300]}"
            )
        return response

    def configure(
        self,
        endpoints: Mapping[str, Sequence[str]],
        rules: TrafficRules,
        *,
        timeout_ms: int = 30000,
        retries: int = 0,
    ) -> None:
        """Replace everything at once (``PUT /config``); ``retries`` retries connect failures only."""
        body = {
            "endpoints": {v: list(a) for v, a in endpoints.items()},
            "rules": rules_json(rules),
            "timeout_ms": timeout_ms,
            "retries": retries,
        }
        self._call("PUT", "/config", body)

    def apply(self, rules: TrafficRules, *, lease_s: float = 0.0, fallback: str | None = None) -> None:
        """Replace the rules, keep the endpoints (``PATCH /rules`` with every field). With ``lease_s`` the
        rules hold that long unless applied again: then the router sends everything to ``fallback``."""
        body: dict[str, Any] = {**rules_json(rules), "lease_seconds": lease_s}
        if lease_s:
            if not fallback:
                raise UsageError("a lease needs the version traffic falls back to when it runs out")
            body["lease_fallback"] = fallback
        self._call("PATCH", "/rules", body)

    def set_endpoints(self, endpoints: Mapping[str, Sequence[str]]) -> None:
        """The versions named get exactly these ``host:port`` endpoints (``[]`` empties one); the others
        keep theirs. Give only ready endpoints: the router sends traffic to every one it knows."""
        self._call("PATCH", "/endpoints", {v: list(a) for v, a in endpoints.items()})

    def config(self) -> dict[str, Any]:
        data: dict[str, Any] = self._call("GET", "/config").json()
        return data

    def stats(self) -> RouterStats:
        return RouterStats.from_json(self._call("GET", "/stats").json())

    def metrics_text(self) -> str:
        """``GET /metrics``: Prometheus text exposition format 0.0.4."""
        return self._call("GET", "/metrics").text


class LeasedRouter:
    """The ``TrafficRouter`` of a canary on goship's router: a split between ``fallback`` (the stable
    version) and anything else holds for ``lease_s`` only, and :meth:`renew` extends it. Whoever judges the
    canary renews it before every wait; when it stops (killed, hung), the router itself sends everything
    to ``fallback`` once the lease runs out.

    Rules that do not name ``fallback`` (a promotion: all to the canary) or send it everything are not
    leased: there is nothing under judgement to fall back from.
    """

    def __init__(self, client: RouterClient, *, fallback: str, lease_s: float) -> None:
        if lease_s <= 0:
            raise UsageError(f"lease_s: expected seconds > 0 (not {lease_s:g})")
        self.client = client
        self.fallback = fallback
        self.lease_s = lease_s
        self._last: TrafficRules | None = None

    def leased(self, rules: TrafficRules) -> bool:
        """Whether ``rules`` split traffic away from the fallback (and so need a lease)."""
        if self.fallback not in rules.weights:
            return False
        elsewhere = any(w > 0 for v, w in rules.weights.items() if v != self.fallback)
        mirrored = rules.mirror_version is not None and rules.mirror_percent > 0
        return elsewhere or bool(rules.matches) or mirrored

    def apply(self, rules: TrafficRules) -> None:
        if self.leased(rules):
            self.client.apply(rules, lease_s=self.lease_s, fallback=self.fallback)
        else:
            self.client.apply(rules)
        self._last = rules

    def renew(self) -> None:
        """Extend the lease of the rules applied last (applying them again: a router that fell back in
        the meantime gets them back, since their judge is evidently alive)."""
        if self._last is not None and self.leased(self._last):
            self.apply(self._last)
