# Read-only views the engine hands to execution, risk and detection. Part of polyarb.core.engine
# (see its rules); split out to keep the reducer short.
#
# Rules:
# 1. Views never mutate what they wrap and never cache across inputs: each is built from the
#    state at the moment of one decision, so a restored engine sees exactly what the live one saw.
# 2. Iteration is over sorted keys or explicit sequence numbers, never set or hash order.
from __future__ import annotations

from collections.abc import Sequence

from polyarb.core.book import Book
from polyarb.core.exec_common import cost_up
from polyarb.core.marketdata import MarketData
from polyarb.core.markets import MarketRegistry
from polyarb.core.orders import Orders
from polyarb.core.positions import Positions

DEFAULT_TICK_MICROS = 10_000  # a token the registry does not know trades on the 0.01 grid


class MarketContext:
    """MarketContext for execution: books, tick sizes and neg-risk flags by token."""

    __slots__ = ("_md", "_reg")

    def __init__(self, md: MarketData, registry: MarketRegistry) -> None:
        self._md, self._reg = md, registry

    def book(self, token_id: str) -> Book | None:
        """The token's book, or None before its first snapshot."""
        return self._md.book(token_id)

    def tick_size_micros(self, token_id: str) -> int:
        """The tick size of the token's market now (tick_size_change frames update it)."""
        cid = self._reg.market_of(token_id)
        info = None if cid is None else self._reg.market(cid)
        return DEFAULT_TICK_MICROS if info is None else info.tick_size_micros

    def neg_risk(self, token_id: str) -> bool:
        """Whether the token's market trades on the neg-risk exchange."""
        cid = self._reg.market_of(token_id)
        info = None if cid is None else self._reg.market(cid)
        return False if info is None else info.neg_risk


class PendingExposure:
    """Positions plus what our open BUY orders would add if they all filled (ExposureView).

    The risk gates must see orders in flight: without them, opportunities placed on
    consecutive frames, before any fill arrives, could together exceed every limit. An open
    order adds the rounded-up cost of its unfilled remainder to its token's market; a market
    with such orders and no exposure yet counts as one more open position.
    """

    __slots__ = ("_group", "_market", "_pos", "_total")

    def __init__(self, positions: Positions, orders: Orders) -> None:
        self._pos = positions
        self._market: dict[str, int] = {}
        for rec in orders.open_orders():  # oldest first: a stable order
            if rec.side != "BUY":
                continue
            rest = rec.size_micros - orders.filled(rec)
            if rest > 0:
                market = positions.market_of(rec.token_id)
                self._market[market] = self._market.get(market, 0) + cost_up(
                    rec.price_micros, rest)
        self._group: dict[str, int] = {}
        for market in sorted(self._market):
            group = positions.group_of(market)
            if group is not None:
                self._group[group] = self._group.get(group, 0) + self._market[market]
        self._total = sum(self._market.values())

    def pending_micros(self) -> dict[str, int]:
        """Committed cost of open BUY orders by market, sorted by market id."""
        return dict(sorted(self._market.items()))

    def market_exposure_micros(self, market_id: str) -> int:
        """The market's exposure plus its pending buys."""
        return self._pos.market_exposure_micros(market_id) + self._market.get(market_id, 0)

    def group_exposure_micros(self, group_id: str) -> int:
        """The group's exposure plus the pending buys of its markets."""
        return self._pos.group_exposure_micros(group_id) + self._group.get(group_id, 0)

    def total_exposure_micros(self) -> int:
        """Total exposure plus every pending buy."""
        return self._pos.total_exposure_micros() + self._total

    def open_positions(self) -> int:
        """Open positions plus markets that only have pending buys so far."""
        fresh = sum(1 for m in sorted(self._market)
                    if self._pos.market_exposure_micros(m) == 0)
        return self._pos.open_positions() + fresh


class CrossedView:
    """A crossed (hence broken) book shown to detection as usable, for crossed_book only.

    MarketData breaks a book the moment it crosses, so ordinary detection never sees it. The
    engine still sizes the crossing, through this view, to report it as an opportunity of
    strategy crossed_book, which it trades only when explicitly enabled.
    """

    __slots__ = ("_book", "token_id")

    def __init__(self, book: Book) -> None:
        self._book = book
        self.token_id = book.token_id

    @property
    def usable(self) -> bool:
        return True

    @property
    def epoch(self) -> int:
        return self._book.epoch

    def best_bid(self) -> int | None:
        return self._book.best_bid()

    def best_ask(self) -> int | None:
        return self._book.best_ask()

    def asks_ascending(self) -> Sequence[tuple[int, int]]:
        return self._book.asks_ascending()

    def bids_descending(self) -> Sequence[tuple[int, int]]:
        return self._book.bids_descending()
