# Maker/taker amounts of a V2 order, exact: integers of 6-decimal base units, never float.
#
# Rules:
# 1. Inputs are integer micro-units (1e-6) or Decimal/str; a float is refused. Prices must sit
#    on the tick grid in [tick, 1 - tick] and sizes on the 0.01-share grid: off-grid input is an
#    AmountError, never silently rounded (rounding changes what the engine decided to trade).
#    `floor_size` exists for callers that want the official client's size truncation.
# 2. Limit orders (GTC/GTD and marketable limits): BUY gives maker = size * price collateral for
#    taker = size shares; SELL gives maker = size shares for taker = size * price. On valid input
#    the product has at most price_dp + 2 = amount_dp decimals, so it is exact and the official
#    client's rounding steps never fire.
# 3. Market orders follow py-clob-client-v2's rule in exact arithmetic: BUY spends `amount`
#    collateral, taker = amount / price rounded up at amount_dp + 4 decimals then down at
#    amount_dp; SELL sells `amount` shares for amount * price.
# 4. Where the official client differs it is float error, never a rule: `floor(x * 100)` of a
#    value like 4.35 (stored as 4.34999...) gives 434, so the official client turns a 4.35-share
#    order into 4.34 shares (about 5% of 2-decimal sizes) and floors a 0.29 market price to 0.28.
#    Those cases are pinned in tests/venues/polymarket/test_amounts.py; for them we keep the
#    exact amounts, and signatures still match the official client's for the same amounts.
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Final, Literal, NamedTuple

from polyarb.venues.polymarket.signing import BUY, SELL

TickSize = Literal["0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"]
SideName = Literal["BUY", "SELL"]
MICROS: Final = 1_000_000
SIZE_STEP_MICROS: Final = 10_000  # sizes and market amounts have 2 decimals


@dataclass(frozen=True, slots=True)
class RoundConfig:
    """Decimal places of price, size and computed amount for one tick size."""

    price_dp: int
    size_dp: int
    amount_dp: int
    tick_micros: int


ROUNDING: Final[dict[str, RoundConfig]] = {
    "0.1": RoundConfig(price_dp=1, size_dp=2, amount_dp=3, tick_micros=100_000),
    "0.01": RoundConfig(price_dp=2, size_dp=2, amount_dp=4, tick_micros=10_000),
    "0.005": RoundConfig(price_dp=3, size_dp=2, amount_dp=5, tick_micros=5_000),
    "0.0025": RoundConfig(price_dp=4, size_dp=2, amount_dp=6, tick_micros=2_500),
    "0.001": RoundConfig(price_dp=3, size_dp=2, amount_dp=5, tick_micros=1_000),
    "0.0001": RoundConfig(price_dp=4, size_dp=2, amount_dp=6, tick_micros=100),
}
_TICK_BY_MICROS: Final = {cfg.tick_micros: tick for tick, cfg in ROUNDING.items()}


class AmountError(ValueError):
    """An order's price, size or amount cannot be expressed exactly on the venue's grid."""


class OrderAmounts(NamedTuple):
    """Signed side (BUY 0 / SELL 1) and the two amounts in 6-decimal base units."""

    side: int
    maker_amount: int
    taker_amount: int


def tick_config(tick: str | Decimal | int) -> RoundConfig:
    """Rounding config of a tick size given as "0.01", Decimal("0.010") or 10000 micros.

    Raises:
        AmountError: not one of the six tick sizes.
    """
    if isinstance(tick, int) and not isinstance(tick, bool):
        name = _TICK_BY_MICROS.get(tick)
    else:
        micros = to_micros(tick, "tick size") if isinstance(tick, str | Decimal) else None
        name = _TICK_BY_MICROS.get(micros) if micros is not None else None
    if name is None:
        raise AmountError(f"unknown tick size {tick!r} (known: {', '.join(ROUNDING)})")
    return ROUNDING[name]


def to_micros(value: Decimal | str | int, what: str = "value") -> int:
    """Exact micro-units of a decimal value (at most 6 decimals; floats refused).

    Raises:
        AmountError: float, non-numeric, non-finite, or more than 6 decimals.
    """
    if isinstance(value, float | bool):
        raise AmountError(f"{what} must be Decimal, str or int, not {type(value).__name__}")
    try:
        dec = Decimal(value)
    except ArithmeticError:
        raise AmountError(f"{what} is not a decimal number: {value!r}") from None
    if not dec.is_finite():
        raise AmountError(f"{what} must be finite: {value!r}")
    scaled = dec.scaleb(6)
    if scaled != scaled.to_integral_value():
        raise AmountError(f"{what} has more than 6 decimals: {value!r}")
    return int(scaled)


def floor_size(size: Decimal | str) -> Decimal:
    """Truncate a share size to 2 decimals, as the official client does (but exactly)."""
    return Decimal(size).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def _side_code(side: str) -> int:
    if side == "BUY":
        return BUY
    if side == "SELL":
        return SELL
    raise AmountError(f"side must be 'BUY' or 'SELL', got {side!r}")


def check_price(price_micros: int, cfg: RoundConfig) -> None:
    """Check a price lies on the tick grid within [tick, 1 - tick].

    Raises:
        AmountError: off-grid or out of range.
    """
    tick = cfg.tick_micros
    if price_micros % tick:
        raise AmountError(f"price {Decimal(price_micros).scaleb(-6)} is not a multiple of tick "
                          f"{Decimal(tick).scaleb(-6)}")
    if not tick <= price_micros <= MICROS - tick:
        raise AmountError(f"price {Decimal(price_micros).scaleb(-6)} outside "
                          f"[{Decimal(tick).scaleb(-6)}, {Decimal(MICROS - tick).scaleb(-6)}]")


def _check_size(size_micros: int, what: str) -> None:
    if size_micros <= 0:
        raise AmountError(f"{what} must be positive")
    if size_micros % SIZE_STEP_MICROS:
        raise AmountError(f"{what} {Decimal(size_micros).scaleb(-6)} has more than 2 decimals")


def limit_amounts_micros(
    side: SideName, price_micros: int, size_micros: int, tick: str | Decimal | int
) -> OrderAmounts:
    """Amounts of a limit order from micro-unit price and size.

    Args:
        side: "BUY" or "SELL".
        price_micros: limit price in micro-units (0.52 -> 520000).
        size_micros: shares in micro-units (2 decimals: multiple of 10000).
        tick: the market's tick size.

    Raises:
        AmountError: bad side, tick, price or size (see module rules).
    """
    code = _side_code(side)
    cfg = tick_config(tick)
    check_price(price_micros, cfg)
    _check_size(size_micros, "size")
    # size has 2 decimals and price at most 4, so the product is a whole number of micros.
    notional = size_micros * price_micros // MICROS
    if code == BUY:
        return OrderAmounts(BUY, notional, size_micros)
    return OrderAmounts(SELL, size_micros, notional)


def limit_amounts(
    side: SideName, price: Decimal | str, size: Decimal | str, tick: str | Decimal | int
) -> OrderAmounts:
    """Amounts of a limit order from decimal price and size (see limit_amounts_micros)."""
    return limit_amounts_micros(side, to_micros(price, "price"), to_micros(size, "size"), tick)


def market_amounts_micros(
    side: SideName,
    amount_micros: int,
    price_micros: int,
    tick: str | Decimal | int,
    *,
    max_taker_decimals: int | None = None,
) -> OrderAmounts:
    """Amounts of a market (FOK/FAK) order, exactly as py-clob-client-v2 defines them.

    Args:
        side: "BUY" (amount is collateral to spend) or "SELL" (amount is shares to sell).
        amount_micros: micro-units, 2 decimals.
        price_micros: worst price, on the tick grid.
        tick: the market's tick size.
        max_taker_decimals: cap a BUY's taker decimals below the SDK's amount_dp (the server
            accepts at most 4 for market BUYs; py-clob-client-v2 issue #99). None = SDK rule.

    Raises:
        AmountError: bad side, tick, price or amount.
    """
    code = _side_code(side)
    cfg = tick_config(tick)
    check_price(price_micros, cfg)
    _check_size(amount_micros, "amount")
    if code == SELL:
        return OrderAmounts(SELL, amount_micros, amount_micros * price_micros // MICROS)
    dp = cfg.amount_dp
    # taker = amount / price, rounded up at dp + 4 decimals, then down at dp decimals.
    fine = -(-amount_micros * 10 ** (dp + 4) // price_micros)
    taker = (fine // 10**4) * 10 ** (6 - dp)
    if max_taker_decimals is not None and max_taker_decimals < dp:
        step = 10 ** (6 - max_taker_decimals)
        taker -= taker % step
    return OrderAmounts(BUY, amount_micros, taker)


def market_amounts(
    side: SideName,
    amount: Decimal | str,
    price: Decimal | str,
    tick: str | Decimal | int,
    *,
    max_taker_decimals: int | None = None,
) -> OrderAmounts:
    """Amounts of a market order from decimal amount and price (see market_amounts_micros)."""
    return market_amounts_micros(
        side,
        to_micros(amount, "amount"),
        to_micros(price, "price"),
        tick,
        max_taker_decimals=max_taker_decimals,
    )
