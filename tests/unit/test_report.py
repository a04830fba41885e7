"""The rehearsal report: its JSON contract, verdict, series, and the standard findings from synthetic runs."""

from __future__ import annotations

import json

import pytest

from goship.local.loadgen import Cause, LoadResult, LoadSpec, RequestRecord
from goship.local.report import (
    REPLICA_READY,
    ROLLOUT_FINISHED,
    ROLLOUT_STARTED,
    SIGTERM,
    Event,
    Finding,
    Report,
    standard_findings,
)

TARGET = "http://127.0.0.1:8080"


def ok(start_s: float, version: str, latency_ms: float = 5.0) -> RequestRecord:
    return RequestRecord(start_s, latency_ms, 200, version, None, None, "/")


def failed(
    start_s: float,
    cause: Cause,
    *,
    version: str | None = None,
    latency_ms: float = 2.0,
    status: int | None = None,
) -> RequestRecord:
    router_error = "no-ready-endpoint" if cause == "no-ready-endpoint" else None
    return RequestRecord(start_s, latency_ms, status, version, cause, router_error, "/")


def load(records: list[RequestRecord], duration_s: float, rps: float = 10) -> LoadResult:
    spec = LoadSpec(TARGET, rps=rps, duration_s=duration_s, timeout_s=1.0)
    return LoadResult(spec, tuple(sorted(records, key=lambda r: r.start_s)), duration_s, 0.0)


def rolling_update() -> tuple[LoadResult, list[Event]]:
    """12 s at 10 rps: v1 alone until 5 s, v1 and v2 alternate 5–8 s, v2 alone after; v1#1 gets SIGTERM at
    6.0 s and drops 3 requests (resets); the router has no ready endpoint at 9.0–9.4 s."""
    records = []
    for i in range(120):
        t = i / 10
        if 6.0 <= t < 6.3:
            records.append(failed(t, "reset"))
        elif 9.0 <= t < 9.5:
            records.append(failed(t, "no-ready-endpoint", status=503, latency_ms=0.5))
        elif t < 5:
            records.append(ok(t, "v1", latency_ms=4.0 + i % 10))
        elif t < 8:
            records.append(ok(t, "v1" if i % 2 else "v2", latency_ms=6.0))
        else:
            records.append(ok(t, "v2", latency_ms=8.0))
    events = [
        Event(4.0, ROLLOUT_STARTED, "rollout started"),
        Event(4.9, REPLICA_READY, "replica v2#1 ready", replica="v2#1", version="v2"),
        Event(6.0, SIGTERM, "SIGTERM to v1#1", replica="v1#1", version="v1"),
        Event(10.0, ROLLOUT_FINISHED, "rollout finished"),
    ]
    return load(records, 12.0), events


def test_json_starts_with_exactly_the_contract_keys() -> None:
    result, events = rolling_update()
    doc = Report.from_load(result, events=events, findings=standard_findings(result, events)).to_json()

    assert list(doc)[:6] == ["verdict", "requests", "failed_requests", "failures", "versions", "findings"]
    assert doc["verdict"] == "fail"
    assert doc["requests"] == 120
    assert doc["failed_requests"] == 8
    assert doc["failures"] == [
        {"cause": "no-ready-endpoint", "count": 5, "version": None},
        {"cause": "reset", "count": 3, "version": None},
    ]
    versions = doc["versions"]
    assert isinstance(versions, dict)
    assert list(versions) == ["v1", "v2"]
    assert versions["v1"] == {"requests": 64, "errors": 0, "p50_ms": 7.0, "p99_ms": 13.0}
    assert set(versions["v2"]) == {"requests", "errors", "p50_ms", "p99_ms"}
    findings = doc["findings"]
    assert isinstance(findings, list) and findings
    assert all(list(f) == ["kind", "message"] for f in findings)
    assert json.loads(json.dumps(doc)) == doc


def test_json_carries_events_and_a_series_per_second_after_the_contract() -> None:
    result, events = rolling_update()
    doc = Report.from_load(result, events=reversed(events)).to_json()

    assert [e["kind"] for e in doc["events"]] == [ROLLOUT_STARTED, REPLICA_READY, SIGTERM, ROLLOUT_FINISHED]  # type: ignore[attr-defined]
    assert doc["events"][2] == {  # type: ignore[index]
        "t": 6.0,
        "kind": "sigterm",
        "message": "SIGTERM to v1#1",
        "replica": "v1#1",
        "version": "v1",
    }
    series = doc["series"]
    assert isinstance(series, list) and len(series) == 12
    assert series[0] == {
        "t": 0.0,
        "requests": 10,
        "failed": 0,
        "error_rate": 0.0,
        "share": {"v1": 1.0},
        "p50_ms": {"v1": 8.0},
        "p99_ms": {"v1": 13.0},
    }
    assert series[6]["error_rate"] == 0.3
    assert series[6]["share"] == {"v2": pytest.approx(3 / 7, abs=1e-6), "v1": pytest.approx(4 / 7, abs=1e-6)}
    assert series[9]["failed"] == 5


def test_verdict_passes_without_failures_and_the_caller_may_decide_it() -> None:
    clean = load([ok(i / 10, "v1") for i in range(10)], 1.0)
    assert Report.from_load(clean).verdict == "pass"
    assert Report.from_load(clean, verdict="fail").to_json()["verdict"] == "fail"
    doc = Report.from_load(clean).to_json()
    assert (doc["failed_requests"], doc["failures"], doc["findings"]) == (0, [], [])


def test_findings_name_failures_mixed_versions_the_sigterm_and_the_no_ready_gap() -> None:
    result, events = rolling_update()
    assert standard_findings(result, events) == [
        Finding(
            "failed-requests",
            "3 requests failed with reset during the update (4.0 s – 10.0 s), first at 6.00 s, last at 6.20 s",
        ),
        Finding(
            "failed-requests",
            "5 requests failed with no-ready-endpoint during the update (4.0 s – 10.0 s), "
            "first at 9.00 s, last at 9.40 s",
        ),
        Finding(
            "mixed-versions", "v1 and v2 answered side by side from 5 s to 8 s (3 s mixed-version window)"
        ),
        Finding(
            "dropped-on-sigterm",
            "SIGTERM to v1#1 at 6.00 s: 3 requests dropped within 1 s (reset ×3); it did not drain in-flight requests",
        ),
        Finding("no-ready-endpoint", "no ready endpoint from 9.00 s to 9.40 s (5 requests refused)"),
    ]


def test_a_replica_that_drains_gets_a_drained_finding() -> None:
    # Requests take 300 ms, so three are in flight at the SIGTERM and all of them complete.
    records = [ok(i / 10, "v1", latency_ms=300) for i in range(30)]
    events = [Event(1.05, SIGTERM, "SIGTERM to v1#2", replica="v1#2", version="v1")]
    assert standard_findings(load(records, 3.0), events) == [
        Finding("no-failures", "all 30 requests succeeded"),
        Finding("drained", "SIGTERM to v1#2 at 1.05 s: 3 requests in flight, none dropped"),
    ]


def test_a_5xx_answered_around_a_sigterm_is_a_failed_request_not_a_drop() -> None:
    # A release that fails some requests answers them; SIGTERM did not cut them off.
    records = [ok(i / 10, "v2", latency_ms=300) for i in range(30)]
    records[11] = failed(1.1, "5xx", version="v2", status=500, latency_ms=300)
    records[12] = failed(1.2, "reset", latency_ms=1)
    events = [Event(1.05, SIGTERM, "SIGTERM to v2#4", replica="v2#4", version="v2")]
    findings = standard_findings(load(records, 3.0), events)
    assert [f.kind for f in findings] == ["failed-requests", "failed-requests", "dropped-on-sigterm"]
    assert findings[-1].message == (
        "SIGTERM to v2#4 at 1.05 s: 1 request dropped within 1 s (reset ×1); it did not drain in-flight requests"
    )
    records[12] = ok(1.2, "v2", latency_ms=300)
    findings = standard_findings(load(records, 3.0), events)
    assert [f.kind for f in findings] == ["failed-requests", "drained"]
    assert findings[-1].message.endswith("none dropped")


def test_failures_outside_the_update_window_are_told_apart() -> None:
    records = [failed(0.5, "connect"), ok(1.0, "v1"), failed(2.5, "5xx", version="v2", status=500)]
    events = [Event(2.0, ROLLOUT_STARTED, "rollout started"), Event(3.0, ROLLOUT_FINISHED, "done")]
    findings = standard_findings(load(records, 4.0), events)
    assert [f.message for f in findings] == [
        "1 request failed with 5xx from v2 during the update (2.0 s – 3.0 s), first at 2.50 s, last at 2.50 s",
        "1 request failed with connect outside the update, first at 0.50 s, last at 0.50 s",
    ]


def test_without_rollout_events_the_whole_run_counts_and_gaps_apart_are_separate() -> None:
    records = [
        failed(1.0, "no-ready-endpoint", status=503),
        failed(1.2, "no-ready-endpoint", status=503),
        failed(5.0, "no-ready-endpoint", status=503),
    ]
    findings = standard_findings(load(records, 6.0), [])
    assert findings == [
        Finding(
            "failed-requests",
            "3 requests failed with no-ready-endpoint during the run, first at 1.00 s, last at 5.00 s",
        ),
        Finding("no-ready-endpoint", "no ready endpoint from 1.00 s to 1.20 s (2 requests refused)"),
        Finding("no-ready-endpoint", "no ready endpoint from 5.00 s to 5.00 s (1 request refused)"),
    ]
