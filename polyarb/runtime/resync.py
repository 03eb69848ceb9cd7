# Book resync: a book the engine declared broken (ContinuityBroken) is repaired by asking the
# venue for a fresh snapshot, i.e. unsubscribing and resubscribing its token on the market feed
# (the venue answers every subscribe with a `book`; the feed's own silence probe does the same).
#
# Rules:
# 1. Driven by the journaled decisions only: a ContinuityBroken marks its token, a
#    ContinuityRestored clears it. What the feed sends (SubscriptionSent, the new `book`) is
#    journaled like any input, so replay sees the repair without knowing about this module.
# 2. At most one resync per token per `min_interval_s`, and at most `max_per_round` tokens per
#    round, so a flood of breaks never turns into a subscription storm.
# 3. Tokens are handled in the order they broke (dict order), never in set or hash order.
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from polyarb.events.base import Decision
from polyarb.events.decisions import ContinuityBroken, ContinuityRestored


class Subscriber(Protocol):
    """The part of MarketFeed a resync uses."""

    def subscribe(self, token_ids: list[str]) -> None: ...
    def unsubscribe(self, token_ids: list[str]) -> None: ...


class Resync:
    """Resubscribes broken books (rules 1-3)."""

    def __init__(self, feed: Subscriber, *, min_interval_s: float = 2.0,
                 max_per_round: int = 50, clock: Callable[[], float] = time.monotonic) -> None:
        self.feed = feed
        self.min_interval_s = min_interval_s
        self.max_per_round = max_per_round
        self._clock = clock
        self.broken: dict[str, None] = {}
        self._last: dict[str, float] = {}
        self.sent = 0

    def observe(self, decision: Decision) -> None:
        """Follow the engine's continuity decisions (rule 1)."""
        if type(decision) is ContinuityBroken:
            assert isinstance(decision, ContinuityBroken)
            self.broken[decision.token_id] = None
        elif type(decision) is ContinuityRestored:
            assert isinstance(decision, ContinuityRestored)
            self.broken.pop(decision.token_id, None)

    def round(self) -> list[str]:
        """Resubscribe the broken tokens that are due (rule 2); returns them."""
        now = self._clock()
        due = [t for t in self.broken
               if now - self._last.get(t, -self.min_interval_s) >= self.min_interval_s]
        due = due[:self.max_per_round]
        if due:
            self.feed.unsubscribe(due)
            self.feed.subscribe(due)
            for token in due:
                self._last[token] = now
            self.sent += len(due)
        return due

    async def run_forever(self, interval_s: float) -> None:
        """A round every `interval_s` until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.round()
            except RuntimeError:  # the feed is closed: the run is stopping
                return
