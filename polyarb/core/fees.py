# Polymarket taker fees, computed exactly (protocol reference section 7.4).
#
# Rules:
# 1. The fee on a fill of C shares at price p is `C * rate * (p * (1 - p)) ** exponent` in
#    collateral (current V2 markets: exponent 1). Makers pay nothing when the schedule is
#    taker_only (otherwise the same formula); a fee-free market has rate 0.
# 2. Exact integer arithmetic only: sizes and prices arrive in micro-units, the rate is a Decimal
#    turned into an exact fraction once. No float anywhere.
# 3. The venue rounds fees to 5 decimals (10 micro-units). Rounding direction is always explicit:
#    UP (the default) for our cost estimates, so an edge is never overstated; DOWN and HALF_UP
#    exist for reconciliation and display. A positive exact fee rounded UP is at least 0.00001,
#    which is also the venue's minimum charge.
# 4. On BUY the venue takes the fee in shares (you receive fewer shares); on SELL in collateral.
#    Edge math uses the collateral fee (fee_micros); position math uses the share reduction
#    (buy_fee_shares_micros = collateral fee / p, also on the 5-decimal grid).
# 5. Schedules are validated (0 <= rate < 1, 0 <= exponent <= 4): a rate below 1 keeps
#    `p + fee(p)` increasing in p, which detection's depth walk relies on.
from __future__ import annotations

from functools import lru_cache
from typing import Literal

from polyarb.events.inputs import FeeSchedule

MICROS = 1_000_000
FEE_QUANTUM_MICROS = 10
"""Fees are charged on a 5-decimal grid: 0.00001 collateral (or share) = 10 micro-units."""
MAX_EXPONENT = 4

Rounding = Literal["up", "down", "half_up"]


def _round(numerator: int, denominator: int, quantum: int, rounding: Rounding) -> int:
    """Round numerator/denominator (micro-units) to a multiple of quantum micro-units."""
    den = denominator * quantum
    if rounding == "up":
        q = -(-numerator // den)
    elif rounding == "down":
        q = numerator // den
    else:
        q = (2 * numerator + den) // (2 * den)
    return q * quantum


class FeeModel:
    """A FeeSchedule compiled to exact integers; build with `compile_fee`.

    `fee_numerator(size, price) / denominator` is the exact taker fee in micro-units of
    collateral for `size` micro-shares at `price` micros per share.
    """

    __slots__ = ("denominator", "exponent", "free", "rate_den", "rate_num", "taker_only")

    def __init__(self, rate_num: int, rate_den: int, exponent: int, taker_only: bool) -> None:
        self.rate_num = rate_num
        self.rate_den = rate_den
        self.exponent = exponent
        self.taker_only = taker_only
        self.free = rate_num == 0
        # size*rate*(p(1e6-p))^e / 1e12^e: the 1e12^e turns micro-prices back into dollars.
        self.denominator = rate_den * 10 ** (12 * exponent)

    def fee_per_share_numerator(self, price_micros: int) -> int:
        """Exact fee for one micro-share at this price, over `denominator` (in micro-units)."""
        value: int = self.rate_num * (price_micros * (MICROS - price_micros)) ** self.exponent
        return value

    def fee_numerator(self, size_micros: int, price_micros: int) -> int:
        """Exact taker fee numerator (micro-units of collateral, over `denominator`)."""
        return size_micros * self.fee_per_share_numerator(price_micros)

    def fee_micros(
        self, size_micros: int, price_micros: int, *, taker: bool = True, rounding: Rounding = "up"
    ) -> int:
        """Collateral fee in micro-units on the 5-decimal grid (0 for makers when taker_only)."""
        if self.free or (not taker and self.taker_only):
            return 0
        return _round(
            self.fee_numerator(size_micros, price_micros), self.denominator,
            FEE_QUANTUM_MICROS, rounding,
        )

    def buy_fee_shares_micros(
        self, size_micros: int, price_micros: int, *, taker: bool = True, rounding: Rounding = "up"
    ) -> int:
        """Shares withheld on a BUY fill (exact collateral fee / price), on the 5-decimal grid."""
        if self.free or (not taker and self.taker_only):
            return 0
        # fee_collateral / p: multiply by 1e6 and divide by price_micros, exactly.
        num = self.fee_numerator(size_micros, price_micros) * MICROS
        return _round(num, self.denominator * price_micros, FEE_QUANTUM_MICROS, rounding)


def schedule_error(schedule: FeeSchedule) -> str | None:
    """Return why a fee schedule is unusable, or None when it is fine."""
    if not schedule.rate.is_finite() or not 0 <= schedule.rate < 1:
        return f"fee rate {schedule.rate} outside [0, 1)"
    if not 0 <= schedule.exponent <= MAX_EXPONENT:
        return f"fee exponent {schedule.exponent} outside [0, {MAX_EXPONENT}]"
    return None


@lru_cache(maxsize=1024)
def compile_fee(schedule: FeeSchedule) -> FeeModel:
    """Compile a validated FeeSchedule to a FeeModel (pure, memoised by schedule value).

    Raises:
        ValueError: the schedule fails `schedule_error`.
    """
    reason = schedule_error(schedule)
    if reason is not None:
        raise ValueError(reason)
    num, den = schedule.rate.as_integer_ratio()
    return FeeModel(num, den, schedule.exponent, schedule.taker_only)


FREE = compile_fee(FeeSchedule())
"""The fee model of a fee-free market."""


def taker_fee_micros(
    size_micros: int, price_micros: int, schedule: FeeSchedule, *, rounding: Rounding = "up"
) -> int:
    """Taker fee in collateral micro-units for a fill, on the venue's 5-decimal grid.

    Args:
        size_micros: shares filled, in micro-shares.
        price_micros: fill price in micros per share (strictly between 0 and 1e6).
        schedule: the market's fee schedule.
        rounding: "up" (default: never understate a cost), "down" or "half_up".

    Returns:
        The collateral-equivalent fee: 100 shares at 0.50 with rate 0.07 -> 1_750_000.
    """
    return compile_fee(schedule).fee_micros(size_micros, price_micros, rounding=rounding)


def maker_fee_micros(
    size_micros: int, price_micros: int, schedule: FeeSchedule, *, rounding: Rounding = "up"
) -> int:
    """Maker fee in collateral micro-units: zero when the schedule is taker_only."""
    model = compile_fee(schedule)
    return model.fee_micros(size_micros, price_micros, taker=False, rounding=rounding)


def buy_fee_shares_micros(
    size_micros: int, price_micros: int, schedule: FeeSchedule, *, rounding: Rounding = "up"
) -> int:
    """Micro-shares withheld from a taker BUY fill (the fee taken in shares).

    Args:
        size_micros: shares bought, in micro-shares.
        price_micros: fill price in micros per share.
        schedule: the market's fee schedule.
        rounding: "up" by default (assume we received the fewest shares).

    Returns:
        The exact collateral fee divided by the price, on the 5-decimal share grid; the
        shares credited are size_micros minus this.
    """
    return compile_fee(schedule).buy_fee_shares_micros(size_micros, price_micros, rounding=rounding)
