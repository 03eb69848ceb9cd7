# Hand-written stubs and event factories for the execution tests (orders, unwind, positions).
# Books here are tiny BookView implementations; nothing depends on polyarb/core/book.py.
from __future__ import annotations

from collections.abc import Sequence

import msgspec

from polyarb.core.execution import Execution
from polyarb.core.types import BookView
from polyarb.events.decisions import Leg, OpportunityDetected, PlaceOrders, Strategy
from polyarb.events.inputs import (
    MarketInfo,
    MarketsLoaded,
    OrderAccepted,
    OrderRejected,
    RejectCode,
    Side,
    TokenInfo,
    TradeUpdated,
)

T0 = 1_766_793_600_000_000_000  # 2025-12-27T00:00:00Z in ns
SEC = 1_000_000_000
USD = 1_000_000


class StubBook:
    """A fixed order book for one token."""

    def __init__(self, token_id: str, bids: Sequence[tuple[int, int]] = (),
                 asks: Sequence[tuple[int, int]] = (), usable: bool = True) -> None:
        self.token_id = token_id
        self._bids = sorted(bids, reverse=True)
        self._asks = sorted(asks)
        self._usable = usable

    @property
    def usable(self) -> bool:
        return self._usable

    @property
    def epoch(self) -> int:
        return 1

    def best_bid(self) -> int | None:
        return self._bids[0][0] if self._bids else None

    def best_ask(self) -> int | None:
        return self._asks[0][0] if self._asks else None

    def asks_ascending(self) -> Sequence[tuple[int, int]]:
        return self._asks

    def bids_descending(self) -> Sequence[tuple[int, int]]:
        return self._bids


class Ctx:
    """A MarketContext over a dict of stub books; tick 0.01 unless told otherwise."""

    def __init__(self, books: Sequence[StubBook] = (), tick: int = 10_000,
                 neg_risk: bool = False) -> None:
        self.books: dict[str, BookView] = {b.token_id: b for b in books}
        self.tick = tick
        self.negrisk = neg_risk

    def book(self, token_id: str) -> BookView | None:
        return self.books.get(token_id)

    def tick_size_micros(self, token_id: str) -> int:
        return self.tick

    def neg_risk(self, token_id: str) -> bool:
        return self.negrisk

    def set(self, book: StubBook) -> None:
        self.books[book.token_id] = book


def opportunity(opp_id: str, legs: Sequence[tuple[str, str, int, int]],
                strategy: Strategy = "complete_set_buy", market_id: str = "0xm1",
                ts: int = T0, cause_seq: int = 1) -> OpportunityDetected:
    """An opportunity with legs given as (token, side, limit price, size)."""
    built = tuple(
        Leg(token_id=t, side=_side(s), limit_price_micros=p, size_micros=n,
            notional_micros=p * n // USD, fee_micros=0, epoch=1)
        for t, s, p, n in legs)
    cost = sum(leg.notional_micros for leg in built)
    size = legs[0][3]
    return OpportunityDetected(
        ts_recv_ns=ts, cause_seq=cause_seq, opp_id=opp_id, strategy=strategy,
        market_id=market_id, legs=built, size_micros=size, cost_micros=cost, fees_micros=0,
        edge_micros=size - cost)


def _side(side: str) -> Side:
    if side not in ("BUY", "SELL"):
        raise ValueError(side)
    return "BUY" if side == "BUY" else "SELL"


def binary(market_id: str = "0xm1", yes: str = "Y1", no: str = "N1", group: str | None = None,
           winner: str | None = None, augmented: bool = False) -> MarketInfo:
    """A two-token market; in a neg-risk group when group is given."""
    return MarketInfo(
        condition_id=market_id, tokens=(TokenInfo(token_id=yes, outcome="Yes"),
                                        TokenInfo(token_id=no, outcome="No")),
        tick_size_micros=10_000, min_order_size_micros=5 * USD, neg_risk=group is not None,
        neg_risk_market_id=group, neg_risk_augmented=augmented, winning_token_id=winner)


def loaded(*markets: MarketInfo, ts: int = T0) -> MarketsLoaded:
    return MarketsLoaded(ts_recv_ns=ts, source="test", markets=markets)


def accepted(cid: str, vid: str, ts: int = T0, making: int | None = None,
             taking: int | None = None) -> OrderAccepted:
    return OrderAccepted(ts_recv_ns=ts, client_order_id=cid, venue_order_id=vid,
                         status="matched", making_amount_micros=making,
                         taking_amount_micros=taking)


def rejected(cid: str, ts: int = T0, reason: str = "FOK orders are filled or killed",
             code: RejectCode = "killed") -> OrderRejected:
    return OrderRejected(ts_recv_ns=ts, client_order_id=cid, reason=reason, reason_code=code)


def trade(tid: str, vid: str, token: str, side: str, price: int, size: int,
          status: str = "MATCHED", ts: int = T0, fee: int = 0) -> TradeUpdated:
    """A TradeUpdated; side and status are checked by msgspec.convert."""
    return msgspec.convert(
        {"kind": "trade_updated", "ts_recv_ns": ts, "trade_id": tid, "venue_order_id": vid,
         "token_id": token, "side": side, "price_micros": price, "size_micros": size,
         "status": status, "fee_micros": fee}, TradeUpdated)


def client_ids(batches: Sequence[PlaceOrders]) -> list[str]:
    return [o.client_order_id for b in batches for o in b.orders]


def fill_order(ex: Execution, ctx: Ctx, cid: str, vid: str, tid: str, price: int | None = None,
               size: int | None = None, ts: int = T0, seq: int = 2) -> None:
    """Accept an order and fill it (fully unless size says otherwise) at its limit."""
    rec = ex.orders.get(cid)
    assert rec is not None
    ex.handle(accepted(cid, vid, ts), ctx, seq)
    ex.handle(trade(tid, vid, rec.token_id, rec.side, price or rec.price_micros,
                    size or rec.size_micros, ts=ts), ctx, seq)
