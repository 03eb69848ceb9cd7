# `polyarb replay`: fold a journal's inputs through the deterministic core again and check that
# every decision it makes is byte for byte the one the journal holds.
#
# Rules:
# 1. Decisions are compared in canonical form (polyarb.events.encode_event), in journal order.
#    The runtime journals an input, applies it, then journals its decisions, so the decisions
#    the engine returns for an input must be exactly the decision records that follow it, before
#    the next input or checkpoint (other journal notes may sit between them: after a crash cut
#    an input's decisions, the restart journals the missing ones after its journal_recovered,
#    see polyarb/runtime/rebuild.py). The first difference stops the replay: a field that differs,
#    a decision the journal holds that the engine did not make ("extra"), or one the engine
#    made that the journal lacks ("missing", named by the seq of the input that caused it).
# 2. Where to start (replay_plan.py): a day replays on its own from its `state_checkpoint` (the
#    engine is restored from it and its hash is checked); a day without one replays from the
#    nearest earlier day that has one, or from the start of the journal; if such an earlier day
#    is missing the replay refuses (ReplayError) rather than guess a state.
# 3. Every `state_checkpoint` met on the way is checked: the engine's state hash must equal the
#    recorded one (a "state_hash" divergence otherwise, with the first differing state fields).
# 4. Config: the journal's own (the `config` of the latest `run_started`; EngineConfig()
#    defaults before any); a later run_started with another config switches the engine to it
#    and keeps its state (a restarted run continues). An explicit config (`--config`) wins over
#    every run_started.
# 5. Unreadable or corrupt journals raise polyarb.journal's errors; nothing is skipped.
# 6. Speed (replay is the engine's fold plus as little as possible): lines come a scanner chunk
#    at a time (polyarb.journal.reader.iter_blocks: every CRC checked, one format and one CRC
#    per line) and a market frame owed no decision goes from one whole-line decode straight to
#    Engine.apply; every other record takes _step. A line the fast check does not vouch for
#    takes the reference decode, so results and errors are those of a per-line read.
from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import msgspec

from polyarb.core.config import EngineConfig
from polyarb.core.engine import Engine
from polyarb.core.stats import RunStats
from polyarb.events import Decision, Event, Record, RunStarted, StateCheckpoint, encode_event
from polyarb.events.inputs import RawFrame
from polyarb.journal import JournalCorrupt, Problem
from polyarb.journal.fastscan import decode
from polyarb.journal.reader import LineBlock, iter_blocks
from polyarb.replay_config import ConfigError, config_from_journal
from polyarb.replay_diff import FieldDiff, diff_json
from polyarb.replay_plan import ReplayError, ReplayPlan, plan_replay

__all__ = ["Divergence", "ReplayError", "ReplayResult", "replay_journal"]

Progress = Callable[[int], None]
DivergenceKind = Literal["mismatch", "extra", "missing", "state_hash"]


class Divergence(msgspec.Struct, frozen=True, kw_only=True):
    """Where a replay first disagreed with the journal.

    Attributes:
        kind: mismatch (a decision differs), extra (the journal holds a decision the engine
            did not make), missing (the engine made a decision the journal lacks), state_hash
            (a state checkpoint's hash differs from the engine's state).
        seq: the journal seq where the disagreement shows: the differing or extra decision,
            the checkpoint, or (missing) the record found where the decision was expected.
        cause_seq: the seq of the input that caused the decision (None for state_hash).
        message: one readable line.
        diffs: field by field, journal (expected) vs replay (got).
    """

    kind: DivergenceKind
    seq: int | None
    cause_seq: int | None
    message: str
    diffs: tuple[FieldDiff, ...] = ()


class ReplayResult(msgspec.Struct, kw_only=True):
    """What a replay did; `divergence` is None when every decision was identical."""

    root: str
    days: list[str]
    start: str
    first_seq: int | None = None
    last_seq: int | None = None
    records: int = 0
    inputs: int = 0
    decisions: int = 0
    notes: int = 0
    checkpoints: int = 0
    stats: RunStats = msgspec.field(default_factory=RunStats)
    realized_micros: int = 0
    divergence: Divergence | None = None
    warnings: list[str] = msgspec.field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.divergence is None


def replay_journal(path: Path | str, *, config: EngineConfig | None = None,
                   on_progress: Progress | None = None) -> ReplayResult:
    """Replay a journal root or one day directory and compare every decision (rules 1-5).

    Args:
        path: a journal root (`journal/`) or a day (`journal/2025-12-27`).
        config: use this config instead of the journaled ones (rule 4).
        on_progress: called with the number of records read so far, now and then.

    Returns:
        The counts, the engine's statistics line and the first divergence (if any).

    Raises:
        JournalUnreadable: missing, not a journal.
        JournalCorrupt: a bad record, a seq gap (names the file, line and seq).
        ReplayError: no usable start (earlier days missing, bad checkpoint or config).
    """
    started = time.perf_counter()
    plan = plan_replay(path, config)
    result = ReplayResult(root=str(plan.root), days=plan.days, start=plan.describe(),
                          warnings=list(plan.warnings))
    runner = _Runner(plan, config is not None, result)
    try:
        runner.run(_blocks(plan), on_progress)
    finally:
        result.elapsed_s = time.perf_counter() - started
    return result


def _blocks(plan: ReplayPlan) -> Iterator[LineBlock]:
    """Checked lines of the planned days from the start seq on, with seq continuity across days."""
    expect: int | None = None
    for day in plan.days:
        for block in iter_blocks(plan.root, plan.from_seq, day=day):
            if expect is not None and block.first_seq != expect:
                raise JournalCorrupt([Problem(file=day, seq=block.first_seq, message=(
                    f"day starts at seq {block.first_seq}, the previous day ended at "
                    f"{expect - 1}"))])
            expect = block.first_seq + len(block.lines)
            yield block


def _records(plan: ReplayPlan) -> Iterator[Record]:
    """The records of _blocks, decoded (what-if's reader)."""
    for block in _blocks(plan):
        yield from block.records()


class _Runner:
    """The replay loop: one engine, the decisions it owes the journal, the counters."""

    def __init__(self, plan: ReplayPlan, locked: bool, result: ReplayResult) -> None:
        self.plan = plan
        self.locked = locked  # an explicit config: run_started records do not change it
        self.result = result
        self.engine = Engine(plan.config)
        self.pending: deque[Decision] = deque()
        self.cause: tuple[int, str] = (0, "")  # the input the pending decisions came from

    def run(self, blocks: Iterator[LineBlock], on_progress: Progress | None) -> None:
        res = self.result
        if self.plan.checkpoint is not None:
            self.engine = self._restore(self.plan.checkpoint)
            if res.divergence is not None:
                return
        for block in blocks:
            if res.first_seq is None:
                res.first_seq = block.first_seq
            done = self._fold(block)
            res.records += done
            res.last_seq = block.first_seq + done - 1
            if res.divergence is not None:
                break
            if on_progress is not None:  # a block is a scanner chunk: ~1 MiB of records
                on_progress(res.records)
        else:
            if self.pending:
                res.divergence = self._missing(None)
        if on_progress is not None:
            on_progress(res.records)
        res.stats = self.engine.stats()
        res.realized_micros = self.engine.execution.positions.realized_micros()

    def _fold(self, block: LineBlock) -> int:
        """Fold one block of checked lines; returns how many were read (fewer at a divergence).

        The common record (a market frame while no decision is owed) goes straight from the
        fast decode to Engine.apply; everything else takes _step.
        """
        seq, fast, pending = block.first_seq, block.fast, self.pending
        apply = self.engine.apply
        inputs = 0
        for i, line in enumerate(block.lines):
            if fast:
                try:
                    ev = decode(line)
                except Exception:  # the reference decode names the reason
                    ev = block.record(i).event
            else:
                ev = block.record(i).event
            if type(ev) is RawFrame and not pending:
                inputs += 1
                out = apply(seq + i, ev)
                if out:
                    pending.extend(out)
                    self.cause = (seq + i, "raw_frame")
                continue
            divergence = self._step(seq + i, ev)
            apply = self.engine.apply  # a run_started may have switched the engine
            if divergence is not None:
                self.result.divergence = divergence
                self.result.inputs += inputs
                return i + 1
        self.result.inputs += inputs
        return len(block.lines)

    def _step(self, seq: int, ev: Event) -> Divergence | None:
        role = ev.ROLE
        if role == "decision":
            self.result.decisions += 1
            return self._compare(seq, ev)  # type: ignore[arg-type]
        if role == "journal" and type(ev) is not StateCheckpoint:
            self.result.notes += 1  # journal_recovered may sit between an input's decisions
            return None
        if self.pending:
            return self._missing(seq)
        if role == "input":
            self.result.inputs += 1
            if type(ev) is RunStarted and not self.locked:
                self._switch_config(seq, ev)
            self.pending.extend(self.engine.apply(seq, ev))
            self.cause = (seq, _kind(ev))
            return None
        self.result.notes += 1
        self.result.checkpoints += 1
        return self._check_state(seq, ev)  # type: ignore[arg-type]

    # ---- decisions -------------------------------------------------------------------------

    def _compare(self, seq: int, journaled: Decision) -> Divergence | None:
        expected = encode_event(journaled)
        if not self.pending:
            return Divergence(
                kind="extra", seq=seq, cause_seq=journaled.cause_seq,
                message=(f"seq {seq}: the journal holds a {_kind(journaled)} (cause_seq "
                         f"{journaled.cause_seq}) that the replay did not produce"),
                diffs=tuple(diff_json(expected, b"{}")))
        got = self.pending.popleft()
        got_bytes = encode_event(got)
        if got_bytes == expected:
            return None
        return Divergence(
            kind="mismatch", seq=seq, cause_seq=got.cause_seq,
            message=(f"seq {seq}: the journaled {_kind(journaled)} differs from the replay's "
                     f"{_kind(got)} (caused by input seq {got.cause_seq}, {self.cause[1]})"),
            diffs=tuple(diff_json(expected, got_bytes)))

    def _missing(self, seq: int | None) -> Divergence:
        got = self.pending[0]
        where = "the journal ends" if seq is None else f"the journal has seq {seq} next"
        return Divergence(
            kind="missing", seq=seq, cause_seq=got.cause_seq,
            message=(f"input seq {got.cause_seq} ({self.cause[1]}) made the replay produce a "
                     f"{_kind(got)} that the journal lacks ({where}; "
                     f"{len(self.pending)} decision(s) missing)"),
            diffs=tuple(diff_json(b"{}", encode_event(got))))

    # ---- config and state ------------------------------------------------------------------

    def _switch_config(self, seq: int, ev: RunStarted) -> None:
        raw = bytes(ev.config)
        try:
            cfg = config_from_journal(raw, seq)
        except ConfigError as exc:
            raise ReplayError(f"{exc}; pass --config to replay with another config") from None
        if ev.config_hash not in (cfg.config_hash(), hashlib.sha256(raw).hexdigest()):
            self.result.warnings.append(
                f"run_started at seq {seq}: config_hash does not match the journaled config")
        if cfg != self.engine.config:
            self.engine = Engine.restore(self.engine.snapshot_bytes(), cfg)

    def _restore(self, ckpt: tuple[int, StateCheckpoint]) -> Engine:
        seq, record = ckpt
        data = bytes(record.state)
        if hashlib.sha256(data).hexdigest() != record.state_hash:
            raise ReplayError(f"state_checkpoint at seq {seq}: its state does not hash to its "
                              "state_hash; replay the journal from an earlier day")
        try:
            engine = Engine.restore(data, self.plan.config)
        except ValueError as exc:
            raise ReplayError(f"state_checkpoint at seq {seq}: {exc}") from None
        self.result.checkpoints += 1
        if engine.state_hash() != record.state_hash:
            self.result.divergence = _state_divergence(seq, record, engine, "restored from it")
        return engine

    def _check_state(self, seq: int, ckpt: StateCheckpoint) -> Divergence | None:
        if self.engine.state_hash() == ckpt.state_hash:
            return None
        return _state_divergence(seq, ckpt, self.engine, f"after folding up to seq {ckpt.at_seq}")


def _state_divergence(seq: int, ckpt: StateCheckpoint, engine: Engine, when: str) -> Divergence:
    state = bytes(ckpt.state)
    diffs = diff_json(state, engine.snapshot_bytes(), limit=20) if state else []
    return Divergence(
        kind="state_hash", seq=seq, cause_seq=None, diffs=tuple(diffs),
        message=(f"seq {seq}: state_checkpoint hash {ckpt.state_hash[:16]}... but the engine "
                 f"{when} hashes to {engine.state_hash()[:16]}..."))


def _kind(ev: Event) -> str:
    tag = type(ev).__struct_config__.tag
    return str(tag)
