# The scenario seam of the server, and a small static scenario of its own.
#
# Rules:
# 1. A scenario is any object with the four methods of `Scenario`: the markets it trades, a
#    one-off `setup` (register markets, open its accounts, rest its orders), and a schedule
#    (`next_due_ns`, `step` applying every action due by `now_ns`). The server never looks
#    inside; the real generator (polyarb/sim/scenario/) plugs in through the same seam.
# 2. StaticScenario is deterministic given its seed: token and condition ids are hashes of the
#    seed, fair prices and churn come from random.Random(seed). It quotes a ladder around each
#    market's fair price from a market-maker account using collateral only (bids are BUY YES,
#    asks are BUY NO at 1 - p), so its books are two-sided and never crossed.
# 3. Optional churn (`churn_per_s` > 0): each action toggles one ladder level (cancel it if it
#    rests, else place it), or, with probability `taker_share`, sends a small FAK buy that
#    trades against the ladder. Catch-up is capped per step so one late step cannot starve the
#    event loop; the rest stays due and the pump reports the lag.
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Protocol

from polyarb.events.inputs import MarketInfo, TokenInfo
from polyarb.sim import Exchange, OrderRequest
from polyarb.sim.model import MICROS

_SECOND_NS = 1_000_000_000
_TICK = 10_000
MM_OWNER = "sim-market-maker"
TAKER_OWNER = "sim-taker"


class Scenario(Protocol):
    """What the server needs from a market scenario (rule 1)."""

    def markets(self) -> list[MarketInfo]:
        """The markets the scenario trades."""
        ...

    def setup(self, exchange: Exchange, now_ns: int) -> None:
        """Register markets, open accounts and rest the initial orders."""
        ...

    def next_due_ns(self) -> int | None:
        """When the next action is due (None: nothing scheduled)."""
        ...

    def step(self, exchange: Exchange, now_ns: int) -> None:
        """Apply every action due by now_ns."""
        ...


@dataclass(frozen=True, slots=True)
class StaticConfig:
    """Shape of the static scenario. Sizes in micro-shares."""

    seed: str = "polyarb-sim"
    markets: int = 4
    neg_risk_events: int = 1
    outcomes_per_event: int = 3
    levels: int = 3
    level_size_micros: int = 100 * MICROS
    churn_per_s: float = 0.0
    taker_share: float = 0.1
    max_actions_per_step: int = 5_000


def _digest(*parts: str) -> bytes:
    return hashlib.sha256(":".join(parts).encode()).digest()


def _market(seed: str, label: str, question: str, group: str | None) -> MarketInfo:
    cid = "0x" + _digest(seed, "condition", label).hex()
    yes, no = (str(int.from_bytes(_digest(seed, "token", label, o), "big")) for o in ("y", "n"))
    return MarketInfo(
        condition_id=cid, question=question, slug=label,
        tokens=(TokenInfo(token_id=yes, outcome="Yes"), TokenInfo(token_id=no, outcome="No")),
        tick_size_micros=_TICK, min_order_size_micros=5 * MICROS,
        neg_risk=group is not None, neg_risk_market_id=group,
    )


class StaticScenario:
    """A few binary markets and neg-risk events with resting ladders (rules 2-3)."""

    def __init__(self, config: StaticConfig | None = None) -> None:
        self.config = cfg = config if config is not None else StaticConfig()
        self._rng = random.Random(f"{cfg.seed}:static-scenario")
        self._infos: list[MarketInfo] = []
        self._fair: dict[str, int] = {}
        for i in range(cfg.markets):
            info = _market(cfg.seed, f"sim-binary-{i}", f"Simulated binary market {i}?", None)
            self._add(info, self._rng.randrange(15, 86) * _TICK)
        for e in range(cfg.neg_risk_events):
            group = "0x" + _digest(cfg.seed, "neg-risk", str(e)).hex()
            weights = [self._rng.randrange(1, 10) for _ in range(cfg.outcomes_per_event)]
            for k, w in enumerate(weights):
                info = _market(cfg.seed, f"sim-event-{e}-outcome-{k}",
                               f"Simulated event {e}: outcome {k}?", group)
                self._add(info, w * MICROS // sum(weights) // _TICK * _TICK)
        self._resting: dict[tuple[str, bool, int], str] = {}
        self._next_ns: int | None = None
        self.actions = 0

    def _add(self, info: MarketInfo, fair: int) -> None:
        edge = (self.config.levels + 1) * _TICK
        self._infos.append(info)
        self._fair[info.condition_id] = min(max(fair, edge), MICROS - edge)

    def markets(self) -> list[MarketInfo]:
        """The scenario's markets (binary ones first, then each event's outcomes)."""
        return list(self._infos)

    def setup(self, exchange: Exchange, now_ns: int) -> None:
        """Register the markets, fund the market maker and taker, rest every ladder level."""
        for info in self._infos:
            exchange.add_market(info)
        exchange.open_account(MM_OWNER, collateral_micros=10**9 * MICROS)
        exchange.open_account(TAKER_OWNER, collateral_micros=10**9 * MICROS)
        for info in self._infos:
            for is_bid in (True, False):
                for level in range(self.config.levels):
                    self._place(exchange, info, is_bid, level, now_ns)
        if self.config.churn_per_s > 0:
            self._next_ns = now_ns

    def next_due_ns(self) -> int | None:
        """The next churn action's due time (None without churn)."""
        return self._next_ns

    def step(self, exchange: Exchange, now_ns: int) -> None:
        """Apply the churn actions due by now_ns (rule 3)."""
        if self._next_ns is None:
            return
        interval = max(1, int(_SECOND_NS / self.config.churn_per_s))
        done = 0
        while self._next_ns <= now_ns and done < self.config.max_actions_per_step:
            self._act(exchange, now_ns)
            self._next_ns += interval
            done += 1
        self.actions += done

    def _act(self, exchange: Exchange, now_ns: int) -> None:
        info = self._infos[self._rng.randrange(len(self._infos))]
        if self._rng.random() < self.config.taker_share:
            self._take(exchange, info, now_ns)
            return
        is_bid = self._rng.random() < 0.5
        level = self._rng.randrange(self.config.levels)
        key = (info.condition_id, is_bid, level)
        order_id = self._resting.pop(key, None)
        if order_id is None or not exchange.cancel(MM_OWNER, order_id, now_ns).canceled:
            self._place(exchange, info, is_bid, level, now_ns)

    def _place(self, exchange: Exchange, info: MarketInfo, is_bid: bool, level: int,
               now_ns: int) -> None:
        fair = self._fair[info.condition_id]
        yes_price = fair - (1 + level) * _TICK if is_bid else fair + (1 + level) * _TICK
        token = info.tokens[0 if is_bid else 1].token_id
        price = yes_price if is_bid else MICROS - yes_price
        size = self.config.level_size_micros * (1 + level)
        result = exchange.place(OrderRequest(owner=MM_OWNER, token_id=token, side="BUY",
                                             price_micros=price, size_micros=size), now_ns)
        if result.success and result.status == "live":
            self._resting[(info.condition_id, is_bid, level)] = result.order_id

    def _take(self, exchange: Exchange, info: MarketInfo, now_ns: int) -> None:
        yes = info.tokens[0].token_id
        _, ask = exchange.best_prices(yes)
        if ask < MICROS:
            exchange.place(OrderRequest(owner=TAKER_OWNER, token_id=yes, side="BUY",
                                        price_micros=ask, size_micros=20 * MICROS,
                                        order_type="FAK"), now_ns)
