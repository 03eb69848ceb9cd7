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
#    cancelled). Both are journaled inputs, so replay sees the same resolution.
# 4. A venue that cannot answer stops the start (VenueError propagates): trading on a state
#    that may be wrong is worse than not trading.
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from polyarb.events.inputs import OrderCancelled, OrderRejected, OrderUpdated
from polyarb.runtime.loop import EngineLoop
from polyarb.venues.base import Venue

log = logging.getLogger(__name__)
LOOKBACK_S = 60  # trades are read from this long before the oldest open order was created


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
        if rec.venue_order_id and remember is not None:
            remember(rec.client_order_id, rec.venue_order_id)
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
                                      reason="not found at the venue after restart"))
        else:
            out.closed += 1
            loop.handle(OrderCancelled(ts_recv_ns=ts, venue_order_id=rec.venue_order_id,
                                       client_order_id=rec.client_order_id,
                                       reason="not open at the venue after restart"))
    log.info("reconciled %d open order(s): %d venue event(s), %d absent, %d closed",
             out.checked, out.venue_events, out.absent, out.closed)
    return out
