# Parsing of raw market-channel websocket frames into typed messages (polyarb.core.wire_types).
#
# Rules:
# 1. Pure and total: parse_frame never raises, whatever the bytes or text. Anything malformed
#    becomes a reject `(reason, element_index)`: the index of the bad element in a top-level
#    array, or None when the frame is a single object or unreadable as a whole.
# 2. A frame is decoded once: first by the strict msgspec fast path (polyarb.core.wire_fast),
#    which covers the common shapes and declines anything unusual; a declined frame is parsed
#    here with one orjson.loads (parse_lenient, the reference semantics). Array elements are
#    parsed independently: one bad element never drops its neighbours, and an element is
#    all-or-nothing (a bad entry rejects its whole element).
# 3. Lenient where we do not depend on the data: unknown fields are ignored, optional fields
#    may be missing or null, an unknown `event_type` is counted and skipped (the venue adds event
#    types). Strict where we do: a present field we read must be well-formed, or the element is
#    rejected. We never guess a number.
# 4. Reasons are built only from our own text and the offending value (never from CPython's
#    exception messages), so replay on another Python version reproduces them byte for byte.
# 5. A rejected element that would have changed a book also yields BookUpdateLost for the
#    tokens it names, so their continuity breaks instead of drifting silently.
# 6. Hot paths (book levels, price changes) bind cache lookups locally and build tuples; the
#    numbers module is called only on a cache miss.
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from polyarb.core import numbers as _num
from polyarb.core.numbers import NumberError, show, venue_ts_ns
from polyarb.core.wire_book import BadElement as _Bad
from polyarb.core.wire_book import opt_str as _opt_str
from polyarb.core.wire_book import parse_book, parse_price_change
from polyarb.core.wire_book import token_of as _token
from polyarb.core.wire_fast import parse_fast
from polyarb.core.wire_types import (
    BestBidAsk,
    BookUpdateLost,
    Control,
    LastTradePrice,
    MarketResolved,
    NewMarket,
    ParseResult,
    Reject,
    TickSizeChange,
    WireMessage,
)

CONTROL_TEXTS = frozenset({"PONG", "INVALID OPERATION"})
_SIDES: dict[str, str] = {"BUY": "BUY", "SELL": "SELL", "buy": "BUY", "sell": "SELL"}
_BOOK_CHANGING = frozenset({"book", "price_change", "tick_size_change"})


def parse_frame(frame: Any, text: str | None) -> ParseResult:
    """Parse one market-channel frame. Never raises.

    Args:
        frame: the verbatim JSON bytes (bytes, memoryview or msgspec.Raw), or None/empty.
        text: the frame as text when it was not embeddable JSON (control texts, garbage).

    Returns:
        The messages in frame order, the rejects, and the count of unknown event types.
    """
    if frame is not None and len(frame) > 0:
        messages = parse_fast(frame)  # msgspec reads any buffer (bytes, msgspec.Raw, ...)
        if messages is not None:
            return ParseResult(messages, [])
        source: Any = frame if type(frame) is bytes else memoryview(frame)  # orjson needs this
    elif text is not None:
        stripped = text.strip()
        if stripped in CONTROL_TEXTS:
            return ParseResult([Control(stripped)], [])
        source = text
    else:
        return ParseResult([], [("empty frame", None)])
    return parse_lenient(source)


def parse_lenient(source: bytes | memoryview | str) -> ParseResult:
    """The reference parse of a non-empty frame: one orjson.loads, then element by element.

    parse_frame uses it whenever the fast path (polyarb.core.wire_fast) declines a frame.
    """
    out = ParseResult([], [])
    try:
        data = orjson.loads(source)
    except ValueError:  # orjson.JSONDecodeError, also bad UTF-8 / surrogates
        out.rejects.append((f"not valid JSON: {_head(source)}", None))
        return out
    if type(data) is list:
        for index, element in enumerate(data):
            _parse_element(element, index, out)
    elif type(data) is dict:
        _parse_element(data, None, out)
    else:
        out.rejects.append((f"frame is not a JSON object or array: {show(data)}", None))
    return out


def _head(source: Any) -> str:
    raw = source if isinstance(source, str) else bytes(source).decode("utf-8", "replace")
    return show(raw)


def _parse_element(element: object, index: int | None, out: ParseResult) -> None:
    if type(element) is not dict:
        out.rejects.append((f"element is not a JSON object: {show(element)}", index))
        return
    event_type = element.get("event_type")
    if type(event_type) is not str:
        why = "missing event_type" if event_type is None else "event_type is not a string"
        out.rejects.append((why, index))
        return
    handler = _HANDLERS.get(event_type)
    if handler is None:
        out.unknown += 1
        return
    try:
        out.messages.append(handler(element))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        reason = f"{event_type}: {_reason(exc)}"
        out.rejects.append((reason, index))
        if event_type in _BOOK_CHANGING:
            tokens = _named_tokens(element)
            if tokens:
                out.messages.append(BookUpdateLost(tokens, reason))


def _reason(exc: Exception) -> str:
    if isinstance(exc, NumberError):
        return exc.reason
    if isinstance(exc, _Bad):
        return str(exc.args[0])
    if isinstance(exc, KeyError):
        return f"missing field {show(exc.args[0])}"
    return "wrong field type"  # TypeError/AttributeError/IndexError: a value of the wrong shape


def _named_tokens(element: dict[str, Any]) -> tuple[str, ...]:
    """Best effort: the token ids a (possibly malformed) book-changing element names."""
    found: list[str] = []
    root = element.get("asset_id")
    if type(root) is str and root:
        found.append(root)
    entries = element.get("price_changes")
    if type(entries) is list:
        for entry in entries:
            token = entry.get("asset_id") if type(entry) is dict else None
            if type(token) is str and token and token not in found:
                found.append(token)
    return tuple(found)


def _opt_str_list(d: dict[str, Any], key: str) -> tuple[str, ...]:
    value = d.get(key)
    if value is None:
        return ()
    if type(value) is not list or not all(type(v) is str for v in value):
        raise _Bad(f"{key} is not a list of strings: {show(value)}")
    return tuple(value)


def _opt_tick(value: object) -> int | None:
    if value is None or value == "":
        return None
    tick = _num.level_price_micros(value)  # a tick is a price strictly inside (0, 1)
    return tick


def _tick_size_change(d: dict[str, Any]) -> TickSizeChange:
    new_tick = _num.level_price_micros(d["new_tick_size"])
    old_tick = _opt_tick(d.get("old_tick_size"))
    return TickSizeChange(
        _token(d), _opt_str(d, "market"), old_tick, new_tick, venue_ts_ns(d.get("timestamp"))
    )


def _last_trade_price(d: dict[str, Any]) -> LastTradePrice:
    size = d.get("size")
    side = d.get("side")
    fee = d.get("fee_rate_bps")
    if side is not None and (type(side) is not str or side not in _SIDES):
        raise _Bad(f"bad side: {show(side)}")
    return LastTradePrice(
        _token(d),
        _opt_str(d, "market"),
        _num.level_price_micros(d["price"]),
        None if size is None or size == "" else _num.size_micros(size),
        None if side is None else _SIDES[side],  # type: ignore[arg-type]
        _opt_int(fee, "fee_rate_bps"),
        venue_ts_ns(d.get("timestamp")),
    )


def _opt_int(value: object, key: str) -> int | None:
    if value is None or value == "":  # V2 sends "" for some numeric fields
        return None
    if type(value) is int and value >= 0:
        return value
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    raise _Bad(f"bad {key}: {show(value)}")


def _opt_quote(value: object) -> int | None:
    return None if value is None or value == "" else _num.quote_price_micros(value)


def _best_bid_ask(d: dict[str, Any]) -> BestBidAsk:
    return BestBidAsk(
        _token(d),
        _opt_str(d, "market"),
        _opt_quote(d.get("best_bid")),
        _opt_quote(d.get("best_ask")),
        venue_ts_ns(d.get("timestamp")),
    )


def _market(d: dict[str, Any]) -> str:
    market = d["market"]
    if type(market) is not str or not market:
        raise _Bad(f"bad market: {show(market)}")
    return market


def _new_market(d: dict[str, Any]) -> NewMarket:
    return NewMarket(
        _market(d),
        _opt_str(d, "id"),
        _opt_str(d, "question"),
        _opt_str(d, "slug"),
        _opt_str_list(d, "assets_ids"),
        _opt_str_list(d, "outcomes"),
        _opt_tick(d.get("order_price_min_tick_size")),
        venue_ts_ns(d.get("timestamp")),
    )


def _market_resolved(d: dict[str, Any]) -> MarketResolved:
    return MarketResolved(
        _market(d),
        _opt_str(d, "id"),
        _opt_str_list(d, "assets_ids"),
        _opt_str(d, "winning_asset_id") or None,
        _opt_str(d, "winning_outcome") or None,
        venue_ts_ns(d.get("timestamp")),
    )


_HANDLERS: dict[str, Callable[[dict[str, Any]], WireMessage]] = {
    "book": parse_book,
    "price_change": parse_price_change,
    "tick_size_change": _tick_size_change,
    "last_trade_price": _last_trade_price,
    "best_bid_ask": _best_bid_ask,
    "new_market": _new_market,
    "market_resolved": _market_resolved,
}

__all__ = ["CONTROL_TEXTS", "ParseResult", "Reject", "parse_frame", "parse_lenient"]
