# Engine scenarios: every input goes through Engine.apply exactly as the runtime would feed it
# (markets, raw market-channel frames, the venue's responses to each PlaceOrders, clock ticks,
# operator commands), and the tests read the decisions, positions, P&L and the stats line.
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from polyarb.core.config import EngineConfig
from polyarb.core.detection import DetectionConfig
from polyarb.core.exec_common import ExecutionConfig
from polyarb.core.stats import render
from polyarb.events.base import Decision
from polyarb.events.decisions import (
    BreakerTransitioned,
    CancelOrders,
    ContinuityBroken,
    ContinuityRestored,
    OpportunityBlocked,
    OpportunityDetected,
    PlaceOrders,
    Unwind,
)
from tests.core.engine_helpers import (
    SEC,
    USD,
    Run,
    group_markets,
    kinds,
    market,
    of,
    tick_change_msg,
)

Y, N, CID = "Y1", "N1", "0xm1"


def _pair_run(config: EngineConfig | None = None, y_ask: int = 450_000, n_asks: tuple[
        tuple[int, int], ...] = ((500_000, 40 * USD),)) -> tuple[Run, PlaceOrders]:
    """A run with one binary market whose books open a complete-set buy; returns its batch."""
    run = Run(config)
    run.load(market(CID, Y, N))
    run.book(Y, [(400_000, 100 * USD)], [(y_ask, 40 * USD)])
    out = run.book(N, [(400_000, 100 * USD)], list(n_asks))
    assert kinds(out) == ["opportunity_detected", "place_orders"]
    return run, of(out, PlaceOrders)[0]


def _one_transition(out: Sequence[Decision]) -> BreakerTransitioned:
    found: list[BreakerTransitioned] = of(out, BreakerTransitioned)
    assert len(found) == 1, out
    return found[0]


# ---- complete-set buy ------------------------------------------------------------------------


def test_scenario_full_fill_complete_set_positions_pnl_and_stats_line() -> None:
    # Arrange: YES ask 0.45 x 40 + NO ask 0.50 x 40 = 0.95 per set
    run, batch = _pair_run()
    opp = of(run.decisions, OpportunityDetected)[0]
    y, n = batch.orders

    # Act
    out = run.fill_all([batch])

    # Assert: one batch of two FOK buys at the walked limits, for the whole depth
    assert (opp.strategy, opp.size_micros, opp.cost_micros, opp.edge_micros) == (
        "complete_set_buy", 40 * USD, 38 * USD, 2 * USD)
    assert [(o.token_id, o.side, o.price_micros, o.size_micros, o.order_type)
            for o in batch.orders] == [(Y, "BUY", 450_000, 40 * USD, "FOK"),
                                       (N, "BUY", 500_000, 40 * USD, "FOK")]
    assert (batch.batch_id, y.client_order_id, n.client_order_id) == ("run-b1", "run-o1",
                                                                      "run-o2")
    assert out == []  # fills change state, not the breaker
    pos = run.engine.execution.positions
    assert (pos.position(Y).qty_micros, pos.position(N).qty_micros) == (40 * USD, 40 * USD)
    assert pos.total_exposure_micros() == 0 and pos.open_positions() == 0  # a hedged set
    assert pos.locked_edge_micros() == 2 * USD
    assert render(run.engine.stats()) == (
        "updates 2 | opps 1 | executed 1 | failed 0 | blocked 0 | partial 0 | pnl $2.00 | "
        "loss $0.00/$100.00 | positions 0/3")


def test_scenario_market_resolved_on_the_feed_realizes_the_set() -> None:
    # Arrange
    run, batch = _pair_run()
    run.fill_all([batch])

    # Act
    out = run.send({"event_type": "market_resolved", "market": CID, "assets_ids": [Y, N],
                    "winning_asset_id": Y, "winning_outcome": "Yes"})

    # Assert: YES pays $1 x 40 against $38 paid for both legs
    assert out == []
    pos = run.engine.execution.positions
    assert pos.realized_micros() == 2 * USD
    assert pos.held_tokens() == []
    assert run.engine.stats().total_pnl_micros == 2 * USD


def test_scenario_partial_fill_then_unwind_retries_the_short_leg() -> None:
    # Arrange: FAK legs; NO walks 0.50 x 20 and 0.51 x 20
    config = EngineConfig(execution=ExecutionConfig(order_type="FAK"))
    run, batch = _pair_run(config, n_asks=((500_000, 20 * USD), (510_000, 20 * USD)))
    y, n = batch.orders
    assert n.price_micros == 510_000
    run.accept(y)
    run.fill(y)
    # the NO levels went to someone else; only 0.52 is left
    moved = run.change((N, "SELL", 500_000, 0), (N, "SELL", 510_000, 0),
                       (N, "SELL", 520_000, 50 * USD))
    run.accept(n, taking=20 * USD, making=10 * USD)

    # Act
    out = run.fill(n, size=20 * USD, price=500_000)

    # Assert: the new price opened the same market again, refused while in flight
    assert kinds(moved) == ["opportunity_detected", "opportunity_blocked"]
    assert of(moved, OpportunityBlocked)[0].gate == "in_flight"
    [unwind] = out
    assert isinstance(unwind, Unwind)
    assert unwind.action == "retry_leg"
    [retry] = unwind.orders
    assert (retry.token_id, retry.side, retry.price_micros, retry.size_micros) == (
        N, "BUY", 520_000, 20 * USD)
    assert unwind.max_loss_micros == 20 * 20_000  # 0.02 extra per share at most

    # Act: the retry fills
    run.accept(retry)
    done = run.fill(retry)

    # Assert: balanced again; the opportunity counts as failed (it legged)
    assert done == []
    pos = run.engine.execution.positions
    assert pos.position(Y).qty_micros == pos.position(N).qty_micros == 40 * USD
    assert pos.locked_edge_micros() == 40 * USD - (18 * USD + 10 * USD + 10_400_000)
    assert render(run.engine.stats()) == (
        "updates 3 | opps 2 | executed 0 | failed 1 | blocked 1 | partial 0 | pnl $1.60 | "
        "loss $0.00/$100.00 | positions 0/3")


def test_scenario_rejected_leg_unwinds_by_selling_the_filled_leg() -> None:
    # Arrange
    run, batch = _pair_run()
    y, n = batch.orders
    run.accept(y)
    run.fill(y)
    run.change((N, "SELL", 500_000, 0), (N, "SELL", 600_000, 50 * USD))  # NO moved away

    # Act
    out = run.reject(n)

    # Assert: no retry within 0.02 of 0.50, so YES is sold into the 0.40 bid
    [unwind] = out
    assert isinstance(unwind, Unwind) and unwind.action == "sell_legs"
    [exit_order] = unwind.orders
    assert (exit_order.token_id, exit_order.side, exit_order.price_micros,
            exit_order.size_micros, exit_order.order_type) == (Y, "SELL", 400_000, 40 * USD,
                                                               "GTC")
    assert unwind.max_loss_micros == 5 * USD

    # Act: the exit fills
    run.accept(exit_order)
    assert run.fill(exit_order) == []

    # Assert: flat, $2 lost (0.05 x 40), within the unwind's bound
    pos = run.engine.execution.positions
    assert pos.held_tokens() == []
    assert pos.realized_micros() == -2 * USD
    assert render(run.engine.stats()) == (
        "updates 3 | opps 1 | executed 0 | failed 1 | blocked 0 | partial 0 | pnl -$2.00 | "
        "loss $2.00/$100.00 | positions 0/3")


def test_scenario_unknown_outcome_halts_then_late_fill_completes_and_cooldown_releases() -> None:
    # Arrange: a long feed-silence limit so only the breaker's cooldown matters here
    run, batch = _pair_run(EngineConfig(max_feed_silence_ns=3600 * SEC))
    y, n = batch.orders
    run.accept(y)
    run.fill(y)

    # Act
    halted = run.unknown(n)
    late = run.fill(n)  # the user channel shows the fill; no REST response ever came

    # Assert: any unknown outcome halts; the late fill maps the order and completes the set
    trip = _one_transition(halted)
    assert (trip.from_state, trip.to_state, trip.gate, trip.limit, trip.observed) == (
        "ACTIVE", "HALTED", "unknown_outcomes", Decimal(0), Decimal(1))
    assert late == []
    rec = run.engine.execution.orders.get(n.client_order_id)
    assert rec is not None and rec.venue_order_id == f"0xv-{n.client_order_id}"
    assert run.engine.stats().executed == 1

    # Act: the cooldown passes by event time
    assert run.clock(299 * SEC) == []
    released = run.clock(1 * SEC)

    # Assert
    back = _one_transition(released)
    assert (back.from_state, back.to_state, back.gate) == ("HALTED", "ACTIVE", "unknown_outcomes")


# ---- breaker and operator --------------------------------------------------------------------


def _round(run: Run, size: int) -> list[Decision]:
    """Fresh books with `size` shares on each ask: a new opportunity when size grew."""
    out = list(run.book(Y, [(400_000, 100 * USD)], [(450_000, size)]))
    return out + list(run.book(N, [(400_000, 100 * USD)], [(500_000, size)]))


def test_scenario_consecutive_failures_halt_block_with_gate_then_cooldown_reactivates() -> None:
    # Arrange
    run = Run()
    run.load(market(CID, Y, N))
    trips: list[Decision] = []

    # Act: three opportunities in a row whose legs are all rejected (30 s apart)
    for size in (40 * USD, 41 * USD, 42 * USD):
        [_, batch] = _round(run, size)  # YES alone keeps the previous size: a repeat
        assert isinstance(batch, PlaceOrders)
        for intent in batch.orders:
            trips += run.reject(intent)
        run.clock(30 * SEC)
    blocked = _round(run, 43 * USD)

    # Assert: the third failure (> 2 tolerated) halts; the next opportunity names the gate
    trip = _one_transition(trips)
    assert (trip.to_state, trip.gate, trip.limit, trip.observed) == (
        "HALTED", "execution_failures", Decimal(2), Decimal(3))
    assert kinds(blocked) == ["opportunity_detected", "opportunity_blocked"]
    block = blocked[1]
    assert isinstance(block, OpportunityBlocked)
    assert (block.gate, block.limit, block.observed) == ("breaker_halted", Decimal(0),
                                                         Decimal(2))

    # Act: 300 s of event time later the latched trip releases
    out = run.clock(300 * SEC)

    # Assert: the books went stale meanwhile (not held: no breaker effect), then ACTIVE
    assert kinds(out) == ["continuity_broken", "continuity_broken", "breaker_transitioned"]
    back = out[-1]
    assert isinstance(back, BreakerTransitioned)
    assert (back.from_state, back.to_state, back.gate) == ("HALTED", "ACTIVE",
                                                           "execution_failures")
    assert kinds(_round(run, 44 * USD)) == ["continuity_restored", "continuity_restored",
                                            "opportunity_detected", "place_orders"]
    assert run.engine.stats().failed == 3 and run.engine.stats().blocked == 1


def test_scenario_operator_halt_blocks_until_resume() -> None:
    # Arrange
    run = Run()
    run.load(market(CID, Y, N))

    # Act
    halt = run.operator("halt", "manual check")
    blocked = _round(run, 40 * USD)
    waited = run.clock(30 * SEC)
    resume = run.operator("resume", "checked")
    placed = _round(run, 41 * USD)

    # Assert
    trip = _one_transition(halt)
    assert (trip.to_state, trip.gate, trip.reason) == ("HALTED", "operator_halt",
                                                       "operator_halt armed (manual check)")
    assert of(blocked, OpportunityBlocked)[0].gate == "breaker_halted"
    assert waited == []  # an operator halt never releases by itself
    back = _one_transition(resume)
    assert (back.to_state, back.gate) == ("ACTIVE", "operator_resume")
    assert kinds(placed) == ["opportunity_detected", "place_orders"]


# ---- feed events -------------------------------------------------------------------------------


def test_scenario_tick_size_change_drops_book_until_snapshot_with_new_epoch() -> None:
    # Arrange: a book with no opportunity yet (0.45 + 0.56)
    run = Run()
    run.load(market(CID, Y, N))
    run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])
    run.book(N, [(400_000, 100 * USD)], [(560_000, 40 * USD)])

    # Act
    dropped = run.send(tick_change_msg(Y, 10_000, 1_000, CID))
    ignored = run.change((N, "SELL", 500_000, 40 * USD))  # would open 0.45 + 0.50
    fresh = run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])

    # Assert
    [broken] = dropped
    assert isinstance(broken, ContinuityBroken)
    assert (broken.token_id, broken.reason, broken.epoch) == (Y, "tick_size_change", 1)
    assert ignored == []  # no opportunity while YES has no book
    assert kinds(fresh) == ["continuity_restored", "opportunity_detected", "place_orders"]
    restored = fresh[0]
    assert isinstance(restored, ContinuityRestored) and restored.epoch == 2
    opp = fresh[1]
    assert isinstance(opp, OpportunityDetected)
    assert [(leg.token_id, leg.epoch) for leg in opp.legs] == [(Y, 2), (N, 1)]
    batch = fresh[2]
    assert isinstance(batch, PlaceOrders)
    assert {o.tick_size_micros for o in batch.orders} == {1_000}


def test_scenario_neg_risk_basket_of_six_one_batch_fills_and_pnl() -> None:
    # Arrange: six YES asks at 0.15 (a basket of 0.90 for a $1 payout)
    run = Run()
    markets = group_markets("0xgroup", 6)
    run.load(*markets)
    out: list[Decision] = []

    # Act
    for info in markets:
        out = list(run.book(info.tokens[0].token_id, [(100_000, 200 * USD)],
                            [(150_000, 100 * USD)]))

    # Assert: found once the last outcome's book arrives, placed as one batch of six
    assert kinds(out) == ["opportunity_detected", "place_orders"]
    opp, batch = out
    assert isinstance(opp, OpportunityDetected) and isinstance(batch, PlaceOrders)
    assert (opp.strategy, opp.market_id, opp.size_micros, opp.cost_micros,
            opp.edge_micros) == ("neg_risk_buy", "0xgroup", 100 * USD, 90 * USD, 10 * USD)
    assert [o.token_id for o in batch.orders] == [f"gY{i}" for i in range(1, 7)]
    assert all(o.neg_risk and o.side == "BUY" and o.price_micros == 150_000
               for o in batch.orders)

    # Act
    filling = run.fill_all([batch])

    # Assert: while the legs fill one by one, 4 naked outcomes exceed the 3 open positions
    # the breaker tolerates (REDUCING); the sixth fill hedges the basket and releases it
    assert [(t.to_state, t.gate) for t in filling] == [  # type: ignore[attr-defined]
        ("REDUCING", "max_open_positions"), ("ACTIVE", "max_open_positions")]
    # one YES of every outcome is a hedged $1 basket
    pos = run.engine.execution.positions
    assert pos.group_exposure_micros("0xgroup") == 0
    assert pos.locked_edge_micros() == 10 * USD
    assert render(run.engine.stats()) == (
        "updates 6 | opps 1 | executed 1 | failed 0 | blocked 0 | partial 0 | pnl $10.00 | "
        "loss $0.00/$100.00 | positions 0/3")


def test_scenario_crossed_book_reported_as_anomaly_and_not_traded_by_default() -> None:
    # Arrange
    run = Run()
    run.load(market(CID, Y, N))

    # Act: YES bid 0.50 above its own ask 0.45
    out = run.book(Y, [(500_000, 100 * USD)], [(450_000, 40 * USD)])

    # Assert: a data anomaly (continuity broken), reported, refused by its own gate
    assert kinds(out) == ["continuity_broken", "opportunity_detected", "opportunity_blocked"]
    broken, opp, block = out
    assert isinstance(broken, ContinuityBroken) and broken.reason == "crossed_snapshot"
    assert isinstance(opp, OpportunityDetected) and opp.strategy == "crossed_book"
    assert isinstance(block, OpportunityBlocked) and block.gate == "crossed_book_disabled"
    assert not of(run.decisions, PlaceOrders)


def test_scenario_crossed_book_traded_only_when_enabled() -> None:
    # Arrange
    config = EngineConfig(detection=DetectionConfig(crossed_book_trading_enabled=True))
    run = Run(config)
    run.load(market(CID, Y, N))
    run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])

    # Act: a price_change puts a 0.50 bid above the 0.45 ask
    out = run.change((Y, "BUY", 500_000, 30 * USD))

    # Assert: buy the ask, sell into the bids (30 at 0.50, 10 at 0.40)
    assert kinds(out) == ["continuity_broken", "opportunity_detected", "place_orders"]
    batch = out[2]
    assert isinstance(batch, PlaceOrders)
    assert [(o.side, o.price_micros, o.size_micros) for o in batch.orders] == [
        ("BUY", 450_000, 40 * USD), ("SELL", 400_000, 40 * USD)]


def test_scenario_detect_only_journals_opportunities_and_never_places() -> None:
    # Arrange
    run = Run(EngineConfig(detect_only=True))
    run.load(market(CID, Y, N))
    run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])

    # Act
    out = run.book(N, [(400_000, 100 * USD)], [(500_000, 40 * USD)])
    more = run.change((N, "SELL", 500_000, 30 * USD))

    # Assert
    for batch in (out, more):
        assert kinds(batch) == ["opportunity_detected", "opportunity_blocked"]
        block = batch[1]
        assert isinstance(block, OpportunityBlocked)
        assert (block.gate, block.limit, block.observed) == ("detect_only", Decimal(0),
                                                             Decimal(1))
    assert not of(run.decisions, PlaceOrders)
    assert run.engine.stats().opportunities == 2 and run.engine.stats().blocked == 2


def test_scenario_stale_feed_via_clock_breaks_continuity_and_reduces_when_held() -> None:
    # Arrange: hold a naked YES (the NO leg was rejected and the exit is resting)
    run, batch = _pair_run()
    y, n = batch.orders
    run.accept(y)
    run.fill(y)
    run.change((N, "SELL", 500_000, 0), (N, "SELL", 600_000, 50 * USD))
    [unwind] = run.reject(n)
    assert isinstance(unwind, Unwind)

    # Act: 61 s without a message for either token
    assert run.clock(59 * SEC) == []
    out = run.clock(2 * SEC)

    # Assert: both books stale; YES is held, so the breaker stops new risk
    assert kinds(out) == ["continuity_broken", "continuity_broken", "breaker_transitioned"]
    assert [(d.token_id, d.reason) for d in out[:2]] == [(N, "stale"), (Y, "stale")]  # type: ignore[attr-defined]
    trip = out[2]
    assert isinstance(trip, BreakerTransitioned)
    assert (trip.to_state, trip.gate) == ("REDUCING", "feed_broken")

    # Act: a fresh YES snapshot restores it
    back = run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])

    # Assert
    assert kinds(back) == ["continuity_restored", "breaker_transitioned"]


def test_scenario_unwind_timeout_cancels_pending_retry_and_sells() -> None:
    # Arrange: FAK legs, NO only half filled, the retry never answers
    config = EngineConfig(execution=ExecutionConfig(order_type="FAK"),
                          max_feed_silence_ns=3600 * SEC)
    run, batch = _pair_run(config)
    y, n = batch.orders
    run.accept(y)
    run.fill(y)
    run.accept(n, taking=20 * USD, making=10 * USD)
    [retry] = run.fill(n, size=20 * USD)
    assert isinstance(retry, Unwind) and retry.action == "retry_leg"

    # Act
    out = run.clock(11 * SEC)

    # Assert: past the 10 s timeout: cancel the retry, sell the 20 excess YES
    assert kinds(out) == ["cancel_orders", "unwind"]
    cancel, sell = out
    assert isinstance(cancel, CancelOrders) and isinstance(sell, Unwind)
    assert cancel.client_order_ids == (retry.orders[0].client_order_id,)
    assert sell.action == "sell_legs"
    assert [(o.token_id, o.side, o.size_micros) for o in sell.orders] == [(Y, "SELL",
                                                                           20 * USD)]
