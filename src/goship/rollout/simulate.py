"""Every canary judge on the same synthetic traffic: seeded traces of healthy and regressed canaries, an
analysis loop per judge, and the figures that compare them (false rollbacks, misses, time to detect, blast
radius).

Nothing sleeps: each analysis interval is simulated, and every judge is asked once per interval, as the
canary engine asks it (the sequential judge could be asked more often; ``benchmarks/canary_judges.py``
shows how little that would buy on these traces).

The Flagger baseline (``flagger-default``) is Flagger's builtin checks as its documentation writes them
(https://fluxcd.io/flagger/usage/metrics, and the Canary examples of its tutorials):
``request-success-rate`` with ``thresholdRange.min: 99`` and ``request-duration`` (p99) with
``thresholdRange.max: 500`` ms over ``interval: 1m`` (also the code's default analysis interval), and
``analysis.threshold: 5``, "max number of failed metric checks before rollback". Five is the value most
of Flagger's documented Canary examples use (a few use 10); left unset, Flagger's code uses 1
(``GetAnalysisThreshold``), which would roll back far more healthy canaries. Its scheduler
(``pkg/controller/scheduler.go``, ``advanceCanary``):

- counts failed checks over the whole analysis, not in a row (``FailedChecks`` is not reset by a passing
  check), and a failing check halts advancement;
- treats a metric query with no values ("probably ... is not receiving traffic") as a failed check;
- compares ``FailedChecks >= GetAnalysisThreshold()`` at the start of a run, before analysing, so the
  rollback comes one interval after the check that reached the threshold, and the canary serves that
  interval too (``rollback_delay_intervals=1``).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from goship.errors import UsageError
from goship.rollout.judges import (
    Judge,
    JudgeState,
    MannWhitneyJudge,
    Samples,
    SequentialJudge,
    ThresholdJudge,
    quantile,
)

RunOutcome = Literal["rollback", "promotion", "stalled"]


@dataclass(frozen=True)
class Scenario:
    """One kind of synthetic traffic and one canary, healthy or regressed."""

    name: str
    """Short name for tables and JSON (``healthy-100rps``, ``errors-2x``)."""
    description: str
    """One line for a person."""
    rps: float
    """Mean requests per second reaching the service (stable and canary together) outside bursts."""
    error_ratio: float = 1.0
    """Canary error rate as a multiple of stable's."""
    latency_ratio: float = 1.0
    """Canary latency (every quantile, so p99 too) as a multiple of stable's."""
    burst_probability: float = 0.0
    """Chance that an interval is a burst."""
    burst_factor: float = 1.0
    """Traffic of a burst interval as a multiple of ``rps``."""
    idle_probability: float = 0.0
    """Chance that an interval has no traffic at all."""

    @property
    def healthy(self) -> bool:
        """A canary no worse than stable: any rollback of it is a false one."""
        return self.error_ratio <= 1.0 and self.latency_ratio <= 1.0


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("healthy-1rps", "healthy canary, 1 request/s", rps=1.0),
    Scenario("healthy-100rps", "healthy canary, 100 requests/s", rps=100.0),
    Scenario(
        "healthy-bursty",
        "healthy canary, 10 requests/s with 10x bursts in 20 % of intervals",
        rps=10.0,
        burst_probability=0.2,
        burst_factor=10.0,
    ),
    Scenario(
        "healthy-idle",
        "healthy canary, 20 requests/s with no traffic in 30 % of intervals",
        rps=20.0,
        idle_probability=0.3,
    ),
    Scenario("errors-1.5x", "canary error rate 1.5x stable's, 100 requests/s", rps=100.0, error_ratio=1.5),
    Scenario("errors-2x", "canary error rate 2x stable's, 100 requests/s", rps=100.0, error_ratio=2.0),
    Scenario("errors-5x", "canary error rate 5x stable's, 100 requests/s", rps=100.0, error_ratio=5.0),
    Scenario(
        "latency-1.5x", "canary latency (p99) 1.5x stable's, 100 requests/s", rps=100.0, latency_ratio=1.5
    ),
)
"""The traces every judge is run on."""


@dataclass(frozen=True)
class SimulationSettings:
    """The rollout plan and the traffic model shared by every scenario."""

    interval_seconds: float = 60.0
    """Length of one analysis interval (Flagger's default ``interval: 1m``)."""
    weights: tuple[float, ...] = (5.0, 25.0, 50.0)
    """Canary traffic percent at each analysed step; passing the last one promotes the canary to 100 %."""
    max_intervals: int = 30
    """Analysis deadline: a canary neither rolled back nor promoted by then is ``stalled``."""
    stable_error_rate: float = 0.01
    """Error rate of the stable version (1 %)."""
    median_latency_ms: float = 50.0
    """Median latency of the stable version."""
    latency_sigma: float = 0.5
    """Lognormal shape of latency: with 50 ms it puts stable's p99 near 160 ms, well under Flagger's 500."""
    latency_samples: int = 100
    """Latency samples a metrics source reports per version and window (a uniform subsample of requests)."""
    reported_quantiles: tuple[float, ...] = (0.5, 0.99)
    """Latency quantiles each window reports, as the ``MetricsSource`` port does, taken over the samples."""

    def __post_init__(self) -> None:
        if not self.weights or any(not 0.0 < w < 100.0 for w in self.weights):
            raise UsageError(f"expected step weights between 0 and 100 percent (got {list(self.weights)})")
        if self.max_intervals < 1 or self.interval_seconds <= 0.0:
            raise UsageError("expected max_intervals >= 1 and interval_seconds > 0")


@dataclass(frozen=True)
class AnalysisPolicy:
    """How the analysis loop turns a judge's verdicts into a rollback."""

    failure_threshold: int = 1
    """Roll back once this many checks failed over the whole analysis (Flagger's ``analysis.threshold``)."""
    wait_counts_as_failure: bool = False
    """Flagger: a window without data halts advancement and counts as a failed check."""
    rollback_delay_intervals: int = 0
    """Intervals the canary keeps its traffic after the check that reached the threshold. Flagger: 1 -- it
    compares failed checks with the threshold at the start of its next run, before analysing, and rolls
    back then."""


@dataclass(frozen=True)
class JudgeEntry:
    """A judge under test: how to build it and the loop it runs in."""

    name: str
    """Name in tables and JSON."""
    make: Callable[[], Judge]
    """Builds a fresh judge."""
    policy: AnalysisPolicy = field(default_factory=AnalysisPolicy)
    """Failure threshold and wait handling."""


def flagger_default_judge() -> ThresholdJudge:
    """The threshold judge as Flagger's default builtin checks: success rate >= 99 % (error rate <= 1 %) and
    request-duration p99 <= 500 ms, no bounds relative to the primary, and any traffic at all enough to
    judge (Flagger has no minimum; an empty window is the 'no values' failed check of the policy)."""
    return ThresholdJudge(
        max_error_rate_pct=1.0,
        max_latency_ms={0.99: 500.0},
        max_error_rate_increase_pp=None,
        max_latency_ratio={},
        min_requests=1,
    )


FLAGGER_THRESHOLD = 5
"""Flagger's ``analysis.threshold`` in most of its documented Canary examples."""

FLAGGER_POLICY = AnalysisPolicy(
    failure_threshold=FLAGGER_THRESHOLD, wait_counts_as_failure=True, rollback_delay_intervals=1
)
"""How Flagger's scheduler turns failed checks into a rollback (see the module docstring)."""

JUDGE_ENTRIES: tuple[JudgeEntry, ...] = (
    JudgeEntry("flagger-default", flagger_default_judge, FLAGGER_POLICY),
    # goship's threshold judge keeps Flagger's counting of failed checks, but an idle window is a wait.
    JudgeEntry("threshold", ThresholdJudge, AnalysisPolicy(failure_threshold=FLAGGER_THRESHOLD)),
    # The statistical judges control their own false alarms, so their first fail is the rollback.
    JudgeEntry("mann-whitney", MannWhitneyJudge),
    JudgeEntry("sequential", SequentialJudge),
)
"""Every judge the simulation compares, in table order."""


@dataclass(frozen=True)
class RunResult:
    """One judge's analysis of one trace."""

    judge: str
    """Judge entry name."""
    scenario: str
    """Scenario name."""
    run: int
    """Run index within the scenario (the trace's seed is derived from it)."""
    outcome: RunOutcome
    """``rollback``, ``promotion`` or ``stalled`` (deadline reached undecided)."""
    seconds: float
    """Simulated seconds from canary start to the decision (the deadline when stalled)."""
    bad_requests: float
    """Canary errors beyond what stable's error rate would have produced on the same requests."""


@dataclass(frozen=True)
class ScenarioSummary:
    """One judge on one scenario over every run."""

    rollback_rate: float
    """Share of runs rolled back."""
    promotion_rate: float
    """Share of runs promoted."""
    median_detect_seconds: float | None
    """Median seconds to rollback over rolled-back runs; ``None`` when none was."""
    median_bad_requests: float | None
    """Median bad requests before rollback over rolled-back runs; ``None`` when none was."""


@dataclass(frozen=True)
class JudgeSummary:
    """One judge over every trace."""

    judge: str
    """Judge entry name."""
    false_rollback_rate: float
    """Share of healthy traces rolled back."""
    miss_rate: float
    """Share of regressed traces not rolled back by the deadline (promoted or stalled)."""
    median_detect_seconds: float | None
    """Median seconds to rollback over detected regressions; ``None`` when none was detected."""
    median_bad_requests: float | None
    """Median bad requests served before rollback over detected regressions."""
    stall_rate: float
    """Share of all traces still undecided at the deadline."""
    scenarios: Mapping[str, ScenarioSummary]
    """The same figures per scenario."""


@dataclass(frozen=True)
class SimulationReport:
    """Every judge's summary, in table order."""

    judges: tuple[JudgeSummary, ...]
    """One summary per judge entry."""
    traces: int
    """Traces simulated (scenarios x runs); every judge saw each of them."""
    runs: int
    """Runs per scenario."""
    seed: int
    """Seed the traces derive from."""
    scenarios: tuple[Scenario, ...]
    """The scenarios simulated."""


def binomial(rng: random.Random, n: int, p: float) -> int:
    """Binomial draw by geometric jumps between successes (``random.binomialvariate`` is Python 3.12+);
    cost grows with the count, not with ``n``."""
    if p <= 0.0 or n <= 0:
        return 0
    if p >= 1.0:
        return n
    hits, i, log_q = 0, -1, math.log1p(-p)
    while True:
        i += int(math.log(1.0 - rng.random()) / log_q) + 1
        if i >= n:
            return hits
        hits += 1


def poisson(rng: random.Random, mean: float) -> int:
    """Poisson draw: Knuth's product of uniforms for small means; the normal approximation above 30, where
    its error is far below the traffic model's own."""
    if mean <= 0.0:
        return 0
    if mean > 30.0:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


@dataclass(frozen=True)
class Window:
    """What both versions served in one interval at one step weight."""

    stable: Samples
    """Stable version's window."""
    canary: Samples
    """Canary's window."""


class Trace:
    """The synthetic traffic of one scenario run, the same for every judge.

    A judge's decisions change which step weight it sees in an interval, so each (interval, step) draws from
    its own generator seeded by name: two judges at the same step in the same interval see identical
    windows, and the interval's total traffic is the same at every step.
    """

    def __init__(self, scenario: Scenario, settings: SimulationSettings, *, seed: int, run: int) -> None:
        self.scenario = scenario
        self.settings = settings
        self._key = f"{seed}:{scenario.name}:{run}"
        self._cache: dict[tuple[int, int], Window] = {}

    def total_requests(self, interval: int) -> int:
        """Requests reaching the service in ``interval`` (0-based)."""
        s = self.scenario
        rng = random.Random(f"{self._key}:{interval}:total")
        if rng.random() < s.idle_probability:
            return 0
        rate = s.rps * (s.burst_factor if rng.random() < s.burst_probability else 1.0)
        return poisson(rng, rate * self.settings.interval_seconds)

    def window(self, interval: int, step: int) -> Window:
        """Both versions' window in ``interval`` with the canary at ``settings.weights[step]``."""
        key = (interval, step)
        if key not in self._cache:
            self._cache[key] = self._draw(interval, step)
        return self._cache[key]

    def _draw(self, interval: int, step: int) -> Window:
        s, cfg = self.scenario, self.settings
        total = self.total_requests(interval)
        rng = random.Random(f"{self._key}:{interval}:{step}:split")
        canary_n = binomial(rng, total, cfg.weights[step] / 100.0)
        stable_n = total - canary_n
        mu = math.log(cfg.median_latency_ms)

        def served(n: int, error_rate: float, latency_ratio: float) -> Samples:
            shift = math.log(latency_ratio)
            latencies = tuple(
                rng.lognormvariate(mu + shift, cfg.latency_sigma) for _ in range(min(n, cfg.latency_samples))
            )
            reported = {q: quantile(latencies, q) for q in cfg.reported_quantiles} if latencies else {}
            return Samples(
                requests=n,
                errors=binomial(rng, n, error_rate),
                latencies_ms=latencies,
                latency_quantiles_ms=reported,
            )

        canary_rate = min(1.0, cfg.stable_error_rate * s.error_ratio)
        return Window(
            stable=served(stable_n, cfg.stable_error_rate, 1.0),
            canary=served(canary_n, canary_rate, s.latency_ratio),
        )


def analyse(entry: JudgeEntry, trace: Trace, *, run: int) -> RunResult:
    """Run one judge's analysis loop over a trace: each interval the judge passes (advance a step, or
    promote after the last), fails (count a failed check; roll back at the policy's threshold) or waits."""
    cfg = trace.settings
    judge = entry.make()
    state: JudgeState | None = None
    step, failed, bad = 0, 0, 0.0
    for interval in range(cfg.max_intervals):
        window = trace.window(interval, step)
        bad += window.canary.errors - window.canary.requests * cfg.stable_error_rate
        verdict, state = judge.step(state, window.stable, window.canary)
        seconds = (interval + 1) * cfg.interval_seconds
        if verdict.outcome == "fail" or (verdict.outcome == "wait" and entry.policy.wait_counts_as_failure):
            failed += 1
            if failed >= entry.policy.failure_threshold:
                delay = entry.policy.rollback_delay_intervals
                for later in range(interval + 1, interval + 1 + delay):
                    served = trace.window(later, step).canary
                    bad += served.errors - served.requests * cfg.stable_error_rate
                seconds += delay * cfg.interval_seconds
                return RunResult(entry.name, trace.scenario.name, run, "rollback", seconds, bad)
        elif verdict.outcome == "pass":
            step += 1
            if step == len(cfg.weights):
                return RunResult(entry.name, trace.scenario.name, run, "promotion", seconds, bad)
    deadline = cfg.max_intervals * cfg.interval_seconds
    return RunResult(entry.name, trace.scenario.name, run, "stalled", deadline, bad)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _rate(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def summarize(name: str, results: Sequence[RunResult], scenarios: Sequence[Scenario]) -> JudgeSummary:
    """One judge's figures from its run results."""
    healthy = {s.name for s in scenarios if s.healthy}
    good = [r for r in results if r.scenario in healthy]
    regressed = [r for r in results if r.scenario not in healthy]
    caught = [r for r in regressed if r.outcome == "rollback"]
    per_scenario: dict[str, ScenarioSummary] = {}
    for s in scenarios:
        mine = [r for r in results if r.scenario == s.name]
        rolled = [r for r in mine if r.outcome == "rollback"]
        per_scenario[s.name] = ScenarioSummary(
            rollback_rate=_rate(len(rolled), len(mine)),
            promotion_rate=_rate(sum(r.outcome == "promotion" for r in mine), len(mine)),
            median_detect_seconds=_median([r.seconds for r in rolled]),
            median_bad_requests=_median([r.bad_requests for r in rolled]),
        )
    return JudgeSummary(
        judge=name,
        false_rollback_rate=_rate(sum(r.outcome == "rollback" for r in good), len(good)),
        miss_rate=_rate(len(regressed) - len(caught), len(regressed)),
        median_detect_seconds=_median([r.seconds for r in caught]),
        median_bad_requests=_median([r.bad_requests for r in caught]),
        stall_rate=_rate(sum(r.outcome == "stalled" for r in results), len(results)),
        scenarios=per_scenario,
    )


def simulate(
    *,
    runs: int,
    seed: int,
    scenarios: Sequence[Scenario] = SCENARIOS,
    judges: Sequence[JudgeEntry] = JUDGE_ENTRIES,
    settings: SimulationSettings | None = None,
) -> SimulationReport:
    """Run every judge on ``runs`` seeded traces of each scenario; the same seed gives the same report."""
    if runs < 1:
        raise UsageError(f"expected at least 1 run per scenario (got {runs})")
    cfg = settings or SimulationSettings()
    results: dict[str, list[RunResult]] = {j.name: [] for j in judges}
    for scenario in scenarios:
        for run in range(runs):
            trace = Trace(scenario, cfg, seed=seed, run=run)
            for entry in judges:
                results[entry.name].append(analyse(entry, trace, run=run))
    return SimulationReport(
        judges=tuple(summarize(j.name, results[j.name], scenarios) for j in judges),
        traces=len(scenarios) * runs,
        runs=runs,
        seed=seed,
        scenarios=tuple(scenarios),
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def report_json(report: SimulationReport) -> dict[str, Any]:
    """The ``--json`` document: ``{"judges": {name: {false_rollback_rate, miss_rate, median_detect_seconds,
    median_bad_requests, ...}}, "traces": n, ...}``."""
    judges: dict[str, Any] = {}
    for j in report.judges:
        judges[j.judge] = {
            "false_rollback_rate": _rounded(j.false_rollback_rate),
            "miss_rate": _rounded(j.miss_rate),
            "median_detect_seconds": _rounded(j.median_detect_seconds),
            "median_bad_requests": _rounded(j.median_bad_requests),
            "stall_rate": _rounded(j.stall_rate),
            "scenarios": {
                name: {
                    "rollback_rate": _rounded(s.rollback_rate),
                    "promotion_rate": _rounded(s.promotion_rate),
                    "median_detect_seconds": _rounded(s.median_detect_seconds),
                    "median_bad_requests": _rounded(s.median_bad_requests),
                }
                for name, s in j.scenarios.items()
            },
        }
    return {
        "judges": judges,
        "traces": report.traces,
        "runs": report.runs,
        "seed": report.seed,
        "scenarios": {s.name: {"description": s.description, "healthy": s.healthy} for s in report.scenarios},
    }
