"""Rolling-update arithmetic, checked against Kubernetes Deployment behaviour."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goship.errors import UsageError
from goship.rollout.plan import ReplicaSetState, complete, fenceposts, rolling_step, scaled_value


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        ("25%", "25%", 10, (3, 2)),  # surge rounds up, unavailable down
        ("25%", "25%", 3, (1, 0)),
        (1, 0, 3, (1, 0)),
        (0, 0, 3, (0, 1)),  # both zero: unavailable becomes 1
        ("0%", "0%", 5, (0, 1)),
        ("100%", "50%", 5, (5, 2)),
        ("2", "1", 4, (2, 1)),
    ],
)
def test_fenceposts_round_like_kubernetes(
    surge: int | str, unavailable: int | str, desired: int, expected: tuple[int, int]
) -> None:
    assert fenceposts(surge, unavailable, desired) == expected


@pytest.mark.parametrize("bad", ["-1", "25", "x%", "1.5%", -2])
def test_bad_values_are_usage_errors(bad: int | str) -> None:
    if bad == "25":
        assert scaled_value(bad, 10, round_up=True, field="maxSurge") == 25
        return
    with pytest.raises(UsageError):
        scaled_value(bad, 10, round_up=True, field="maxSurge")


def simulate(desired: int, surge: int, unavailable: int, start_old: int) -> list[tuple[int, int]]:
    """Run the controller where every replica becomes available as soon as it exists."""
    new, old = ReplicaSetState("new", 0, 0), ReplicaSetState("old", start_old, start_old)
    history = [(new.replicas, old.replicas)]
    for _ in range(100):
        if complete(desired, new, [old]):
            return history
        changes = rolling_step(desired, surge, unavailable, new, [old])
        n = changes.get("new", new.replicas)
        o = changes.get("old", old.replicas)
        new, old = ReplicaSetState("new", n, n), ReplicaSetState("old", o, o)
        history.append((n, o))
    raise AssertionError(f"no convergence: {history}")


def test_surge_one_unavailable_zero_replaces_one_at_a_time() -> None:
    assert simulate(3, 1, 0, 3) == [(0, 3), (1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0)]


def test_unavailable_one_no_surge_removes_before_adding() -> None:
    assert simulate(3, 0, 1, 3) == [(0, 3), (0, 2), (1, 2), (1, 1), (2, 1), (2, 0), (3, 0)]


def test_new_replicas_that_are_not_available_hold_old_ones_back() -> None:
    # 3 desired, surge 1, unavailable 0: the new replica exists but is not ready yet.
    changes = rolling_step(3, 1, 0, ReplicaSetState("new", 1, 0), [ReplicaSetState("old", 3, 3)])
    assert changes == {}


def test_unhealthy_old_replicas_are_removed_first() -> None:
    changes = rolling_step(4, 0, 1, ReplicaSetState("new", 0, 0), [ReplicaSetState("old", 4, 2)])
    assert changes == {"old": 3}


@given(
    desired=st.integers(1, 12),
    surge=st.integers(0, 5),
    unavailable=st.integers(0, 5),
)
def test_every_rollout_converges_within_its_budgets(desired: int, surge: int, unavailable: int) -> None:
    if surge == 0 and unavailable == 0:
        unavailable = 1
    for n, o in simulate(desired, surge, unavailable, desired):
        assert n + o <= desired + surge
        assert n + o >= desired - unavailable
