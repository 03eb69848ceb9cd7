# The paper venue's book mirror: live market frames reproduced as the resting orders of one
# "book source" account inside a simulator Exchange, so paper orders meet the live liquidity.
#
# Rules (the same reproduction as polyarb/sim/scenario/journal_source.py, applied to frames as
# they arrive instead of from a journal; both delegate to polyarb.sim.book_mirror.BookMirror):
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

from polyarb.events.inputs import MarketInfo
from polyarb.sim import book_mirror
from polyarb.sim.book_mirror import BOOK_COLLATERAL_MICROS
from polyarb.sim.exchange import Exchange

BOOK_OWNER = "paper:book"
__all__ = ["BOOK_COLLATERAL_MICROS", "BOOK_OWNER", "BookMirror"]


class BookMirror:
    """Reproduces market frames into `exchange` as the book source's quotes (rules 1-4).

    Raises (constructor):
        SimError: the exchange has an account named `owner` already.
    """

    def __init__(self, exchange: Exchange, owner: str = BOOK_OWNER) -> None:
        self.exchange = exchange
        self.owner = owner
        exchange.open_account(owner, collateral_micros=BOOK_COLLATERAL_MICROS)
        self._mirror = book_mirror.BookMirror(exchange, owner)
        self.stats: dict[str, int] = self._mirror.counters  # the same dict, kept current

    def add_market(self, info: MarketInfo) -> str | None:
        """Register a binary market (first token YES); the reason when the exchange refuses."""
        why = self._mirror.add_market(info)
        if why is not None:
            self._mirror.count("markets_refused")
        return why

    def knows(self, token_id: str) -> bool:
        """Whether the token belongs to a mirrored market."""
        return self._mirror.knows(token_id)

    def apply(self, data: str | bytes, now_ns: int) -> None:
        """Reproduce one received market frame at `now_ns` (rule 1); other messages are ignored."""
        if isinstance(data, bytes):
            self._mirror.apply(data, None, now_ns)
        elif data.lstrip()[:1] in ("{", "["):
            self._mirror.apply(data.encode(), None, now_ns)
        else:
            self._mirror.apply(None, data, now_ns)
