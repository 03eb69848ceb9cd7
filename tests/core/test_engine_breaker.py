# What the engine forwards to the breaker: a FOK/FAK kill is the market moving, not a bad order,
# so it never counts toward the rejected-order-rate trip (it is a failed execution instead).
from __future__ import annotations

import pytest

from polyarb.core.breaker import Breaker, BreakerConfig
from polyarb.core.engine_breaker import BreakerWatch, is_kill
from polyarb.core.exec_common import ExecResult
from polyarb.core.execution import Execution
from polyarb.core.marketdata import MarketData

T0 = 1_766_793_600_000_000_000


def _watch(max_rejections: int = 1) -> tuple[BreakerWatch, Breaker]:
    breaker = Breaker(BreakerConfig(max_rejections=max_rejections))
    return BreakerWatch(breaker, Execution(), MarketData()), breaker


@pytest.mark.parametrize("reason", [
    "order couldn't be fully filled. FOK orders are filled or killed.",
    "no orders found to match with FAK order. FAK orders are partially filled or killed if no "
    "match is found.",
    "there are no matching orders",
])
def test_breaker_watch_kills_do_not_trip_the_rejection_rate(reason: str) -> None:
    watch, breaker = _watch()
    results = [ExecResult(kind="rejection", ts_ns=T0 + i, detail=reason) for i in range(5)]

    out = watch.results(results, T0 + 5, seq=7)

    assert out == [] and breaker.state == "ACTIVE"
    assert is_kill(reason)


def test_breaker_watch_real_rejections_trip_the_rejection_rate() -> None:
    watch, breaker = _watch(max_rejections=1)
    reason = "order 0x1 is invalid. Price (0.123) breaks minimum tick size rule: 0.01"
    results = [ExecResult(kind="rejection", ts_ns=T0 + i, detail=reason) for i in range(2)]

    out = watch.results(results, T0 + 2, seq=7)

    assert [t.gate for t in out] == ["order_rejections"]
    assert breaker.state == "HALTED"
    assert not is_kill(reason)
