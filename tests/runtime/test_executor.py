# The executor: order actions run concurrently on the venue, every answer goes back as an
# input; after close_placements a placement is refused order by order; a broken venue call
# makes the orders' outcome unknown, never failed.
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from polyarb.events.base import Input
from polyarb.events.decisions import CancelOrders, OrderIntent, PlaceOrders, Unwind
from polyarb.events.inputs import OrderAccepted, OrderOutcomeUnknown, OrderRejected
from polyarb.runtime.executor import Executor
from tests.core.engine_helpers import T0
from tests.runtime.helpers import FakeVenue


def _batch(*cids: str) -> PlaceOrders:
    return PlaceOrders(ts_recv_ns=T0, cause_seq=1, batch_id="b1", opp_id="x1", orders=tuple(
        OrderIntent(client_order_id=c, token_id="t", side="BUY", price_micros=500_000,
                    size_micros=10_000_000, order_type="FOK", tick_size_micros=10_000)
        for c in cids))


class BrokenVenue(FakeVenue):
    async def place(self, batch: PlaceOrders | Unwind) -> list[Input]:
        raise RuntimeError("a bug in the venue layer")


class SlowVenue(FakeVenue):
    async def place(self, batch: PlaceOrders | Unwind) -> list[Input]:
        await asyncio.sleep(60)
        return []

    async def cancel(self, client_order_ids: Sequence[str] = (), **kw: Any) -> list[Input]:
        return []


def _run(venue: FakeVenue | None, *actions: Any, close: bool = False,
         abort: bool = False) -> list[Input]:
    got: list[Input] = []

    async def main() -> None:
        ex = Executor(venue, got.append, clock=lambda: T0 + 5)
        if close:
            ex.close_placements("run stopping")
        for action in actions:
            ex.dispatch(action)
        if abort:
            await asyncio.sleep(0)
            await ex.abort()
        assert await ex.wait_idle(5.0)
        assert ex.outstanding == 0

    asyncio.run(main())
    return got


def test_executor_feeds_the_venue_answers_back() -> None:
    got = _run(FakeVenue(), _batch("o1", "o2"))

    assert [type(e) for e in got] == [OrderAccepted, OrderAccepted]
    assert [e.client_order_id for e in got] == ["o1", "o2"]  # type: ignore[attr-defined]


def test_executor_refuses_placements_after_close_one_rejection_per_order() -> None:
    venue = FakeVenue()

    got = _run(venue, _batch("o1", "o2"), close=True)

    assert venue.calls == []
    assert all(isinstance(e, OrderRejected) and e.reason == "not sent: run stopping"
               and e.reason_code == "other" for e in got)
    assert [e.client_order_id for e in got] == ["o1", "o2"]  # type: ignore[attr-defined]


def test_executor_still_sends_cancels_after_close() -> None:
    venue = FakeVenue()

    _run(venue, CancelOrders(ts_recv_ns=T0, cause_seq=1, client_order_ids=("o1",),
                             reason="x"), close=True)

    assert venue.calls == ["cancel o1"]


def test_executor_without_venue_refuses_every_placement() -> None:
    got = _run(None, _batch("o1"))

    assert isinstance(got[0], OrderRejected) and "detect-only" in got[0].reason


def test_executor_broken_venue_call_makes_outcomes_unknown() -> None:
    got = _run(BrokenVenue(), _batch("o1", "o2"))

    assert [type(e) for e in got] == [OrderOutcomeUnknown, OrderOutcomeUnknown]


def test_executor_abort_makes_in_flight_orders_unknown() -> None:
    got = _run(SlowVenue(), _batch("o1"), abort=True)

    assert len(got) == 1 and isinstance(got[0], OrderOutcomeUnknown)
    assert "cancelled while in flight" in got[0].reason
