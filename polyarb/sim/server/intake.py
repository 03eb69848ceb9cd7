# From one POST /order body entry to an authenticated, decoded OrderRequest for the exchange.
#
# Rules:
# 1. Checks run in a fixed order and the first failure answers, with the venue's words:
#    shape -> owner is the API key -> order fields -> signer is the API key's address ->
#    known token -> EIP-712 signature (against the standard or neg-risk exchange, as the
#    market requires) -> order type and flags -> amount precision.
# 2. Failures raise ApiError: 400 `Invalid order payload` (shape, fields, order type), 400
#    `the order owner has to be the owner of the API KEY`, 400 `the order signer address has
#    to be the address of the API KEY`, 400 `invalid signature`, 404 for an unknown token
#    ("not found" maps to 404 on the venue), 400 with the venue's `invalid amounts, ...`
#    message for amount precision.
# 3. The order id is the EIP-712 digest (the order hash), as the venue's orderID is. The
#    maker (funder) becomes the order's maker_address; the signed collateral amount rides
#    along for the exchange's marketable-minimum check.
# 4. Pure apart from reading the exchange's market registry.
from __future__ import annotations

from typing import Any, cast

from polyarb.events.inputs import Side
from polyarb.sim import Exchange, OrderRequest
from polyarb.sim import errors as E
from polyarb.sim.amounts import AmountsError, order_terms
from polyarb.sim.model import ORDER_TYPES, OrderType
from polyarb.sim.server.http import INVALID_ORDER_PAYLOAD, ApiError
from polyarb.venues.polymarket import contracts as c
from polyarb.venues.polymarket import signing as sg
from polyarb.venues.polymarket.order_builder import OrderFormatError, parse_wire_order

OWNER_MISMATCH = "the order owner has to be the owner of the API KEY"
SIGNER_MISMATCH = "the order signer address has to be the address of the API KEY"
INVALID_SIGNATURE = "invalid signature"
MAX_BATCH = 15


def too_many(count: int, limit: int = MAX_BATCH) -> str:
    """`Too many orders in payload: {N}, max allowed: {M}`."""
    return f"Too many orders in payload: {count}, max allowed: {limit}"


def _bad(reason: str) -> ApiError:
    return ApiError(400, INVALID_ORDER_PAYLOAD, reason)


def decode_entry(entry: Any, *, api_key: str, address: str, exchange: Exchange,
                 chain_id: int) -> OrderRequest:
    """Authenticate and decode one `{order, owner, orderType, postOnly, deferExec}` entry.

    Args:
        entry: the parsed JSON entry.
        api_key: the API key of the request's L2 headers.
        address: that key's wallet address.
        exchange: for the token's market (tick, neg-risk).
        chain_id: the chain the signatures are for.

    Raises:
        ApiError: the first failed check (rules 1-2).
    """
    if not isinstance(entry, dict) or not isinstance(entry.get("order"), dict):
        raise _bad("entry_shape")
    if entry.get("owner") != api_key:
        raise ApiError(400, OWNER_MISMATCH, "owner_mismatch")
    try:
        order, signature = parse_wire_order(entry["order"])
    except OrderFormatError as exc:
        raise _bad(f"order_field: {exc}") from None
    if not c.same_address(order.signer, address):
        raise ApiError(400, SIGNER_MISMATCH, "signer_mismatch")
    market = exchange.markets.by_token.get(order.token_id)
    if market is None:
        raise ApiError(404, E.market_not_found_msg(order.token_id), "unknown_token")
    digest = _verified_digest(order, signature, sg.order_domain(chain_id, market.neg_risk))
    order_type, post_only = _options(entry)
    side: Side = "BUY" if order.side == sg.BUY else "SELL"
    try:
        price, size = order_terms(side, order.maker_amount, order.taker_amount, order_type,
                                  market.tick_micros)
    except AmountsError as exc:
        raise ApiError(400, str(exc), "amounts") from None
    return OrderRequest(
        owner=api_key, token_id=order.token_id, side=side, price_micros=price,
        size_micros=size, order_type=order_type, post_only=post_only,
        expiration_s=order.expiration, order_id="0x" + digest.hex(),
        maker_address=c.to_checksum_address(order.maker),
        amount_micros=order.maker_amount if side == "BUY" else order.taker_amount,
    )


def _verified_digest(order: sg.OrderV2, signature: str, domain: bytes) -> bytes:
    """The order hash, once the signature is the signer's (else 400 invalid signature)."""
    digest = sg.order_digest(order, domain)
    try:
        sg.check_maker_signer(order)
        recovered = sg.recover_address(digest, signature)
    except sg.SignatureError as exc:
        raise ApiError(400, INVALID_SIGNATURE, exc.reason) from None
    if recovered != c.to_checksum_address(order.signer):
        raise ApiError(400, INVALID_SIGNATURE, "signer_mismatch")
    return digest


def _options(entry: dict[str, Any]) -> tuple[OrderType, bool]:
    order_type = entry.get("orderType", "GTC")
    post_only = entry.get("postOnly", False)
    defer = entry.get("deferExec", False)
    if order_type not in ORDER_TYPES:
        raise _bad("order_type")
    if not isinstance(post_only, bool) or not isinstance(defer, bool):
        raise _bad("flags")
    return cast(OrderType, order_type), post_only
