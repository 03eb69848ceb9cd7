# Rate limiting with a fake clock: token buckets per endpoint family (the venue's documented
# limits), reservation order and the RateLimiter's waits; nothing sleeps.
from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.venues.polymarket.ratelimit import (
    GENERAL,
    LIMITS,
    Limit,
    RateLimiter,
    TokenBucket,
    family_of,
)
from tests.venues.polymarket.recorded.harness import FakeClock, FakeSleep


@pytest.mark.parametrize(("method", "path", "family"), [
    ("POST", "/order", "post_order"),
    ("POST", "/orders", "post_orders"),
    ("DELETE", "/order", "delete_order"),
    ("DELETE", "/orders", "delete_orders"),
    ("DELETE", "/cancel-all", "cancel_all"),
    ("DELETE", "/cancel-market-orders", "cancel_market"),
    ("GET", "/book", "book"),
    ("POST", "/books", "books"),
    ("GET", "/tick-size", "tick_size"),
    ("GET", "/tick-size/123", "tick_size"),
    ("GET", "/data/orders", "data_orders"),
    ("GET", "/data/trades", "data_trades"),
    ("GET", "/balance-allowance", "balance_allowance"),
    ("GET", "/balance-allowance/update", "balance_allowance_update"),
    ("POST", "/auth/api-key", "auth"),
    ("GET", "/auth/derive-api-key", "auth"),
    ("GET", "/version", None),
    ("POST", "/v1/heartbeats", None),
])
def test_family_of_known_paths_maps_to_documented_family(method: str, path: str,
                                                         family: str | None) -> None:
    assert family_of(method, path) == family


def test_limits_order_entry_has_burst_and_sustained_windows() -> None:
    assert LIMITS["post_order"] == (Limit(3_500, 10.0), Limit(36_000, 600.0))
    assert LIMITS[GENERAL] == (Limit(9_000, 10.0),)
    assert all(lim.count > 0 and lim.window_s > 0 for lims in LIMITS.values() for lim in lims)


def test_token_bucket_full_bucket_serves_capacity_then_queues() -> None:
    bucket = TokenBucket(Limit(3, 1.0), now=0.0)
    waits = [bucket.reserve(0.0) for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(1 / 3)
    assert waits[4] == pytest.approx(2 / 3)


def test_token_bucket_refills_with_time_up_to_capacity() -> None:
    bucket = TokenBucket(Limit(2, 1.0), now=0.0)
    bucket.reserve(0.0)
    bucket.reserve(0.0)
    assert bucket.reserve(0.5) == 0.0  # one token back after half a window
    assert bucket.reserve(100.0) == 0.0
    assert bucket.tokens == pytest.approx(1.0)  # capped at capacity, minus the one taken


def test_token_bucket_bad_limit_raises() -> None:
    with pytest.raises(ValueError):
        TokenBucket(Limit(0, 1.0), now=0.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=80))
def test_token_bucket_any_arrivals_never_exceed_the_limit_in_a_window(gaps: list[float]) -> None:
    # Property: the times requests are RELEASED (arrival + wait) never put more than
    # capacity + rate * span requests into any span of time.
    limit = Limit(5, 2.0)
    bucket = TokenBucket(limit, now=0.0)
    now, released = 0.0, []
    for gap in gaps:
        now += gap
        released.append(now + bucket.reserve(now))
    released.sort()
    rate = limit.count / limit.window_s
    for i in range(len(released)):
        for j in range(i, len(released)):
            span = released[j] - released[i]
            assert j - i + 1 <= limit.count + rate * span + 1e-6


def test_rate_limiter_acquire_waits_for_the_slowest_bucket() -> None:
    clock = FakeClock()
    sleep = FakeSleep(clock)
    limiter = RateLimiter(clock=clock.mono, sleep=sleep,
                          limits={GENERAL: (Limit(100, 10.0),), "cancel_all": (Limit(2, 10.0),)})

    async def main() -> None:
        for _ in range(3):
            await limiter.acquire("DELETE", "/cancel-all")

    asyncio.run(main())
    assert sleep.delays == [pytest.approx(5.0)]
    assert limiter.delayed == 1 and limiter.waited_s == pytest.approx(5.0)


def test_rate_limiter_unlimited_family_uses_general_budget_only() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock.mono, limits={GENERAL: (Limit(2, 10.0),)})
    assert [limiter.reserve("GET", "/version") for _ in range(3)] == [0.0, 0.0, pytest.approx(5.0)]


def test_rate_limiter_reservations_queue_in_arrival_order() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock.mono, limits={GENERAL: (Limit(1, 1.0),)})
    waits = [limiter.reserve("GET", "/ok") for _ in range(4)]
    assert waits == [0.0, pytest.approx(1.0), pytest.approx(2.0), pytest.approx(3.0)]

