# Public REST routes (no auth): health, time, version, books, prices, market parameters and the
# market listings, with the venue's paths, parameters, shapes and errors.
#
# Rules:
# 1. Shapes follow the protocol reference section 3.1 and 6; errors the venue's error page:
#    400 `Invalid token id` (missing/malformed token_id), 404 `No orderbook exists for the
#    requested token id` (unknown token), 400 `Invalid payload` / `Payload exceeds the limit`
#    for the POST batch forms, 400 `Invalid side`.
# 2. /price: BUY answers the best bid, SELL the best ask (as the venue does). An empty side is
#    "0" (bids) or "1" (asks), the same convention as price_change's best_bid/best_ask.
# 3. /tick-size answers a JSON number ({"minimum_tick_size": 0.01}); the V2 client caches it
#    with str(), so it is written as the exact decimal literal.
# 4. Handlers only read the venue's state; none awaits between reading and answering.
from __future__ import annotations

from typing import Any

from aiohttp import web

from polyarb.core.numbers import format_micros
from polyarb.sim.model import Market
from polyarb.sim.server import wire
from polyarb.sim.server.http import (
    INVALID_PAYLOAD,
    INVALID_TOKEN_ID,
    NO_ORDERBOOK,
    ApiError,
    is_token_id,
    json_response,
    page,
    parse_json,
    read_body,
    token_param,
)
from polyarb.sim.server.venue import VENUE, Venue

MAX_BATCH_TOKENS = 500
PAYLOAD_LIMIT = "Payload exceeds the limit"


def _venue(request: web.Request) -> Venue:
    return request.app[VENUE]


def _market(venue: Venue, token: str) -> Market:
    market = venue.exchange.markets.by_token.get(token)
    if market is None:
        raise ApiError(404, NO_ORDERBOOK, "unknown_token")
    return market


def _token(request: web.Request) -> str:
    """token_id from the path (/tick-size/{token_id}) or the query."""
    token = request.match_info.get("token_id")
    if token is None:
        return token_param(request)
    if not is_token_id(token):
        raise ApiError(400, INVALID_TOKEN_ID, "bad_token_id")
    return token


async def ok(request: web.Request) -> web.Response:
    """GET /ok."""
    return web.Response(text="OK")


async def server_time(request: web.Request) -> web.Response:
    """GET /time: unix seconds as a bare JSON integer."""
    return json_response(_venue(request).clock() // 1_000_000_000)


async def version(request: web.Request) -> web.Response:
    """GET /version."""
    return json_response({"version": 2})


async def book(request: web.Request) -> web.Response:
    """GET /book?token_id=."""
    venue = _venue(request)
    token = token_param(request)
    _market(venue, token)
    return json_response(venue.exchange.book_json(token, venue.clock()))


async def _batch(request: web.Request, need_side: bool) -> list[tuple[str, str]]:
    """The body of POST /books, /prices, /midpoints, ...: [{"token_id", "side"?}, ...]."""
    items = parse_json(await read_body(request))
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ApiError(400, INVALID_PAYLOAD, "batch_shape")
    if len(items) > MAX_BATCH_TOKENS:
        raise ApiError(400, PAYLOAD_LIMIT, "batch_size")
    out = []
    for item in items:
        token, side = item.get("token_id"), item.get("side", "")
        if not is_token_id(token):
            raise ApiError(400, INVALID_PAYLOAD, "batch_token")
        if (need_side or side) and side not in ("BUY", "SELL"):
            raise ApiError(400, "Invalid side", "batch_side")
        out.append((str(token), str(side)))
    return out


async def books(request: web.Request) -> web.Response:
    """POST /books."""
    venue = _venue(request)
    now = venue.clock()
    out = []
    for token, _ in await _batch(request, False):
        _market(venue, token)
        out.append(venue.exchange.book_json(token, now))
    return json_response(out)


def _side_price(venue: Venue, token: str, side: str) -> str:
    _market(venue, token)
    bid, ask = venue.exchange.best_prices(token)
    return format_micros(bid if side == "BUY" else ask)


async def price(request: web.Request) -> web.Response:
    """GET /price?token_id=&side= (rule 2)."""
    token = token_param(request)
    side = request.query.get("side", "")
    if side not in ("BUY", "SELL"):
        raise ApiError(400, "Invalid side", "bad_side")
    return json_response({"price": _side_price(_venue(request), token, side)})


async def prices(request: web.Request) -> web.Response:
    """POST /prices: {token_id: {side: price}}."""
    venue = _venue(request)
    out: dict[str, dict[str, str]] = {}
    for token, side in await _batch(request, True):
        out.setdefault(token, {})[side] = _side_price(venue, token, side)
    return json_response(out)


def _mid(venue: Venue, token: str) -> str:
    _market(venue, token)
    bid, ask = venue.exchange.best_prices(token)
    return format_micros((bid + ask) // 2)


def _spread(venue: Venue, token: str) -> str:
    _market(venue, token)
    bid, ask = venue.exchange.best_prices(token)
    return format_micros(ask - bid)


async def midpoint(request: web.Request) -> web.Response:
    """GET /midpoint?token_id=."""
    return json_response({"mid": _mid(_venue(request), token_param(request))})


async def midpoints(request: web.Request) -> web.Response:
    """POST /midpoints: {token_id: mid}."""
    venue = _venue(request)
    return json_response({t: _mid(venue, t) for t, _ in await _batch(request, False)})


async def spread(request: web.Request) -> web.Response:
    """GET /spread?token_id=."""
    return json_response({"spread": _spread(_venue(request), token_param(request))})


async def spreads(request: web.Request) -> web.Response:
    """POST /spreads: {token_id: spread}."""
    venue = _venue(request)
    return json_response({t: _spread(venue, t) for t, _ in await _batch(request, False)})


def _last(venue: Venue, token: str) -> dict[str, str]:
    _market(venue, token)
    last = venue.exchange.last_trade_price(token)
    if last is None:
        return {"price": "0.5", "side": ""}
    return {"price": format_micros(last.price_micros), "side": last.side}


async def last_trade_price(request: web.Request) -> web.Response:
    """GET /last-trade-price?token_id=: "0.5" and "" before any trade."""
    return json_response(_last(_venue(request), token_param(request)))


async def last_trades_prices(request: web.Request) -> web.Response:
    """POST /last-trades-prices: [{token_id, price, side}]."""
    venue = _venue(request)
    return json_response([{"token_id": t, **_last(venue, t)}
                          for t, _ in await _batch(request, False)])


async def tick_size(request: web.Request) -> web.Response:
    """GET /tick-size?token_id= (or /tick-size/{token_id}) (rule 3)."""
    market = _market(_venue(request), _token(request))
    return json_response({"minimum_tick_size": wire.number(market.tick_micros)})


async def neg_risk(request: web.Request) -> web.Response:
    """GET /neg-risk?token_id=."""
    market = _market(_venue(request), token_param(request))
    return json_response({"neg_risk": market.neg_risk})


async def fee_rate(request: web.Request) -> web.Response:
    """GET /fee-rate?token_id= (or /fee-rate/{token_id}): {"base_fee": bps}."""
    market = _market(_venue(request), _token(request))
    return json_response({"base_fee": market.fee_rate_bps})


# --- markets -------------------------------------------------------------------------------


def _last_prices(venue: Venue) -> dict[str, int]:
    return {token: t.price_micros for token, t in venue.exchange.last_trade.items()}


def _listing(request: web.Request, simplified: bool) -> dict[str, Any]:
    venue = _venue(request)
    last = _last_prices(venue)
    render = wire.simplified_market if simplified else wire.market
    rows = [render(m, last, venue.winners.get(cid))
            for cid, m in venue.exchange.markets.by_id.items()]
    return page(rows, request.query.get("next_cursor"), venue.config.page_limit)


async def markets(request: web.Request) -> web.Response:
    """GET /markets (and /sampling-markets): paginated market objects."""
    return json_response(_listing(request, False))


async def simplified_markets(request: web.Request) -> web.Response:
    """GET /simplified-markets (and /sampling-simplified-markets)."""
    return json_response(_listing(request, True))


def _by_condition(request: web.Request) -> Market:
    venue = _venue(request)
    market = venue.exchange.markets.by_id.get(request.match_info["condition_id"])
    if market is None:
        raise ApiError(404, "market not found", "unknown_market")
    return market


async def market(request: web.Request) -> web.Response:
    """GET /markets/{condition_id}."""
    venue = _venue(request)
    m = _by_condition(request)
    return json_response(wire.market(m, _last_prices(venue), venue.winners.get(m.condition_id)))


async def clob_market(request: web.Request) -> web.Response:
    """GET /clob-markets/{condition_id}: the compact V2 market info."""
    return json_response(wire.clob_market(_by_condition(request)))


async def market_by_token(request: web.Request) -> web.Response:
    """GET /markets-by-token/{token_id}: the token's condition id (and its two tokens)."""
    token = _token(request)
    m = _market(_venue(request), token)
    return json_response({"condition_id": m.condition_id, "primary_token_id": m.yes_token,
                          "secondary_token_id": m.no_token})


ROUTES: tuple[tuple[str, str, Any], ...] = (
    ("GET", "/", ok),
    ("GET", "/ok", ok),
    ("GET", "/time", server_time),
    ("GET", "/version", version),
    ("GET", "/book", book),
    ("POST", "/books", books),
    ("GET", "/price", price),
    ("POST", "/prices", prices),
    ("GET", "/midpoint", midpoint),
    ("POST", "/midpoints", midpoints),
    ("GET", "/spread", spread),
    ("POST", "/spreads", spreads),
    ("GET", "/last-trade-price", last_trade_price),
    ("POST", "/last-trades-prices", last_trades_prices),
    ("GET", "/tick-size", tick_size),
    ("GET", "/tick-size/{token_id}", tick_size),
    ("GET", "/neg-risk", neg_risk),
    ("GET", "/fee-rate", fee_rate),
    ("GET", "/fee-rate/{token_id}", fee_rate),
    ("GET", "/markets", markets),
    ("GET", "/sampling-markets", markets),
    ("GET", "/simplified-markets", simplified_markets),
    ("GET", "/sampling-simplified-markets", simplified_markets),
    ("GET", "/markets/{condition_id}", market),
    ("GET", "/clob-markets/{condition_id}", clob_market),
    ("GET", "/markets-by-token/{token_id}", market_by_token),
)
