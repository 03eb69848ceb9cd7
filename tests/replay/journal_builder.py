# Journals written the way the runtime writes them: each input is appended, folded through the
# engine with the seq the writer gave it, and the decisions it causes are appended right after
# it; at a UTC day roll the writer's checkpoint hook journals the engine's state_checkpoint.
#
# `standard_journal` scripts one fixed two-day run used by the replay and report tests: a
# complete-set buy filled and resolved on the feed, a neg-risk basket of three filled with fees,
# a restart (second run_started), a legged opportunity (in-flight block, rejected leg, retry),
# a voided fill, resolutions by markets_loaded and by the feed, reconnects, a stale period, a
# garbage frame and an operator halt/resume. Rules: no clock, no randomness; the same script
# gives the same bytes.
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import msgspec

from polyarb.core.config import EngineConfig
from polyarb.events import StateCheckpoint
from polyarb.events.base import Decision, Input
from polyarb.events.decisions import OrderIntent, PlaceOrders, Unwind
from polyarb.events.inputs import (
    ConnectionClosed,
    ConnectionOpened,
    FeeSchedule,
    MarketsLoaded,
    ReconnectScheduled,
    RunStarted,
    SubscriptionSent,
)
from polyarb.journal import Durability, JournalWriter
from tests.core.engine_helpers import (
    MS,
    SEC,
    T0,
    USD,
    Run,
    group_markets,
    market,
    of,
    text_frame,
)

DAY_NS = 86_400 * SEC
DecisionFilter = Callable[[int, list[Decision]], list[Decision]]
FEES = FeeSchedule(rate=Decimal("0.02"))


class JournalRun(Run):
    """engine_helpers.Run that journals every input and decision with a real JournalWriter."""

    def __init__(self, root: Path, config: EngineConfig | None = None, *, ts: int = T0,
                 checkpoints: bool = True, journal_filter: DecisionFilter | None = None) -> None:
        super().__init__(config, ts=ts)
        self._ts = ts
        # What the "runtime" journals of each input's decisions (a test can drop or add some).
        self.journal_filter = journal_filter or (lambda seq, out: out)
        hook = self._checkpoint if checkpoints else None
        self.writer = JournalWriter.open(root, durability=Durability(policy="none"),
                                         checkpoint_hook=hook)

    def _checkpoint(self, last_seq: int) -> StateCheckpoint:
        return self.engine.checkpoint(last_seq, self._ts)

    def feed(self, event: Input) -> list[Decision]:
        self._ts = event.ts_recv_ns
        seq = self.writer.append(event)
        out = self.engine.apply(seq, event)
        for decision in self.journal_filter(seq, out):
            self.writer.append(decision)
        self.seq = seq
        self.inputs.append((seq, event))
        self.decisions.extend(out)
        return out

    def run_started(self, run_id: str = "r1") -> list[Decision]:
        cfg = self.engine.config
        return self.feed(RunStarted(
            ts_recv_ns=self.next_ts(), run_id=run_id, venue="test", code_version="0.1.0",
            config_hash=cfg.config_hash(), config=msgspec.Raw(cfg.canonical_json())))

    def close(self) -> None:
        self.writer.close()


def batches(out: list[Decision]) -> list[PlaceOrders]:
    return of(out, PlaceOrders)


def standard_journal(root: Path, config: EngineConfig | None = None, *,
                     checkpoints: bool = True,
                     journal_filter: DecisionFilter | None = None) -> JournalRun:
    """Write the fixed two-day run (see the module header) under root; returns the run."""
    run = JournalRun(root, config, checkpoints=checkpoints, journal_filter=journal_filter)
    run.run_started("r1")
    _day_one(run)
    run.now = T0 + DAY_NS + 3_600 * SEC  # 2025-12-28T01:00Z: the writer rolls the day
    _day_two(run)
    run.close()
    return run


def _day_one(run: JournalRun) -> None:
    run.load(market("0xm1", "Y1", "N1"), *group_markets("0xgrp", 3, "g"))
    run.feed(ConnectionOpened(ts_recv_ns=run.next_ts(), conn="market-0", url="wss://test/ws"))
    run.feed(SubscriptionSent(ts_recv_ns=run.next_ts(), conn="market-0", operation="initial",
                              asset_ids=("Y1", "N1", "gY1", "gY2", "gY3")))
    run.book("Y1", [(400_000, 100 * USD)], [(450_000, 40 * USD)])
    [pair] = batches(run.book("N1", [(400_000, 100 * USD)], [(500_000, 40 * USD)]))
    y, n = pair.orders
    run.now += 40 * MS
    run.accept(y)
    run.accept(n)
    run.now += 200 * MS
    run.fill(y, tid="t-y1")
    run.fill(n, tid="t-n1")
    run.fill(y, tid="t-y1", status="MINED")
    run.fill(y, tid="t-y1", status="CONFIRMED")
    run.book("gY1", [(250_000, 100 * USD)], [(300_000, 40 * USD)])
    run.book("gY2", [(250_000, 100 * USD)], [(300_000, 40 * USD)])
    [basket] = batches(run.book("gY3", [(250_000, 100 * USD)], [(300_000, 40 * USD)]))
    run.now += 30 * MS
    for i, order in enumerate(basket.orders):
        run.accept(order)
        run.fill(order, tid=f"t-g{i + 1}", fee=200_000)
    run.clock(10 * SEC)
    run.send({"event_type": "market_resolved", "market": "0xm1", "assets_ids": ["Y1", "N1"],
              "winning_asset_id": "Y1", "winning_outcome": "Yes"})
    run.clock(10 * SEC)


def _day_two(run: JournalRun) -> None:
    run.run_started("r2")  # a restart: same config, the state continues
    run.feed(ConnectionClosed(ts_recv_ns=run.next_ts(), conn="market-0", reason="timeout",
                              code=1006))
    run.feed(ReconnectScheduled(ts_recv_ns=run.next_ts(), conn="market-0", attempt=1,
                                delay_ms=1000))
    run.feed(ConnectionOpened(ts_recv_ns=run.next_ts(SEC), conn="market-0",
                              url="wss://test/ws"))
    run.load(market("0xm2", "Y2", "N2", fees=FEES))
    _legged(run)
    run.fill(_basket_order(run, 2), tid="t-g3", fee=200_000, status="FAILED")
    run.feed(MarketsLoaded(ts_recv_ns=run.next_ts(), source="test", markets=(
        msgspec.structs.replace(group_markets("0xgrp", 3, "g")[0], winning_token_id="gN1"),)))
    run.send({"event_type": "market_resolved", "market": "0xg02", "assets_ids": ["gY2", "gN2"],
              "winning_asset_id": "gY2", "winning_outcome": "Yes"})
    run.feed(text_frame("INVALID OPERATION{", run.next_ts()))
    run.clock(61 * SEC)  # no book update for a minute: stale
    run.book("Y2", [(400_000, 100 * USD)], [(450_000, 10 * USD)])
    run.operator("halt", "maintenance")
    run.operator("resume", "done")


def _legged(run: JournalRun) -> None:
    run.book("Y2", [(400_000, 100 * USD)], [(450_000, 40 * USD)])
    [pair] = batches(run.book("N2", [(400_000, 100 * USD)], [(500_000, 40 * USD)]))
    y, n = pair.orders
    run.now += 50 * MS
    run.accept(y)
    run.fill(y, tid="t-y2", fee=300_000)
    run.change(("N2", "SELL", 500_000, 0), ("N2", "SELL", 520_000, 50 * USD))
    [unwind] = of(run.reject(n), Unwind)
    [retry] = unwind.orders
    run.now += 20 * MS
    run.accept(retry)
    run.fill(retry, tid="t-n2", fee=300_000)


def _basket_order(run: JournalRun, i: int) -> OrderIntent:
    basket = next(d for d in run.decisions if type(d) is PlaceOrders and len(d.orders) == 3)
    return basket.orders[i]
