# What the engine forwards to the breaker: only rejections whose code says the venue judged the
# order (invalid, absent, other) count toward the rejected-order-rate trip. A FOK/FAK kill is the
# market moving and a refusal of the whole request (429, 425, 503) is the venue's state: each is
# a failed execution instead. The core reads the code only, never the venue's words.
from __future__ import annotations

from typing import get_args

import pytest

from polyarb.core.breaker import Breaker, BreakerConfig
from polyarb.core.engine_breaker import UNCOUNTED_CODES, BreakerWatch, counts_as_rejection
from polyarb.core.exec_common import ExecResult
from polyarb.core.execution import Execution
from polyarb.core.marketdata import MarketData
from polyarb.events.inputs import RejectCode

T0 = 1_766_793_600_000_000_000


def _watch(max_rejections: int = 1) -> tuple[BreakerWatch, Breaker]:
    breaker = Breaker(BreakerConfig(max_rejections=max_rejections))
    return BreakerWatch(breaker, Execution(), MarketData()), breaker


@pytest.mark.parametrize("code", ["killed", "rate_limited", "venue_unavailable"])
def test_breaker_watch_kills_and_whole_request_refusals_do_not_trip_the_rejection_rate(
        code: str) -> None:
    # Arrange
    watch, breaker = _watch()
    results = [ExecResult(kind="rejection", ts_ns=T0 + i, detail=code) for i in range(5)]

    # Act
    out = watch.results(results, T0 + 5, seq=7)

    # Assert
    assert out == [] and breaker.state == "ACTIVE"
    assert not counts_as_rejection(code)


@pytest.mark.parametrize("code", ["invalid", "absent", "other"])
def test_breaker_watch_order_rejections_trip_the_rejection_rate(code: str) -> None:
    # Arrange
    watch, breaker = _watch(max_rejections=1)
    results = [ExecResult(kind="rejection", ts_ns=T0 + i, detail=code) for i in range(2)]

    # Act
    out = watch.results(results, T0 + 2, seq=7)

    # Assert
    assert [t.gate for t in out] == ["order_rejections"]
    assert breaker.state == "HALTED"


def test_uncounted_codes_are_a_subset_of_the_closed_set() -> None:
    assert set(UNCOUNTED_CODES) < set(get_args(RejectCode))
