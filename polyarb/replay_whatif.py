# What-if replay (`polyarb replay DIR --config other.toml`): the journal's market data, clock and
# operator inputs folded through an engine with another config, its orders filled by the
# simulator against the recorded books (polyarb/replay_sim.py), and the outcome compared with
# what the journaled run did.
#
# Rules:
# 1. Nothing is compared for equality: the decisions are new. Inputs the journal holds are fed
#    in order, except the venue's answers to the ORIGINAL orders (order_*, trade_updated,
#    cancel_failed), which are replaced by the simulated venue's answers to the engine's own
#    orders. Journal notes and the original decisions are only counted.
# 2. For each journal input at time T: first the simulated venue's time-driven events up to T
#    (settlement), then the input itself (a market frame also moves the simulated book), then
#    the decisions it causes are acted on (PlaceOrders / Unwind placed, CancelOrders
#    cancelled), and the venue events that come back are folded in turn, until none is left.
# 3. With `out`, the what-if run is journaled exactly as the runtime would (each input, then
#    its decisions, a state_checkpoint at each day roll; run_started carries the what-if
#    config), so `polyarb replay OUT` verifies it and `polyarb report` reads it. `out` must be
#    a new or empty directory: a what-if never appends to a real journal.
# 4. The original side of the comparison (its P&L) is the replay of the journal under its own
#    config (polyarb.replay.replay_journal); a journal that does not replay identically is
#    reported in the warnings.
from __future__ import annotations

import time
from collections import deque
from pathlib import Path

import msgspec

from polyarb.core.config import EngineConfig
from polyarb.core.engine import Engine
from polyarb.core.stats import RunStats
from polyarb.events import Decision, Event, StateCheckpoint
from polyarb.events.base import Input
from polyarb.events.decisions import CancelOrders, OpportunityBlocked, PlaceOrders, Unwind
from polyarb.events.inputs import (
    CancelFailed,
    OrderAccepted,
    OrderCancelled,
    OrderOutcomeUnknown,
    OrderRejected,
    OrderUpdated,
    RawFrame,
    RunStarted,
    TradeUpdated,
)
from polyarb.journal import CheckpointHook, Durability, JournalWriter, iter_records, layout
from polyarb.replay import Progress, _records, replay_journal
from polyarb.replay_plan import ReplayError, plan_replay
from polyarb.replay_sim import SimVenue

_VENUE_ANSWERS = (OrderAccepted, OrderRejected, OrderOutcomeUnknown, OrderCancelled,
                  CancelFailed, OrderUpdated, TradeUpdated)


class Tally(msgspec.Struct, kw_only=True):
    """Decision counts of one side of a what-if comparison."""

    opportunities: int = 0
    placed: int = 0  # opportunities that got a place_orders
    orders: int = 0  # orders in place_orders and unwind batches
    unwinds: int = 0
    cancels: int = 0
    blocked: dict[str, int] = msgspec.field(default_factory=dict)  # by gate

    def count(self, d: Decision, placed: set[str]) -> None:
        """Add one decision."""
        kind = type(d).__struct_config__.tag
        if kind == "opportunity_detected":
            self.opportunities += 1
        elif type(d) is PlaceOrders:
            self.orders += len(d.orders)
            placed.add(d.opp_id)
            self.placed = len(placed)
        elif type(d) is Unwind:
            self.unwinds += 1
            self.orders += len(d.orders)
        elif type(d) is CancelOrders:
            self.cancels += 1
        elif type(d) is OpportunityBlocked:
            self.blocked[d.gate] = self.blocked.get(d.gate, 0) + 1


class WhatIfResult(msgspec.Struct, kw_only=True):
    """Both sides of a what-if: counts, statistics, realized P&L and the warnings."""

    original: Tally
    whatif: Tally
    original_stats: RunStats
    whatif_stats: RunStats
    original_realized_micros: int
    whatif_realized_micros: int
    records: int = 0
    venue_events: int = 0
    out: str | None = None
    warnings: list[str] = msgspec.field(default_factory=list)
    elapsed_s: float = 0.0


def what_if(path: Path | str, config: EngineConfig, *, out: Path | str | None = None,
            on_progress: Progress | None = None) -> WhatIfResult:
    """Re-run a journal under `config` with simulated fills (rules 1-4).

    Raises:
        JournalUnreadable / JournalCorrupt: as replay_journal.
        ReplayError: no usable start, no recorded market to fill against, or `out` not empty.
    """
    started = time.perf_counter()
    original = replay_journal(path)
    run = _WhatIf(path, config, out)
    try:
        run.run(on_progress)
    finally:
        run.close()
    res = WhatIfResult(
        original=run.original, whatif=run.tally, original_stats=original.stats,
        whatif_stats=run.engine.stats(),
        original_realized_micros=original.realized_micros, whatif_realized_micros=run.realized(),
        records=run.records, venue_events=run.venue_events,
        out=None if out is None else str(out), warnings=list(original.warnings))
    if not original.ok:
        res.warnings.append("the journal does not replay identically under its own config "
                            "(run `polyarb replay` without --config): the original side is "
                            "the replay's")
    res.elapsed_s = time.perf_counter() - started
    return res


class _WhatIf:
    def __init__(self, path: Path | str, config: EngineConfig, out: Path | str | None) -> None:
        self.plan = plan_replay(path, config)
        self.config = config
        self.engine = Engine(config)
        if self.plan.checkpoint is not None:
            self.engine = Engine.restore(bytes(self.plan.checkpoint[1].state), config)
        self.tally, self.original = Tally(), Tally()
        self._placed: set[str] = set()
        self._orig_placed: set[str] = set()
        self.records = self.venue_events = 0
        self.seq = 0
        self.ts = 0
        self.venue: SimVenue | None = None
        self.writer = None if out is None else _open_out(Path(out), self._checkpoint)

    def run(self, on_progress: Progress | None) -> None:
        for record in _records(self.plan):
            self.records += 1
            if on_progress is not None and self.records % 4096 == 0:
                on_progress(self.records)
            self._record(record.event)
        if on_progress is not None:
            on_progress(self.records)

    def _record(self, ev: Event) -> None:
        if ev.ROLE == "decision":
            self.original.count(ev, self._orig_placed)  # type: ignore[arg-type]
            return
        if ev.ROLE != "input" or isinstance(ev, _VENUE_ANSWERS):
            return
        assert isinstance(ev, Input)
        ts = ev.ts_recv_ns
        venue = self._venue(ts)
        self._fold(venue.advance(ts))
        if type(ev) is RawFrame and ev.channel == "market":
            venue.book_frame(ts)
        if type(ev) is RunStarted:
            ev = msgspec.structs.replace(
                ev, run_id=f"{ev.run_id}+whatif", config_hash=self.config.config_hash(),
                config=msgspec.Raw(self.config.canonical_json()))
        self._fold([ev])

    def _fold(self, inputs: list[Input]) -> None:
        queue = deque(inputs)
        while queue:
            ev = queue.popleft()
            if isinstance(ev, _VENUE_ANSWERS):
                self.venue_events += 1
            for decision in self._apply(ev):
                self.tally.count(decision, self._placed)
                queue.extend(self._act(decision, ev.ts_recv_ns))

    def _apply(self, ev: Input) -> list[Decision]:
        self.ts = ev.ts_recv_ns
        self.seq = self.writer.append(ev) if self.writer is not None else self.seq + 1
        out = self.engine.apply(self.seq, ev)
        if self.writer is not None:
            for decision in out:
                self.writer.append(decision)
        return out

    def _act(self, d: Decision, ts: int) -> list[Input]:
        venue = self._venue(ts)
        if type(d) is PlaceOrders or type(d) is Unwind:
            return venue.place(d.orders, ts)
        if type(d) is CancelOrders:
            return venue.cancel(d.client_order_ids, ts)
        return []

    def _venue(self, ts: int) -> SimVenue:
        if self.venue is None:
            try:
                self.venue = SimVenue(self.plan.root, ts)
            except ValueError as exc:
                raise ReplayError(f"what-if needs recorded markets: {exc}") from None
            self._skip_earlier_frames(ts)
        return self.venue

    def _skip_earlier_frames(self, ts: int) -> None:
        """Books of days before the replayed ones still shape the simulated books."""
        assert self.venue is not None
        earlier = [d for d in layout.list_days(self.plan.root) if d < self.plan.days[0]]
        for day in earlier:
            for record in iter_records(self.plan.root, day=day):
                ev = record.event
                if type(ev) is RawFrame and ev.channel == "market":
                    self.venue.book_frame(min(ev.ts_recv_ns, ts))

    def _checkpoint(self, last_seq: int) -> StateCheckpoint:
        return self.engine.checkpoint(last_seq, self.ts)

    def realized(self) -> int:
        return self.engine.execution.positions.realized_micros()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _open_out(out: Path, hook: CheckpointHook) -> JournalWriter:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ReplayError(f"--out {out}: must be a new or empty directory (a what-if never "
                          "writes into an existing journal)")
    return JournalWriter.open(out, durability=Durability(policy="none"),
                              checkpoint_hook=hook)


def blocked_rows(result: WhatIfResult) -> list[tuple[str, int, int]]:
    """(gate, original, what-if) for every gate either side blocked on, sorted by gate."""
    gates = sorted(set(result.original.blocked) | set(result.whatif.blocked))
    return [(g, result.original.blocked.get(g, 0), result.whatif.blocked.get(g, 0))
            for g in gates]


def tally_rows(result: WhatIfResult) -> list[tuple[str, int, int]]:
    """(metric, original, what-if) rows of the decision diff summary."""
    o, w = result.original, result.whatif
    rows = [("opportunities", o.opportunities, w.opportunities),
            ("placed", o.placed, w.placed), ("orders", o.orders, w.orders),
            ("unwinds", o.unwinds, w.unwinds), ("cancels", o.cancels, w.cancels),
            ("blocked", sum(o.blocked.values()), sum(w.blocked.values()))]
    rows += [(f"  blocked by {g}", a, b) for g, a, b in blocked_rows(result)]
    return rows

