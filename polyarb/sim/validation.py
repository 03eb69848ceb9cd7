# Static checks of an incoming order, before any balance or book is looked at.
#
# Rules:
# 1. Checks run in a fixed order and the first failure wins, so the same bad order always
#    gets the same message: market known -> open -> accepting -> payload -> post-only type ->
#    expiration -> price on the tick grid within [tick, 1 - tick] -> minimum size.
# 2. Minimum size: GTC/GTD orders need the market's share minimum; FOK/FAK ("market") orders
#    need a collateral notional of at least `min_marketable_notional_micros` instead (the
#    venue applies a ~$1 rule to marketable orders, UNCONFIRMED in its docs). The notional is
#    the signed collateral amount when the server passes it, else size * price.
# 3. GTD: `expiration_s` (unix seconds) must lie at least `gtd_threshold_ns` after now (the
#    venue's one-minute security threshold); the order then lives until that instant. Other
#    order types must carry expiration 0.
# 4. Pure: returns (code, message) or None; never raises on bad input.
from __future__ import annotations

from polyarb.sim import errors as E
from polyarb.sim.model import MICROS, ORDER_TYPES, SECOND_NS, Market, OrderRequest

Rejection = tuple[str, str]


def _payload_ok(req: OrderRequest) -> bool:
    return (
        req.side in ("BUY", "SELL") and req.order_type in ORDER_TYPES
        and type(req.price_micros) is int and type(req.size_micros) is int
        and type(req.expiration_s) is int and type(req.post_only) is bool
        and isinstance(req.owner, str) and bool(req.owner)
        and (req.order_id is None or isinstance(req.order_id, str))
        and (req.amount_micros is None or type(req.amount_micros) is int)
    )


def _expiration(req: OrderRequest, now_ns: int, threshold_ns: int) -> Rejection | None:
    if req.order_type != "GTD":
        return None if req.expiration_s == 0 else (E.EXPIRATION, E.INVALID_EXPIRATION_MSG)
    if req.expiration_s * SECOND_NS < now_ns + threshold_ns:
        return E.EXPIRATION, E.INVALID_EXPIRATION_MSG
    return None


def _price(req: OrderRequest, order_id: str, tick: int) -> Rejection | None:
    price = req.price_micros
    if price % tick or not tick <= price <= MICROS - tick:
        return E.MIN_TICK_SIZE, E.tick_msg(order_id, price, tick)
    return None


def _size(req: OrderRequest, order_id: str, market: Market,
          min_notional: int) -> Rejection | None:
    size = req.size_micros
    if req.order_type in ("GTC", "GTD"):
        if size < market.min_size_micros or size <= 0:
            return E.MIN_SIZE, E.min_size_msg(order_id, size, market.min_size_micros)
        return None
    notional = req.amount_micros
    if notional is None:
        notional = max(size, 0) * req.price_micros // MICROS
    if size <= 0 or notional < min_notional:
        return E.MIN_SIZE, E.min_notional_msg(order_id, notional, min_notional)
    return None


def validate(req: OrderRequest, market: Market | None, order_id: str, now_ns: int, *,
             gtd_threshold_ns: int, min_notional_micros: int) -> Rejection | None:
    """Check an order's shape against its market (rule 1 order); None when it may proceed.

    Args:
        req: the order.
        market: the market owning `req.token_id`, None when no market does.
        order_id: the id the order will have (used in the messages).
        now_ns: current time.
        gtd_threshold_ns: minimum GTD lifetime (rule 3).
        min_notional_micros: minimum collateral for FOK/FAK orders (rule 2).

    Returns:
        (code, message) from polyarb/sim/errors.py, or None.
    """
    if market is None:
        return E.NOT_FOUND, E.market_not_found_msg(str(req.token_id))
    if market.closed:
        return E.MARKET_CLOSED, E.MARKET_CLOSED_MSG
    if not market.accepting_orders:
        return E.MARKET_NOT_READY, E.MARKET_NOT_READY_MSG
    if not _payload_ok(req):
        return E.INVALID_PAYLOAD, E.INVALID_PAYLOAD_MSG
    if req.post_only and req.order_type in ("FOK", "FAK"):
        return E.POST_ONLY_TYPE, E.POST_ONLY_TYPE_MSG
    return (
        _expiration(req, now_ns, gtd_threshold_ns)
        or _price(req, order_id, market.tick_micros)
        or _size(req, order_id, market, min_notional_micros)
    )
