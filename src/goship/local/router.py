"""goship's local router from Python: build the Go program shipped in ``routerd/`` (once per source hash),
run it, and drive its loopback JSON admin API as the ``TrafficRouter`` and ``MetricsSource`` ports of
:mod:`goship.rollout.ports`. Latency quantiles are interpolated from histogram buckets exactly as PromQL's
``histogram_quantile`` does, so a local canary and a Prometheus-backed one judge the same numbers alike.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import httpx

from goship import _proc
from goship.errors import EnvironmentFailure, UsageError
from goship.gotool import Go
from goship.rollout.ports import TrafficRules, VersionMetrics

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


class Child(Protocol):
    """What :class:`RouterProcess` needs of a started process (``subprocess.Popen`` has it)."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def send_signal(self, sig: int, /) -> None: ...

    def kill(self) -> None: ...


class Spawner(Protocol):
    """Starts a process: :func:`goship._proc.spawn`'s signature."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None,
        cwd: Path,
        stdout: IO[bytes],
        stderr: IO[bytes],
    ) -> Child: ...


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:]) or "(empty)"
    except OSError:
        return "(no log)"


def _wait(child: Child, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while (code := child.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return code


@dataclass(frozen=True)
class RouterProcess:
    """A running goship-router: where it listens, where its admin API is, and how to stop it."""

    child: Child
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


@dataclass(frozen=True)
class Histogram:
    """A latency histogram as Prometheus keeps one: cumulative counts per upper bound."""

    bounds: tuple[float, ...]
    """Finite upper bounds in seconds, ascending; +Inf is implied after the last."""
    counts: tuple[int, ...]
    """Cumulative: one per bound, then the +Inf bucket (which is the count of observations)."""
    sum: float = 0.0
    """Seconds, all observations together."""

    @property
    def count(self) -> int:
        return self.counts[-1] if self.counts else 0

    def minus(self, earlier: Histogram) -> Histogram:
        """The observations made since ``earlier`` (an empty histogram subtracts nothing)."""
        if not earlier.counts:
            return self
        if earlier.bounds != self.bounds:
            raise ValueError(f"bucket bounds differ: {earlier.bounds} then {self.bounds}")
        counts = tuple(now - then for now, then in zip(self.counts, earlier.counts, strict=True))
        return Histogram(self.bounds, counts, self.sum - earlier.sum)

    def quantile(self, q: float) -> float:
        """``histogram_quantile(q, …)`` in seconds: NaN without observations."""
        return histogram_quantile(q, [*self.bounds, math.inf], self.counts)


def histogram_quantile(q: float, bounds: Sequence[float], cumulative: Sequence[int | float]) -> float:
    """PromQL's ``histogram_quantile`` (promql/quantile.go, classic buckets): find the bucket holding rank
    ``q × count`` and interpolate linearly inside it, the lowest bucket starting at 0; a rank in the +Inf
    bucket answers the highest finite bound. ``bounds`` must end with +Inf."""
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if len(bounds) < 2 or not math.isinf(bounds[-1]) or len(bounds) != len(cumulative):
        return math.nan
    counts = list(cumulative)
    for i in range(1, len(counts)):  # as ensureMonotonic: a scrape racing increments may dip
        counts[i] = max(counts[i], counts[i - 1])
    total = counts[-1]
    if total == 0:
        return math.nan
    rank = q * total
    b = next(i for i, c in enumerate([*counts[:-1], math.inf]) if c >= rank)
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, count = 0.0, bounds[b], counts[b]
    if b > 0:
        start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * (rank / count)


def _minus_counts(now: Mapping[Any, int], then: Mapping[Any, int]) -> dict[Any, int]:
    return {k: v - then.get(k, 0) for k, v in now.items()}


@dataclass(frozen=True)
class VersionStats:
    """One version's counters since the router started."""

    requests: int = 0
    """Requests routed to the version (mirrored copies not included)."""
    responses: Mapping[str, int] = field(default_factory=dict)
    """Answers by status class: ``"2xx"`` … ``"5xx"``."""
    codes: Mapping[int, int] = field(default_factory=dict)
    """Answers by status code (499: the client broke off)."""
    errors: Mapping[str, int] = field(default_factory=dict)
    """Failed attempts by kind: connect, upstream-reset, timeout, no-ready-endpoint."""
    failures: int = 0
    """5xx answers, answers cut short and failed attempts a retry hid: the canary's error count."""
    retried: int = 0
    latency: Histogram = Histogram((), ())
    mirrored: int = 0
    """Copies sent to this version as the mirror."""
    mirror_failures: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VersionStats:
        lat, mirror = data["latency"], data.get("mirror", {})
        return cls(
            requests=int(data["requests"]),
            responses={str(k): int(v) for k, v in data["responses"].items()},
            codes={int(k): int(v) for k, v in data["codes"].items()},
            errors={str(k): int(v) for k, v in data["errors"].items()},
            failures=int(data["failures"]),
            retried=int(data["retried"]),
            latency=Histogram(
                tuple(float(b) for b in lat["bounds"]),
                tuple(int(c) for c in lat["counts"]),
                float(lat["sum"]),
            ),
            mirrored=int(mirror.get("requests", 0)),
            mirror_failures=int(mirror.get("failures", 0)),
        )

    def minus(self, earlier: VersionStats) -> VersionStats:
        """What happened since ``earlier``."""
        return VersionStats(
            requests=self.requests - earlier.requests,
            responses=_minus_counts(self.responses, earlier.responses),
            codes=_minus_counts(self.codes, earlier.codes),
            errors=_minus_counts(self.errors, earlier.errors),
            failures=self.failures - earlier.failures,
            retried=self.retried - earlier.retried,
            latency=self.latency.minus(earlier.latency),
            mirrored=self.mirrored - earlier.mirrored,
            mirror_failures=self.mirror_failures - earlier.mirror_failures,
        )


@dataclass(frozen=True)
class RouterStats:
    """One ``GET /stats`` snapshot."""

    instance: str
    """Random per router process: counters of two instances cannot be subtracted."""
    time: float
    """Seconds since the router started, on a monotonic clock."""
    versions: Mapping[str, VersionStats]
    unrouted: int = 0
    """Requests no rule sent anywhere (no weights, no match)."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RouterStats:
        versions = {str(k): VersionStats.from_json(v) for k, v in data["versions"].items()}
        return cls(str(data["instance"]), float(data["time"]), versions, int(data.get("unrouted", 0)))


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
    """The admin API of a running goship-router; the local runtime's ``TrafficRouter``."""

    def __init__(self, admin_url: str, http: httpx.Client) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.http = http

    def _call(self, method: str, path: str, body: object = None) -> httpx.Response:
        try:
            response = self.http.request(method, self.admin_url + path, json=body)
        except httpx.HTTPError as exc:
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

    def apply(self, rules: TrafficRules) -> None:
        """Replace the rules, keep the endpoints (``PATCH /rules`` with every field)."""
        self._call("PATCH", "/rules", rules_json(rules))

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


class StatsSource(Protocol):
    def stats(self) -> RouterStats: ...


class RouterMetrics:
    """The ``MetricsSource`` of the local runtime, from the router's counters.

    A window is the difference between a snapshot taken now and the newest remembered snapshot at least
    ``seconds`` older. When none is that old, the window starts at the oldest one remembered (it is
    shorter than asked); with none at all, it starts at the router's start if that lies within ``seconds``
    and is empty otherwise. Every call remembers its snapshot; :meth:`mark` starts a window on purpose
    (right after a traffic shift, say).
    """

    def __init__(
        self, source: StatsSource, *, quantiles: Sequence[float] = (0.5, 0.99), keep: int = 1024
    ) -> None:
        self.source = source
        self.quantiles = tuple(quantiles)
        self._history: deque[RouterStats] = deque(maxlen=keep)

    def mark(self) -> RouterStats:
        """Take a snapshot and remember it."""
        snap = self.source.stats()
        if self._history and self._history[-1].instance != snap.instance:
            self._history.clear()  # a restarted router counts from zero again
        self._history.append(snap)
        return snap

    def _baseline(self, now: RouterStats, seconds: float) -> RouterStats:
        earlier = list(self._history)[:-1]
        for snap in reversed(earlier):
            if now.time - snap.time >= seconds:
                return snap
        if earlier:
            return earlier[0]
        if now.time <= seconds:
            return RouterStats(now.instance, 0.0, {})
        return now

    def window(self, versions: Sequence[str], seconds: float) -> Mapping[str, VersionMetrics]:
        now = self.mark()
        base = self._baseline(now, seconds)
        out: dict[str, VersionMetrics] = {}
        for version in versions:
            current = now.versions.get(version, VersionStats())
            delta = current.minus(base.versions.get(version, VersionStats()))
            latency = (
                {q: delta.latency.quantile(q) * 1000 for q in self.quantiles} if delta.latency.count else {}
            )
            out[version] = VersionMetrics(requests=delta.requests, errors=delta.failures, latency_ms=latency)
        return out
