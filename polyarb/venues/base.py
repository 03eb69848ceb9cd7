# The Venue protocol: the one seam between the runtime's executor and an exchange.
#
# Rules:
# 1. Two implementations share it: live Polymarket (polyarb/venues/polymarket/clob.py,
#    PolymarketVenue) and the paper/simulated venue. The executor calls `execute(venue,
#    decision)` and journals every Input it gets back; it never talks HTTP itself.
# 2. Order entry never raises for venue or network trouble: `place` returns exactly one result
#    event per order (OrderAccepted, OrderRejected or OrderOutcomeUnknown, in intent order) and
#    `cancel`/`cancel_all` return OrderCancelled / CancelFailed events. An outcome the venue
#    did not prove is UNKNOWN and goes to reconciliation, never assumed failed.
# 3. Reads (`open_orders`, `trades`) return the verbatim RestSnapshot(s) followed by the typed
#    events derived from them; they raise VenueError when the venue cannot answer.
# 4. Every event carries ts_recv_ns from the venue's injected clock (the moment the reply
#    arrived). Secrets never appear in events, reprs or exception messages.
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from polyarb.events.base import Decision, Input
from polyarb.events.decisions import CancelOrders, PlaceOrders, Unwind
from polyarb.events.inputs import HeartbeatResult


class VenueError(Exception):
    """A venue call that could not be answered (reads only; see rule 3). No secrets inside."""


@runtime_checkable
class Venue(Protocol):
    """What the executor needs from an exchange (rules 1-4)."""

    name: str

    async def place(self, batch: PlaceOrders | Unwind) -> list[Input]:
        """Send the batch's orders; one result event per order, in order."""
        ...

    async def cancel(self, client_order_ids: Sequence[str] = (), *,
                     venue_order_ids: Sequence[str] = ()) -> list[Input]:
        """Cancel orders by client id (mapped to venue ids) and/or venue id."""
        ...

    async def cancel_all(self) -> list[Input]:
        """Cancel every open order of the account."""
        ...

    async def open_orders(self) -> list[Input]:
        """RestSnapshot pages of the open orders, then an OrderUpdated per order."""
        ...

    async def trades(self, after_s: int | None = None) -> list[Input]:
        """RestSnapshot pages of recent trades (match time > after_s), then our fills."""
        ...

    async def heartbeat(self) -> HeartbeatResult:
        """One dead-man heartbeat; never raises (a failure is ok=False)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


async def execute(venue: Venue, decision: Decision) -> list[Input]:
    """Carry out one decision on `venue`; decisions that are not venue actions give [].

    Args:
        venue: the exchange.
        decision: a journaled decision (PlaceOrders, Unwind and CancelOrders act).

    Returns:
        The result events, to be journaled as inputs.
    """
    match decision:
        case PlaceOrders() | Unwind():
            return await venue.place(decision)
        case CancelOrders():
            return await venue.cancel(decision.client_order_ids)
        case _:
            return []


async def sweep(venue: Venue, after_s: int | None) -> list[Input]:
    """The reconciliation read after a reconnect: open orders, then trades since `after_s`."""
    return [*await venue.open_orders(), *await venue.trades(after_s)]
