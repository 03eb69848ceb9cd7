# The paper venue (`--paper`): live market data, orders that never leave the machine. Fills come
# from the simulator's matching engine (polyarb.sim.Exchange) run against the live books, and
# every answer is the same input event the live client produces, so the journal, the reports
# and replay see a paper run exactly as they see a live one.
#
# Rules:
# 1. Implements polyarb.venues.base.Venue: `place` returns one result per intent
#    (OrderAccepted / OrderRejected, in intent order), cancels OrderCancelled / CancelFailed,
#    reads RestSnapshot + typed events; nothing raises for venue trouble. Intents go through
#    the live venue's amount rule (venue.intent_amounts), so an order the live client would
#    refuse unsent is refused here with the same "not sent: ..." reason (reason_code `invalid`); the
#    exchange's own answers are coded by the live client's outcomes.py (paper_events.py).
# 2. Books: every market frame fed to `on_market_frame(ts_recv_ns, data)` is reproduced in the
#    exchange as the book source's quotes (paper_book.py). Markets must be loaded first
#    (`load_markets`, from the run's MarketsLoaded).
# 3. Latency by event time: a batch decided at ts (the decision's ts_recv_ns) is matched
#    against the book as it stands at ts + latency_ms: every frame with ts_recv_ns <= that
#    instant is applied first, none after. With latency 0 (or when frames already passed that
#    instant) it matches the book as it stands. If no later frame arrives within `max_wait_s`
#    of wall time, it matches the current book (a quiet market has not changed).
# 4. Asynchronous updates (OrderUpdated, TradeUpdated with MATCHED -> MINED -> CONFIRMED as
#    the exchange settles by event time, maker fills when a live level crosses a resting paper
#    order) are what the live user channel would deliver. They go to `on_event` (or wait in
#    `take_updates()`); updates caused by a placement are released after its results.
# 5. Deterministic given its inputs: ids come from the exchange's seed and counters; event
#    timestamps come from the injected clock; matching time is event time.
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from polyarb.events.base import Input
from polyarb.events.decisions import OrderIntent, PlaceOrders, Unwind
from polyarb.events.inputs import CancelFailed, HeartbeatResult, MarketInfo, OrderRejected, Side
from polyarb.sim import Exchange, OrderRequest, SimConfig
from polyarb.sim.amounts import AmountsError, order_terms
from polyarb.sim.model import MICROS
from polyarb.venues.paper_book import BookMirror
from polyarb.venues.paper_events import (
    cancel_result_events,
    open_order_events,
    placement_event,
    trade_events,
    user_updates,
)
from polyarb.venues.polymarket.amounts import AmountError
from polyarb.venues.polymarket.feed_wire import FeedSink
from polyarb.venues.polymarket.user_parse import Deduper, UserIdentity
from polyarb.venues.polymarket.venue import GTD_SECURITY_S, intent_amounts

_MS_NS = 1_000_000
Batch = PlaceOrders | Unwind


@dataclass(frozen=True, slots=True)
class PaperConfig:
    """Paper trading knobs. Money in micro-units, times in ms / s."""

    latency_ms: int = 0
    collateral_micros: int = 10_000 * MICROS
    owner: str = "paper"
    max_wait_s: float | None = None  # None: latency + 1 s
    gtd_ttl_s: int = 300
    post_only: bool = False
    sim: SimConfig = field(default_factory=lambda: SimConfig(seed="polyarb-paper"))


@dataclass(slots=True)
class _Pending:
    due_ns: int
    seq: int
    batch: Batch
    done: asyncio.Future[tuple[list[Input], list[Input]]]


class PaperVenue:
    """Simulated fills against live books (rules 1-5)."""

    name = "paper"

    def __init__(self, config: PaperConfig | None = None, *,
                 clock_ns: Callable[[], int] = time.time_ns,
                 on_event: Callable[[Input], None] | None = None) -> None:
        self.config = config if config is not None else PaperConfig()
        self.clock_ns = clock_ns
        self.on_event = on_event
        self.exchange = Exchange(self.config.sim)
        self.mirror = BookMirror(self.exchange)
        owner = self.config.owner
        self.exchange.open_account(owner, collateral_micros=self.config.collateral_micros)
        self.identity = UserIdentity(owner, (self.exchange.ledger.get(owner).address,))
        self._dedupe = Deduper()
        self._venue_of: dict[str, str] = {}
        self._client_of: dict[str, str] = {}
        self._pending: list[_Pending] = []
        self._seq = 0
        self._event_ns = 0  # latest event time seen (frames, advance)
        self._outbox: list[Input] = []
        self._beats = 0

    # --- markets and frames ------------------------------------------------------------------

    def load_markets(self, markets: Iterable[MarketInfo]) -> list[tuple[str, str]]:
        """Register markets (rule 2); returns (condition id, reason) for each one refused."""
        refused = []
        for info in markets:
            why = self.mirror.add_market(info)
            if why is not None:
                refused.append((info.condition_id, why))
        return refused

    def on_market_frame(self, ts_recv_ns: int, data: str | bytes) -> None:
        """Feed one received market frame (rules 2-4)."""
        self._run_due(ts_recv_ns, inclusive=False)  # the book as it stood before this frame
        self._event_ns = max(self._event_ns, ts_recv_ns)
        self.mirror.apply(data, self._event_ns)
        self._run_due(ts_recv_ns, inclusive=True)
        self._settle(self._event_ns)

    def advance(self, now_ns: int) -> None:
        """Event time moved on without a frame (a clock tick): run what is due, settle."""
        self._event_ns = max(self._event_ns, now_ns)
        self._run_due(now_ns, inclusive=True)
        self._settle(self._event_ns)

    def _settle(self, now_ns: int) -> None:
        self.exchange.advance(now_ns)
        self._queue(self._updates())
        self._flush()

    def _updates(self) -> list[Input]:
        return user_updates(self.exchange.take_events(), self.config.owner, self.identity,
                            self.clock_ns(), self._dedupe)

    def _queue(self, events: list[Input]) -> None:
        self._outbox += events

    def _flush(self) -> None:
        if self.on_event is not None:
            out, self._outbox = self._outbox, []
            for event in out:
                self.on_event(event)

    def take_updates(self) -> list[Input]:
        """The asynchronous updates not yet delivered (when no `on_event` is set)."""
        out, self._outbox = self._outbox, []
        return out

    # --- orders -------------------------------------------------------------------------------

    async def place(self, batch: Batch) -> list[Input]:
        """Match the batch at its decision time + latency (rule 3); one result per intent."""
        due = batch.ts_recv_ns + self.config.latency_ms * _MS_NS
        if self.config.latency_ms <= 0 or self._event_ns >= due:
            results, updates = self._execute(batch, max(due, self._event_ns))
        else:
            results, updates = await self._wait(batch, due)
        self._release(updates)
        return results

    async def _wait(self, batch: Batch, due: int) -> tuple[list[Input], list[Input]]:
        self._seq += 1
        pending = _Pending(due, self._seq, batch, asyncio.get_running_loop().create_future())
        self._pending.append(pending)
        wait_s = self.config.max_wait_s
        if wait_s is None:
            wait_s = self.config.latency_ms / 1000 + 1.0
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(asyncio.shield(pending.done), wait_s)
        if pending.done.done():
            return pending.done.result()
        self._pending.remove(pending)  # rule 3: no frame passed `due`: the book stands
        return self._execute(batch, max(due, self._event_ns))

    def _run_due(self, now_ns: int, *, inclusive: bool) -> None:
        due = sorted((p for p in self._pending
                      if p.due_ns < now_ns or (inclusive and p.due_ns == now_ns)),
                     key=lambda p: (p.due_ns, p.seq))
        for p in due:
            self._pending.remove(p)
            if not p.done.done():
                p.done.set_result(self._execute(p.batch, p.due_ns))

    def _release(self, updates: list[Input]) -> None:
        """Rule 4: a placement's updates follow its results (the executor submits those as
        soon as place() returns, before the loop runs this callback)."""
        self._queue(updates)
        if self.on_event is None:
            return
        try:
            asyncio.get_running_loop().call_soon(self._flush)
        except RuntimeError:
            self._flush()

    def _execute(self, batch: Batch, at_ns: int) -> tuple[list[Input], list[Input]]:
        """Place every intent of the batch at event time `at_ns` (rule 1)."""
        self._queue(self._updates())  # anything pending belongs before this batch
        self._flush()
        many = len(batch.orders) > 1
        results = [self._place_one(intent, at_ns, many) for intent in batch.orders]
        return results, self._updates()

    def _place_one(self, intent: OrderIntent, at_ns: int, batch: bool) -> Input:
        ts = self.clock_ns()
        req = self._request(intent, at_ns)
        if isinstance(req, str):
            # Refused before the exchange (amounts, unknown market): the order is bad as sent.
            return OrderRejected(ts_recv_ns=ts, client_order_id=intent.client_order_id,
                                 reason=req, http_status=None if req.startswith("not sent")
                                 else 400, reason_code="invalid")
        result = self.exchange.place(req, at_ns)
        if result.success:
            self._remember(intent.client_order_id, result.order_id)
        return placement_event(intent.client_order_id, result, ts, batch=batch)

    def _request(self, intent: OrderIntent, at_ns: int) -> OrderRequest | str:
        """The order as the simulator's intake would decode the signed body (or why not)."""
        try:
            amounts = intent_amounts(intent)
        except AmountError as exc:
            return f"not sent: {exc}"
        market = self.exchange.markets.by_token.get(intent.token_id)
        if market is None:
            return "not sent: market not loaded in the paper venue"
        side: Side = "BUY" if amounts.side == 0 else "SELL"
        try:
            price, size = order_terms(side, amounts.maker_amount, amounts.taker_amount,
                                      intent.order_type, market.tick_micros)
        except AmountsError as exc:
            return str(exc)
        gtd = intent.order_type == "GTD"
        return OrderRequest(
            owner=self.config.owner, token_id=intent.token_id, side=side, price_micros=price,
            size_micros=size, order_type=intent.order_type,
            post_only=self.config.post_only and intent.order_type in ("GTC", "GTD"),
            expiration_s=at_ns // 10**9 + GTD_SECURITY_S + self.config.gtd_ttl_s if gtd else 0,
            amount_micros=amounts.maker_amount if side == "BUY" else amounts.taker_amount)

    def _remember(self, client_order_id: str, venue_order_id: str) -> None:
        self._venue_of[client_order_id] = venue_order_id
        self._client_of[venue_order_id] = client_order_id

    def venue_order_id(self, client_order_id: str) -> str | None:
        """The venue id of a client id placed here, if any."""
        return self._venue_of.get(client_order_id)

    # --- cancels and reads --------------------------------------------------------------------

    async def cancel(self, client_order_ids: Sequence[str] = (), *,
                     venue_order_ids: Sequence[str] = ()) -> list[Input]:
        """Cancel by client id (mapped) and/or venue id; one event per order."""
        ts = self.clock_ns()
        out: list[Input] = []
        ids: list[str] = []
        for cid in client_order_ids:
            vid = self._venue_of.get(cid)
            if vid is None:
                out.append(CancelFailed(ts_recv_ns=ts, venue_order_id="",
                                        reason=f"not sent: unknown client order id {cid}"))
            else:
                ids.append(vid)
        ids = list(dict.fromkeys([*ids, *venue_order_ids]))
        if ids:
            result = self.exchange.cancel_many(self.config.owner, ids, self._event_ns)
            out += cancel_result_events(ids, result, self._client_of, ts)
            self._release(self._updates())
        return out

    async def cancel_all(self) -> list[Input]:
        """Cancel every open paper order."""
        result = self.exchange.cancel_all(self.config.owner, self._event_ns)
        out = cancel_result_events([], result, self._client_of, self.clock_ns())
        self._release(self._updates())
        return out

    async def open_orders(self) -> list[Input]:
        """The /data/orders page and an OrderUpdated per open paper order."""
        views = self.exchange.open_orders(self.config.owner)
        return open_order_events(views, self.clock_ns(), self.identity)

    async def trades(self, after_s: int | None = None) -> list[Input]:
        """The /data/trades page and our paper fills matched after `after_s`."""
        trades = self.exchange.trades(self.config.owner)
        return trade_events(trades, self.config.owner, after_s, self.clock_ns(), self.identity)

    async def heartbeat(self) -> HeartbeatResult:
        """Always ok: paper orders have no venue dead-man switch to feed."""
        self._beats += 1
        return HeartbeatResult(ts_recv_ns=self.clock_ns(), ok=True,
                               heartbeat_id=f"paper-{self._beats}")

    async def close(self) -> None:
        """Match what is still pending against the current book, deliver every update."""
        for p in sorted(self._pending, key=lambda p: (p.due_ns, p.seq)):
            if not p.done.done():
                p.done.set_result(self._execute(p.batch, max(p.due_ns, self._event_ns)))
        self._pending.clear()
        self._flush()

    def __repr__(self) -> str:
        return (f"PaperVenue(latency_ms={self.config.latency_ms}, markets="
                f"{len(self.exchange.markets.by_id)}, open={len(self._venue_of)})")


class PaperTap:
    """A market-feed sink that journals first and then shows the frame to the paper venue.

    Wrap the runtime's FeedSink with it: `MarketFeed(..., sink=PaperTap(sink, paper))`. The
    frame reaches the journal before any fill it causes (rule 4's updates follow it).
    """

    def __init__(self, sink: FeedSink, venue: PaperVenue) -> None:
        self.sink = sink
        self.venue = venue

    def on_frame(self, ts_recv_ns: int, conn: str, data: str | bytes) -> None:
        """Journal the frame, then reproduce it in the paper books."""
        self.sink.on_frame(ts_recv_ns, conn, data)
        self.venue.on_market_frame(ts_recv_ns, data)

    def on_event(self, event: Input) -> None:
        """Lifecycle events pass through unchanged."""
        self.sink.on_event(event)
