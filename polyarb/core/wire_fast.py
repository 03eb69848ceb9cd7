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
# 4. The fused path (MarketData.apply_raw) uses `strict_decode`, `changes_of` and
#    `prepare_books` directly and skips the message objects; they follow rule 1: all-or-nothing,
#    any doubt raises and the caller takes the reference path before anything was mutated.
#    tests/core/test_hotpath.py checks the fused path against parse_frame + apply_frame.
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from polyarb.core import numbers as _num
from polyarb.core.book import Book
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

_LEVEL_PRICES = _num.LEVEL_PRICES
_QUOTE_PRICES = _num.QUOTE_PRICES
_SIZE_GET = _num.SIZES.get
_level_price = _num.level_price_micros
_quote_price = _num.quote_price_micros
_size = _num.size_miss  # only called after a SIZES miss
_SCALE = (1_000_000, 100_000, 10_000, 1_000, 100, 10, 1)  # micros per unit, by decimals
_IS_BID = {"BUY": True, "SELL": False, "buy": True, "sell": False}
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
strict_decode = msgspec.json.Decoder(_Event | list[_Event]).decode
"""Decode a frame with the strict schema (a wire struct or a list of them); raises otherwise."""
_DECODE = strict_decode


class _GiveUp(Exception):
    pass


WirePriceChange = _PriceChange
WireBook = _Book


def decode(source: Any) -> Any:
    """Decode a frame with the strict schema: a wire struct, a list of them, or None (declined).

    `source` is bytes or any buffer (msgspec.Raw, memoryview); decoding never raises.
    """
    try:
        return _DECODE(source)
    except Exception:  # anything unusual: the lenient path decides (and never raises)
        return None


def messages_of(data: Any) -> list[WireMessage] | None:
    """The messages of a decoded frame (see `decode`); None means "use the lenient path"."""
    try:
        if type(data) is list:
            return [_CONVERT[type(event)](event) for event in data]
        return [_CONVERT[type(data)](data)]
    except Exception:  # a value the strict path does not vouch for
        return None


def parse_fast(source: Any) -> list[WireMessage] | None:
    """Decode a frame with the strict schema; None means "use the lenient path"."""
    data = decode(source)
    return None if data is None else messages_of(data)


def _levels(raw: list[_Level] | UnsetType | None) -> tuple[Level, ...]:
    if raw is None:
        return ()
    if raw is UNSET:
        raise _GiveUp
    size_get = _SIZE_GET
    out: list[Level] = []
    append = out.append
    for level in raw:
        try:
            price = _LEVEL_PRICES[level.price]
        except KeyError:
            price = _level_price(level.price)
        size = size_get(level.size)
        if size is None:
            size = _size(level.size)
        if size:
            append((price, size))
    return tuple(out)


def level_map(raw: list[_Level] | UnsetType | None, memo: dict[str, int]) -> dict[int, int]:
    """One side of a decoded `book` as a dict price -> size: zeros dropped, the last repeat wins.

    Exactly `dict(levels)` of what the message path builds; raises on anything unusual.
    `memo` is the book's own size cache (text -> micros, see Book.size_memo): a snapshot mostly
    repeats the sizes of the last one, and with thousands of books the shared cache cannot
    hold them all, while this small dict can.
    """
    if raw is None:
        return {}
    if raw is UNSET:
        raise _GiveUp
    out: dict[int, int] = {}
    memo_get = memo.get
    for level in raw:
        try:
            price = _LEVEL_PRICES[level.price]
        except KeyError:
            price = _level_price(level.price)
        text = level.size
        size = memo_get(text)
        if size is None:
            size = _SIZE_GET(text)
            if size is None:
                size = _snapshot_size(text)
            memo[text] = size
        if size:
            out[price] = size
    return out


def _snapshot_size(text: str) -> int:
    """numbers.size_miss for a snapshot's size, minus the shared cache insert.

    A snapshot's sizes go to the book's own memo (level_map), so filling SIZES with them too
    would only evict the price_change sizes it exists for. The venue's usual forms ("200",
    "219.217767") are converted here, exactly as size_miss does; anything else goes to it.
    """
    whole, _, frac = text.partition(".")
    digits = whole + frac
    if whole and len(frac) <= 6 and len(text) <= 18 and digits.isdigit() and text.isascii():
        return int(digits) * _SCALE[len(frac)]
    return _size(text)


PreparedBook = tuple[str, dict[int, int], dict[int, int], int | None, int | None, dict[str, int]]
"""A converted `book` event: token, bids, asks, venue time, tick size, the book's size memo."""


def prepare_books(events: list[_Book], books: Mapping[str, Book]) -> list[PreparedBook]:
    """Convert decoded `book` events (before any is installed); raises on anything unusual.

    Each uses its book's size memo (a new one for a book not created yet), cleared first once
    it holds far more texts than the snapshot has levels (stale texts of levels long gone).
    """
    out: list[PreparedBook] = []
    for m in events:
        book = books.get(m.asset_id)
        memo: dict[str, int] = {} if book is None else book.size_memo
        if len(memo) > 2 * (len(m.bids or ()) + len(m.asks or ())) + 16:
            memo.clear()
        out.append((m.asset_id, level_map(m.bids, memo), level_map(m.asks, memo),
                    venue_ts_ns(m.timestamp), book_tick(m), memo))
    return out


def book_tick(m: _Book) -> int | None:
    """A decoded `book`'s tick size in micros, or None; raises on anything unusual."""
    if not m.asset_id:
        raise _GiveUp
    tick = m.tick_size
    return None if not tick else _level_price(tick)


def _book(m: _Book) -> BookSnapshot:
    tick = book_tick(m)
    return BookSnapshot(
        m.asset_id,
        m.market or "",
        _levels(m.bids),
        _levels(m.asks),
        venue_ts_ns(m.timestamp),
        m.hash or "",
        tick,
    )


def _quote(text: str) -> int | None:
    return None if text == "" else _quote_price(text)


def changes_of(m: _PriceChange) -> list[Change]:
    """The entries of a decoded `price_change` as Change tuples; raises on anything unusual.

    Prices, quotes and sides almost always hit their caches, so they are subscripted (a miss
    raises KeyError, which costs nothing until it happens); sizes miss often, so `.get`.
    """
    out: list[Change] = []
    for e in m.price_changes:
        token = e.asset_id
        try:
            price = _LEVEL_PRICES[e.price]
        except KeyError:
            price = _level_price(e.price)
        size = _SIZE_GET(e.size)
        if size is None:
            size = _size(e.size)
        is_bid = _IS_BID[e.side]  # an unknown side: KeyError, the lenient path rejects it
        if not token:
            raise _GiveUp
        best_bid: int | None = None
        if (text := e.best_bid) is not None:
            try:
                best_bid = _QUOTE_PRICES[text]
            except KeyError:
                best_bid = _quote(text)
        best_ask: int | None = None
        if (text := e.best_ask) is not None:
            try:
                best_ask = _QUOTE_PRICES[text]
            except KeyError:
                best_ask = _quote(text)
        out.append((token, is_bid, price, size, best_bid, best_ask))
    return out


def _price_change(m: _PriceChange) -> PriceChange:
    return PriceChange(m.market or "", tuple(changes_of(m)), venue_ts_ns(m.timestamp))


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
