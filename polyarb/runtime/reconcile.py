# Reconciliation after a restart: before trading resumes, every order the rebuilt engine still
# thinks may fill is checked against the venue (open orders and trades via REST).
#
# Rules:
# 1. Only when the rebuilt engine has open orders (sent, unknown, accepted, partly filled).
#    The venue's client-id map is re-seeded from the engine's records first, so later cancels
#    by client id reach the right venue order.
# 2. The REST reads go through the engine loop like any input: every page is journaled
#    verbatim (RestSnapshot) before the OrderUpdated / TradeUpdated parsed from it, and the
#    engine maps venue ids it never saw to our orders (polyarb/core/orders.py rule 4).
# 3. Then, for each order still open in the engine and not among the venue's open orders:
#    never mapped to a venue id -> OrderRejected "not found at the venue after restart" (the
#    request never arrived, or the order died without a trace); mapped -> OrderCancelled
#    "not open at the venue after restart" (it filled, as far as the trades show, or was
#    cancelled). Both are journaled inputs, so replay sees the same resolution. An absent
#    order's OrderRejected has reason_code `absent` (it counts toward the rejected-order rate).
# 4. A venue that cannot answer stops the start (VenueError propagates): trading on a state
#    that may be wrong is worse than not trading.
# 5. While a run trades, orders whose outcome stayed unknown for UNKNOWN_AFTER_S (longer than
#    any request can take: a lost response, a timeout, a 5xx before the venue) are looked up
#    the same way every RESOLVE_EVERY_S (`resolve_unknown_forever`): listings and trades go
#    through the loop's queue, then an order still unmapped and open is journaled OrderRejected
#    "not found at the venue". Without it such an order kept the breaker HALTED
#    (unknown_outcomes) and, for an exit, its leg naked until the next restart. A venue that
#    cannot answer now is asked again next time.
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from polyarb.events.inputs import OrderCancelled, OrderRejected, OrderUpdated
from polyarb.runtime.loop import EngineLoop
from polyarb.venues.base import Venue, VenueError

log = logging.getLogger(__name__)
LOOKBACK_S = 60  # trades are read from this long before the oldest open order was created
UNKNOWN_AFTER_S = 15.0  # above the 10 s request timeout: the request is over, answered or not
RESOLVE_EVERY_S = 5.0


@dataclass
class Reconciled:
    """What reconciliation found: orders checked, venue events, and how orders were resolved."""

    checked: int = 0
    venue_events: int = 0
    absent: int = 0
    closed: int = 0


async def reconcile(loop: EngineLoop, venue: Venue,
                    clock: Callable[[], int] = time.time_ns) -> Reconciled:
    """Check the rebuilt engine's open orders against the venue (rules 1-4).

    Raises:
        VenueError: the venue could not list open orders or trades.
    """
    orders = loop.engine.execution.orders
    pending = orders.open_orders()
    out = Reconciled(checked=len(pending))
    if not pending:
        return out
    remember = getattr(venue, "remember", None)  # PolymarketVenue's id map (not paper's)
    for rec in pending:
        # an unknown order the venue named (orders.py rule 4) is cancellable by that id too
        vid = rec.venue_order_id or orders.venue_hint(rec.client_order_id)
        if vid and remember is not None:
            remember(rec.client_order_id, vid)
    after_s = min(r.created_ns for r in pending) // 1_000_000_000 - LOOKBACK_S
    listed = await venue.open_orders()
    trades = await venue.trades(after_s)
    live = {e.venue_order_id for e in listed if isinstance(e, OrderUpdated)}
    for event in (*listed, *trades):
        out.venue_events += 1
        loop.handle(event)
    ts = clock()
    for rec in orders.open_orders():
        if rec.venue_order_id in live:
            continue
        if not rec.venue_order_id:
            out.absent += 1
            loop.handle(OrderRejected(ts_recv_ns=ts, client_order_id=rec.client_order_id,
                                      reason="not found at the venue after restart",
                                      reason_code="absent"))
        else:
            out.closed += 1
            loop.handle(OrderCancelled(ts_recv_ns=ts, venue_order_id=rec.venue_order_id,
                                       client_order_id=rec.client_order_id,
                                       reason="not open at the venue after restart"))
    log.info("reconciled %d open order(s): %d venue event(s), %d absent, %d closed",
             out.checked, out.venue_events, out.absent, out.closed)
    return out


async def resolve_unknown(loop: EngineLoop, venue: Venue, clock: Callable[[], int] = time.time_ns,
                          min_age_s: float = UNKNOWN_AFTER_S) -> int:
    """Look up the orders whose outcome has been unknown for `min_age_s` (rule 5).

    Returns:
        How many were found absent at the venue (journaled OrderRejected).
    """
    orders = loop.engine.execution.orders
    now = clock()
    stale = [r for r in orders.open_orders() if r.status == "unknown" and not r.venue_order_id
             and now - r.created_ns >= min_age_s * 1e9]
    if not stale:
        return 0
    after_s = min(r.created_ns for r in stale) // 1_000_000_000 - LOOKBACK_S
    try:
        found = [*await venue.open_orders(), *await venue.trades(after_s)]
    except VenueError as exc:
        log.warning("unknown outcomes: the venue cannot list orders now (%s); later", exc)
        return 0
    for event in found:
        loop.submit(event)
    await loop.drain()
    ts = clock()
    absent = [r.client_order_id for r in stale
              if (rec := orders.get(r.client_order_id)) is not None
              and not rec.venue_order_id and not orders.is_done(rec)]
    for cid in absent:
        loop.submit(OrderRejected(ts_recv_ns=ts, client_order_id=cid,
                                  reason="not found at the venue", reason_code="absent"))
    await loop.drain()
    log.info("unknown outcomes: %d looked up, %d absent at the venue", len(stale), len(absent))
    return len(absent)


async def resolve_unknown_forever(loop: EngineLoop, venue: Venue,
                                  clock: Callable[[], int] = time.time_ns,
                                  every_s: float = RESOLVE_EVERY_S) -> None:
    """resolve_unknown every `every_s` until cancelled (rule 5)."""
    while True:
        await asyncio.sleep(every_s)
        await resolve_unknown(loop, venue, clock)

