"""The canary engine on fake ports with a fast clock: steps, promotion, rollback, deadlines, commands,
crash-safety and the decision log."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from goship.errors import CheckFailedError, UsageError
from goship.rollout import canary_state
from goship.rollout.canary import CanaryEngine, CanarySpec
from goship.rollout.judges import SequentialState
from goship.rollout.plan import ReplicaSetState
from goship.rollout.ports import HeaderMatch, TrafficRules, VersionMetrics

THRESHOLD = {"max_latency_ms": {}, "max_latency_ratio": {}, "min_requests": 10}


class World:
    """Fake ports sharing one clock and one log of calls, so the order of actions can be checked."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.log: list[tuple[str, object]] = []
        self.replicas: dict[str, int] = {"v1": 3}
        self.rules: TrafficRules | None = None
        self.traffic: Callable[[str], tuple[int, int]] = lambda version: (1000, 0)
        self.on_sleep: Callable[[], None] = lambda: None

    # Workloads
    def scale(self, revision: str, replicas: int) -> None:
        self.log.append(("scale", (revision, replicas)))
        self.replicas[revision] = replicas

    def states(self) -> Sequence[ReplicaSetState]:
        return [ReplicaSetState(n, r, r) for n, r in self.replicas.items()]

    # TrafficRouter
    def apply(self, rules: TrafficRules) -> None:
        self.log.append(("traffic", dict(rules.weights)))
        self.rules = rules

    # MetricsSource
    def window(self, versions: Sequence[str], seconds: float) -> Mapping[str, VersionMetrics]:
        out = {}
        for v in versions:
            requests, errors = self.traffic(v)
            out[v] = VersionMetrics(requests=requests, errors=errors, latency_ms={0.5: 10.0})
        return out

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.on_sleep()

    def engine(self, path: Path, spec: CanarySpec) -> CanaryEngine:
        return CanaryEngine(
            self,
            self,
            self,
            spec,
            stable="v1",
            canary="v2",
            state_path=path,
            clock=self.clock,
            sleep=self.sleep,
        )

    def traffic_log(self) -> list[object]:
        return [x for kind, x in self.log if kind == "traffic"]


def spec(**kw: object) -> CanarySpec:
    base: dict[str, object] = {
        "steps": (5, 25, 50),
        "interval_s": 60.0,
        "min_requests": 10,
        "failure_threshold": 2,
        "step_deadline_s": 300.0,
        "judge": "threshold",
        "judge_settings": THRESHOLD,
        "replicas": 3,
        "canary_replicas": 1,
    }
    base.update(kw)
    return CanarySpec(**base)  # type: ignore[arg-type]


def test_healthy_canary_walks_every_step_and_is_promoted(tmp_path: Path) -> None:
    w = World()
    final = w.engine(tmp_path / "c.json", spec()).start()
    assert final.phase == "succeeded"
    assert w.traffic_log() == [
        {"v1": 100, "v2": 0},
        {"v1": 95, "v2": 5},
        {"v1": 75, "v2": 25},
        {"v1": 50, "v2": 50},
        {"v2": 100},
    ]
    scales = [x for kind, x in w.log if kind == "scale"]
    assert scales == [("v2", 1), ("v2", 3), ("v1", 0)]
    # Stable goes to 0 only after the canary has all replicas and all traffic.
    assert w.log.index(("scale", ("v1", 0))) > w.log.index(("traffic", {"v2": 100}))
    assert [d.verdict for d in final.decisions] == ["pass", "pass", "pass"]


def test_step_weight_and_max_weight_make_the_steps() -> None:
    assert CanarySpec(step_weight=20, max_weight=60).weights() == (20, 40, 60)


def test_erroring_canary_is_rolled_back_in_its_first_step_traffic_before_scale_down(tmp_path: Path) -> None:
    w = World()
    w.traffic = lambda v: (1000, 200) if v == "v2" else (1000, 0)
    final = w.engine(tmp_path / "c.json", spec()).start()
    assert final.phase == "failed"
    assert [d.verdict for d in final.decisions] == ["fail", "fail"]
    assert {d.step for d in final.decisions} == {0}
    assert "2 consecutive failed analyses" in final.reason
    assert w.log[-2:] == [("traffic", {"v1": 100}), ("scale", ("v2", 0))]


def test_one_failed_analysis_below_the_threshold_is_forgiven_by_a_pass(tmp_path: Path) -> None:
    w = World()
    calls = iter([200, 0, 0, 0, 0, 0])
    w.traffic = lambda v: (1000, next(calls)) if v == "v2" else (1000, 0)
    final = w.engine(tmp_path / "c.json", spec()).start()
    assert final.phase == "succeeded"
    assert [(d.verdict, d.failures) for d in final.decisions][:2] == [("fail", 1), ("pass", 0)]


def test_no_data_waits_until_the_step_deadline_then_fails_with_no_data(tmp_path: Path) -> None:
    w = World()
    w.traffic = lambda v: (0, 0) if v == "v2" else (1000, 0)
    final = w.engine(tmp_path / "c.json", spec(step_deadline_s=300.0)).start()
    assert final.phase == "failed"
    verdicts = [d.verdict for d in final.decisions]
    # Five windows of 60 s fit in the 300 s deadline; after it two failures reach the threshold.
    assert verdicts == ["wait"] * 5 + ["fail", "fail"]
    assert final.decisions[-1].reason.startswith("no data")
    assert final.decisions[0].judge == "engine"


def test_pause_holds_the_step_and_resume_continues_from_it(tmp_path: Path) -> None:
    w = World()
    path = tmp_path / "c.json"
    engine = w.engine(path, spec())
    analyses = {"n": 0}

    def command() -> None:
        state = canary_state.load(path)
        if state is None or state.phase != "progressing":
            return
        analyses["n"] += 1
        if analyses["n"] == 2:
            engine.pause()
        if analyses["n"] == 6:
            engine.resume()

    w.on_sleep = command
    final = engine.start()
    assert final.phase == "succeeded"
    steps = [d.step for d in final.decisions]
    # Paused during the first window of step 2 (25 %): it passed four times without advancing, then
    # advanced at the first analysis after the resume.
    assert steps == [0, 1, 1, 1, 1, 1, 2]
    assert w.traffic_log()[:3] == [{"v1": 100, "v2": 0}, {"v1": 95, "v2": 5}, {"v1": 75, "v2": 25}]


def test_manual_gate_waits_for_promote(tmp_path: Path) -> None:
    w = World()
    path = tmp_path / "c.json"
    engine = w.engine(path, spec(confirm_promotion=True))
    seen: list[str] = []

    def gate() -> None:
        state = canary_state.load(path)
        if state is not None and state.phase == "awaiting-promotion":
            seen.append(state.phase)
            if len(seen) == 3:
                engine.promote()

    w.on_sleep = gate
    final = engine.start()
    assert final.phase == "succeeded"
    assert len(seen) == 3
    assert w.traffic_log()[-1] == {"v2": 100}


def test_promote_needs_a_passing_analysis_unless_forced(tmp_path: Path) -> None:
    w = World()
    path = tmp_path / "c.json"
    engine = w.engine(path, spec())
    w.traffic = lambda v: (0, 0)  # nothing to judge: every analysis waits
    tried: list[str] = []

    def command() -> None:
        state = canary_state.load(path)
        if state is not None and state.phase == "progressing" and not tried:
            with pytest.raises(CheckFailedError, match="expected the last analysis"):
                engine.promote()
            tried.append("refused")
            engine.promote(force=True)

    w.on_sleep = command
    final = engine.start()
    assert tried == ["refused"]
    assert final.phase == "succeeded"
    assert "forced" in " ".join(e.message for e in final.events)


def test_abort_rolls_back_now_traffic_first(tmp_path: Path) -> None:
    w = World()
    path = tmp_path / "c.json"
    engine = w.engine(path, spec())

    def command() -> None:
        state = canary_state.load(path)
        if state is not None and state.active and state.step == 1:
            engine.abort("bad smell")

    w.on_sleep = command
    final = engine.start()
    assert final.phase == "failed"
    assert final.reason == "bad smell"
    assert w.log[-2:] == [("traffic", {"v1": 100}), ("scale", ("v2", 0))]


def test_killed_engine_is_continued_from_the_persisted_step_and_judge_state(tmp_path: Path) -> None:
    w = World()
    path = tmp_path / "c.json"
    sequential = spec(
        judge="sequential",
        judge_settings={"min_requests_to_pass": 1500},
        steps=(10, 50),
    )

    class Killed(Exception):
        pass

    def kill_after_first_analysis() -> None:
        state = canary_state.load(path)
        if state is not None and state.decisions:
            raise Killed

    w.on_sleep = kill_after_first_analysis
    with pytest.raises(Killed):
        w.engine(path, sequential).start()
    saved = canary_state.load(path)
    assert saved is not None and saved.phase == "progressing" and saved.step == 0
    assert isinstance(saved.judge_state, SequentialState) and saved.judge_state.canary_requests == 1000

    w.on_sleep = lambda: None
    w.now = saved.last_analysis or 0.0  # restarted right away: not stale
    before = len(w.traffic_log())
    final = w.engine(path, sequential).run()
    assert final.phase == "succeeded"
    # The judge's evidence carried over: the first analysis after the restart counts 2000 canary requests.
    after = final.decisions[len(saved.decisions)]
    assert after.step == 0 and after.samples["canary"] == 2000
    assert w.traffic_log()[before] == {"v1": 50, "v2": 50}


def test_stale_state_sends_traffic_back_to_stable_first(tmp_path: Path) -> None:
    w = World()
    path = tmp_path / "c.json"

    class Killed(Exception):
        pass

    def kill() -> None:
        state = canary_state.load(path)
        if state is not None and state.step == 1:
            raise Killed

    w.on_sleep = kill
    with pytest.raises(Killed):
        w.engine(path, spec()).start()
    w.on_sleep = lambda: None
    w.now += 3600.0  # goship was gone for an hour; the 25 % step was not judged
    before = len(w.log)
    final = w.engine(path, spec()).run()
    assert w.log[before] == ("traffic", {"v1": 100, "v2": 0})
    assert w.log[before + 1] == ("traffic", {"v1": 75, "v2": 25})
    assert final.phase == "succeeded"
    assert any("not judged for" in e.message for e in final.events)


def test_second_start_while_active_is_refused(tmp_path: Path) -> None:
    w = World()
    path = tmp_path / "c.json"
    refused: list[str] = []

    def second_start() -> None:
        if not refused:
            with pytest.raises(UsageError, match="already progressing") as info:
                w.engine(path, spec()).start()
            refused.append(info.value.hint or "")

    w.on_sleep = second_start
    assert w.engine(path, spec()).start().phase == "succeeded"
    assert "resume" in refused[0]
    # Once finished, a new canary may start on the same file.
    w.on_sleep = lambda: None
    assert w.engine(path, spec()).start().phase == "succeeded"


def test_decision_log_explains_every_verdict(tmp_path: Path) -> None:
    w = World()
    w.traffic = lambda v: (1000, 200) if v == "v2" else (1000, 0)
    path = tmp_path / "c.json"
    engine = w.engine(path, spec())
    engine.start()
    decisions = engine.explain()
    assert len(decisions) == 2
    first = decisions[0]
    assert (first.step, first.weight, first.window_s, first.judge) == (0, 5, 60.0, "threshold")
    assert first.samples == {"stable": 1000, "canary": 1000}
    assert first.values["canary_error_rate"] == pytest.approx(0.2)
    assert first.values["failure_threshold"] == 2.0
    assert first.verdict == "fail" and "error rate 20.00 %" in first.reason


def test_match_rules_and_sticky_header_reach_the_router_while_progressing(tmp_path: Path) -> None:
    w = World()
    match = HeaderMatch(version="v2", header="x-canary", value="always")
    rules: list[TrafficRules] = []
    w.on_sleep = lambda: rules.append(w.rules) if w.rules else None
    w.engine(tmp_path / "c.json", spec(matches=(match,), sticky_header="x-user")).start()
    assert rules[0].matches == (match,) and rules[0].sticky_header == "x-user"
    assert w.rules is not None and w.rules.matches == () and w.rules.sticky_header is None


def test_state_file_is_json_written_after_every_transition(tmp_path: Path) -> None:
    w = World()
    path = tmp_path / "c.json"
    w.engine(path, spec()).start()
    doc = json.loads(path.read_text())
    assert doc["format"] == 1 and doc["phase"] == "succeeded" and doc["weights"] == [5, 25, 50]
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]  # no temp files left behind
    assert canary_state.from_json(doc) == canary_state.load(path)
