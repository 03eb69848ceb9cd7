# Pre-trade risk gates: pure functions from (candidate, exposure, breaker state, config) to a
# Block naming the first gate that refuses it, or None.
#
# Rules:
# 1. Gates run in the fixed order of GATES; check() reports the first failing one, check_all()
#    every failing one (for diagnostics). Nothing here mutates anything or reads a clock.
# 2. Gate names are stable (they are journaled in OpportunityBlocked.gate and queried in SQL).
#    Block.limit / Block.observed are ints in the unit GATE_UNITS names; gate_value() turns
#    them into the Decimal an OpportunityBlocked carries (shares and dollars exactly):
#      breaker_halted      state  limit 0 (ACTIVE), observed 2 (HALTED)
#      breaker_reducing    state  limit 0 (ACTIVE), observed 1 (REDUCING)
#      min_order_size      shares fails when the smallest leg size < max(config, venue) minimum
#      min_order_notional  usd    fails when the smallest leg notional < the minimum
#      max_order_size      shares fails when the candidate size > the maximum
#      max_open_positions  count  open positions + 1 if the candidate opens a new one > limit
#      max_market_exposure usd    a market's exposure + what the candidate adds there > limit
#      max_group_exposure  usd    the neg-risk group's exposure + what the candidate adds > limit
#      max_total_exposure  usd    total exposure + what the candidate adds > limit
# 3. Breaker semantics: HALTED blocks everything, unwinds included. REDUCING blocks every new
#    opportunity: even a hedged complete set leaves naked exposure if one leg fails, and the
#    breaker does not know which sells are covered. Unwinds only reduce exposure, so
#    check_unwind() lets them through unless HALTED.
# 4. What a candidate adds: the notional plus fee of its BUY legs (the capital committed if every
#    buy fills and no sell does). Sells are neither charged nor credited (conservative). Legs are
#    attributed to markets through `token_market` (token id -> condition id) when given, else to
#    candidate.market_id. A candidate opens a new position when it buys and its market
#    (candidate.market_id) has no exposure yet. group_id None means "no neg-risk group": the
#    group gate is skipped.
# 5. capacity_micros() is the share cap detection may size to: the largest size, on the lot
#    grid, that passes every exposure gate when each buy leg is charged its worst (limit) price
#    plus its fee per share at the candidate's size. Average prices never exceed the worst
#    price, so a walk to a smaller size stays within the cap's budget.
# 6. MemoExposure remembers an ExposureView's answers: capacity and the gates ask the same
#    questions of one state. Its owner builds a new one whenever that state may change.
# 7. Scope: where a candidate's legs are charged (group, token -> market, the venue's minimum
#    size), read from the registry once per candidate: re-sizing keeps its tokens.
from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Literal, NamedTuple

import msgspec

from polyarb.core.breaker import BreakerConfig
from polyarb.core.markets import MarketRegistry
from polyarb.core.types import BUY, Block, Candidate, ExposureView
from polyarb.events.base import MICROS
from polyarb.events.decisions import BreakerState

GateUnit = Literal["state", "shares", "usd", "count"]

GATE_UNITS: dict[str, GateUnit] = {
    "breaker_halted": "state",
    "breaker_reducing": "state",
    "min_order_size": "shares",
    "min_order_notional": "usd",
    "max_order_size": "shares",
    "max_open_positions": "count",
    "max_market_exposure": "usd",
    "max_group_exposure": "usd",
    "max_total_exposure": "usd",
}
GATES: tuple[str, ...] = tuple(GATE_UNITS)
_STATE_LEVEL: dict[BreakerState, int] = {"ACTIVE": 0, "REDUCING": 1, "HALTED": 2}
_BREAKER_DEFAULTS = BreakerConfig()


class RiskConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Pre-trade limits. Money and sizes in micros. Build it with from_breaker() so the
    position and exposure limits match the breaker's.

    Defaults: the breaker's position/exposure defaults; min size 5 shares (the venue's usual
    min_order_size); min leg notional $1 (the venue's marketable-order minimum); max size 1,000
    shares per leg; lot 0.01 share (the venue's size grid).
    """

    max_open_positions: int = _BREAKER_DEFAULTS.max_open_positions
    max_market_exposure_micros: int = _BREAKER_DEFAULTS.max_market_exposure_micros
    max_group_exposure_micros: int = _BREAKER_DEFAULTS.max_group_exposure_micros
    max_total_exposure_micros: int = _BREAKER_DEFAULTS.max_total_exposure_micros
    min_order_size_micros: int = 5_000_000
    min_order_notional_micros: int = 1_000_000
    max_order_size_micros: int = 1_000_000_000
    lot_micros: int = 10_000

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            if getattr(self, name) < 0:
                raise ValueError(f"RiskConfig.{name} must be >= 0")
        if self.lot_micros == 0:
            raise ValueError("RiskConfig.lot_micros must be > 0")

    @classmethod
    def from_breaker(cls, breaker: BreakerConfig, **sizes: int) -> RiskConfig:
        """A RiskConfig sharing the breaker's limits; `sizes` sets the size/notional fields."""
        return cls(
            max_open_positions=breaker.max_open_positions,
            max_market_exposure_micros=breaker.max_market_exposure_micros,
            max_group_exposure_micros=breaker.max_group_exposure_micros,
            max_total_exposure_micros=breaker.max_total_exposure_micros,
            **sizes,
        )


class Scope(NamedTuple):
    """Where a candidate is charged (rule 7): check()'s group and keyword arguments."""

    group_id: str | None
    token_market: dict[str, str]
    venue_min_size_micros: int


def scope_of(candidate: Candidate, registry: MarketRegistry) -> Scope:
    """The candidate's neg-risk group, each leg's market and the largest venue minimum."""
    token_market: dict[str, str] = {}
    sizes: list[int] = []
    for leg in candidate.legs:
        cid = registry.market_of(leg.token_id)
        if cid is None:
            continue
        token_market[leg.token_id] = cid
        info = registry.market(cid)
        if info is not None:
            sizes.append(info.min_order_size_micros)
    return Scope(_group_of(candidate, registry), token_market, max(sizes, default=0))


def _group_of(candidate: Candidate, registry: MarketRegistry) -> str | None:
    if candidate.strategy.startswith("neg_risk"):
        return candidate.market_id  # a basket's market id is its group id
    info = registry.market(candidate.market_id)
    if info is None or not info.neg_risk:
        return None
    return info.neg_risk_market_id


class MemoExposure:
    """An ExposureView that asks the view it wraps each question once (rule 6).

    Valid only while the wrapped state does not change: the engine builds one per frame and
    a new one after placing orders.
    """

    __slots__ = ("_groups", "_markets", "_open", "_total", "_view")

    def __init__(self, view: ExposureView) -> None:
        self._view = view
        self._markets: dict[str, int] = {}
        self._groups: dict[str, int] = {}
        self._total: int | None = None
        self._open: int | None = None

    def market_exposure_micros(self, market_id: str) -> int:
        """The wrapped view's answer, remembered."""
        got = self._markets.get(market_id)
        if got is None:
            got = self._markets[market_id] = self._view.market_exposure_micros(market_id)
        return got

    def group_exposure_micros(self, group_id: str) -> int:
        """The wrapped view's answer, remembered."""
        got = self._groups.get(group_id)
        if got is None:
            got = self._groups[group_id] = self._view.group_exposure_micros(group_id)
        return got

    def total_exposure_micros(self) -> int:
        """The wrapped view's answer, remembered."""
        if self._total is None:
            self._total = self._view.total_exposure_micros()
        return self._total

    def open_positions(self) -> int:
        """The wrapped view's answer, remembered."""
        if self._open is None:
            self._open = self._view.open_positions()
        return self._open


class _Term(NamedTuple):
    """One exposure limit a candidate must fit under."""

    gate: str
    key: str  # market or group id, "" for the total
    limit: int
    current: int
    added: int  # exact: notional + fees of the buy legs it covers
    per_share: int  # worst case, micro-dollars per share (micros) of candidate size


def gate_value(gate: str, value: int) -> Decimal:
    """A Block's limit or observed value as the exact Decimal an OpportunityBlocked carries.

    Shares and dollars come from micros; counts and states stay integers.
    """
    if GATE_UNITS.get(gate) in ("shares", "usd"):
        return Decimal(value) / Decimal(MICROS)
    return Decimal(value)


def check(
    candidate: Candidate,
    exposure: ExposureView,
    breaker_state: BreakerState,
    config: RiskConfig,
    group_id: str | None,
    *,
    token_market: Mapping[str, str] | None = None,
    venue_min_size_micros: int = 0,
) -> Block | None:
    """Run every pre-trade gate, in GATES order, and return the first refusal.

    Args:
        candidate: the sized opportunity.
        exposure: current positions (ExposureView).
        breaker_state: the breaker's current state.
        config: the limits.
        group_id: the candidate's neg-risk group (negRiskMarketID), None outside any group.
        token_market: token id -> condition id, to charge each leg to its own market.
        venue_min_size_micros: the market's min_order_size; the stricter minimum applies.

    Returns:
        The first failing gate's Block, or None when the candidate may trade.
    """
    blocks = _blocks(candidate, exposure, breaker_state, config, group_id, token_market,
                     venue_min_size_micros)
    return next(blocks, None)


def check_all(
    candidate: Candidate,
    exposure: ExposureView,
    breaker_state: BreakerState,
    config: RiskConfig,
    group_id: str | None,
    *,
    token_market: Mapping[str, str] | None = None,
    venue_min_size_micros: int = 0,
) -> list[Block]:
    """Like check(), but every failing gate, in GATES order."""
    return list(_blocks(candidate, exposure, breaker_state, config, group_id, token_market,
                        venue_min_size_micros))


def check_unwind(breaker_state: BreakerState) -> Block | None:
    """Gate for an exposure-reducing unwind: refused only while HALTED."""
    return _breaker_block(breaker_state, allow_reducing=True)


def capacity_micros(
    candidate: Candidate,
    exposure: ExposureView,
    breaker_state: BreakerState,
    config: RiskConfig,
    group_id: str | None,
    *,
    token_market: Mapping[str, str] | None = None,
) -> int:
    """The most shares (micros, per leg) this candidate may trade within every limit.

    The cap is on config.lot_micros' grid, at most config.max_order_size_micros, and 0 when the
    breaker or the open-positions gate refuses the candidate outright. Min size and notional
    are not applied: a cap below them simply makes check() refuse.

    Args:
        candidate: a candidate at some size; its legs' limit prices and fees set the per-share
            worst cost.
        exposure, breaker_state, config, group_id, token_market: as for check().

    Returns:
        The cap in share micros.
    """
    if _breaker_block(breaker_state, allow_reducing=False) is not None:
        return 0
    if _positions_block(candidate, exposure, config) is not None:
        return 0
    cap = config.max_order_size_micros
    for term in _exposure_terms(candidate, exposure, config, group_id, token_market):
        if term.per_share > 0:
            headroom = max(0, term.limit - term.current)
            cap = min(cap, headroom * MICROS // term.per_share)
    return cap // config.lot_micros * config.lot_micros


def _blocks(
    candidate: Candidate,
    exposure: ExposureView,
    state: BreakerState,
    config: RiskConfig,
    group_id: str | None,
    token_market: Mapping[str, str] | None,
    venue_min_size_micros: int,
) -> Iterator[Block]:
    # A generator so check() stops at the first refusal without asking the view for more.
    block = _breaker_block(state, allow_reducing=False)
    if block is not None:
        yield block
    yield from _size_blocks(candidate, config, venue_min_size_micros)
    block = _positions_block(candidate, exposure, config)
    if block is not None:
        yield block
    for term in _exposure_terms(candidate, exposure, config, group_id, token_market):
        observed = term.current + term.added
        if observed > term.limit:
            where = f" in {term.key}" if term.key else ""
            yield Block(gate=term.gate, limit=term.limit, observed=observed,
                        reason=f"exposure{where} would be {gate_value(term.gate, observed)}")


def _breaker_block(state: BreakerState, *, allow_reducing: bool) -> Block | None:
    level = _STATE_LEVEL[state]
    if state == "HALTED":
        return Block(gate="breaker_halted", limit=0, observed=level, reason="breaker HALTED")
    if state == "REDUCING" and not allow_reducing:
        return Block(gate="breaker_reducing", limit=0, observed=level,
                     reason="breaker REDUCING: only exposure-reducing orders")
    return None


def _size_blocks(candidate: Candidate, config: RiskConfig, venue_min: int) -> Iterator[Block]:
    smallest = min((leg.size_micros for leg in candidate.legs), default=candidate.size_micros)
    smallest = min(smallest, candidate.size_micros)
    min_size = max(config.min_order_size_micros, venue_min)
    if smallest < min_size:
        yield Block(gate="min_order_size", limit=min_size, observed=smallest,
                    reason="leg size below the minimum")
    notional = min((leg.notional_micros for leg in candidate.legs), default=0)
    if notional < config.min_order_notional_micros:
        yield Block(gate="min_order_notional", limit=config.min_order_notional_micros,
                    observed=notional, reason="leg notional below the minimum")
    if candidate.size_micros > config.max_order_size_micros:
        yield Block(gate="max_order_size", limit=config.max_order_size_micros,
                    observed=candidate.size_micros, reason="size above the maximum")


def _positions_block(
    candidate: Candidate, exposure: ExposureView, config: RiskConfig
) -> Block | None:
    buys = any(leg.side == BUY for leg in candidate.legs)
    opens = buys and exposure.market_exposure_micros(candidate.market_id) == 0
    observed = exposure.open_positions() + int(opens)
    if observed > config.max_open_positions:
        return Block(gate="max_open_positions", limit=config.max_open_positions,
                     observed=observed, reason=f"would hold {observed} open positions")
    return None


def _exposure_terms(
    candidate: Candidate,
    exposure: ExposureView,
    config: RiskConfig,
    group_id: str | None,
    token_market: Mapping[str, str] | None,
) -> Iterator[_Term]:
    # Per market (sorted ids, so the reported market never depends on leg order), then the
    # group, then the total; each with the exact amount added and the worst cost per share.
    added: dict[str, int] = {}
    per_share: dict[str, int] = {}
    for leg in candidate.legs:
        if leg.side != BUY:
            continue
        market = candidate.market_id
        if token_market is not None:
            market = token_market.get(leg.token_id, market)
        added[market] = added.get(market, 0) + leg.notional_micros + leg.fee_micros
        cost = _leg_per_share(leg.limit_price_micros, leg.fee_micros, leg.size_micros)
        per_share[market] = per_share.get(market, 0) + cost
    for market in sorted(added):
        yield _Term("max_market_exposure", market, config.max_market_exposure_micros,
                    exposure.market_exposure_micros(market), added[market], per_share[market])
    total_added, total_per_share = sum(added.values()), sum(per_share.values())
    if group_id is not None:
        yield _Term("max_group_exposure", group_id, config.max_group_exposure_micros,
                    exposure.group_exposure_micros(group_id), total_added, total_per_share)
    yield _Term("max_total_exposure", "", config.max_total_exposure_micros,
                exposure.total_exposure_micros(), total_added, total_per_share)


def _leg_per_share(price_micros: int, fee_micros: int, size_micros: int) -> int:
    # Worst price plus the fee per share, rounded up so the cap never overshoots.
    if size_micros <= 0:
        return price_micros
    return price_micros + -(-fee_micros * MICROS // size_micros)
