# Authenticated order routes: POST /order, POST /orders, the cancel routes and the order-loss
# faults (an accepted order whose response is lost or never comes).
#
# Rules:
# 1. Every route verifies the L2 headers over the exact body bytes first (auth.check_l2), then
#    the trading mode (503/425), then the body.
# 2. POST /order answers 200 with the placement result, or the venue's error: 400
#    `{"error": ...}` for a rejected order (404 when its token is unknown). POST /orders takes
#    1..15 entries and answers 200 with one result per entry, rejections inside
#    (`success: false`, `errorMsg`); only a malformed or oversized batch is a 400.
# 3. lost_response / timeout act after the exchange accepted at least one order: the order
#    rests or trades, but the client gets a 500, or nothing until the connection drops. The
#    client must reconcile through /data/orders, /data/trades or the user channel.
# 4. Cancels answer `{"canceled": [...], "not_canceled": {id: reason}}`; DELETE /orders takes
#    at most 3000 ids, duplicates ignored.
from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from polyarb.sim import PlaceResult
from polyarb.sim import errors as E
from polyarb.sim.server import wire
from polyarb.sim.server.auth import check_l2
from polyarb.sim.server.http import (
    INTERNAL_ERROR,
    INVALID_ORDER_PAYLOAD,
    ApiError,
    error_response,
    json_response,
    parse_json,
    read_body,
)
from polyarb.sim.server.intake import MAX_BATCH, decode_entry, too_many
from polyarb.sim.server.venue import VENUE, Venue
from polyarb.venues.polymarket.l2auth import ApiKeyRecord

MAX_CANCEL_IDS = 3000


class Authed:
    """An authenticated request: the venue, the API key, its record and the body bytes."""

    __slots__ = ("api_key", "body", "record", "venue")

    def __init__(self, venue: Venue, api_key: str, record: ApiKeyRecord, body: bytes) -> None:
        self.venue = venue
        self.api_key = api_key
        self.record = record
        self.body = body


async def authenticate(request: web.Request) -> Authed:
    """Read the body and verify the L2 headers over it (rule 1).

    Raises:
        ApiError: 401 with the venue's message, or 413 for an oversized body.
    """
    venue = request.app[VENUE]
    body = await read_body(request)
    api_key, record = check_l2(
        request.headers, method=request.method, path=request.raw_path, body=body,
        keys=venue.keys, now_s=venue.clock() // 1_000_000_000,
        max_skew_s=venue.config.l2_max_skew_s)
    return Authed(venue, api_key, record, body)


def _rejection(result: PlaceResult) -> ApiError:
    status = 404 if result.code == E.NOT_FOUND else 400
    return ApiError(status, result.error_msg, result.code.lower())


async def _order_fault(request: web.Request, venue: Venue) -> web.Response | None:
    """Rule 3: maybe lose the response of an accepted order."""
    if venue.faults.hit("lost_response"):
        return error_response(500, INTERNAL_ERROR, "fault_lost_response")
    if venue.faults.hit("timeout"):
        await asyncio.sleep(venue.faults.cfg.timeout_s)
        if request.transport is not None:
            request.transport.abort()
        return error_response(500, INTERNAL_ERROR, "fault_timeout")
    return None


async def post_order(request: web.Request) -> web.Response:
    """POST /order (rule 2)."""
    a = await authenticate(request)
    a.venue.check_mode(new_order=True)
    entry = parse_json(a.body, INVALID_ORDER_PAYLOAD)
    req = decode_entry(entry, api_key=a.api_key, address=a.record.address,
                       exchange=a.venue.exchange, chain_id=a.venue.config.chain_id)
    result = a.venue.place(req)
    if not result.success:
        raise _rejection(result)
    lost = await _order_fault(request, a.venue)
    return lost if lost is not None else json_response(wire.place_response(result))


async def post_orders(request: web.Request) -> web.Response:
    """POST /orders: a batch of 1..15 (rule 2)."""
    a = await authenticate(request)
    a.venue.check_mode(new_order=True)
    entries = parse_json(a.body, INVALID_ORDER_PAYLOAD)
    if not isinstance(entries, list) or not entries:
        raise ApiError(400, INVALID_ORDER_PAYLOAD, "batch_shape")
    if len(entries) > MAX_BATCH:
        raise ApiError(400, too_many(len(entries)), "batch_size")
    out: list[dict[str, Any]] = []
    accepted = False
    for entry in entries:
        try:
            req = decode_entry(entry, api_key=a.api_key, address=a.record.address,
                               exchange=a.venue.exchange, chain_id=a.venue.config.chain_id)
        except ApiError as exc:
            out.append(wire.rejected_entry(exc.message))
            continue
        result = a.venue.place(req)
        accepted = accepted or result.success
        out.append(wire.place_response(result))
    lost = await _order_fault(request, a.venue) if accepted else None
    return lost if lost is not None else json_response(out)


def _cancel_response(result: Any) -> web.Response:
    return json_response({"canceled": list(result.canceled),
                          "not_canceled": dict(result.not_canceled)})


async def cancel_order(request: web.Request) -> web.Response:
    """DELETE /order {"orderID": "0x..."}."""
    a = await authenticate(request)
    a.venue.check_mode(new_order=False)
    body = parse_json(a.body, INVALID_ORDER_PAYLOAD)
    order_id = body.get("orderID") if isinstance(body, dict) else None
    if not isinstance(order_id, str) or not order_id:
        raise ApiError(400, INVALID_ORDER_PAYLOAD, "cancel_shape")
    result = a.venue.exchange.cancel(a.api_key, order_id, a.venue.clock())
    a.venue.publish()
    return _cancel_response(result)


async def cancel_orders(request: web.Request) -> web.Response:
    """DELETE /orders ["0x...", ...] (rule 4)."""
    a = await authenticate(request)
    a.venue.check_mode(new_order=False)
    ids = parse_json(a.body, INVALID_ORDER_PAYLOAD)
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise ApiError(400, INVALID_ORDER_PAYLOAD, "cancel_shape")
    if len(ids) > MAX_CANCEL_IDS:
        raise ApiError(400, too_many(len(ids), MAX_CANCEL_IDS), "cancel_size")
    result = a.venue.exchange.cancel_many(a.api_key, ids, a.venue.clock())
    a.venue.publish()
    return _cancel_response(result)


async def cancel_all(request: web.Request) -> web.Response:
    """DELETE /cancel-all."""
    a = await authenticate(request)
    a.venue.check_mode(new_order=False)
    result = a.venue.exchange.cancel_all(a.api_key, a.venue.clock())
    a.venue.publish()
    return _cancel_response(result)


async def cancel_market_orders(request: web.Request) -> web.Response:
    """DELETE /cancel-market-orders {"market"?, "asset_id"?}."""
    a = await authenticate(request)
    a.venue.check_mode(new_order=False)
    body = parse_json(a.body or b"{}", INVALID_ORDER_PAYLOAD)
    if not isinstance(body, dict):
        raise ApiError(400, INVALID_ORDER_PAYLOAD, "cancel_shape")
    market, asset = body.get("market") or None, body.get("asset_id") or None
    if not all(v is None or isinstance(v, str) for v in (market, asset)):
        raise ApiError(400, INVALID_ORDER_PAYLOAD, "cancel_shape")
    result = a.venue.exchange.cancel_market(a.api_key, a.venue.clock(), market=market,
                                            asset_id=asset)
    a.venue.publish()
    return _cancel_response(result)


ROUTES: tuple[tuple[str, str, Any], ...] = (
    ("POST", "/order", post_order),
    ("POST", "/orders", post_orders),
    ("DELETE", "/order", cancel_order),
    ("DELETE", "/orders", cancel_orders),
    ("DELETE", "/cancel-all", cancel_all),
    ("DELETE", "/cancel-market-orders", cancel_market_orders),
)
TRADING_PATHS = frozenset(path for _, path, _ in ROUTES)
