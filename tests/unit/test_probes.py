"""goship.local.probes: Kubernetes probe defaults, and how results over time become a replica's state
(thresholds, initial delay, the startup probe holding the others back, liveness asking for a restart)."""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import pytest

from goship.errors import UsageError
from goship.local.probes import (
    ExecProbe,
    HttpGetProbe,
    ProbeSpec,
    ProbeTarget,
    ProbeTracker,
    TcpSocketProbe,
    probe_for,
)

T0 = 1000.0


def test_defaults_are_the_kubernetes_ones() -> None:
    spec = ProbeSpec.http("/readyz")
    assert (spec.initial_delay_s, spec.period_s, spec.timeout_s) == (0.0, 10.0, 1.0)
    assert (spec.success_threshold, spec.failure_threshold) == (1, 3)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ProbeSpec("exec"), "needs a command"),
        (lambda: ProbeSpec.http("readyz"), "starts with /"),
        (lambda: ProbeSpec.tcp(port=70000), "1..65535"),
        (lambda: ProbeSpec.tcp(period_s=0), "period_s"),
        (lambda: ProbeSpec.tcp(failure_threshold=0), "1 or more"),
    ],
)
def test_invalid_specs_say_what_was_expected(make: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        make()  # type: ignore[operator]


def test_liveness_and_startup_probes_need_a_success_threshold_of_one() -> None:
    with pytest.raises(UsageError, match="liveness probe's success_threshold must be 1"):
        ProbeTracker(started_at=T0, liveness=ProbeSpec.http("/healthz", success_threshold=2))


def test_probe_for_aims_at_the_replica_port_unless_the_probe_names_one(tmp_path: Path) -> None:
    target = ProbeTarget("127.0.0.1", 8123, tmp_path)
    assert probe_for(ProbeSpec.http("/readyz", timeout_s=2), target) == HttpGetProbe(
        "127.0.0.1", 8123, "/readyz", 2
    )
    assert probe_for(ProbeSpec.tcp(port=9000), target) == TcpSocketProbe("127.0.0.1", 9000, 1.0)
    exec_probe = probe_for(ProbeSpec.exec(["true"]), target)
    assert isinstance(exec_probe, ExecProbe) and exec_probe.cwd == tmp_path


def test_readiness_starts_false_and_needs_success_threshold_successes_in_a_row() -> None:
    tracker = ProbeTracker(started_at=T0, readiness=ProbeSpec.http("/readyz", success_threshold=2))
    assert not tracker.ready
    assert tracker.record("readiness", True, T0) is None
    assert tracker.record("readiness", False, T0 + 10) is None  # the streak is broken
    assert tracker.record("readiness", True, T0 + 20) is None
    assert tracker.record("readiness", True, T0 + 30) == "ready"
    assert tracker.ready


def test_readiness_turns_false_only_after_failure_threshold_failures_in_a_row() -> None:
    tracker = ProbeTracker(started_at=T0, readiness=ProbeSpec.http("/readyz"))
    assert tracker.record("readiness", True, T0) == "ready"
    assert tracker.record("readiness", False, T0 + 10) is None
    assert tracker.record("readiness", False, T0 + 20) is None
    assert tracker.record("readiness", True, T0 + 30) is None  # a success resets the failures
    assert [tracker.record("readiness", False, T0 + t) for t in (40, 50, 60)] == [None, None, "not-ready"]
    assert not tracker.ready
    assert tracker.record("readiness", True, T0 + 70) == "ready"


def test_without_a_readiness_probe_a_replica_is_ready_as_soon_as_it_runs() -> None:
    assert ProbeTracker(started_at=T0).ready
    assert ProbeTracker(started_at=T0, liveness=ProbeSpec.http("/healthz")).ready


def test_no_check_before_the_initial_delay_then_one_per_period() -> None:
    tracker = ProbeTracker(started_at=T0, readiness=ProbeSpec.http("/readyz", initial_delay_s=5, period_s=2))
    assert tracker.due(T0 + 4.9) == []
    assert tracker.next_due() == T0 + 5
    assert tracker.due(T0 + 5) == ["readiness"]
    assert tracker.due(T0 + 6) == []  # still in flight
    tracker.record("readiness", True, T0 + 5.1)
    assert tracker.next_due() == T0 + 7
    assert tracker.due(T0 + 6.9) == []
    assert tracker.due(T0 + 7) == ["readiness"]


def test_a_check_that_overran_its_period_is_not_run_twice_to_catch_up() -> None:
    tracker = ProbeTracker(started_at=T0, readiness=ProbeSpec.http("/readyz", period_s=1))
    assert tracker.due(T0) == ["readiness"]
    tracker.record("readiness", False, T0 + 3.5)
    assert tracker.next_due() == T0 + 3.5


def test_the_startup_probe_holds_liveness_and_readiness_back_until_it_passes() -> None:
    tracker = ProbeTracker(
        started_at=T0,
        startup=ProbeSpec.http("/healthz", period_s=1, failure_threshold=30),
        liveness=ProbeSpec.http("/healthz", period_s=10),
        readiness=ProbeSpec.http("/readyz", period_s=10),
    )
    assert not tracker.ready and not tracker.started
    for t in range(5):
        assert tracker.due(T0 + t) == ["startup"]
        assert tracker.record("startup", False, T0 + t) is None
    assert tracker.due(T0 + 5) == ["startup"]
    assert tracker.record("startup", True, T0 + 5) is None  # started, but readiness has not passed yet
    assert tracker.started
    assert tracker.due(T0 + 5) == ["liveness", "readiness"]  # right away, not a period later
    assert tracker.record("readiness", True, T0 + 5) == "ready"
    assert tracker.due(T0 + 100) == ["readiness"]  # startup never runs again; liveness is in flight


def test_a_startup_probe_that_passes_makes_a_replica_without_readiness_probe_ready() -> None:
    tracker = ProbeTracker(started_at=T0, startup=ProbeSpec.tcp())
    assert not tracker.ready
    assert tracker.record("startup", True, T0) == "ready"


def test_startup_failure_threshold_asks_for_a_restart() -> None:
    tracker = ProbeTracker(started_at=T0, startup=ProbeSpec.tcp(failure_threshold=2))
    assert tracker.record("startup", False, T0) is None
    assert tracker.record("startup", False, T0 + 10) == "restart"


def test_liveness_failure_threshold_failures_in_a_row_ask_for_a_restart() -> None:
    tracker = ProbeTracker(started_at=T0, liveness=ProbeSpec.http("/healthz"))
    assert [
        tracker.record("liveness", ok, T0 + i) for i, ok in enumerate([False, False, True, False, False])
    ] == [None] * 5
    assert tracker.record("liveness", False, T0 + 5) == "restart"
    assert tracker.ready  # liveness says nothing about readiness


class FakeCommand:
    def __init__(self, code: int) -> None:
        self.code = code
        self.killed = False

    def wait(self) -> int:
        return self.code

    def kill(self) -> None:
        self.killed = True


class FakeCommandSpawner:
    def __init__(self, code: int | None) -> None:
        self.code = code
        self.calls: list[tuple[tuple[str, ...], Mapping[str, str] | None, Path]] = []

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None,
        cwd: Path,
        stdout: IO[bytes],
        stderr: IO[bytes],
    ) -> FakeCommand:
        self.calls.append((tuple(argv), env, cwd))
        if self.code is None:
            raise FileNotFoundError(2, "No such file or directory")
        return FakeCommand(self.code)


@pytest.mark.parametrize(("code", "ok"), [(0, True), (1, False), (-signal.SIGKILL, False)])
def test_an_exec_probe_passes_on_exit_code_zero(tmp_path: Path, code: int, ok: bool) -> None:
    spawner = FakeCommandSpawner(code)
    probe = ExecProbe(("check", "--fast"), tmp_path, 1.0, env={"A": "1"}, spawn=spawner)
    result = probe.check()
    assert result.ok is ok
    assert result.detail == f"exec check: exit {code}"
    assert spawner.calls == [(("check", "--fast"), {"A": "1"}, tmp_path)]


def test_an_exec_probe_whose_program_is_missing_fails(tmp_path: Path) -> None:
    result = ExecProbe(("nope",), tmp_path, 1.0, spawn=FakeCommandSpawner(None)).check()
    assert not result.ok
    assert result.detail == "exec nope: no such file or directory"
