# The server's built-in static scenario: deterministic markets, uncrossed two-sided ladders,
# churn on schedule with bounded catch-up; and the pump driving it inside a running server.
from __future__ import annotations

import asyncio

from polyarb.sim import Exchange, PriceChange
from polyarb.sim.server import StaticConfig, StaticScenario
from tests.sim.server.helpers import run, scenario, serving

SECOND = 1_000_000_000


def test_static_scenario_same_seed_same_markets_other_seed_other_ids() -> None:
    a = StaticScenario(StaticConfig(seed="x")).markets()
    b = StaticScenario(StaticConfig(seed="x")).markets()
    c = StaticScenario(StaticConfig(seed="y")).markets()
    assert a == b and {m.condition_id for m in a}.isdisjoint(m.condition_id for m in c)
    assert [m.neg_risk for m in a] == [False] * 4 + [True] * 3
    assert all(len(t.token_id) >= 70 and t.token_id.isdigit() for m in a for t in m.tokens)


def test_static_scenario_setup_rests_uncrossed_two_sided_ladders() -> None:
    ex = Exchange()
    scen = StaticScenario(StaticConfig(levels=2))
    scen.setup(ex, 0)
    for info in scen.markets():
        bid, ask = ex.best_prices(info.tokens[0].token_id)
        assert 0 < bid < ask < 1_000_000
        book = ex.book_json(info.tokens[0].token_id, 0)
        assert len(book["bids"]) == len(book["asks"]) == 2
    assert ex.problems() == [] and scen.next_due_ns() is None


def test_static_scenario_churn_runs_every_due_action_with_capped_catch_up() -> None:
    ex = Exchange()
    scen = StaticScenario(StaticConfig(churn_per_s=100.0, max_actions_per_step=30,
                                       taker_share=0.2))
    scen.setup(ex, 0)
    ex.take_events()
    scen.step(ex, SECOND // 2)  # 51 actions due (t = 0, 10 ms, ..., 500 ms), 30 allowed
    first = scen.actions
    scen.step(ex, SECOND // 2)
    events = ex.take_events()
    assert (first, scen.actions) == (30, 51)
    assert scen.next_due_ns() == 510_000_000
    assert any(isinstance(e, PriceChange) for e in events) and ex.problems() == []


def test_static_scenario_driven_by_the_pump_reports_no_lag_problems() -> None:
    async def main() -> tuple[int, int, int]:
        async with serving(scen=scenario(churn_per_s=200.0)) as server:
            await asyncio.sleep(0.3)
            v = server.venue
            return v.steps, v.step_errors, len(v.exchange.problems())
    steps, errors, problems = run(main)
    assert steps > 0 and errors == 0 and problems == 0
