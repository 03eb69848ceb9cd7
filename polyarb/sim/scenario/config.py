# The knobs of the seeded market scenario (polyarb/sim/scenario/scenario.py).
#
# Rules:
# 1. Frozen, keyword-only, unknown fields are errors (a typo in a config file fails loudly).
# 2. Exact units only: prices and sizes in micro-units (`*_micros`), ratios in percent or basis
#    points, times in milliseconds (`*_ms`). Ranges are (low, high) pairs, both inclusive, and a
#    value is drawn uniformly from them (integers, no float anywhere).
# 3. Validation happens once, in __post_init__, and names the offending field. It also checks
#    that a neg-risk event always has room for the largest dislocation (see `_room_error`).
from __future__ import annotations

from decimal import Decimal

import msgspec

from polyarb.sim.model import MICROS, VALID_TICKS_MICROS

Range = tuple[int, int]


class ScenarioConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A seeded synthetic market: binary markets, neg-risk events, makers, takers, dislocations.

    The defaults suit `polyarb run` against the simulator: a window opens every 1-3 virtual
    seconds in one of the neg-risk events and lives 50-500 ms.

    Attributes:
        seed: the only source of randomness; same seed, same market history.
        markets: binary markets.
        neg_risk_events: neg-risk events (groups of binary markets sharing an event id).
        outcomes: (min, max) outcomes per neg-risk event.
        tick_micros: the markets' normal tick.
        fine_tick_markets: binary markets whose fair value lives near 0.04, so their tick flips
            to 0.001 and back (tick_size_change) as the price crosses it.
        min_order_size_micros: every market's minimum order size in shares.
        half_spread_micros: makers quote fair - this (bid) and fair + this (ask), on the grid.
        levels: price levels per side each maker quotes (one tick apart).
        level_size_micros: (min, max) shares per level; each market draws one size at start.
        volatility_micros: standard deviation of a fair value's move over one second.
        quote_refresh_ms: (min, max) time between fair-value steps (and re-quotes) of a market.
        noise_interval_ms: (min, max) time between two noise takes in one market.
        noise_size_micros: (min, max) shares per noise take (raised to the $1 minimum).
        noise_fok_pct: share of noise takes sent FOK (the rest FAK).
        dislocation_interval_ms: (min, max) time between two windows opening; None: no windows.
        dislocation_edge_bps: (min, max) of 1 - sum of the event's best YES asks, in bps of $1.
        dislocation_lifetime_ms: (min, max) lifetime of a window.
        dislocation_depth_usd: (min, max) dollars on the cheapest leg at the window's prices:
            every leg then holds at least that much (a bot's per-leg minimum applies per leg).
        outcome_floor_micros: no neg-risk outcome's fair value goes below this (keeps every
            leg's spread reasonable; detection skips legs whose spread exceeds 50% of mid).
        fee_share_pct: percent of the binary markets that charge taker fees (neg-risk events are
            fee-free, like the venue's world-event categories).
        fee_rate: the fee-enabled markets' rate (fee = rate * p * (1 - p) per share).
        duration_ms: end of the schedule (None: runs forever).
        account_collateral_micros: starting (and top-up) collateral of each scenario account.
        max_actions_per_step: cap on the actions one `step` applies (None: all that are due).
            A late caller then catches up over several steps instead of one long burst; the
            history is the same, only applied later.
    """

    seed: int = 1
    markets: int = 10
    neg_risk_events: int = 2
    outcomes: Range = (3, 8)
    tick_micros: int = 10_000
    fine_tick_markets: int = 1
    min_order_size_micros: int = 5 * MICROS
    half_spread_micros: int = 10_000
    levels: int = 3
    level_size_micros: Range = (100 * MICROS, 300 * MICROS)
    volatility_micros: int = 10_000
    quote_refresh_ms: Range = (100, 300)
    noise_interval_ms: Range = (500, 3_000)
    noise_size_micros: Range = (5 * MICROS, 60 * MICROS)
    noise_fok_pct: int = 30
    dislocation_interval_ms: Range | None = (1_000, 3_000)
    dislocation_edge_bps: Range = (200, 600)
    dislocation_lifetime_ms: Range = (50, 500)
    dislocation_depth_usd: Range = (15, 50)
    outcome_floor_micros: int = 50_000
    fee_share_pct: int = 20
    fee_rate: Decimal = Decimal("0.04")
    duration_ms: int | None = None
    account_collateral_micros: int = 10**9 * MICROS
    max_actions_per_step: int | None = None

    def __post_init__(self) -> None:
        why = _count_error(self) or _range_error(self) or _price_error(self) or _room_error(self)
        if why is not None:
            raise ValueError(f"ScenarioConfig: {why}")


def _count_error(c: ScenarioConfig) -> str | None:
    if c.markets < 0 or c.neg_risk_events < 0:
        return "markets and neg_risk_events must be >= 0"
    if c.markets + c.neg_risk_events == 0:
        return "needs at least one market or neg-risk event"
    if not 0 <= c.fine_tick_markets <= c.markets:
        return "fine_tick_markets must be between 0 and markets"
    if c.levels < 1:
        return "levels must be >= 1"
    if not (0 <= c.noise_fok_pct <= 100 and 0 <= c.fee_share_pct <= 100):
        return "noise_fok_pct and fee_share_pct are percentages (0-100)"
    if not Decimal(0) <= c.fee_rate < Decimal(1):
        return "fee_rate must be in [0, 1)"
    if c.duration_ms is not None and c.duration_ms < 0:
        return "duration_ms must be >= 0"
    if c.max_actions_per_step is not None and c.max_actions_per_step < 1:
        return "max_actions_per_step must be >= 1 (or None)"
    if c.volatility_micros < 0 or c.account_collateral_micros <= 0:
        return "volatility_micros must be >= 0 and account_collateral_micros > 0"
    if c.dislocation_interval_ms is not None and c.neg_risk_events == 0:
        return ("dislocations need a neg-risk event (a binary market's YES and NO books are one "
                "mirrored book, so YES ask + NO ask < 1 cannot show); set "
                "dislocation_interval_ms to None or add neg_risk_events")
    return None


def _range_error(c: ScenarioConfig) -> str | None:
    ranges: dict[str, Range | None] = {
        "outcomes": c.outcomes, "level_size_micros": c.level_size_micros,
        "quote_refresh_ms": c.quote_refresh_ms, "noise_interval_ms": c.noise_interval_ms,
        "noise_size_micros": c.noise_size_micros,
        "dislocation_interval_ms": c.dislocation_interval_ms,
        "dislocation_edge_bps": c.dislocation_edge_bps,
        "dislocation_lifetime_ms": c.dislocation_lifetime_ms,
        "dislocation_depth_usd": c.dislocation_depth_usd,
    }
    for name, pair in ranges.items():
        if pair is None:
            continue
        if len(pair) != 2 or not 0 <= pair[0] <= pair[1]:
            return f"{name} must be a (low, high) pair with 0 <= low <= high"
    positive = ("quote_refresh_ms", "noise_interval_ms", "dislocation_interval_ms",
                "dislocation_lifetime_ms", "dislocation_depth_usd")
    for name in positive:
        pair = ranges[name]
        if pair is not None and pair[0] <= 0:
            return f"{name} must be positive"
    if c.outcomes[0] < 2:
        return "a neg-risk event needs at least 2 outcomes"
    if not (c.dislocation_edge_bps[0] > 0 and c.dislocation_edge_bps[1] < 10_000):
        return "dislocation_edge_bps must lie in (0, 10000)"
    return None


def _price_error(c: ScenarioConfig) -> str | None:
    if c.tick_micros not in VALID_TICKS_MICROS:
        return f"tick_micros {c.tick_micros} is not a venue tick {VALID_TICKS_MICROS}"
    if c.half_spread_micros < c.tick_micros:
        return "half_spread_micros must be at least one tick"
    if c.min_order_size_micros <= 0 or c.level_size_micros[0] < c.min_order_size_micros:
        return "level sizes must be at least min_order_size_micros (which must be positive)"
    if c.noise_size_micros[0] <= 0:
        return "noise_size_micros must be positive"
    if c.outcome_floor_micros < c.half_spread_micros + c.tick_micros:
        return "outcome_floor_micros must exceed half_spread_micros + one tick"
    return None


def _room_error(c: ScenarioConfig) -> str | None:
    """The largest event must fit the largest window: the asks can be lowered by at most the
    fair values' distance to the floor (less a tick each for rounding), and must come down by
    up to n * (half spread + tick) (normal quotes sum above 1) plus the edge and a tick."""
    if c.neg_risk_events == 0:
        return None
    n = c.outcomes[1]
    room = MICROS - n * c.outcome_floor_micros
    if room <= 0:
        return f"{n} outcomes with outcome_floor_micros {c.outcome_floor_micros} exceed $1"
    needed = (n * (c.half_spread_micros + 2 * c.tick_micros) + c.tick_micros
              + c.dislocation_edge_bps[1] * 100)
    if c.dislocation_interval_ms is not None and needed > room:
        return (f"a {n}-outcome event has {room} micros of room above the outcome floor but a "
                f"window may need {needed}: lower the floor, the spread or the edge")
    return None
