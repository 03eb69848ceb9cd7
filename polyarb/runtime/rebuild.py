# Rebuilding the engine's state from a journal: what a restart does before it trades again,
# along the same path `polyarb replay` takes (fold the journaled inputs through a fresh engine).
#
# Rules:
# 1. Records are folded in seq order. Inputs before any run_started use EngineConfig(); at each
#    run_started the state carries over and the engine switches to that run's engine config
#    (the "engine" key of its config, polyarb.config.engine_config_of) via
#    Engine.restore(snapshot, config). Decisions and journal notes are not folded.
# 2. While folding, the decisions recomputed for each input are compared with the ones the
#    journal holds after it; mismatches are counted (the replay engineer's `polyarb replay`
#    reports them in detail), never fatal here.
# 3. A crash can cut the journal between an input and (some of) its decisions: only the last
#    input can be affected, because an input's decisions are journaled right after it in the
#    same synchronous step. Those missing decisions (a suffix of the recomputed list) are
#    returned so the restart journals them, with their original cause_seq, before anything
#    else: the journal then holds every decision the engine made. They were never acted on
#    (an action leaves only once durable), so their orders have no answer and reconciliation
#    resolves them.
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from polyarb.config import engine_config_of
from polyarb.core.config import EngineConfig
from polyarb.core.engine import Engine
from polyarb.events.base import Decision
from polyarb.events.inputs import RunStarted
from polyarb.journal import iter_records, layout

log = logging.getLogger(__name__)


@dataclass
class Rebuilt:
    """The state a journal leads to.

    Attributes:
        engine: the engine after every input (None for a journal without any record).
        records: records read.
        inputs: inputs folded.
        last_seq: seq of the last record (0 for an empty journal).
        last_run_id: run_id of the last run_started, if any.
        missing: decisions of the last input the journal lacks (rule 3).
        mismatches: inputs whose journaled decisions differ from the recomputed ones (rule 2).
    """

    engine: Engine | None = None
    records: int = 0
    inputs: int = 0
    last_seq: int = 0
    last_run_id: str | None = None
    missing: list[Decision] = field(default_factory=list)
    mismatches: int = 0


class _Fold:
    def __init__(self) -> None:
        self.out = Rebuilt()
        self.expected: list[Decision] = []
        self.seen: list[Decision] = []

    def close_input(self, last: bool = False) -> None:
        exp, seen = self.expected, self.seen
        if seen != exp[:len(seen)] or (len(seen) < len(exp) and not last):
            self.out.mismatches += 1
        elif last:
            self.out.missing = exp[len(seen):]

    def run_started(self, ev: RunStarted) -> None:
        self.out.engine, _ = engine_for_run(self.out.engine, ev)
        self.out.last_run_id = ev.run_id


def engine_for_run(engine: Engine | None, ev: RunStarted) -> tuple[Engine, EngineConfig]:
    """The engine a run_started leads to (rule 1), and that run's engine config.

    Raises:
        ConfigError: the run_started holds no valid engine config.
    """
    config = engine_config_of(ev.config) if bytes(ev.config) else EngineConfig()
    if engine is None:
        return Engine(config), config
    if engine.config != config:
        return Engine.restore(engine.snapshot(), config), config
    return engine, config


def rebuild(root: Path | str) -> Rebuilt:
    """Fold a journal into an engine (rules 1-3).

    Args:
        root: the journal root.

    Raises:
        JournalCorrupt: the journal does not read cleanly.
        ConfigError: a run_started holds no valid engine config.
    """
    fold = _Fold()
    if not Path(root).is_dir() or not layout.list_days(Path(root)):
        return fold.out
    for rec in iter_records(root):
        ev = rec.event
        fold.out.records += 1
        fold.out.last_seq = rec.seq
        if ev.ROLE == "decision":
            assert isinstance(ev, Decision)
            fold.seen.append(ev)
            continue
        if ev.ROLE != "input":
            continue
        if fold.out.inputs:
            fold.close_input()
        if isinstance(ev, RunStarted):
            fold.run_started(ev)
        if fold.out.engine is None:
            fold.out.engine = Engine(EngineConfig())
        fold.out.inputs += 1
        fold.expected = fold.out.engine.apply(rec.seq, ev)
        fold.seen = []
    if fold.out.inputs:
        fold.close_input(last=True)
    if fold.out.mismatches:
        log.warning("rebuild: %d input(s) whose journaled decisions differ from the engine's",
                    fold.out.mismatches)
    return fold.out
