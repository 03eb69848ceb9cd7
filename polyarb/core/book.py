# One token's L2 order book: price levels with absolute sizes, best prices, continuity state.
#
# Rules:
# 1. Pure and mutable (it is the hot path): no I/O, no clock. Sizes are absolute; size 0
#    deletes the level. Prices and sizes are int micro-units.
# 2. Never trust the venue's level order: best bid is the highest bid, best ask the lowest ask.
#    Each side keeps a dict price -> size plus a sorted list of its prices maintained with
#    bisect, so best prices are O(1) and an update never sorts. The (price, size) depth lists
#    for walks are built lazily and cached until that side changes.
# 3. Continuity: a book is unusable until its first snapshot. Every snapshot starts a new epoch
#    (epoch 1 is the first); `break_continuity` makes it unusable until the next snapshot, and
#    `drop` (tick size change) also forgets the levels. The book records state; MarketData
#    decides when to break and emits the decisions.
# 4. snapshot() is canonical plain data (bids best-first descending, asks ascending, ints and
#    strings only), so equal books give equal snapshots and hashes; restore() inverts it.
from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from typing import Any, Literal

from polyarb.core.wire_types import Change, Level
from polyarb.events.base import MICROS

BookState = Literal["empty", "live", "broken"]
EMPTY: BookState = "empty"
LIVE: BookState = "live"
BROKEN: BookState = "broken"


class Book:
    """The L2 book of one token. Satisfies polyarb.core.types.BookView."""

    __slots__ = (
        "_ask_prices",
        "_asks",
        "_asks_asc",
        "_bid_prices",
        "_bids",
        "_bids_desc",
        "_epoch",
        "_state",
        "break_reason",
        "last_trade",
        "last_update_ns",
        "tick_size_micros",
        "token_id",
        "ts_venue_ns",
        "venue_quote",
    )

    def __init__(self, token_id: str) -> None:
        self.token_id = token_id
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}
        self._bid_prices: list[int] = []  # ascending; best bid is last
        self._ask_prices: list[int] = []  # ascending; best ask is first
        self._bids_desc: list[Level] | None = None
        self._asks_asc: list[Level] | None = None
        self._state: BookState = EMPTY
        self._epoch = 0
        self.break_reason: str | None = None
        self.tick_size_micros: int | None = None
        self.last_update_ns: int | None = None  # ts_recv_ns of the last message for this token
        self.ts_venue_ns: int | None = None  # venue time of the last snapshot or change
        self.last_trade: tuple[int, int | None, str | None, int | None] | None = None
        self.venue_quote: tuple[int | None, int | None] | None = None  # last best_bid_ask

    # --- BookView -------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """True once a snapshot arrived and while continuity holds."""
        return self._state == LIVE

    @property
    def epoch(self) -> int:
        """Number of snapshots applied so far; bumps with every snapshot."""
        return self._epoch

    @property
    def state(self) -> BookState:
        """`empty` (no snapshot yet), `live` or `broken` (waiting for a snapshot)."""
        return self._state

    def best_bid(self) -> int | None:
        """Highest bid price in micros, or None when there are no bids."""
        prices = self._bid_prices
        return prices[-1] if prices else None

    def best_ask(self) -> int | None:
        """Lowest ask price in micros, or None when there are no asks."""
        prices = self._ask_prices
        return prices[0] if prices else None

    def bids_descending(self) -> list[Level]:
        """(price, size) bid levels, best (highest) first. Cached; do not mutate."""
        levels = self._bids_desc
        if levels is None:
            bids = self._bids
            levels = self._bids_desc = [(p, bids[p]) for p in reversed(self._bid_prices)]
        return levels

    def asks_ascending(self) -> list[Level]:
        """(price, size) ask levels, best (lowest) first. Cached; do not mutate."""
        levels = self._asks_asc
        if levels is None:
            asks = self._asks
            levels = self._asks_asc = [(p, asks[p]) for p in self._ask_prices]
        return levels

    def is_crossed(self) -> bool:
        """True when both sides exist and best bid >= best ask."""
        bids, asks = self._bid_prices, self._ask_prices
        return bool(bids) and bool(asks) and bids[-1] >= asks[0]

    # --- mutation -------------------------------------------------------------------------

    def replace(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Install a full snapshot: new levels, a new epoch, continuity live.

        Levels may come in any order; size 0 is skipped; a repeated price keeps the last size.
        """
        self._bids = _nonzero(dict(bids))
        self._asks = _nonzero(dict(asks))
        self._bid_prices = sorted(self._bids)
        self._ask_prices = sorted(self._asks)
        self._bids_desc = self._asks_asc = None
        self._epoch += 1
        self._state = LIVE
        self.break_reason = None

    def set_level(self, is_bid: bool, price: int, size: int) -> None:
        """Set the absolute size at one price (0 deletes the level)."""
        if is_bid:
            levels, prices = self._bids, self._bid_prices
            self._bids_desc = None
        else:
            levels, prices = self._asks, self._ask_prices
            self._asks_asc = None
        if size:
            if price not in levels:
                insort(prices, price)
            levels[price] = size
        elif levels.pop(price, None) is not None:
            del prices[bisect_left(prices, price)]

    def break_continuity(self, reason: str) -> None:
        """Make the book unusable until the next snapshot; levels are kept for inspection."""
        self._state = BROKEN
        self.break_reason = reason

    def drop(self, reason: str) -> None:
        """Forget all levels and break continuity (used when the tick size changes)."""
        self._bids, self._asks = {}, {}
        self._bid_prices, self._ask_prices = [], []
        self._bids_desc = self._asks_asc = None
        self.break_continuity(reason)

    # --- canonical state ------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Canonical JSON-able state: levels sorted best first, ints and strings only."""
        return {
            "token_id": self.token_id,
            "state": self._state,
            "epoch": self._epoch,
            "break_reason": self.break_reason,
            "tick_size_micros": self.tick_size_micros,
            "last_update_ns": self.last_update_ns,
            "ts_venue_ns": self.ts_venue_ns,
            "last_trade": None if self.last_trade is None else list(self.last_trade),
            "venue_quote": None if self.venue_quote is None else list(self.venue_quote),
            "bids": [[p, s] for p, s in self.bids_descending()],
            "asks": [[p, s] for p, s in self.asks_ascending()],
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Book:
        """Rebuild a book from snapshot() output."""
        book = cls(data["token_id"])
        book._bids = {int(p): int(s) for p, s in data["bids"]}
        book._asks = {int(p): int(s) for p, s in data["asks"]}
        book._bid_prices = sorted(book._bids)
        book._ask_prices = sorted(book._asks)
        book._state = _STATES[data["state"]]
        book._epoch = int(data["epoch"])
        book.break_reason = data["break_reason"]
        book.tick_size_micros = data["tick_size_micros"]
        book.last_update_ns = data["last_update_ns"]
        book.ts_venue_ns = data["ts_venue_ns"]
        trade = data["last_trade"]
        book.last_trade = None if trade is None else (trade[0], trade[1], trade[2], trade[3])
        quote = data["venue_quote"]
        book.venue_quote = None if quote is None else (quote[0], quote[1])
        return book


_STATES: dict[str, BookState] = {EMPTY: EMPTY, LIVE: LIVE, BROKEN: BROKEN}


def _nonzero(levels: dict[int, int]) -> dict[int, int]:
    # `0 in values()` runs in C; the comprehension only runs when a zero is really there.
    return {p: s for p, s in levels.items() if s} if 0 in levels.values() else levels


Checked = tuple[Book, int | None, int | None]


def apply_changes(
    books: dict[str, Book], changes: Iterable[Change], ts_recv_ns: int, ts_venue_ns: int | None
) -> tuple[tuple[str, ...], list[tuple[Book, str]] | None, int, int]:
    """Apply price_change entries to live books, then check each touched book once.

    This is the reducer's hottest loop, so level updates and checks are inline. Entries for a
    token without a book, or whose book is not live, are skipped and counted. After all entries
    are applied, each touched book is checked against the venue's best bid/ask of the token's
    last entry (sequential or end-of-message semantics agree there).

    Returns:
        The touched token ids (message order, no repeats); the books that failed their check
        with "crossed" or "mismatch" (None when all passed); the count skipped for lack of a
        book; the count skipped because the book was not live.
    """
    touched: dict[str, Checked] = {}
    missing = not_live = 0
    get = books.get
    for token, is_bid, price, size, best_bid, best_ask in changes:
        book = get(token)
        if book is None:
            missing += 1
            continue
        if book._state != LIVE:
            not_live += 1
            continue
        if is_bid:
            levels, prices = book._bids, book._bid_prices
            book._bids_desc = None
        else:
            levels, prices = book._asks, book._ask_prices
            book._asks_asc = None
        if size:
            if price not in levels:
                insort(prices, price)
            levels[price] = size
        elif levels.pop(price, None) is not None:
            del prices[bisect_left(prices, price)]
        touched[token] = (book, best_bid, best_ask)
    failed: list[tuple[Book, str]] | None = None
    for book, best_bid, best_ask in touched.values():
        book.last_update_ns = ts_recv_ns
        book.ts_venue_ns = ts_venue_ns
        # top_disagrees, inlined: this runs once per touched book on every price_change.
        bids, asks = book._bid_prices, book._ask_prices
        bid = bids[-1] if bids else 0
        ask = asks[0] if asks else MICROS
        if bid >= ask:
            failed = [*(failed or ()), (book, "crossed")]
        elif (best_bid is not None and best_bid != bid) or (
            best_ask is not None and best_ask != ask
        ):
            failed = [*(failed or ()), (book, "mismatch")]
    return tuple(touched), failed, missing, not_live


def top_disagrees(book: Book, venue_bid: int | None, venue_ask: int | None) -> str | None:
    """Why the book cannot be trusted after an update: "crossed", "mismatch" or None.

    The venue reports an empty side as bid 0 / ask 1 (1_000_000 micros); so do we here.
    """
    bids, asks = book._bid_prices, book._ask_prices
    bid = bids[-1] if bids else 0
    ask = asks[0] if asks else MICROS
    if bid >= ask:  # level prices are strictly inside (0, 1), so empty sides never cross
        return "crossed"
    if (venue_bid is not None and venue_bid != bid) or (venue_ask is not None and venue_ask != ask):
        return "mismatch"
    return None
