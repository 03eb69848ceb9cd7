# Arbitrage windows: a neg-risk event whose maker misprices it so that the sum of the best YES
# asks drops below $1 for tens to hundreds of milliseconds.
#
# Rules:
# 1. Only neg-risk events get windows. The exchange keeps one YES-space book per binary market
#    (as the venue does), so NO's best ask is always 1 - YES's best bid and YES ask + NO ask is
#    1 + spread: a complete-set arbitrage can never be shown by an uncrossed book, and an ask
#    placed below the opposite side simply trades. Across an event's outcomes, though, each
#    market has its own book, so a low enough set of asks stays visible until someone buys it.
# 2. A window is planned from the fair values alone (never from the books, which clients
#    change): cut some outcomes' ladders (polyarb/sim/scenario/quotes.py) so that
#    sum(best asks) <= 1 - edge, and give every outcome's best ask the window's depth.
# 3. While a window is open its event is frozen: the maker does not re-quote it (the mispriced
#    quotes are stale on purpose) and noise takers leave it alone, so with no client the window
#    is visible, unchanged, for its whole lifetime; a client that buys it closes it early. When
#    it ends the maker re-quotes the event at the current fair values and the arbitrage is gone.
# 4. Every random draw of a window happens in `draw_window`, in a fixed order.
from __future__ import annotations

import random
from typing import NamedTuple

import msgspec

from polyarb.sim.exchange import Exchange
from polyarb.sim.model import MICROS
from polyarb.sim.scenario.config import ScenarioConfig
from polyarb.sim.scenario.quotes import Quote, depth_for, ladder, plan_cuts, touch

_MS = 1_000_000


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """One arbitrage window as opened (for logs, tests and the server's statistics).

    Attributes:
        index: 0, 1, 2, ... in opening order.
        event_id: the neg-risk event (neg_risk_market_id).
        condition_ids: its markets, in outcome order.
        yes_tokens: their YES tokens, in outcome order.
        open_ns: when it was opened (the exchange time of the step).
        close_ns: when it is scheduled to close.
        edge_micros: the planned edge: sum of best YES asks <= 1 - edge_micros.
        ask_sum_micros: the sum of the best YES asks as quoted at open.
        depth_micros: shares on every outcome's best ask.
        cuts_micros: how far each outcome's ladder was cut.
    """

    index: int
    event_id: str
    condition_ids: tuple[str, ...]
    yes_tokens: tuple[str, ...]
    open_ns: int
    close_ns: int
    edge_micros: int
    ask_sum_micros: int
    depth_micros: int
    cuts_micros: tuple[int, ...]


class WindowDraw(NamedTuple):
    edge_micros: int
    lifetime_ns: int
    depth_usd: int
    spread_over: int
    order: list[int]


def draw_window(rng: random.Random, cfg: ScenarioConfig, outcomes: int) -> WindowDraw:
    """Every random choice of one window, in a fixed order (rule 4)."""
    edge = rng.randint(*cfg.dislocation_edge_bps) * 100
    lifetime = rng.randint(*cfg.dislocation_lifetime_ms) * _MS
    usd = rng.randint(*cfg.dislocation_depth_usd)
    spread_over = rng.randint(1, outcomes)
    order = rng.sample(range(outcomes), outcomes)
    return WindowDraw(edge, lifetime, usd, spread_over, order)


class Plan(NamedTuple):
    quotes: list[list[Quote]]  # per outcome
    ask_sum: int
    depth: int
    cuts: list[int]


def plan_window(cfg: ScenarioConfig, fairs: list[int], sizes: list[int], tick: int,
                draw: WindowDraw) -> Plan | None:
    """The mispriced ladders of every outcome of an event (rule 2); None when the fair values
    leave too little room above the floor for this edge."""
    h = cfg.half_spread_micros
    asks = [touch(f, h, tick)[1] for f in fairs]
    rooms = [max(0, f - cfg.outcome_floor_micros) for f in fairs]
    cuts = plan_cuts(asks, rooms, tick, MICROS - draw.edge_micros, draw.order, draw.spread_over)
    if cuts is None:
        return None
    tops = [a - c for a, c in zip(asks, cuts, strict=True)]
    depth = depth_for(draw.depth_usd, tops, cfg.min_order_size_micros)
    quotes = [ladder(f, h, tick, cfg.levels, s, cut=c, top_ask_size=depth)
              for f, s, c in zip(fairs, sizes, cuts, strict=True)]
    return Plan(quotes, sum(tops), depth, cuts)


def best_ask_sum(ex: Exchange, yes_tokens: tuple[str, ...]) -> int:
    """Sum of the best YES asks of an event's outcomes as the exchange shows them now (an
    empty side counts as $1)."""
    return sum(ex.best_prices(token)[1] for token in yes_tokens)
