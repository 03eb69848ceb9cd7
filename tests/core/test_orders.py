# Orders: placement, deterministic ids, the order state machine and trade settlement, driven
# through Execution with events, as the engine will drive it.
from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.core.exec_common import ExecutionConfig, Step, UnwindPolicy
from polyarb.core.execution import Execution
from polyarb.events.inputs import (
    CancelFailed,
    OrderCancelled,
    OrderOutcomeUnknown,
    OrderUpdated,
)
from tests.core.exec_helpers import (
    SEC,
    T0,
    USD,
    Ctx,
    StubBook,
    accepted,
    binary,
    client_ids,
    loaded,
    opportunity,
    rejected,
    trade,
)

Y, N = "Y1", "N1"
PAIR = [(Y, "BUY", 450_000, 10 * USD), (N, "BUY", 520_000, 10 * USD)]


def _setup(prefix: str = "r1", order_type: str = "FOK") -> tuple[Execution, Ctx]:
    config = msgspec.convert({"client_id_prefix": prefix, "order_type": order_type},
                             ExecutionConfig)
    ex = Execution(config)
    ctx = Ctx([StubBook(Y, [(440_000, 50 * USD)], [(450_000, 50 * USD)]),
               StubBook(N, [(510_000, 50 * USD)], [(520_000, 50 * USD)])])
    ex.place(opportunity("opp1", PAIR), ctx)
    return ex, ctx


def _kinds(step: Step) -> list[str]:
    return [r.kind for r in step.results]


def _state(ex: Execution, cid: str) -> str:
    rec = ex.orders.get(cid)
    assert rec is not None
    return ex.orders.state_of(rec)


# ---- placement ------------------------------------------------------------------------------


def test_place_pair_one_batch_with_deterministic_ids() -> None:
    # Arrange
    ex = Execution(ExecutionConfig(client_id_prefix="r1", order_type="FAK"))
    ctx = Ctx(tick=1_000, neg_risk=True)
    # Act
    batches = ex.place(opportunity("opp1", PAIR, ts=T0 + 5, cause_seq=42), ctx)
    # Assert
    assert len(batches) == 1
    batch = batches[0]
    assert (batch.batch_id, batch.opp_id, batch.cause_seq, batch.ts_recv_ns) == (
        "r1-b1", "opp1", 42, T0 + 5)
    assert [o.client_order_id for o in batch.orders] == ["r1-o1", "r1-o2"]
    assert all(o.order_type == "FAK" and o.tick_size_micros == 1_000 and o.neg_risk
               for o in batch.orders)
    assert [(o.token_id, o.price_micros, o.size_micros) for o in batch.orders] == [
        (Y, 450_000, 10 * USD), (N, 520_000, 10 * USD)]


def test_place_twenty_leg_basket_splits_into_batches_of_fifteen() -> None:
    # Arrange
    legs = [(f"T{i:02d}", "BUY", 40_000, 5 * USD) for i in range(20)]
    ex = Execution(ExecutionConfig(client_id_prefix="r9"))
    # Act
    batches = ex.place(opportunity("basket", legs, strategy="neg_risk_buy"), Ctx())
    # Assert
    assert [len(b.orders) for b in batches] == [15, 5]
    assert [b.batch_id for b in batches] == ["r9-b1", "r9-b2"]
    assert [o.token_id for b in batches for o in b.orders] == [f"T{i:02d}" for i in range(20)]
    assert client_ids(batches) == [f"r9-o{i}" for i in range(1, 21)]


def test_place_same_opportunity_twice_raises() -> None:
    ex, ctx = _setup()
    with pytest.raises(ValueError, match="placed twice"):
        ex.place(opportunity("opp1", PAIR), ctx)


def test_config_bad_batch_size_raises() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        ExecutionConfig(max_batch=16)
    with pytest.raises(ValueError):
        UnwindPolicy(timeout_ns=0)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"order_typ": "FOK"}, ExecutionConfig)


# ---- order state machine ----------------------------------------------------------------------


def test_full_fill_of_pair_orders_filled_and_execution_ok() -> None:
    # Arrange
    ex, ctx = _setup()
    # Act
    ex.handle(accepted("r1-o1", "v1"), ctx, 2)
    ex.handle(accepted("r1-o2", "v2"), ctx, 3)
    ex.handle(trade("t1", "v1", Y, "BUY", 450_000, 10 * USD), ctx, 4)
    step = ex.handle(trade("t2", "v2", N, "BUY", 520_000, 10 * USD), ctx, 5)
    # Assert
    assert _kinds(step) == ["fill", "order_done", "execution_ok"]
    assert step.results[-1].detail == "filled"
    assert [_state(ex, c) for c in ("r1-o1", "r1-o2")] == ["filled", "filled"]
    assert ex.consecutive_failures() == 0
    assert ex.outcome_counts() == {"failed": 0, "filled": 1, "partial": 0}
    assert step.decisions == []
    held = ex.positions.market_positions(Y)  # no MarketsLoaded: each token its own market
    assert held[Y].qty_micros == 10 * USD and held[Y].cost_micros == 4_500_000
    assert ex.positions.position(N).cost_micros == 5_200_000
    ex.handle(loaded(binary()), ctx, 6)  # registered as one market: a hedged complete set
    assert ex.positions.locked_edge_micros() == 300_000
    assert ex.positions.total_exposure_micros() == 0
    assert ex.positions.market_realized_micros("0xm1") == 0


def test_rejection_counts_with_event_time_and_fails_execution() -> None:
    # Arrange
    ex, ctx = _setup()
    # Act
    ex.handle(rejected("r1-o1", ts=T0 + 3 * SEC), ctx, 2)
    step = ex.handle(rejected("r1-o2", ts=T0 + 4 * SEC), ctx, 3)
    # Assert
    assert _kinds(step) == ["rejection", "order_done", "execution_failed"]
    assert step.results[-1].detail == "nothing filled"
    assert ex.orders.rejection_times() == [T0 + 3 * SEC, T0 + 4 * SEC]
    assert ex.orders.rejections_since(T0 + 4 * SEC) == 1
    assert ex.consecutive_failures() == 1
    assert step.decisions == []  # nothing filled: nothing to unwind


def test_consecutive_failures_reset_by_a_filled_opportunity() -> None:
    ex, ctx = _setup()
    ex.handle(rejected("r1-o1"), ctx, 2)
    ex.handle(rejected("r1-o2"), ctx, 3)
    ex.place(opportunity("opp2", PAIR), ctx)
    assert ex.consecutive_failures() == 1
    for cid, vid, tid, (tok, side, price, size) in zip(
            ("r1-o3", "r1-o4"), ("v3", "v4"), ("t3", "t4"), PAIR, strict=True):
        ex.handle(accepted(cid, vid), ctx, 4)
        ex.handle(trade(tid, vid, tok, side, price, size), ctx, 5)
    assert ex.consecutive_failures() == 0


def test_unknown_outcome_then_late_order_update_resolves_it() -> None:
    # Arrange
    ex, ctx = _setup()
    step = ex.handle(OrderOutcomeUnknown(ts_recv_ns=T0, client_order_id="r1-o1",
                                         reason="timeout"), ctx, 2)
    assert _kinds(step) == ["outcome_unknown"]
    assert ex.orders.unknown_outstanding() == 1
    # Act: the user channel reports the order (no client id: matched by token/side/price/size)
    update = OrderUpdated(ts_recv_ns=T0 + SEC, venue_order_id="0xabc", update_type="PLACEMENT",
                          token_id=Y, side="BUY", price_micros=450_000,
                          original_size_micros=10 * USD, size_matched_micros=0, status="LIVE")
    step = ex.handle(update, ctx, 3)
    # Assert
    assert _kinds(step) == ["accepted"]
    assert ex.orders.unknown_outstanding() == 0
    rec = ex.orders.get("r1-o1")
    assert rec is not None and rec.venue_order_id == "0xabc"
    step = ex.handle(trade("t1", "0xabc", Y, "BUY", 450_000, 10 * USD), ctx, 4)
    assert "order_done" in _kinds(step) and ex.orders.state_of(rec) == "filled"


def test_unknown_outcome_then_late_trade_maps_the_order() -> None:
    ex, ctx = _setup()
    ex.handle(OrderOutcomeUnknown(ts_recv_ns=T0, client_order_id="r1-o2", reason="503"), ctx, 2)
    step = ex.handle(trade("t9", "0xdef", N, "BUY", 515_000, 10 * USD), ctx, 3)
    assert _kinds(step)[:2] == ["accepted", "fill"]
    assert step.results[1].client_order_id == "r1-o2"
    assert ex.orders.unknown_outstanding() == 0
    assert ex.positions.position(N).qty_micros == 10 * USD


def test_trade_before_accept_attaches_and_accept_is_idempotent() -> None:
    ex, ctx = _setup()
    ex.handle(trade("t1", "v1", Y, "BUY", 450_000, 10 * USD), ctx, 2)
    step = ex.handle(accepted("r1-o1", "v1"), ctx, 3)
    rec = ex.orders.get("r1-o1")
    assert rec is not None and ex.orders.state_of(rec) == "filled"
    assert step.results == [] or "accepted" not in _kinds(step)
    assert "duplicate_accepted" not in ex.orders.counters()
    ex.handle(accepted("r1-o1", "v1"), ctx, 4)
    assert ex.orders.counters()["duplicate_accepted"] == 1


def test_accept_with_other_venue_id_undoes_a_wrong_guess() -> None:
    ex, ctx = _setup()
    # A trade of an order from elsewhere (other venue id) looks like r1-o1 and is guessed onto it
    ex.handle(trade("tx", "vOther", Y, "BUY", 450_000, 2 * USD), ctx, 2)
    ex.handle(accepted("r1-o1", "v1"), ctx, 3)
    rec = ex.orders.get("r1-o1")
    assert rec is not None and rec.venue_order_id == "v1"
    assert ex.orders.filled(rec) == 0
    assert ex.orders.counters()["venue_id_remapped"] == 1
    assert ex.positions.position(Y).qty_micros == 2 * USD  # the fill itself still counts


def test_trade_on_unknown_venue_id_is_counted_and_booked() -> None:
    ex, ctx = _setup()
    step = ex.handle(trade("t1", "vX", "OTHER", "SELL", 300_000, USD), ctx, 2)
    assert _kinds(step) == ["fill"] and step.results[0].opp_id == ""
    assert ex.orders.counters()["unmatched_trade"] == 1
    assert ex.positions.position("OTHER").qty_micros == -USD


def test_unknown_client_ids_are_ignored_and_counted() -> None:
    ex, ctx = _setup()
    for ev in (accepted("nope", "v"), rejected("nope"),
               OrderOutcomeUnknown(ts_recv_ns=T0, client_order_id="nope", reason="x"),
               OrderCancelled(ts_recv_ns=T0, venue_order_id="vnope"),
               CancelFailed(ts_recv_ns=T0, venue_order_id="vnope", reason="x")):
        assert _kinds(ex.handle(ev, ctx, 2)) == ["ignored"]
    assert sum(ex.orders.counters().values()) >= 5


def test_fak_partial_fill_is_done_when_trades_reach_matched_size() -> None:
    # Arrange
    ex, ctx = _setup(order_type="FAK")
    # Act: the venue matched 4 of 10 shares (BUY: taking = shares)
    ex.handle(accepted("r1-o1", "v1", making=1_800_000, taking=4 * USD), ctx, 2)
    step = ex.handle(trade("t1", "v1", Y, "BUY", 450_000, 4 * USD), ctx, 3)
    # Assert
    rec = ex.orders.get("r1-o1")
    assert rec is not None and ex.orders.state_of(rec) == "cancelled"
    assert ("order_done", "cancelled") in [(r.kind, r.detail) for r in step.results]


def test_cancel_then_update_is_idempotent() -> None:
    ex, ctx = _setup(order_type="FAK")
    ex.handle(accepted("r1-o1", "v1"), ctx, 2)  # FAK without amounts: matched size unknown
    rec = ex.orders.get("r1-o1")
    assert rec is not None and not ex.orders.is_done(rec)
    step = ex.handle(OrderCancelled(ts_recv_ns=T0, venue_order_id="v1"), ctx, 3)
    assert ("order_done", "cancelled") in [(r.kind, r.detail) for r in step.results]
    update = OrderUpdated(ts_recv_ns=T0, venue_order_id="v1", update_type="UPDATE", token_id=Y,
                          side="BUY", price_micros=450_000, original_size_micros=10 * USD,
                          size_matched_micros=0, status="MATCHED")
    ex.handle(update, ctx, 4)
    ex.handle(OrderCancelled(ts_recv_ns=T0, venue_order_id="v1"), ctx, 5)
    assert ex.orders.state_of(rec) == "cancelled"
    assert ex.orders.counters()["duplicate_cancelled"] == 1
    assert ex.orders.counters()["update_after_terminal"] == 1


def test_rejected_then_accepted_is_contradictory_and_ignored() -> None:
    ex, ctx = _setup()
    ex.handle(rejected("r1-o1"), ctx, 2)
    assert _kinds(ex.handle(accepted("r1-o1", "v1"), ctx, 3)) == ["ignored"]
    assert _kinds(ex.handle(rejected("r1-o1"), ctx, 4)) == ["ignored"]


# ---- settlement -----------------------------------------------------------------------------


def test_settlement_statuses_advance_and_duplicates_are_ignored() -> None:
    ex, ctx = _setup()
    ex.handle(accepted("r1-o1", "v1"), ctx, 2)
    kinds = []
    statuses = ("MINED", "MATCHED", "MINED", "RETRYING", "CONFIRMED", "FAILED", "CONFIRMED")
    for status in statuses:
        step = ex.handle(trade("t1", "v1", Y, "BUY", 450_000, 10 * USD, status), ctx, 3)
        kinds.append((step.results[0].kind, step.results[0].detail))
    assert kinds == [("fill", "MINED"), ("ignored", "MATCHED after MINED: t1"),
                     ("ignored", "duplicate MINED: t1"), ("settlement", "RETRYING"),
                     ("settlement", "CONFIRMED"), ("ignored", "FAILED after CONFIRMED: t1"),
                     ("ignored", "duplicate CONFIRMED: t1")]
    assert ex.positions.position(Y).qty_micros == 10 * USD
    trade_rec = ex.orders.trades.get("t1")
    assert trade_rec is not None and trade_rec.status == "CONFIRMED"


def test_settlement_failed_voids_the_fill_exactly_once() -> None:
    # Arrange
    ex, ctx = _setup()
    ex.handle(accepted("r1-o1", "v1"), ctx, 2)
    ex.handle(trade("t1", "v1", Y, "BUY", 450_000, 10 * USD, fee=20_000), ctx, 3)
    # Act
    step = ex.handle(trade("t1", "v1", Y, "BUY", 450_000, 10 * USD, "FAILED", T0 + SEC), ctx, 4)
    again = ex.handle(trade("t1", "v1", Y, "BUY", 450_000, 10 * USD, "CONFIRMED"), ctx, 5)
    # Assert
    assert step.results[0].kind == "fill_voided"
    assert _kinds(again) == ["ignored"]
    pos = ex.positions.position(Y)
    assert (pos.qty_micros, pos.cost_micros, pos.fees_shares_micros, pos.realized_micros) == (
        0, 0, 0, 0)
    rec = ex.orders.get("r1-o1")
    assert rec is not None and ex.orders.filled(rec) == 0


def test_first_seen_failed_trade_books_nothing() -> None:
    ex, ctx = _setup()
    step = ex.handle(trade("t1", "v1", Y, "BUY", 450_000, 10 * USD, "FAILED"), ctx, 2)
    assert step.results[0].kind == "settlement"
    ex.handle(trade("t1", "v1", Y, "BUY", 450_000, 10 * USD, "MATCHED"), ctx, 3)
    assert ex.positions.position(Y).qty_micros == 0


def test_first_seen_mined_trade_still_books_the_fill() -> None:
    ex, ctx = _setup()
    ex.handle(trade("t1", "v1", Y, "BUY", 450_000, 10 * USD, "MINED"), ctx, 2)
    assert ex.positions.position(Y).qty_micros == 10 * USD


@pytest.mark.parametrize("bad", [
    {"size": 0}, {"price": 0}, {"price": 1_000_001}, {"fee": -1}, {"fee": 11 * USD}])
def test_invalid_trade_is_ignored_with_a_reason(bad: dict[str, int]) -> None:
    ex, ctx = _setup()
    args = {"price": 450_000, "size": 10 * USD, "fee": 0} | bad
    step = ex.handle(trade("t1", "v1", Y, "BUY", args["price"], args["size"], fee=args["fee"]),
                     ctx, 2)
    assert _kinds(step) == ["ignored"] and "trade" in step.results[0].detail
    assert ex.positions.position(Y).qty_micros == 0


def test_resting_and_unknown_counts_follow_the_orders() -> None:
    ex, ctx = _setup(order_type="FAK")
    ex.handle(accepted("r1-o1", "v1"), ctx, 2)
    ex.handle(OrderOutcomeUnknown(ts_recv_ns=T0, client_order_id="r1-o2", reason="x"), ctx, 3)
    assert (ex.orders.resting_orders(), ex.orders.unknown_outstanding()) == (1, 1)
    ex.handle(OrderCancelled(ts_recv_ns=T0, venue_order_id="v1"), ctx, 4)
    ex.on_order_absent("r1-o2", T0, ctx, 5)
    assert (ex.orders.resting_orders(), ex.orders.unknown_outstanding()) == (0, 0)
    assert ex.orders.open_orders() == []


# ---- properties -------------------------------------------------------------------------------

_LEG_COUNTS = st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=6)


def _place_all(counts: list[int], prefix: str) -> list[str]:
    ex = Execution(ExecutionConfig(client_id_prefix=prefix))
    ids: list[str] = []
    for n, count in enumerate(counts):
        legs = [(f"T{i}", "BUY", 10_000, USD) for i in range(count)]
        batches = ex.place(opportunity(f"opp{n}", legs), Ctx())
        ids += client_ids(batches) + [b.batch_id for b in batches]
    return ids


@settings(max_examples=50, deadline=None)
@given(_LEG_COUNTS)
def test_client_ids_unique_and_deterministic(counts: list[int]) -> None:
    first = _place_all(counts, "runA")
    assert first == _place_all(counts, "runA")
    assert len(set(first)) == len(first)
    assert all(i.startswith("runA-") for i in first)


def test_parked_update_survives_snapshot_and_applies_on_accept() -> None:
    # Arrange: an update for a venue id nothing matches (price differs) is parked
    ex, ctx = _setup(order_type="FAK")
    update = OrderUpdated(ts_recv_ns=T0, venue_order_id="v1", update_type="UPDATE", token_id=Y,
                          side="BUY", price_micros=449_000, original_size_micros=10 * USD,
                          size_matched_micros=3 * USD, status="MATCHED")
    assert _kinds(ex.handle(update, ctx, 2)) == ["ignored"]
    # Act
    ex = Execution.restore(msgspec.json.decode(msgspec.json.encode(ex.snapshot())), ex.config)
    ex.handle(accepted("r1-o1", "v1"), ctx, 3)
    step = ex.handle(trade("t1", "v1", Y, "BUY", 449_000, 3 * USD), ctx, 4)
    # Assert: the parked size_matched (3 of 10) told us the FAK's remainder was killed
    assert ("order_done", "cancelled") in [(r.kind, r.detail) for r in step.results]


def test_accept_reclaims_a_venue_id_guessed_onto_another_order() -> None:
    # Arrange: two identical-looking open orders; a trade is guessed onto the older one
    ex, ctx = _setup()
    ex.place(opportunity("opp2", PAIR), ctx)  # r1-o3 (YES) looks like r1-o1
    ex.handle(trade("t1", "v3", Y, "BUY", 450_000, 10 * USD), ctx, 2)
    first = ex.orders.get("r1-o1")
    assert first is not None and first.venue_order_id == "v3"
    # Act: the venue says v3 is r1-o3
    ex.handle(accepted("r1-o3", "v3"), ctx, 3)
    # Assert
    third = ex.orders.get("r1-o3")
    assert third is not None and ex.orders.state_of(third) == "filled"
    assert first.venue_order_id == "" and first.status == "unknown"
    assert ex.orders.unknown_outstanding() == 1


def test_negative_amounts_in_acceptance_do_not_finish_the_order() -> None:
    ex, ctx = _setup(order_type="FAK")
    ex.handle(accepted("r1-o1", "v1", making=-5, taking=-5), ctx, 2)
    rec = ex.orders.get("r1-o1")
    assert rec is not None and not ex.orders.is_done(rec)
