# The paper venue (polyarb/venues/paper.py): fed recorded-style market frames, it fills a
# crossing order at the book's prices, respects depth (partial FAK, killed FOK), applies latency
# by event time, settles trades MATCHED -> MINED -> CONFIRMED, fills a resting order when a
# live level crosses it, cancels, answers reads, refuses what the live client refuses unsent,
# and produces events the engine folds (a neg-risk basket detected, placed and filled).
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson

from polyarb.core.engine import Engine
from polyarb.events.base import Input
from polyarb.events.decisions import OrderIntent, PlaceOrders
from polyarb.events.inputs import (
    CancelFailed,
    MarketInfo,
    MarketsLoaded,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderUpdated,
    RawFrame,
    RestSnapshot,
    TradeUpdated,
)
from polyarb.sim.errors import FOK_MSG, NOT_ENOUGH_BALANCE_MSG
from polyarb.venues.base import Venue, execute
from polyarb.venues.paper import PaperConfig, PaperTap, PaperVenue
from tests.core.engine_helpers import book_msg, change_entry, market, price_change_msg, raw_frame

T0 = 1_776_000_000_000_000_000
MS = 1_000_000
SEC = 1_000_000_000
USD = 1_000_000
CID = "0x" + "ab" * 32
YES, NO = "1001", "1002"


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> int:
        return self.t


def frame(msg: dict[str, Any]) -> str:
    return orjson.dumps(msg).decode()


def book(token: str = YES, bids: Sequence[tuple[int, int]] = ((480_000, 100 * USD),),
         asks: Sequence[tuple[int, int]] = ((520_000, 30 * USD), (530_000, 50 * USD)),
         cid: str = CID) -> str:
    return frame(book_msg(token, bids, asks, cid))


def change(token: str, side: str, price: int, size: int, cid: str = CID) -> str:
    return frame(price_change_msg([change_entry(token, side, price, size, None, None)], cid))


def venue(latency_ms: int = 0, **kw: Any) -> tuple[PaperVenue, Clock]:
    clock = Clock()
    paper = PaperVenue(PaperConfig(latency_ms=latency_ms, max_wait_s=30.0, **kw),
                       clock_ns=clock)
    assert paper.load_markets([market(CID, YES, NO)]) == []
    paper.on_market_frame(T0, book())
    return paper, clock


def intent(cid: str, side: str = "BUY", price: int = 530_000, size: int = 40 * USD,
           order_type: str = "FAK", token: str = YES) -> OrderIntent:
    return OrderIntent(client_order_id=cid, token_id=token, side=side,  # type: ignore[arg-type]
                       price_micros=price, size_micros=size,
                       order_type=order_type, tick_size_micros=10_000)  # type: ignore[arg-type]


def batch(*intents: OrderIntent, ts: int = T0) -> PlaceOrders:
    return PlaceOrders(ts_recv_ns=ts, cause_seq=1, batch_id="b1", opp_id="o1",
                       orders=tuple(intents))


def place(paper: PaperVenue, *intents: OrderIntent, ts: int = T0) -> list[Input]:
    return asyncio.run(paper.place(batch(*intents, ts=ts)))


def of(events: Sequence[Input], cls: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


def test_paper_venue_implements_the_venue_protocol() -> None:
    assert isinstance(venue()[0], Venue)


def test_paper_crossing_buy_fills_at_the_books_prices() -> None:
    paper, _ = venue()
    [result] = place(paper, intent("c1"))
    updates = paper.take_updates()

    assert isinstance(result, OrderAccepted) and result.status == "matched"
    assert (result.making_amount_micros, result.taking_amount_micros) == (20_900_000, 40 * USD)
    fills = [(t.price_micros, t.size_micros, t.side, t.trader_side, t.status)
             for t in of(updates, TradeUpdated)]
    assert fills == [(520_000, 30 * USD, "BUY", "TAKER", "MATCHED"),
                     (530_000, 10 * USD, "BUY", "TAKER", "MATCHED")]
    assert all(t.venue_order_id == result.venue_order_id for t in of(updates, TradeUpdated))
    [update] = of(updates, OrderUpdated)
    assert (update.update_type, update.status, update.size_matched_micros) == (
        "UPDATE", "MATCHED", 40 * USD)


def test_paper_fak_takes_the_depth_there_is_and_fok_is_killed() -> None:
    paper, _ = venue()
    [fak] = place(paper, intent("fak", size=100 * USD))
    assert isinstance(fak, OrderAccepted) and fak.taking_amount_micros == 80 * USD

    paper, _ = venue()
    [fok] = place(paper, intent("fok", size=100 * USD, order_type="FOK"))
    assert isinstance(fok, OrderRejected) and fok.reason == FOK_MSG
    assert fok.reason_code == "killed"
    assert of(paper.take_updates(), TradeUpdated) == []
    assert paper.exchange.best_prices(YES) == (480_000, 520_000)  # nothing was taken


def test_paper_latency_matches_the_book_as_of_decision_plus_latency() -> None:
    async def main() -> tuple[list[Input], bool, bool]:
        paper, _ = venue(latency_ms=100)
        task = asyncio.ensure_future(paper.place(batch(intent("c1", size=30 * USD))))
        await asyncio.sleep(0)
        pending_at_start = not task.done()
        paper.on_market_frame(T0 + 50 * MS, change(YES, "SELL", 520_000, 0))  # before due
        await asyncio.sleep(0)
        pending_after_early_frame = not task.done()
        # after due: liquidity at 0.50 must not be seen by an order decided 150 ms earlier
        paper.on_market_frame(T0 + 150 * MS, change(YES, "SELL", 500_000, 100 * USD))
        return await task, pending_at_start, pending_after_early_frame

    [result], at_start, after_early = asyncio.run(main())
    assert at_start and after_early
    assert isinstance(result, OrderAccepted) and result.making_amount_micros == 15_900_000


def test_paper_latency_zero_matches_at_once() -> None:
    paper, _ = venue(latency_ms=0)
    [result] = place(paper, intent("c1", size=30 * USD))
    assert isinstance(result, OrderAccepted) and result.making_amount_micros == 15_600_000


def test_paper_decision_older_than_the_book_matches_the_current_book() -> None:
    paper, _ = venue(latency_ms=100)
    paper.on_market_frame(T0 + 500 * MS, change(YES, "SELL", 520_000, 0))
    [result] = place(paper, intent("c1", size=30 * USD), ts=T0)
    assert isinstance(result, OrderAccepted) and result.making_amount_micros == 15_900_000


def test_paper_trades_settle_by_event_time() -> None:
    paper, _ = venue()
    place(paper, intent("c1", size=30 * USD))
    paper.take_updates()
    paper.on_market_frame(T0 + 3 * SEC, book())
    mined = of(paper.take_updates(), TradeUpdated)
    paper.advance(T0 + 14 * SEC)
    confirmed = of(paper.take_updates(), TradeUpdated)

    assert [t.status for t in mined] == ["MINED"] and mined[0].transaction_hash
    assert [t.status for t in confirmed] == ["CONFIRMED"]


def test_paper_resting_order_filled_when_a_live_level_crosses_it() -> None:
    paper, _ = venue()
    [rest] = place(paper, intent("r1", price=500_000, size=10 * USD, order_type="GTC"))
    assert isinstance(rest, OrderAccepted) and rest.status == "live"
    paper.take_updates()

    paper.on_market_frame(T0 + SEC, change(YES, "SELL", 490_000, 20 * USD))
    [fill] = of(paper.take_updates(), TradeUpdated)
    assert (fill.trader_side, fill.side, fill.price_micros, fill.size_micros) == (
        "MAKER", "BUY", 500_000, 10 * USD)
    assert fill.venue_order_id == rest.venue_order_id


def test_paper_cancel_resting_and_unknown_orders() -> None:
    paper, _ = venue()
    place(paper, intent("r1", price=450_000, size=10 * USD, order_type="GTC"))
    events = asyncio.run(paper.cancel(["r1", "never-sent"]))

    failed = of(events, CancelFailed)
    cancelled = of(events, OrderCancelled)
    assert [c.client_order_id for c in cancelled] == ["r1"]
    assert [f.reason for f in failed] == ["not sent: unknown client order id never-sent"]
    assert asyncio.run(paper.cancel_all()) == []


def test_paper_reads_journal_a_rest_snapshot_before_the_typed_events() -> None:
    paper, _ = venue()
    place(paper, intent("r1", price=450_000, size=10 * USD, order_type="GTC"),
          intent("t1", size=30 * USD))
    orders = asyncio.run(paper.open_orders())
    trades = asyncio.run(paper.trades())

    assert isinstance(orders[0], RestSnapshot) and orders[0].endpoint == "/data/orders"
    assert [type(e) for e in orders[1:]] == [OrderUpdated]
    assert isinstance(trades[0], RestSnapshot) and trades[0].endpoint == "/data/trades"
    assert [t.size_micros for t in of(trades, TradeUpdated)] == [30 * USD]


def test_paper_refuses_unsent_what_the_live_client_refuses_unsent() -> None:
    paper, _ = venue()
    off_tick, unknown = place(paper, intent("x1", price=525_000),
                              intent("x2", token="999"))
    assert isinstance(off_tick, OrderRejected) and off_tick.reason.startswith(
        "not sent: price 0.525")
    assert isinstance(unknown, OrderRejected) and "not loaded" in unknown.reason
    assert off_tick.reason_code == unknown.reason_code == "invalid"


def test_paper_batch_results_keep_intent_order_and_sells_need_inventory() -> None:
    paper, _ = venue()
    results = place(paper, intent("a", side="SELL", price=480_000, size=10 * USD),
                    intent("b"), intent("c", side="SELL", price=480_000, size=10 * USD))
    assert [type(r) for r in results] == [OrderRejected, OrderAccepted, OrderAccepted]
    assert results[0].reason == NOT_ENOUGH_BALANCE_MSG  # type: ignore[attr-defined]
    # with the shares bought first (intent b), the sale fills against the bid
    assert results[2].taking_amount_micros == 4_800_000  # type: ignore[attr-defined]


# --- folded by the engine ----------------------------------------------------------------------

GROUP = "0x" + "cd" * 32


def group_markets() -> list[MarketInfo]:
    return [market("0x" + f"{i:02x}" * 32, str(2000 + 2 * i), str(2001 + 2 * i), group=GROUP)
            for i in range(1, 4)]


def test_paper_results_fold_into_the_engine_like_live_events() -> None:
    async def main() -> tuple[Engine, list[Any]]:
        engine, seq = Engine(), 0
        log: list[Any] = []

        def fold(event: Input) -> list[Any]:
            nonlocal seq
            seq += 1
            out = engine.apply(seq, event)
            log.extend(out)
            return out

        def deliver(event: Input) -> None:
            fold(event)

        paper = PaperVenue(PaperConfig(max_wait_s=30.0), clock_ns=lambda: T0 + 10 * SEC,
                           on_event=deliver)
        markets = group_markets()
        fold(MarketsLoaded(ts_recv_ns=T0, source="test", markets=tuple(markets)))
        paper.load_markets(markets)
        actions: list[Any] = []
        for i, m in enumerate(markets):
            yes = m.tokens[0].token_id
            data = book(yes, bids=((280_000, 100 * USD),), asks=((300_000, 100 * USD),),
                        cid=m.condition_id)
            ts = T0 + (i + 1) * MS
            paper.on_market_frame(ts, data)
            actions += fold(RawFrame(ts_recv_ns=ts, conn="market-0", frame=raw_frame(
                orjson.loads(data), ts).frame))
        [placement] = [d for d in actions if isinstance(d, PlaceOrders)]
        for result in await execute(paper, placement):
            fold(result)
        await asyncio.sleep(0)  # the placement's updates follow its results
        return engine, [placement]

    engine, [placement] = asyncio.run(main())
    positions = engine.execution.positions
    assert len(placement.orders) == 3 and all(o.side == "BUY" for o in placement.orders)
    assert engine.execution.orders.counters().get("ignored", 0) == 0
    assert positions.held_tokens() == sorted(o.token_id for o in placement.orders)
    assert {positions.position(o.token_id).qty_micros for o in placement.orders} == {
        placement.orders[0].size_micros}


def test_paper_without_later_frames_matches_after_max_wait() -> None:
    paper, _ = venue(latency_ms=100)
    paper.config = PaperConfig(latency_ms=100, max_wait_s=0.01)
    [result] = place(paper, intent("c1", size=30 * USD))
    assert isinstance(result, OrderAccepted) and result.making_amount_micros == 15_600_000


def test_paper_tap_journals_the_frame_before_the_venue_sees_it() -> None:
    paper, _ = venue()
    seen: list[str] = []

    class Sink:
        def on_frame(self, ts_recv_ns: int, conn: str, data: str | bytes) -> None:
            seen.append(f"journal {ts_recv_ns - T0}")

        def on_event(self, event: Input) -> None:
            seen.append(type(event).__name__)

    place(paper, intent("r1", price=500_000, size=10 * USD, order_type="GTC"))
    paper.take_updates()
    paper.on_event = lambda e: seen.append(type(e).__name__)
    tap = PaperTap(Sink(), paper)
    tap.on_frame(T0 + SEC, "market-0", change(YES, "SELL", 490_000, 20 * USD))
    assert seen[0] == f"journal {SEC}" and "TradeUpdated" in seen[1:]


def test_paper_same_inputs_give_the_same_events() -> None:
    def session() -> list[Input]:
        paper, _ = venue()
        out = place(paper, intent("c1"), intent("r1", price=500_000, size=10 * USD,
                                                 order_type="GTC"))
        paper.on_market_frame(T0 + 3 * SEC, change(YES, "SELL", 490_000, 20 * USD))
        return out + paper.take_updates()

    first, second = session(), session()
    assert first == second and len(first) > 4
