# Positions and P&L: average cost, fees, voids, hedged sets, exposure, resolution, daily P&L.
from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.core.exec_common import utc_day
from polyarb.core.execution import Execution
from polyarb.core.positions import Positions
from polyarb.core.types import ExposureView
from polyarb.events.inputs import TradeUpdated
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
    trade,
)

DAY = 86_400 * SEC


def _pair() -> Positions:
    pos = Positions()
    pos.register([binary("0xm1", "Y1", "N1")], T0)
    return pos


def _buy(pos: Positions, tid: str, token: str, price: float, shares: float, fee: int = 0,
         ts: int = T0) -> None:
    pos.book_fill(tid, token, "BUY", round(price * USD), round(shares * USD), fee, ts)


def _sell(pos: Positions, tid: str, token: str, price: float, shares: float, fee: int = 0,
          ts: int = T0) -> None:
    pos.book_fill(tid, token, "SELL", round(price * USD), round(shares * USD), fee, ts)


def test_positions_implements_exposure_view() -> None:
    view: ExposureView = Positions()
    assert view.total_exposure_micros() == 0 and view.open_positions() == 0


def test_complete_set_locks_edge_and_has_no_exposure() -> None:
    # Arrange
    pos = _pair()
    # Act
    _buy(pos, "t1", "Y1", 0.45, 10)
    _buy(pos, "t2", "N1", 0.52, 10)
    # Assert
    assert (pos.position("Y1").cost_micros, pos.position("N1").cost_micros) == (4_500_000,
                                                                                5_200_000)
    assert pos.locked_edge_micros() == 300_000  # 10 sets * $1 - $9.70
    assert pos.market_exposure_micros("0xm1") == 0
    assert pos.total_exposure_micros() == 0
    assert pos.open_positions() == 0
    assert pos.unrealized_micros(lambda t: None) == 300_000  # sets marked at $1
    assert pos.realized_micros() == 0


def test_partial_set_exposure_is_cost_of_unhedged_shares() -> None:
    pos = _pair()
    _buy(pos, "t1", "Y1", 0.45, 10)
    _buy(pos, "t2", "N1", 0.52, 4)
    assert pos.market_exposure_micros("0xm1") == 2_700_000  # 6 of 10 YES at $0.45
    assert pos.locked_edge_micros() == 4 * USD - 1_800_000 - 2_080_000
    assert pos.open_positions() == 1


def test_sales_realize_against_average_cost() -> None:
    pos = _pair()
    _buy(pos, "t1", "Y1", 0.40, 10)
    _buy(pos, "t2", "Y1", 0.50, 10)
    _sell(pos, "t3", "Y1", 0.60, 5)
    assert pos.position("Y1").realized_micros == 750_000  # 3.00 - 20*... 9.00*5/20
    _sell(pos, "t4", "Y1", 0.30, 15)
    p = pos.position("Y1")
    assert (p.qty_micros, p.cost_micros, p.realized_micros) == (0, 0, -1_500_000)


def test_fees_are_shares_on_buys_and_collateral_on_sells() -> None:
    pos = _pair()
    _buy(pos, "t1", "Y1", 0.50, 100, fee=3_500_000)  # 3.5 shares withheld
    assert (pos.position("Y1").qty_micros, pos.position("Y1").cost_micros) == (96_500_000,
                                                                               50 * USD)
    _sell(pos, "t2", "Y1", 0.50, 96.5, fee=800_000)  # $0.80 withheld
    p = pos.position("Y1")
    assert (p.fees_shares_micros, p.fees_collateral_micros) == (3_500_000, 800_000)
    assert p.realized_micros == 48_250_000 - 800_000 - 50 * USD


def test_short_after_void_has_worst_case_exposure() -> None:
    pos = _pair()
    _buy(pos, "t1", "Y1", 0.40, 10)
    _sell(pos, "t2", "Y1", 0.50, 10)
    pos.void("t1", T0)
    p = pos.position("Y1")
    assert (p.qty_micros, p.cost_micros, p.realized_micros) == (-10 * USD, -4 * USD, USD)
    assert pos.token_exposure_micros("Y1") == 6 * USD
    assert pos.void("t1", T0) is None and pos.void("nope", T0) is None


def test_resolution_pays_winner_and_settles_later_fills() -> None:
    # Arrange
    pos = _pair()
    _buy(pos, "t1", "Y1", 0.45, 10)
    _buy(pos, "t2", "N1", 0.52, 6)
    # Act
    results = pos.register([binary("0xm1", "Y1", "N1", winner="Y1")], T0 + SEC)
    # Assert: YES pays $10, NO pays $0, against $4.50 + $3.12
    assert [(r.kind, r.size_micros) for r in results] == [("resolved", 10 * USD - 7_620_000)]
    assert pos.realized_micros() == 2_380_000
    assert pos.held_tokens() == [] and pos.total_exposure_micros() == 0
    assert pos.register([binary("0xm1", "Y1", "N1", winner="Y1")], T0 + 2 * SEC) == []
    _buy(pos, "t3", "Y1", 0.90, 5, ts=T0 + 3 * SEC)  # a late fill is settled at once
    assert pos.position("Y1").qty_micros == 0
    assert pos.realized_micros() == 2_380_000 + 500_000
    pos.void("t3", T0 + 4 * SEC)
    assert pos.realized_micros() == 2_380_000


def test_resolution_with_unknown_winner_is_ignored() -> None:
    pos = _pair()
    results = pos.register([binary("0xm1", "Y1", "N1", winner="ZZ")], T0)
    assert [r.kind for r in results] == ["ignored"]


def test_daily_realized_rolls_at_utc_midnight_by_event_time() -> None:
    pos = _pair()
    _buy(pos, "t1", "Y1", 0.40, 20, ts=T0 + 10 * SEC)
    _sell(pos, "t2", "Y1", 0.50, 10, ts=T0 + DAY - 1)
    _sell(pos, "t3", "Y1", 0.30, 10, ts=T0 + DAY)
    assert utc_day(T0) == "2025-12-27"
    assert pos.daily_realized() == {"2025-12-27": USD, "2025-12-28": -USD}
    assert pos.realized_today(T0 + DAY + 5 * SEC) == -USD
    assert pos.realized_on("2025-12-26") == 0
    pos.void("t2", T0 + DAY + SEC)  # learned on the 28th: booked on the 28th
    assert pos.daily_realized() == {"2025-12-27": USD, "2025-12-28": -2 * USD}


def test_neg_risk_basket_is_hedged_unless_augmented() -> None:
    for augmented, exposure, opened in ((False, 0, 0), (True, 9_500_000, 3)):
        pos = Positions()
        pos.register([binary(f"0xm{i}", f"Y{i}", f"N{i}", group="G", augmented=augmented)
                      for i in (1, 2, 3)], T0)
        for i, price in ((1, 0.30), (2, 0.30), (3, 0.35)):
            _buy(pos, f"t{i}", f"Y{i}", price, 10)
        assert pos.group_exposure_micros("G") == exposure
        assert pos.total_exposure_micros() == exposure
        assert pos.open_positions() == opened
        assert pos.locked_edge_micros() == (0 if augmented else 500_000)
        assert pos.group_of("0xm1") == "G"


def test_binary_sets_are_allocated_before_group_baskets() -> None:
    pos = Positions()
    pos.register([binary(f"0xm{i}", f"Y{i}", f"N{i}", group="G") for i in (1, 2)], T0)
    _buy(pos, "t1", "Y1", 0.40, 10)
    _buy(pos, "t2", "N1", 0.55, 10)
    _buy(pos, "t3", "Y2", 0.50, 10)
    assert pos.market_exposure_micros("0xm1") == 0
    assert pos.market_exposure_micros("0xm2") == 5 * USD  # Y1 went to the binary set
    assert pos.group_exposure_micros("G") == 5 * USD
    assert pos.group_exposure_micros("unknown") == 0


def test_unregistered_token_is_its_own_market() -> None:
    pos = Positions()
    _buy(pos, "t1", "LONE", 0.25, 4)
    assert pos.market_of("LONE") == "LONE" and pos.group_of("LONE") is None
    assert pos.market_exposure_micros("LONE") == USD
    assert pos.open_positions() == 1


def test_unrealized_marks_at_mid_then_one_side_then_last_fill() -> None:
    pos = _pair()
    _buy(pos, "t1", "Y1", 0.45, 10)
    both = StubBook("Y1", [(500_000, USD)], [(520_000, USD)])
    bid_only = StubBook("Y1", [(500_000, USD)], [])
    broken = StubBook("Y1", [(500_000, USD)], [(520_000, USD)], usable=False)
    assert pos.unrealized_micros(lambda t: both) == 600_000
    assert pos.unrealized_micros(lambda t: bid_only) == 500_000
    assert pos.unrealized_micros(lambda t: broken) == 0  # last fill price 0.45
    assert pos.unrealized_micros(lambda t: None) == 0


def test_merge_realizes_the_locked_edge() -> None:
    pos = _pair()
    _buy(pos, "t1", "Y1", 0.45, 10)
    _buy(pos, "t2", "N1", 0.52, 10)
    assert pos.merge("0xm1", 4 * USD, T0) == 4 * USD - 1_800_000 - 2_080_000
    assert pos.position("Y1").qty_micros == 6 * USD
    assert pos.locked_edge_micros() == 180_000
    with pytest.raises(ValueError):
        pos.merge("0xm1", 7 * USD, T0)
    with pytest.raises(ValueError):
        pos.merge("0xnope", USD, T0)


def test_booking_a_trade_twice_raises() -> None:
    pos = _pair()
    _buy(pos, "t1", "Y1", 0.45, 10)
    with pytest.raises(ValueError, match="booked twice"):
        _buy(pos, "t1", "Y1", 0.45, 10)


def test_off_grid_notional_rounds_against_us() -> None:
    pos = _pair()
    pos.book_fill("t1", "Y1", "BUY", 333_333, 3, 0, T0)  # 0.999999 micro-dollars
    pos.book_fill("t2", "Y1", "SELL", 333_333, 3, 0, T0)
    assert pos.position("Y1").cost_micros == 0
    assert pos.realized_micros() == -1


def test_resolved_market_through_execution_reports_result() -> None:
    ex, ctx = Execution(), Ctx()
    ex.handle(loaded(binary()), ctx, 1)
    ex.handle(trade("t1", "v1", "Y1", "BUY", 400_000, 10 * USD), ctx, 2)
    step = ex.handle(loaded(binary(winner="N1"), ts=T0 + SEC), ctx, 3)
    assert [(r.kind, r.size_micros, r.detail) for r in step.results] == [
        ("resolved", -4 * USD, "0xm1")]


# ---- properties ---------------------------------------------------------------------------

_TOKENS = ("Y1", "N1")
Fill = tuple[str, str, int, int, int]  # token, side, cents, hundredths of a share, fee units
Op = tuple[str, Fill | int]
_fill = st.tuples(st.sampled_from(_TOKENS), st.sampled_from(["BUY", "SELL"]),
                  st.integers(1, 99), st.integers(1, 500), st.integers(0, 3))
_op = st.one_of(st.tuples(st.just("fill"), _fill),
                st.tuples(st.just("void"), st.integers(0, 40)),
                st.tuples(st.just("dup"), st.integers(0, 40)))


def _events(ops: list[Op]) -> list[TradeUpdated]:
    """Turn ops into TradeUpdated events (voids and duplicates refer to earlier fills)."""
    evs: list[TradeUpdated] = []
    fills: list[TradeUpdated] = []
    for n, (kind, arg) in enumerate(ops):
        ts = T0 + n * 3_600 * SEC
        if isinstance(arg, tuple):
            token, side, cents, shares, fee = arg
            fee_micros = fee * 1_000  # <= 0.003: within any size (>= 0.01 share)
            ev = trade(f"t{n}", f"v{n}", token, side, cents * 10_000, shares * 10_000,
                       ts=ts, fee=fee_micros)
            fills.append(ev)
            evs.append(ev)
        elif fills:
            ref = fills[arg % len(fills)]
            status = "FAILED" if kind == "void" else "MATCHED"
            evs.append(msgspec.structs.replace(ref, status=status, ts_recv_ns=ts))
    return evs


@settings(max_examples=100, deadline=None)
@given(st.lists(_op, max_size=40))
def test_position_is_sum_of_non_voided_fills(ops: list[Op]) -> None:
    # Arrange
    ex, ctx = Execution(), Ctx()
    ex.handle(loaded(binary()), ctx, 1)
    evs = _events(ops)
    # Act
    for seq, ev in enumerate(evs, 2):
        ex.handle(ev, ctx, seq)
    # Assert
    voided = {e.trade_id for e in evs if e.status == "FAILED"}
    first: dict[str, TradeUpdated] = {}
    for e in evs:
        first.setdefault(e.trade_id, e)
    for token in _TOKENS:
        want = sum((e.size_micros - e.fee_micros) if e.side == "BUY" else -e.size_micros
                   for e in first.values()
                   if e.token_id == token and e.trade_id not in voided)
        assert ex.positions.position(token).qty_micros == want
    daily = ex.positions.daily_realized()
    assert sum(daily.values()) == ex.positions.realized_micros()
    assert ex.positions.total_exposure_micros() >= 0


@settings(max_examples=60, deadline=None)
@given(st.lists(_op, max_size=30), st.integers(0, 30))
def test_positions_snapshot_restore_mid_sequence_changes_nothing(
        ops: list[Op], cut: int) -> None:
    evs = _events(ops)
    cut = min(cut, len(evs))
    whole, ctx = Execution(), Ctx()
    for seq, ev in enumerate(evs, 1):
        whole.handle(ev, ctx, seq)
    part = Execution()
    for seq, ev in enumerate(evs[:cut], 1):
        part.handle(ev, ctx, seq)
    resumed = Execution.restore(msgspec.json.decode(msgspec.json.encode(part.snapshot())))
    for seq, ev in enumerate(evs[cut:], cut + 1):
        resumed.handle(ev, ctx, seq)
    assert resumed.snapshot() == whole.snapshot()
    assert resumed.positions.unrealized_micros(lambda t: None) == (
        whole.positions.unrealized_micros(lambda t: None))


def test_neg_risk_basket_of_six_filled_through_execution_is_hedged() -> None:
    # Arrange: six outcomes of one neg-risk event, YES asks summing to $0.94
    ex, ctx = Execution(), Ctx(neg_risk=True)
    ex.handle(loaded(*[binary(f"0xm{i}", f"Y{i}", f"N{i}", group="G") for i in range(6)]),
              ctx, 1)
    prices = [300_000, 200_000, 150_000, 120_000, 100_000, 70_000]
    legs = [(f"Y{i}", "BUY", p, 5 * USD) for i, p in enumerate(prices)]
    batches = ex.place(opportunity("basket", legs, strategy="neg_risk_buy", market_id="G"), ctx)
    # Act
    for n, order in enumerate(batches[0].orders):
        ex.handle(accepted(order.client_order_id, f"v{n}"), ctx, 2)
        ex.handle(trade(f"t{n}", f"v{n}", order.token_id, "BUY", order.price_micros,
                        order.size_micros), ctx, 3)
    # Assert
    assert all(o.neg_risk for o in batches[0].orders)
    assert ex.outcome_counts()["filled"] == 1
    assert ex.positions.group_exposure_micros("G") == 0
    assert ex.positions.open_positions() == 0
    assert ex.positions.locked_edge_micros() == 5 * USD - 4_700_000
    # Resolution: outcome 2 wins: $5 for $4.70 of cost
    step = ex.handle(loaded(*[binary(f"0xm{i}", f"Y{i}", f"N{i}", group="G",
                                     winner="Y2" if i == 2 else f"N{i}") for i in range(6)],
                            ts=T0 + DAY), ctx, 4)
    assert [r.kind for r in step.results] == ["resolved"] * 6
    assert ex.positions.realized_micros() == 300_000
    assert ex.positions.realized_on("2025-12-28") == 300_000


def test_market_without_tokens_is_ignored_not_fatal() -> None:
    pos = Positions()
    bad = msgspec.structs.replace(binary(), tokens=())
    assert [r.kind for r in pos.register([bad], T0)] == ["ignored"]
