# Replaying recorded books into the simulator: the market frames a polyarb journal holds become
# resting orders of one "book source" account, at the recorded relative times, so a bot's orders
# meet recorded liquidity (`polyarb sim --from-journal DIR`).
#
# Rules:
# 1. Two passes over the journal (polyarb.journal.iter_records): the constructor reads the
#    `markets_loaded` records (first description of each condition id wins) and the time of
#    the first market frame; setup() then streams the `raw_frame` records of the market channel
#    one at a time, so memory does not grow with the journal.
# 2. Each frame is reproduced by polyarb.sim.book_mirror.BookMirror (its rules: a `book`
#    replaces the source's orders in that market, a `price_change` entry sets one level,
#    `tick_size_change` changes the tick, both tokens describe one YES-space book). Messages
#    that are not about books are counted as `ignored_<type>`.
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

from polyarb.events.inputs import MarketInfo, MarketsLoaded, RawFrame
from polyarb.journal import iter_records
from polyarb.sim.book_mirror import BOOK_COLLATERAL_MICROS, BookMirror
from polyarb.sim.exchange import Exchange

BOOK_OWNER = "journal:book"
__all__ = ["BOOK_COLLATERAL_MICROS", "BOOK_OWNER", "JournalScenario"]


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
        self._mirror: BookMirror | None = None
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
        self._mirror = BookMirror(exchange, self.owner)
        self.skipped_markets.extend(self._mirror.load_markets(self._markets))
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
            self._apply(self._next[1], now_ns)
            self._pull()

    def stats(self) -> dict[str, int]:
        """What was replayed, adjusted, skipped or refused (rule 4)."""
        out = dict(self._counts)
        if self._mirror is not None:
            out.update(self._mirror.counters)
        out["markets_skipped"] = len(self.skipped_markets)
        if self._mirror is not None:
            out.update(("rejected_" + code, n) for code, n in self._mirror.rejects().items())
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

    def _apply(self, frame: RawFrame, now_ns: int) -> None:
        assert self._mirror is not None
        raw: bytes | msgspec.Raw | None = frame.frame if len(frame.frame) else None
        text = frame.text
        if frame.binary and text is not None:  # journaled as base64 (a binary websocket frame)
            raw, text = binascii.a2b_base64(text), None
        for msg in self._mirror.apply(raw, text, now_ns):
            self._mirror.count("ignored_" + type(msg).__name__)
