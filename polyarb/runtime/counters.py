# What the status panel and the exit summary count, as the engine loop sees it go by.
#
# Rules: plain integer counters bumped by the engine loop (one thread, no locks); rates are
# computed by the reader from two readings. Nothing here influences a decision: the engine's
# own state is the truth, these numbers are for people.
from __future__ import annotations

from collections import Counter

from polyarb.events.base import Decision, Input
from polyarb.events.decisions import (
    OpportunityBlocked,
    OpportunityDetected,
    PlaceOrders,
    Unwind,
)
from polyarb.events.inputs import (
    ConnectionClosed,
    ConnectionOpened,
    OrderRejected,
    TradeUpdated,
)


class Counters:
    """Running counts of one run (not persisted: a restart starts them at zero)."""

    def __init__(self) -> None:
        # Bumped by EngineLoop.handle itself, once per frame: the hot path skips a method call.
        self.market_frames = 0
        self.user_frames = 0
        self.inputs = 0
        self.decisions = 0
        self.opportunities = 0
        self.taken: set[str] = set()  # opportunity ids with a PlaceOrders
        self.blocked: Counter[str] = Counter()  # by gate
        self.orders_sent = 0
        self.unwinds = 0
        self.rejections = 0
        self.fills = 0  # TradeUpdated MATCHED events (one per fill)
        self.connections: dict[str, bool] = {}  # conn -> open

    def input(self, event: Input) -> None:
        """A typed input was journaled."""
        self.inputs += 1
        cls = type(event)
        if cls is TradeUpdated:
            assert isinstance(event, TradeUpdated)
            self.fills += event.status == "MATCHED"
        elif cls is OrderRejected:
            self.rejections += 1
        elif cls is ConnectionOpened:
            assert isinstance(event, ConnectionOpened)
            self.connections[event.conn] = True
        elif cls is ConnectionClosed:
            assert isinstance(event, ConnectionClosed)
            self.connections[event.conn] = False

    def decision(self, decision: Decision) -> None:
        """A decision was journaled."""
        self.decisions += 1
        cls = type(decision)
        if cls is OpportunityDetected:
            self.opportunities += 1
        elif cls is OpportunityBlocked:
            assert isinstance(decision, OpportunityBlocked)
            self.blocked[decision.gate] += 1
        elif cls is PlaceOrders:
            assert isinstance(decision, PlaceOrders)
            self.taken.add(decision.opp_id)
            self.orders_sent += len(decision.orders)
        elif cls is Unwind:
            assert isinstance(decision, Unwind)
            self.unwinds += 1
            self.orders_sent += len(decision.orders)

    def connections_open(self) -> tuple[int, int]:
        """(open, known) connections."""
        return sum(self.connections.values()), len(self.connections)
