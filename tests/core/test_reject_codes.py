# Engine scenarios for rejection reason codes: the breaker is fed by OrderRejected.reason_code,
# never by the venue's words. A batch the venue refused as a whole (429, 425, 503) is one failed
# execution of its opportunity (the consecutive-failures trip) and does not count toward the
# rejected-order rate; orders the venue judged bad (`invalid`, `absent`, `other`) do; a FOK/FAK
# kill does not. Every transition is a journaled BreakerTransitioned with gate, limit, observed.
from __future__ import annotations

from decimal import Decimal

import msgspec

from polyarb.core.breaker import BreakerConfig
from polyarb.core.config import EngineConfig
from polyarb.events.base import Decision
from polyarb.events.decisions import BreakerTransitioned, PlaceOrders
from polyarb.events.inputs import RejectCode
from tests.core.engine_helpers import SEC, USD, Run, market, of

Y, N, CID = "Y1", "N1", "0xm1"
TRADING_OFF = "http 503: Trading is currently disabled. Check polymarket.com for updates"
# What a live or simulated venue sends for each code (the text is never read by the core)
REFUSALS: dict[RejectCode, tuple[str, int | None]] = {
    "venue_unavailable": (TRADING_OFF, 503),
    "rate_limited": ("http 429: Too Many Requests", 429),
    "killed": ("FOK orders are filled or killed", 400),
    "invalid": ("not enough balance / allowance", 400),
    "absent": ("not found at the venue", None),
    "other": ("could not run the execution", 400),
}


def _run(max_rejections: int = 3, max_failures: int = 2) -> Run:
    breaker = BreakerConfig(max_rejections=max_rejections,
                            max_consecutive_failures=max_failures)
    run = Run(msgspec.structs.replace(EngineConfig(), breaker=breaker))
    run.load(market(CID, Y, N))
    return run


def _opportunity(run: Run, size: int) -> PlaceOrders:
    """Fresh books with `size` shares on each ask: a new complete-set opportunity."""
    run.book(Y, [(400_000, 100 * USD)], [(450_000, size)])
    batches: list[PlaceOrders] = of(run.book(N, [(400_000, 100 * USD)], [(500_000, size)]),
                                    PlaceOrders)
    assert len(batches) == 1
    return batches[0]


def _refuse_batches(run: Run, code: RejectCode, batches: int, first: int = 40
                    ) -> list[Decision]:
    """`batches` opportunities in a row (sizes from `first` shares up, so none repeats), every
    order of each refused with `code`."""
    reason, status = REFUSALS[code]
    out: list[Decision] = []
    for i in range(batches):
        batch = _opportunity(run, (first + i) * USD)
        for intent in batch.orders:
            out += run.reject(intent, reason=reason, code=code, status=status)
        run.clock(SEC)
    return out


def _transitions(out: list[Decision]) -> list[tuple[str, str, Decimal, Decimal]]:
    found: list[BreakerTransitioned] = of(out, BreakerTransitioned)
    return [(t.to_state, t.gate, t.limit, t.observed) for t in found]


def test_scenario_two_batches_refused_with_503_do_not_halt() -> None:
    # Arrange: 4 refused orders would be over a 3-per-window rejection rate
    run = _run(max_rejections=3)

    # Act
    out = _refuse_batches(run, "venue_unavailable", 2)

    # Assert: two failed executions (2 tolerated), no rejection counted
    assert _transitions(out) == []
    assert run.engine.breaker.state == "ACTIVE"
    assert run.engine.stats().failed == 2


def test_scenario_two_batches_refused_with_429_do_not_halt() -> None:
    run = _run(max_rejections=3)

    out = _refuse_batches(run, "rate_limited", 2)

    assert _transitions(out) == [] and run.engine.stats().failed == 2


def test_scenario_third_refused_batch_trips_consecutive_failures_not_rejections() -> None:
    # Arrange
    run = _run(max_rejections=3, max_failures=2)

    # Act
    out = _refuse_batches(run, "venue_unavailable", 3)

    # Assert: one failed execution per refused batch feeds the consecutive-failures trip
    assert _transitions(out) == [("HALTED", "execution_failures", Decimal(2), Decimal(3))]


def test_scenario_invalid_rejections_trip_at_the_configured_rate() -> None:
    # Arrange: failures are not the limit here
    run = _run(max_rejections=3, max_failures=10)

    # Act: the 4th invalid order within the window trips
    out = _refuse_batches(run, "invalid", 2)

    # Assert
    assert _transitions(out) == [("HALTED", "order_rejections", Decimal(3), Decimal(4))]


def test_scenario_absent_and_other_count_like_invalid() -> None:
    run = _run(max_rejections=3, max_failures=10)

    out = _refuse_batches(run, "absent", 1) + _refuse_batches(run, "other", 1, first=50)

    assert _transitions(out) == [("HALTED", "order_rejections", Decimal(3), Decimal(4))]


def test_scenario_kills_are_failed_executions_not_rejections() -> None:
    # Arrange: a single counted rejection more than 1 would trip
    run = _run(max_rejections=1, max_failures=10)

    # Act
    out = _refuse_batches(run, "killed", 3)

    # Assert
    assert _transitions(out) == [] and run.engine.stats().failed == 3


def test_scenario_the_same_text_counts_only_by_its_code() -> None:
    # Arrange: a kill's words with the code `invalid` (an adapter's call): the code decides
    run = _run(max_rejections=1, max_failures=10)
    batch = _opportunity(run, 40 * USD)

    # Act
    out: list[Decision] = []
    for intent in batch.orders:
        out += run.reject(intent, reason=REFUSALS["killed"][0], code="invalid")

    # Assert
    assert _transitions(out) == [("HALTED", "order_rejections", Decimal(1), Decimal(2))]
