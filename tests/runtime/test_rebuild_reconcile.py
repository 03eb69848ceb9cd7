# Restart: the engine rebuilt from the journal equals the engine that wrote it; decisions a
# crash cut off are found and journaled (never acted on); the engine follows each run's config;
# open orders are reconciled with the venue before trading resumes.
from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from polyarb.config import RunConfig, parse_config
from polyarb.core.config import EngineConfig
from polyarb.events import (
    ClockTick,
    OrderAccepted,
    OrderCancelled,
    OrderOutcomeUnknown,
    OrderRejected,
    OrderUpdated,
    RawFrame,
    RunStarted,
    RunStopped,
)
from polyarb.events.base import Input
from polyarb.events.decisions import OpportunityDetected, OrderIntent, PlaceOrders
from polyarb.journal import iter_records
from polyarb.runtime import RunOptions, Supervisor
from polyarb.runtime.backends import Backend, BackendError
from polyarb.runtime.loop import EngineLoop
from polyarb.runtime.rebuild import rebuild
from polyarb.runtime.reconcile import reconcile, resolve_unknown
from polyarb.runtime.startup import engine_of, start_run
from polyarb.venues.base import VenueError
from tests.core.engine_helpers import T0
from tests.runtime.helpers import FakeVenue, basket_frames, open_loop
from tests.runtime.test_loop import _loaded


def _traded(root: Path) -> tuple[str, list[PlaceOrders]]:
    """A journal where a basket was detected and placed; returns the engine hash and batches."""
    loop, acts = open_loop(root)
    loop.handle(_loaded())
    for frame in basket_frames(T0 + 1):
        loop.handle(frame)
    loop.handle(ClockTick(ts_recv_ns=T0 + 10))
    state = loop.engine.state_hash()
    loop.writer.close()
    return state, [a for a in acts.actions if isinstance(a, PlaceOrders)]


def test_rebuild_gives_the_engine_that_wrote_the_journal(tmp_path: Path) -> None:
    state, _ = _traded(tmp_path / "j")

    found = rebuild(tmp_path / "j")

    assert found.engine is not None and found.engine.state_hash() == state
    assert found.missing == [] and found.mismatches == 0
    assert found.last_seq == max(r.seq for r in iter_records(tmp_path / "j"))


def test_rebuild_of_an_empty_or_absent_journal_is_empty(tmp_path: Path) -> None:
    found = rebuild(tmp_path / "nothing")

    assert found.engine is None and found.records == 0


def test_rebuild_finds_the_decisions_a_crash_cut_off_and_they_are_journaled_not_acted(
        tmp_path: Path) -> None:
    # Arrange: the last frame journaled, its decisions never written (a crash in between)
    root = tmp_path / "j"
    loop, _ = open_loop(root)
    loop.handle(_loaded())
    frames = basket_frames(T0 + 1)
    for frame in frames[:-1]:
        loop.handle(frame)
    last = frames[-1]
    assert isinstance(last.data, str)
    loop.writer.append_raw_frame(last.ts_recv_ns, last.conn, last.data)
    loop.writer.close()

    # Act
    found = rebuild(root)
    loop2, acts = open_loop(root)
    loop2.engine = engine_of(found, RunConfig())
    start_run(loop2, found, RunConfig(), "r-2", "sim", lambda: T0 + 100)
    loop2.writer.close()

    # Assert
    assert [type(d) for d in found.missing] == [OpportunityDetected, PlaceOrders]
    assert acts.actions == []
    records = list(iter_records(root))
    cut = [r for r in records if isinstance(r.event, PlaceOrders)]
    started = [r for r in records if isinstance(r.event, RunStarted)]
    last_frame = max(r.seq for r in records if isinstance(r.event, RawFrame))
    assert len(cut) == 1 and cut[0].seq < started[0].seq
    assert cut[0].event.cause_seq == last_frame  # type: ignore[attr-defined]


def test_rebuild_follows_each_run_started_config(tmp_path: Path) -> None:
    root = tmp_path / "j"
    loop, _ = open_loop(root)
    first = parse_config("[engine.detection]\nmin_margin_bps = 300\n")
    second = parse_config("[engine.detection]\nmin_margin_bps = 400\n")
    for i, cfg in enumerate((first, second)):
        loop.handle(RunStarted(ts_recv_ns=T0 + i, run_id=f"r-{i}", venue="sim",
                               code_version="t", config_hash=cfg.config_hash(),
                               config=msgspec.Raw(cfg.canonical_json())))
        loop.handle(ClockTick(ts_recv_ns=T0 + 10 + i))
    loop.writer.close()

    found = rebuild(root)

    assert found.engine is not None
    assert found.engine.config.detection.min_margin_bps == 400
    assert found.last_run_id == "r-1"


def test_rebuild_counts_journaled_decisions_the_engine_would_not_make(tmp_path: Path) -> None:
    root = tmp_path / "j"
    loop, _ = open_loop(root)
    loop.handle(ClockTick(ts_recv_ns=T0))
    loop.writer.append(OrderRejected(ts_recv_ns=T0, client_order_id="x", reason="input"))
    loop.writer.append(PlaceOrders(ts_recv_ns=T0, cause_seq=2, batch_id="b", opp_id="x",
                                   orders=()))
    loop.writer.close()

    assert rebuild(root).mismatches == 1


def _run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_reconcile_unanswered_orders_absent_at_the_venue_are_rejected(tmp_path: Path) -> None:
    _, batches = _traded(tmp_path / "j")
    found = rebuild(tmp_path / "j")
    loop, _ = open_loop(tmp_path / "j")
    loop.engine = engine_of(found, RunConfig())
    venue = FakeVenue()

    done = _run(reconcile(loop, venue, clock=lambda: T0 + 50))  # type: ignore[arg-type]
    loop.writer.close()

    ids = [o.client_order_id for b in batches for o in b.orders]
    assert done.absent == len(ids) and done.closed == 0  # type: ignore[attr-defined]
    assert venue.calls[0] == "open_orders" and venue.calls[1].startswith("trades after ")
    rejected = [r.event for r in iter_records(tmp_path / "j")
                if isinstance(r.event, OrderRejected)]
    assert [e.client_order_id for e in rejected] == ids
    assert all(e.reason == "not found at the venue after restart" and e.reason_code == "absent"
               for e in rejected)
    assert loop.engine.execution.orders.open_orders() == []


def test_reconcile_keeps_orders_the_venue_lists_and_closes_the_others(tmp_path: Path) -> None:
    root = tmp_path / "j"
    loop, acts = open_loop(root)
    loop.handle(_loaded())
    for frame in basket_frames(T0 + 1):
        loop.handle(frame)
    batch = acts.actions[0]
    assert isinstance(batch, PlaceOrders)
    vids = []
    for intent in batch.orders:  # the venue accepted them all (resting: status live)
        vids.append(f"v-{intent.client_order_id}")
        loop.handle(OrderAccepted(ts_recv_ns=T0 + 5, client_order_id=intent.client_order_id,
                                  venue_order_id=vids[-1], status="live"))
    venue = FakeVenue(open_ids=vids[:1])

    done = _run(reconcile(loop, venue, clock=lambda: T0 + 50))  # type: ignore[arg-type]
    loop.writer.close()

    assert (done.absent, done.closed) == (0, 2)  # type: ignore[attr-defined]
    assert venue.remembered == {o.client_order_id: f"v-{o.client_order_id}"
                                for o in batch.orders}
    cancelled = [r.event for r in iter_records(root) if isinstance(r.event, OrderCancelled)]
    assert [e.venue_order_id for e in cancelled] == vids[1:]


def test_reconcile_without_open_orders_asks_the_venue_nothing(tmp_path: Path) -> None:
    loop, _ = open_loop(tmp_path / "j", EngineConfig())
    venue = FakeVenue()

    _run(reconcile(loop, venue))  # type: ignore[arg-type]
    loop.writer.close()

    assert venue.calls == []


class _Unreachable(FakeVenue):
    async def open_orders(self) -> list[Input]:
        raise VenueError("GET /data/orders: http 503")


def test_reconcile_failure_stops_the_run_before_trading(tmp_path: Path) -> None:
    _traded(tmp_path / "j")
    found = rebuild(tmp_path / "j")
    loop, _ = open_loop(tmp_path / "j")
    loop.engine = engine_of(found, RunConfig())
    sup = Supervisor(RunOptions(config=RunConfig(), clock=lambda: T0 + 60))
    sup.result.run_id = "r-9"
    backend = Backend(name="live", clob_url="u", ws_market_url="w", ws_user_url="w",
                      venue=_Unreachable())

    with pytest.raises(BackendError, match="reconciliation failed"):
        asyncio.run(sup._reconcile(loop, backend))
    loop.writer.close()

    last = list(iter_records(tmp_path / "j"))[-1].event
    assert isinstance(last, RunStopped) and "http 503" in last.reason


def _unknown_batch(root: Path) -> tuple[EngineLoop, list[str]]:
    """A loop whose placed basket's orders all came back with an unknown outcome."""
    loop, acts = open_loop(root)
    loop.handle(_loaded())
    for frame in basket_frames(T0 + 1):
        loop.handle(frame)
    batch = acts.actions[0]
    assert isinstance(batch, PlaceOrders)
    ids = [o.client_order_id for o in batch.orders]
    for cid in ids:
        loop.handle(OrderOutcomeUnknown(ts_recv_ns=T0 + 2, client_order_id=cid,
                                        reason="http 500: Internal server error"))
    return loop, ids


async def _resolving(loop: EngineLoop, venue: FakeVenue, now: int) -> int:
    consumer = asyncio.get_running_loop().create_task(loop.run())
    try:
        return await resolve_unknown(loop, venue, clock=lambda: now)  # type: ignore[arg-type]
    finally:
        loop.stop_consumer()
        await consumer


def test_resolve_unknown_in_run_rejects_orders_the_venue_never_got(tmp_path: Path) -> None:
    loop, ids = _unknown_batch(tmp_path / "j")
    venue = FakeVenue()

    absent = asyncio.run(_resolving(loop, venue, T0 + 20 * 10**9))
    loop.writer.close()

    rejected = [r.event for r in iter_records(tmp_path / "j")
                if isinstance(r.event, OrderRejected)]
    assert absent == len(ids) and [e.client_order_id for e in rejected] == ids
    assert all(e.reason == "not found at the venue" and e.reason_code == "absent"
               for e in rejected)
    assert loop.engine.execution.orders.unknown_outstanding() == 0


def test_resolve_unknown_in_run_waits_until_the_request_is_surely_over(tmp_path: Path) -> None:
    loop, _ = _unknown_batch(tmp_path / "j")
    venue = FakeVenue()

    absent = asyncio.run(_resolving(loop, venue, T0 + 5 * 10**9))
    loop.writer.close()

    assert absent == 0 and venue.calls == []
    assert loop.engine.execution.orders.unknown_outstanding() == 3


class _Lists(FakeVenue):
    """Lists one resting order exactly like `intent` (the venue got that one)."""

    def __init__(self, intent: OrderIntent) -> None:
        super().__init__()
        self.intent = intent

    async def open_orders(self) -> list[Input]:
        i = self.intent
        return [OrderUpdated(ts_recv_ns=T0 + 20, venue_order_id="v-listed",
                             update_type="PLACEMENT", token_id=i.token_id, side=i.side,
                             price_micros=i.price_micros, original_size_micros=i.size_micros,
                             size_matched_micros=0, status="LIVE")]


def test_resolve_unknown_in_run_maps_an_order_the_venue_lists(tmp_path: Path) -> None:
    loop, ids = _unknown_batch(tmp_path / "j")
    orders = loop.engine.execution.orders
    first = orders.get(ids[0])
    assert first is not None
    intent = OrderIntent(client_order_id=first.client_order_id, token_id=first.token_id,
                         side=first.side, price_micros=first.price_micros,
                         size_micros=first.size_micros, order_type=first.order_type,
                         tick_size_micros=10_000)

    absent = asyncio.run(_resolving(loop, _Lists(intent), T0 + 20 * 10**9))
    loop.writer.close()

    mapped = orders.get(ids[0])
    assert mapped is not None and mapped.venue_order_id == "v-listed"
    assert absent == len(ids) - 1


def test_resolve_unknown_in_run_asks_again_when_the_venue_cannot_answer(tmp_path: Path) -> None:
    loop, _ = _unknown_batch(tmp_path / "j")

    absent = asyncio.run(_resolving(loop, _Unreachable(), T0 + 20 * 10**9))
    loop.writer.close()

    assert absent == 0 and loop.engine.execution.orders.unknown_outstanding() == 3

