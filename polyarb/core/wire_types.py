# Typed internal messages produced by polyarb.core.wire from market-channel frames.
#
# Rules:
# 1. Messages are frozen, tagged msgspec Structs with positional fields (the parser builds
#    them positionally on the hot path; keep field order stable). They are internal: they are
#    never journaled (the raw frame is), so changing them needs no schema version.
# 2. Prices and sizes are int micro-units; `ts_venue_ns` is the venue's timestamp converted to
#    nanoseconds, or None when the venue sent none. Token and condition ids are str.
# 3. Book levels and price changes are plain tuples, not objects: a frame can carry hundreds.
from __future__ import annotations

from typing import Literal

import msgspec

Level = tuple[int, int]
"""(price_micros, size_micros) of one book level."""

Change = tuple[str, bool, int, int, int | None, int | None]
"""One price_change entry: (token_id, is_bid, price_micros, size_micros, best_bid, best_ask).

`size_micros` is the new absolute size at that price (0 deletes the level). `best_bid` and
`best_ask` are the venue's top of book after the change, in micros, where 0 (bid) and 1_000_000
(ask) mean that side is empty; None when the venue did not send them (legacy format).
"""


class _Msg(msgspec.Struct, frozen=True, gc=False, tag=True):
    pass


class BookSnapshot(_Msg, frozen=True, gc=False):
    """A `book` event: the full book of one token. Levels in the venue's order, zeros dropped."""

    token_id: str
    market: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    ts_venue_ns: int | None
    hash: str = ""
    tick_size_micros: int | None = None


class PriceChange(_Msg, frozen=True, gc=False):
    """A `price_change` event (current or legacy format): absolute level sizes."""

    market: str
    changes: tuple[Change, ...]
    ts_venue_ns: int | None
    legacy: bool = False


class TickSizeChange(_Msg, frozen=True, gc=False):
    """A `tick_size_change` event. The engine updates the market registry from it."""

    token_id: str
    market: str
    old_tick_micros: int | None
    new_tick_micros: int
    ts_venue_ns: int | None


class LastTradePrice(_Msg, frozen=True, gc=False):
    """A `last_trade_price` event. `side` is the taker's; optional fields may be None."""

    token_id: str
    market: str
    price_micros: int
    size_micros: int | None
    side: Literal["BUY", "SELL"] | None
    fee_rate_bps: int | None
    ts_venue_ns: int | None


class BestBidAsk(_Msg, frozen=True, gc=False):
    """A `best_bid_ask` event (custom feature). 0 / 1_000_000 mean an empty side."""

    token_id: str
    market: str
    best_bid: int | None
    best_ask: int | None
    ts_venue_ns: int | None


class NewMarket(_Msg, frozen=True, gc=False):
    """A `new_market` event (custom feature): only the fields the engine can use."""

    market: str
    market_id: str
    question: str
    slug: str
    asset_ids: tuple[str, ...]
    outcomes: tuple[str, ...]
    tick_size_micros: int | None
    ts_venue_ns: int | None


class MarketResolved(_Msg, frozen=True, gc=False):
    """A `market_resolved` event (custom feature)."""

    market: str
    market_id: str
    asset_ids: tuple[str, ...]
    winning_asset_id: str | None
    winning_outcome: str | None
    ts_venue_ns: int | None


class Control(_Msg, frozen=True, gc=False):
    """A non-JSON control text from the venue: `PONG` or `INVALID OPERATION`."""

    text: str


class BookUpdateLost(_Msg, frozen=True, gc=False):
    """A book-changing element was rejected: these tokens' books may have missed an update.

    Emitted next to the rejection so the books' continuity breaks instead of silently drifting.
    """

    token_ids: tuple[str, ...]
    reason: str


WireMessage = (
    BookSnapshot
    | PriceChange
    | TickSizeChange
    | LastTradePrice
    | BestBidAsk
    | NewMarket
    | MarketResolved
    | Control
    | BookUpdateLost
)

Reject = tuple[str, int | None]
"""(reason, index of the element in a top-level array, or None for the frame as a whole)."""


class ParseResult(msgspec.Struct, gc=False):
    """Everything one frame yielded: messages in frame order, rejects, unknown event types."""

    messages: list[WireMessage]
    rejects: list[Reject]
    unknown: int = 0
