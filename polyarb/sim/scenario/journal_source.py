# Replaying recorded books into the simulator: the market frames a polyarb journal holds become
# resting orders of one "book source" account, at the recorded relative times, so a bot's orders
# meet recorded liquidity (`polyarb sim --from-journal DIR`).
#
# Rules:
# 1. Two passes over the journal (polyarb.journal.iter_records): the constructor reads the
#    `markets_loaded` records (first description of each condition id wins) and the time of
#    the first market frame; setup() then streams the `raw_frame` records of the market channel
#    one at a time, so memory does not grow with the journal.
# 2. Frames are parsed with the engine's own parser (polyarb.core.wire.parse_frame). A `book`
#    replaces the source's orders in that market; each `price_change` entry sets one level;
#    `tick_size_change` changes the market's tick. Both tokens of a market describe the same
#    YES-space book (a NO bid at q is a YES ask at 1 - q), so whichever arrives last wins and the
#    mirrored duplicates the venue sends are no-ops.
# 3. Limits (docs/simulator.md): recorded trades are not replayed as trades (their effect
#    arrives with the following book frames); levels smaller than the market's minimum order
#    size are rounded up to it (tops of book stay right, depth there is overstated); a price
#    finer than the market's tick makes the tick finer (the largest venue tick dividing it);
#    a crossed recorded book loses its crossing bids; a bot's resting orders that a recorded
#    level crosses are filled by the book source (the recording did not see the bot).
# 4. Nothing is dropped silently: everything skipped, adjusted or refused is counted in
#    `stats()`.
# 5. Times: a frame is due at start + (its ts_recv_ns - the first frame's), never going
#    backwards; with `max_gap_ms` every longer silence (e.g. between runs) is shortened to it.
from __future__ import annotations

import binascii
from collections.abc import Iterator
from pathlib import Path

import msgspec

from polyarb.core.wire import parse_frame
from polyarb.core.wire_types import BookSnapshot, Level, PriceChange, TickSizeChange
from polyarb.events.inputs import MarketInfo, MarketsLoaded, RawFrame
from polyarb.journal import iter_records
from polyarb.sim.errors import SimError
from polyarb.sim.exchange import Exchange
from polyarb.sim.model import MICROS, VALID_TICKS_MICROS
from polyarb.sim.scenario.agents import QuoteSet
from polyarb.sim.scenario.quotes import Quote

BOOK_OWNER = "journal:book"
BOOK_COLLATERAL_MICROS = 10**12 * MICROS


def _scan(path: Path) -> tuple[list[MarketInfo], int | None, dict[str, int]]:
    """Pass 1 (rule 1): markets by first description, the first market frame's time."""
    markets: dict[str, MarketInfo] = {}
    counts = {"markets_not_binary": 0}
    first: int | None = None
    for record in iter_records(path):
        event = record.event
        if isinstance(event, MarketsLoaded):
            for info in event.markets:
                if len(info.tokens) != 2:
                    counts["markets_not_binary"] += 1
                elif info.condition_id not in markets:
                    markets[info.condition_id] = info
        elif first is None and isinstance(event, RawFrame) and event.channel == "market":
            first = event.ts_recv_ns
    return list(markets.values()), first, counts


def _frames(path: Path) -> Iterator[RawFrame]:
    for record in iter_records(path):
        event = record.event
        if isinstance(event, RawFrame) and event.channel == "market":
            yield event


class JournalScenario:
    """Recorded books as a market source (same interface as Scenario; see the module rules).

    Raises (constructor):
        JournalUnreadable / JournalCorrupt: the journal cannot be read.
        ValueError: the journal describes no binary market (no `markets_loaded` record).
    """

    def __init__(self, journal_dir: Path | str, *, max_gap_ms: int | None = None,
                 max_frames_per_step: int | None = None, owner: str = BOOK_OWNER) -> None:
        self.journal_dir = Path(journal_dir)
        self.owner = owner
        self.max_frames_per_step = max_frames_per_step
        self._max_gap_ns = None if max_gap_ms is None else max_gap_ms * 1_000_000
        markets, self._t0, self._counts = _scan(self.journal_dir)
        if not markets:
            raise ValueError(f"{self.journal_dir}: no markets_loaded record describes a binary "
                             "market, so there is nothing to replay")
        self._markets = markets
        self._quotes: dict[str, QuoteSet] = {}
        self._token: dict[str, tuple[str, bool]] = {}  # token id -> (condition id, is YES)
        self._min_size: dict[str, int] = {}
        self._tick: dict[str, int] = {}
        self._frames: Iterator[RawFrame] | None = None
        self._next: tuple[int, RawFrame] | None = None
        self._last_ts = 0
        self._due = 0
        self.skipped_markets: list[tuple[str, str]] = []  # (condition id, why)

    # --- the server's interface -------------------------------------------------------------

    def markets(self) -> list[MarketInfo]:
        """The recorded markets (binary ones, first description of each)."""
        return list(self._markets)

    def setup(self, exchange: Exchange, now_ns: int) -> None:
        """Register the markets (skipping ones the exchange refuses, see `skipped_markets`),
        open the book-source account and start streaming frames from `now_ns` on.

        Raises:
            RuntimeError: called twice.
        """
        if self._frames is not None:
            raise RuntimeError("JournalScenario.setup called twice")
        for info in self._markets:
            try:
                exchange.add_market(info)
            except SimError as exc:
                self.skipped_markets.append((info.condition_id, str(exc)))
                continue
            cid = info.condition_id
            yes, no = info.tokens[0].token_id, info.tokens[1].token_id
            self._quotes[cid] = QuoteSet(self.owner, cid, yes, no, post_only=False)
            self._token[yes], self._token[no] = (cid, True), (cid, False)
            self._min_size[cid] = info.min_order_size_micros
            self._tick[cid] = info.tick_size_micros
        if self.owner not in exchange.ledger.accounts:
            exchange.open_account(self.owner, collateral_micros=BOOK_COLLATERAL_MICROS)
        self._frames = _frames(self.journal_dir)
        self._due, self._last_ts = now_ns, self._t0 or 0
        self._pull()

    def next_due_ns(self) -> int | None:
        """When the next recorded frame is due; None before setup and after the last one."""
        return None if self._next is None else self._next[0]

    def step(self, exchange: Exchange, now_ns: int) -> None:
        """Apply every recorded frame due at or before `now_ns`, in journal order; at most
        `max_frames_per_step` of them when set (the rest stay due).

        Raises:
            RuntimeError: called before setup.
            JournalCorrupt: the journal went bad while streaming.
        """
        if self._frames is None:
            raise RuntimeError("JournalScenario.step called before setup")
        budget = self.max_frames_per_step
        while self._next is not None and self._next[0] <= now_ns and (budget is None
                                                                      or budget > 0):
            if budget is not None:
                budget -= 1
            self._apply(exchange, self._next[1], now_ns)
            self._pull()

    def stats(self) -> dict[str, int]:
        """What was replayed, adjusted, skipped or refused (rule 4)."""
        out = dict(self._counts)
        out["markets_skipped"] = len(self.skipped_markets)
        for quotes in self._quotes.values():
            for code, n in quotes.rejects.items():
                out["rejected_" + code] = out.get("rejected_" + code, 0) + n
        return out

    # --- frames -------------------------------------------------------------------------------

    def _pull(self) -> None:
        assert self._frames is not None
        frame = next(self._frames, None)
        if frame is None:
            self._next = None
            return
        gap = max(0, frame.ts_recv_ns - self._last_ts)  # rule 5: never backwards
        if self._max_gap_ns is not None:
            gap = min(gap, self._max_gap_ns)
        self._last_ts = max(self._last_ts, frame.ts_recv_ns)
        self._due += gap
        self._next = (self._due, frame)

    def _count(self, key: str, n: int = 1) -> None:
        self._counts[key] = self._counts.get(key, 0) + n

    def _apply(self, ex: Exchange, frame: RawFrame, now_ns: int) -> None:
        raw: bytes | msgspec.Raw | None = frame.frame if len(frame.frame) else None
        text = frame.text
        if frame.binary and text is not None:  # journaled as base64 (a binary websocket frame)
            raw, text = binascii.a2b_base64(text), None
        result = parse_frame(raw, text)
        self._count("frames")
        if result.rejects:
            self._count("frame_rejects", len(result.rejects))
        for msg in result.messages:
            if isinstance(msg, BookSnapshot):
                self._book(ex, msg, now_ns)
            elif isinstance(msg, PriceChange):
                self._changes(ex, msg, now_ns)
            elif isinstance(msg, TickSizeChange):
                self._tick_change(ex, msg.token_id, msg.new_tick_micros, now_ns)
            else:
                self._count("ignored_" + type(msg).__name__)

    def _book(self, ex: Exchange, msg: BookSnapshot, now_ns: int) -> None:
        where = self._token.get(msg.token_id)
        if where is None:
            self._count("unknown_token")
            return
        cid, is_yes = where
        if msg.tick_size_micros is not None:
            self._tick_change(ex, msg.token_id, msg.tick_size_micros, now_ns)
        quotes = [self._yes_space(cid, is_yes, True, lv) for lv in msg.bids]
        quotes += [self._yes_space(cid, is_yes, False, lv) for lv in msg.asks]
        for _, price, _ in quotes:
            self._fit_tick(ex, cid, price, now_ns)
        self._quotes[cid].sync(ex, self._uncross(quotes), now_ns)
        self._count("books")

    def _changes(self, ex: Exchange, msg: PriceChange, now_ns: int) -> None:
        for token, is_bid, price, size, _, _ in msg.changes:
            where = self._token.get(token)
            if where is None:
                self._count("unknown_token")
                continue
            cid, is_yes = where
            yes_bid, yes_price, yes_size = self._yes_space(cid, is_yes, is_bid, (price, size))
            self._fit_tick(ex, cid, yes_price, now_ns)
            self._quotes[cid].set_level(ex, yes_bid, yes_price, yes_size, now_ns)
            self._count("level_changes")

    def _tick_change(self, ex: Exchange, token: str, tick: int, now_ns: int) -> None:
        where = self._token.get(token)
        if where is None or tick not in VALID_TICKS_MICROS:
            self._count("unknown_token" if where is None else "bad_tick")
            return
        if self._tick[where[0]] != tick:
            self._tick[where[0]] = tick
            ex.set_tick_size(where[0], tick, now_ns)

    def _fit_tick(self, ex: Exchange, cid: str, price: int, now_ns: int) -> None:
        """A price off the market's grid: the recording had a finer tick (rule 3)."""
        tick = self._tick[cid]
        if 0 < price < MICROS and price % tick:
            finer = next((t for t in VALID_TICKS_MICROS if t < tick and price % t == 0), None)
            if finer is not None:
                self._tick[cid] = finer
                ex.set_tick_size(cid, finer, now_ns)
                self._count("tick_inferred")

    def _yes_space(self, cid: str, is_yes: bool, is_bid: bool, level: Level) -> Quote:
        price, size = level
        if 0 < size < self._min_size[cid]:
            self._count("levels_rounded_up")
            size = self._min_size[cid]
        return (is_bid, price, size) if is_yes else (not is_bid, MICROS - price, size)

    def _uncross(self, quotes: list[Quote]) -> list[Quote]:
        best_ask = min((p for b, p, _ in quotes if not b), default=MICROS)
        kept = [q for q in quotes if not q[0] or q[1] < best_ask]
        if len(kept) != len(quotes):
            self._count("crossed_levels_dropped", len(quotes) - len(kept))
        return kept
