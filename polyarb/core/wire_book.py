# Hot-path parsing of the two book-changing market-channel events: `book` and `price_change`.
# Part of polyarb.core.wire (see its rules); split out because it is written for speed.
#
# Rules:
# 1. Each function takes one decoded JSON object and returns one message, or raises
#    BadElement/NumberError (reason given), KeyError (missing field) or TypeError/
#    AttributeError (a value of the wrong shape). The caller turns these into a reject.
# 2. Speed: cache lookups are bound to module globals and called inline; the numbers module is
#    called only on a miss. Levels and changes are tuples. No per-level objects, no Decimal.
# 3. Level order in a `book` is the venue's (worst to best, not trusted by the book); levels with
#    size 0 are dropped; a duplicated price is kept as sent (the book keeps the last one).
from __future__ import annotations

from typing import Any

from polyarb.core import numbers as _num
from polyarb.core.numbers import show, venue_ts_ns
from polyarb.core.wire_types import BookSnapshot, Change, Level, PriceChange

_LEVEL_PRICE_GET = _num.LEVEL_PRICES.get
_QUOTE_PRICE_GET = _num.QUOTE_PRICES.get
_SIZE_GET = _num.SIZES.get
_level_price = _num.level_price_micros
_quote_price = _num.quote_price_micros
_size = _num.size_miss  # only called after a SIZES miss
_IS_BID_GET = {"BUY": True, "SELL": False, "buy": True, "sell": False}.get


class BadElement(ValueError):
    """A malformed element; `args[0]` is the reason."""


def token_of(d: dict[str, Any]) -> str:
    """Return the element's `asset_id`, which must be a non-empty string."""
    token = d["asset_id"]
    if type(token) is not str or not token:
        raise BadElement(f"bad asset_id: {show(token)}")
    return token


def opt_str(d: dict[str, Any], key: str) -> str:
    """Return an optional string field ("" when missing or null; ints become strings)."""
    value = d.get(key)
    if value is None:
        return ""
    if type(value) is int:  # ids are sometimes numbers
        return str(value)
    if type(value) is not str:
        raise BadElement(f"{key} is not a string: {show(value)}")
    return value


def _side(d: dict[str, Any], key: str, alias: str) -> list[Any]:
    if key in d:
        raw = d[key]
    elif alias in d:  # very old docs name the arrays buys/sells
        raw = d[alias]
    else:
        raise KeyError(key)
    if raw is None:  # a Go nil slice: an empty side
        return []
    if type(raw) is not list:
        raise BadElement(f"{key} is not a list: {show(raw)}")
    return raw


def _levels(raw: list[Any]) -> tuple[Level, ...]:
    price_get = _LEVEL_PRICE_GET
    size_get = _SIZE_GET
    out: list[Level] = []
    append = out.append
    for level in raw:
        price_text = level["price"]
        size_text = level["size"]
        price = price_get(price_text)
        if price is None:
            price = _level_price(price_text)
        size = size_get(size_text)
        if size is None:
            size = _size(size_text)
        if size:
            append((price, size))
    return tuple(out)


def parse_book(d: dict[str, Any]) -> BookSnapshot:
    """Parse a `book` event (full snapshot of one token's book)."""
    tick = d.get("tick_size")
    return BookSnapshot(
        token_of(d),
        opt_str(d, "market"),
        _levels(_side(d, "bids", "buys")),
        _levels(_side(d, "asks", "sells")),
        venue_ts_ns(d.get("timestamp")),
        opt_str(d, "hash"),
        None if tick is None or tick == "" else _level_price(tick),
    )


def _quote(value: Any) -> int | None:
    # Only reached on a cache miss; "" is tolerated as "not sent".
    return None if value == "" else _quote_price(value)


def parse_price_change(d: dict[str, Any]) -> PriceChange:
    """Parse a `price_change` event, current (`price_changes[]`) or legacy (`changes[]`)."""
    entries = d.get("price_changes")
    if entries is None:
        return _parse_legacy(d)
    if type(entries) is not list:
        raise BadElement(f"price_changes is not a list: {show(entries)}")
    price_get, quote_get, size_get, is_bid_get = (
        _LEVEL_PRICE_GET, _QUOTE_PRICE_GET, _SIZE_GET, _IS_BID_GET
    )
    out: list[Change] = []
    append = out.append
    for e in entries:
        token = e["asset_id"]
        if type(token) is not str or not token:
            raise BadElement(f"bad asset_id: {show(token)}")
        price_text = e["price"]
        price = price_get(price_text)
        if price is None:
            price = _level_price(price_text)
        size_text = e["size"]
        size = size_get(size_text)
        if size is None:
            size = _size(size_text)
        is_bid = is_bid_get(e["side"])
        if is_bid is None:
            raise BadElement(f"bad side: {show(e['side'])}")
        best_bid = e.get("best_bid")
        if best_bid is not None:
            quote = quote_get(best_bid)
            best_bid = quote if quote is not None else _quote(best_bid)
        best_ask = e.get("best_ask")
        if best_ask is not None:
            quote = quote_get(best_ask)
            best_ask = quote if quote is not None else _quote(best_ask)
        append((token, is_bid, price, size, best_bid, best_ask))
    return PriceChange(opt_str(d, "market"), tuple(out), venue_ts_ns(d.get("timestamp")))


def _parse_legacy(d: dict[str, Any]) -> PriceChange:
    if "changes" not in d:  # neither format: name the current one
        raise KeyError("price_changes")
    token = token_of(d)
    changes = d["changes"]
    if type(changes) is not list:
        raise BadElement(f"changes is not a list: {show(changes)}")
    out: list[Change] = []
    for e in changes:
        is_bid = _IS_BID_GET(e["side"])
        if is_bid is None:
            raise BadElement(f"bad side: {show(e['side'])}")
        price = _level_price(e["price"])
        out.append((token, is_bid, price, _num.size_micros(e["size"]), None, None))
    return PriceChange(opt_str(d, "market"), tuple(out), venue_ts_ns(d.get("timestamp")), True)
