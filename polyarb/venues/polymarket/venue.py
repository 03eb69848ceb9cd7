# PolymarketVenue: the live implementation of polyarb.venues.base.Venue over ClobClient, plus
# the Heartbeater task that keeps the venue's dead-man switch fed while orders rest.
#
# Rules:
# 1. place() signs every intent (OrderBuilder, exact amounts from micro-units; tick and
#    neg-risk per intent), posts at most 15 per request and returns one event per intent in
#    intent order. An intent that cannot be signed (off-grid price, bad size, unsupported
#    version) is OrderRejected "not sent: ..." (reason_code `invalid`) without any request.
# 2. Market BUYs (FOK/FAK) must sign whole-cent collateral (reference 3.3: maker <= 2
#    decimals, taker <= 4). When size * price is not whole cents the collateral is rounded
#    DOWN to the cent and the shares follow as the official client computes them
#    (market_amounts, taker floored at 4 decimals): never more money or shares than the engine
#    decided, at most 0.01/price shares fewer. The implied price maker/taker is then at least
#    the limit and above it by less than one 0.0001-share step, so the venue's tick flooring of
#    a market BUY's price lands on the limit itself. A market BUY worth under one cent is
#    refused locally. The placement reply's amounts report what was signed and matched.
# 3. The client id <-> venue id map is kept here. The order hash is known before sending, so
#    even an order whose outcome is unknown can be cancelled and recognised; an accepted
#    order's id is the venue's orderID. `remember` re-seeds the map after a restart.
# 4. Reads (open_orders, trades) journal every page verbatim (RestSnapshot) before the typed
#    events parsed from it (user_parse.py, same parser as the user channel). Rows that cannot
#    be parsed are logged and counted in `parse_issues`, never silently dropped: their page is
#    in the journal.
# 5. Heartbeats chain the previous heartbeat_id (empty after a failure). The Heartbeater only
#    beats while `active()` says orders rest; the venue cancels everything ~10 s after the last.
# 6. order_version_mismatch: the venue said no, so nothing was placed. The venue re-reads
#    /version; if the venue still speaks version 2 the rejected orders are re-signed (fresh
#    salt and timestamp, so a new order hash) and sent ONCE more; otherwise they stay rejected
#    and every later order is refused locally until the process is upgraded (this client signs
#    V2 only). Nothing is ever sent twice without the venue having refused the first.
from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from polyarb.events.base import Input
from polyarb.events.decisions import OrderIntent, PlaceOrders, Unwind
from polyarb.events.inputs import CancelFailed, HeartbeatResult, OrderAccepted, OrderRejected
from polyarb.venues.base import Venue
from polyarb.venues.polymarket import amounts as am
from polyarb.venues.polymarket.clob import ClobClient, ClobError
from polyarb.venues.polymarket.order_builder import (
    MAX_BATCH,
    OrderBuilder,
    OrderFormatError,
    SignedOrder,
    order_body,
)
from polyarb.venues.polymarket.outcomes import (
    SentOrder,
    cancel_events,
    heartbeat_result,
    is_version_mismatch,
    place_events,
)
from polyarb.venues.polymarket.user_parse import UserIdentity, parse_rows

log = logging.getLogger(__name__)

SIGNED_VERSION: Final = 2
MAX_CANCEL_IDS: Final = 3_000
_CENT: Final = 10_000  # micro-units of collateral in one cent
GTD_SECURITY_S: Final = 60  # the venue ignores the first minute of a GTD lifetime


def random_salt() -> int:
    """A fresh order salt below 2**53 (the backend parses salts as doubles)."""
    return secrets.randbits(53)


def _plain(order_id: object) -> bool:
    """A venue order id we can put in a signed body (printable ASCII, no quote)."""
    return (isinstance(order_id, str) and 0 < len(order_id) <= 200 and order_id.isascii()
            and order_id.isprintable() and "'" not in order_id)


def intent_amounts(intent: OrderIntent) -> am.OrderAmounts:
    """Signed amounts of an intent (rules 1-2).

    Raises:
        AmountError: price off the tick grid or out of range, size not on the 0.01 grid, or a
            market BUY worth less than one cent.
    """
    limit = am.limit_amounts_micros(intent.side, intent.price_micros, intent.size_micros,
                                    intent.tick_size_micros)
    if intent.side != "BUY" or intent.order_type not in ("FOK", "FAK"):
        return limit
    if limit.maker_amount % _CENT == 0:
        return limit  # whole cents already: maker 2 decimals, taker = size (2 decimals)
    cents = limit.maker_amount - limit.maker_amount % _CENT
    return am.market_amounts_micros("BUY", cents, intent.price_micros, intent.tick_size_micros,
                                    max_taker_decimals=4)


class PolymarketVenue:
    """Venue over the live CLOB (or the simulator) through a ClobClient (rules 1-6)."""

    name = "polymarket"

    def __init__(self, client: ClobClient, *, salt: Callable[[], int] = random_salt,
                 gtd_ttl_s: int = 300, post_only: bool = False) -> None:
        self.client = client
        self.clock_ns = client.clock_ns
        self._salt = salt
        self.gtd_ttl_s = gtd_ttl_s
        self.post_only = post_only
        self._builder = OrderBuilder.from_credentials(client.credentials, client.chain_id)
        self._venue_of: dict[str, str] = {}
        self._client_of: dict[str, str] = {}
        self._heartbeat_id = ""
        self.blocked_version: int | None = None
        self.resent = 0
        self.parse_issues = 0

    # --- ids -------------------------------------------------------------------------------

    def remember(self, client_order_id: str, venue_order_id: str) -> None:
        """Map a client id to its venue id (newest wins; rule 3)."""
        old = self._venue_of.get(client_order_id)
        if old is not None and old != venue_order_id:
            self._client_of.pop(old, None)
        self._venue_of[client_order_id] = venue_order_id
        self._client_of[venue_order_id] = client_order_id

    def venue_order_id(self, client_order_id: str) -> str | None:
        """The venue id (or signed order hash) of a client id, if this venue sent it."""
        return self._venue_of.get(client_order_id)

    def client_order_id(self, venue_order_id: str) -> str | None:
        """The client id of a venue id, if known."""
        return self._client_of.get(venue_order_id)

    def identity(self) -> UserIdentity:
        """Our API key (hashed) and addresses, to recognise our maker fills."""
        creds = self.client.credentials
        return UserIdentity(creds.require_api().api_key.reveal(), (creds.maker, creds.address))

    # --- orders ----------------------------------------------------------------------------

    async def place(self, batch: PlaceOrders | Unwind) -> list[Input]:
        """Sign and send the batch's orders; one result event per order (rule 1)."""
        intents = list(batch.orders)
        out: list[Input] = []
        for i in range(0, len(intents), MAX_BATCH):
            out += await self._place_chunk(intents[i:i + MAX_BATCH], resign=True)
        return out

    def _reject(self, intent: OrderIntent, reason: str) -> OrderRejected:
        return OrderRejected(ts_recv_ns=self.clock_ns(), client_order_id=intent.client_order_id,
                             reason=f"not sent: {reason}", reason_code="invalid")

    def _sign(self, intent: OrderIntent) -> tuple[SignedOrder, str] | OrderRejected:
        if self.blocked_version is not None:
            return self._reject(intent, f"venue order version {self.blocked_version}; this "
                                f"client signs version {SIGNED_VERSION} only")
        now_ns = self.clock_ns()
        gtd = intent.order_type == "GTD"
        try:
            signed = self._builder.build(
                intent.token_id, intent_amounts(intent), neg_risk=intent.neg_risk,
                salt=self._salt(), timestamp_ms=now_ns // 1_000_000,
                expiration=now_ns // 1_000_000_000 + GTD_SECURITY_S + self.gtd_ttl_s if gtd
                else 0)
            post_only = self.post_only and intent.order_type in ("GTC", "GTD")
            body = order_body(signed, self.client.api.api_key.reveal(), intent.order_type,
                              post_only=post_only)
        except (am.AmountError, OrderFormatError) as exc:
            return self._reject(intent, str(exc))
        return signed, body

    async def _place_chunk(self, intents: Sequence[OrderIntent], *, resign: bool) -> list[Input]:
        results: list[Input | None] = [None] * len(intents)
        sendable: list[tuple[int, SignedOrder, str]] = []
        for i, intent in enumerate(intents):
            got = self._sign(intent)
            if isinstance(got, OrderRejected):
                results[i] = got
            else:
                sendable.append((i, *got))
        if sendable:
            sent = [SentOrder(intents[i].client_order_id, s.order_hash) for i, s, _ in sendable]
            events = await self._send(sent, [body for _, _, body in sendable])
            if resign:
                events = await self._after_mismatch([intents[i] for i, _, _ in sendable], events)
            for (i, _, _), event in zip(sendable, events, strict=True):
                results[i] = event
        return [r for r in results if r is not None]

    async def _send(self, sent: list[SentOrder], bodies: list[str]) -> list[Input]:
        for s in sent:
            self.remember(s.client_order_id, s.order_hash)
        if len(bodies) == 1:
            reply = await self.client.post_order(bodies[0])
        else:
            reply = await self.client.post_orders("[" + ",".join(bodies) + "]")
        events = place_events(sent, reply, self.clock_ns(), self.client.redact,
                              batch=len(bodies) > 1)
        for event in events:
            if isinstance(event, OrderAccepted):
                self.remember(event.client_order_id, event.venue_order_id)
        return events

    async def _after_mismatch(self, intents: list[OrderIntent],
                              events: list[Input]) -> list[Input]:
        """Rule 6: re-read /version, re-sign once if it is still ours."""
        mismatched = [k for k, ev in enumerate(events) if is_version_mismatch(ev)]
        if not mismatched:
            return events
        try:
            version: int | None = await self.client.version()
        except ClobError as exc:
            log.warning("order_version_mismatch and GET /version failed: %s", exc)
            version = None
        if version == SIGNED_VERSION:
            self.resent += len(mismatched)
            again = await self._place_chunk([intents[k] for k in mismatched], resign=False)
            for k, event in zip(mismatched, again, strict=True):
                events[k] = event
            return events
        if version is not None:
            self.blocked_version = version
        for k in mismatched:
            ev = events[k]
            assert isinstance(ev, OrderRejected)
            events[k] = OrderRejected(
                ts_recv_ns=ev.ts_recv_ns, client_order_id=ev.client_order_id,
                http_status=ev.http_status, reason_code=ev.reason_code,
                reason=f"{ev.reason}; venue order version "
                f"{version if version is not None else 'unreadable'}, not re-sent")
        return events

    # --- cancels ---------------------------------------------------------------------------

    async def cancel(self, client_order_ids: Sequence[str] = (), *,
                     venue_order_ids: Sequence[str] = ()) -> list[Input]:
        """Cancel by client id and/or venue id; OrderCancelled / CancelFailed per order."""
        out: list[Input] = []
        ids: list[str] = []
        for cid in client_order_ids:
            vid = self._venue_of.get(cid)
            if vid is None:
                out.append(CancelFailed(ts_recv_ns=self.clock_ns(), venue_order_id="",
                                        reason=f"not sent: unknown client order id {cid}"))
            else:
                ids.append(vid)
        for vid in venue_order_ids:
            if _plain(vid):
                ids.append(vid)
            else:
                out.append(CancelFailed(ts_recv_ns=self.clock_ns(), venue_order_id="",
                                        reason="not sent: malformed venue order id"))
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), MAX_CANCEL_IDS):
            chunk = ids[i:i + MAX_CANCEL_IDS]
            reply = await self.client.cancel(chunk)
            out += cancel_events(chunk, reply, self._client_of, self.clock_ns(),
                                 self.client.redact)
        return out

    async def cancel_all(self) -> list[Input]:
        """DELETE /cancel-all; a failed call is CancelFailed for venue id "*"."""
        reply = await self.client.cancel_all()
        return cancel_events([], reply, self._client_of, self.clock_ns(), self.client.redact)

    # --- reads -----------------------------------------------------------------------------

    def _rows(self, pages: list[tuple[Any, list[Any]]], kind: str) -> list[Input]:
        me = self.identity()
        out: list[Input] = []
        for snap, rows in pages:
            parsed = parse_rows(rows, kind, snap.ts_recv_ns, me)
            out.append(snap)
            out += parsed.events
            for issue in parsed.issues:
                self.parse_issues += 1
                log.warning("%s %s: %s", snap.endpoint, snap.params, issue)
        return out

    async def open_orders(self) -> list[Input]:
        """/data/orders pages and an OrderUpdated per open order (rule 4)."""
        return self._rows(await self.client.pages("/data/orders"), "order")

    async def trades(self, after_s: int | None = None) -> list[Input]:
        """/data/trades pages (match time after `after_s`) and our fills (rule 4)."""
        params = {"after": str(after_s)} if after_s is not None else None
        return self._rows(await self.client.pages("/data/trades", params), "trade")

    async def heartbeat(self) -> HeartbeatResult:
        """One heartbeat, chained to the previous id (rule 5); never raises."""
        reply = await self.client.heartbeat(self._heartbeat_id)
        result = heartbeat_result(reply, self.clock_ns(), self.client.redact)
        self._heartbeat_id = result.heartbeat_id if result.ok else ""
        return result

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()

    def __repr__(self) -> str:
        return f"PolymarketVenue({self.client!r}, mapped={len(self._venue_of)})"


class Heartbeater:
    """Calls venue.heartbeat() every interval_s while `active()` (rule 5)."""

    def __init__(self, venue: Venue, on_event: Callable[[Input], None], *,
                 interval_s: float = 5.0, active: Callable[[], bool] = lambda: True,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.venue = venue
        self.interval_s = interval_s
        self._on_event = on_event
        self._active = active
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failures = 0

    async def run(self, beats: int | None = None) -> None:
        """Beat until cancelled (or `beats` loop turns, for tests)."""
        turns = 0
        while beats is None or turns < beats:
            turns += 1
            if self._active():
                result = await self.venue.heartbeat()
                self.sent += 1
                self.failures += not result.ok
                self._on_event(result)
            await self._sleep(self.interval_s)

    def start(self) -> asyncio.Task[None]:
        """Run in a background task of the current loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run())
        return self._task

    async def stop(self) -> None:
        """Cancel the task and wait for it."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
