# The current book of one token rendered as the venue renders it: the `GET /book` summary and
# the market channel's `book` message, as plain dicts ready for orjson.
#
# Rules:
# 1. Strings for every price and size (format_micros: "0.52", "200", "219.217767"); the
#    timestamp is milliseconds as a string.
# 2. Level order like the real venue: bids ascending and asks descending, so the best price of
#    each side is LAST (protocol reference §1.6).
# 3. The NO token's book is the mirror of the market's YES-space book (polyarb/sim/matching.py):
#    NO bids are 1 - YES asks, NO asks are 1 - YES bids, sizes unchanged.
# 4. `hash` is the venue's summary hash (§3.4): SHA-1 hex of the compact JSON of the summary
#    with keys market, asset_id, timestamp, hash (""), bids, asks, min_order_size, tick_size,
#    neg_risk, last_trade_price, in that order. The `book` message carries the same hash.
# 5. last_trade_price is "0.5" before any trade, as GET /last-trade-price answers then.
from __future__ import annotations

import hashlib
from typing import Any

import orjson

from polyarb.core.numbers import format_micros
from polyarb.sim.model import MICROS, Market

Levels = list[dict[str, str]]
_NO_TRADE = "0.5"
_PRICE_TEXT: dict[int, str] = {}


def _price(micros: int) -> str:
    text = _PRICE_TEXT.get(micros)
    if text is None:
        text = _PRICE_TEXT[micros] = format_micros(micros)
    return text


def token_levels(market: Market, token_id: str) -> tuple[Levels, Levels]:
    """(bids ascending, asks descending) of one token: best price last on both sides."""
    book = market.book
    if token_id == market.yes_token:
        bids = [(p, book.bids[p].total) for p in book.bid_prices]
        asks = [(p, book.asks[p].total) for p in reversed(book.ask_prices)]
    else:
        bids = [(MICROS - p, book.asks[p].total) for p in reversed(book.ask_prices)]
        asks = [(MICROS - p, book.bids[p].total) for p in book.bid_prices]
    return (
        [{"price": _price(p), "size": format_micros(s)} for p, s in bids],
        [{"price": _price(p), "size": format_micros(s)} for p, s in asks],
    )


def book_summary(market: Market, token_id: str, now_ns: int,
                 last_trade_micros: int | None) -> dict[str, Any]:
    """The GET /book response for one of the market's tokens (rules 1-5)."""
    bids, asks = token_levels(market, token_id)
    summary: dict[str, Any] = {
        "market": market.condition_id,
        "asset_id": token_id,
        "timestamp": str(now_ns // 1_000_000),
        "hash": "",
        "bids": bids,
        "asks": asks,
        "min_order_size": format_micros(market.min_size_micros),
        "tick_size": _price(market.tick_micros),
        "neg_risk": market.neg_risk,
        "last_trade_price": _NO_TRADE if last_trade_micros is None else _price(last_trade_micros),
    }
    summary["hash"] = hashlib.sha1(orjson.dumps(summary)).hexdigest()
    return summary


def book_message(market: Market, token_id: str, now_ns: int,
                 last_trade_micros: int | None) -> dict[str, Any]:
    """The market channel `book` message for one token (same levels and hash as /book)."""
    s = book_summary(market, token_id, now_ns, last_trade_micros)
    return {
        "event_type": "book", "asset_id": token_id, "market": s["market"],
        "bids": s["bids"], "asks": s["asks"], "timestamp": s["timestamp"], "hash": s["hash"],
    }
