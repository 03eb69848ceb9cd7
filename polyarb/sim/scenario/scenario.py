# The seeded market scenario: fair values that random-walk, market makers quoting around them,
# noise takers and arbitrage windows, driven by a virtual-time schedule.
#
# Rules:
# 1. Deterministic: the config's seed is the only randomness. Every stream (one per walk unit,
#    one per market's noise taker, one for windows) is its own random.Random seeded from the
#    seed and a label, so adding draws to one stream never shifts another. No clock, no global
#    random, no set iteration.
# 2. The schedule is relative to the `now_ns` given to `setup` and never to when `step` is
#    called: an action due at t reschedules itself from t, so the market history is the same
#    whether the caller steps on time, late, or in one big jump. Exchange calls of a step carry
#    the step's `now_ns` (exchange time never goes backwards).
# 3. The server drives it: markets() -> setup() -> repeatedly next_due_ns() / step(). The
#    scenario never drains `take_events()`; that is the server's job.
# 4. Scenario accounts are named "scenario:..." (SCENARIO_OWNERS_PREFIX) and only ever place
#    BUY orders: makers post-only GTC ladders, noise takers FOK/FAK.
from __future__ import annotations

import random

from polyarb.events.inputs import MarketInfo
from polyarb.sim.exchange import Exchange
from polyarb.sim.model import SECOND_NS
from polyarb.sim.scenario.agents import NoiseTaker, QuoteSet
from polyarb.sim.scenario.config import Range, ScenarioConfig
from polyarb.sim.scenario.dislocations import Window, draw_window, plan_window
from polyarb.sim.scenario.fair import (
    BINARY_BOUNDS,
    FINE_BOUNDS,
    BinaryWalk,
    GroupWalk,
    uniform_int,
)
from polyarb.sim.scenario.quotes import (
    FINE_HIGH,
    FINE_LOW,
    FINE_TICK_MICROS,
    NORMAL_TICK_MICROS,
    Quote,
    ladder,
    touch,
)
from polyarb.sim.scenario.schedule import Schedule
from polyarb.sim.scenario.universe import build_universe

SCENARIO_OWNERS_PREFIX = "scenario:"
NOISE_OWNER = "scenario:noise"
TREASURY_EVERY_NS = 10 * SECOND_NS
_MS = 1_000_000
# schedule action kinds
_WALK, _NOISE, _OPEN, _CLOSE, _TREASURY = range(5)


def _rng(seed: int, label: str) -> random.Random:
    return random.Random(f"polyarb-sim:{seed}:{label}")


def _interval(rng: random.Random, pair: Range) -> int:
    return uniform_int(rng, *pair) * _MS


class Scenario:
    """A seeded synthetic market for the simulator (see the module rules).

    Attributes:
        config: the configuration.
        windows: every arbitrage window opened so far, in order.
    """

    def __init__(self, config: ScenarioConfig) -> None:
        self.config = cfg = config
        universe = build_universe(cfg)
        self._markets = universe.markets
        self._units = universe.units
        self._walks: list[BinaryWalk | GroupWalk] = [
            GroupWalk(_rng(cfg.seed, f"walk:{u.index}"), u.fairs, cfg.outcome_floor_micros)
            if u.event_id is not None else
            BinaryWalk(_rng(cfg.seed, f"walk:{u.index}"), u.fairs[0],
                       FINE_BOUNDS if u.fine_tick else BINARY_BOUNDS)
            for u in self._units
        ]
        self._walk_dt = [0] * len(self._units)
        self._makers = [f"{SCENARIO_OWNERS_PREFIX}maker-{u.index}" for u in self._units]
        self._quotes = [
            QuoteSet(self._makers[m.unit], m.info.condition_id, m.yes, m.no, post_only=True)
            for m in self._markets
        ]
        self._noise = [
            NoiseTaker(NOISE_OWNER, _rng(cfg.seed, f"noise:{m.index}"), cfg.noise_size_micros,
                       cfg.noise_fok_pct)
            for m in self._markets
        ]
        self._disloc_rng = _rng(cfg.seed, "dislocations")
        self._tick = [m.info.tick_size_micros for m in self._markets]
        self._frozen: list[int | None] = [None] * len(self._units)  # open window per unit
        # per market: the (touch, tick) of the last plain re-quote and how many levels it set
        self._quoted: list[tuple[tuple[int, int], int] | None] = [None] * len(self._markets)
        self._depth = [0] * len(self._markets)
        self._schedule: Schedule | None = None
        self.windows: list[Window] = []
        self._counts = {"requotes": 0, "noise_orders": 0, "noise_filled": 0,
                        "noise_skipped": 0, "windows_skipped": 0, "tick_changes": 0}

    # --- the server's interface -------------------------------------------------------------

    def markets(self) -> list[MarketInfo]:
        """Every market, binary ones first, then each neg-risk event's outcome markets (they
        share `neg_risk_market_id`)."""
        return [m.info for m in self._markets]

    def owners(self) -> list[str]:
        """The scenario's own accounts (makers, then the noise taker)."""
        return [*self._makers, NOISE_OWNER]

    def setup(self, exchange: Exchange, now_ns: int) -> None:
        """Register the markets, open the scenario accounts, seed every book and schedule the
        first actions; `now_ns` becomes the start of the timeline.

        Raises:
            RuntimeError: called twice.
            SimError: a market clashes with one the exchange has already.
        """
        if self._schedule is not None:
            raise RuntimeError("Scenario.setup called twice")
        cfg = self.config
        end = None if cfg.duration_ms is None else now_ns + cfg.duration_ms * _MS
        self._schedule = sched = Schedule(end)
        for m in self._markets:
            exchange.add_market(m.info)
        for owner in self.owners():
            if owner not in exchange.ledger.accounts:
                exchange.open_account(owner, collateral_micros=cfg.account_collateral_micros)
        for unit in self._units:
            self._requote_unit(exchange, unit.index, now_ns)
            self._walk_dt[unit.index] = dt = _interval(self._walks[unit.index].rng,
                                                       cfg.quote_refresh_ms)
            sched.add(now_ns + dt, _WALK, unit.index)
        for m in self._markets:
            sched.add(now_ns + _interval(self._noise[m.index].rng, cfg.noise_interval_ms),
                      _NOISE, m.index)
        if cfg.dislocation_interval_ms is not None:
            sched.add(now_ns + _interval(self._disloc_rng, cfg.dislocation_interval_ms), _OPEN, 0)
        sched.add(now_ns + TREASURY_EVERY_NS, _TREASURY, 0)

    def next_due_ns(self) -> int | None:
        """Virtual time of the next scheduled action; None before setup and once done."""
        return None if self._schedule is None else self._schedule.next_due()

    def step(self, exchange: Exchange, now_ns: int) -> None:
        """Apply every action due at or before `now_ns`, in due order (rule 2); at most
        `config.max_actions_per_step` of them when that is set (the rest stay due).

        Raises:
            RuntimeError: called before setup.
        """
        sched = self._schedule
        if sched is None:
            raise RuntimeError("Scenario.step called before setup")
        budget = self.config.max_actions_per_step
        while (budget is None or budget > 0) and (action := sched.pop_due(now_ns)) is not None:
            if budget is not None:
                budget -= 1
            due, kind, index = action
            if kind == _WALK:
                self._walk(exchange, index, due, now_ns)
            elif kind == _NOISE:
                self._take(exchange, index, due, now_ns)
            elif kind == _OPEN:
                self._open_window(exchange, due, now_ns)
            elif kind == _CLOSE:
                self._close_window(exchange, index, now_ns)
            else:
                self._treasury(exchange, due)

    # --- inspection ---------------------------------------------------------------------------

    def fair_values(self) -> dict[str, int]:
        """Current fair value (micros) of every market's YES token, by condition id."""
        return {m.info.condition_id: self._fair(m.index) for m in self._markets}

    def event_fairs(self) -> dict[str, list[int]]:
        """Each neg-risk event's outcome fair values (summing to exactly 1_000_000)."""
        return {u.event_id: list(self._fair_list(u.index)) for u in self._units
                if u.event_id is not None}

    def stats(self) -> dict[str, int]:
        """Activity counters: re-quotes, noise orders, windows, refused maker quotes, ..."""
        out = dict(self._counts)
        out["windows_opened"] = len(self.windows)
        out["maker_rejects"] = sum(sum(q.rejects.values()) for q in self._quotes)
        return out

    # --- actions ----------------------------------------------------------------------------

    def _walk(self, ex: Exchange, u: int, due: int, now_ns: int) -> None:
        walk = self._walks[u]
        walk.step(self.config.volatility_micros, self._walk_dt[u])
        self._walk_dt[u] = dt = _interval(walk.rng, self.config.quote_refresh_ms)
        self._add(due + dt, _WALK, u)
        if self._frozen[u] is None:
            self._requote_unit(ex, u, now_ns)

    def _take(self, ex: Exchange, m: int, due: int, now_ns: int) -> None:
        noise = self._noise[m]
        self._add(due + _interval(noise.rng, self.config.noise_interval_ms), _NOISE, m)
        market = self._markets[m]
        if self._frozen[market.unit] is not None:
            self._counts["noise_skipped"] += 1
            return
        result = noise.take(ex, market.yes, market.no, self._tick[m], now_ns)
        if result is None:
            self._counts["noise_skipped"] += 1
            return
        self._counts["noise_orders"] += 1
        self._counts["noise_filled"] += result.success

    def _open_window(self, ex: Exchange, due: int, now_ns: int) -> None:
        cfg, rng = self.config, self._disloc_rng
        assert cfg.dislocation_interval_ms is not None  # scheduled only then
        self._add(due + _interval(rng, cfg.dislocation_interval_ms), _OPEN, 0)
        free = [u for u in self._units if u.event_id is not None and self._frozen[u.index] is None]
        if not free:
            self._counts["windows_skipped"] += 1
            return
        unit = free[rng.randrange(len(free))]
        draw = draw_window(rng, cfg, len(unit.markets))
        fairs = self._fair_list(unit.index)
        sizes = [self._markets[m].level_size_micros for m in unit.markets]
        plan = plan_window(cfg, fairs, sizes, cfg.tick_micros, draw)
        if plan is None:
            self._counts["windows_skipped"] += 1
            return
        for m, quotes in zip(unit.markets, plan.quotes, strict=True):
            self._sync(ex, m, quotes, cfg.tick_micros, now_ns)
        window = Window(
            index=len(self.windows), event_id=unit.event_id or "",
            condition_ids=tuple(self._markets[m].info.condition_id for m in unit.markets),
            yes_tokens=tuple(self._markets[m].yes for m in unit.markets), open_ns=now_ns,
            close_ns=self._clamp(due + draw.lifetime_ns), edge_micros=draw.edge_micros,
            ask_sum_micros=plan.ask_sum, depth_micros=plan.depth, cuts_micros=tuple(plan.cuts))
        self.windows.append(window)
        self._frozen[unit.index] = window.index
        self._add(window.close_ns, _CLOSE, window.index)

    def _close_window(self, ex: Exchange, w: int, now_ns: int) -> None:
        for unit in self._units:
            if self._frozen[unit.index] == w:
                self._frozen[unit.index] = None
                self._requote_unit(ex, unit.index, now_ns)

    def _treasury(self, ex: Exchange, due: int) -> None:
        """Top scenario accounts back up, so a long run never starves its makers."""
        self._add(due + TREASURY_EVERY_NS, _TREASURY, 0)
        full = self.config.account_collateral_micros
        for owner in self.owners():
            available = ex.balance(owner).available_micros
            if available < full // 2:
                ex.deposit(owner, full - available)

    # --- quoting ------------------------------------------------------------------------------

    def _requote_unit(self, ex: Exchange, u: int, now_ns: int) -> None:
        cfg = self.config
        h, levels = cfg.half_spread_micros, cfg.levels
        binary = self._units[u].event_id is None  # event outcomes keep the normal tick
        for m, fair in zip(self._units[u].markets, self._fair_list(u), strict=True):
            tick = cfg.tick_micros
            top = touch(fair, h, tick)
            if binary and tick == NORMAL_TICK_MICROS and (top[0] < FINE_LOW or top[1] > FINE_HIGH):
                tick = FINE_TICK_MICROS  # the venue's fine-tick zone (quotes.tick_for)
                top = touch(fair, h, tick)
            quoted = (top, tick)
            if quoted == self._quoted[m] and self._quotes[m].intact(self._depth[m]):
                continue  # same prices, nothing taken: no need to touch the book
            quotes = ladder(fair, h, tick, levels, self._markets[m].level_size_micros)
            self._sync(ex, m, quotes, tick, now_ns)
            self._quoted[m], self._depth[m] = quoted, len(quotes)

    def _sync(self, ex: Exchange, m: int, quotes: list[Quote], tick: int, now_ns: int) -> None:
        new_tick = None if tick == self._tick[m] else tick
        if new_tick is not None:
            self._tick[m] = tick
            self._counts["tick_changes"] += 1
        self._quotes[m].sync(ex, quotes, now_ns, new_tick)
        self._quoted[m] = None  # a plain re-quote sets it again; a window's ladder never does
        self._counts["requotes"] += 1

    def _fair_list(self, u: int) -> list[int]:
        walk = self._walks[u]
        return walk.fairs if isinstance(walk, GroupWalk) else [walk.fair]

    def _fair(self, m: int) -> int:
        market = self._markets[m]
        return self._fair_list(market.unit)[self._units[market.unit].markets.index(m)]

    def _clamp(self, due: int) -> int:
        """A window closes by the end of the schedule at the latest (never left open)."""
        assert self._schedule is not None
        end = self._schedule.end_ns
        return due if end is None else min(due, end)

    def _add(self, due: int, kind: int, index: int) -> None:
        assert self._schedule is not None
        self._schedule.add(due, kind, index)
