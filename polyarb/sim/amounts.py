# From a signed order's makerAmount/takerAmount to the (price, size) the matching engine
# works in, with the venue's amount-precision rules (protocol reference §3.3, §5.5).
#
# Rules:
# 1. Amounts are 6-decimal base units (= our micro-units). BUY: size = takerAmount (shares),
#    price = makerAmount / takerAmount. SELL: size = makerAmount, price = takerAmount /
#    makerAmount.
# 2. Precision (decimals of the amount in whole units), checked first:
#      limit BUY   maker <= price_dp + 2, taker <= 2      (the reference's quoted error)
#      limit SELL  maker <= 2,            taker <= price_dp + 2
#      market BUY  maker <= 2,            taker <= 4      (FOK/FAK; quoted error)
#      market SELL maker <= 2,            taker <= price_dp + 2   (UNCONFIRMED)
#    where price_dp is the tick's number of decimals (0.01 -> 2, 0.005 -> 3, 0.0025 -> 4).
# 3. Limit orders: an exact price is used as is; an inexact one is rounded in the signer's
#    favour (BUY down, SELL up) to whole micros and then faces the tick rule like any price.
#    Market (FOK/FAK) orders: the implied price is rarely on the grid (a $10 BUY at 0.58 signs
#    taker 17.2413), so it is rounded to the tick grid in the signer's favour: BUY down, SELL
#    up. The order then never pays more, or receives less, than it signed for.
# 4. Errors raise AmountsError carrying the venue's message; the server answers 400 with it.
# 5. The server should also pass the signed collateral amount (BUY makerAmount, SELL
#    takerAmount) as OrderRequest.amount_micros: a $1 market BUY at 0.58 signs 1.7241 shares,
#    whose size * 0.58 is just under the $1 minimum.
from __future__ import annotations

from polyarb.events.inputs import Side
from polyarb.sim.errors import INVALID_PAYLOAD_MSG, amounts_msg
from polyarb.sim.model import MICROS, OrderType


class AmountsError(ValueError):
    """Signed amounts the venue would refuse; str(error) is the venue's message."""


def price_decimals(tick_micros: int) -> int:
    """Decimals of a tick: 10_000 (0.01) -> 2, 5_000 (0.005) -> 3, 2_500 (0.0025) -> 4."""
    decimals = 6
    while decimals > 0 and tick_micros % 10 ** (7 - decimals) == 0:
        decimals -= 1
    return decimals


def _decimals_ok(amount: int, decimals: int) -> bool:
    return bool(amount % 10 ** (6 - decimals) == 0)


def order_terms(side: Side, maker_amount: int, taker_amount: int, order_type: OrderType,
                tick_micros: int) -> tuple[int, int]:
    """Turn signed amounts into (price_micros, size_micros) per the rules above.

    Args:
        side: BUY or SELL.
        maker_amount: what the signer gives, base units.
        taker_amount: what the signer receives, base units.
        order_type: GTC/GTD (limit) or FOK/FAK (market).
        tick_micros: the market's current tick.

    Raises:
        AmountsError: non-positive amounts or too many decimals.
    """
    if maker_amount <= 0 or taker_amount <= 0:
        raise AmountsError(INVALID_PAYLOAD_MSG)
    market = order_type in ("FOK", "FAK")
    dp = price_decimals(tick_micros)
    if side == "BUY":
        maker_dp, taker_dp = (2, 4) if market else (dp + 2, 2)
    else:
        maker_dp, taker_dp = 2, dp + 2
    if not (_decimals_ok(maker_amount, maker_dp) and _decimals_ok(taker_amount, taker_dp)):
        kind = f"{'market ' if market else ''}{side.lower()}"
        raise AmountsError(amounts_msg(kind, maker_dp, taker_dp))
    if side == "BUY":
        size, num = taker_amount, maker_amount * MICROS
        unit = size * tick_micros if market else size
        price = num // unit * (tick_micros if market else 1)
    else:
        size, num = maker_amount, taker_amount * MICROS
        unit = size * tick_micros if market else size
        price = -(-num // unit) * (tick_micros if market else 1)
    return price, size
