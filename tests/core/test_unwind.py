# Unwind: legging repair by retry, then exit bounded by the max loss, with event-time timeouts.
# Also the whole Execution's determinism: snapshot/restore mid-sequence changes nothing.
from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.core.exec_common import ExecutionConfig, Step, UnwindPolicy
from polyarb.core.execution import Execution
from polyarb.events.decisions import CancelOrders, PlaceOrders, Unwind
from polyarb.events.inputs import OrderCancelled, OrderOutcomeUnknown, OrderUpdated
from tests.core.exec_helpers import (
    SEC,
    T0,
    USD,
    Ctx,
    StubBook,
    accepted,
    binary,
    loaded,
    opportunity,
    rejected,
    trade,
)

Y, N = "Y1", "N1"
PAIR = [(Y, "BUY", 450_000, 10 * USD), (N, "BUY", 520_000, 10 * USD)]


def _books(y_bids: int = 440_000, n_asks: int = 530_000) -> Ctx:
    return Ctx([StubBook(Y, [(y_bids, 50 * USD)], [(460_000, 50 * USD)]),
                StubBook(N, [(500_000, 50 * USD)], [(n_asks, 50 * USD)])])


def _start(policy: UnwindPolicy | None = None, legs: list[Any] | None = None,
           order_type: str = "FAK") -> Execution:
    cfg = msgspec.structs.replace(ExecutionConfig(client_id_prefix="r1"),
                                  order_type=order_type, unwind=policy or UnwindPolicy())
    ex = Execution(cfg)
    ex.handle(loaded(binary()), Ctx(), 0)
    ex.place(opportunity("opp1", legs or PAIR), Ctx())
    return ex


def _fill(ex: Execution, ctx: Ctx, cid: str, shares: int, ts: int = T0, seq: int = 2,
          price: int | None = None) -> Step:
    rec = ex.orders.get(cid)
    assert rec is not None
    vid = "v" + cid
    # making/taking: shares on the side that carries them (taking for a BUY, making for a SELL)
    ex.handle(accepted(cid, vid, ts, making=shares, taking=shares), ctx, seq)
    return ex.handle(trade("t" + cid, vid, rec.token_id, rec.side, price or rec.price_micros,
                           shares, ts=ts), ctx, seq)


def _unwinds(step: Step) -> list[Unwind]:
    return [d for d in step.decisions if isinstance(d, Unwind)]


def _orders(unwind: Unwind) -> list[tuple[str, str, str, int, int, str]]:
    return [(o.client_order_id, o.token_id, o.side, o.price_micros, o.size_micros, o.order_type)
            for o in unwind.orders]


def test_partial_fill_retries_missing_quantity_then_balances() -> None:
    # Arrange
    ex, ctx = _start(), _books(n_asks=530_000)
    _fill(ex, ctx, "r1-o1", 10 * USD)
    # Act: the NO leg (FAK) gets only 4 of 10 shares
    step = _fill(ex, ctx, "r1-o2", 4 * USD, ts=T0 + 1, seq=3)
    # Assert: one retry of 6 NO at 0.53 (within 0.52 + 0.02)
    [unwind] = _unwinds(step)
    assert (unwind.action, unwind.opp_id, unwind.cause_seq, unwind.ts_recv_ns) == (
        "retry_leg", "opp1", 3, T0 + 1)
    assert _orders(unwind) == [("r1-o3", N, "BUY", 530_000, 6 * USD, "FAK")]
    assert ("execution_failed", "legged") in [(r.kind, r.detail) for r in step.results]
    # Act: the retry fills
    done = _fill(ex, ctx, "r1-o3", 6 * USD, ts=T0 + 2, seq=4)
    # Assert
    assert "unwind_done" in [r.kind for r in done.results]
    assert ex.positions.position(N).qty_micros == 10 * USD
    assert ex.positions.total_exposure_micros() == 0
    assert ex.outcome_counts()["failed"] == 1 and ex.consecutive_failures() == 1


def test_retry_killed_and_price_moved_sells_excess_at_best_bid() -> None:
    # Arrange: partial fill, retry emitted
    ex, ctx = _start(), _books()
    _fill(ex, ctx, "r1-o1", 10 * USD)
    _fill(ex, ctx, "r1-o2", 4 * USD, seq=3)
    # Act: the retry is killed and NO asks moved beyond the retry limit
    ctx.set(StubBook(N, [(500_000, 50 * USD)], [(600_000, 50 * USD)]))
    step = ex.handle(rejected("r1-o3", ts=T0 + SEC), ctx, 5)
    # Assert: sell the 6 excess YES at the best bid, well inside the $5 loss budget
    [unwind] = _unwinds(step)
    assert unwind.action == "sell_legs" and unwind.max_loss_micros == 5 * USD
    assert _orders(unwind) == [("r1-o4", Y, "SELL", 440_000, 6 * USD, "GTC")]
    assert "max-loss" not in unwind.reason
    # Act: the exit fills: legs balanced at 4 sets
    done = _fill(ex, ctx, "r1-o4", 6 * USD, ts=T0 + 2 * SEC, seq=6)
    assert "unwind_done" in [r.kind for r in done.results]
    assert ex.positions.position(Y).qty_micros == 4 * USD
    assert ex.positions.position(Y).realized_micros == -60_000  # 6 * (0.44 - 0.45)
    assert ex.positions.open_positions() == 0


def test_rejected_leg_with_liquidity_is_retried_at_walked_price() -> None:
    ex = _start(order_type="FOK")
    ctx = Ctx([StubBook(N, [], [(520_000, 3 * USD), (535_000, 20 * USD)])])
    _fill(ex, ctx, "r1-o1", 10 * USD)
    step = ex.handle(rejected("r1-o2"), ctx, 3)
    [unwind] = _unwinds(step)
    assert _orders(unwind) == [("r1-o3", N, "BUY", 535_000, 10 * USD, "FOK")]
    assert ex.orders.rejections_since(T0) == 1


def test_exit_beyond_max_loss_rests_at_bound_price() -> None:
    # Arrange: $0.33 budget; YES bids collapsed to 0.30; NO unavailable within the retry limit
    ex = _start(UnwindPolicy(max_loss_micros=330_000))
    ctx = _books(y_bids=300_000, n_asks=700_000)
    _fill(ex, ctx, "r1-o1", 10 * USD)
    # Act
    step = ex.handle(rejected("r1-o2"), ctx, 3)
    # Assert: 0.45 - 0.033 = 0.417, rounded up to the tick: 0.42 (loss 0.30 <= 0.33)
    [unwind] = _unwinds(step)
    assert unwind.action == "sell_legs" and unwind.max_loss_micros == 330_000
    assert _orders(unwind) == [("r1-o3", Y, "SELL", 420_000, 10 * USD, "GTC")]
    assert "resting at the max-loss bound" in unwind.reason


def test_exit_without_any_bid_rests_at_bound() -> None:
    ex = _start(UnwindPolicy(max_loss_micros=USD, max_retries=0))
    ctx = Ctx([StubBook(Y, [], [])])
    _fill(ex, ctx, "r1-o1", 10 * USD)
    [unwind] = _unwinds(ex.handle(rejected("r1-o2"), ctx, 3))
    assert _orders(unwind) == [("r1-o3", Y, "SELL", 350_000, 10 * USD, "GTC")]


def test_loss_budget_shrinks_by_earlier_exit_losses() -> None:
    ex = _start(UnwindPolicy(max_loss_micros=USD, max_retries=0))
    ctx = _books(y_bids=400_000, n_asks=900_000)
    _fill(ex, ctx, "r1-o1", 10 * USD)
    ex.handle(rejected("r1-o2"), ctx, 3)
    # First exit sells 5 of 10 at 0.40 (lost $0.25), the rest is cancelled
    ex.handle(accepted("r1-o3", "vx"), ctx, 4)
    ex.handle(trade("tx", "vx", Y, "SELL", 400_000, 5 * USD), ctx, 5)
    step = ex.handle(OrderCancelled(ts_recv_ns=T0, venue_order_id="vx"), ctx, 6)
    [unwind] = _unwinds(step)
    assert unwind.max_loss_micros == 750_000
    assert _orders(unwind) == [("r1-o4", Y, "SELL", 400_000, 5 * USD, "GTC")]


def test_naked_leg_times_out_into_cancel_and_sell() -> None:
    # Arrange: YES filled, NO's outcome unknown
    ex, ctx = _start(UnwindPolicy(timeout_ns=10 * SEC)), _books()
    _fill(ex, ctx, "r1-o1", 10 * USD)
    ex.handle(OrderOutcomeUnknown(ts_recv_ns=T0, client_order_id="r1-o2", reason="timeout"),
              ctx, 3)
    # Act / Assert: before the timeout nothing happens
    assert ex.on_tick(T0 + 9 * SEC, ctx, 4).decisions == []
    step = ex.on_tick(T0 + 10 * SEC, ctx, 5)
    cancel, unwind = step.decisions
    assert isinstance(cancel, CancelOrders) and cancel.client_order_ids == ("r1-o2",)
    assert isinstance(unwind, Unwind) and unwind.action == "sell_legs"
    assert _orders(unwind) == [("r1-o3", Y, "SELL", 440_000, 10 * USD, "GTC")]
    assert ex.on_tick(T0 + 11 * SEC, ctx, 6).decisions == []  # covered by the pending exit
    # Act: the unknown order did fill after all: balanced again, the exit is cancelled
    late = ex.handle(trade("tn", "vn", N, "BUY", 520_000, 10 * USD, ts=T0 + 12 * SEC), ctx, 7)
    [cancel2] = late.decisions
    assert isinstance(cancel2, CancelOrders) and cancel2.client_order_ids == ("r1-o3",)
    ex.handle(accepted("r1-o3", "vexit"), ctx, 8)
    done = ex.handle(OrderCancelled(ts_recv_ns=T0 + 13 * SEC, venue_order_id="vexit"), ctx, 9)
    assert "unwind_done" in [r.kind for r in done.results]
    assert ex.positions.total_exposure_micros() == 0


def test_retry_pending_past_timeout_escalates_to_sell() -> None:
    ex, ctx = _start(UnwindPolicy(timeout_ns=5 * SEC)), _books()
    _fill(ex, ctx, "r1-o1", 10 * USD)
    ex.handle(rejected("r1-o2"), ctx, 3)  # retry r1-o3 emitted, never answered
    step = ex.on_tick(T0 + 6 * SEC, ctx, 4)
    assert [type(d).__name__ for d in step.decisions] == ["CancelOrders", "Unwind"]
    assert step.decisions[0].client_order_ids == ("r1-o3",)  # type: ignore[attr-defined]
    assert _unwinds(step)[0].action == "sell_legs"


def test_sell_opportunity_legged_buys_back_the_sold_leg() -> None:
    legs = [(Y, "SELL", 550_000, 10 * USD), (N, "SELL", 500_000, 10 * USD)]
    ex = _start(legs=legs)
    ctx = Ctx([StubBook(Y, [(540_000, 50 * USD)], [(560_000, 50 * USD)]),
               StubBook(N, [(400_000, 50 * USD)], [(420_000, 50 * USD)])])
    _fill(ex, ctx, "r1-o1", 10 * USD)
    [unwind] = _unwinds(ex.handle(rejected("r1-o2"), ctx, 3))
    assert unwind.action == "sell_legs"
    assert _orders(unwind) == [("r1-o3", Y, "BUY", 560_000, 10 * USD, "GTC")]


def test_exit_rounds_exhausted_reports_stuck_once_then_exits_again_after_the_timeout() -> None:
    ex, ctx = _start(UnwindPolicy(max_retries=0, max_exit_rounds=1)), _books()
    _fill(ex, ctx, "r1-o1", 10 * USD)
    ex.handle(rejected("r1-o2"), ctx, 3)  # exit r1-o3
    step = ex.handle(rejected("r1-o3"), ctx, 4)
    assert step.decisions == [] and "unwind_stuck" in [r.kind for r in step.results]
    early = ex.on_tick(T0 + 9 * SEC, ctx, 5)  # the last exit is younger than the timeout
    assert early.decisions == [] and "unwind_stuck" not in [r.kind for r in early.results]
    # a naked leg is never abandoned: one more exit per unwind timeout
    [again] = _unwinds(ex.on_tick(T0 + 10 * SEC, ctx, 6))
    assert [o[:3] for o in _orders(again)] == [("r1-o4", Y, "SELL")]
    ex.handle(rejected("r1-o4", ts=T0 + 10 * SEC), ctx, 7)
    assert _unwinds(ex.on_tick(T0 + 15 * SEC, ctx, 8)) == []
    assert len(_unwinds(ex.on_tick(T0 + 20 * SEC, ctx, 9))) == 1


def test_exit_rounds_count_per_leg_so_one_batch_dying_order_by_order_exits_every_leg() -> None:
    # Arrange: three legs, two fill, the third is killed: one sell_legs exits Y and N together
    legs = [*PAIR, ("Z1", "BUY", 300_000, 10 * USD)]
    ex = _start(UnwindPolicy(max_retries=0, max_exit_rounds=2), legs=legs)
    ctx = _books()
    ctx.set(StubBook("Z1", [(290_000, 50 * USD)], [(310_000, 50 * USD)]))
    _fill(ex, ctx, "r1-o1", 10 * USD)
    _fill(ex, ctx, "r1-o2", 10 * USD, seq=3)
    [first] = _unwinds(ex.handle(rejected("r1-o3"), ctx, 4))
    assert [o[:2] for o in _orders(first)] == [("r1-o4", Y), ("r1-o5", N)]
    # Act: the batch's exits die one by one (as reconciliation answers them after a restart)
    [again_y] = _unwinds(ex.handle(rejected("r1-o4"), ctx, 5))
    step_n = ex.handle(rejected("r1-o5"), ctx, 6)
    # Assert: N's first exit dying is N's business only: it gets its second exit
    assert [o[:2] for o in _orders(again_y)] == [("r1-o6", Y)]
    assert [o[:2] for o in _orders(_unwinds(step_n)[0])] == [("r1-o7", N)]
    # and once every leg used its rounds, the opportunity is stuck
    ex.handle(rejected("r1-o6"), ctx, 7)
    last = ex.handle(rejected("r1-o7"), ctx, 8)
    assert last.decisions == [] and "unwind_stuck" in [r.kind for r in last.results]


def test_balanced_partial_fill_is_partial_not_failed() -> None:
    ex, ctx = _start(), _books()
    _fill(ex, ctx, "r1-o1", 4 * USD)
    step = _fill(ex, ctx, "r1-o2", 4 * USD, seq=3)
    assert [(r.kind, r.detail) for r in step.results][-1] == ("execution_ok", "partial")
    assert ex.outcome_counts() == {"failed": 0, "filled": 0, "partial": 1}


def test_void_of_a_filled_leg_triggers_unwind() -> None:
    ex, ctx = _start(UnwindPolicy(max_retries=0)), _books()
    _fill(ex, ctx, "r1-o1", 10 * USD)
    _fill(ex, ctx, "r1-o2", 10 * USD, seq=3)
    step = ex.handle(trade("tr1-o2", "vr1-o2", N, "BUY", 520_000, 10 * USD, "FAILED"), ctx, 4)
    [unwind] = _unwinds(step)
    assert _orders(unwind) == [("r1-o3", Y, "SELL", 440_000, 10 * USD, "GTC")]


# ---- properties: determinism of the whole execution ---------------------------------------

_ops = st.lists(st.tuples(
    st.sampled_from(["accept", "reject", "unknown", "fill", "part", "void", "cancel", "tick",
                     "dup"]),
    st.integers(0, 50)), max_size=25)


def _event(ex: Execution, op: str, k: int, n: int) -> tuple[str, Any]:
    """Build the n-th event from an abstract op against the execution's current orders."""
    ts = T0 + n * SEC
    opp = ex.opportunity("opp1")
    assert opp is not None
    rec = ex.orders.get(opp.orders[k % len(opp.orders)])
    assert rec is not None
    vid, side = "v" + rec.client_order_id, rec.side
    price = rec.price_micros
    if op == "tick":
        return "tick", ts + k * SEC
    if op == "accept":
        return "ev", accepted(rec.client_order_id, vid, ts)
    if op == "reject":
        return "ev", rejected(rec.client_order_id, ts)
    if op == "unknown":
        return "ev", OrderOutcomeUnknown(ts_recv_ns=ts, client_order_id=rec.client_order_id,
                                         reason="x")
    if op == "cancel":
        return "ev", OrderCancelled(ts_recv_ns=ts, venue_order_id=vid)
    size = rec.size_micros if op in ("fill", "dup", "void") else rec.size_micros // 2
    tid = f"t{k % 4}-{rec.client_order_id}"
    status = {"void": "FAILED", "dup": "MATCHED"}.get(op, "MATCHED")
    return "ev", trade(tid, vid, rec.token_id, side, price, size, status, ts)


def _run(ex: Execution, ops: list[tuple[str, int]], start: int, ctx: Ctx) -> list[Any]:
    out: list[Any] = []
    for n, (op, k) in enumerate(ops, start):
        kind, ev = _event(ex, op, k, n)
        step = ex.on_tick(ev, ctx, n) if kind == "tick" else ex.handle(ev, ctx, n)
        out += step.decisions + step.results
    return out


@settings(max_examples=80, deadline=None)
@given(_ops, st.integers(0, 25), st.sampled_from(["FOK", "FAK"]))
def test_execution_snapshot_restore_mid_sequence_changes_nothing(
        ops: list[tuple[str, int]], cut: int, order_type: str) -> None:
    # Arrange
    ctx = _books()
    policy = UnwindPolicy(timeout_ns=3 * SEC)
    cut = min(cut, len(ops))
    whole = _start(policy, order_type=order_type)
    # Act
    out_whole = _run(whole, ops, 1, ctx)
    part = _start(policy, order_type=order_type)
    out_part = _run(part, ops[:cut], 1, ctx)
    data = msgspec.json.decode(msgspec.json.encode(part.snapshot()))
    resumed = Execution.restore(data, part.config)
    out_part += _run(resumed, ops[cut:], cut + 1, ctx)
    # Assert
    assert out_part == out_whole
    assert resumed.snapshot() == whole.snapshot()
    ids = [o.client_order_id for d in out_whole if isinstance(d, Unwind | PlaceOrders)
           for o in d.orders]
    assert len(ids) == len(set(ids))
    for token in (Y, N):  # the position always equals the non-voided fills of the orders
        assert whole.positions.position(token).qty_micros == _net_fills(whole, token)


def _net_fills(ex: Execution, token: str) -> int:
    return sum((t.size_micros if t.side == "BUY" else -t.size_micros)
               for t in ex.orders.trades.all() if t.token_id == token and not t.voided)


def test_exit_never_sells_shares_withheld_as_fees() -> None:
    ex, ctx = _start(UnwindPolicy(max_retries=0)), _books()
    ex.handle(accepted("r1-o1", "v1", making=10 * USD, taking=10 * USD), ctx, 2)
    ex.handle(trade("t1", "v1", Y, "BUY", 450_000, 10 * USD, fee=200_000), ctx, 3)
    [unwind] = _unwinds(ex.handle(rejected("r1-o2"), ctx, 4))
    assert _orders(unwind) == [("r1-o3", Y, "SELL", 440_000, 9_800_000, "GTC")]
    done = _fill(ex, ctx, "r1-o3", 9_800_000, seq=5)
    assert "unwind_done" in [r.kind for r in done.results]
    assert ex.positions.position(Y).qty_micros == 0


def test_late_duplicates_after_unwind_done_report_nothing_new() -> None:
    ex, ctx = _start(), _books()
    _fill(ex, ctx, "r1-o1", 10 * USD)
    _fill(ex, ctx, "r1-o2", 4 * USD, seq=3)
    assert "unwind_done" in [r.kind for r in _fill(ex, ctx, "r1-o3", 6 * USD, seq=4).results]
    again = ex.handle(trade("tr1-o3", "vr1-o3", N, "BUY", 530_000, 6 * USD), ctx, 5)
    assert [r.kind for r in again.results] == ["ignored"] and again.decisions == []


_ids = st.sampled_from(["r1-o1", "r1-o2", "r1-o3", "zz", ""])
_vids = st.sampled_from(["vr1-o1", "vr1-o2", "v9", ""])
_num = st.integers(-2 * USD, 20 * USD)
_any_event = st.one_of(
    st.builds(accepted, _ids, _vids, st.just(T0), _num | st.none(), _num | st.none()),
    st.builds(rejected, _ids),
    st.builds(OrderOutcomeUnknown, ts_recv_ns=st.just(T0), client_order_id=_ids,
              reason=st.just("x")),
    st.builds(OrderCancelled, ts_recv_ns=st.just(T0), venue_order_id=_vids,
              client_order_id=_ids | st.none()),
    st.builds(OrderUpdated, ts_recv_ns=st.just(T0), venue_order_id=_vids,
              update_type=st.sampled_from(["PLACEMENT", "UPDATE", "CANCELLATION"]),
              token_id=st.sampled_from([Y, N]), side=st.sampled_from(["BUY", "SELL"]),
              price_micros=_num, original_size_micros=_num, size_matched_micros=_num,
              status=st.just("LIVE")),
    st.builds(trade, st.sampled_from(["t1", "t2", "t3"]), _vids, st.sampled_from([Y, N, "Q"]),
              st.sampled_from(["BUY", "SELL"]), _num, _num,
              st.sampled_from(["MATCHED", "MINED", "CONFIRMED", "RETRYING", "FAILED"]),
              st.just(T0), st.integers(-1, USD)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_any_event, max_size=30))
def test_execution_never_crashes_on_arbitrary_venue_events(events: list[Any]) -> None:
    ex, ctx = _start(), _books()
    for seq, ev in enumerate(events, 1):
        ex.handle(ev, ctx, seq)
        ex.on_tick(T0 + seq * SEC, ctx, seq)
    assert Execution.restore(ex.snapshot(), ex.config).snapshot() == ex.snapshot()
    assert ex.positions.total_exposure_micros() >= 0
