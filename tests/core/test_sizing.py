# Sizing tests: hand-computed walks, every cap and minimum, and properties against the
# brute-force reference (same size, same amounts, never beyond depth or caps).
from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.core.detection import DetectionConfig
from polyarb.core.fees import FREE, compile_fee
from polyarb.core.sizing import (
    STEP_MICROS,
    LegSpec,
    Limits,
    size_opportunity,
    usable_levels,
)
from polyarb.events.inputs import FeeSchedule, Side
from tests.core.reference_detector import SimpleBook, reference_size

SH = 1_000_000  # one share in micro-shares
YES_ASKS = [(400_000, 10 * SH), (450_000, 10 * SH), (500_000, 100 * SH)]
NO_ASKS = [(500_000, 5 * SH), (550_000, 100 * SH)]


def _buy(token: str, levels: list[tuple[int, int]], fee: FeeSchedule | None = None) -> LegSpec:
    return LegSpec(token, "BUY", levels, FREE if fee is None else compile_fee(fee), 7)


def test_size_walks_both_legs_to_the_largest_size_clearing_the_margin() -> None:
    # Arrange: marginal edge per share 0.10, 0.05, 0.00, then -0.05 (see the hand computation:
    # the 2% margin is last met at 25.14 shares)
    legs = [_buy("y", YES_ASKS), _buy("n", NO_ASKS)]
    # Act
    sized = size_opportunity(legs, 1, Limits(margin_bps=200))
    # Assert
    assert sized is not None
    assert sized.size_micros == 25_140_000
    assert [leg.size_micros for leg in sized.legs] == [25_140_000, 25_140_000]
    assert [leg.notional_micros for leg in sized.legs] == [11_070_000, 13_577_000]
    assert [leg.limit_price_micros for leg in sized.legs] == [500_000, 550_000]
    assert sized.cost_micros == 24_647_000 and sized.edge_micros == 493_000
    assert sized.fees_micros == 0 and sized.legs[0].epoch == 7


def test_size_zero_margin_takes_every_share_with_positive_edge() -> None:
    legs = [_buy("y", YES_ASKS[:2]), _buy("n", NO_ASKS)]
    sized = size_opportunity(legs, 1, Limits(margin_bps=0))
    # 0.10 then 0.05 per share up to 10 shares, then exactly 0: the edge stays 0.75 (minus
    # rounding slack) through YES's whole depth of 20 shares, so the largest size is 20.
    assert sized is not None and sized.size_micros == 20 * SH


def test_size_never_exceeds_thinnest_leg_and_stays_on_grid() -> None:
    legs = [_buy("y", [(300_000, 7_555_555)]), _buy("n", [(300_000, 100 * SH)])]
    sized = size_opportunity(legs, 1, Limits(margin_bps=200))
    assert sized is not None and sized.size_micros == 7_550_000
    assert sized.size_micros % STEP_MICROS == 0


def test_size_respects_max_size_and_capital_caps() -> None:
    legs = [_buy("y", YES_ASKS), _buy("n", NO_ASKS)]
    by_size = size_opportunity(legs, 1, Limits(margin_bps=200, max_size_micros=3_333_333))
    by_capital = size_opportunity(legs, 1, Limits(margin_bps=200, max_capital_micros=9 * SH))
    assert by_size is not None and by_size.size_micros == 3_330_000
    # capital 0.90/share up to 5 shares (4.5), then 0.95/share: 4.5 + 0.95 * 4.73 = 8.9935
    assert by_capital is not None and by_capital.size_micros == 9_730_000
    assert by_capital.capital_micros <= 9 * SH


def test_size_below_minimum_size_is_none() -> None:
    legs = [_buy("y", [(300_000, 4 * SH)]), _buy("n", [(300_000, 100 * SH)])]
    assert size_opportunity(legs, 1, Limits(margin_bps=200, min_size_micros=5 * SH)) is None
    assert size_opportunity(legs, 1, Limits(margin_bps=200, min_size_micros=4 * SH)) is not None


def test_size_leg_notional_below_minimum_is_none() -> None:
    # 20 shares: YES leg 6.00, NO leg 6.00: a $10 per-leg minimum cannot be met
    legs = [_buy("y", [(300_000, 20 * SH)]), _buy("n", [(300_000, 20 * SH)])]
    limits = Limits(margin_bps=200, min_leg_notional_micros=10 * SH)
    assert size_opportunity(legs, 1, limits) is None


def test_size_fees_can_remove_the_edge() -> None:
    # 0.48 + 0.48 = 0.96; fees at 0.48 with rate 0.25, exponent 1: 2 * 0.0624 > 0.04
    fee = FeeSchedule(rate=Decimal("0.25"))
    legs = [_buy("y", [(480_000, 50 * SH)], fee), _buy("n", [(480_000, 50 * SH)], fee)]
    assert size_opportunity(legs, 1, Limits(margin_bps=0)) is None


def test_size_sell_set_pays_the_split_and_counts_it_as_capital() -> None:
    # bids 0.55 + 0.50 = 1.05 fee-free: edge 0.05 per share on $1 of capital = 5%
    legs = [LegSpec("y", "SELL", [(550_000, 20 * SH)], FREE, 1),
            LegSpec("n", "SELL", [(500_000, 30 * SH)], FREE, 1)]
    sized = size_opportunity(legs, -1, Limits(margin_bps=200))
    assert sized is not None and sized.size_micros == 20 * SH
    assert sized.cost_micros == 21 * SH and sized.capital_micros == 20 * SH
    assert sized.edge_micros == 1 * SH


def test_usable_levels_stop_at_bad_price_and_skip_empty_levels() -> None:
    levels = [(100_000, 5), (200_000, 0), (300_000, 7), (1_000_000, 9), (400_000, 1)]
    assert usable_levels(levels) == [(100_000, 5), (300_000, 7)]


# -- properties against the brute-force reference -----------------------------------------------

_levels = st.lists(
    st.tuples(st.integers(1, 99), st.integers(1, 600)), min_size=1, max_size=4
)
_fees = st.sampled_from([
    FeeSchedule(), FeeSchedule(rate=Decimal("0.07")), FeeSchedule(rate=Decimal("0.25"), exponent=2),
    FeeSchedule(rate=Decimal("0.0175")),
])


def _book(token: str, raw: list[tuple[int, int]], side: Side) -> SimpleBook:
    # price in cents (distinct), size in 0.01 shares plus odd micros to exercise partial grids
    levels = {cents * 10_000: size * 10_000 + (size % 7) * 1_111 for cents, size in raw}
    items = sorted(levels.items())
    return SimpleBook(token, asks=items) if side == "BUY" else SimpleBook(token, bids=items)


@settings(max_examples=60, deadline=None)
@given(
    raws=st.lists(_levels, min_size=2, max_size=3), fee=_fees,
    settle=st.sampled_from([1, -1, 0]), margin=st.integers(0, 400),
    min_notional=st.integers(0, 2 * SH), max_size=st.one_of(st.none(), st.integers(0, 8 * SH)),
    cap_capital=st.one_of(st.none(), st.integers(0, 6 * SH)),
)
def test_size_agrees_with_brute_force_and_respects_every_bound(
    raws: list[list[tuple[int, int]]], fee: FeeSchedule, settle: int, margin: int,
    min_notional: int, max_size: int | None, cap_capital: int | None,
) -> None:
    # Arrange: settle 0 mixes sides like a crossed book; others are all-buy or all-sell sets
    sides: list[Side] = ["BUY" if (settle == 1 or (settle == 0 and k == 0)) else "SELL"
                         for k in range(len(raws))]
    books = [_book(f"t{k}", raw, side)
             for k, (raw, side) in enumerate(zip(raws, sides, strict=True))]
    legs = [LegSpec(b.token_id, s, b.asks_ascending() if s == "BUY" else b.bids_descending(),
                    compile_fee(fee), 1) for b, s in zip(books, sides, strict=True)]
    limits = Limits(margin_bps=margin, min_size_micros=50_000, max_size_micros=max_size,
                    min_leg_notional_micros=min_notional, max_capital_micros=cap_capital)
    config = DetectionConfig(min_margin_bps=margin, min_leg_notional_micros=min_notional,
                             max_size_micros=max_size)
    # Act
    sized = size_opportunity(legs, settle, limits)
    ref = reference_size([(b, s, fee) for b, s in zip(books, sides, strict=True)], settle,
                         50_000, config, None, cap_capital)
    # Assert
    assert (sized is None) == (ref is None)
    if sized is None or ref is None:
        return
    assert (sized.size_micros, sized.legs) == ref
    for leg, spec in zip(sized.legs, legs, strict=True):
        assert leg.size_micros <= sum(size for _, size in spec.levels)
    assert max_size is None or sized.size_micros <= max_size
    assert cap_capital is None or sized.capital_micros <= cap_capital
    assert sized.edge_micros > 0 and 10_000 * sized.edge_micros >= margin * sized.capital_micros
