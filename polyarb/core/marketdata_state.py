# The cold half of MarketData (marketdata.py): counters and stats, the ContinuityBroken
# builders, the staleness check run on clock ticks, and the canonical snapshot / restore.
# marketdata.py keeps everything a frame goes through (apply_raw and the book updates).
#
# Rules:
# 1. Pure: time arrives as event times (`now_ns`, `ts`), decisions carry the input's cause_seq.
# 2. Nothing here runs per price change on the common path: the builders run only when a book
#    breaks, the rest per tick, per stats line or per snapshot. MarketDataState lays the state
#    out (`__slots__`, `__init__`) and MarketData subclasses it with the hot methods and no slots
#    of its own: slot access from a subclass is as fast, so the split added no attribute or
#    call layer to the hot path.
# 3. Output order never depends on hash or set order: check_stale sorts by token id,
#    snapshot() sorts books by token id and counters and messages by name; restore() inverts
#    snapshot() exactly.
from __future__ import annotations

from typing import Any, Self, TypedDict

from polyarb.core.book import Book, BookSnap
from polyarb.core.wire_types import (
    BestBidAsk,
    BookSnapshot,
    BookUpdateLost,
    Control,
    LastTradePrice,
    MarketResolved,
    NewMarket,
    PriceChange,
    TickSizeChange,
    WireMessage,
)
from polyarb.events.decisions import ContinuityBroken

MESSAGE_TYPES: tuple[type[WireMessage], ...] = (
    BookSnapshot, PriceChange, TickSizeChange, LastTradePrice, BestBidAsk,
    NewMarket, MarketResolved, Control, BookUpdateLost,
)  # fmt: skip
COUNTERS = (
    "rejects", "unknown_types", "ignored_no_snapshot", "ignored_broken",
    "continuity_broken", "continuity_restored",
)  # fmt: skip

# Reasons carried by ContinuityBroken.
CROSSED = "crossed"
CROSSED_SNAPSHOT = "crossed_snapshot"
BEST_MISMATCH = "price_change_best_mismatch"
BEST_BID_ASK_MISMATCH = "best_bid_ask_mismatch"
TICK_SIZE_CHANGE = "tick_size_change"
UPDATE_LOST = "update_lost"
STALE = "stale"


class MarketDataSnap(TypedDict):
    """The shape of MarketDataState.snapshot(), for a typed decode (types checked in C)."""

    books: list[BookSnap]
    counters: dict[str, int]
    messages: dict[str, int]


class MarketDataState:
    """MarketData's state layout, counters, continuity breaks, staleness and snapshots."""

    __slots__ = ("_books", "_by_type", "_counts", "_frames", "_fused_books", "_fused_changes",
                 "_primed", "_primed_data")

    def __init__(self) -> None:
        self._books: dict[str, Book] = {}
        self._by_type: dict[type, int] = dict.fromkeys(MESSAGE_TYPES, 0)
        self._counts: dict[str, int] = dict.fromkeys(COUNTERS, 0)  # all but "frames"
        # Hot counts as plain ints: frames, and messages apply_raw applied without building them.
        self._frames = self._fused_changes = self._fused_books = 0
        # prime(): the frame object decoded ahead of apply_raw, and its strict decode (or None).
        self._primed: object = None
        self._primed_data: Any = None

    # --- counters -------------------------------------------------------------------------

    @property
    def counters(self) -> dict[str, int]:
        """Feed counters by name (a copy): frames, rejects, unknown types, ignored, breaks."""
        return {"frames": self._frames, **self._counts}

    def _messages(self) -> dict[type, int]:
        out = dict(self._by_type)
        out[PriceChange] += self._fused_changes
        out[BookSnapshot] += self._fused_books
        return out

    def stats(self) -> dict[str, int]:
        """Counters for the stats line: frames, rejects, ignored updates, messages by type."""
        out = self.counters
        for cls, n in self._messages().items():
            out["msg_" + cls.__name__] = n
        return dict(sorted(out.items()))

    # --- continuity breaks ----------------------------------------------------------------

    def _break(self, book: Book, reason: str, ts: int, seq: int) -> ContinuityBroken:
        book.break_continuity(reason)
        self._counts["continuity_broken"] += 1
        return self._broken(book, reason, ts, seq)

    @staticmethod
    def _broken(book: Book, reason: str, ts: int, seq: int) -> ContinuityBroken:
        return ContinuityBroken(ts_recv_ns=ts, cause_seq=seq, token_id=book.token_id,
                                epoch=book.epoch, reason=reason)

    # --- staleness ------------------------------------------------------------------------

    def check_stale(self, now_ns: int, max_silence_ns: int,
                    cause_seq: int) -> list[ContinuityBroken]:
        """Break continuity of live books that heard nothing for longer than max_silence_ns.

        Args:
            now_ns: the ts_recv_ns of the ClockTick (event time, never the wall clock).
            max_silence_ns: longest allowed gap since the token's last message.
            cause_seq: the ClockTick's journal seq.

        Returns:
            One ContinuityBroken (reason "stale") per newly stale book, sorted by token id.
        """
        cutoff = now_ns - max_silence_ns
        stale = [token for token, book in self._books.items() if book.live
                 and book.last_update_ns is not None and book.last_update_ns < cutoff]
        return [self._break(self._books[t], STALE, now_ns, cause_seq) for t in sorted(stale)]

    # --- canonical state ------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Canonical JSON-able state: books sorted by token id, counters sorted by name."""
        books = self._books
        return {
            "books": [books[token].snapshot() for token in sorted(books)],
            "counters": dict(sorted(self.counters.items())),
            "messages": dict(sorted((c.__name__, n) for c, n in self._messages().items())),
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Self:
        """Rebuild from snapshot() output (types as snapshot() or a MarketDataSnap decode gives)."""
        store = cls()
        for book_data in data["books"]:
            book = Book.restore(book_data)
            store._books[book.token_id] = book
        counters = dict(data["counters"])
        store._frames = int(counters.pop("frames", 0))
        store._counts.update((name, int(value)) for name, value in counters.items())
        by_name = {c.__name__: c for c in MESSAGE_TYPES}
        for name, value in data["messages"].items():
            store._by_type[by_name[name]] = int(value)
        return store


__all__ = [
    "BEST_BID_ASK_MISMATCH",
    "BEST_MISMATCH",
    "COUNTERS",
    "CROSSED",
    "CROSSED_SNAPSHOT",
    "MESSAGE_TYPES",
    "STALE",
    "TICK_SIZE_CHANGE",
    "UPDATE_LOST",
    "MarketDataSnap",
    "MarketDataState",
]
