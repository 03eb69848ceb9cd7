# The paper venue's book mirror: live market frames reproduced as the resting orders of one
# "book source" account inside a simulator Exchange, so paper orders meet the live liquidity.
#
# Rules (the same reproduction as polyarb/sim/scenario/journal_source.py, applied to frames as
# they arrive instead of from a journal):
# 1. Frames are parsed with the engine's own parser (polyarb.core.wire.parse_frame). A `book`
#    replaces the source's orders in that market; each `price_change` entry sets one level;
#    `tick_size_change` changes the market's tick. Both tokens of a market describe the same
#    YES-space book (a NO bid at q is a YES ask at 1 - q), so the mirrored duplicates the
#    venue sends are no-ops.
# 2. Known differences from the venue: levels smaller than the market's minimum order size are
#    rounded up to it; a price finer than the tick makes the tick finer; a crossed live book
#    loses its crossing bids; liquidity a paper order took stays taken until the venue reports
#    that level again; a level that crosses one of our resting paper orders fills it (the
#    venue's frames never saw our order).
# 3. Nothing is dropped silently: what was skipped, adjusted or refused is counted in `stats`.
# 4. Sans-I/O: time arrives as `now_ns` (the frame's receive time).
from __future__ import annotations

from polyarb.core.wire import parse_frame
from polyarb.core.wire_types import BookSnapshot, Level, PriceChange, TickSizeChange
from polyarb.events.inputs import MarketInfo
from polyarb.sim.errors import SimError
from polyarb.sim.exchange import Exchange
from polyarb.sim.model import MICROS, VALID_TICKS_MICROS
from polyarb.sim.scenario.agents import QuoteSet
from polyarb.sim.scenario.quotes import Quote

BOOK_OWNER = "paper:book"
BOOK_COLLATERAL_MICROS = 10**12 * MICROS


class BookMirror:
    """Reproduces market frames into `exchange` as the book source's quotes (rules 1-4)."""

    def __init__(self, exchange: Exchange, owner: str = BOOK_OWNER) -> None:
        self.exchange = exchange
        self.owner = owner
        self.stats: dict[str, int] = {}
        self._quotes: dict[str, QuoteSet] = {}
        self._token: dict[str, tuple[str, bool]] = {}  # token id -> (condition id, is YES)
        self._min_size: dict[str, int] = {}
        self._tick: dict[str, int] = {}
        exchange.open_account(owner, collateral_micros=BOOK_COLLATERAL_MICROS)

    def add_market(self, info: MarketInfo) -> str | None:
        """Register a binary market (first token YES); the reason when the exchange refuses."""
        cid = info.condition_id
        if cid in self._quotes:
            return None
        try:
            self.exchange.add_market(info)
        except SimError as exc:
            self._count("markets_refused")
            return str(exc)
        yes, no = info.tokens[0].token_id, info.tokens[1].token_id
        self._quotes[cid] = QuoteSet(self.owner, cid, yes, no, post_only=False)
        self._token[yes], self._token[no] = (cid, True), (cid, False)
        self._min_size[cid] = info.min_order_size_micros
        self._tick[cid] = info.tick_size_micros
        return None

    def knows(self, token_id: str) -> bool:
        """Whether the token belongs to a mirrored market."""
        return token_id in self._token

    def apply(self, data: str | bytes, now_ns: int) -> None:
        """Reproduce one received market frame at `now_ns` (rule 1)."""
        if isinstance(data, bytes):
            result = parse_frame(data, None)
        elif data.lstrip()[:1] in ("{", "["):
            result = parse_frame(data.encode(), None)
        else:
            result = parse_frame(None, data)
        self._count("frames")
        if result.rejects:
            self._count("frame_rejects", len(result.rejects))
        for msg in result.messages:
            if isinstance(msg, BookSnapshot):
                self._book(msg, now_ns)
            elif isinstance(msg, PriceChange):
                self._changes(msg, now_ns)
            elif isinstance(msg, TickSizeChange):
                self._tick_change(msg.token_id, msg.new_tick_micros, now_ns)

    def _count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    def _book(self, msg: BookSnapshot, now_ns: int) -> None:
        where = self._token.get(msg.token_id)
        if where is None:
            self._count("unknown_token")
            return
        cid, is_yes = where
        if msg.tick_size_micros is not None:
            self._tick_change(msg.token_id, msg.tick_size_micros, now_ns)
        quotes = [self._yes_space(cid, is_yes, True, lv) for lv in msg.bids]
        quotes += [self._yes_space(cid, is_yes, False, lv) for lv in msg.asks]
        for _, price, _ in quotes:
            self._fit_tick(cid, price, now_ns)
        self._quotes[cid].sync(self.exchange, self._uncross(quotes), now_ns)
        self._count("books")

    def _changes(self, msg: PriceChange, now_ns: int) -> None:
        for token, is_bid, price, size, _, _ in msg.changes:
            where = self._token.get(token)
            if where is None:
                self._count("unknown_token")
                continue
            cid, is_yes = where
            yes_bid, yes_price, yes_size = self._yes_space(cid, is_yes, is_bid, (price, size))
            self._fit_tick(cid, yes_price, now_ns)
            self._quotes[cid].set_level(self.exchange, yes_bid, yes_price, yes_size, now_ns)
            self._count("level_changes")

    def _tick_change(self, token: str, tick: int, now_ns: int) -> None:
        where = self._token.get(token)
        if where is None or tick not in VALID_TICKS_MICROS:
            self._count("unknown_token" if where is None else "bad_tick")
            return
        if self._tick[where[0]] != tick:
            self._tick[where[0]] = tick
            self.exchange.set_tick_size(where[0], tick, now_ns)

    def _fit_tick(self, cid: str, price: int, now_ns: int) -> None:
        tick = self._tick[cid]
        if 0 < price < MICROS and price % tick:
            finer = next((t for t in VALID_TICKS_MICROS if t < tick and price % t == 0), None)
            if finer is not None:
                self._tick[cid] = finer
                self.exchange.set_tick_size(cid, finer, now_ns)
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
