# Fast path of polyarb.core.wire: a strict msgspec schema for the common event shapes, decoded
# straight into structs (no dicts), then converted to the same messages as the lenient path.
#
# Rules:
# 1. The lenient orjson path in wire.py/wire_book.py is the reference semantics. This module
#    only ever produces what that path would produce for the same frame; whenever anything is
#    unusual (a shape outside the schema, an unknown or rare event type, a bad number, an empty
#    id) it gives up (returns None) and the caller re-parses the frame leniently. It never
#    rejects anything itself and never raises.
# 2. Covered: `book`, current-format `price_change`, `last_trade_price`, `best_bid_ask`,
#    `tick_size_change`, alone or in arrays. Everything else takes the lenient path.
# 3. Why it exists: the bench (bench/bench_core_parse.py) showed decoding into msgspec structs
#    plus attribute access is clearly cheaper than orjson.loads plus dict lookups, and parse
#    cost dominates the reducer. tests/core/test_wire.py checks both paths agree.
from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from polyarb.core import numbers as _num
from polyarb.core.numbers import venue_ts_ns
from polyarb.core.wire_types import (
    BestBidAsk,
    BookSnapshot,
    Change,
    LastTradePrice,
    Level,
    PriceChange,
    TickSizeChange,
    WireMessage,
)

_LEVEL_PRICE_GET = _num.LEVEL_PRICES.get
_QUOTE_PRICE_GET = _num.QUOTE_PRICES.get
_SIZE_GET = _num.SIZES.get
_level_price = _num.level_price_micros
_quote_price = _num.quote_price_micros
_size = _num.size_miss  # only called after a SIZES miss
_IS_BID_GET = {"BUY": True, "SELL": False, "buy": True, "sell": False}.get
_SIDE_GET = {"BUY": "BUY", "SELL": "SELL", "buy": "BUY", "sell": "SELL"}.get

Ts = str | int | None


class _Level(msgspec.Struct, gc=False):
    price: str
    size: str


class _Book(msgspec.Struct, tag_field="event_type", tag="book", gc=False):
    asset_id: str
    bids: list[_Level] | UnsetType | None = UNSET  # UNSET: maybe the legacy `buys` name
    asks: list[_Level] | UnsetType | None = UNSET
    market: str | None = None
    timestamp: Ts = None
    hash: str | None = None
    tick_size: str | None = None


class _Entry(msgspec.Struct, gc=False):
    asset_id: str
    price: str
    size: str
    side: str
    best_bid: str | None = None
    best_ask: str | None = None


class _PriceChange(msgspec.Struct, tag_field="event_type", tag="price_change", gc=False):
    price_changes: list[_Entry]  # the legacy format (root asset_id + changes) is not covered
    market: str | None = None
    timestamp: Ts = None


class _LastTrade(msgspec.Struct, tag_field="event_type", tag="last_trade_price", gc=False):
    asset_id: str
    price: str
    size: str | None = None
    side: str | None = None
    fee_rate_bps: str | int | None = None
    market: str | None = None
    timestamp: Ts = None


class _BestBidAsk(msgspec.Struct, tag_field="event_type", tag="best_bid_ask", gc=False):
    asset_id: str
    best_bid: str | None = None
    best_ask: str | None = None
    market: str | None = None
    timestamp: Ts = None


class _TickSize(msgspec.Struct, tag_field="event_type", tag="tick_size_change", gc=False):
    asset_id: str
    new_tick_size: str
    old_tick_size: str | None = None
    market: str | None = None
    timestamp: Ts = None


_Event = _PriceChange | _Book | _BestBidAsk | _LastTrade | _TickSize
_DECODE = msgspec.json.Decoder(_Event | list[_Event]).decode


class _GiveUp(Exception):
    pass


def parse_fast(source: Any) -> list[WireMessage] | None:
    """Decode a frame with the strict schema; None means "use the lenient path"."""
    try:
        data = _DECODE(source)
        if type(data) is list:
            return [_CONVERT[type(event)](event) for event in data]
        return [_CONVERT[type(data)](data)]
    except Exception:  # anything unusual: the lenient path decides (and never raises)
        return None


def _levels(raw: list[_Level] | UnsetType | None) -> tuple[Level, ...]:
    if raw is None:
        return ()
    if raw is UNSET:
        raise _GiveUp
    price_get, size_get = _LEVEL_PRICE_GET, _SIZE_GET
    out: list[Level] = []
    append = out.append
    for level in raw:
        price = price_get(level.price)
        if price is None:
            price = _level_price(level.price)
        size = size_get(level.size)
        if size is None:
            size = _size(level.size)
        if size:
            append((price, size))
    return tuple(out)


def _book(m: _Book) -> BookSnapshot:
    if not m.asset_id:
        raise _GiveUp
    tick = m.tick_size
    return BookSnapshot(
        m.asset_id,
        m.market or "",
        _levels(m.bids),
        _levels(m.asks),
        venue_ts_ns(m.timestamp),
        m.hash or "",
        None if not tick else _level_price(tick),
    )


def _quote(text: str) -> int | None:
    return None if text == "" else _quote_price(text)


def _price_change(m: _PriceChange) -> PriceChange:
    price_get, quote_get, size_get, is_bid_get = (
        _LEVEL_PRICE_GET, _QUOTE_PRICE_GET, _SIZE_GET, _IS_BID_GET
    )  # fmt: skip
    out: list[Change] = []
    append = out.append
    for e in m.price_changes:
        token = e.asset_id
        price = price_get(e.price)
        if price is None:
            price = _level_price(e.price)
        size = size_get(e.size)
        if size is None:
            size = _size(e.size)
        is_bid = is_bid_get(e.side)
        if is_bid is None or not token:
            raise _GiveUp
        best_bid: int | None = None
        if e.best_bid is not None:
            best_bid = quote_get(e.best_bid)
            if best_bid is None:
                best_bid = _quote(e.best_bid)
        best_ask: int | None = None
        if e.best_ask is not None:
            best_ask = quote_get(e.best_ask)
            if best_ask is None:
                best_ask = _quote(e.best_ask)
        append((token, is_bid, price, size, best_bid, best_ask))
    return PriceChange(m.market or "", tuple(out), venue_ts_ns(m.timestamp))


def _opt_quote(text: str | None) -> int | None:
    return None if text is None or text == "" else _quote_price(text)


def _best_bid_ask(m: _BestBidAsk) -> BestBidAsk:
    if not m.asset_id:
        raise _GiveUp
    return BestBidAsk(
        m.asset_id,
        m.market or "",
        _opt_quote(m.best_bid),
        _opt_quote(m.best_ask),
        venue_ts_ns(m.timestamp),
    )


def _last_trade(m: _LastTrade) -> LastTradePrice:
    side = None if m.side is None else _SIDE_GET(m.side)
    fee = m.fee_rate_bps
    if not m.asset_id or (m.side is not None and side is None):
        raise _GiveUp
    return LastTradePrice(
        m.asset_id,
        m.market or "",
        _level_price(m.price),
        None if not m.size else _num.size_micros(m.size),
        side,  # type: ignore[arg-type]
        None if fee is None or fee == "" else _fee(fee),
        venue_ts_ns(m.timestamp),
    )


def _fee(fee: str | int) -> int:
    if type(fee) is int:
        if fee < 0:
            raise _GiveUp
        return fee
    if not (type(fee) is str and fee.isascii() and fee.isdigit() and len(fee) <= 18):
        raise _GiveUp
    return int(fee)


def _tick_size(m: _TickSize) -> TickSizeChange:
    if not m.asset_id:
        raise _GiveUp
    old = m.old_tick_size
    return TickSizeChange(
        m.asset_id,
        m.market or "",
        None if not old else _level_price(old),
        _level_price(m.new_tick_size),
        venue_ts_ns(m.timestamp),
    )


_CONVERT: dict[type, Any] = {
    _PriceChange: _price_change,
    _Book: _book,
    _BestBidAsk: _best_bid_ask,
    _LastTrade: _last_trade,
    _TickSize: _tick_size,
}
