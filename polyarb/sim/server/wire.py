# The venue's JSON shapes for orders, trades and markets, as plain dicts ready for orjson:
# REST objects (/data/orders, /data/trades, /markets, /clob-markets, order responses) and the
# user channel's `order` and `trade` events, which share the REST field sets.
#
# Rules:
# 1. Prices and sizes are decimal strings (format_micros); a few venue fields are JSON numbers
#    (minimum_tick_size, minimum_order_size, /clob-markets `mts`, `mos`, fee rates): those are
#    written as exact decimal literals with orjson.Fragment, never through a float.
# 2. Times: `created_at`, `match_time`, `last_update` are unix seconds; `timestamp` of a
#    websocket event is milliseconds as a string (protocol reference sections 2, 3).
# 3. A trade is rendered from one owner's point of view: `owner`/`trade_owner` are that API key
#    and `trader_side` says whether it took or made (a maker's fills are in `maker_orders`).
# 4. Pure functions of the records passed in; no state, no clock.
from __future__ import annotations

import hashlib
from typing import Any

import orjson

from polyarb.core.numbers import format_micros
from polyarb.sim.model import MICROS, Market
from polyarb.sim.records import OrderEvent, OrderView, PlaceResult, Trade

_SECOND_NS = 1_000_000_000
_MS_NS = 1_000_000
CANCELED_WITH_REASON = ("FOK", "FAK")


def number(micros: int) -> orjson.Fragment:
    """An exact decimal JSON number (0.01, 5) from micro-units."""
    return orjson.Fragment(format_micros(micros).encode())


def decimal_number(text: str) -> orjson.Fragment:
    """An exact JSON number from a Decimal's text (a fee rate such as 0.07)."""
    return orjson.Fragment(text.encode())


# --- orders --------------------------------------------------------------------------------


def open_order(view: OrderView) -> dict[str, Any]:
    """One /data/orders row (also GET /data/order/{id})."""
    return {
        "id": view.id,
        "status": view.status,
        "owner": view.owner,
        "maker_address": view.maker_address,
        "market": view.market,
        "asset_id": view.asset_id,
        "side": view.side,
        "original_size": format_micros(view.original_size_micros),
        "size_matched": format_micros(view.size_matched_micros),
        "price": format_micros(view.price_micros),
        "associate_trades": list(view.associate_trades),
        "outcome": view.outcome,
        "created_at": view.created_at_ns // _SECOND_NS,
        "expiration": str(view.expiration_s),
        "order_type": view.order_type,
    }


def order_event(event: OrderEvent) -> dict[str, Any]:
    """The user channel `order` event. A killed FOK/FAK carries its reason in the status, as
    the venue's `CANCELED_order couldn't be fully filled...` does."""
    v = event.order
    status: str = v.status
    if event.type == "CANCELLATION" and event.reason and v.order_type in CANCELED_WITH_REASON:
        status = f"{v.status}_{event.reason}"
    return {
        "event_type": "order",
        "type": event.type,
        "id": v.id,
        "market": v.market,
        "asset_id": v.asset_id,
        "side": v.side,
        "price": format_micros(v.price_micros),
        "original_size": format_micros(v.original_size_micros),
        "size_matched": format_micros(v.size_matched_micros),
        "outcome": v.outcome,
        "owner": v.owner,
        "order_owner": v.owner,
        "maker_address": v.maker_address,
        "order_type": v.order_type,
        "status": status,
        "created_at": str(v.created_at_ns // _SECOND_NS),
        "expiration": str(v.expiration_s),
        "associate_trades": list(v.associate_trades) or None,
        "timestamp": str(event.ts_ns // _MS_NS),
    }


def place_response(result: PlaceResult) -> dict[str, Any]:
    """One POST /order(s) result: success with status and amounts, or the error message."""
    if not result.success:
        return {"success": False, "errorMsg": result.error_msg, "orderID": result.order_id,
                "status": "", "makingAmount": "", "takingAmount": "",
                "transactionsHashes": [], "tradeIDs": []}
    return {
        "success": True,
        "errorMsg": "",
        "orderID": result.order_id,
        "status": result.status,
        "makingAmount": format_micros(result.making_amount_micros),
        "takingAmount": format_micros(result.taking_amount_micros),
        "transactionsHashes": [],
        "tradeIDs": list(result.trade_ids),
    }


def rejected_entry(message: str) -> dict[str, Any]:
    """A batch entry refused before it reached the exchange (bad payload, auth, signature)."""
    return {"success": False, "errorMsg": message, "orderID": "", "status": "",
            "makingAmount": "", "takingAmount": "", "transactionsHashes": [], "tradeIDs": []}


# --- trades --------------------------------------------------------------------------------


def trade(t: Trade, viewer: str) -> dict[str, Any]:
    """A /data/trades row for `viewer` (an API key taking part in the trade)."""
    return {
        "id": t.id,
        "taker_order_id": t.taker_order_id,
        "market": t.market,
        "asset_id": t.asset_id,
        "side": t.side,
        "size": format_micros(t.size_micros),
        "fee_rate_bps": str(t.fee_rate_bps),
        "price": format_micros(t.price_micros),
        "status": t.status,
        "match_time": str(t.match_time_ns // _SECOND_NS),
        "last_update": str(t.last_update_ns // _SECOND_NS),
        "outcome": t.outcome,
        "bucket_index": t.bucket_index,
        "owner": viewer,
        "maker_address": t.maker_address,
        "transaction_hash": t.transaction_hash,
        "trader_side": t.trader_side(viewer),
        "maker_orders": [
            {"order_id": m.order_id, "owner": m.owner, "maker_address": m.maker_address,
             "matched_amount": format_micros(m.matched_amount_micros),
             "price": format_micros(m.price_micros), "fee_rate_bps": str(m.fee_rate_bps),
             "asset_id": m.asset_id, "outcome": m.outcome, "side": m.side}
            for m in t.maker_orders
        ],
    }


def trade_event(t: Trade, viewer: str, ts_ns: int) -> dict[str, Any]:
    """The user channel `trade` event for `viewer`."""
    body = trade(t, viewer)
    return {"event_type": "trade", "type": "TRADE", **body, "trade_owner": viewer,
            "timestamp": str(ts_ns // _MS_NS)}


# --- markets -------------------------------------------------------------------------------


def _token_price(market: Market, token: str, last: dict[str, int]) -> orjson.Fragment:
    price = last.get(token)
    if price is None:  # no trade yet: the YES-space mid, mirrored for NO
        bid, ask = market.book.best_bid(), market.book.best_ask()
        mid = (bid + ask) // 2
        price = mid if token == market.yes_token else MICROS - mid
    return number(price)


def market(m: Market, last: dict[str, int], winner: str | None) -> dict[str, Any]:
    """The CLOB market object of /markets and /markets/{condition_id} (reference 6.1)."""
    tokens = [
        {"token_id": t, "outcome": m.outcome(t), "price": _token_price(m, t, last),
         "winner": winner == t}
        for t in (m.yes_token, m.no_token)
    ]
    return {
        "enable_order_book": True,
        "active": not m.closed,
        "closed": m.closed,
        "archived": False,
        "accepting_orders": m.accepting_orders,
        "accepting_order_timestamp": None,
        "minimum_order_size": number(m.min_size_micros),
        "minimum_tick_size": number(m.tick_micros),
        "condition_id": m.condition_id,
        "question_id": "0x" + hashlib.sha256(m.condition_id.encode()).hexdigest(),
        "question": m.question,
        "description": "",
        "market_slug": m.slug,
        "end_date_iso": None,
        "game_start_time": None,
        "seconds_delay": m.match_delay_ns // _SECOND_NS,
        "fpmm": "",
        "maker_base_fee": 0,
        "taker_base_fee": m.fee_rate_bps,
        "notifications_enabled": True,
        "neg_risk": m.neg_risk,
        "neg_risk_market_id": m.neg_risk_market_id or "",
        "neg_risk_request_id": "",
        "icon": "",
        "image": "",
        "rewards": {"rates": None, "min_size": 0, "max_spread": 0},
        "is_50_50_outcome": False,
        "tokens": tokens,
        "tags": [],
    }


def simplified_market(m: Market, last: dict[str, int], winner: str | None) -> dict[str, Any]:
    """The /simplified-markets row."""
    full = market(m, last, winner)
    keys = ("condition_id", "rewards", "tokens", "active", "closed", "archived",
            "accepting_orders")
    return {k: full[k] for k in keys}


def clob_market(m: Market) -> dict[str, Any]:
    """The compact /clob-markets/{condition_id} object (reference 6.2) the V2 SDKs cache."""
    out: dict[str, Any] = {
        "c": m.condition_id,
        "t": [{"t": m.yes_token, "o": m.yes_outcome}, {"t": m.no_token, "o": m.no_outcome}],
        "mts": number(m.tick_micros),
        "mos": number(m.min_size_micros),
        "mbf": 0,
        "tbf": m.fee_rate_bps,
        "ao": m.accepting_orders,
        "sd": m.match_delay_ns // _SECOND_NS,
        "cbos": False,
        "r": None,
    }
    if m.neg_risk:
        out["nr"] = True
    if m.fees.rate:
        out["fd"] = {"r": decimal_number(format(m.fees.rate, "f")), "e": m.fees.exponent,
                     "to": m.fees.taker_only}
    return out
