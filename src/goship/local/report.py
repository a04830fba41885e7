"""The rehearsal report: what the load saw during an update, as a verdict, findings and per-second series.

Its JSON (:meth:`Report.to_json`) is a contract for CI: ``verdict``, ``requests``, ``failed_requests``,
``failures``, ``versions`` and ``findings`` come first with fixed shapes; ``events`` and ``series`` follow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from goship.local.loadgen import CAUSES, Cause, LoadResult, RequestRecord, VersionStats

Verdict = Literal["pass", "fail"]

# Event kinds the standard findings look for; callers may record any other kind too.
ROLLOUT_STARTED = "rollout-started"
ROLLOUT_FINISHED = "rollout-finished"
REPLICA_READY = "replica-ready"
SIGTERM = "sigterm"


@dataclass(frozen=True)
class Event:
    """Something the rehearsal did or saw, at a time on the load's clock."""

    t: float
    """Seconds after the load began (``LoadRun.elapsed()`` when it happened)."""
    kind: str
    """What sort of event, e.g. :data:`ROLLOUT_STARTED` or :data:`SIGTERM`."""
    message: str
    """For people: ``SIGTERM to v1.0.0#1``."""
    replica: str | None = None
    """The replica concerned, e.g. ``v1.0.0#1``."""
    version: str | None = None
    """The version of that replica (lets findings match requests to it)."""


@dataclass(frozen=True)
class Finding:
    """One conclusion drawn from the run."""

    kind: str
    """A stable name: ``failed-requests``, ``mixed-versions``, ``drained``, ``dropped-on-sigterm``,
    ``no-ready-endpoint``, ``no-failures`` or one of the caller's."""
    message: str
    """The conclusion in a sentence, with its numbers."""


@dataclass(frozen=True)
class FailureCount:
    """Failed requests of one cause from one version."""

    cause: Cause
    """Why they failed."""
    count: int
    """How many."""
    version: str | None
    """The version that answered, or None when none did (resets, timeouts, connect errors)."""


@dataclass(frozen=True)
class SeriesPoint:
    """One second (or bucket) of the run."""

    t: float
    """Start of the bucket, seconds after the load began."""
    requests: int
    """Requests started in it."""
    failed: int
    """Of those, failed."""
    error_rate: float
    """failed / requests."""
    share: Mapping[str, float]
    """Fraction of the answers per version."""
    p50_ms: Mapping[str, float | None]
    """Median latency per version."""
    p99_ms: Mapping[str, float | None]
    """99th percentile latency per version."""


@dataclass(frozen=True)
class Report:
    """A rehearsal's outcome; build it with :meth:`from_load`."""

    verdict: Verdict
    """pass or fail."""
    requests: int
    """Requests the load started."""
    failed_requests: int
    """Of those, failed (any cause)."""
    failures: tuple[FailureCount, ...]
    """Failed requests per cause and version, most first."""
    versions: Mapping[str, VersionStats]
    """Per answering version, in order of first answer."""
    findings: tuple[Finding, ...] = ()
    """Conclusions, most important first."""
    events: tuple[Event, ...] = ()
    """What the rehearsal did, by time."""
    series: tuple[SeriesPoint, ...] = ()
    """Per bucket of ``bucket_s`` seconds."""
    bucket_s: float = 1.0
    """Width of a series bucket in seconds."""
    duration_s: float = 0.0
    """How long the load ran."""

    @classmethod
    def from_load(
        cls,
        result: LoadResult,
        *,
        events: Iterable[Event] = (),
        findings: Iterable[Finding] = (),
        verdict: Verdict | None = None,
        bucket_s: float = 1.0,
    ) -> Report:
        """The report of a load run; the verdict is "fail" when any request failed unless given."""
        counts = result.failure_counts()
        failed = sum(counts.values())
        failures = sorted(
            (FailureCount(cause, n, version) for (cause, version), n in counts.items()),
            key=lambda f: (-f.count, CAUSES.index(f.cause), f.version or ""),
        )
        series = tuple(
            SeriesPoint(
                t=b.start_s,
                requests=b.requests,
                failed=b.failed,
                error_rate=b.error_rate,
                share=b.share(),
                p50_ms={v: s.p50_ms for v, s in b.versions.items()},
                p99_ms={v: s.p99_ms for v, s in b.versions.items()},
            )
            for b in result.series(bucket_s)
        )
        return cls(
            verdict=verdict or ("fail" if failed else "pass"),
            requests=len(result.records),
            failed_requests=failed,
            failures=tuple(failures),
            versions=result.by_version(),
            findings=tuple(findings),
            events=tuple(sorted(events, key=lambda e: e.t)),
            series=series,
            bucket_s=bucket_s,
            duration_s=result.duration_s,
        )

    def to_json(self) -> dict[str, object]:
        """The report as JSON-ready data, contract keys first."""
        return {
            "verdict": self.verdict,
            "requests": self.requests,
            "failed_requests": self.failed_requests,
            "failures": [{"cause": f.cause, "count": f.count, "version": f.version} for f in self.failures],
            "versions": {
                v: {
                    "requests": s.requests,
                    "errors": s.errors,
                    "p50_ms": _ms(s.p50_ms),
                    "p99_ms": _ms(s.p99_ms),
                }
                for v, s in self.versions.items()
            },
            "findings": [{"kind": f.kind, "message": f.message} for f in self.findings],
            "events": [
                {
                    "t": round(e.t, 3),
                    "kind": e.kind,
                    "message": e.message,
                    "replica": e.replica,
                    "version": e.version,
                }
                for e in self.events
            ],
            "series": [
                {
                    "t": round(p.t, 3),
                    "requests": p.requests,
                    "failed": p.failed,
                    "error_rate": round(p.error_rate, 6),
                    "share": {v: round(x, 6) for v, x in p.share.items()},
                    "p50_ms": {v: _ms(x) for v, x in p.p50_ms.items()},
                    "p99_ms": {v: _ms(x) for v, x in p.p99_ms.items()},
                }
                for p in self.series
            ],
            "bucket_s": self.bucket_s,
            "duration_s": round(self.duration_s, 3),
        }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def standard_findings(
    result: LoadResult, events: Sequence[Event], *, drain_window_s: float = 1.0, gap_merge_s: float = 1.0
) -> list[Finding]:
    """The findings every rehearsal wants, from the records and the caller's events.

    - ``failed-requests``: failures during the update (between :data:`ROLLOUT_STARTED` and
      :data:`ROLLOUT_FINISHED`, or the whole run without them) per cause, and those outside it;
    - ``mixed-versions``: first to last second in which two or more versions answered;
    - ``drained`` / ``dropped-on-sigterm``: for each :data:`SIGTERM`, whether requests in flight then
      (or started within ``drain_window_s`` after it) went unserved (reset, connect, timeout: a 5xx is
      the service's answer, counted under ``failed-requests`` only);
    - ``no-ready-endpoint``: the spans in which the router had no ready endpoint (failures less than
      ``gap_merge_s`` apart form one span);
    - ``no-failures`` when nothing failed.
    """
    findings: list[Finding] = []
    failures = result.failures()
    start = min((e.t for e in events if e.kind == ROLLOUT_STARTED), default=None)
    end = max((e.t for e in events if e.kind == ROLLOUT_FINISHED), default=None)
    lo = start if start is not None else 0.0
    hi = end if end is not None else result.duration_s + result.spec.timeout_s
    during = [r for r in failures if r.start_s <= hi and r.end_s >= lo]
    outside = [r for r in failures if not (r.start_s <= hi and r.end_s >= lo)]
    label = f"during the update ({lo:.1f} s – {hi:.1f} s)" if start is not None or end is not None else ""
    findings += _failed_requests(during, label or "during the run")
    findings += _failed_requests(outside, "outside the update")
    if not failures:
        findings.append(Finding("no-failures", f"all {len(result.records)} requests succeeded"))
    findings += _mixed_versions(result)
    for event in events:
        if event.kind == SIGTERM:
            findings.append(_drain(result, event, drain_window_s))
    findings += _no_ready_gaps(failures, gap_merge_s)
    return findings


def _failed_requests(failures: Sequence[RequestRecord], when: str) -> list[Finding]:
    by_cause: dict[Cause, list[RequestRecord]] = {}
    for r in failures:
        if r.cause is not None:
            by_cause.setdefault(r.cause, []).append(r)
    findings = []
    for cause in CAUSES:
        rs = by_cause.get(cause)
        if not rs:
            continue
        versions = sorted({r.version for r in rs if r.version})
        from_ = f" from {', '.join(versions)}" if versions else ""
        findings.append(
            Finding(
                "failed-requests",
                f"{_n(len(rs), 'request')} failed with {cause}{from_} {when}, "
                f"first at {rs[0].start_s:.2f} s, last at {rs[-1].start_s:.2f} s",
            )
        )
    return findings


def _mixed_versions(result: LoadResult) -> list[Finding]:
    mixed = [b for b in result.series(1.0) if len(b.versions) >= 2]
    if not mixed:
        return []
    first, last = mixed[0], mixed[-1]
    seen = {v for b in mixed for v in b.versions}
    versions = [v for v in result.versions() if v in seen]
    seconds = last.start_s + 1 - first.start_s
    return [
        Finding(
            "mixed-versions",
            f"{' and '.join(versions)} answered side by side from {first.start_s:.0f} s to {last.start_s + 1:.0f} s "
            f"({seconds:.0f} s mixed-version window)",
        )
    ]


_NOT_SERVED: tuple[Cause, ...] = ("reset", "connect", "timeout")
"""Failures that say a replica did not serve a request; a 5xx is an answer the service chose, and
no-ready-endpoint the router's (both are reported as failed requests, not as drops)."""


def _drain(result: LoadResult, event: Event, window_s: float) -> Finding:
    who = event.replica or event.version or "a replica"
    # The client cannot see which replica served a request, only the version; failures carry no version.
    in_flight = [
        r
        for r in result.records
        if r.start_s <= event.t <= r.end_s and r.version in (event.version, None) and not r.failed
    ]
    dropped = [
        r
        for r in result.failures()
        if r.cause in _NOT_SERVED
        and r.start_s <= event.t + window_s
        and r.end_s >= event.t
        and r.version in (event.version, None)
    ]
    if not dropped:
        return Finding(
            "drained",
            f"SIGTERM to {who} at {event.t:.2f} s: {_n(len(in_flight), 'request')} in flight, none dropped",
        )
    causes = ", ".join(f"{c} ×{n}" for c, n in Counter(r.cause for r in dropped).items())
    return Finding(
        "dropped-on-sigterm",
        f"SIGTERM to {who} at {event.t:.2f} s: {_n(len(dropped), 'request')} dropped within "
        f"{window_s:g} s ({causes}); it did not drain in-flight requests",
    )


def _no_ready_gaps(failures: Sequence[RequestRecord], merge_s: float) -> list[Finding]:
    spans: list[list[RequestRecord]] = []
    for r in (r for r in failures if r.cause == "no-ready-endpoint"):
        if spans and r.start_s - spans[-1][-1].start_s < merge_s:
            spans[-1].append(r)
        else:
            spans.append([r])
    return [
        Finding(
            "no-ready-endpoint",
            f"no ready endpoint from {s[0].start_s:.2f} s to {s[-1].start_s:.2f} s ({_n(len(s), 'request')} refused)",
        )
        for s in spans
    ]


def _n(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
