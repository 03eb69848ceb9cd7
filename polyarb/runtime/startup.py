# Starting a run on a journal: open it, rebuild the engine from what it holds, journal the
# run's start and its markets, and reconcile with the venue before anything trades.
#
# Rules:
# 1. The journal is opened first (the writer lock fails fast when another run holds it) and
#    recovered by the writer itself; seqs continue after the last record, never reused.
# 2. The engine is rebuilt from the journal (polyarb/runtime/rebuild.py, the replay path),
#    starting at its newest usable state_checkpoint. Decisions a crash cut off are journaled
#    before anything else and never acted on.
# 3. Then, in this order: RunStarted (run id, venue, code version, the redacted config and its
#    hash; the engine switches to this run's engine config exactly as replay does), then
#    MarketsLoaded (before any subscription), then reconciliation of open orders (trading runs).
#    Every one of them goes through the engine loop's `handle`: journal, apply, decisions, act.
# 4. Mid-day checkpoints ([journal] checkpoint_every_records) are scheduled before RunStarted,
#    counted from the checkpoint the rebuild started at, so the records a restart folds stay
#    bounded across restarts too.
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from polyarb import __version__
from polyarb.config import RunConfig
from polyarb.core.engine import Engine
from polyarb.core.stats import dollars
from polyarb.events.decisions import StateCheckpoint
from polyarb.events.inputs import MarketInfo, MarketsLoaded, RunStarted
from polyarb.journal import Durability, JournalWriter
from polyarb.runtime.loop import EngineLoop
from polyarb.runtime.rebuild import Rebuilt, rebuild

log = logging.getLogger(__name__)


class HookTarget:
    """The journal's checkpoint hook, bound to the engine loop once there is one."""

    def __init__(self) -> None:
        self.loop: EngineLoop | None = None

    def __call__(self, at_seq: int) -> StateCheckpoint | None:
        return None if self.loop is None else self.loop.checkpoint(at_seq)


def open_writer(config: RunConfig, hook: HookTarget) -> JournalWriter:
    """Open the run's journal (rule 1).

    Raises:
        JournalLocked, JournalCorrupt, JournalUnreadable: see JournalWriter.open.
    """
    j = config.journal
    return JournalWriter.open(
        Path(config.run.journal_dir),
        durability=Durability(policy=j.durability, batch_ms=j.batch_ms,
                              batch_records=j.batch_records),
        segment_max_bytes=j.segment_max_mb * 2**20,
        checkpoint_hook=hook,
    )


def new_run_id(clock: Callable[[], int]) -> str:
    """`r-<unix seconds>`: unique per journal in practice, readable in reports."""
    return f"r-{clock() // 1_000_000_000}"


def rebuild_engine(writer: JournalWriter) -> Rebuilt:
    """Rebuild from the journal (rule 2); logs what was found."""
    t0 = time.perf_counter()
    found = rebuild(writer.root, from_checkpoint=True)
    where = ("the start of the journal" if found.checkpoint_seq is None
             else f"the state_checkpoint at seq {found.checkpoint_seq}")
    if found.records or found.checkpoint_seq is not None:
        log.info("rebuilt the engine from %s and %d records after it (%d inputs) in %.1f s",
                 where, found.records, found.inputs, time.perf_counter() - t0)
    return found


def start_run(loop: EngineLoop, rebuilt: Rebuilt, config: RunConfig, run_id: str, venue: str,
              clock: Callable[[], int]) -> None:
    """Journal the crash-cut decisions and RunStarted, switching the engine config (rules 3-4)."""
    loop.run_seq = rebuilt.run_seq  # in force until our RunStarted (a day roll may come first)
    loop.schedule_checkpoints(config.journal.checkpoint_every_records,
                              since=rebuilt.checkpoint_seq or 0)
    if rebuilt.missing:
        log.warning("journaling %d decision(s) a crash cut off (not acted on)",
                    len(rebuilt.missing))
        loop.record(rebuilt.missing, act=False)
    if loop.engine.config != config.engine:  # what replay does at a run_started
        loop.engine = Engine.restore(loop.engine.snapshot(), config.engine)
    loop.handle(RunStarted(
        ts_recv_ns=clock(), run_id=run_id, venue=venue, code_version=__version__,
        config_hash=config.config_hash(), config=msgspec.Raw(config.canonical_json()),
        detect_only=config.engine.detect_only))


def load_into(loop: EngineLoop, markets: Sequence[MarketInfo], source: str,
              clock: Callable[[], int]) -> None:
    """Journal and apply the markets (before subscribing to them)."""
    loop.handle(MarketsLoaded(ts_recv_ns=clock(), source=source, markets=tuple(markets)))


def describe_markets(markets: Sequence[MarketInfo]) -> str:
    """`22 markets (2 neg-risk events), 44 tokens`."""
    groups = {m.neg_risk_market_id for m in markets if m.neg_risk_market_id}
    tokens = sum(len(m.tokens) for m in markets)
    return f"{len(markets)} markets ({len(groups)} neg-risk events), {tokens} tokens"


def plan_text(config: RunConfig, markets: Sequence[MarketInfo], account: str) -> str:
    """What a live run will trade and under which limits (shown before confirmation)."""
    e, b = config.engine, config.engine.breaker
    lines = [
        f"LIVE trading on {config.venue.clob_url} with account {account}",
        f"  markets: {describe_markets(markets)}",
        f"  detection: margin >= {e.detection.min_margin_bps} bps, "
        f">= {dollars(e.detection.min_leg_notional_micros)} per leg, orders "
        f"{e.execution.order_type}",
        f"  limits: daily loss {dollars(b.max_daily_loss_micros)}, open positions "
        f"{b.max_open_positions}, exposure per market {dollars(b.max_market_exposure_micros)}"
        f" / per event {dollars(b.max_group_exposure_micros)} / total "
        f"{dollars(b.max_total_exposure_micros)}",
        f"  unwind: max loss {dollars(e.execution.unwind.max_loss_micros)} per opportunity",
        f"  journal: {config.run.journal_dir}/ ({config.journal.durability})",
    ]
    return "\n".join(lines)


def engine_of(rebuilt: Rebuilt, config: RunConfig) -> Engine:
    """The rebuilt engine, or a fresh one for an empty journal."""
    return rebuilt.engine if rebuilt.engine is not None else Engine(config.engine)
