# Small hand-built journals for the chaos checks: the engine test helpers' Run, with every input
# and the decisions it causes kept as journal Records (global seqs, decisions right after their
# input), and a filter to drop or alter journaled decisions for the failing cases.
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec

from polyarb.core.config import EngineConfig
from polyarb.events.base import Decision, Input, Record
from polyarb.events.decisions import PlaceOrders
from polyarb.events.inputs import RunStarted
from polyarb.journal import Durability, JournalWriter
from tests.core.engine_helpers import SEC, USD, Run, market, of

Keep = Callable[[Decision], bool]


class RecordRun(Run):
    """A Run whose inputs and (kept) decisions become journal Records, in journal order."""

    def __init__(self, config: EngineConfig | None = None, keep: Keep | None = None) -> None:
        super().__init__(config)
        self.records: list[Record] = []
        self.keep = keep or (lambda d: True)

    def feed(self, event: Input) -> list[Decision]:
        seq = len(self.records) + 1
        self.records.append(Record(seq, event))
        out = self.engine.apply(seq, event)
        for decision in (d for d in out if self.keep(d)):
            self.records.append(Record(len(self.records) + 1, decision))
        self.decisions.extend(out)
        return out

    def started(self, journaled: EngineConfig | None = None) -> None:
        """A run_started journaling `journaled` (default: the engine's own config)."""
        cfg = journaled or self.engine.config
        body = msgspec.json.encode({"engine": msgspec.to_builtins(cfg)})
        self.feed(RunStarted(ts_recv_ns=self.next_ts(), run_id="r1", venue="test",
                             code_version="0", config_hash=cfg.config_hash(),
                             config=msgspec.Raw(body)))


def complete_set(run: RecordRun) -> PlaceOrders:
    """Load one market and show books that make a complete-set buy; returns its batch."""
    run.load(market("0xm1", "Y1", "N1"))
    run.book("Y1", [(400_000, 100 * USD)], [(450_000, 40 * USD)])
    [batch] = of(run.book("N1", [(400_000, 100 * USD)], [(500_000, 40 * USD)]), PlaceOrders)
    return batch


def resolved_set(run: RecordRun) -> None:
    """A complete set bought, filled, and its market resolved: $2 realized on 40 sets."""
    batch = complete_set(run)
    run.fill_all([batch])
    run.send({"event_type": "market_resolved", "market": "0xm1", "assets_ids": ["Y1", "N1"],
              "winning_asset_id": "Y1", "winning_outcome": "Yes"})


def write_journal(root: Path, records: list[Record]) -> None:
    """Journal the records' events with a real writer (its seqs start with its day_opened, so
    cause_seqs are off by one: fine for P&L, which does not read them)."""
    with JournalWriter.open(root, durability=Durability(policy="none")) as writer:
        for rec in records:
            writer.append(rec.event)


def legged(run: RecordRun) -> None:
    """A complete set whose YES leg fills and NO leg rests unfilled past the unwind timeout."""
    batch = complete_set(run)
    y, n = batch.orders
    run.accept(y)
    run.fill(y)
    run.accept(n, status="live")
    for _ in range(12):
        run.clock(SEC)
