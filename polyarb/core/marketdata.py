# Market data state: one Book per token, fed with parsed market-channel messages, plus the
# continuity decisions (ContinuityBroken / ContinuityRestored / FrameRejected) they cause.
#
# Rules:
# 1. Pure: time arrives as `ts_recv_ns`, decisions carry the input's `cause_seq`. No clock.
# 2. A `book` snapshot creates or replaces a token's book and starts a new epoch; if the book
#    was broken it emits ContinuityRestored. Continuity breaks (emitting ContinuityBroken once,
#    until the next snapshot) when, after a message is applied, the book is crossed
#    (best bid >= best ask), the venue's reported top (price_change best_bid/best_ask of the
#    token's last entry in the message, or a best_bid_ask event) disagrees with ours, the tick
#    size changed (the book is also dropped), a book-changing element was rejected
#    (BookUpdateLost), or nothing arrived for the token for too long (check_stale).
# 3. Updates for a token with no snapshot, or whose book is broken, are counted and ignored:
#    only a snapshot makes a book usable again.
# 4. Only tokens whose book (or usability) changed are reported as touched, in message order
#    without repeats; the engine re-checks only their markets. Output order never depends on
#    hash or set order: check_stale sorts by token id.
# 5. snapshot() is canonical (books sorted by token id, counters by name); restore() inverts it.
#    It, check_stale, the counters/stats and the ContinuityBroken builders are the cold half,
#    inherited from MarketDataState (marketdata_state.py); this module keeps the hot path.
# 6. apply_raw is parse_frame + apply_frame in one call, identical in effect (books, counters,
#    touched, decisions): the reducer's hot path. A `price_change` or `book` frame goes from
#    the strict decode (polyarb.core.wire_fast) straight to the books, converted in full before
#    anything is mutated, so a value the fast path does not vouch for still falls back to the
#    reference parse with nothing half applied. Touched ids are the books' interned ids.
# 7. prime(frame) runs apply_raw's decode early for the shell (one decode per frame, shared with
#    the journal's validity check); it is a cache keyed by the frame object's identity and never
#    changes a result: replay, which never primes, folds exactly the same.
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, assert_never

from polyarb.core.book import BROKEN, Book, apply_changes, level_dict, top_disagrees
from polyarb.core.marketdata_state import (
    BEST_BID_ASK_MISMATCH,
    BEST_MISMATCH,
    CROSSED,
    CROSSED_SNAPSHOT,
    STALE,
    TICK_SIZE_CHANGE,
    UPDATE_LOST,
    MarketDataState,
)
from polyarb.core.numbers import venue_ts_ns
from polyarb.core.wire import parse_frame, parse_lenient
from polyarb.core.wire_fast import (
    PreparedBook,
    WireBook,
    WirePriceChange,
    changes_of,
    messages_of,
    prepare_books,
    strict_decode,
)
from polyarb.core.wire_types import (
    BestBidAsk,
    BookSnapshot,
    BookUpdateLost,
    Control,
    LastTradePrice,
    MarketResolved,
    NewMarket,
    ParseResult,
    PriceChange,
    TickSizeChange,
    WireMessage,
)
from polyarb.events.base import Decision
from polyarb.events.decisions import ContinuityRestored, FrameRejected

Applied = tuple[tuple[str, ...], tuple[Decision, ...]]
"""(touched token ids, decisions) returned by MarketData.apply and apply_frame."""
Folded = tuple[tuple[str, ...], tuple[Decision, ...], Sequence[WireMessage]]
"""(touched token ids, decisions, messages) returned by MarketData.apply_raw."""

_NOTHING: Applied = ((), ())

class MarketData(MarketDataState):
    """Books by token id, continuity tracking and feed counters."""

    __slots__ = ()  # the state is laid out by MarketDataState

    @property
    def books(self) -> Mapping[str, Book]:
        """Books by token id, for detection (a live view: read it, never mutate it)."""
        return self._books

    def book(self, token_id: str) -> Book | None:
        """The token's book, or None before its first snapshot."""
        return self._books.get(token_id)

    def token_ids(self) -> list[str]:
        """Every token with a book, sorted."""
        return sorted(self._books)

    # --- applying messages ----------------------------------------------------------------

    def prime(self, frame: Any) -> bool:
        """Decode `frame` (a msgspec.Raw) now, for the apply_raw that gets this very object.

        The shell's one decode per frame (rule 7): the journal uses the answer as its proof
        that the bytes are valid JSON, and apply_raw reuses the decode instead of repeating it.
        Nothing else changes: apply_raw of an object that was not primed decodes it itself.

        Returns:
            True when the strict schema decoded it (so the bytes are valid JSON).
        """
        try:
            data = strict_decode(frame)
        except Exception:  # not the strict schema: apply_raw then takes _apply_decoded(None)
            data = None
        self._primed, self._primed_data = frame, data
        return data is not None

    def apply_raw(self, frame: Any, text: str | None, ts_recv_ns: int, cause_seq: int) -> Folded:
        """Parse and apply one market-channel frame: apply_frame(parse_frame(...)) in one call.

        Takes parse_frame's arguments (frame, text) and apply_frame's (ts_recv_ns, cause_seq).

        Returns:
            Touched token ids and decisions exactly as apply_frame returns them, then the
            parsed messages; () when the frame held only book changes, applied directly.
        """
        if frame is self._primed and frame is not None:  # decoded by prime(): same bytes
            data = self._primed_data
            self._primed = self._primed_data = None
        else:
            try:
                data = strict_decode(frame)
            except Exception:  # not the strict schema (or no bytes at all): see _apply_decoded
                data = None
        if type(data) is WirePriceChange:
            try:
                changes = changes_of(data)
                ts_venue = venue_ts_ns(data.timestamp)
            except Exception:  # the reference parse decides (rule 6)
                pass
            else:
                self._frames += 1
                self._fused_changes += 1
                touched, failed, missing, not_live = apply_changes(
                    self._books, changes, ts_recv_ns, ts_venue)
                if failed is None and not (missing or not_live):
                    return touched, (), ()  # the common case
                return touched, self._checked(failed, missing, not_live, ts_recv_ns,
                                              cause_seq), ()
        return self._apply_decoded(data, frame, text, ts_recv_ns, cause_seq)

    def _apply_decoded(self, data: Any, frame: Any, text: str | None, ts_recv_ns: int,
                       cause_seq: int) -> Folded:
        """apply_raw for all but a price_change applied directly."""
        kind = type(data)
        if kind is WireBook or (kind is list and data and all(
                type(event) is WireBook for event in data)):
            try:
                snapshots = prepare_books(data if kind is list else [data], self._books)
            except Exception:  # the reference parse decides (rule 6)
                pass
            else:
                return self._install_all(snapshots, ts_recv_ns, cause_seq)
        elif data is not None and kind is not WirePriceChange:
            msgs = messages_of(data)
            if msgs is not None:
                return self._fold(ParseResult(msgs, []), ts_recv_ns, cause_seq)
        if frame is None or len(frame) == 0:
            return self._fold(parse_frame(frame, text), ts_recv_ns, cause_seq)
        source = frame if type(frame) is bytes else memoryview(frame)
        return self._fold(parse_lenient(source), ts_recv_ns, cause_seq)

    def _install_all(self, snapshots: list[PreparedBook], ts: int, seq: int) -> Folded:
        self._frames += 1
        self._fused_books += len(snapshots)
        if len(snapshots) == 1:  # the venue's usual frame: no dedupe or merge needed
            token, bids, asks, ts_venue, tick, memo = snapshots[0]
            touched, decisions = self._install(token, bids, asks, ts_venue, tick, ts, seq)
            self._books[token].size_memo = memo
            return touched, decisions, ()
        seen: dict[str, None] = {}
        out: list[Decision] = []
        for token, bids, asks, ts_venue, tick, memo in snapshots:
            seen[token] = None
            out.extend(self._install(token, bids, asks, ts_venue, tick, ts, seq)[1])
            self._books[token].size_memo = memo
        return tuple(seen), tuple(out), ()

    def _fold(self, result: ParseResult, ts_recv_ns: int, cause_seq: int) -> Folded:
        return (*self.apply_frame(result, ts_recv_ns, cause_seq), result.messages)

    def apply_frame(self, result: ParseResult, ts_recv_ns: int, cause_seq: int) -> Applied:
        """Apply everything one parsed frame yielded; rejects become FrameRejected decisions.

        Args:
            result: parse_frame's output for one RawFrame.
            ts_recv_ns: the frame's receive time.
            cause_seq: the frame's journal seq.

        Returns:
            Touched token ids (frame order, no repeats) and the decisions, rejects first.
        """
        self._frames += 1
        counters = self._counts
        if result.unknown:
            counters["unknown_types"] += result.unknown
        messages = result.messages
        if not result.rejects and len(messages) == 1:  # the common case, kept cheap
            msg = messages[0]
            if type(msg) is PriceChange:
                self._by_type[PriceChange] += 1
                return self._price_change(msg, ts_recv_ns, cause_seq)
            return self.apply(msg, ts_recv_ns, cause_seq)
        decisions: list[Decision] = [
            FrameRejected(ts_recv_ns=ts_recv_ns, cause_seq=cause_seq, reason=reason, element=at)
            for reason, at in result.rejects]
        counters["rejects"] += len(result.rejects)
        touched: dict[str, None] = {}
        for msg in messages:
            tokens, more = self.apply(msg, ts_recv_ns, cause_seq)
            for token in tokens:
                touched[token] = None
            decisions.extend(more)
        return tuple(touched), tuple(decisions)

    def apply(self, msg: WireMessage, ts_recv_ns: int, cause_seq: int) -> Applied:
        """Apply one parsed message to the books.

        Returns:
            The token ids whose book or usability changed, and the continuity decisions.
        """
        self._by_type[type(msg)] += 1
        match msg:
            case PriceChange():
                return self._price_change(msg, ts_recv_ns, cause_seq)
            case BookSnapshot():
                return self._snapshot(msg, ts_recv_ns, cause_seq)
            case BestBidAsk():
                return self._best_bid_ask(msg, ts_recv_ns, cause_seq)
            case LastTradePrice():
                return self._last_trade(msg, ts_recv_ns)
            case TickSizeChange():
                return self._tick_size_change(msg, ts_recv_ns, cause_seq)
            case BookUpdateLost():
                return self._update_lost(msg, ts_recv_ns, cause_seq)
            case NewMarket() | MarketResolved() | Control():
                return _NOTHING  # for the engine (registry, liveness); no book changes
            case _:
                assert_never(msg)

    def _price_change(self, msg: PriceChange, ts: int, seq: int) -> Applied:
        touched, failed, missing, not_live = apply_changes(
            self._books, msg.changes, ts, msg.ts_venue_ns)
        return touched, self._checked(failed, missing, not_live, ts, seq)

    def _checked(self, failed: list[tuple[Book, str]] | None, missing: int, not_live: int,
                 ts: int, seq: int) -> tuple[Decision, ...]:
        """Count what apply_changes skipped; break the books that failed their check."""
        if missing or not_live:
            self._counts["ignored_no_snapshot"] += missing
            self._counts["ignored_broken"] += not_live
        if failed is None:
            return ()
        return tuple(self._break(book, CROSSED if why == "crossed" else BEST_MISMATCH, ts, seq)
                     for book, why in failed)

    def _ignore(self, book: Book | None) -> None:
        self._counts["ignored_no_snapshot" if book is None else "ignored_broken"] += 1

    def _snapshot(self, msg: BookSnapshot, ts: int, seq: int) -> Applied:
        return self._install(msg.token_id, level_dict(msg.bids), level_dict(msg.asks),
                             msg.ts_venue_ns, msg.tick_size_micros, ts, seq)

    def _install(self, token: str, bids: dict[int, int], asks: dict[int, int],
                 ts_venue: int | None, tick: int | None, ts: int, seq: int) -> Applied:
        book = self._books.get(token)
        if book is None:
            book = Book(token)
            self._books[book.token_id] = book
        was_broken = book.state == BROKEN
        book.install(bids, asks)
        book.last_update_ns = ts
        book.ts_venue_ns = ts_venue
        if tick is not None:
            book.tick_size_micros = tick
        if book.is_crossed():
            book.break_continuity(CROSSED_SNAPSHOT)
            if was_broken:
                return (token,), ()
            self._counts["continuity_broken"] += 1
            return (token,), (self._broken(book, CROSSED_SNAPSHOT, ts, seq),)
        if not was_broken:
            return (token,), ()
        self._counts["continuity_restored"] += 1
        restored = ContinuityRestored(ts_recv_ns=ts, cause_seq=seq, token_id=token,
                                      epoch=book.epoch)
        return (token,), (restored,)

    def _best_bid_ask(self, msg: BestBidAsk, ts: int, seq: int) -> Applied:
        book = self._books.get(msg.token_id)
        if book is None:
            self._ignore(book)
            return _NOTHING
        book.venue_quote = (msg.best_bid, msg.best_ask)
        book.last_update_ns = ts
        if not book.usable:
            return _NOTHING
        why = top_disagrees(book, msg.best_bid, msg.best_ask)
        if why is None:
            return _NOTHING
        reason = CROSSED if why == "crossed" else BEST_BID_ASK_MISMATCH
        return (book.token_id,), (self._break(book, reason, ts, seq),)

    def _last_trade(self, msg: LastTradePrice, ts: int) -> Applied:
        book = self._books.get(msg.token_id)
        if book is None:
            self._ignore(book)
            return _NOTHING
        book.last_trade = (msg.price_micros, msg.size_micros, msg.side, msg.ts_venue_ns)
        book.last_update_ns = ts
        return _NOTHING

    def _tick_size_change(self, msg: TickSizeChange, ts: int, seq: int) -> Applied:
        book = self._books.get(msg.token_id)
        if book is None:
            self._ignore(book)
            return _NOTHING
        was_live = book.usable
        book.drop(TICK_SIZE_CHANGE)
        book.tick_size_micros = msg.new_tick_micros
        book.last_update_ns = ts
        if not was_live:
            return (book.token_id,), ()
        self._counts["continuity_broken"] += 1
        return (book.token_id,), (self._broken(book, TICK_SIZE_CHANGE, ts, seq),)

    def _update_lost(self, msg: BookUpdateLost, ts: int, seq: int) -> Applied:
        touched: list[str] = []
        decisions: list[Decision] = []
        for token in msg.token_ids:
            book = self._books.get(token)
            if book is not None and book.usable:
                touched.append(token)
                decisions.append(self._break(book, UPDATE_LOST, ts, seq))
        return tuple(touched), tuple(decisions)


__all__ = [
    "BEST_BID_ASK_MISMATCH",
    "BEST_MISMATCH",
    "CROSSED",
    "CROSSED_SNAPSHOT",
    "STALE",
    "TICK_SIZE_CHANGE",
    "UPDATE_LOST",
    "Applied",
    "Folded",
    "MarketData",
]
