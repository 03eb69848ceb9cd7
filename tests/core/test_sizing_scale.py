# Sizing's integer scale ignores free fees (core/sizing.py _scale): results must not depend on
# it. Mixed legs (a free leg next to a paid one) against the brute-force reference, and a free
# fee model with an odd denominator against FREE.
from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.core.detection import DetectionConfig
from polyarb.core.fees import FREE, FeeModel, compile_fee
from polyarb.core.sizing import LegSpec, Limits, largest_size, size_opportunity
from polyarb.events.inputs import FeeSchedule, Side
from tests.core.reference_detector import SimpleBook, reference_size

SH = 1_000_000
_levels = st.lists(st.tuples(st.integers(1, 99), st.integers(1, 600)), min_size=1, max_size=4)
_fees = st.sampled_from([
    FeeSchedule(), FeeSchedule(rate=Decimal("0.07")), FeeSchedule(rate=Decimal("0.0175")),
    FeeSchedule(rate=Decimal("0.25"), exponent=2),
])


def _book(token: str, raw: list[tuple[int, int]], side: Side) -> SimpleBook:
    levels = {cents * 10_000: size * 10_000 + (size % 7) * 1_111 for cents, size in raw}
    items = sorted(levels.items())
    return SimpleBook(token, asks=items) if side == "BUY" else SimpleBook(token, bids=items)


@settings(max_examples=80, deadline=None)
@given(raws=st.lists(_levels, min_size=2, max_size=3), fees=st.lists(_fees, min_size=3,
       max_size=3), settle=st.sampled_from([1, -1]), margin=st.integers(0, 400),
       max_size=st.one_of(st.none(), st.integers(0, 8 * SH)))
def test_size_mixed_free_and_paid_legs_agree_with_brute_force(
    raws: list[list[tuple[int, int]]], fees: list[FeeSchedule], settle: int, margin: int,
    max_size: int | None,
) -> None:
    # Arrange: each leg has its own fee schedule, so free legs sit next to paid ones
    side: Side = "BUY" if settle == 1 else "SELL"
    books = [_book(f"t{k}", raw, side) for k, raw in enumerate(raws)]
    legs = [LegSpec(b.token_id, side, b.asks_ascending() if side == "BUY" else
                    b.bids_descending(), compile_fee(fee), 1)
            for b, fee in zip(books, fees, strict=False)]
    limits = Limits(margin_bps=margin, min_size_micros=50_000, max_size_micros=max_size)
    config = DetectionConfig(min_margin_bps=margin, min_leg_notional_micros=0,
                             max_size_micros=max_size)
    # Act
    sized = size_opportunity(legs, settle, limits)
    ref = reference_size([(b, side, fee) for b, fee in zip(books, fees, strict=False)],
                         settle, 50_000, config, None, None)
    # Assert
    assert (None if sized is None else (sized.size_micros, sized.legs)) == ref


@settings(max_examples=60, deadline=None)
@given(raws=st.lists(_levels, min_size=2, max_size=2), margin=st.integers(0, 400),
       denominator=st.integers(1, 10**15), exponent=st.integers(0, 4))
def test_largest_size_free_fee_denominator_never_changes_the_size(
    raws: list[list[tuple[int, int]]], margin: int, denominator: int, exponent: int,
) -> None:
    # Arrange: a free model whose denominator is anything at all
    odd_free = FeeModel(0, denominator, exponent, True)
    books = [_book(f"t{k}", raw, "BUY") for k, raw in enumerate(raws)]
    limits = Limits(margin_bps=margin)

    def legs(fee: FeeModel) -> list[LegSpec]:
        return [LegSpec(b.token_id, "BUY", b.asks_ascending(), fee, 1) for b in books]

    # Act / Assert
    assert largest_size(legs(odd_free), 1, limits) == largest_size(legs(FREE), 1, limits)
