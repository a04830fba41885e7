"""The canary engine on fake ports with a fast clock: steps, promotion, rollback, deadlines, commands,
crash-safety and the decision log."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from goship.errors import CheckFailedError, RemoteError, UsageError
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
            state=path,
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


class InPlaceWorld(World):
    """Workloads like Kubernetes': the stable Deployment lives on and takes the canary's version."""

    def __init__(self, *, promotes: bool = True) -> None:
        super().__init__()
        self.promotes = promotes

    def promote_in_place(self, stable: str, canary: str) -> bool:
        self.log.append(("promote", (stable, canary)))
        return self.promotes


def test_in_place_promotion_rolls_the_stable_workload_while_the_canary_has_all_traffic(
    tmp_path: Path,
) -> None:
    w = InPlaceWorld()
    final = w.engine(tmp_path / "c.json", spec()).start()

    assert final.phase == "succeeded"
    tail = w.log[w.log.index(("traffic", {"v1": 50, "v2": 50})) + 1 :]
    # Full canary first, all traffic to it, the stable workload rolled, traffic back to it, canary off.
    assert tail == [
        ("scale", ("v2", 3)),
        ("traffic", {"v2": 100}),
        ("promote", ("v1", "v2")),
        ("traffic", {"v2": 100}),
        ("scale", ("v2", 0)),
    ]
    assert ("scale", ("v1", 0)) not in w.log


def test_an_in_place_promotion_that_fails_rolls_back_to_stable(tmp_path: Path) -> None:
    w = InPlaceWorld(promotes=False)
    final = w.engine(tmp_path / "c.json", spec()).start()

    assert final.phase == "failed"
    assert "did not become available with v2" in final.reason
    assert w.log[-2:] == [("traffic", {"v1": 100}), ("scale", ("v2", 0))]


def test_a_stopping_driver_sends_traffic_to_stable_and_a_later_run_enters_the_step_again(
    tmp_path: Path,
) -> None:
    w = World()
    engine = w.engine(tmp_path / "c.json", spec())
    engine.begin()
    w.on_sleep = lambda: (_ for _ in ()).throw(KeyboardInterrupt)  # stopped in its first analysis window
    with pytest.raises(KeyboardInterrupt):
        engine.run()
    w.on_sleep = lambda: None

    held = engine.to_stable("goship was interrupted")

    assert held.phase == "progressing" and held.step == 0
    assert w.traffic_log()[-2:] == [{"v1": 95, "v2": 5}, {"v1": 100, "v2": 0}]
    assert held.events[-1].message == "v1 100 %, v2 0 %"
    assert "goship was interrupted: traffic back to stable" in held.events[-2].message
    # The next driver takes the canary over: its replicas back, the step entered again.
    assert w.engine(tmp_path / "c.json", spec()).run(takeover=True).phase == "succeeded"
    assert w.traffic_log()[3:6] == [{"v1": 100, "v2": 0}, {"v1": 95, "v2": 5}, {"v1": 75, "v2": 25}]


@pytest.mark.parametrize("when", ["start", "takeover"])
def test_a_command_given_while_the_canary_comes_up_wins_over_the_engine(tmp_path: Path, when: str) -> None:
    w = World()
    path = tmp_path / "c.json"
    engine = w.engine(path, spec())
    engine.begin()
    if when == "takeover":
        w.on_sleep = lambda: (_ for _ in ()).throw(KeyboardInterrupt)  # killed in the first window
        with pytest.raises(KeyboardInterrupt):
            engine.run()
        w.replicas["v2"] = 0  # the runtime that ran its replicas is gone
    up: dict[str, bool] = {"v2": False}
    w.states = lambda: [  # type: ignore[method-assign]
        ReplicaSetState(n, r, r if n != "v2" or up["v2"] else 0) for n, r in w.replicas.items()
    ]

    def abort_once() -> None:
        if not up["v2"]:
            up["v2"] = True
            w.engine(path, spec()).abort("the on-call said so")

    w.on_sleep = abort_once
    final = engine.run(takeover=when == "takeover")

    assert final.phase == "failed" and final.reason == "the on-call said so"
    assert w.log[-2:] == [("traffic", {"v1": 100}), ("scale", ("v2", 0))]
    assert not [d for d in final.decisions if d.step > 0]


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
        # Errors only: this is about the judge's evidence surviving a restart, not about latency.
        judge_settings={"min_requests_to_pass": 1500, "max_latency_ratio": {}},
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


# --- taking over, leases, mirroring (what the local runtime's controller relies on) ---------------------


class LeasedWorld(World):
    """A router holding splits on a lease: every renewal is logged."""

    def renew(self) -> None:
        self.log.append(("renew", None))


def test_taken_over_canary_goes_back_to_stable_brings_the_canary_back_and_repeats_its_step(
    tmp_path: Path,
) -> None:
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
    # The runtime restarted: the canary's replicas are gone, the router knows nothing of the split.
    w.replicas = {"v1": 3}
    w.on_sleep = lambda: None
    before = len(w.log)
    final = w.engine(path, spec()).run(takeover=True)
    assert w.log[before : before + 3] == [
        ("traffic", {"v1": 100, "v2": 0}),
        ("scale", ("v2", 1)),
        ("traffic", {"v1": 75, "v2": 25}),
    ]
    assert final.phase == "succeeded"
    assert any(e.message.startswith("taken over") for e in final.events)


def test_a_leased_router_is_renewed_before_every_wait(tmp_path: Path) -> None:
    w = LeasedWorld()
    w.engine(tmp_path / "c.json", spec()).start()
    kinds = [kind for kind, _ in w.log if kind in ("renew", "traffic")]
    # Three analyses, each wait preceded by a renewal; none after the promotion.
    assert kinds.count("renew") == 3
    assert kinds[-1] == "traffic"


def test_mirroring_copies_to_the_canary_only_while_it_is_analysed(tmp_path: Path) -> None:
    w = World()
    seen: list[TrafficRules] = []
    w.on_sleep = lambda: seen.append(w.rules) if w.rules else None
    w.engine(tmp_path / "c.json", spec(mirror_percent=20)).start()
    assert (seen[0].mirror_version, seen[0].mirror_percent) == ("v2", 20)
    assert w.rules is not None and w.rules.mirror_version is None and w.rules.mirror_percent == 0


def test_a_pause_given_while_the_canary_starts_is_kept(tmp_path: Path) -> None:
    w = World()
    path = tmp_path / "c.json"
    engine = w.engine(path, spec(steps=(5,)))
    w.replicas["v2"] = 0
    starts = {"n": 0}

    def states() -> Sequence[ReplicaSetState]:
        # The canary becomes available only after a pause given during the wait for it.
        starts["n"] += 1
        if starts["n"] == 2:
            engine.pause()
        ready = starts["n"] >= 2
        return [ReplicaSetState(n, r, r if ready or n == "v1" else 0) for n, r in w.replicas.items()]

    w.states = states  # type: ignore[method-assign]
    paused_analyses: list[bool] = []

    def gate() -> None:
        state = canary_state.load(path)
        if state is not None and state.phase == "progressing":
            paused_analyses.append(state.paused)
            if len(paused_analyses) == 3:
                engine.resume()

    w.on_sleep = gate
    final = engine.start()
    assert final.phase == "succeeded"
    assert paused_analyses[:3] == [True, True, True]


def test_begin_keeps_the_target_and_decisions_say_metric_and_source(tmp_path: Path) -> None:
    w = World()
    path = tmp_path / "c.json"
    engine = CanaryEngine(
        w, w, w, spec(), stable="v1", canary="v2", state=path, clock=w.clock, sleep=w.sleep,
        source="router /stats",
    )  # fmt: skip
    began = engine.begin(target={"canary": {"ref": "sha256:abc"}})
    assert began.phase == "initializing" and began.target == {"canary": {"ref": "sha256:abc"}}
    final = engine.run()
    assert final.target == began.target
    assert {(d.metric, d.source) for d in final.decisions} == {("error rate", "router /stats")}
    assert final.decisions[0].values["min_requests"] == 10.0


def test_a_state_file_from_before_targets_and_decision_sources_still_loads(tmp_path: Path) -> None:
    w = World()
    path = tmp_path / "c.json"
    w.engine(path, spec()).start()
    doc = json.loads(path.read_text())
    del doc["target"]
    for d in doc["decisions"]:
        del d["metric"], d["source"]
    old = canary_state.from_json(doc)
    assert old.target == {} and old.decisions[0].metric == ""


# --- the local runtime's canary controller: spec documents, history, leases -----------------------------


def test_config_section_becomes_a_spec_document_the_daemon_turns_into_the_engine_spec() -> None:
    from goship.config import parse_config
    from goship.local.canary import spec_document, spec_from_document

    config = parse_config(
        "canary:\n"
        "  step_weight: 20\n"
        "  max_weight: 60\n"
        "  interval: 30s\n"
        "  step_deadline: 5m\n"
        "  matches: [{header: X-Beta, value: 'yes'}, {cookie: beta, kind: prefix, value: 'on'}]\n"
        "  sticky_header: X-User-Id\n"
        "  mirror_percent: 10\n"
        "  confirm_promotion: true\n"
        "  canary_replicas: 2\n",
        source="goship.yaml",
    ).canary
    doc = spec_document(config)
    assert json.loads(json.dumps(doc)) == doc  # travels over the control API and into the state file
    got = spec_from_document(doc, canary="v2", replicas=4)
    assert got.weights() == (20, 40, 60)
    assert (got.interval_s, got.step_deadline_s, got.replicas, got.canary_replicas) == (30.0, 300.0, 4, 2)
    assert got.matches == (
        HeaderMatch(version="v2", header="X-Beta", value="yes"),
        HeaderMatch(version="v2", cookie="beta", kind="prefix", value="on"),
    )
    assert (got.sticky_header, got.mirror_percent, got.confirm_promotion) == ("X-User-Id", 10, True)


def test_the_config_defaults_shift_5_25_50_then_promote_with_the_engine_defaults() -> None:
    from goship.config import CanaryConfig
    from goship.local.canary import spec_document, spec_from_document

    got = spec_from_document(spec_document(CanaryConfig()), canary="v2", replicas=3)
    engine = CanarySpec()
    assert got.weights() == (5, 25, 50)
    for name in ("interval_s", "min_requests", "failure_threshold", "step_deadline_s", "judge"):
        assert getattr(got, name) == getattr(engine, name), name


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("canary:\n  steps: [50, 5]\n", "canary.steps: expected canary percents ascending"),
        ("canary:\n  interval: soon\n", "canary.interval: expected a duration such as 30s"),
        ("canary:\n  steps: [5]\n  step_weight: 10\n", "canary: expected steps or step_weight, not both"),
        ("canary:\n  judge_settings: {bogus: 1}\n", "the sequential judge has no setting 'bogus'"),
        ("canary:\n  matches: [{value: x}]\n", "expected exactly one of header or cookie"),
        ("canary:\n  mirror_percent: 120\n", "canary.mirror_percent: expected a percent from 0 to 100"),
    ],
)
def test_a_bad_canary_section_is_refused_with_the_setting_named(text: str, problem: str) -> None:
    from goship.config import parse_config
    from goship.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        parse_config(text, source="goship.yaml")
    assert any(problem in d for d in info.value.details), info.value.details


def test_durations_read_as_seconds() -> None:
    from goship.config import parse_seconds

    assert [parse_seconds(v) for v in ("1s", "1.5 s", "500ms", "2m", "1h", 3, ".5")] == [
        1.0,
        1.5,
        0.5,
        120.0,
        3600.0,
        3.0,
        0.5,
    ]
    for bad in ("0s", "soon", True, "-1s", "2d"):
        with pytest.raises(ValueError, match="expected a duration"):
            parse_seconds(bad)


def test_a_spec_document_the_engine_cannot_run_is_a_config_error() -> None:
    from goship.errors import ConfigError
    from goship.local.canary import spec_from_document

    with pytest.raises(ConfigError, match="ascending"):
        spec_from_document({"steps": [50, 5]}, canary="v2", replicas=1)
    with pytest.raises(ConfigError, match="bogus"):
        spec_from_document({"judge_settings": {"bogus": 1}}, canary="v2", replicas=1)


def test_the_lease_outlives_one_interval_by_a_margin() -> None:
    from goship.local.canary import lease_seconds

    assert lease_seconds(1.0) == 3.0
    assert lease_seconds(60.0) == 75.0


def test_finished_canaries_are_kept_and_found_by_version(tmp_path: Path) -> None:
    from goship.local.canary import CANARY_FILE, HISTORY_DIR, find_canary

    w = World()
    w.engine(tmp_path / CANARY_FILE, spec()).start()
    (tmp_path / HISTORY_DIR).mkdir()
    (tmp_path / CANARY_FILE).replace(tmp_path / HISTORY_DIR / "20250101T000000Z-v2.json")
    w.replicas = {"v1": 3}
    newer = CanaryEngine(
        w, w, w, spec(), stable="v1", canary="v3", state=tmp_path / CANARY_FILE, clock=w.clock,
        sleep=w.sleep,
    )  # fmt: skip
    newer.start()
    latest = find_canary(tmp_path)
    assert latest is not None and latest[0].canary == "v3"
    older = find_canary(tmp_path, "v2")
    assert older is not None and older[0].canary == "v2" and older[1].parent.name == HISTORY_DIR
    assert find_canary(tmp_path, "v9") is None


def test_abandoning_a_canary_nobody_drives_marks_it_failed_with_the_reason(tmp_path: Path) -> None:
    from goship.local.canary import abandon

    w = World()
    path = tmp_path / "c.json"

    class Killed(Exception):
        pass

    def kill() -> None:
        raise Killed

    w.on_sleep = kill
    with pytest.raises(Killed):
        w.engine(path, spec()).start()
    state = abandon(path, "aborted (the runtime was not running)", clock=w.clock)
    assert (state.phase, state.reason) == ("failed", "aborted (the runtime was not running)")
    assert canary_state.load(path) == state
    with pytest.raises(UsageError, match="no active canary"):
        abandon(path, "again")


def test_version_workloads_map_versions_onto_revision_replica_sets() -> None:
    from goship.local.canary import VersionWorkloads

    w = World()
    w.replicas = {"v1@r1": 3, "v2@r2": 1, "v0@r0": 0}
    by_version = VersionWorkloads(w, {"v1": "v1@r1", "v2": "v2@r2"})
    by_version.scale("v2", 2)
    assert w.log[-1] == ("scale", ("v2@r2", 2))
    assert [(s.name, s.replicas) for s in by_version.states()] == [("v1", 3), ("v2", 2)]


class FakeRouterClient:
    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, int], float, str | None]] = []

    def apply(self, rules: TrafficRules, *, lease_s: float = 0.0, fallback: str | None = None) -> None:
        self.calls.append((dict(rules.weights), lease_s, fallback))


def test_only_a_split_away_from_stable_is_leased_and_renewals_repeat_it() -> None:
    from goship.local.router import LeasedRouter

    client = FakeRouterClient()
    router = LeasedRouter(client, fallback="v1", lease_s=4.0)  # type: ignore[arg-type]
    router.apply(TrafficRules(weights={"v1": 100, "v2": 0}))
    router.renew()  # nothing leased: nothing to renew
    router.apply(TrafficRules(weights={"v1": 95, "v2": 5}))
    router.renew()
    router.apply(TrafficRules(weights={"v2": 100}))  # a promotion leaves stable behind for good
    router.renew()
    assert client.calls == [
        ({"v1": 100, "v2": 0}, 0.0, None),
        ({"v1": 95, "v2": 5}, 4.0, "v1"),
        ({"v1": 95, "v2": 5}, 4.0, "v1"),
        ({"v2": 100}, 0.0, None),
    ]
    assert router.leased(TrafficRules(weights={"v1": 100}, matches=(HeaderMatch("v2", header="x"),)))


def test_a_metrics_source_that_fails_is_no_data_until_the_step_deadline(tmp_path: Path) -> None:
    w = World()
    broken = {"left": 3}

    def window(versions: Sequence[str], seconds: float) -> Mapping[str, VersionMetrics]:
        if broken["left"]:
            broken["left"] -= 1
            raise RemoteError("prometheus at http://127.0.0.1:9090 did not answer")
        return World.window(w, versions, seconds)

    w.window = window  # type: ignore[method-assign]
    final = w.engine(tmp_path / "c.json", spec(failure_threshold=1)).start()
    assert final.phase == "succeeded"
    waits = [d for d in final.decisions if d.verdict == "wait"]
    assert len(waits) == 3 and all("the metrics source failed: prometheus" in d.reason for d in waits)
    assert waits[0].metric == "metrics source"

    broken["left"] = 10**6
    failed = w.engine(tmp_path / "d.json", spec(failure_threshold=1, step_deadline_s=150.0)).start()
    assert failed.phase == "failed" and "step deadline" in failed.decisions[-1].reason
