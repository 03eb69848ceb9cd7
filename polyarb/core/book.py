# One token's L2 order book: price levels with absolute sizes, best prices, continuity state.
#
# Rules:
# 1. Pure and mutable (it is the hot path): no I/O, no clock. Sizes are absolute; size 0
#    deletes the level. Prices and sizes are int micro-units; level prices are strictly inside
#    (0, 1e6) (the parser guarantees it).
# 2. Never trust the venue's level order: best bid is the highest bid, best ask the lowest ask.
#    Each side is a dict price -> size; the best price of each side is kept up to date on every
#    change (a new better price replaces it; only removing the best level rescans that side),
#    so an update never sorts. The sorted (price, size) depth lists for walks are built lazily
#    and cached until that side changes.
# 3. Continuity: a book is unusable until its first snapshot. Every snapshot starts a new epoch
#    (epoch 1 is the first); `break_continuity` makes it unusable until the next snapshot, and
#    `drop` (tick size change) also forgets the levels. The book records state; MarketData
#    decides when to break and emits the decisions.
# 4. snapshot() is canonical plain data (bids best-first descending, asks ascending, ints and
#    strings only; levels are tuples, which encode as the JSON arrays lists would), so equal
#    books give equal snapshots and hashes; restore() inverts it, from tuples or decoded lists.
# 5. Hot readers (detection, apply_changes) read three plain attributes instead of calling
#    methods: `live` (usable), `top_bid` (best bid, 0 when there are no bids) and `top_ask`
#    (best ask, 1e6 when there are no asks): the venue's own convention for an empty side.
#    Only this module writes them, and every mutation keeps them equal to the levels and state.
# 6. `size_memo` is not state: it is the parser's cache of size texts seen in this book's
#    snapshots (text -> micros; see polyarb.core.wire_fast.level_map). It is never in snapshot()
#    and never changes a result; MarketData bounds it.
from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any, Literal, TypedDict

from polyarb.core.wire_types import Change, Level
from polyarb.events.base import MICROS

BookState = Literal["empty", "live", "broken"]
EMPTY: BookState = "empty"
LIVE: BookState = "live"
BROKEN: BookState = "broken"


class Book:
    """The L2 book of one token. Satisfies polyarb.core.types.BookView."""

    __slots__ = (
        "_asks",
        "_asks_asc",
        "_bids",
        "_bids_desc",
        "_epoch",
        "_state",
        "break_reason",
        "last_trade",
        "last_update_ns",
        "live",
        "size_memo",
        "tick_size_micros",
        "token_id",
        "top_ask",
        "top_bid",
        "ts_venue_ns",
        "venue_quote",
    )

    def __init__(self, token_id: str) -> None:
        # Interned (so is the registry's copy, see markets.BinaryPlan): a lookup by one finds the
        # other by identity. MarketData keys its books by this very object.
        self.token_id = sys.intern(token_id)
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}
        self._bids_desc: list[Level] | None = None
        self._asks_asc: list[Level] | None = None
        self._state: BookState = EMPTY
        self.live = False  # _state == LIVE, as a plain attribute for the hot readers (rule 5)
        self.top_bid = 0  # best bid, 0 when there are no bids
        self.top_ask = MICROS  # best ask, 1e6 when there are no asks
        self._epoch = 0
        self.break_reason: str | None = None
        self.tick_size_micros: int | None = None
        self.last_update_ns: int | None = None  # ts_recv_ns of the last message for this token
        self.ts_venue_ns: int | None = None  # venue time of the last snapshot or change
        self.last_trade: tuple[int, int | None, str | None, int | None] | None = None
        self.venue_quote: tuple[int | None, int | None] | None = None  # last best_bid_ask
        # Not state: the parser's cache of this book's size texts (rule 6).
        self.size_memo: dict[str, int] = {}

    # --- BookView -------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """True once a snapshot arrived and while continuity holds."""
        return self.live

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
        return self.top_bid if self._bids else None

    def best_ask(self) -> int | None:
        """Lowest ask price in micros, or None when there are no asks."""
        return self.top_ask if self._asks else None

    def bids_descending(self) -> list[Level]:
        """(price, size) bid levels, best (highest) first. Cached; do not mutate."""
        levels = self._bids_desc
        if levels is None:
            levels = self._bids_desc = sorted(self._bids.items(), reverse=True)
        return levels

    def asks_ascending(self) -> list[Level]:
        """(price, size) ask levels, best (lowest) first. Cached; do not mutate."""
        levels = self._asks_asc
        if levels is None:
            levels = self._asks_asc = sorted(self._asks.items())
        return levels

    def is_crossed(self) -> bool:
        """True when both sides exist and best bid >= best ask."""
        return bool(self._bids) and bool(self._asks) and self.top_bid >= self.top_ask

    # --- mutation -------------------------------------------------------------------------

    def replace(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Install a full snapshot: new levels, a new epoch, continuity live.

        Levels may come in any order; size 0 is skipped; a repeated price keeps the last size.
        """
        self.install(level_dict(bids), level_dict(asks))

    def install(self, bids: dict[int, int], asks: dict[int, int]) -> None:
        """Install a full snapshot from level dicts price -> size, which the book now owns.

        Like `replace`, but the caller guarantees every size is non-zero.
        """
        self._bids, self._asks = bids, asks
        self.top_bid = max(bids) if bids else 0
        self.top_ask = min(asks) if asks else MICROS
        self._bids_desc = self._asks_asc = None
        self._epoch += 1
        self._state = LIVE
        self.live = True
        self.break_reason = None

    def set_level(self, is_bid: bool, price: int, size: int) -> None:
        """Set the absolute size at one price (0 deletes the level)."""
        if is_bid:
            self._bids_desc = None
            levels = self._bids
            if size:
                levels[price] = size
                if price > self.top_bid:
                    self.top_bid = price
            elif levels.pop(price, None) is not None and price == self.top_bid:
                self.top_bid = max(levels) if levels else 0
        else:
            self._asks_asc = None
            levels = self._asks
            if size:
                levels[price] = size
                if price < self.top_ask:
                    self.top_ask = price
            elif levels.pop(price, None) is not None and price == self.top_ask:
                self.top_ask = min(levels) if levels else MICROS

    def break_continuity(self, reason: str) -> None:
        """Make the book unusable until the next snapshot; levels are kept for inspection."""
        self._state = BROKEN
        self.live = False
        self.break_reason = reason

    def drop(self, reason: str) -> None:
        """Forget all levels and break continuity (used when the tick size changes)."""
        self._bids, self._asks = {}, {}
        self.top_bid, self.top_ask = 0, MICROS
        self._bids_desc = self._asks_asc = None
        self.break_continuity(reason)

    # --- canonical state ------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Canonical JSON-able state: levels sorted best first, ints and strings only.

        Levels and the last trade / venue quote are tuples: JSON arrays, so the encoding is the
        one lists would give, without building a list per level (a checkpoint holds millions).
        """
        return {
            "token_id": self.token_id,
            "state": self._state,
            "epoch": self._epoch,
            "break_reason": self.break_reason,
            "tick_size_micros": self.tick_size_micros,
            "last_update_ns": self.last_update_ns,
            "ts_venue_ns": self.ts_venue_ns,
            "last_trade": self.last_trade,
            "venue_quote": self.venue_quote,
            # Copies of the cached depth lists (a C-level copy), so a caller cannot edit the cache.
            "bids": list(self.bids_descending()),
            "asks": list(self.asks_ascending()),
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Book:
        """Rebuild a book from snapshot() output (or its JSON decoded).

        The types are not checked here: snapshot() made them, or a decode into BookSnap did
        (Engine.restore decodes journaled bytes that way, in C).

        Raises:
            KeyError: a field is missing; TypeError, ValueError: a level is not a pair.
        """
        book = cls(data["token_id"])
        # dict() of (price, size) pairs runs in C: a per-level int() was most of a restore.
        bids = book._bids = dict(data["bids"])
        asks = book._asks = dict(data["asks"])
        book.top_bid = max(bids) if bids else 0
        book.top_ask = min(asks) if asks else MICROS
        book._state = _STATES[data["state"]]
        book.live = book._state == LIVE
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


class BookSnap(TypedDict):
    """The shape of Book.snapshot(): decoding into it checks every type in C (msgspec)."""

    token_id: str
    state: BookState
    epoch: int
    break_reason: str | None
    tick_size_micros: int | None
    last_update_ns: int | None
    ts_venue_ns: int | None
    last_trade: tuple[int, int | None, str | None, int | None] | None
    venue_quote: tuple[int | None, int | None] | None
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


_STATES: dict[str, BookState] = {EMPTY: EMPTY, LIVE: LIVE, BROKEN: BROKEN}


def level_dict(levels: Iterable[Level]) -> dict[int, int]:
    """Levels as a dict price -> size for `Book.install`: zeros dropped, the last repeat wins."""
    return _nonzero(dict(levels))


def _nonzero(levels: dict[int, int]) -> dict[int, int]:
    # `0 in values()` runs in C; the comprehension only runs when a zero is really there.
    return {p: s for p, s in levels.items() if s} if 0 in levels.values() else levels


Checked = tuple[Book, int | None, int | None]
Failed = list[tuple[Book, str]] | None
"""The books that failed their check after apply_changes, with why; None when none did."""


def apply_changes(
    books: dict[str, Book], changes: Sequence[Change], ts_recv_ns: int, ts_venue_ns: int | None
) -> tuple[tuple[str, ...], Failed, int, int]:
    """Apply price_change entries to live books, then check each touched book once.

    This is the reducer's hottest loop, so level updates (Book.set_level) and checks are inline.
    Entries for a token without a book, or whose book is not live, are skipped and counted.
    After all entries are applied, each touched book is checked against the venue's best
    bid/ask of the token's last entry (sequential or end-of-message semantics agree there).

    Returns:
        The touched token ids (message order, no repeats); the books that failed their check
        with "crossed" or "mismatch" (None when all passed); the count skipped for lack of a
        book; the count skipped because the book was not live.
    """
    n = len(changes)
    if n > 2 or (n == 2 and changes[0][0] == changes[1][0]):
        return _apply_with_repeats(books, changes, ts_recv_ns, ts_venue_ns)
    # One or two distinct tokens (the venue's usual frame: a market's YES and NO): each book's
    # entry is its last, so it is checked right away, in message order.
    touched: list[str] = []
    failed: Failed = None
    missing = not_live = 0
    get = books.get
    for token, is_bid, price, size, best_bid, best_ask in changes:
        book = get(token)
        if book is None:
            missing += 1
            continue
        if not book.live:
            not_live += 1
            continue
        if is_bid:
            book._bids_desc = None
            if size:
                book._bids[price] = size
                if price > book.top_bid:
                    book.top_bid = price
            elif (levels := book._bids).pop(price, None) is not None and price == book.top_bid:
                book.top_bid = max(levels) if levels else 0
        else:
            book._asks_asc = None
            if size:
                book._asks[price] = size
                if price < book.top_ask:
                    book.top_ask = price
            elif (levels := book._asks).pop(price, None) is not None and price == book.top_ask:
                book.top_ask = min(levels) if levels else MICROS
        touched.append(book.token_id)  # the interned id (see Book.__init__)
        book.last_update_ns = ts_recv_ns
        book.ts_venue_ns = ts_venue_ns
        bid, ask = book.top_bid, book.top_ask  # top_disagrees, inlined
        if bid >= ask:
            failed = [*(failed or ()), (book, "crossed")]
        elif (best_bid is not None and best_bid != bid) or (
            best_ask is not None and best_ask != ask
        ):
            failed = [*(failed or ()), (book, "mismatch")]
    return tuple(touched), failed, missing, not_live


def _apply_with_repeats(
    books: dict[str, Book], changes: Sequence[Change], ts_recv_ns: int, ts_venue_ns: int | None
) -> tuple[tuple[str, ...], Failed, int, int]:
    touched: dict[str, Checked] = {}
    missing = not_live = 0
    for token, is_bid, price, size, best_bid, best_ask in changes:
        book = books.get(token)
        if book is None:
            missing += 1
        elif not book.live:
            not_live += 1
        else:
            book.set_level(is_bid, price, size)
            touched[book.token_id] = (book, best_bid, best_ask)
    failed: Failed = None
    for book, best_bid, best_ask in touched.values():
        book.last_update_ns = ts_recv_ns
        book.ts_venue_ns = ts_venue_ns
        why = top_disagrees(book, best_bid, best_ask)
        if why is not None:
            failed = [*(failed or ()), (book, why)]
    return tuple(touched), failed, missing, not_live


def top_disagrees(book: Book, venue_bid: int | None, venue_ask: int | None) -> str | None:
    """Why the book cannot be trusted after an update: "crossed", "mismatch" or None.

    The venue reports an empty side as bid 0 / ask 1 (1_000_000 micros); so do we here.
    """
    bid, ask = book.top_bid, book.top_ask
    if bid >= ask:  # level prices are strictly inside (0, 1), so empty sides never cross
        return "crossed"
    if (venue_bid is not None and venue_bid != bid) or (venue_ask is not None and venue_ask != ask):
        return "mismatch"
    return None
