# The reconnect backoff: the schedule, its jitter bounds and the healthy-period reset, driven by
# injected time and randomness (no sleeps).
from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyarb.venues.polymarket.backoff import Backoff, BackoffPolicy

NO_JITTER = BackoffPolicy(jitter=0.0)


def test_backoff_without_jitter_doubles_from_1s_to_a_60s_cap() -> None:
    backoff = Backoff(NO_JITTER)
    delays = [backoff.next_delay() for _ in range(9)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert backoff.attempt == 9


def test_backoff_default_policy_is_1s_doubling_to_60s_with_jitter() -> None:
    policy = BackoffPolicy()
    assert (policy.initial_s, policy.factor, policy.max_s) == (1.0, 2.0, 60.0)
    assert 0 < policy.jitter < 1


@given(seed=st.integers(0, 2**32), jitter=st.floats(0.0, 0.99), n=st.integers(1, 20))
def test_backoff_jitter_only_shortens_within_bounds(seed: int, jitter: float, n: int) -> None:
    plain = Backoff(BackoffPolicy(jitter=0.0))
    jittered = Backoff(BackoffPolicy(jitter=jitter), random.Random(seed))
    for _ in range(n):
        base = plain.next_delay()
        delay = jittered.next_delay()
        assert base * (1 - jitter) <= delay <= base <= 60.0


def test_backoff_same_seed_gives_the_same_schedule() -> None:
    a = Backoff(BackoffPolicy(), random.Random(7))
    b = Backoff(BackoffPolicy(), random.Random(7))
    assert [a.next_delay() for _ in range(10)] == [b.next_delay() for _ in range(10)]


def test_backoff_reset_after_healthy_period_restarts_at_initial() -> None:
    backoff = Backoff(BackoffPolicy(jitter=0.0, healthy_reset_s=30.0))
    for _ in range(4):
        backoff.next_delay()
    backoff.opened(100.0)
    assert not backoff.healthy(129.9)
    assert backoff.healthy(130.0)
    assert backoff.closed(130.0) is True
    assert backoff.attempt == 0
    assert backoff.next_delay() == 1.0


def test_backoff_short_connection_keeps_growing() -> None:
    backoff = Backoff(BackoffPolicy(jitter=0.0, healthy_reset_s=30.0))
    assert [backoff.next_delay() for _ in range(3)] == [1, 2, 4]
    backoff.opened(100.0)
    assert backoff.closed(110.0) is False
    assert backoff.next_delay() == 8
    assert backoff.attempt == 4


def test_backoff_closed_without_opened_does_not_reset() -> None:
    backoff = Backoff(NO_JITTER)
    backoff.next_delay()
    assert backoff.closed(1e9) is False
    assert backoff.next_delay() == 2


def test_backoff_explicit_reset_restarts_schedule() -> None:
    backoff = Backoff(NO_JITTER)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert [backoff.next_delay() for _ in range(2)] == [1, 2]


@pytest.mark.parametrize("kw", [
    {"initial_s": 0.0}, {"initial_s": 61.0}, {"factor": 0.5}, {"jitter": 1.0},
    {"jitter": -0.1}, {"healthy_reset_s": -1.0},
])
def test_backoff_policy_bad_values_raise(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(**kw)
