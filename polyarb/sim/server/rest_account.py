# Account routes: API-key creation and derivation (L1), and the authenticated reads and
# heartbeats (L2): /data/orders, /data/order/{id}, /data/trades, /v1/heartbeats,
# /balance-allowance, /auth/api-keys, /auth/ban-status/closed-only.
#
# Rules:
# 1. POST /auth/api-key registers (address, nonce) and opens its account; a second create for
#    the same pair is 400 `Could not create api key`. GET /auth/derive-api-key returns the same
#    deterministic credentials (and registers them if needed: the simulator derives what the
#    venue would have created). Both answer {"apiKey", "secret", "passphrase"}.
# 2. Listings are the venue's paginated envelope (http.page) with its filters: /data/orders by
#    id, market, asset_id; /data/trades by id, market, asset_id, maker_address, before and
#    after (unix seconds, on match_time).
# 3. /v1/heartbeats arms the exchange's dead-man switch for the API key; each answer carries a
#    fresh deterministic heartbeat_id. The id the client sends is not checked (the venue's
#    chaining rule is unconfirmed). The heartbeat_lapse fault may lose one (faults.py rule 5).
# 4. /balance-allowance reports base units (micro-units) as strings: `balance` is the total
#    (open orders included), `allowances` maps each V2 spender to the configured allowance.
from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from polyarb.sim.server import wire
from polyarb.sim.server.auth import CREATE_KEY_ERROR, check_l1
from polyarb.sim.server.http import (
    INVALID_PAYLOAD,
    ApiError,
    is_token_id,
    json_response,
    page,
    parse_json,
)
from polyarb.sim.server.rest_trading import authenticate
from polyarb.sim.server.venue import VENUE, Venue
from polyarb.venues.polymarket.contracts import CONTRACTS
from polyarb.venues.polymarket.credentials import ApiCredentials


def _l1(request: web.Request) -> tuple[Venue, str, int]:
    venue = request.app[VENUE]
    ident = check_l1(request.headers, chain_id=venue.config.chain_id,
                     now_s=venue.clock() // 1_000_000_000,
                     max_skew_s=venue.config.l1_max_skew_s)
    return venue, ident.address, ident.nonce


def _creds(creds: ApiCredentials) -> web.Response:
    return json_response({"apiKey": creds.api_key.reveal(), "secret": creds.secret.reveal(),
                          "passphrase": creds.passphrase.reveal()})


async def create_api_key(request: web.Request) -> web.Response:
    """POST /auth/api-key (rule 1)."""
    venue, address, nonce = _l1(request)
    if venue.keys.exists(address, nonce):
        raise ApiError(400, CREATE_KEY_ERROR, "key_exists")
    return _creds(venue.open_key(address, nonce))


async def derive_api_key(request: web.Request) -> web.Response:
    """GET /auth/derive-api-key (rule 1)."""
    venue, address, nonce = _l1(request)
    return _creds(venue.open_key(address, nonce))


async def api_keys(request: web.Request) -> web.Response:
    """GET /auth/api-keys: the keys of the caller's address."""
    a = await authenticate(request)
    return json_response({"apiKeys": a.venue.keys.keys_of(a.record.address)})


async def delete_api_key(request: web.Request) -> web.Response:
    """DELETE /auth/api-key: forget the calling key (its account and orders stay)."""
    a = await authenticate(request)
    a.venue.keys.delete(a.api_key)
    return json_response("OK")


async def closed_only(request: web.Request) -> web.Response:
    """GET /auth/ban-status/closed-only."""
    await authenticate(request)
    return json_response({"closed_only": False})


def _query(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    return value or None


async def data_orders(request: web.Request) -> web.Response:
    """GET /data/orders (rule 2)."""
    a = await authenticate(request)
    views = a.venue.exchange.open_orders(a.api_key, market=_query(request, "market"),
                                         asset_id=_query(request, "asset_id"))
    wanted = _query(request, "id")
    rows = [wire.open_order(v) for v in views if wanted is None or v.id == wanted]
    return json_response(page(rows, _query(request, "next_cursor"), a.venue.config.page_limit))


async def data_order(request: web.Request) -> web.Response:
    """GET /data/order/{order_id}: any retained order of the caller, else null."""
    a = await authenticate(request)
    view = a.venue.exchange.order(request.match_info["order_id"])
    if view is None or view.owner != a.api_key:
        return json_response(None)
    return json_response(wire.open_order(view))


def _seconds(request: web.Request, name: str) -> int | None:
    text = _query(request, name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()):
        raise ApiError(400, f"invalid {name}", f"bad_{name}")
    return int(text)


async def data_trades(request: web.Request) -> web.Response:
    """GET /data/trades (rule 2)."""
    a = await authenticate(request)
    trades = a.venue.exchange.trades(a.api_key, market=_query(request, "market"),
                                     asset_id=_query(request, "asset_id"))
    wanted, maker = _query(request, "id"), _query(request, "maker_address")
    before, after = _seconds(request, "before"), _seconds(request, "after")
    rows = []
    for t in trades:
        match_s = t.match_time_ns // 1_000_000_000
        if ((wanted is None or t.id == wanted)
                and (maker is None or t.maker_address.lower() == maker.lower())
                and (before is None or match_s < before) and (after is None or match_s > after)):
            rows.append(wire.trade(t, a.api_key))
    return json_response(page(rows, _query(request, "next_cursor"), a.venue.config.page_limit))


async def heartbeat(request: web.Request) -> web.Response:
    """POST /v1/heartbeats (rule 3)."""
    a = await authenticate(request)
    body = parse_json(a.body or b"{}", INVALID_PAYLOAD)
    if not isinstance(body, dict) or not isinstance(body.get("heartbeat_id", ""), str):
        raise ApiError(400, INVALID_PAYLOAD, "heartbeat_shape")
    now = a.venue.clock()
    lapsed = a.venue.faults.lapse_heartbeat(a.venue.exchange, a.api_key, now)
    if lapsed is not None:
        raise lapsed
    a.venue.exchange.heartbeat(a.api_key, now)
    seed = f"{a.venue.config.seed}:heartbeat:{a.api_key}:{now}"
    return json_response({"heartbeat_id": hashlib.sha256(seed.encode()).hexdigest()[:32]})


def _balance(request: web.Request, a: Any) -> dict[str, Any]:
    asset_type = request.query.get("asset_type", "COLLATERAL")
    token = _query(request, "token_id")
    if asset_type == "COLLATERAL":
        view = a.venue.exchange.balance(a.api_key)
    elif asset_type == "CONDITIONAL" and is_token_id(token):
        if token not in a.venue.exchange.markets.by_token:
            raise ApiError(404, "token not found", "unknown_token")
        view = a.venue.exchange.balance(a.api_key, token)
    else:
        raise ApiError(400, "invalid asset_type or token_id", "bad_asset")
    contracts = CONTRACTS[a.venue.config.chain_id]
    spenders = (contracts.exchange_v2, contracts.neg_risk_exchange_v2, contracts.neg_risk_adapter)
    allowance = str(view.allowance_micros)
    return {"balance": str(view.balance_micros),
            "allowances": dict.fromkeys(spenders, allowance)}


async def balance_allowance(request: web.Request) -> web.Response:
    """GET /balance-allowance and /balance-allowance/update (rule 4)."""
    a = await authenticate(request)
    return json_response(_balance(request, a))


ROUTES: tuple[tuple[str, str, Any], ...] = (
    ("POST", "/auth/api-key", create_api_key),
    ("DELETE", "/auth/api-key", delete_api_key),
    ("GET", "/auth/derive-api-key", derive_api_key),
    ("GET", "/auth/api-keys", api_keys),
    ("GET", "/auth/ban-status/closed-only", closed_only),
    ("GET", "/data/orders", data_orders),
    ("GET", "/data/order/{order_id}", data_order),
    ("GET", "/data/trades", data_trades),
    ("POST", "/v1/heartbeats", heartbeat),
    ("GET", "/balance-allowance", balance_allowance),
    ("GET", "/balance-allowance/update", balance_allowance),
)
