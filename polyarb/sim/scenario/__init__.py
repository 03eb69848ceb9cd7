# polyarb.sim.scenario: what fills the simulator's books. Two sources share one interface
# (MarketSource): Scenario, a seeded synthetic market (random-walking fair values, market
# makers, noise takers, arbitrage windows), and JournalScenario, which replays the books a
# polyarb journal recorded.
#
# Rules:
# 1. Sources are shells around the deterministic exchange core: they may own random.Random
#    instances (seeded, never the global one) but never read a clock; time is the `now_ns`
#    the server passes in, and a source's schedule is relative to the `now_ns` of `setup`.
# 2. The server calls markets() -> setup(exchange, now_ns) -> then, repeatedly,
#    next_due_ns() and step(exchange, now_ns). A source never drains exchange events.
from __future__ import annotations

from typing import Protocol

from polyarb.events.inputs import MarketInfo
from polyarb.sim.exchange import Exchange
from polyarb.sim.scenario.config import ScenarioConfig
from polyarb.sim.scenario.dislocations import Window, best_ask_sum
from polyarb.sim.scenario.journal_source import JournalScenario
from polyarb.sim.scenario.scenario import NOISE_OWNER, SCENARIO_OWNERS_PREFIX, Scenario


class MarketSource(Protocol):
    """What the simulator server drives: Scenario and JournalScenario both implement it."""

    def markets(self) -> list[MarketInfo]: ...

    def setup(self, exchange: Exchange, now_ns: int) -> None: ...

    def next_due_ns(self) -> int | None: ...

    def step(self, exchange: Exchange, now_ns: int) -> None: ...


__all__ = [
    "NOISE_OWNER",
    "SCENARIO_OWNERS_PREFIX",
    "JournalScenario",
    "MarketSource",
    "Scenario",
    "ScenarioConfig",
    "Window",
    "best_ask_sum",
]
