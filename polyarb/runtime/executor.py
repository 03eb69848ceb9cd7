# The executor: carries out order actions on the venue, concurrently, and feeds every response
# back into the engine loop's queue as an input.
#
# Rules:
# 1. `dispatch` is called by the engine loop only after the action is durable in the journal.
#    Each action runs in its own task, so a slow venue call never blocks the loop; the venue's
#    answers (one event per order, polyarb.venues.base rule 2) go back through `submit`, in the
#    order the venue returned them.
# 2. An unexpected exception from the venue (a bug, not a venue answer: the venue never raises
#    for venue or network trouble) turns every order of a placement into OrderOutcomeUnknown:
#    the request may have left, so the outcome is never assumed failed.
# 3. Once `close_placements()` is called (shutdown, or a detect-only run without a venue) a
#    placement is not sent: each of its orders comes back as OrderRejected "not sent: ...", so
#    the journal says what happened to every intent (reason_code `other`: no venue judged the order,
#    but a refusal still counts toward the rejected-order rate, as it always did). Cancels are
#    still sent until the end: they only reduce risk.
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from polyarb.events.base import Decision, Input
from polyarb.events.decisions import CancelOrders, PlaceOrders, Unwind
from polyarb.events.inputs import OrderOutcomeUnknown, OrderRejected
from polyarb.venues.base import Venue, execute

log = logging.getLogger(__name__)


class Executor:
    """Runs order actions on a venue (rules 1-3).

    Args:
        venue: the exchange, or None when nothing may be sent (detect-only).
        submit: puts an input on the engine loop's queue.
        clock: ns since the epoch, for the events this module makes itself.
    """

    def __init__(self, venue: Venue | None, submit: Callable[[Input], None],
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.venue = venue
        self._submit = submit
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._refusal: str | None = None if venue is not None else "no venue (detect-only)"
        self.sent = 0
        self.failures = 0

    @property
    def outstanding(self) -> int:
        """Venue calls still waiting for their answer."""
        return len(self._tasks)

    def close_placements(self, reason: str) -> None:
        """Refuse every later placement with `reason` (rule 3)."""
        self._refusal = reason

    def dispatch(self, action: Decision) -> None:
        """Carry out one durable order action (rule 1)."""
        if isinstance(action, (PlaceOrders, Unwind)) and self._refusal is not None:
            self._refuse(action, self._refusal)
            return
        if self.venue is None:
            log.warning("%s not sent: no venue", type(action).__name__)
            return
        task = asyncio.get_running_loop().create_task(self._run(self.venue, action))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refuse(self, action: PlaceOrders | Unwind, reason: str) -> None:
        ts = self._clock()
        for intent in action.orders:
            self._submit(OrderRejected(ts_recv_ns=ts, client_order_id=intent.client_order_id,
                                       reason=f"not sent: {reason}", reason_code="other"))

    async def _run(self, venue: Venue, action: Decision) -> None:
        self.sent += 1
        try:
            events = await execute(venue, action)
        except asyncio.CancelledError:
            self._lost(action, "cancelled while in flight (shutdown)")
            raise
        except Exception as exc:  # rule 2: a bug in the venue layer, never a venue answer
            log.exception("venue call for %s failed", type(action).__name__)
            self._lost(action, f"venue call failed: {type(exc).__name__}")
            return
        for event in events:
            self._submit(event)

    def _lost(self, action: Decision, reason: str) -> None:
        self.failures += 1
        if isinstance(action, (PlaceOrders, Unwind)):
            ts = self._clock()
            for intent in action.orders:
                self._submit(OrderOutcomeUnknown(ts_recv_ns=ts, reason=reason,
                                                 client_order_id=intent.client_order_id))
        elif isinstance(action, CancelOrders):
            log.warning("cancel of %s: %s", ", ".join(action.client_order_ids), reason)

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no venue call is outstanding; False when the timeout came first."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self._tasks:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True

    async def abort(self) -> None:
        """Cancel every outstanding call (forced stop); their orders become unknown."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
