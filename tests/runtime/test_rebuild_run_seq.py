# The run_started a restart needs is the one a state_checkpoint names (`run_seq`, v2): every
# checkpoint the loop journals names the last run_started before it (several runs a day, mid-day
# checkpoints, a day roll before a restart's RunStarted); the restart reads that record with a
# search of its one segment, picks the right run (config, run id) and equals the full fold; a
# checkpoint that does not name it (v1) or names a wrong record falls back to the backward scan.
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from polyarb.config import RunConfig
from polyarb.core.config import EngineConfig
from polyarb.core.engine import Engine
from polyarb.events import StateCheckpoint
from polyarb.events.inputs import MarketsLoaded, RunStarted
from polyarb.journal import Durability, JournalWriter, iter_records
from polyarb.runtime import rebuild as rebuild_module
from polyarb.runtime.counters import Counters
from polyarb.runtime.loop import EngineLoop, Frame
from polyarb.runtime.rebuild import Rebuilt, line_at, rebuild, run_in_force
from polyarb.runtime.startup import HookTarget, start_run
from tests.core.engine_helpers import MS, T0, USD, book_msg
from tests.runtime.helpers import basket
from tests.runtime.restart_scenario import Scenario, reencoded, rewrite_record

DETECT_ONLY = EngineConfig(detect_only=True)


def _truth(root: Path) -> Iterator[tuple[int, StateCheckpoint, int]]:
    """(seq, checkpoint, seq of the last run_started before it or 0) of every checkpoint."""
    run_seq = 0
    for rec in iter_records(root):
        if type(rec.event) is RunStarted:
            run_seq = rec.seq
        elif type(rec.event) is StateCheckpoint:
            yield rec.seq, rec.event, run_seq


def _three_runs_a_day(root: Path) -> Scenario:
    """Three runs in one day (configs differ), mid-day checkpoints in each, then a day roll
    between a stop and a restart, and a fourth run."""
    s = Scenario(root, every=15)
    for config, ask in ((DETECT_ONLY, 300_000), (EngineConfig(), 310_000),
                        (DETECT_ONLY, 320_000)):
        s.stop()
        s.start(config)
        s.frames(ask)
        s.tick(1)
        s.frames(ask + 1_000)
    s.stop()
    s.next_day()
    s.start(EngineConfig())  # the day roll's checkpoint comes before this run's RunStarted
    s.frames(330_000)
    s.stop()
    return s


def test_rebuild_run_seq_every_checkpoint_names_the_last_run_started_before_it(
        tmp_path: Path) -> None:
    # Arrange
    _three_runs_a_day(tmp_path / "j")

    # Act
    found = list(_truth(tmp_path / "j"))

    # Assert: checkpoints in each run, and one at the day roll naming the run before the restart
    assert len({run for _seq, _ckpt, run in found}) >= 4
    for _seq, ckpt, run_seq in found:
        assert ckpt.run_seq == run_seq


def test_rebuild_run_seq_restart_after_each_run_picks_that_run(tmp_path: Path) -> None:
    # Arrange: restart (rebuild from the newest checkpoint) after every run of one day
    s = Scenario(tmp_path / "j", every=15)
    expected: list[tuple[str | None, int]] = []
    for n, config in enumerate((DETECT_ONLY, EngineConfig(), DETECT_ONLY)):
        if n:
            s.start(config)
        s.frames(300_000 + n * 1_000)
        s.tick(1)
        s.frames(301_000 + n * 1_000)
        s.stop()

        # Act
        got = rebuild(tmp_path / "j", from_checkpoint=True)
        want = rebuild(tmp_path / "j", from_checkpoint=False)

        # Assert
        assert got.checkpoint_seq is not None and got.engine is not None
        assert want.engine is not None
        assert (got.last_run_id, got.run_seq) == (want.last_run_id, want.run_seq) == (
            f"r{s.runs}", _run_seqs(tmp_path / "j")[-1])
        assert got.engine.config == want.engine.config == (config if n else EngineConfig())
        assert got.engine.state_hash() == want.engine.state_hash()
        expected.append((want.last_run_id, want.run_seq))

    # Assert: the restarts' own rebuilds (the writer open, its day reopened) found the same
    s.start(EngineConfig())
    assert [(r.last_run_id, r.run_seq) for r in s.rebuilt[1:]] == expected
    assert all(r.checkpoint_seq is not None for r in s.rebuilt[1:])


def _run_seqs(root: Path) -> list[int]:
    return [r.seq for r in iter_records(root) if type(r.event) is RunStarted]


def _with_run_seq(root: Path, seq: int, ckpt: StateCheckpoint, run_seq: int | None) -> None:
    fields = {f: getattr(ckpt, f) for f in ckpt.__struct_fields__}
    rewrite_record(root, seq, reencoded(seq, StateCheckpoint(**{**fields, "run_seq": run_seq})))


@pytest.mark.parametrize("run_seq", [None, "a frame", "after"])
def test_rebuild_run_seq_unknown_or_wrong_falls_back_to_the_scan(
        tmp_path: Path, run_seq: str | None, caplog: pytest.LogCaptureFixture) -> None:
    # Arrange: the newest checkpoint made to not know its run (v1), or to name a non-run record
    root = tmp_path / "j"
    _three_runs_a_day(root)
    want = rebuild(root, from_checkpoint=True)
    seq, ckpt, truth = list(_truth(root))[-1]
    named = {None: None, "a frame": truth + 1, "after": seq}[run_seq]
    _with_run_seq(root, seq, ckpt, named)

    # Act
    with caplog.at_level(logging.WARNING, logger="polyarb.runtime.rebuild"):
        got = rebuild(root, from_checkpoint=True)

    # Assert
    assert got.checkpoint_seq == seq and got.engine is not None and want.engine is not None
    assert (got.last_run_id, got.run_seq) == (want.last_run_id, want.run_seq) == ("r5", truth)
    assert got.engine.state_hash() == want.engine.state_hash()
    assert ("names seq" in caplog.text) == (run_seq is not None)


# --- the lookup reads one segment -----------------------------------------------------------


def _long_run(root: Path, frames: int) -> int:
    """One run on a journal of small segments, a checkpoint at the end; returns its seq."""
    hook = HookTarget()
    writer = JournalWriter.open(root, durability=Durability(policy="none", batch_records=4),
                                checkpoint_hook=hook, segment_max_bytes=4096)
    loop = EngineLoop(writer, Engine(), lambda _: None, Counters())
    hook.loop = loop
    ts = T0
    def clock() -> int:
        nonlocal ts
        ts += MS
        return ts

    start_run(loop, Rebuilt(), RunConfig(engine=DETECT_ONLY), "r1", "test", clock)
    loop.handle(MarketsLoaded(ts_recv_ns=clock(), source="test", markets=tuple(basket())))
    for i in range(frames):
        info = basket()[i % 3]
        msg = book_msg(info.tokens[0].token_id, [(250_000, 100 * USD)],
                       [(300_000 + i % 5 * 1_000, 100 * USD)], info.condition_id)
        loop.handle(Frame(clock(), "market-0", orjson.dumps(msg).decode()))
    loop.schedule_checkpoints(1, since=loop.last_seq - 1)  # due now: after the next input
    loop.handle(Frame(clock(), "market-0", orjson.dumps(msg).decode()))
    writer.close()
    return loop.last_seq


def test_rebuild_run_seq_lookup_reads_the_named_record_without_a_scan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange: many segments between the run_started and the checkpoint
    root = tmp_path / "j"
    ckpt_seq = _long_run(root, 300)
    seq, ckpt, truth = list(_truth(root))[-1]
    assert (seq, ckpt.run_seq) == (ckpt_seq, truth)
    assert len(list(root.glob("*/seg-*"))) > 20
    searched: list[str] = []
    real = rebuild_module._segment_back

    def spy(path: Path, kind: bytes, before: int | None) -> Iterator[tuple[int, bytes]]:
        if kind == b"run_started":
            searched.append(path.name)
        return real(path, kind, before)

    monkeypatch.setattr(rebuild_module, "_segment_back", spy)

    # Act
    pointed = run_in_force(root, seq, ckpt.run_seq)
    named = list(searched)
    searched.clear()
    scanned = run_in_force(root, seq, None)

    # Assert: the same record; no backward scan for the named one, every segment for the other
    assert pointed[0] == scanned[0] == truth and pointed[1] == scanned[1]
    assert named == []
    assert len(searched) == len(list(root.glob("*/seg-*")))


@pytest.mark.parametrize("bisect_min", [1, 200, 64 << 10])
def test_rebuild_line_at_finds_every_seq_across_segments_and_long_lines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bisect_min: int) -> None:
    # Arrange: small segments, checkpoint lines longer than a segment, two days; the bisection
    # runs down to single lines (1), stops early (200) or not at all (the default)
    monkeypatch.setattr(rebuild_module, "_BISECT_MIN", bisect_min)
    root = tmp_path / "j"
    _long_run(root, 120)
    s = Scenario(root, every=20)  # a second run, the next day's journal on the same root
    s.next_day()
    s.frames(300_000)
    s.stop()
    lines = {r.seq: r for r in iter_records(root)}

    # Act
    got = {seq: line_at(root, seq) for seq in lines}

    # Assert: each is the line of its seq; no line for seqs the journal does not hold
    for seq, line in got.items():
        assert line is not None and line.startswith(b'{"seq":%d,' % seq)
    assert line_at(root, max(lines) + 1) is None
    assert line_at(root, 0) is None


def test_rebuild_run_seq_zero_means_no_run_before_the_checkpoint(tmp_path: Path) -> None:
    # Arrange: a checkpoint from a loop that knows no run was started before it
    root = tmp_path / "j"
    Scenario(root, every=0).stop()

    # Act
    got = run_in_force(root, 10**6, 0)

    # Assert: no read at all is needed (the journal above does have a run_started)
    assert got == (0, None)
    assert _run_seqs(root)
