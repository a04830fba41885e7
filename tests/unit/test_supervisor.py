"""goship.local.supervisor and goship.local.workloads with a fake clock, fake processes and a fake prober:
readiness and endpoints, the kubelet's restart back-off, the order of a graceful stop, and how a replica
set scales down. Nothing sleeps and nothing is started for real."""

from __future__ import annotations

import itertools
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from goship.errors import UsageError
from goship.image.oci import ContainerConfig, Digest, ImageConfig
from goship.local.probes import ProbeResult, ProbeSpec, ProbeTarget
from goship.local.rootfs import Rootfs
from goship.local.supervisor import Event, ReplicaSpec, ReplicaStatus, RestartBackoff, Supervisor
from goship.local.workloads import LocalWorkloads, deletion_order
from goship.rollout.plan import ReplicaSetState

T0 = 1000.0
SIGTERM, SIGKILL = int(signal.SIGTERM), int(signal.SIGKILL)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeProcess:
    pid: int
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    journal: list[tuple[object, ...]]
    clock: FakeClock
    exit_on_sigterm: bool
    code: int | None = None

    def poll(self) -> int | None:
        return self.code

    def send_signal(self, sig: int, /) -> None:
        self.journal.append(("signal", sig, self.clock.now))
        if sig == SIGTERM and self.exit_on_sigterm:
            self.code = 0

    def kill(self) -> None:
        self.journal.append(("signal", SIGKILL, self.clock.now))
        self.code = -SIGKILL


@dataclass
class FakeSpawner:
    clock: FakeClock
    journal: list[tuple[object, ...]]
    exit_on_sigterm: bool = True
    fail_next: int = 0
    processes: list[FakeProcess] = field(default_factory=list)
    pids: Iterator[int] = field(default_factory=lambda: itertools.count(4000))

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None,
        cwd: Path,
        stdout: IO[bytes],
        stderr: IO[bytes],
    ) -> FakeProcess:
        if self.fail_next:
            self.fail_next -= 1
            raise FileNotFoundError(2, "No such file or directory")
        process = FakeProcess(
            next(self.pids), tuple(argv), dict(env or {}), cwd, self.journal, self.clock, self.exit_on_sigterm
        )
        self.processes.append(process)
        return process

    @property
    def last(self) -> FakeProcess:
        return self.processes[-1]


@dataclass
class FakeProber:
    """Answers every check from ``answers[(port, path)]`` (default: passes) and remembers the calls."""

    clock: FakeClock
    answers: dict[tuple[int, str], bool] = field(default_factory=dict)
    calls: list[tuple[int, str, float]] = field(default_factory=list)

    def __call__(self, spec: ProbeSpec, target: ProbeTarget) -> ProbeResult:
        self.calls.append((target.port, spec.path, self.clock.now))
        ok = self.answers.get((target.port, spec.path), True)
        return ProbeResult(ok, f"GET {spec.path}: {200 if ok else 503}")


class World:
    """A supervisor wired to fakes, with one journal of endpoints changes and signals in order."""

    def __init__(self, tmp_path: Path, *, exit_on_sigterm: bool = True) -> None:
        self.clock = FakeClock()
        self.journal: list[tuple[object, ...]] = []
        self.events: list[Event] = []
        self.spawner = FakeSpawner(self.clock, self.journal, exit_on_sigterm=exit_on_sigterm)
        self.prober = FakeProber(self.clock)
        ports = itertools.count(20000)
        self.supervisor = Supervisor(
            log_dir=tmp_path / "logs",
            on_event=self.events.append,
            on_endpoints_changed=lambda eps: self.journal.append(("endpoints", dict(eps), self.clock.now)),
            clock=self.clock,
            sleep=self.clock.sleep,
            spawn=self.spawner,
            prober=self.prober,
            submit=lambda job: job(),
            ports=lambda: next(ports),
            tick_s=0.5,
        )

    def step(self, seconds: float = 0.0) -> None:
        self.clock.now += seconds
        self.supervisor.step()

    def run_until(self, done: Callable[[], bool], *, tick: float = 0.5, limit: float = 10_000) -> None:
        start = self.clock.now
        while not done():
            assert self.clock.now - start < limit, "never happened"
            self.step(tick)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def status(self, rid: str) -> ReplicaStatus:
        return next(r for r in self.supervisor.replicas() if r.id == rid)


def spec(**changes: Any) -> ReplicaSpec:
    settings: dict[str, Any] = {
        "revision": "hello-v1",
        "version": "v1",
        "argv": ("hello",),
        "env": {"A": "1"},
    }
    settings.update(changes)
    return ReplicaSpec(**settings)


READINESS = ProbeSpec.http("/readyz", period_s=1, success_threshold=2, failure_threshold=3)


# --- starting and readiness ---------------------------------------------------------------------------


def test_a_replica_gets_its_own_port_and_log_and_without_readiness_probe_is_ready_at_once(
    tmp_path: Path,
) -> None:
    world = World(tmp_path)
    rid = world.supervisor.start_replica(spec())
    process = world.spawner.last
    assert process.env == {"A": "1", "PORT": "20000"}
    assert world.kinds() == ["started", "ready"]
    assert world.events[0].at == T0 and world.events[0].replica == rid == "hello-v1-1"
    assert world.supervisor.ready_endpoints() == {"v1": ["127.0.0.1:20000"]}
    assert world.journal == [("endpoints", {"v1": ["127.0.0.1:20000"]}, T0)]
    status = world.status(rid)
    assert (status.pid, status.phase, status.ready, status.ready_since, status.restarts) == (
        process.pid,
        "running",
        True,
        T0,
        0,
    )
    assert status.log_path == tmp_path / "logs" / "hello-v1-1.log"
    assert "hello-v1-1 start 1 on port 20000" in status.log_path.read_text()


def test_readiness_follows_the_probe_thresholds_and_moves_the_endpoints(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.supervisor.start_replica(spec(readiness=READINESS))
    assert world.kinds() == ["started"]
    world.step()
    assert world.supervisor.ready_endpoints() == {}  # one success of the two needed
    world.step(1)
    assert world.supervisor.ready_endpoints() == {"v1": ["127.0.0.1:20000"]}
    world.prober.answers[(20000, "/readyz")] = False
    world.step(1)
    world.step(1)
    assert world.supervisor.ready_endpoints() != {}  # two failures of the three needed
    world.step(1)
    assert world.supervisor.ready_endpoints() == {}
    assert world.kinds() == ["started", "ready", "not-ready"]
    assert world.events[-1].detail == "GET /readyz: 503"
    assert [j[1] for j in world.journal] == [{"v1": ["127.0.0.1:20000"]}, {}]


def test_probes_wait_for_the_initial_delay(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.supervisor.start_replica(spec(readiness=ProbeSpec.http("/readyz", initial_delay_s=5, period_s=1)))
    world.run_until(lambda: bool(world.prober.calls))
    assert world.prober.calls == [(20000, "/readyz", T0 + 5)]


def test_endpoints_are_grouped_by_version(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.supervisor.start_replica(spec())
    world.supervisor.start_replica(spec(revision="hello-v2", version="v2"))
    world.supervisor.start_replica(spec())
    assert world.supervisor.ready_endpoints() == {
        "v1": ["127.0.0.1:20000", "127.0.0.1:20002"],
        "v2": ["127.0.0.1:20001"],
    }


# --- crashes and the restart back-off --------------------------------------------------------------


def test_the_backoff_schedule_is_the_kubelets_first_at_once_then_10_20_40_capped_at_300() -> None:
    backoff = RestartBackoff(10, 300)
    delays = []
    t = T0
    for _ in range(9):
        restart = backoff.restart_at(t)
        delays.append(restart - t)
        backoff.restarted(t, restart)
        t = restart + 1  # it runs a second and crashes again
    assert delays == [0, 10, 20, 40, 80, 160, 300, 300, 300]


def test_a_crash_looping_replica_backs_off_measured_from_each_crash(tmp_path: Path) -> None:
    world = World(tmp_path)
    rid = world.supervisor.start_replica(spec(readiness=READINESS))
    delays, phases = [], set()
    for _ in range(7):
        count = len(world.spawner.processes)
        world.spawner.last.code = 1
        world.step(1)
        crashed_at = world.clock.now
        phases.add(world.status(rid).phase)
        world.run_until(lambda: len(world.spawner.processes) > count, tick=1)  # noqa: B023
        delays.append(world.clock.now - crashed_at)
    assert delays == [0, 10, 20, 40, 80, 160, 300]
    assert phases == {"running", "backoff"}  # restarted within the pass of the first crash only
    status = world.status(rid)
    assert status.restarts == 7 and status.port == 20000  # a restart keeps the replica's port
    assert world.kinds()[:4] == ["started", "crashed", "restarted", "crashed"]
    assert world.events[1].detail == "exit code 1"


def test_the_backoff_starts_over_after_twice_the_cap_without_a_crash(tmp_path: Path) -> None:
    world = World(tmp_path)
    rid = world.supervisor.start_replica(spec(backoff_base_s=10, backoff_cap_s=60))
    world.spawner.last.code = 1
    world.step(1)  # restarted at once
    world.spawner.last.code = 1
    world.step(1)
    assert world.status(rid).phase == "backoff"  # second crash: 10 s
    world.run_until(lambda: world.status(rid).phase == "running", tick=1)
    world.step(121)  # more than 2 × 60 s without a crash
    world.spawner.last.code = 1
    world.step(1)
    assert world.status(rid).phase == "running"  # restarted at once again
    assert world.status(rid).restarts == 3


def test_a_program_that_cannot_start_is_a_crash_and_backs_off(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.spawner.fail_next = 2
    rid = world.supervisor.start_replica(spec())
    assert world.kinds() == ["crashed"]
    assert world.events[0].detail == "cannot start hello: No such file or directory"
    world.step()  # the first restart is immediate, and fails too
    assert world.status(rid).phase == "backoff"
    world.step(9.5)
    assert world.status(rid).pid is None
    world.step(0.5)
    assert world.status(rid).phase == "running"
    assert world.kinds() == ["crashed", "crashed", "restarted", "ready"]


def test_failing_the_liveness_probe_stops_the_replica_gracefully_and_restarts_it(tmp_path: Path) -> None:
    world = World(tmp_path)
    liveness = ProbeSpec.http("/healthz", period_s=1, failure_threshold=3)
    rid = world.supervisor.start_replica(spec(liveness=liveness, pre_stop_s=1))
    first = world.spawner.last
    world.prober.answers[(20000, "/healthz")] = False
    world.step()
    world.step(1)
    world.step(1)  # the third failure
    assert world.journal[-1] == ("endpoints", {}, T0 + 2)  # out of the endpoints before the signal
    assert world.kinds()[-2:] == ["not-ready", "killed"]
    assert "liveness probe failed 3 times" in world.events[-1].detail
    world.step(1)
    assert world.journal[-1] == ("signal", SIGTERM, T0 + 3)
    assert (world.events[-1].kind, world.events[-1].at) == ("sigterm", T0 + 3)
    assert "liveness probe failed 3 times" in world.events[-1].detail
    world.prober.answers[(20000, "/healthz")] = True
    world.step(0.5)  # it exited on SIGTERM; the first restart is immediate
    assert world.spawner.last is not first
    assert world.status(rid).restarts == 1
    assert world.kinds()[-4:] == ["killed", "sigterm", "restarted", "ready"]


# --- stopping ---------------------------------------------------------------------------------------


def test_a_stop_leaves_the_endpoints_first_then_prestop_then_sigterm_then_sigkill_after_grace(
    tmp_path: Path,
) -> None:
    world = World(tmp_path, exit_on_sigterm=False)
    rid = world.supervisor.start_replica(spec(pre_stop_s=2, termination_grace_s=10))
    world.journal.clear()
    world.supervisor.stop_replica(rid)
    assert world.journal == [("endpoints", {}, T0)]
    assert world.status(rid).phase == "terminating"
    world.run_until(lambda: not world.supervisor.replicas(), tick=0.5)
    assert world.journal == [
        ("endpoints", {}, T0),
        ("signal", SIGTERM, T0 + 2),
        ("signal", SIGKILL, T0 + 10),
    ]
    assert world.kinds()[-4:] == ["not-ready", "sigterm", "killed", "stopped"]
    not_ready, sigterm = world.events[-4], world.events[-3]
    assert (not_ready.at, not_ready.detail) == (T0, "stop requested")
    assert (sigterm.at, sigterm.detail) == (T0 + 2, "stop requested")  # after the preStop pause
    assert world.events[-1].detail == "killed by signal 9 after 10.5s"


def test_a_replica_that_exits_on_sigterm_is_never_killed(tmp_path: Path) -> None:
    world = World(tmp_path)
    rid = world.supervisor.start_replica(spec())
    world.supervisor.stop_replica(rid)
    world.step()
    assert [j[0:2] for j in world.journal] == [
        ("endpoints", {"v1": ["127.0.0.1:20000"]}),
        ("endpoints", {}),
        ("signal", SIGTERM),
    ]
    assert world.kinds() == ["started", "ready", "not-ready", "sigterm", "stopped"]
    assert world.events[-1].detail == "exit code 0 after 0.0s"


def test_a_prestop_longer_than_the_grace_period_still_leaves_two_seconds_after_sigterm(
    tmp_path: Path,
) -> None:
    world = World(tmp_path, exit_on_sigterm=False)
    rid = world.supervisor.start_replica(spec(pre_stop_s=30, termination_grace_s=5))
    world.supervisor.stop_replica(rid)
    world.run_until(lambda: not world.supervisor.replicas(), tick=0.5)
    assert [j for j in world.journal if j[0] == "signal"] == [
        ("signal", SIGTERM, T0 + 5),
        ("signal", SIGKILL, T0 + 7),
    ]


def test_a_replica_waiting_to_restart_stops_at_once(tmp_path: Path) -> None:
    world = World(tmp_path)
    rid = world.supervisor.start_replica(spec())
    world.spawner.last.code = 1
    world.step()
    world.spawner.last.code = 1
    world.step()
    assert world.status(rid).phase == "backoff"
    world.supervisor.stop_replica(rid)
    assert world.supervisor.replicas() == []
    assert world.events[-1].kind == "stopped"


def test_stop_all_waits_on_the_injected_sleep_until_no_process_is_left(tmp_path: Path) -> None:
    world = World(tmp_path, exit_on_sigterm=False)
    for _ in range(3):
        world.supervisor.start_replica(spec(termination_grace_s=30))
    world.supervisor.stop_all()
    assert world.supervisor.replicas() == []
    assert all(p.code == -SIGKILL for p in world.spawner.processes)
    # The fake sleep moved the fake clock (SIGKILL at 30 s, reaped a tick later); nothing slept for real.
    assert world.clock.now == T0 + 30.5


def test_stopping_an_unknown_replica_names_the_known_ones(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.supervisor.start_replica(spec())
    with pytest.raises(UsageError, match=r"no replica 'x' \(replicas: hello-v1-1\)"):
        world.supervisor.stop_replica("x")


# --- specs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"argv": ()}, "argv is empty"),
        ({"backoff_base_s": 20, "backoff_cap_s": 10}, "backoff_base_s <= backoff_cap_s"),
        ({"liveness": ProbeSpec.tcp(success_threshold=2)}, "success_threshold must be 1"),
        ({"termination_grace_s": -1}, "0 or more"),
    ],
)
def test_invalid_replica_specs_say_what_was_expected(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        spec(**changes)


def test_a_spec_from_a_rootfs_runs_its_entrypoint_in_its_working_directory(tmp_path: Path) -> None:
    config = ImageConfig("amd64", "linux", ContainerConfig(env=("PATH=/bin", "MODE=image")), diff_ids=())
    rootfs = Rootfs(
        path=tmp_path,
        config=config,
        manifest_digest=Digest("sha256:" + "0" * 64),
        argv=(str(tmp_path / "app/hello"), "--flag"),
        env=config.config.env,
        working_dir=tmp_path / "home",
    )
    made = ReplicaSpec.from_rootfs(rootfs, revision="r", version="v", env={"MODE": "local"}, pre_stop_s=1)
    assert made.argv == (str(tmp_path / "app/hello"), "--flag")
    assert made.env == {"PATH": "/bin", "MODE": "local"}
    assert (made.cwd, made.pre_stop_s) == (tmp_path / "home", 1)


# --- the Workloads port -------------------------------------------------------------------------------


def status(rid: str, **changes: Any) -> ReplicaStatus:
    values: dict[str, Any] = {
        "id": rid,
        "revision": "r",
        "version": "v",
        "port": 1,
        "pid": 1,
        "phase": "running",
        "ready": True,
        "ready_since": 10.0,
        "restarts": 0,
        "created_at": 0.0,
        "log_path": Path("x.log"),
    }
    values.update(changes)
    return ReplicaStatus(**values)


def test_deletion_order_is_the_replicaset_controllers() -> None:
    replicas = [
        status("old-ready", created_at=0, ready_since=5),
        status("new-ready", created_at=3, ready_since=5),
        status("recently-ready", created_at=1, ready_since=50),
        status("restarted", created_at=1, ready_since=5, restarts=2),
        status("not-ready", ready=False, ready_since=None),
        status("waiting", phase="backoff", pid=None, ready=False, ready_since=None),
    ]
    assert [r.id for r in deletion_order(replicas)] == [
        "waiting",
        "not-ready",
        "recently-ready",
        "restarted",
        "new-ready",
        "old-ready",
    ]


def test_scaling_down_stops_not_ready_then_newer_replicas(tmp_path: Path) -> None:
    world = World(tmp_path)
    workloads = LocalWorkloads(
        world.supervisor, {"hello-v1": spec(readiness=ProbeSpec.http("/readyz", period_s=1))}
    )
    workloads.scale("hello-v1", 3)
    world.prober.answers[(20002, "/readyz")] = False
    world.step()
    assert [r.ready for r in world.supervisor.replicas()] == [True, True, False]
    workloads.scale("hello-v1", 1)
    phases = {r.id: r.phase for r in world.supervisor.replicas()}
    assert phases == {"hello-v1-1": "running", "hello-v1-2": "terminating", "hello-v1-3": "terminating"}
    assert workloads.states() == [ReplicaSetState("hello-v1", replicas=1, available=1)]


def test_available_counts_replicas_ready_for_min_ready_seconds(tmp_path: Path) -> None:
    world = World(tmp_path)
    specs = {"hello-v1": spec(), "hello-v2": spec(revision="hello-v2", version="v2", readiness=READINESS)}
    workloads = LocalWorkloads(world.supervisor, specs, min_ready_s=5)
    workloads.scale("hello-v1", 2)
    workloads.scale("hello-v2", 1)
    assert workloads.states() == [ReplicaSetState("hello-v1", 2, 0), ReplicaSetState("hello-v2", 1, 0)]
    world.step(1)
    world.step(1)  # v2 ready at T0 + 2
    world.step(3)
    assert workloads.states() == [ReplicaSetState("hello-v1", 2, 2), ReplicaSetState("hello-v2", 1, 0)]
    world.step(2)
    workloads.scale("hello-v1", 0)
    assert workloads.states() == [ReplicaSetState("hello-v1", 0, 0), ReplicaSetState("hello-v2", 1, 1)]


def test_scaling_an_unknown_revision_names_the_known_ones(tmp_path: Path) -> None:
    workloads = LocalWorkloads(World(tmp_path).supervisor, {"hello-v1": spec()})
    with pytest.raises(UsageError, match=r"no replica spec for revision 'v9' \(revisions: hello-v1\)"):
        workloads.scale("v9", 1)
