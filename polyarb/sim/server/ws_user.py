# The user channel (/ws/user): raw-credential authentication and the per-API-key delivery of
# `order` and `trade` events.
#
# Rules (protocol reference section 2):
# 1. The first frame authenticates: {"type": "user", "auth": {"apiKey", "secret",
#    "passphrase"}, "markets": [condition ids]}. The three credentials must be a registered
#    key's, else the socket is closed (policy violation, `Unauthorized/Invalid api key`).
#    An empty or missing `markets` list means every market (the venue's rule is unconfirmed).
# 2. {"operation": "subscribe" | "unsubscribe", "markets": [...]} changes the market filter;
#    a second auth frame or a bad shape gets `INVALID OPERATION`.
# 3. Events are delivered only to connections of the API key they concern: an order event to
#    its owner, a trade event to its taker and each maker, rendered from that key's side.
# 4. Unsubscribing every market leaves an empty filter, which means everything again; that
#    matches the venue only as far as its (unconfirmed) empty-list rule goes.
from __future__ import annotations

from typing import Any

import orjson

from polyarb.sim import OrderEvent, TradeEvent
from polyarb.sim.server import wire
from polyarb.sim.server.auth import KeyStore
from polyarb.sim.server.outbox import Outbox
from polyarb.sim.server.sockets import INVALID_OPERATION


class UserConn:
    """One user-channel connection: its outbox, API key and market filter."""

    __slots__ = ("markets", "outbox", "owner")

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.owner: str | None = None
        self.markets: dict[str, None] = {}

    def subscribed(self) -> bool:
        """Whether the connection has authenticated."""
        return self.owner is not None

    def wants(self, market: str) -> bool:
        """Whether an event of this market passes the filter (rule 1)."""
        return not self.markets or market in self.markets


class UserHub:
    """Authenticated user connections by API key, and their event delivery."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self.by_owner: dict[str, dict[UserConn, None]] = {}

    def on_text(self, conn: UserConn, text: str) -> bool:
        """Handle one inbound frame; False means close the socket (failed auth)."""
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.outbox.push_control(INVALID_OPERATION)
            return True
        for frame in obj if isinstance(obj, list) else [obj]:
            verdict = self._frame(conn, frame)
            if verdict is None:
                conn.outbox.push_control(INVALID_OPERATION)
            elif not verdict:
                return False
        return True

    def _frame(self, conn: UserConn, frame: Any) -> bool | None:
        if not isinstance(frame, dict):
            return None
        markets = frame.get("markets") or []
        if not isinstance(markets, list) or not all(isinstance(m, str) for m in markets):
            return None
        op = frame.get("operation")
        if op is None:
            if conn.owner is not None:
                return None
            return self._auth(conn, frame.get("auth"), markets)
        if conn.owner is None or op not in ("subscribe", "unsubscribe"):
            return None
        for market in markets:
            if op == "subscribe":
                conn.markets[market] = None
            else:
                conn.markets.pop(market, None)
        return True

    def _auth(self, conn: UserConn, auth: Any, markets: list[str]) -> bool:
        if not isinstance(auth, dict):
            return False
        key = auth.get("apiKey")
        if not self.keys.check_raw(key, auth.get("secret"), auth.get("passphrase")):
            return False
        conn.owner = str(key)
        conn.markets = dict.fromkeys(markets)
        self.by_owner.setdefault(conn.owner, {})[conn] = None
        return True

    def drop(self, conn: UserConn) -> None:
        """Forget a closed connection."""
        if conn.owner is not None:
            conns = self.by_owner.get(conn.owner)
            if conns is not None:
                conns.pop(conn, None)
                if not conns:
                    del self.by_owner[conn.owner]

    # --- outbound --------------------------------------------------------------------------

    def order(self, ev: OrderEvent) -> None:
        """Deliver an `order` event to its owner's connections."""
        conns = self.by_owner.get(ev.order.owner)
        if conns:
            frame = orjson.dumps(wire.order_event(ev))
            for conn in conns:
                if conn.wants(ev.order.market):
                    conn.outbox.push(frame)

    def trade(self, ev: TradeEvent) -> None:
        """Deliver a `trade` event to every API key taking part, each from its own side."""
        t = ev.trade
        for owner in t.owners():
            conns = self.by_owner.get(owner)
            if conns:
                frame = orjson.dumps(wire.trade_event(t, owner, ev.ts_ns))
                for conn in conns:
                    if conn.wants(t.market):
                        conn.outbox.push(frame)
