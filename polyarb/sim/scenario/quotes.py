# What a market maker wants in a book: quote ladders around a fair value, the tick a price
# calls for, and how a dislocation lowers a neg-risk event's asks below $1.
#
# Rules:
# 1. Pure functions over integers (micros); no exchange, no randomness.
# 2. Prices are YES-space (polyarb/sim/matching.py): a quote is (is_bid, YES price, size). The
#    maker places a bid as BUY YES at p and an ask as BUY NO at 1 - p (both need only
#    collateral), so one ladder shows in both published books, mirrored.
# 3. A ladder is uncrossed by construction: every bid < every ask, bids best first, then asks
#    best first, one tick apart, inside [tick, 1 - tick].
# 4. Dislocations (see docs/simulator.md, "Market scenario"): a binary market's YES ask + NO ask
#    is YES ask + 1 - YES bid > 1 in any uncrossed book, so a visible arbitrage can only be made
#    across an event's separate books: some outcomes' whole ladders are cut down ("mispriced")
#    until sum(best YES asks) <= 1 - edge, and every outcome's best ask carries the window's
#    depth. Cutting the bids with the asks keeps each book uncrossed.
from __future__ import annotations

from polyarb.sim.model import MICROS

Quote = tuple[bool, int, int]
"""(is_bid, YES-space price in micros, size in micro-shares)."""

FINE_TICK_MICROS = 1_000
NORMAL_TICK_MICROS = 10_000
FINE_LOW, FINE_HIGH = 40_000, 960_000  # the venue's fine-tick zone: price < 0.04 or > 0.96


def tick_for(fair: int, half_spread: int, normal_tick: int) -> int:
    """The tick the venue would use for a book quoted around `fair`: 0.001 once the normal-tick
    quotes reach below 0.04 or above 0.96 (only for markets whose normal tick is 0.01), else
    the normal tick."""
    if normal_tick != NORMAL_TICK_MICROS:
        return normal_tick
    bid, ask = touch(fair, half_spread, normal_tick)
    return FINE_TICK_MICROS if bid < FINE_LOW or ask > FINE_HIGH else normal_tick


def touch(fair: int, half_spread: int, tick: int) -> tuple[int, int]:
    """(best bid, best ask) quoted around `fair`: fair -/+ half spread, rounded outward onto
    the grid and clamped into [tick, 1 - tick]."""
    bid = max(tick, min((fair - half_spread) // tick * tick, MICROS - 2 * tick))
    ask = -(-(fair + half_spread) // tick) * tick
    ask = min(MICROS - tick, max(ask, bid + tick))
    return bid, ask


def ladder(fair: int, half_spread: int, tick: int, levels: int, size: int,
           cut: int = 0, top_ask_size: int | None = None) -> list[Quote]:
    """A maker's quotes around `fair` (rule 3).

    Args:
        fair: fair value in micros.
        half_spread: distance from fair to each side's best price.
        tick: the market's tick.
        levels: price levels per side.
        size: shares per level.
        cut: a dislocation's price cut (multiple of tick): every bid moves down by it, and so
            does the best ask (never below one tick), which then carries `top_ask_size`;
            deeper asks stay where the uncut ladder has them.
        top_ask_size: size of the best ask (default `size`).

    Returns:
        Bids best first, then asks best first.
    """
    bid, ask = touch(fair, half_spread, tick)
    cut = min(cut, ask - tick)  # the best ask stays a valid price
    bid -= cut
    top = ask - cut
    bids = [(True, bid - k * tick, size) for k in range(levels) if bid - k * tick >= tick]
    asks: list[Quote] = [(False, top, size if top_ask_size is None else top_ask_size)]
    asks += [(False, ask + k * tick, size) for k in range(levels)
             if top < ask + k * tick <= MICROS - tick]
    return bids + asks[:levels]


def plan_cuts(asks: list[int], rooms: list[int], tick: int, target: int,
              order: list[int], spread_over: int) -> list[int] | None:
    """Cuts (multiples of tick) that bring sum(asks) down to at most `target`.

    The cut is spread evenly over the first `spread_over` outcomes of `order`, each capped by
    its room; what they cannot take goes to the next outcomes in `order`.

    Args:
        asks: every outcome's best ask before the cut.
        rooms: how far each outcome may be cut (its fair value minus the floor).
        tick: the event markets' tick.
        target: the wanted sum of best asks (1 - edge).
        order: outcome indexes in the order they take cuts.
        spread_over: how many of them share the cut evenly (>= 1).

    Returns:
        One cut per outcome, or None when the rooms are too small.
    """
    need = -(-(sum(asks) - target) // tick)  # in ticks, rounded up: the sum lands <= target
    cuts = [0] * len(asks)
    if need <= 0:
        return cuts
    first = order[:spread_over]
    for pos, i in enumerate(first):
        share = -(-need // (len(first) - pos))
        take = min(share, rooms[i] // tick)
        cuts[i] = take * tick
        need -= take
    for i in order[spread_over:]:
        if need <= 0:
            break
        take = min(need, rooms[i] // tick - cuts[i] // tick)
        cuts[i] += take * tick
        need -= take
    return cuts if need <= 0 else None


def depth_for(usd: int, prices: list[int], min_size: int) -> int:
    """Shares (micro-units, whole shares) so the cheapest leg is worth at least `usd` dollars."""
    cheapest = min(prices)
    shares = -(-usd * MICROS // cheapest)
    return max(min_size, shares * MICROS)
