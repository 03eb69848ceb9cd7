# The market channel (/ws/market): subscriptions and the fan-out of book data to subscribers.
#
# Rules (protocol reference section 1):
# 1. The first frame subscribes: {"assets_ids": [...], "type": "market", "initial_dump": true,
#    "custom_feature_enabled": bool}. Later changes use {"operation": "subscribe" |
#    "unsubscribe", "assets_ids": [...]}; a second initial frame, a bad shape or non-JSON gets
#    the plain text `INVALID OPERATION`. Inbound frames may be one object or an array.
# 2. Subscribing pushes one array frame holding a `book` snapshot per newly subscribed known
#    asset (unless initial_dump is false). An already subscribed asset gets none ("duplicate"),
#    but custom_feature_enabled is applied first, as on the venue. More than
#    max_assets_per_conn assets silently mutes the connection, as the venue does at 500.
# 3. price_change frames are rendered once per event: both tokens' entries for a client
#    subscribed to both, else only the entries of the token it follows. A trade also sends a
#    `book` snapshot per token afterwards. last_trade_price and tick_size_change go to the
#    asset's subscribers.
# 4. Custom features (per connection): best_bid_ask when a token's top of book changes, and
#    new_market / market_resolved to every custom-feature connection (not filtered by asset).
from __future__ import annotations

from typing import Any

import orjson

from polyarb.core.numbers import format_micros
from polyarb.sim import Exchange, LastTradePrice, MarketStatusChange, PriceChange, TickSizeChange
from polyarb.sim.model import Market
from polyarb.sim.records import LevelChange
from polyarb.sim.server.outbox import Outbox
from polyarb.sim.server.sockets import INVALID_OPERATION

_MS = 1_000_000
_PRICE: dict[int, str] = {}


def _p(micros: int) -> str:
    text = _PRICE.get(micros)
    if text is None:
        text = _PRICE[micros] = format_micros(micros)
    return text


class MarketConn:
    """One market-channel connection: its outbox and subscriptions."""

    __slots__ = ("assets", "custom", "initialized", "muted", "outbox")

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.assets: dict[str, None] = {}
        self.custom = False
        self.initialized = False
        self.muted = False

    def subscribed(self) -> bool:
        """Whether the connection has sent its subscription."""
        return self.initialized


class MarketHub:
    """Subscribers by asset and the market-data fan-out."""

    def __init__(self, exchange: Exchange, max_assets: int) -> None:
        self.exchange = exchange
        self.max_assets = max_assets
        self.subs: dict[str, dict[MarketConn, None]] = {}
        self.custom_subs: dict[str, dict[MarketConn, None]] = {}
        self.conns: dict[MarketConn, None] = {}
        self.top: dict[str, tuple[int, int]] = {}
        self.books_due: dict[str, tuple[Market, int]] = {}  # snapshots after this batch

    # --- inbound ---------------------------------------------------------------------------

    def on_text(self, conn: MarketConn, text: str, now_ns: int) -> bool:
        """Handle one inbound text frame (rule 1). Always keeps the connection."""
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.outbox.push_control(INVALID_OPERATION)
            return True
        for frame in obj if isinstance(obj, list) else [obj]:
            if not self._frame(conn, frame, now_ns):
                conn.outbox.push_control(INVALID_OPERATION)
        return True

    def _frame(self, conn: MarketConn, frame: Any, now_ns: int) -> bool:
        if not isinstance(frame, dict):
            return False
        ids = frame.get("assets_ids", [])
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return False
        custom = frame.get("custom_feature_enabled")
        op = frame.get("operation")
        if op is None:
            kind = frame.get("type", "market")
            if conn.initialized or not isinstance(kind, str) or kind.lower() != "market":
                return False
            conn.initialized = True
            dump = frame.get("initial_dump", True) is not False
            self.subscribe(conn, ids, custom is True, dump, now_ns)
            return True
        if op == "subscribe":
            conn.initialized = True
            flag = conn.custom if custom is None else custom is True
            self.subscribe(conn, ids, flag, frame.get("initial_dump", True) is not False, now_ns)
            return True
        if op == "unsubscribe":
            self.unsubscribe(conn, ids)
            return True
        return False

    def subscribe(self, conn: MarketConn, ids: list[str], custom: bool, dump: bool,
                  now_ns: int) -> None:
        """Add assets (rule 2) and push the snapshot of the new ones."""
        self._set_custom(conn, custom)
        if conn.muted:  # stays muted: nothing more is recorded (bounded memory)
            return
        new = [i for i in dict.fromkeys(ids) if i not in conn.assets]
        for token in new:
            conn.assets[token] = None
        if len(conn.assets) > self.max_assets:
            self.mute(conn)
            return
        for token in new:
            self.subs.setdefault(token, {})[conn] = None
            if conn.custom:
                self.custom_subs.setdefault(token, {})[conn] = None
        known = [t for t in new if t in self.exchange.markets.by_token]
        if dump and known:
            conn.outbox.push(orjson.dumps([self.exchange.book_ws(t, now_ns) for t in known]))

    def unsubscribe(self, conn: MarketConn, ids: list[str]) -> None:
        """Remove assets; unknown or unsubscribed ids are ignored."""
        for token in ids:
            if token in conn.assets:
                del conn.assets[token]
                _discard(self.subs, token, conn)
                _discard(self.custom_subs, token, conn)

    def mute(self, conn: MarketConn) -> None:
        """Stop delivering anything to a connection (rule 2's limit)."""
        conn.muted = True
        for token in conn.assets:
            _discard(self.subs, token, conn)
            _discard(self.custom_subs, token, conn)

    def _set_custom(self, conn: MarketConn, custom: bool) -> None:
        if custom == conn.custom:
            return
        conn.custom = custom
        for token in conn.assets if not conn.muted else ():
            if custom:
                self.custom_subs.setdefault(token, {})[conn] = None
            else:
                _discard(self.custom_subs, token, conn)

    def drop(self, conn: MarketConn) -> None:
        """Forget a closed connection."""
        self.mute(conn)
        self.conns.pop(conn, None)

    # --- outbound --------------------------------------------------------------------------

    def price_change(self, ev: PriceChange) -> None:
        """Fan out one price_change (rule 3) and its custom best_bid_ask (rule 4)."""
        m = self.exchange.markets.by_id[ev.market]
        changes = ev.changes
        half = len(changes) // 2
        yes_c = self.subs.get(m.yes_token)
        no_c = self.subs.get(m.no_token)
        if yes_c:
            both = yes_only = None
            for conn in yes_c:
                if no_c is not None and conn in no_c:
                    both = both or _price_change(ev, changes)
                    conn.outbox.push(both)
                else:
                    yes_only = yes_only or _price_change(ev, changes[:half])
                    conn.outbox.push(yes_only)
        if no_c:
            no_only = None
            for conn in no_c:
                if yes_c is None or conn not in yes_c:
                    no_only = no_only or _price_change(ev, changes[half:])
                    conn.outbox.push(no_only)
        # after the price_change: a best_bid_ask announces the top the client's book now has
        self._top(m.yes_token, changes[0], ev)
        self._top(m.no_token, changes[half], ev)
        if ev.trade:  # sent by flush_books once the batch is out: the book renders its end
            self.books_due[m.condition_id] = (m, ev.ts_ns)

    def flush_books(self) -> None:
        """Send the post-trade `book` snapshots of the batch just published."""
        due, self.books_due = self.books_due, {}
        for m, ts_ns in due.values():
            self._books(m, ts_ns)

    def _books(self, m: Market, now_ns: int) -> None:
        for token in (m.yes_token, m.no_token):
            conns = self.subs.get(token)
            if conns:
                frame = orjson.dumps(self.exchange.book_ws(token, now_ns))
                for conn in conns:
                    conn.outbox.push(frame)

    def _top(self, token: str, change: LevelChange, ev: PriceChange) -> None:
        top = (change.best_bid_micros, change.best_ask_micros)
        if self.top.get(token) == top:
            return
        self.top[token] = top
        conns = self.custom_subs.get(token)
        if conns:
            frame = orjson.dumps({
                "event_type": "best_bid_ask", "market": ev.market, "asset_id": token,
                "best_bid": _p(top[0]), "best_ask": _p(top[1]),
                "spread": format_micros(top[1] - top[0]), "timestamp": str(ev.ts_ns // _MS)})
            for conn in conns:
                conn.outbox.push(frame)

    def last_trade(self, ev: LastTradePrice) -> None:
        """Fan out last_trade_price to the asset's subscribers."""
        conns = self.subs.get(ev.asset_id)
        if conns:
            frame = orjson.dumps({
                "event_type": "last_trade_price", "asset_id": ev.asset_id, "market": ev.market,
                "price": _p(ev.price_micros), "side": ev.side,
                "size": format_micros(ev.size_micros), "fee_rate_bps": str(ev.fee_rate_bps),
                "timestamp": str(ev.ts_ns // _MS)})
            for conn in conns:
                conn.outbox.push(frame)

    def tick_size(self, ev: TickSizeChange) -> None:
        """Fan out tick_size_change to the asset's subscribers."""
        conns = self.subs.get(ev.asset_id)
        if conns:
            frame = orjson.dumps({
                "event_type": "tick_size_change", "asset_id": ev.asset_id, "market": ev.market,
                "old_tick_size": _p(ev.old_tick_micros), "new_tick_size": _p(ev.new_tick_micros),
                "timestamp": str(ev.ts_ns // _MS)})
            for conn in conns:
                conn.outbox.push(frame)

    def announce(self, m: Market, number: int, now_ns: int, *,
                 ev: MarketStatusChange | None = None, winner: str | None = None) -> None:
        """new_market (ev None) or market_resolved to every custom-feature connection."""
        targets = [c for c in self.conns if c.custom and not c.muted]
        if not targets:
            return
        body = _market_event(m, number, now_ns)
        if ev is not None:
            body["event_type"] = "market_resolved"
            body["winning_asset_id"] = winner or ""
            body["winning_outcome"] = m.outcome(winner) if winner else ""
        frame = orjson.dumps(body)
        for conn in targets:
            conn.outbox.push(frame)


def _discard(index: dict[str, dict[MarketConn, None]], token: str, conn: MarketConn) -> None:
    conns = index.get(token)
    if conns is not None:
        conns.pop(conn, None)
        if not conns:
            del index[token]


def _price_change(ev: PriceChange, changes: tuple[LevelChange, ...]) -> bytes:
    return orjson.dumps({
        "event_type": "price_change",
        "market": ev.market,
        "price_changes": [
            {"asset_id": c.asset_id, "price": _p(c.price_micros),
             "size": format_micros(c.size_micros), "side": c.side, "hash": c.order_id[2:42],
             "best_bid": _p(c.best_bid_micros), "best_ask": _p(c.best_ask_micros)}
            for c in changes
        ],
        "timestamp": str(ev.ts_ns // _MS),
    })


def _market_event(m: Market, number: int, now_ns: int) -> dict[str, Any]:
    group = m.neg_risk_market_id or m.condition_id
    return {
        "event_type": "new_market",
        "id": str(number),
        "question": m.question,
        "market": m.condition_id,
        "slug": m.slug,
        "description": "",
        "assets_ids": [m.yes_token, m.no_token],
        "outcomes": [m.yes_outcome, m.no_outcome],
        "event_message": {"id": group, "ticker": m.slug, "slug": m.slug, "title": m.question,
                          "description": ""},
        "timestamp": str(now_ns // _MS),
        "tags": [],
        "condition_id": m.condition_id,
        "active": not m.closed,
        "clob_token_ids": [m.yes_token, m.no_token],
        "order_price_min_tick_size": _p(m.tick_micros),
        "group_item_title": m.question,
    }
