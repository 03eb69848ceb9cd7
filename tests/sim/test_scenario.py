# The seeded market scenario on a real exchange, with no client: layout and ids, invariants after
# every step, visible arbitrage windows (checked with the engine's own detector), determinism,
# independence from when the caller steps, and the schedule's end.
from __future__ import annotations

import os
import re
import subprocess
import sys

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.core.detection import DetectionConfig, detect
from polyarb.core.marketdata import MarketData
from polyarb.core.markets import MarketRegistry
from polyarb.core.types import Candidate
from polyarb.sim import (
    Exchange,
    OrderRequest,
    SimConfig,
    SimEvent,
    TickSizeChange,
    TradeEvent,
)
from polyarb.sim.model import MICROS
from polyarb.sim.scenario import NOISE_OWNER, Scenario, ScenarioConfig, Window, best_ask_sum
from tests.sim.test_scenario_support import MS, T0, S, event_hash, run

DEFAULT = ScenarioConfig()


# --- config and layout ----------------------------------------------------------------------


def test_config_unknown_field_is_an_error() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"seed": 1, "markts": 3}, ScenarioConfig)


@pytest.mark.parametrize(("fields", "words"), [
    ({"markets": 0, "neg_risk_events": 0}, "at least one market"),
    ({"neg_risk_events": 0}, "dislocations need a neg-risk event"),
    ({"outcomes": (5, 3)}, "outcomes must be a"),
    ({"outcomes": (1, 3)}, "at least 2 outcomes"),
    ({"tick_micros": 7_000}, "not a venue tick"),
    ({"half_spread_micros": 1_000}, "at least one tick"),
    ({"level_size_micros": (1 * MICROS, 2 * MICROS)}, "min_order_size"),
    ({"fine_tick_markets": 11}, "fine_tick_markets"),
    ({"quote_refresh_ms": (0, 10)}, "quote_refresh_ms must be positive"),
    ({"dislocation_edge_bps": (0, 100)}, "dislocation_edge_bps"),
    ({"max_actions_per_step": 0}, "max_actions_per_step"),
    ({"outcomes": (3, 20)}, "exceed \\$1"),
    ({"outcomes": (3, 12), "dislocation_edge_bps": (200, 3_000)}, "room above the outcome floor"),
])
def test_config_bad_values_name_the_field(fields: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ScenarioConfig(**fields)  # type: ignore[arg-type]


def test_config_binary_only_without_windows_is_fine() -> None:
    cfg = ScenarioConfig(neg_risk_events=0, dislocation_interval_ms=None)
    assert len(Scenario(cfg).markets()) == 10


def test_markets_defaults_layout_matches_the_brief() -> None:
    markets = Scenario(DEFAULT).markets()
    binary = [m for m in markets if not m.neg_risk]
    groups: dict[str, list[str]] = {}
    for m in markets:
        if m.neg_risk_market_id is not None:
            groups.setdefault(m.neg_risk_market_id, []).append(m.condition_id)
    assert len(binary) == 10
    assert len(groups) == 2
    sizes = [len(v) for v in groups.values()]
    assert sizes[0] == 3 and all(3 <= n <= 8 for n in sizes)
    assert sum(1 for m in markets if m.fees.rate > 0) == 2
    assert all(m.fees.rate == 0 for m in markets if m.neg_risk)
    assert markets[0].tick_size_micros == 1_000  # the fine-tick market starts near 0.04
    assert all(m.tick_size_micros == 10_000 for m in markets[1:])
    assert all(m.min_order_size_micros == 5 * MICROS for m in markets)


def test_markets_ids_are_venue_shaped_unique_and_seeded() -> None:
    a, b = Scenario(DEFAULT).markets(), Scenario(ScenarioConfig(seed=2)).markets()
    tokens = [t.token_id for m in a for t in m.tokens]
    assert all(re.fullmatch(r"[1-9][0-9]{76}", t) for t in tokens)
    assert all(re.fullmatch(r"0x[0-9a-f]{64}", m.condition_id) for m in a)
    assert all(re.fullmatch(r"0x[0-9a-f]{64}", m.neg_risk_market_id or "0x" + "0" * 64)
               for m in a)
    assert len(set(tokens)) == len(tokens)
    assert [m.condition_id for m in a] == [m.condition_id for m in Scenario(DEFAULT).markets()]
    assert not {m.condition_id for m in a} & {m.condition_id for m in b}


def test_setup_twice_and_step_before_setup_raise() -> None:
    scenario = Scenario(DEFAULT)
    assert scenario.next_due_ns() is None
    with pytest.raises(RuntimeError, match="before setup"):
        scenario.step(Exchange(SimConfig()), T0)
    ex = Exchange(SimConfig())
    scenario.setup(ex, T0)
    with pytest.raises(RuntimeError, match="twice"):
        scenario.setup(ex, T0)


def test_setup_seeds_every_book_two_sided() -> None:
    scenario = Scenario(DEFAULT)
    ex = run(scenario, 0)
    for m in scenario.markets():
        bid, ask = ex.best_prices(m.tokens[0].token_id)
        assert 0 < bid < ask < MICROS


# --- invariants -------------------------------------------------------------------------------


class Invariants:
    """Checks after every step; collects what the window tests need."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.makers = set(scenario.owners()) - {NOISE_OWNER}
        self.trades = 0
        self.ticks: list[TickSizeChange] = []
        self.sums: dict[int, list[tuple[int, int]]] = {}  # window -> (time, best ask sum)

    def __call__(self, ex: Exchange, now: int, events: list[SimEvent]) -> None:
        assert ex.problems() == []  # conservation, reservations, every book uncrossed
        floor = self.scenario.config.outcome_floor_micros
        for fairs in self.scenario.event_fairs().values():
            assert sum(fairs) == MICROS and min(fairs) >= floor
        for e in events:
            if isinstance(e, TradeEvent) and e.trade.status == "MATCHED":
                self.trades += 1
                assert e.trade.owner == NOISE_OWNER  # no client: only noise takes
                assert {m.owner for m in e.trade.maker_orders} <= self.makers
            elif isinstance(e, TickSizeChange):
                self.ticks.append(e)
        for w in self.scenario.windows:
            if w.open_ns <= now <= w.close_ns + 1:
                self.sums.setdefault(w.index, []).append((now, best_ask_sum(ex, w.yes_tokens)))


@pytest.fixture(scope="module")
def default_run() -> tuple[Scenario, Invariants, Exchange]:
    scenario = Scenario(DEFAULT)
    check = Invariants(scenario)
    ex = run(scenario, 20 * S, check=check)
    return scenario, check, ex


def test_default_run_keeps_every_invariant_and_trades(
        default_run: tuple[Scenario, Invariants, Exchange]) -> None:
    scenario, check, _ = default_run
    stats = scenario.stats()
    assert check.trades > 50
    assert stats["maker_rejects"] == 0  # post-only quotes never crossed anything
    assert stats["noise_orders"] > 50


def test_default_run_windows_visible_while_open_and_gone_after(
        default_run: tuple[Scenario, Invariants, Exchange]) -> None:
    scenario, check, _ = default_run
    assert len(scenario.windows) >= 5
    for w in scenario.windows:
        seen = check.sums[w.index]
        during = [s for t, s in seen if t < w.close_ns]
        after = [s for t, s in seen if t >= w.close_ns]
        assert during and all(s == w.ask_sum_micros <= MICROS - w.edge_micros for s in during)
        assert after and all(s > MICROS for s in after)
        assert 50 * MS <= w.close_ns - w.open_ns <= 500 * MS
        assert 200 * 100 <= w.edge_micros <= 600 * 100


def test_default_run_fine_tick_market_changes_tick(
        default_run: tuple[Scenario, Invariants, Exchange]) -> None:
    scenario, check, ex = default_run
    fine = scenario.markets()[0]
    changes = [t for t in check.ticks if t.market == fine.condition_id]
    assert {(t.old_tick_micros, t.new_tick_micros) for t in changes} == {
        (1_000, 10_000), (10_000, 1_000)}
    tick = ex.market_info(fine.condition_id).tick_size_micros
    assert all(o.price_micros % tick == 0 for o in ex.open_orders("scenario:maker-0"))


def test_defaults_open_a_window_within_five_seconds_that_the_engine_detects() -> None:
    scenario = Scenario(DEFAULT)
    ex = Exchange(SimConfig())
    scenario.setup(ex, T0)
    while not scenario.windows:
        due = scenario.next_due_ns()
        assert due is not None and due <= T0 + 5 * S
        scenario.step(ex, due)
    window = scenario.windows[0]
    found = _detect_from_books(scenario, ex, window)
    assert [(c.strategy, c.market_id) for c in found] == [("neg_risk_buy", window.event_id)]
    opportunity = found[0]
    assert opportunity.size_micros >= window.depth_micros and opportunity.edge_micros > 0


def _detect_from_books(scenario: Scenario, ex: Exchange, window: Window) -> list[Candidate]:
    """What polyarb's engine sees: the rendered `book` messages, parsed, then detection."""
    registry, md = MarketRegistry(), MarketData()
    registry.load(scenario.markets())
    tokens = [t.token_id for m in scenario.markets() for t in m.tokens]
    for seq, token in enumerate(tokens, 1):
        md.apply_raw(orjson.dumps([ex.book_ws(token, T0)]), None, T0, seq)
    return list(detect(registry, md.books, window.yes_tokens, DetectionConfig()))


def test_window_bought_by_a_client_stays_bought_until_close() -> None:
    scenario = Scenario(DEFAULT)
    ex = Exchange(SimConfig())
    scenario.setup(ex, T0)
    while not scenario.windows:
        due = scenario.next_due_ns()
        assert due is not None
        scenario.step(ex, due)
    w, now = scenario.windows[0], scenario.windows[0].open_ns
    for token in w.yes_tokens:  # a fast bot buys the whole basket at the best asks
        price = ex.best_prices(token)[1]
        result = ex.place(OrderRequest(
            owner="bot", token_id=token, side="BUY", price_micros=price,
            size_micros=w.depth_micros, order_type="FOK"), now)
        assert result.success, result
    assert best_ask_sum(ex, w.yes_tokens) > MICROS - w.edge_micros
    while (due := scenario.next_due_ns()) is not None and due < w.close_ns:
        scenario.step(ex, due)
        assert best_ask_sum(ex, w.yes_tokens) > MICROS - w.edge_micros
    assert ex.problems() == []

def test_client_trading_does_not_change_the_market_history() -> None:
    cfg = ScenarioConfig(markets=3, neg_risk_events=2)
    quiet, busy = Scenario(cfg), Scenario(cfg)
    run(quiet, 4 * S)
    bought: set[int] = set()

    def client(ex: Exchange, now: int, _: list[SimEvent]) -> None:
        for w in busy.windows:  # take every window, and lean on a binary market now and then
            if w.index not in bought:
                bought.add(w.index)
                for token in w.yes_tokens:
                    ex.place(OrderRequest(owner="bot", token_id=token, side="BUY",
                                          price_micros=ex.best_prices(token)[1],
                                          size_micros=w.depth_micros, order_type="FAK"), now)
        yes = busy.markets()[1].tokens[0].token_id
        ex.place(OrderRequest(owner="bot", token_id=yes, side="BUY", order_type="FAK",
                              price_micros=ex.best_prices(yes)[1], size_micros=20 * MICROS), now)

    run(busy, 4 * S, check=client)
    assert busy.fair_values() == quiet.fair_values()
    assert [(w.event_id, w.close_ns, w.cuts_micros) for w in busy.windows] == [
        (w.event_id, w.close_ns, w.cuts_micros) for w in quiet.windows]
    assert bought


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_same_market_history_other_seed_differs() -> None:
    cfg = ScenarioConfig(markets=4, neg_risk_events=1)
    first = event_hash(cfg, 5 * S)
    assert event_hash(cfg, 5 * S) == first
    assert event_hash(ScenarioConfig(markets=4, neg_risk_events=1, seed=2), 5 * S) != first


_HASH_RUN = """
import hashlib, msgspec
from polyarb.sim import Exchange, SimConfig
from polyarb.sim.scenario import Scenario, ScenarioConfig
sc, ex = Scenario(ScenarioConfig(markets=3)), Exchange(SimConfig())
sc.setup(ex, 0)
digest = hashlib.sha256(msgspec.json.encode(ex.take_events()))
while (due := sc.next_due_ns()) is not None and due <= 3 * 10**9:
    sc.step(ex, due)
    ex.advance(due)
    digest.update(msgspec.json.encode(ex.take_events()))
print(digest.hexdigest())
"""


def test_same_seed_same_history_across_processes_and_hash_seeds() -> None:
    outputs = {
        subprocess.run([sys.executable, "-c", _HASH_RUN], capture_output=True, text=True,
                       check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1 and len(outputs.pop().strip()) == 64


def test_history_does_not_depend_on_when_the_caller_steps() -> None:
    cfg = ScenarioConfig(markets=4, neg_risk_events=2)
    on_time = Scenario(cfg)
    run(on_time, 6 * S)
    coarse = Scenario(cfg)
    ex = Exchange(SimConfig())
    coarse.setup(ex, T0)
    for k in range(1, 25):  # every 250 ms, whatever is due
        coarse.step(ex, T0 + k * 250 * MS)
    late = Scenario(cfg)
    ex = Exchange(SimConfig())
    late.setup(ex, T0)
    late.step(ex, T0 + 6 * S)  # one big catch-up
    capped = Scenario(ScenarioConfig(markets=4, neg_risk_events=2, max_actions_per_step=7))
    ex = Exchange(SimConfig())
    capped.setup(ex, T0)
    steps = 0
    while (due := capped.next_due_ns()) is not None and due <= T0 + 6 * S:
        capped.step(ex, T0 + 6 * S)  # always late: catches up 7 actions at a time
        steps += 1
    assert steps > 20
    scenarios = (on_time, coarse, late, capped)
    assert len({tuple(s.fair_values().items()) for s in scenarios}) == 1
    plans = [[(w.event_id, w.close_ns, w.edge_micros, w.depth_micros, w.cuts_micros)
              for w in s.windows] for s in scenarios]
    assert plans[0] == plans[1] == plans[2] == plans[3] and plans[0]


def test_duration_ends_the_schedule_with_every_window_closed() -> None:
    scenario = Scenario(ScenarioConfig(duration_ms=1_500, dislocation_interval_ms=(100, 300),
                                       dislocation_lifetime_ms=(400, 900)))
    ex = run(scenario, 10 * S)
    assert scenario.next_due_ns() is None
    assert scenario.windows and max(w.close_ns for w in scenario.windows) <= T0 + 1_500 * MS
    assert all(best_ask_sum(ex, w.yes_tokens) > MICROS for w in scenario.windows)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), markets=st.integers(0, 3), events=st.integers(1, 2),
       outcomes=st.tuples(st.integers(2, 8), st.integers(0, 3)))
def test_any_seed_keeps_books_uncrossed_and_windows_visible(
        seed: int, markets: int, events: int, outcomes: tuple[int, int]) -> None:
    cfg = ScenarioConfig(seed=seed, markets=markets, neg_risk_events=events,
                         fine_tick_markets=min(markets, 1),
                         outcomes=(outcomes[0], min(8, outcomes[0] + outcomes[1])),
                         dislocation_interval_ms=(200, 600), volatility_micros=30_000)
    scenario = Scenario(cfg)
    check = Invariants(scenario)
    run(scenario, 3 * S, check=check)
    assert scenario.stats()["maker_rejects"] == 0
    for w in scenario.windows:
        during = [s for t, s in check.sums.get(w.index, []) if t < w.close_ns]
        assert all(s <= MICROS - w.edge_micros for s in during)
