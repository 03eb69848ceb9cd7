# User-channel frames and REST order/trade rows -> OrderUpdated / TradeUpdated, plus the
# (id, status) deduplication shared by the channel and the reconnect sweep.
#
# Rules (protocol reference section 2, pain points 4, 11 and 12 of section 9):
# 1. Pure and lenient: parsing never raises. A frame is one JSON object or an array of them;
#    each element is parsed on its own, unknown fields are ignored, and an element that cannot
#    be understood becomes an `issue` string (the raw frame itself is journaled by the feed, so
#    nothing is lost). PONG is not an issue.
# 2. Prices and sizes become integer micro-units exactly (polyarb.core.numbers; "" counts as 0
#    for size_matched). Timestamps: digits are seconds, ms, us or ns by magnitude; ISO 8601
#    text is accepted too (REST listings use it); a time before 1970 or past 2^63 ns is none.
# 3. A trade is ours as TAKER (top-level side/size/price, order = taker_order_id) or as MAKER
#    (each maker_orders entry whose owner is our API key or whose maker_address is our funder:
#    its own asset_id, side, price and matched_amount; a missing side is derived: opposite of
#    the taker on the same token, the same side across tokens (a mint/merge match)). When two
#    of our maker orders share one trade, each fill gets trade id `<id>#<order id>` so the
#    core's (trade_id, status) dedupe keeps both.
# 4. fee_micros follows polyarb/core/positions.py: a BUY fee in SHARES withheld, a SELL fee in
#    COLLATERAL. The venue reports only fee_rate_bps (the applied rate); the fee is
#    size * bps/1e4 * p * (1 - p) (V2, exponent 1), rounded UP to the 5-decimal grid like
#    polyarb/core/fees.py. An empty or "0" rate means no fee (V2 makers pay none).
# 5. Trade statuses are normalised (`TRADE_STATUS_CONFIRMED` -> CONFIRMED,
#    `MATCHED_NOT_BROADCASTED` -> MATCHED); order statuses are kept verbatim.
# 6. Dedupe keys: a trade fill (trade id, status); an order (id, status, size_matched), because
#    partial fills keep status LIVE and must not be dropped. The memory is bounded (oldest
#    keys forgotten first); the core dedupes again, so forgetting only costs a repeat.
# 7. Our API key is held as its SHA-256 only: the parser's state and repr never contain it.
from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple

import orjson

from polyarb.core.fees import compile_fee
from polyarb.core.numbers import NumberError, parse_micros
from polyarb.events.base import Input
from polyarb.events.inputs import (
    FeeSchedule,
    OrderUpdated,
    OrderUpdateType,
    SettlementStatus,
    Side,
    TradeUpdated,
)

SETTLEMENT: Final[dict[str, SettlementStatus]] = {
    "MATCHED": "MATCHED", "MINED": "MINED", "CONFIRMED": "CONFIRMED", "RETRYING": "RETRYING",
    "FAILED": "FAILED", "MATCHED_NOT_BROADCASTED": "MATCHED",
}
CONTROL_TEXTS: Final = frozenset({"PONG", "PING"})
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_NS: Final = 2**63  # a venue time must fit a signed 64-bit column (DuckDB BIGINT)


class UserIdentity:
    """Who "we" are on the user channel: the API key (hashed, rule 7) and our addresses."""

    __slots__ = ("_key_hash", "addresses")

    def __init__(self, api_key: str, addresses: Iterable[str]) -> None:
        self._key_hash = hashlib.sha256(api_key.encode()).digest()
        self.addresses = frozenset(a.lower() for a in addresses if a)

    def is_ours(self, owner: object, maker_address: object) -> bool:
        """Whether a maker entry belongs to us (owner = our key, or maker = our funder)."""
        if isinstance(maker_address, str) and maker_address.lower() in self.addresses:
            return True
        if not isinstance(owner, str) or not owner:
            return False
        return hmac.compare_digest(hashlib.sha256(owner.encode()).digest(), self._key_hash)

    def __repr__(self) -> str:
        return f"UserIdentity(api_key=<redacted>, addresses={sorted(self.addresses)})"


class Parsed(NamedTuple):
    """What one frame (or REST page) yielded: typed events and the elements refused."""

    events: list[Input]
    issues: list[str]


def to_ns(value: object) -> int | None:
    """Unix time in ns from seconds/ms/us/ns digits (by magnitude) or ISO 8601 text."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 25:
        n = int(value)
    elif isinstance(value, str) and "T" in value and len(value) < 40:
        return _iso_ns(value)
    else:
        return None
    if n <= 0:
        return None
    for limit, scale in ((10**11, 10**9), (10**14, 10**6), (10**17, 10**3)):
        if n < limit:
            return n * scale
    return n if n < _MAX_NS else None


def _iso_ns(text: str) -> int | None:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    delta = stamp - _EPOCH  # exact integer parts: no float on the way
    ns = (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000
    return ns if 0 < ns < _MAX_NS else None  # like digits: before 1970 is no time at all


def _first_ns(obj: dict[str, Any], *names: str) -> int | None:
    for name in names:
        ns = to_ns(obj.get(name))
        if ns is not None:
            return ns
    return None


class _Bad(Exception):
    """Internal: one element refused (turned into an issue, never escapes)."""


def _micros(obj: dict[str, Any], name: str, *, empty_zero: bool = False) -> int:
    value = obj.get(name)
    if empty_zero and value in ("", None):
        return 0
    try:
        return parse_micros(value)
    except NumberError as exc:
        raise _Bad(f"{name}: {exc.reason}") from None


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise _Bad(f"{name} missing")
    return value


def _side(value: object) -> Side:
    if value == "BUY" or value == "SELL":
        return value
    raise _Bad(f"side {value!r:.20}")


def parse_order(obj: dict[str, Any], ts_ns: int) -> OrderUpdated:
    """An `order` event or a /data/orders row as OrderUpdated (raises _Bad)."""
    status = str(obj.get("status") or "")
    kind: OrderUpdateType = "UPDATE"
    given = obj.get("type")
    if given == "PLACEMENT" or given == "UPDATE" or given == "CANCELLATION":
        kind = given
    elif status.upper().startswith("CANCEL"):  # REST rows have no type
        kind = "CANCELLATION"
    return OrderUpdated(
        ts_recv_ns=ts_ns, venue_order_id=_text(obj, "id"), update_type=kind,
        token_id=_text(obj, "asset_id"), side=_side(obj.get("side")),
        price_micros=_micros(obj, "price"), original_size_micros=_micros(obj, "original_size"),
        size_matched_micros=_micros(obj, "size_matched", empty_zero=True), status=status,
        ts_venue_ns=_first_ns(obj, "timestamp", "created_at"))


def fee_micros(side: Side, size_micros: int, price_micros: int, bps: object) -> int:
    """Fee of a fill in positions.py's units (rule 4); raises _Bad on a bad rate."""
    if bps in (None, "", 0, "0"):
        return 0
    text = str(bps)
    if not (text.isascii() and text.isdigit()) or int(text) >= 10_000:
        raise _Bad(f"fee_rate_bps {text!r:.20}")
    model = compile_fee(FeeSchedule(rate=Decimal(int(text)) / 10_000, taker_only=False))
    if side == "BUY":
        return model.buy_fee_shares_micros(size_micros, price_micros)
    return model.fee_micros(size_micros, price_micros)


def _status(obj: dict[str, Any]) -> SettlementStatus:
    word = str(obj.get("status") or "").upper().removeprefix("TRADE_STATUS_")
    status = SETTLEMENT.get(word)
    if status is None:
        raise _Bad(f"trade status {word!r:.30}")
    return status


def _maker_side(entry: dict[str, Any], taker: Side, same_token: bool) -> Side:
    if entry.get("side") in ("BUY", "SELL"):
        return _side(entry.get("side"))
    opposite: Side = "SELL" if taker == "BUY" else "BUY"
    return opposite if same_token else taker


def parse_trade(obj: dict[str, Any], ts_ns: int, me: UserIdentity) -> list[TradeUpdated]:
    """A `trade` event or a /data/trades row as our fills (rule 3; raises _Bad)."""
    trade_id, status = _text(obj, "id"), _status(obj)
    asset, taker_side = _text(obj, "asset_id"), _side(obj.get("side"))
    common: dict[str, Any] = {
        "ts_recv_ns": ts_ns, "status": status,
        "transaction_hash": str(obj.get("transaction_hash") or ""),
        "ts_venue_ns": _first_ns(obj, "timestamp", "last_update", "match_time", "matchtime")}
    entries = obj.get("maker_orders")
    makers = [m for m in (entries if isinstance(entries, list) else []) if isinstance(m, dict)
              and me.is_ours(m.get("owner"), m.get("maker_address"))]
    role = obj.get("trader_side")
    if role == "TAKER" or (role != "MAKER" and not makers):
        price, size = _micros(obj, "price"), _micros(obj, "size")
        return [TradeUpdated(trade_id=trade_id, venue_order_id=_text(obj, "taker_order_id"),
                             token_id=asset, side=taker_side, price_micros=price,
                             size_micros=size, trader_side="TAKER",
                             fee_micros=fee_micros(taker_side, size, price,
                                                   obj.get("fee_rate_bps")), **common)]
    if not makers:
        raise _Bad("MAKER trade without a maker entry of ours")
    out = []
    for m in makers:
        token = str(m.get("asset_id") or asset)
        side = _maker_side(m, taker_side, token == asset)
        price, size = _micros(m, "price"), _micros(m, "matched_amount")
        order_id = _text(m, "order_id")
        out.append(TradeUpdated(
            trade_id=trade_id if len(makers) == 1 else f"{trade_id}#{order_id}",
            venue_order_id=order_id, token_id=token, side=side, price_micros=price,
            size_micros=size, trader_side="MAKER",
            fee_micros=fee_micros(side, size, price, m.get("fee_rate_bps")), **common))
    return out


def parse_element(obj: object, ts_ns: int, me: UserIdentity) -> Parsed:
    """One decoded element: an order or trade event (or REST row) -> events / one issue."""
    if not isinstance(obj, dict):
        return Parsed([], [f"not an object: {type(obj).__name__}"])
    kind = obj.get("event_type")
    try:
        if kind == "order":
            return Parsed([parse_order(obj, ts_ns)], [])
        if kind == "trade":
            return Parsed(list(parse_trade(obj, ts_ns, me)), [])
    except _Bad as exc:
        return Parsed([], [f"{kind}: {exc}"])
    return Parsed([], [f"unknown event_type {str(kind)[:40]!r}"])


def parse_user_frame(data: str | bytes, ts_ns: int, me: UserIdentity) -> Parsed:
    """Parse one received user-channel frame (rule 1)."""
    text = data.strip() if isinstance(data, str) else data.strip().decode("utf-8", "replace")
    if text in CONTROL_TEXTS:
        return Parsed([], [])
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return Parsed([], [f"not JSON: {text[:40]!r}"])
    events: list[Input] = []
    issues: list[str] = []
    for i, element in enumerate(obj if isinstance(obj, list) else [obj]):
        got = parse_element(element, ts_ns, me)
        events += got.events
        issues += [f"[{i}] {issue}" for issue in got.issues]
    return Parsed(events, issues)


def parse_rows(rows: Iterable[object], kind: str, ts_ns: int, me: UserIdentity) -> Parsed:
    """REST rows of /data/orders (kind "order") or /data/trades (kind "trade")."""
    events: list[Input] = []
    issues: list[str] = []
    for i, row in enumerate(rows):
        got = parse_element({**row, "event_type": kind} if isinstance(row, dict) else row,
                            ts_ns, me)
        events += got.events
        issues += [f"row {i}: {issue}" for issue in got.issues]
    return Parsed(events, issues)


def dedupe_key(event: Input) -> tuple[str, ...] | None:
    """The identity of an update for deduplication (rule 6); None: never deduplicated."""
    if isinstance(event, TradeUpdated):
        return ("trade", event.trade_id, event.status)
    if isinstance(event, OrderUpdated):
        return ("order", event.venue_order_id, event.status, str(event.size_matched_micros))
    return None


class Deduper:
    """Drops repeats of (id, status) updates, remembering at most `capacity` keys."""

    __slots__ = ("_seen", "capacity", "dropped")

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, ...], None] = OrderedDict()
        self.dropped = 0

    def fresh(self, events: Iterable[Input]) -> list[Input]:
        """The events not seen before, in order; remembers them."""
        out = []
        for ev in events:
            key = dedupe_key(ev)
            if key is not None:
                if key in self._seen:
                    self.dropped += 1
                    continue
                self._seen[key] = None
                if len(self._seen) > self.capacity:
                    self._seen.popitem(last=False)
            out.append(ev)
        return out
