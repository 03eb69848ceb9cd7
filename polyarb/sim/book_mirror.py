# Recorded or live market-channel books reproduced inside a simulator Exchange as the resting
# orders of one "book source" account. Shared by the journal replay
# (polyarb/sim/scenario/journal_source.py) and the paper venue (polyarb/venues/paper_book.py),
# which differ only in where frames come from and when they are due.
#
# Rules:
# 1. Pure: no I/O, no clock. Time arrives as `now_ns`; frames arrive as bytes/text and are parsed
#    with the engine's own parser (polyarb.core.wire.parse_frame).
# 2. A `book` replaces the source's orders in that market; each `price_change` entry sets one
#    level; `tick_size_change` changes the market's tick. Both tokens of a market describe the
#    same YES-space book (a NO bid at q is a YES ask at 1 - q), so whichever arrives last wins
#    and the mirrored duplicates the venue sends are no-ops.
# 3. Adjustments (docs/simulator.md): levels smaller than the market's minimum order size are
#    rounded up to it (tops of book stay right, depth there is overstated); a price finer than
#    the market's tick makes the tick finer (the largest venue tick dividing it); a crossed book
#    loses its crossing bids.
# 4. Nothing is dropped silently: what was skipped or adjusted is counted in `counters` (in the
#    order first seen), refused orders in `rejects()`; messages that are not about books are
#    handed back to the caller, which decides whether to count them.
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from polyarb.core.wire import parse_frame
from polyarb.core.wire_types import BookSnapshot, Level, PriceChange, TickSizeChange, WireMessage
from polyarb.events.inputs import MarketInfo
from polyarb.sim.errors import SimError
from polyarb.sim.exchange import Exchange
from polyarb.sim.model import MICROS, VALID_TICKS_MICROS

if TYPE_CHECKING:  # polyarb.sim.scenario imports this module (see add_market)
    from polyarb.sim.scenario.agents import QuoteSet
    from polyarb.sim.scenario.quotes import Quote

BOOK_COLLATERAL_MICROS = 10**12 * MICROS


class BookMirror:
    """Reproduces market frames into `exchange` as the quotes of account `owner` (rules 1-4).

    The constructor opens the owner's account (with ample collateral) unless it exists.
    """

    def __init__(self, exchange: Exchange, owner: str) -> None:
        self.exchange = exchange
        self.owner = owner
        self.counters: dict[str, int] = {}
        self._quotes: dict[str, QuoteSet] = {}
        self._token: dict[str, tuple[str, bool]] = {}  # token id -> (condition id, is YES)
        self._min_size: dict[str, int] = {}
        self._tick: dict[str, int] = {}
        if owner not in exchange.ledger.accounts:
            exchange.open_account(owner, collateral_micros=BOOK_COLLATERAL_MICROS)

    # --- markets ------------------------------------------------------------------------------

    def add_market(self, info: MarketInfo) -> str | None:
        """Register a binary market (first token YES) once.

        Returns:
            None when mirrored (or already), else why the exchange refused it.
        """
        cid = info.condition_id
        if cid in self._quotes:
            return None
        try:
            self.exchange.add_market(info)
        except SimError as exc:
            return str(exc)
        # Imported here: polyarb.sim.scenario's __init__ imports the journal replay, which
        # imports this module, so a module-level import would be circular.
        from polyarb.sim.scenario.agents import QuoteSet

        yes, no = info.tokens[0].token_id, info.tokens[1].token_id
        self._quotes[cid] = QuoteSet(self.owner, cid, yes, no, post_only=False)
        self._token[yes], self._token[no] = (cid, True), (cid, False)
        self._min_size[cid] = info.min_order_size_micros
        self._tick[cid] = info.tick_size_micros
        return None

    def load_markets(self, markets: Iterable[MarketInfo]) -> list[tuple[str, str]]:
        """Register each market in order; returns (condition id, reason) for each one refused."""
        refused = []
        for info in markets:
            why = self.add_market(info)
            if why is not None:
                refused.append((info.condition_id, why))
        return refused

    def knows(self, token_id: str) -> bool:
        """Whether the token belongs to a mirrored market."""
        return token_id in self._token

    # --- frames -------------------------------------------------------------------------------

    def apply(self, frame: object, text: str | None, now_ns: int) -> list[WireMessage]:
        """Reproduce one market frame at `now_ns` (rule 2).

        Args:
            frame: the verbatim JSON (bytes, memoryview or msgspec.Raw), or None/empty.
            text: the frame as text when it was not JSON (see parse_frame).
            now_ns: the time the changes take effect.

        Returns:
            The parsed messages that are not about books (rule 4), in frame order.
        """
        result = parse_frame(frame, text)
        self.count("frames")
        if result.rejects:
            self.count("frame_rejects", len(result.rejects))
        return [msg for msg in result.messages if not self.apply_message(msg, now_ns)]

    def apply_message(self, msg: WireMessage, now_ns: int) -> bool:
        """Reproduce one parsed message; False when it is not a book/level/tick message."""
        if isinstance(msg, BookSnapshot):
            self._book(msg, now_ns)
        elif isinstance(msg, PriceChange):
            self._changes(msg, now_ns)
        elif isinstance(msg, TickSizeChange):
            self._tick_change(msg.token_id, msg.new_tick_micros, now_ns)
        else:
            return False
        return True

    # --- counters -----------------------------------------------------------------------------

    def count(self, key: str, n: int = 1) -> None:
        """Add `n` to counter `key` (callers count what they skip here too, rule 4)."""
        self.counters[key] = self.counters.get(key, 0) + n

    def rejects(self) -> dict[str, int]:
        """Orders of the book source the exchange refused, by reject code (market order)."""
        out: dict[str, int] = {}
        for quotes in self._quotes.values():
            for code, n in quotes.rejects.items():
                out[code] = out.get(code, 0) + n
        return out

    # --- reproduction -------------------------------------------------------------------------

    def _book(self, msg: BookSnapshot, now_ns: int) -> None:
        where = self._token.get(msg.token_id)
        if where is None:
            self.count("unknown_token")
            return
        cid, is_yes = where
        if msg.tick_size_micros is not None:
            self._tick_change(msg.token_id, msg.tick_size_micros, now_ns)
        quotes = [self._yes_space(cid, is_yes, True, lv) for lv in msg.bids]
        quotes += [self._yes_space(cid, is_yes, False, lv) for lv in msg.asks]
        for _, price, _ in quotes:
            self._fit_tick(cid, price, now_ns)
        self._quotes[cid].sync(self.exchange, self._uncross(quotes), now_ns)
        self.count("books")

    def _changes(self, msg: PriceChange, now_ns: int) -> None:
        for token, is_bid, price, size, _, _ in msg.changes:
            where = self._token.get(token)
            if where is None:
                self.count("unknown_token")
                continue
            cid, is_yes = where
            yes_bid, yes_price, yes_size = self._yes_space(cid, is_yes, is_bid, (price, size))
            self._fit_tick(cid, yes_price, now_ns)
            self._quotes[cid].set_level(self.exchange, yes_bid, yes_price, yes_size, now_ns)
            self.count("level_changes")

    def _tick_change(self, token: str, tick: int, now_ns: int) -> None:
        where = self._token.get(token)
        if where is None or tick not in VALID_TICKS_MICROS:
            self.count("unknown_token" if where is None else "bad_tick")
            return
        if self._tick[where[0]] != tick:
            self._tick[where[0]] = tick
            self.exchange.set_tick_size(where[0], tick, now_ns)

    def _fit_tick(self, cid: str, price: int, now_ns: int) -> None:
        """A price off the market's grid: the source had a finer tick (rule 3)."""
        tick = self._tick[cid]
        if 0 < price < MICROS and price % tick:
            finer = next((t for t in VALID_TICKS_MICROS if t < tick and price % t == 0), None)
            if finer is not None:
                self._tick[cid] = finer
                self.exchange.set_tick_size(cid, finer, now_ns)
                self.count("tick_inferred")

    def _yes_space(self, cid: str, is_yes: bool, is_bid: bool, level: Level) -> Quote:
        price, size = level
        if 0 < size < self._min_size[cid]:
            self.count("levels_rounded_up")
            size = self._min_size[cid]
        return (is_bid, price, size) if is_yes else (not is_bid, MICROS - price, size)

    def _uncross(self, quotes: list[Quote]) -> list[Quote]:
        best_ask = min((p for b, p, _ in quotes if not b), default=MICROS)
        kept = [q for q in quotes if not q[0] or q[1] < best_ask]
        if len(kept) != len(quotes):
            self.count("crossed_levels_dropped", len(quotes) - len(kept))
        return kept
