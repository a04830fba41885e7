"""The router's MetricsSource: quantiles interpolated from buckets as PromQL's histogram_quantile does, and
windows as differences between two stats snapshots."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship.local.router import Histogram, RouterMetrics, RouterStats, VersionStats, histogram_quantile
from goship.rollout.ports import VersionMetrics

INF = math.inf
BOUNDS = (0.1, 0.2, 0.4, 1.0)
# 10 at or under 0.1 s, 20 in (0.1, 0.2], 30 in (0.2, 0.4], 30 in (0.4, 1], 10 above 1 s.
COUNTS = (10, 30, 60, 90, 100)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.0, 0.0),
        (0.05, 0.05),  # lowest bucket: from 0 to its bound
        (0.2, 0.15),  # rank 20: 10 into the (0.1, 0.2] bucket of 20
        (0.5, 0.2 + 0.2 * 20 / 30),
        (0.9, 1.0),  # rank exactly at a bucket's upper count
        (0.95, 1.0),  # rank in +Inf answers the highest finite bound
        (1.0, 1.0),
    ],
)
def test_quantile_interpolates_linearly_inside_the_bucket_holding_the_rank(q: float, expected: float) -> None:
    assert histogram_quantile(q, [*BOUNDS, INF], COUNTS) == pytest.approx(expected)


def test_quantile_outside_zero_to_one_is_infinite_and_without_observations_is_nan() -> None:
    assert histogram_quantile(-0.1, [*BOUNDS, INF], COUNTS) == -INF
    assert histogram_quantile(1.1, [*BOUNDS, INF], COUNTS) == INF
    assert math.isnan(histogram_quantile(0.5, [*BOUNDS, INF], (0, 0, 0, 0, 0)))
    assert math.isnan(histogram_quantile(0.5, [0.1, 0.2], (1, 2)))  # no +Inf bucket: not a histogram


def test_quantile_treats_a_dip_in_cumulative_counts_as_flat_like_prometheus() -> None:
    # A scrape that races increments can see a later bucket lower than an earlier one.
    assert histogram_quantile(0.5, [0.1, 0.2, INF], (10, 9, 20)) == histogram_quantile(
        0.5, [0.1, 0.2, INF], (10, 10, 20)
    )


def test_quantile_of_a_non_positive_lowest_bound_is_that_bound() -> None:
    assert histogram_quantile(0.1, [-1.0, 0.0, 1.0, INF], (5, 10, 20, 20)) == -1.0


@st.composite
def histograms(draw: st.DrawFn) -> tuple[tuple[float, ...], tuple[int, ...]]:
    bounds = tuple(sorted(draw(st.sets(st.floats(0.0001, 100), min_size=1, max_size=12))))
    per_bucket = draw(st.lists(st.integers(0, 1000), min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    cumulative, total = [], 0
    for n in per_bucket:
        total += n
        cumulative.append(total)
    return bounds, tuple(cumulative)


@given(histograms(), st.floats(0, 1), st.floats(0, 1))
def test_quantiles_grow_with_q_and_stay_within_the_finite_bounds(
    h: tuple[tuple[float, ...], tuple[int, ...]], q1: float, q2: float
) -> None:
    bounds, counts = h
    lo, hi = sorted((q1, q2))
    a = histogram_quantile(lo, [*bounds, INF], counts)
    b = histogram_quantile(hi, [*bounds, INF], counts)
    if counts[-1] == 0:
        assert math.isnan(a) and math.isnan(b)
        return
    assert 0 <= a <= b + 1e-9
    assert b <= bounds[-1] + 1e-9


def test_histogram_minus_keeps_only_the_observations_since_the_earlier_one() -> None:
    earlier = Histogram(BOUNDS, (10, 10, 10, 10, 10), 0.5)
    now = Histogram(BOUNDS, (10, 10, 10, 20, 20), 7.5)
    delta = now.minus(earlier)
    assert delta.counts == (0, 0, 0, 10, 10)
    assert delta.count == 10
    assert delta.sum == pytest.approx(7.0)
    assert delta.quantile(0.5) == pytest.approx(0.7)
    assert now.minus(Histogram((), ())) == now


def test_histograms_with_other_bounds_do_not_subtract() -> None:
    with pytest.raises(ValueError, match="bucket bounds differ"):
        Histogram(BOUNDS, (1, 1, 1, 1, 1)).minus(Histogram((0.5,), (1, 1)))


def stats(time: float, *, instance: str = "a", **versions: tuple[int, int, Sequence[int]]) -> RouterStats:
    """A snapshot: per version (requests, failures, cumulative counts over BOUNDS + Inf)."""
    return RouterStats(
        instance,
        time,
        {
            v: VersionStats(requests=r, failures=f, latency=Histogram(BOUNDS, tuple(c), 0.0))
            for v, (r, f, c) in versions.items()
        },
    )


class ScriptedStats:
    """Answers stats() with the next snapshot of a script, as a router would over time."""

    def __init__(self, *snapshots: RouterStats) -> None:
        self.snapshots = list(snapshots)

    def stats(self) -> RouterStats:
        return self.snapshots.pop(0)


def test_window_is_the_difference_from_the_newest_snapshot_at_least_that_old() -> None:
    source = ScriptedStats(
        stats(100, v1=(1000, 10, (1000,) * 5)),
        stats(130, v1=(1500, 10, (1500,) * 5)),
        stats(160, v1=(1600, 12, (1500, 1500, 1500, 1600, 1600))),
    )
    metrics = RouterMetrics(source)
    metrics.mark()
    metrics.mark()
    # 160 - 130 = 30 s is not the 60 s asked for; 160 - 100 is.
    window = metrics.window(["v1"], 60)
    assert window["v1"].requests == 600
    assert window["v1"].errors == 2


def test_window_takes_the_newest_baseline_old_enough_not_the_oldest() -> None:
    source = ScriptedStats(
        stats(100, v1=(1000, 0, (1000,) * 5)),
        stats(130, v1=(1500, 0, (1500,) * 5)),
        stats(160, v1=(1600, 3, (1500, 1500, 1500, 1600, 1600))),
    )
    metrics = RouterMetrics(source)
    metrics.mark()
    metrics.mark()
    window = metrics.window(["v1"], 30)
    assert window["v1"] == VersionMetrics(
        requests=100, errors=3, latency_ms=pytest.approx({0.5: 700, 0.99: 994})
    )


def test_window_latency_comes_from_the_delta_histogram_not_the_cumulative_one() -> None:
    # 1 000 fast requests before, 100 slow ones inside the window: the window's median is slow.
    source = ScriptedStats(
        stats(0, v1=(1000, 0, (1000,) * 5)),
        stats(60, v1=(1100, 0, (1000, 1000, 1000, 1000, 1100))),
    )
    metrics = RouterMetrics(source)
    metrics.mark()
    assert metrics.window(["v1"], 60)["v1"].latency_ms == {0.5: 1000.0, 0.99: 1000.0}


def test_window_is_shorter_than_asked_when_no_snapshot_is_old_enough() -> None:
    source = ScriptedStats(stats(500, v1=(10, 0, (10,) * 5)), stats(510, v1=(15, 1, (15,) * 5)))
    metrics = RouterMetrics(source)
    metrics.mark()
    assert metrics.window(["v1"], 60)["v1"].requests == 5


def test_first_window_counts_from_the_router_start_when_that_lies_inside_it() -> None:
    metrics = RouterMetrics(ScriptedStats(stats(20, v1=(40, 4, (40,) * 5))))
    assert metrics.window(["v1"], 60)["v1"].requests == 40


def test_first_window_of_an_older_router_without_a_mark_is_empty() -> None:
    metrics = RouterMetrics(ScriptedStats(stats(3600, v1=(40_000, 400, (40_000,) * 5))))
    assert metrics.window(["v1"], 60)["v1"] == VersionMetrics(requests=0, errors=0, latency_ms={})


def test_a_restarted_router_is_not_subtracted_from_the_old_one() -> None:
    source = ScriptedStats(
        stats(1000, instance="old", v1=(9000, 9, (9000,) * 5)),
        stats(30, instance="new", v1=(50, 1, (50,) * 5)),
    )
    metrics = RouterMetrics(source)
    metrics.mark()
    assert metrics.window(["v1"], 60)["v1"].requests == 50


def test_versions_without_traffic_have_zero_requests_and_no_latency() -> None:
    source = ScriptedStats(stats(0, v1=(1, 0, (1,) * 5)), stats(60, v1=(2, 0, (2,) * 5)))
    metrics = RouterMetrics(source, quantiles=(0.9,))
    metrics.mark()
    window = metrics.window(["v1", "v2"], 60)
    assert window["v2"] == VersionMetrics(requests=0, errors=0, latency_ms={})
    assert set(window["v1"].latency_ms) == {0.9}


def test_stats_json_from_the_router_parses() -> None:
    doc = {
        "instance": "9bdb87d7612656dc",
        "time": 2.5,
        "unrouted": 1,
        "versions": {
            "v1": {
                "requests": 3,
                "responses": {"1xx": 0, "2xx": 2, "3xx": 0, "4xx": 0, "5xx": 1},
                "codes": {"200": 2, "502": 1},
                "errors": {"connect": 0, "upstream-reset": 1, "timeout": 0, "no-ready-endpoint": 0},
                "failures": 1,
                "retried": 0,
                "latency": {"bounds": [0.001, 0.01], "counts": [2, 3, 3], "sum": 0.004, "count": 3},
                "mirror": {"requests": 4, "failures": 1, "dropped": 0},
            }
        },
    }
    parsed = RouterStats.from_json(doc)
    v1 = parsed.versions["v1"]
    assert (parsed.time, parsed.unrouted, v1.requests, v1.failures) == (2.5, 1, 3, 1)
    assert v1.codes == {200: 2, 502: 1}
    assert v1.errors["upstream-reset"] == 1
    assert v1.latency == Histogram((0.001, 0.01), (2, 3, 3), 0.004)
    assert (v1.mirrored, v1.mirror_failures) == (4, 1)
