# Builders for the engine tests: markets, market-channel frames as the shell journals them
# (RawFrame with the verbatim JSON bytes in msgspec.Raw), venue responses, and a Run that feeds
# events through Engine.apply with increasing seq and event time, the way the runtime does.
#
# Rules: no MagicMock, no clock, no randomness here (property tests draw their own choices and
# pass them in). A VenueBooks model keeps each token's book as the venue has it, so every
# price_change carries the correct best_bid/best_ask (the venue's top after the change) unless a
# test asks for a wrong one on purpose.
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import orjson

from polyarb.core.config import EngineConfig
from polyarb.core.engine import Engine
from polyarb.events import encode_event
from polyarb.events.base import Decision, Event, Input
from polyarb.events.decisions import OrderIntent, PlaceOrders
from polyarb.events.inputs import (
    ClockTick,
    FeeSchedule,
    MarketInfo,
    MarketsLoaded,
    OperatorCommand,
    OrderAccepted,
    OrderOutcomeUnknown,
    OrderRejected,
    RawFrame,
    RejectCode,
    TokenInfo,
    TradeUpdated,
)

T0 = 1_766_793_600_000_000_000  # 2025-12-27T00:00:00Z in ns
MS = 1_000_000
SEC = 1_000_000_000
USD = 1_000_000
TICK = 10_000  # 0.01 in micros

Levels = Sequence[tuple[int, int]]


# ---- numbers and markets -------------------------------------------------------------------

def px(micros: int) -> str:
    """Micro-units as the venue's decimal string: 520_000 -> "0.52", 5_000_000 -> "5"."""
    whole, frac = divmod(micros, USD)
    text = f"{frac:06d}".rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


def market(cid: str, yes: str, no: str, *, group: str | None = None, tick: int = TICK,
           min_size: int = 5 * USD, fees: FeeSchedule | None = None,
           augmented: bool = False) -> MarketInfo:
    """A two-token market (outcomes Yes / No); a neg-risk group member when group is given."""
    return MarketInfo(
        condition_id=cid, question=f"question {cid}",
        tokens=(TokenInfo(token_id=yes, outcome="Yes"), TokenInfo(token_id=no, outcome="No")),
        tick_size_micros=tick, min_order_size_micros=min_size, neg_risk=group is not None,
        neg_risk_market_id=group, neg_risk_augmented=augmented,
        fees=FeeSchedule() if fees is None else fees)


def group_markets(group: str, n: int, prefix: str = "g") -> list[MarketInfo]:
    """n markets of one neg-risk group: ids 0x{prefix}01.., YES {prefix}Y1.., NO {prefix}N1.."""
    return [market(f"0x{prefix}{i:02d}", f"{prefix}Y{i}", f"{prefix}N{i}", group=group)
            for i in range(1, n + 1)]


# ---- market-channel frames -----------------------------------------------------------------

def raw_frame(value: Any, ts: int, conn: str = "market-0") -> RawFrame:
    """A JSON value journaled verbatim, as the shell does for a text frame that is JSON."""
    return RawFrame(ts_recv_ns=ts, conn=conn, channel="market",
                    frame=msgspec.Raw(orjson.dumps(value)))


def text_frame(text: str, ts: int, conn: str = "market-0") -> RawFrame:
    """A text frame that is not JSON (PONG, garbage): kept in `text`."""
    return RawFrame(ts_recv_ns=ts, conn=conn, channel="market", text=text)


def book_msg(token: str, bids: Levels, asks: Levels, market_id: str = "",
             tick_size: int | None = None) -> dict[str, Any]:
    """A `book` event in the venue's level order (worst to best on both sides)."""
    msg: dict[str, Any] = {
        "event_type": "book", "asset_id": token, "market": market_id,
        "bids": [{"price": px(p), "size": px(s)} for p, s in sorted(bids)],
        "asks": [{"price": px(p), "size": px(s)} for p, s in sorted(asks, reverse=True)],
        "timestamp": "1766793600000", "hash": "0" * 40,
    }
    if tick_size is not None:
        msg["tick_size"] = px(tick_size)
    return msg


def change_entry(token: str, side: str, price: int, size: int, best_bid: int | None,
                 best_ask: int | None) -> dict[str, str]:
    """One price_changes[] entry (side BUY = bid level, SELL = ask level)."""
    entry = {"asset_id": token, "price": px(price), "size": px(size), "side": side,
             "hash": "1" * 40}
    if best_bid is not None:
        entry["best_bid"] = px(best_bid)
    if best_ask is not None:
        entry["best_ask"] = px(best_ask)
    return entry


def price_change_msg(entries: list[dict[str, str]], market_id: str = "") -> dict[str, Any]:
    return {"event_type": "price_change", "market": market_id, "price_changes": entries,
            "timestamp": "1766793600000"}


def tick_change_msg(token: str, old: int, new: int, market_id: str = "") -> dict[str, Any]:
    return {"event_type": "tick_size_change", "asset_id": token, "market": market_id,
            "old_tick_size": px(old), "new_tick_size": px(new), "timestamp": "1766793600000"}


class VenueBooks:
    """The venue's books as a test scripts them, so price_change entries carry true tops."""

    def __init__(self) -> None:
        self.bids: dict[str, dict[int, int]] = {}
        self.asks: dict[str, dict[int, int]] = {}

    def snapshot(self, token: str, bids: Levels, asks: Levels) -> None:
        self.bids[token] = {p: s for p, s in bids if s}
        self.asks[token] = {p: s for p, s in asks if s}

    def change(self, token: str, side: str, price: int, size: int) -> dict[str, str]:
        levels = (self.bids if side == "BUY" else self.asks).setdefault(token, {})
        if size:
            levels[price] = size
        else:
            levels.pop(price, None)
        bids, asks = self.bids.get(token, {}), self.asks.get(token, {})
        return change_entry(token, side, price, size, max(bids, default=0),
                            min(asks, default=USD))


# ---- venue responses -----------------------------------------------------------------------

def venue_id(cid: str) -> str:
    return f"0xv-{cid}"


def accepted(cid: str, ts: int, *, status: str = "matched", vid: str | None = None,
             making: int | None = None, taking: int | None = None) -> OrderAccepted:
    return OrderAccepted(ts_recv_ns=ts, client_order_id=cid,
                         venue_order_id=venue_id(cid) if vid is None else vid, status=status,
                         making_amount_micros=making, taking_amount_micros=taking)


def rejected(cid: str, ts: int, reason: str = "order couldn't be fully filled. FOK orders are "
             "fully filled or killed.", *, code: RejectCode = "other",
             status: int | None = 400) -> OrderRejected:
    """An OrderRejected. The default code is `other` (counted) whatever the text: the golden
    streams were recorded with it, and the core reads only the code."""
    return OrderRejected(ts_recv_ns=ts, client_order_id=cid, reason=reason, http_status=status,
                         reason_code=code)


def unknown(cid: str, ts: int, reason: str = "timeout after 10s", *,
            vid: str | None = None) -> OrderOutcomeUnknown:
    return OrderOutcomeUnknown(ts_recv_ns=ts, client_order_id=cid, reason=reason,
                               venue_order_id=vid)


def trade(intent: OrderIntent, ts: int, *, tid: str | None = None, size: int | None = None,
          price: int | None = None, fee: int = 0, status: str = "MATCHED",
          vid: str | None = None) -> TradeUpdated:
    """Our fill of an order at its limit (or `price`), for its full size (or `size`)."""
    return msgspec.convert({
        "kind": "trade_updated", "ts_recv_ns": ts,
        "trade_id": tid or f"t-{intent.client_order_id}",
        "venue_order_id": vid or venue_id(intent.client_order_id), "token_id": intent.token_id,
        "side": intent.side,
        "price_micros": intent.price_micros if price is None else price,
        "size_micros": intent.size_micros if size is None else size,
        "status": status, "fee_micros": fee}, TradeUpdated)


# ---- feeding the engine --------------------------------------------------------------------

def kinds(decisions: Iterable[Event]) -> list[str]:
    """The `kind` tags of some events, in order."""
    return [type(d).__struct_config__.tag for d in decisions]  # type: ignore[misc]


def of(decisions: Iterable[Event], cls: type[Any]) -> list[Any]:
    """The events of one class, in order."""
    return [d for d in decisions if type(d) is cls]


def encoded(decisions: Iterable[Event]) -> bytes:
    """Canonical bytes of a decision stream: one encode_event line per decision."""
    return b"".join(encode_event(d) + b"\n" for d in decisions)


class Run:
    """Feeds inputs through one Engine with increasing seq and event time (1 ms apart).

    Every input and every decision is kept (`inputs`, `decisions`) so a test can replay them.
    """

    def __init__(self, config: EngineConfig | None = None, *, ts: int = T0) -> None:
        self.engine = Engine(config)
        self.seq = 0
        self.now = ts
        self.venue = VenueBooks()
        self.inputs: list[tuple[int, Input]] = []
        self.decisions: list[Decision] = []

    def next_ts(self, advance_ns: int = MS) -> int:
        self.now += advance_ns
        return self.now

    def feed(self, event: Input) -> list[Decision]:
        """Journal one input (next seq) and fold it; returns its decisions."""
        self.seq += 1
        self.inputs.append((self.seq, event))
        out = self.engine.apply(self.seq, event)
        self.decisions.extend(out)
        return out

    # market data
    def load(self, *markets: MarketInfo) -> list[Decision]:
        return self.feed(MarketsLoaded(ts_recv_ns=self.next_ts(), source="test",
                                       markets=tuple(markets)))

    def send(self, value: Any) -> list[Decision]:
        return self.feed(raw_frame(value, self.next_ts()))

    def book(self, token: str, bids: Levels, asks: Levels, market_id: str = "") -> list[Decision]:
        self.venue.snapshot(token, bids, asks)
        return self.send(book_msg(token, bids, asks, market_id))

    def change(self, *changes: tuple[str, str, int, int]) -> list[Decision]:
        """One price_change frame of (token, side, price, size) entries with true tops."""
        return self.send(price_change_msg([self.venue.change(*c) for c in changes]))

    def clock(self, advance_ns: int = SEC) -> list[Decision]:
        return self.feed(ClockTick(ts_recv_ns=self.next_ts(advance_ns)))

    def operator(self, command: str, reason: str = "") -> list[Decision]:
        return self.feed(msgspec.convert(
            {"kind": "operator_command", "ts_recv_ns": self.next_ts(), "command": command,
             "reason": reason}, OperatorCommand))

    # venue responses
    def accept(self, intent: OrderIntent, **kw: Any) -> list[Decision]:
        return self.feed(accepted(intent.client_order_id, self.next_ts(), **kw))

    def fill(self, intent: OrderIntent, **kw: Any) -> list[Decision]:
        return self.feed(trade(intent, self.next_ts(), **kw))

    def reject(self, intent: OrderIntent, **kw: Any) -> list[Decision]:
        return self.feed(rejected(intent.client_order_id, self.next_ts(), **kw))

    def unknown(self, intent: OrderIntent, **kw: Any) -> list[Decision]:
        return self.feed(unknown(intent.client_order_id, self.next_ts(), **kw))

    def fill_all(self, batches: Iterable[PlaceOrders]) -> list[Decision]:
        """Accept and fully fill every order of some batches, in order."""
        out: list[Decision] = []
        for batch in batches:
            for intent in batch.orders:
                out += self.accept(intent)
                out += self.fill(intent)
        return out


def replay(inputs: Iterable[tuple[int, Input]], config: EngineConfig | None = None,
           engine: Engine | None = None) -> tuple[Engine, list[Decision]]:
    """Fold (seq, input) pairs through an engine (a fresh one unless given)."""
    eng = Engine(config) if engine is None else engine
    out: list[Decision] = []
    for seq, event in inputs:
        out.extend(eng.apply(seq, event))
    return eng, out
