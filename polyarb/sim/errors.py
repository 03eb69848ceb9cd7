# Every rejection and cancel-failure string the simulated exchange can produce, in one place.
#
# Rules:
# 1. Strings are the venue's own words (protocol reference §3.3, "current error page" first,
#    the older insert-error table second). The few the reference does not give are marked
#    INVENTED below; keep them recognisable ("not found" maps to HTTP 404 on the real server).
# 2. Each rejection carries a stable `code` (the venue's upper-case names where they exist) so
#    the HTTP server can choose the status and body shape without parsing the message.
# 3. Amounts inside messages are rendered with polyarb.core.numbers.format_micros ("0.523",
#    "5", "1.08"): plain decimals, trailing zeros dropped, like the venue's examples.
from __future__ import annotations

from polyarb.core.numbers import format_micros

# --- codes -----------------------------------------------------------------------------------
MIN_TICK_SIZE = "INVALID_ORDER_MIN_TICK_SIZE"
MIN_SIZE = "INVALID_ORDER_MIN_SIZE"
DUPLICATED = "INVALID_ORDER_DUPLICATED"
NOT_ENOUGH_BALANCE = "INVALID_ORDER_NOT_ENOUGH_BALANCE"
EXPIRATION = "INVALID_ORDER_EXPIRATION"
POST_ONLY_TYPE = "INVALID_POST_ONLY_ORDER_TYPE"
POST_ONLY_CROSSES = "INVALID_POST_ONLY_ORDER"
FOK_NOT_FILLED = "FOK_ORDER_NOT_FILLED_ERROR"
FAK_NO_MATCH = "FAK_ORDER_NOT_FILLED_ERROR"
MARKET_NOT_READY = "MARKET_NOT_READY"
MARKET_CLOSED = "MARKET_CLOSED"
NOT_FOUND = "NOT_FOUND"
INVALID_PAYLOAD = "INVALID_ORDER_PAYLOAD"
INVALID_AMOUNTS = "INVALID_ORDER_AMOUNTS"

# --- messages --------------------------------------------------------------------------------
NOT_ENOUGH_BALANCE_MSG = "not enough balance / allowance"
INVALID_EXPIRATION_MSG = "invalid expiration"
POST_ONLY_TYPE_MSG = "invalid post-only order: only GTC and GTD order types are allowed"
FOK_MSG = "FOK orders are filled or killed"
FOK_KILLED_STATUS_MSG = "order couldn't be fully filled. FOK orders are fully filled or killed."
"""The older insert-error wording; the venue puts it in the CANCELED status of a killed FOK."""
FAK_MSG = (
    "no orders found to match with FAK order. FAK orders are partially filled or killed if no "
    "match is found."
)
MARKET_NOT_READY_MSG = "the market is not yet ready to process new orders"
MARKET_CLOSED_MSG = "market is closed"  # INVENTED: the reference gives no closed-market text
INVALID_PAYLOAD_MSG = "Invalid order payload"
CANCEL_NOT_FOUND_MSG = "order not found"  # INVENTED wording, "not found" -> 404 like the venue
CANCEL_DONE_MSG = "already canceled or matched"
HEARTBEAT_CANCEL_MSG = "heartbeat expired"  # INVENTED: reason on dead-man cancellations
EXPIRED_MSG = "order expired"  # INVENTED: reason on GTD expiry cancellations
MARKET_CLOSED_CANCEL_MSG = "market closed"  # INVENTED: reason when closing a market


class SimError(ValueError):
    """A call the exchange refuses outright (unknown market, bad config, impossible reversal).

    Order rejections are not exceptions: they come back as PlaceResult with `code`/`error_msg`.
    """


def tick_msg(order_id: str, price_micros: int, tick_micros: int) -> str:
    """`order {id} is invalid. Price ({price}) breaks minimum tick size rule: {tick}`."""
    return (
        f"order {order_id} is invalid. Price ({format_micros(price_micros)}) breaks minimum "
        f"tick size rule: {format_micros(tick_micros)}"
    )


def min_size_msg(order_id: str, size_micros: int, min_micros: int) -> str:
    """`order {id} is invalid. Size ({size}) lower than the minimum: {min}`."""
    return (
        f"order {order_id} is invalid. Size ({format_micros(size_micros)}) lower than the "
        f"minimum: {format_micros(min_micros)}"
    )


def min_notional_msg(order_id: str, amount_micros: int, min_micros: int) -> str:
    """Marketable (FOK/FAK) orders have a collateral minimum instead of a share minimum.

    INVENTED wording modelled on the size message (the ~$1 rule itself is UNCONFIRMED).
    """
    return (
        f"order {order_id} is invalid. Amount ({format_micros(amount_micros)}) lower than the "
        f"minimum: {format_micros(min_micros)}"
    )


def duplicated_msg(order_id: str) -> str:
    """`order {id} is invalid. Duplicated.` (the older table: "order is invalid. Duplicated.")."""
    return f"order {order_id} is invalid. Duplicated."


def crosses_msg(order_id: str) -> str:
    """Post-only order that would take liquidity: `order {id} crosses the book`."""
    return f"order {order_id} crosses the book"


def market_not_found_msg(token_id: str) -> str:
    """INVENTED wording for an order on a token no market has ("not found" -> 404)."""
    return f"market not found for token {token_id}"


def amounts_msg(kind: str, maker_decimals: int, taker_decimals: int) -> str:
    """`invalid amounts, the {kind} orders maker amount supports a max accuracy of ...`.

    `kind` is "buy", "sell", "market buy" or "market sell" (the sell variants are UNCONFIRMED;
    the reference quotes the two buy ones).
    """
    return (
        f"invalid amounts, the {kind} orders maker amount supports a max accuracy of "
        f"{maker_decimals} decimals, taker amount a max of {taker_decimals} decimals"
    )
