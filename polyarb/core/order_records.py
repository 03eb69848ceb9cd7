# Records of the order state machine: what we sent and what the venue said about it.
#
# Rules: plain mutable msgspec Structs (snapshot = msgspec.to_builtins) and pure helpers; the
# transitions live in polyarb/core/orders.py, whose header states the state-machine rules.
from __future__ import annotations

from typing import Literal

import msgspec

from polyarb.events.decisions import OrderType
from polyarb.events.inputs import OrderAccepted, OrderUpdated, Side

OrderStatus = Literal["sent", "unknown", "accepted", "rejected"]
OrderState = Literal[
    "sent", "unknown", "accepted", "partially_filled", "filled", "cancelled", "rejected"
]
Role = Literal["leg", "retry", "exit"]


class OrderRecord(msgspec.Struct, kw_only=True):
    """One order we sent, and what the venue told us about it."""

    seq: int  # creation order: the tie-breaker for venue-id matching
    client_order_id: str
    opp_id: str
    role: Role  # leg of the opportunity, retry of a leg, or exit (unwind) of a leg
    leg: int  # index into the opportunity's legs
    token_id: str
    side: Side
    price_micros: int
    size_micros: int
    order_type: OrderType
    created_ns: int
    status: OrderStatus = "sent"
    venue_order_id: str = ""
    reason: str = ""
    expected_fill_micros: int | None = None  # FOK/FAK: what the venue matched
    venue_matched_micros: int = 0
    cancel_seen: bool = False
    acked: bool = False  # an OrderAccepted arrived (not just a mapping inferred from events)
    done_reported: bool = False


class OrdersState(msgspec.Struct, kw_only=True):
    next_order_no: int = 1
    next_batch_no: int = 1
    orders: dict[str, OrderRecord] = msgspec.field(default_factory=dict)
    open: dict[str, int] = msgspec.field(default_factory=dict)  # not done: client id -> seq
    venue_ids: dict[str, str] = msgspec.field(default_factory=dict)  # venue id -> client id
    orphan_updates: dict[str, OrderUpdated] = msgspec.field(default_factory=dict)
    counters: dict[str, int] = msgspec.field(default_factory=dict)
    rejections_ns: list[int] = msgspec.field(default_factory=list)


class VenueHints:
    """Venue ids that unknown outcomes named, not yet seen mapped (orders.py rule 4).

    Kept apart from OrdersState so that a state without hints snapshots exactly as before.
    """

    __slots__ = ("_by_venue",)

    def __init__(self, data: dict[str, str] | None = None) -> None:
        self._by_venue: dict[str, str] = dict(data or {})  # venue id -> client id

    def __bool__(self) -> bool:
        return bool(self._by_venue)

    def owner(self, venue_order_id: str) -> str | None:
        """The client id whose unknown outcome named this venue id, or None."""
        return self._by_venue.get(venue_order_id)

    def of(self, client_order_id: str) -> str:
        """The venue id named for this order, or ""."""
        return next((v for v, c in sorted(self._by_venue.items()) if c == client_order_id), "")

    def holders(self) -> frozenset[str]:
        """Client ids that have a hint (membership tests only: never iterated for output)."""
        return frozenset(self._by_venue.values())

    def add(self, venue_order_id: str, client_order_id: str) -> None:
        """Record a hint (the caller checked that no order holds the venue id)."""
        self._by_venue[venue_order_id] = client_order_id

    def drop(self, client_order_id: str, venue_order_id: str = "") -> None:
        """Forget this order's hint and any hint on venue_order_id (it is mapped now)."""
        if self._by_venue:
            self._by_venue = {v: c for v, c in self._by_venue.items()
                              if c != client_order_id and v != venue_order_id}

    def snapshot(self) -> dict[str, str]:
        """venue id -> client id, sorted."""
        return dict(sorted(self._by_venue.items()))


def order_done(rec: OrderRecord, filled: int, dust: int) -> bool:
    """True when an order can fill no further (orders.py rule 2). Once done, always done."""
    if rec.status == "rejected" or rec.done_reported:
        return True
    if filled >= rec.size_micros - dust:
        return True
    if rec.status != "accepted":
        return False
    if rec.cancel_seen and filled >= rec.venue_matched_micros - dust:
        return True
    expected = rec.expected_fill_micros
    return rec.order_type in ("FOK", "FAK") and expected is not None and filled >= expected - dust


def order_state(rec: OrderRecord, filled: int, dust: int) -> OrderState:
    """An order's state derived from its sizes (orders.py rule 2)."""
    if filled >= rec.size_micros - dust:
        return "filled"
    if rec.status == "rejected":
        return "rejected"
    if order_done(rec, filled, dust):
        return "cancelled"
    return "partially_filled" if filled > dust else rec.status


def expected_fill(rec: OrderRecord, ev: OrderAccepted) -> int | None:
    """What a FOK/FAK order matched per the placement response; the rest is killed.

    The response's amounts are shares on the taking side of a BUY and the making side of a
    SELL. Without both amounts, a FOK is all-or-nothing (its size) and a FAK stays unknown.
    """
    shares = ev.taking_amount_micros if rec.side == "BUY" else ev.making_amount_micros
    if (ev.making_amount_micros or 0) > 0 and (ev.taking_amount_micros or 0) > 0 and shares:
        return max(rec.expected_fill_micros or 0, min(shares, rec.size_micros))
    return rec.size_micros if rec.order_type == "FOK" else rec.expected_fill_micros
