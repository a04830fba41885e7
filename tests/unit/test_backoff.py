"""The one retry policy: waits, jitter, Retry-After and the time budget."""

from __future__ import annotations

from goship._backoff import Backoff


def test_waits_double_up_to_the_cap_and_a_retry_after_is_honoured_up_to_it() -> None:
    policy = Backoff(attempts=6, base_delay=0.5, max_delay=3.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(1, retry_after=7.0) == 3.0
    assert policy.delay(4, retry_after=0.2) == 0.2


def test_jitter_draws_part_of_each_wait() -> None:
    assert Backoff(base_delay=1.0, jitter=0.5, draw=lambda: 0.0).delay(2) == 1.0
    assert Backoff(base_delay=1.0, jitter=0.5, draw=lambda: 1.0).delay(2) == 2.0


def test_no_further_try_after_the_attempts_or_past_the_budget() -> None:
    counted = Backoff(attempts=3)
    assert counted.another(2, spent=1e6, wait=1.0)  # no budget: only the count decides
    assert not counted.another(3, spent=0.0, wait=0.0)
    budgeted = Backoff(attempts=10, budget=10.0)
    assert budgeted.another(1, spent=8.0, wait=2.0)
    assert not budgeted.another(1, spent=8.5, wait=2.0)
