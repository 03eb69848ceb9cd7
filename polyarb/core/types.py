# Small shared types of the deterministic core: the seams between books, detection, risk and
# orders. Pure data and Protocols only; no behaviour lives here.
#
# Units: every price, size and amount is an int in micro-units (1e-6 of a share or of a dollar).
# A price in micros is dollars per share * 1e6 (0.52 -> 520_000); a notional is
# price_micros * size_micros // 1_000_000 (exact when sizes are on the venue's grid).
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import msgspec

from polyarb.events.decisions import Leg, Strategy

BUY: Literal["BUY"] = "BUY"
SELL: Literal["SELL"] = "SELL"


class BookView(Protocol):
    """What detection needs from one token's order book (polyarb/core/book.py implements it)."""

    token_id: str

    @property
    def usable(self) -> bool:
        """False until the first snapshot, and while continuity is broken."""
        ...

    @property
    def epoch(self) -> int:
        """Continuity epoch: bumps every time a fresh snapshot starts a new continuous run."""
        ...

    def best_bid(self) -> int | None: ...

    def best_ask(self) -> int | None: ...

    def asks_ascending(self) -> Sequence[tuple[int, int]]:
        """(price_micros, size_micros) levels, best (lowest) first."""
        ...

    def bids_descending(self) -> Sequence[tuple[int, int]]:
        """(price_micros, size_micros) levels, best (highest) first."""
        ...


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """A sized arbitrage found by detection, before risk gates and ids.

    The engine turns it into an OpportunityDetected (adding opp_id and cause_seq).
    """

    strategy: Strategy
    market_id: str  # condition id, or negRiskMarketID for a basket
    legs: tuple[Leg, ...]
    size_micros: int  # shares per leg
    cost_micros: int  # what the legs cost (buys) or raise (sells), before fees
    fees_micros: int
    edge_micros: int  # guaranteed profit after fees at this size


class Block(msgspec.Struct, frozen=True, kw_only=True):
    """Why a gate refused something: the gate's name, its limit and the observed value."""

    gate: str
    limit: int
    observed: int
    reason: str = ""


class ExposureView(Protocol):
    """What risk gates need from positions (polyarb/core/positions.py implements it)."""

    def market_exposure_micros(self, market_id: str) -> int: ...

    def group_exposure_micros(self, group_id: str) -> int: ...

    def total_exposure_micros(self) -> int: ...

    def open_positions(self) -> int: ...
