# Fee formula tests: the protocol reference's vectors, rounding directions, the BUY share
# reduction, maker/taker, validation, and a property against a Decimal recomputation.
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyarb.core.fees import (
    FREE,
    Rounding,
    buy_fee_shares_micros,
    compile_fee,
    maker_fee_micros,
    schedule_error,
    taker_fee_micros,
)
from polyarb.events.inputs import FeeSchedule

V2_CRYPTO = FeeSchedule(rate=Decimal("0.07"))
OLD_CRYPTO = FeeSchedule(rate=Decimal("0.25"), exponent=2)
SHARES_100 = 100_000_000


@pytest.mark.parametrize(
    ("price", "schedule", "expected"),
    [
        (500_000, V2_CRYPTO, 1_750_000),  # 100 @ 0.50, rate 0.07 -> 1.75
        (100_000, V2_CRYPTO, 630_000),  # @ 0.10 -> 0.63
        (950_000, V2_CRYPTO, 332_500),  # @ 0.95 -> 0.3325
        (500_000, OLD_CRYPTO, 1_562_500),  # rate 0.25, exponent 2 -> 1.5625
    ],
)
def test_taker_fee_doc_vectors_match_exactly(
    price: int, schedule: FeeSchedule, expected: int
) -> None:
    # Act / Assert: exact vectors need no rounding in any direction
    roundings: tuple[Rounding, ...] = ("up", "down", "half_up")
    for rounding in roundings:
        assert taker_fee_micros(SHARES_100, price, schedule, rounding=rounding) == expected


def test_taker_fee_fee_free_market_is_zero() -> None:
    assert taker_fee_micros(SHARES_100, 500_000, FeeSchedule()) == 0
    assert FREE.fee_micros(SHARES_100, 500_000) == 0
    assert buy_fee_shares_micros(SHARES_100, 500_000, FeeSchedule()) == 0


def test_taker_fee_inexact_rounds_to_five_decimals_in_stated_direction() -> None:
    # Arrange: 1 share @ 0.33, rate 0.07 -> 0.07 * 0.33 * 0.67 = 0.015477 exactly
    size, price = 1_000_000, 330_000
    # Act / Assert
    assert taker_fee_micros(size, price, V2_CRYPTO) == 15_480  # up (default)
    assert taker_fee_micros(size, price, V2_CRYPTO, rounding="down") == 15_470
    assert taker_fee_micros(size, price, V2_CRYPTO, rounding="half_up") == 15_480


def test_taker_fee_tiny_positive_fee_charges_at_least_minimum() -> None:
    # 0.01 share @ 0.01 -> 0.07 * 0.01 * 0.0099 * 0.01 = 0.0000000693: rounds UP to 0.00001
    assert taker_fee_micros(10_000, 10_000, V2_CRYPTO) == 10


def test_maker_fee_taker_only_schedule_is_zero() -> None:
    assert maker_fee_micros(SHARES_100, 500_000, V2_CRYPTO) == 0


def test_maker_fee_schedule_not_taker_only_charges_same_formula() -> None:
    both = FeeSchedule(rate=Decimal("0.07"), taker_only=False)
    assert maker_fee_micros(SHARES_100, 500_000, both) == 1_750_000


def test_buy_fee_shares_is_collateral_fee_over_price() -> None:
    # 100 @ 0.50: 1.75 collateral -> 3.5 shares; @ 0.10: 0.63 -> 6.3 shares (= C*rate*(1-p))
    assert buy_fee_shares_micros(SHARES_100, 500_000, V2_CRYPTO) == 3_500_000
    assert buy_fee_shares_micros(SHARES_100, 100_000, V2_CRYPTO) == 6_300_000


def test_buy_fee_shares_inexact_rounds_up_by_default() -> None:
    # 1 share @ 0.33: 0.015477 / 0.33 = 0.0469 shares exactly = 46_900 micros
    assert buy_fee_shares_micros(1_000_000, 330_000, V2_CRYPTO) == 46_900
    # 1 share @ 0.30, rate 0.07: 0.07 * 0.7 = 0.049 shares exactly; 0.3 share -> 0.0147
    assert buy_fee_shares_micros(300_000, 300_000, V2_CRYPTO) == 14_700
    # 0.07 share @ 0.30 -> 0.00343 shares exactly
    assert buy_fee_shares_micros(70_000, 300_000, V2_CRYPTO) == 3_430


@pytest.mark.parametrize(
    ("schedule", "fragment"),
    [
        (FeeSchedule(rate=Decimal("-0.01")), "rate"),
        (FeeSchedule(rate=Decimal(1)), "rate"),
        (FeeSchedule(rate=Decimal("NaN")), "rate"),
        (FeeSchedule(rate=Decimal("0.07"), exponent=-1), "exponent"),
        (FeeSchedule(rate=Decimal("0.07"), exponent=5), "exponent"),
    ],
)
def test_schedule_error_bad_schedule_names_the_field(schedule: FeeSchedule, fragment: str) -> None:
    reason = schedule_error(schedule)
    assert reason is not None and fragment in reason
    with pytest.raises(ValueError, match=fragment):
        compile_fee(schedule)


def _decimal_fee(size: int, price: int, rate: Decimal, exponent: int) -> Decimal:
    p = Decimal(price) / Decimal(1_000_000)
    return Decimal(size) * rate * (p * (1 - p)) ** exponent  # micro-dollars


@given(
    size=st.integers(min_value=1, max_value=10**12),
    price=st.integers(min_value=1, max_value=999_999),
    rate=st.decimals(min_value=0, max_value=Decimal("0.999"), places=4),
    exponent=st.integers(min_value=0, max_value=2),
)
def test_taker_fee_matches_decimal_formula_both_directions(
    size: int, price: int, rate: Decimal, exponent: int
) -> None:
    # Arrange: a precise Decimal context so the reference is exact for these magnitudes

    schedule = FeeSchedule(rate=rate, exponent=exponent)
    with localcontext() as ctx:
        ctx.prec = 100
        exact = _decimal_fee(size, price, rate, exponent) / 10
        up = int(exact.to_integral_value(rounding=ROUND_CEILING)) * 10
        down = int(exact.to_integral_value(rounding=ROUND_FLOOR)) * 10
    # Act / Assert
    assert taker_fee_micros(size, price, schedule) == up
    assert taker_fee_micros(size, price, schedule, rounding="down") == down
    assert down <= taker_fee_micros(size, price, schedule, rounding="half_up") <= up
