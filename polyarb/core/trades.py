# Trades: our fills and their on-chain settlement, deduplicated, per trade id and per venue order.
#
# Rules:
# 1. Dedupe by (trade_id, status): the same pair twice is a duplicate, counted and ignored.
# 2. The first non-FAILED status of a trade id creates the fill, whatever its word: a lost MATCHED
#    must not lose the fill. MINED/CONFIRMED advance settlement, RETRYING is noted, a lower
#    status after a higher one is out of order (ignored).
# 3. FAILED voids the fill once. CONFIRMED and FAILED are terminal: any later status is ignored.
#    A trade first seen as FAILED books nothing.
# 4. Fills are summed per venue order id (shares, and exact cost as price_micros * size_micros),
#    over non-voided trades only: that is what an order "filled" means in orders.py.
# 5. Trades are never forgotten: forgetting one would let a late duplicate book it twice.
from __future__ import annotations

from typing import Any, Literal

import msgspec

from polyarb.events.inputs import SettlementStatus, Side, TradeUpdated

__all__ = ["TradeRecord", "TradeVerdict", "Trades", "invalid_trade"]

_RANK: dict[str, int] = {"MATCHED": 0, "MINED": 1, "RETRYING": 1, "CONFIRMED": 2}


class TradeRecord(msgspec.Struct, kw_only=True):
    """One trade (fill) on one of our orders, with its settlement status."""

    trade_id: str
    venue_order_id: str
    token_id: str
    side: Side
    price_micros: int
    size_micros: int
    fee_micros: int
    ts_ns: int
    status: SettlementStatus
    seen: list[str]  # every status word seen, sorted
    voided: bool = False  # FAILED after a fill: reversed
    booked: bool = False  # created a fill (False: first seen as FAILED)


class VenueFill(msgspec.Struct, kw_only=True):
    """Non-voided fills on one venue order id: shares and exact cost (price*size, 1e-12 $)."""

    size_micros: int = 0
    cost_pico: int = 0


class TradeVerdict(msgspec.Struct, frozen=True):
    """What one trade event did: fill, void, settlement or ignored (with a counter name)."""

    kind: Literal["fill", "void", "settlement", "ignored"]
    detail: str
    counter: str = ""


class _State(msgspec.Struct, kw_only=True):
    trades: dict[str, TradeRecord] = msgspec.field(default_factory=dict)
    fills: dict[str, VenueFill] = msgspec.field(default_factory=dict)  # by venue order id


class Trades:
    """Every trade of the run. snapshot()/restore() for the state hash."""

    def __init__(self) -> None:
        self._s = _State()

    def record(self, ev: TradeUpdated) -> TradeVerdict:
        """Apply one trade event (rules 1-4). The event must pass invalid_trade()."""
        rec = self._s.trades.get(ev.trade_id)
        if rec is None:
            return self._new(ev)
        if ev.status in rec.seen:
            return TradeVerdict("ignored", f"duplicate {ev.status}", "duplicate_trade")
        rec.seen = sorted([*rec.seen, ev.status])
        if rec.voided:
            return TradeVerdict("ignored", f"{ev.status} after FAILED", "after_failed")
        if rec.status == "CONFIRMED":
            return TradeVerdict("ignored", f"{ev.status} after CONFIRMED", "after_confirmed")
        if ev.status == "FAILED":
            self._void(rec)
            return TradeVerdict("void", "FAILED")
        if _RANK[ev.status] < _RANK[rec.status]:
            return TradeVerdict("ignored", f"{ev.status} after {rec.status}",
                                "out_of_order_trade")
        rec.status = ev.status
        return TradeVerdict("settlement", ev.status)

    def get(self, trade_id: str) -> TradeRecord | None:
        """The trade with this id, or None."""
        return self._s.trades.get(trade_id)

    def all(self) -> list[TradeRecord]:
        """Every trade seen (voided ones included), by trade id."""
        return [self._s.trades[t] for t in sorted(self._s.trades)]

    def filled(self, venue_order_id: str) -> VenueFill:
        """Non-voided fills of one venue order id (zero when none)."""
        fill = self._s.fills.get(venue_order_id) if venue_order_id else None
        return VenueFill() if fill is None else fill

    def snapshot(self) -> dict[str, Any]:
        """The whole state as canonical JSON-able data (sorted keys)."""
        data: dict[str, Any] = msgspec.to_builtins(self._s, order="sorted")
        return data

    def restore(self, data: dict[str, Any]) -> None:
        """Replace the state with snapshot() output.

        Raises:
            msgspec.ValidationError: data is not a trades snapshot.
        """
        self._s = msgspec.convert(data, _State)

    def _new(self, ev: TradeUpdated) -> TradeVerdict:
        booked = ev.status != "FAILED"
        self._s.trades[ev.trade_id] = TradeRecord(
            trade_id=ev.trade_id, venue_order_id=ev.venue_order_id, token_id=ev.token_id,
            side=ev.side, price_micros=ev.price_micros, size_micros=ev.size_micros,
            fee_micros=ev.fee_micros, ts_ns=ev.ts_recv_ns, status=ev.status, seen=[ev.status],
            voided=not booked, booked=booked)
        if not booked:
            return TradeVerdict("settlement", "FAILED before fill")
        fill = self._s.fills.setdefault(ev.venue_order_id, VenueFill())
        fill.size_micros += ev.size_micros
        fill.cost_pico += ev.price_micros * ev.size_micros
        return TradeVerdict("fill", ev.status)

    def _void(self, rec: TradeRecord) -> None:
        rec.voided, rec.status = True, "FAILED"
        fill = self._s.fills[rec.venue_order_id]
        fill.size_micros -= rec.size_micros
        fill.cost_pico -= rec.price_micros * rec.size_micros


def invalid_trade(ev: TradeUpdated) -> str:
    """Why a trade event cannot be booked, or "" when it is fine."""
    if ev.size_micros <= 0:
        return "trade size must be > 0"
    if not 0 < ev.price_micros <= 1_000_000:
        return "trade price must be in (0, 1]"
    if ev.fee_micros < 0 or (ev.side == "BUY" and ev.fee_micros > ev.size_micros):
        return "trade fee out of range"
    return ""
