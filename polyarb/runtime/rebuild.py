# Rebuilding the engine's state from a journal: what a restart does before it trades again,
# along the same path `polyarb replay` takes (fold the journaled inputs through an engine).
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
# 4. A restart's fold (from_checkpoint=True) starts at the newest usable `state_checkpoint` (a
#    day's, or a mid-day one the loop journals every `[journal] checkpoint_every_records`),
#    found by scanning segment files backwards for the line head
#    `{"seq":N,"v":V,"kind":"state_checkpoint"` (a byte search; no record before it is
#    decoded). Usable: the line decodes (CRC), its state hashes to its
#    state_hash, Engine.restore accepts it and the restored engine hashes the same. Otherwise it
#    is skipped with a warning and the one before it is tried; none usable: fold from seq 1.
#    A checkpoint holds state only: the engine config in force there (and last_run_id) come from
#    the last run_started before it. The checkpoint names that record's seq (`run_seq`, v2), so
#    it is read directly: the manifests name the segment holding it, and a bisection over that
#    file's byte offsets (lines are in seq order; a line head gives its seq) finds the line in a
#    few small reads. A checkpoint that does not know it (v1, or journaled before the loop knew
#    its run) or names a record that is no run_started (warning) falls back to the same backward
#    scan as for checkpoints, over the days whose manifest lists a run (a closed day's run_ids
#    are exact; an open day is always scanned): on a long day that reads most of the day.
#    A checkpoint sits at an input boundary (after the input's decisions), so folding from it
#    gives the full fold's state, missing decisions and last_seq; records, inputs and
#    mismatches then count the records after it only.
from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from polyarb.config import engine_config_of
from polyarb.core.config import EngineConfig
from polyarb.core.engine import Engine
from polyarb.events import CodecError, decode_record
from polyarb.events.base import Decision, Event, Record
from polyarb.events.decisions import StateCheckpoint
from polyarb.events.inputs import RunStarted
from polyarb.journal import JournalCorrupt, Problem, iter_records, layout
from polyarb.journal.scan import MAX_LINE, kind_of_line, read_manifest_or_none
from polyarb.runtime.gcpause import gc_paused

log = logging.getLogger(__name__)

_CHUNK = 4 << 20  # backward scan window: one read, one rfind pass
_HEAD_MAX = 64  # `{"seq":<int>,"v":<int>` is shorter than this
_HEAD = re.compile(rb'\{"seq":(\d{1,20}),"v":\d{1,9}')
_BISECT_MIN = 64 << 10  # below this span, the lookup reads lines forward


@dataclass
class Rebuilt:
    """The state a journal leads to.

    Attributes:
        engine: the engine after every input (None for a journal without any record).
        records: records read (after the start checkpoint, when there is one).
        inputs: inputs folded (likewise).
        last_seq: seq of the last record (0 for an empty journal).
        last_run_id: run_id of the last run_started, if any.
        run_seq: seq of that run_started (0 when there is none): the loop journals it in its
            checkpoints until its own RunStarted.
        missing: decisions of the last input the journal lacks (rule 3).
        mismatches: inputs whose journaled decisions differ from the recomputed ones (rule 2),
            among those folded.
        checkpoint_seq: seq of the state_checkpoint the fold started from (rule 4), if any.
    """

    engine: Engine | None = None
    records: int = 0
    inputs: int = 0
    last_seq: int = 0
    last_run_id: str | None = None
    run_seq: int = 0
    missing: list[Decision] = field(default_factory=list)
    mismatches: int = 0
    checkpoint_seq: int | None = None


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

    def run_started(self, seq: int, ev: RunStarted) -> None:
        self.out.engine, _ = engine_for_run(self.out.engine, ev)
        self.out.last_run_id, self.out.run_seq = ev.run_id, seq

    def record(self, rec: Record) -> None:
        ev = rec.event
        self.out.records += 1
        self.out.last_seq = rec.seq
        if ev.ROLE == "decision":
            assert isinstance(ev, Decision)
            self.seen.append(ev)
            return
        if ev.ROLE != "input":
            return
        if self.out.inputs:
            self.close_input()
        if isinstance(ev, RunStarted):
            self.run_started(rec.seq, ev)
        if self.out.engine is None:
            self.out.engine = Engine(EngineConfig())
        self.out.inputs += 1
        self.expected = self.out.engine.apply(rec.seq, ev)
        self.seen = []


def config_of_run(ev: RunStarted | None) -> EngineConfig:
    """The engine config a run_started puts in force (EngineConfig() before any run).

    Raises:
        ConfigError: the run_started holds no valid engine config.
    """
    if ev is None or not bytes(ev.config):
        return EngineConfig()
    return engine_config_of(ev.config)


def engine_for_run(engine: Engine | None, ev: RunStarted) -> tuple[Engine, EngineConfig]:
    """The engine a run_started leads to (rule 1), and that run's engine config.

    Raises:
        ConfigError: the run_started holds no valid engine config.
    """
    config = config_of_run(ev)
    if engine is None:
        return Engine(config), config
    if engine.config != config:
        return Engine.restore(engine.snapshot(), config), config
    return engine, config


def rebuild(root: Path | str, *, from_checkpoint: bool = False) -> Rebuilt:
    """Fold a journal into an engine (rules 1-4).

    Args:
        root: the journal root.
        from_checkpoint: start at the newest usable state_checkpoint (rule 4): what a restart
            does. False (audits: the chaos checks, reports) folds every record from seq 1, so
            `mismatches` covers the whole journal.

    Raises:
        JournalCorrupt: the journal does not read cleanly (from the start point on).
        ConfigError: a run_started holds no valid engine config.
    """
    fold = _Fold()
    if not Path(root).is_dir() or not layout.list_days(Path(root)):
        return fold.out
    from_seq = 1
    start = latest_checkpoint(Path(root)) if from_checkpoint else None
    if start is not None:
        fold.out.engine, fold.out.last_run_id = start.engine, start.run_id
        fold.out.run_seq = start.run_seq
        fold.out.checkpoint_seq = fold.out.last_seq = from_seq = start.seq
        from_seq += 1
    for rec in iter_records(root, from_seq):
        fold.record(rec)
    if fold.out.inputs:
        fold.close_input(last=True)
    if fold.out.mismatches:
        log.warning("rebuild: %d input(s) whose journaled decisions differ from the engine's",
                    fold.out.mismatches)
    return fold.out


# --- the start checkpoint (rule 4) ----------------------------------------------------------


@dataclass
class Start:
    """A usable checkpoint: its seq, the engine restored from it, the run it belongs to."""

    seq: int
    engine: Engine
    run_id: str | None
    run_seq: int = 0  # seq of that run's run_started (0: none)


class _Unusable(Exception):
    """A state_checkpoint that cannot be started from (the message says why)."""


def latest_checkpoint(root: Path) -> Start | None:
    """The newest usable state_checkpoint of the journal at `root` (rule 4), or None.

    Raises:
        JournalCorrupt: the run_started before a checkpoint does not decode.
        ConfigError: that run_started holds no valid engine config.
    """
    for seq, line in _lines_back(root, b"state_checkpoint"):
        try:
            return _start_at(root, seq, line)
        except _Unusable as exc:
            log.warning("rebuild: skipping the state_checkpoint at seq %d: %s; trying an "
                        "earlier one", seq, exc)
    return None


def _start_at(root: Path, seq: int, line: bytes) -> Start:
    try:
        ckpt = decode_record(line).event
    except CodecError as exc:
        raise _Unusable(f"the line does not decode ({exc.reason})") from None
    assert isinstance(ckpt, StateCheckpoint)  # the head said so and the CRC holds
    data = bytes(ckpt.state)
    if hashlib.sha256(data).hexdigest() != ckpt.state_hash:
        raise _Unusable("its state does not hash to its state_hash")
    run_seq, run = run_in_force(root, seq, ckpt.run_seq)
    try:
        with gc_paused():  # a restore allocates the whole state at once
            engine = Engine.restore(data, config_of_run(run))
    except ValueError as exc:  # ConfigError is one too, but config_of_run raised it above
        raise _Unusable(str(exc)) from None
    with gc_paused():
        same = engine.state_hash() == ckpt.state_hash
    if not same:
        raise _Unusable("the restored engine does not hash to its state_hash")
    return Start(seq=seq, engine=engine, run_id=None if run is None else run.run_id,
                 run_seq=run_seq)


def run_in_force(root: Path, at: int, run_seq: int | None) -> tuple[int, RunStarted | None]:
    """(seq, record) of the run_started in force at seq `at`, (0, None) for none (rule 4).

    Args:
        root: the journal root.
        at: the seq of a state_checkpoint.
        run_seq: what that checkpoint says (None: it does not know; then a backward scan).

    Raises:
        JournalCorrupt: that run_started's line does not decode.
    """
    if run_seq == 0:
        return 0, None
    if run_seq is not None and 0 < run_seq < at:
        line = line_at(root, run_seq)
        if line is not None and kind_of_line(line) == "run_started":  # else: not the record
            ev = _decoded(root, run_seq, line)
            assert isinstance(ev, RunStarted)
            return run_seq, ev
    if run_seq is not None:
        log.warning("rebuild: the state_checkpoint at seq %d names seq %s as its run_started, "
                    "which is not one; scanning back for it", at, run_seq)
    found = next(_run_starts(root, at), None)
    return (0, None) if found is None else found


def last_run_started(root: Path, before: int) -> RunStarted | None:
    """The last run_started with a seq below `before` (a backward scan, rule 4).

    Raises:
        JournalCorrupt: its line does not decode.
    """
    found = next(_run_starts(root, before), None)
    return None if found is None else found[1]


def _run_starts(root: Path, before: int) -> Iterator[tuple[int, RunStarted]]:
    """(seq, record) of the run_started records below `before`, newest first."""
    for seq, line in _lines_back(root, b"run_started", before, runs_only=True):
        ev = _decoded(root, seq, line)
        assert isinstance(ev, RunStarted)
        yield seq, ev


def _decoded(root: Path, seq: int, line: bytes) -> Event:
    try:
        return decode_record(line).event
    except CodecError as exc:
        raise JournalCorrupt([Problem(file=str(root), seq=seq, message=exc.reason)]) from None


def line_at(root: Path, seq: int) -> bytes | None:
    """The journal line of `seq` (not decoded), or None when no segment holds it (rule 4)."""
    for day in reversed(layout.list_days(root)):
        m, _ = read_manifest_or_none(root / day)
        if m is None or m.first_seq is None or m.first_seq > seq:
            continue  # an unreadable manifest: the scan and the forward read name the problem
        holding = [info for info in m.segments if info.first_seq <= seq]
        if holding and (root / day / holding[-1].name).exists():
            return _bisect(root / day / holding[-1].name, seq)
        return None
    return None


def _bisect(path: Path, seq: int) -> bytes | None:
    """The line of `seq` in one segment file (seqs ascend line by line), by bisection."""
    with open(path, "rb") as f:
        # A line starts at lo with a seq <= `seq` (or it is the file's first line, whose seq the
        # manifest says is <= `seq`); no line starting at or after hi has a seq <= `seq`.
        lo, hi = 0, f.seek(0, os.SEEK_END)
        while hi - lo > _BISECT_MIN:
            mid = (lo + hi) // 2
            f.seek(mid - 1)
            start = mid - 1 + len(f.readline(MAX_LINE + 1))  # the first line start >= mid
            if start < hi:
                f.seek(start)
                head = _head_seq(f.read(_HEAD_MAX))
                if head is not None and head <= seq:
                    lo = start
                    continue
            hi = mid  # no line starts in [mid, start); from start on, seqs are above `seq`
        f.seek(lo)
        for line in f:  # at most _BISECT_MIN bytes of lines before it
            head = _head_seq(line)
            if head is None or head >= seq:
                return line if head == seq else None
    return None


def _head_seq(data: bytes) -> int | None:
    head = _HEAD.match(data)
    return None if head is None else int(head.group(1))


def _lines_back(root: Path, kind: bytes, before: int | None = None, *,
                runs_only: bool = False) -> Iterator[tuple[int, bytes]]:
    """(seq, line) of the records of `kind` with seq < before, newest first.

    runs_only: skip closed days whose manifest lists no run (their run_ids are exact).
    """
    for day in reversed(layout.list_days(root)):
        m, _ = read_manifest_or_none(root / day)
        if m is None or (runs_only and m.closed and not m.run_ids):
            continue  # an unreadable manifest: the forward read names the problem
        for info in reversed(m.segments):
            if before is not None and info.first_seq >= before:
                continue
            path = root / day / info.name
            if path.exists():
                yield from _segment_back(path, kind, before)


def _segment_back(path: Path, kind: bytes, before: int | None) -> Iterator[tuple[int, bytes]]:
    """_lines_back within one segment file, read backwards a chunk at a time."""
    needle = b',"kind":"' + kind + b'",'
    with open(path, "rb") as f:
        hi = f.seek(0, os.SEEK_END)
        while hi > 0:
            lo = max(0, hi - _CHUNK)
            # From one byte before lo (the newline ending the line before; "\n" at the file's
            # start) to past hi by a head's length, so a head starting in [lo, hi) is whole.
            f.seek(max(0, lo - 1))
            buf = (b"\n" if lo == 0 else b"") + f.read(hi - lo + 1 + _HEAD_MAX + len(needle))
            for start, seq in _heads(buf, needle, hi - lo + 1):
                if before is None or seq < before:
                    f.seek(lo - 1 + start)
                    yield seq, f.readline(MAX_LINE + 1)
            hi = lo


def _heads(buf: bytes, needle: bytes, limit: int) -> Iterator[tuple[int, int]]:
    """(offset in buf, seq) of the record heads of the needle's kind starting before `limit`,
    last first: the needle preceded by `{"seq":N,"v":V` right after a newline."""
    end = len(buf)
    while (p := buf.rfind(needle, 0, end)) > 0:
        end = p + len(needle) - 1
        nl = buf.rfind(b"\n", max(0, p - _HEAD_MAX), p)
        if nl < 0 or nl + 1 >= limit:
            continue  # inside a long line, or a head the next (later) window holds
        head = _HEAD.fullmatch(buf, nl + 1, p)
        if head is not None:
            yield nl + 1, int(head.group(1))
