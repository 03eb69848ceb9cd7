# Restart from the newest state checkpoint: the engine rebuilt from it equals the one a fold of
# the whole journal gives (state hash, last_seq, last_run_id, crash-cut decisions), on journals
# of several days, runs restarted mid-day, mid-day checkpoints and corrupt checkpoints; and the
# loop's mid-day checkpoints are accepted by replay and verify.
from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.core.config import EngineConfig
from polyarb.events import StateCheckpoint, encode_event
from polyarb.events.inputs import MarketsLoaded, RunStarted
from polyarb.journal import JournalCorrupt, iter_records, verify_journal
from polyarb.replay import replay_journal
from polyarb.runtime import loop as loop_module
from polyarb.runtime import rebuild as rebuild_module
from polyarb.runtime.rebuild import Rebuilt, last_run_started, rebuild
from tests.core.engine_helpers import T0
from tests.runtime.helpers import basket, basket_frames, open_loop
from tests.runtime.restart_scenario import Scenario, reencoded, rewrite_record

DETECT_ONLY = EngineConfig(detect_only=True)


def _checkpoints(root: Path) -> list[tuple[int, StateCheckpoint]]:
    return [(r.seq, r.event) for r in iter_records(root) if type(r.event) is StateCheckpoint]


def _assert_same(got: Rebuilt, want: Rebuilt) -> None:
    assert got.engine is not None and want.engine is not None
    assert got.engine.state_hash() == want.engine.state_hash()
    assert got.engine.config == want.engine.config
    assert got.last_seq == want.last_seq
    assert got.last_run_id == want.last_run_id
    assert [encode_event(d) for d in got.missing] == [encode_event(d) for d in want.missing]
    assert got.mismatches == want.mismatches == 0


def _two_days(root: Path, every: int = 0) -> Scenario:
    """r1 (detect-only) over day one, r2 restarted mid-day two with default config."""
    s = Scenario(root, every)
    s.stop()
    s.start(DETECT_ONLY)
    for ask in (300_000, 310_000, 320_000):
        s.frames(ask)
        s.tick(1)
    s.next_day()
    s.frames(330_000)
    s.tick(5)
    s.stop()
    s.start(EngineConfig())
    s.frames(300_000)
    s.accept()
    s.tick(1)
    s.stop()
    return s


def test_rebuild_from_checkpoint_equals_the_full_fold_over_days_and_restarts(
        tmp_path: Path) -> None:
    _two_days(tmp_path / "j", every=40)

    got = rebuild(tmp_path / "j", from_checkpoint=True)
    want = rebuild(tmp_path / "j", from_checkpoint=False)

    _assert_same(got, want)
    assert got.checkpoint_seq == _checkpoints(tmp_path / "j")[-1][0]
    assert got.records < want.records


def test_rebuild_starts_at_the_newest_checkpoint_mid_day(tmp_path: Path) -> None:
    s = _two_days(tmp_path / "j", every=25)

    found = rebuild(tmp_path / "j", from_checkpoint=True)

    ckpts = _checkpoints(tmp_path / "j")
    mid_day = [seq for seq, c in ckpts if c.at_seq == seq - 1]
    assert mid_day and found.checkpoint_seq == ckpts[-1][0]
    assert found.records == found.last_seq - ckpts[-1][0]
    assert s.rebuilt[-1].checkpoint_seq is not None  # the restarts used one too


def test_rebuild_from_a_checkpoint_takes_config_and_run_id_from_an_earlier_day(
        tmp_path: Path) -> None:
    # Arrange: r1 detect-only on day one; day two holds only its day checkpoint and frames
    s = Scenario(tmp_path / "j", 0)
    s.stop()
    s.start(DETECT_ONLY)
    s.frames(300_000)
    s.next_day()
    s.frames(310_000)
    s.frames(300_000)
    s.stop()

    got = rebuild(tmp_path / "j", from_checkpoint=True)

    want = rebuild(tmp_path / "j", from_checkpoint=False)
    _assert_same(got, want)
    assert got.last_run_id == "r2" and got.engine is not None
    assert got.engine.config == DETECT_ONLY
    assert got.checkpoint_seq == _checkpoints(tmp_path / "j")[-1][0]


def test_last_run_started_finds_the_run_before_a_seq_backwards(tmp_path: Path) -> None:
    s = _two_days(tmp_path / "j")
    runs = [(r.seq, r.event) for r in iter_records(tmp_path / "j")
            if type(r.event) is RunStarted]

    for seq, run in runs:
        found = last_run_started(tmp_path / "j", seq + 1)
        assert found is not None and found.run_id == run.run_id
    assert last_run_started(tmp_path / "j", runs[0][0]) is None
    assert s.runs == len(runs)


def test_rebuild_after_a_crash_cut_decisions_finds_them_from_a_checkpoint(
        tmp_path: Path) -> None:
    s = Scenario(tmp_path / "j", 10)
    s.frames(300_000)
    s.frames(320_000)
    s.crash_cutting_decisions(300_000)

    got = rebuild(tmp_path / "j", from_checkpoint=True)
    want = rebuild(tmp_path / "j", from_checkpoint=False)

    assert got.checkpoint_seq is not None and got.missing
    _assert_same(got, want)


def _tamper(root: Path, seq: int, ckpt: StateCheckpoint, state: bytes, state_hash: str) -> None:
    bad = msgspec.structs.replace(ckpt, state=msgspec.Raw(state), state_hash=state_hash)
    rewrite_record(root, seq, reencoded(seq, bad))


@pytest.mark.parametrize("how", ["hash", "restore", "rehash"])
def test_rebuild_skips_a_corrupt_checkpoint_with_a_warning_and_uses_the_one_before(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str) -> None:
    # Arrange: the newest checkpoint rewritten with a good CRC but an unusable state
    root = tmp_path / "j"
    _two_days(root, every=30)
    (seq, ckpt), (prev_seq, _) = _checkpoints(root)[-1], _checkpoints(root)[-2]
    state = bytes(ckpt.state)
    if how == "hash":  # the state does not hash to its state_hash
        _tamper(root, seq, ckpt, state, "0" * 64)
    elif how == "restore":  # hashes right, Engine.restore refuses it
        bad = state.replace(b'"version":1', b'"version":9')
        _tamper(root, seq, ckpt, bad, hashlib.sha256(bad).hexdigest())
    else:  # hashes right, restores, but the restored engine hashes otherwise
        bad = state.replace(b'"opp_no":', b'"opp_no": ')  # not canonical
        _tamper(root, seq, ckpt, bad, hashlib.sha256(bad).hexdigest())

    with caplog.at_level(logging.WARNING, logger="polyarb.runtime.rebuild"):
        got = rebuild(root, from_checkpoint=True)

    assert got.checkpoint_seq == prev_seq
    assert f"skipping the state_checkpoint at seq {seq}" in caplog.text
    _assert_same(got, rebuild(root, from_checkpoint=False))


def test_rebuild_with_no_usable_checkpoint_folds_from_the_start(tmp_path: Path) -> None:
    # Arrange: a journal written without the checkpoint hook (as older runs did)
    root = tmp_path / "j"
    loop, _ = open_loop(root)
    loop.handle(MarketsLoaded(ts_recv_ns=T0, source="test", markets=tuple(basket())))
    for frame in basket_frames(T0 + 1):
        loop.handle(frame)
    loop.writer.close()
    assert _checkpoints(root) == []

    got = rebuild(root, from_checkpoint=True)

    assert got.checkpoint_seq is None and got.records == got.last_seq
    _assert_same(got, rebuild(root, from_checkpoint=False))


def test_rebuild_refuses_a_checkpoint_line_with_a_bad_crc_like_the_full_fold(
        tmp_path: Path) -> None:
    # Corruption is never skipped: the fold from the checkpoint before reads through it.
    root = tmp_path / "j"
    _two_days(root, every=30)
    seq, ckpt = _checkpoints(root)[-1]
    line = reencoded(seq, ckpt)
    rewrite_record(root, seq, line.replace(b'"opp_no":', b'"opp_no": ', 1))

    with pytest.raises(JournalCorrupt):
        rebuild(root, from_checkpoint=True)
    with pytest.raises(JournalCorrupt):
        rebuild(root, from_checkpoint=False)


def test_mid_day_checkpoints_pass_replay_and_verify(tmp_path: Path) -> None:
    root = tmp_path / "j"
    _two_days(root, every=20)

    result = replay_journal(root)
    report = verify_journal(root)

    assert result.ok, result.divergence
    assert result.checkpoints == len(_checkpoints(root))
    assert report.ok, report.problems
    for day in sorted(p.name for p in root.iterdir() if p.is_dir()):
        assert replay_journal(root / day).ok


def test_loop_mid_day_checkpoint_comes_after_the_inputs_decisions(tmp_path: Path) -> None:
    root = tmp_path / "j"
    _two_days(root, every=7)

    records = list(iter_records(root))

    by_seq = {r.seq: r.event for r in records}
    for seq, ckpt in _checkpoints(root):
        after = by_seq.get(seq + 1)
        assert after is None or after.ROLE != "decision"
        assert ckpt.at_seq in (seq - 1, seq - 2)  # mid-day, or the day's (after day_opened)


def test_loop_without_a_cadence_journals_only_day_checkpoints(tmp_path: Path) -> None:
    root = tmp_path / "j"
    _two_days(root, every=0)

    assert all(c.at_seq == seq - 2 for seq, c in _checkpoints(root))


_OPS = st.lists(st.one_of(
    st.tuples(st.just("frames"), st.sampled_from([280_000, 300_000, 320_000, 340_000])),
    st.tuples(st.just("tick"), st.integers(1, 90)),
    st.tuples(st.just("accept"), st.just(0)),
    st.tuples(st.just("day"), st.just(0)),
    st.tuples(st.just("restart"), st.booleans()),
), min_size=1, max_size=12)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_OPS, every=st.sampled_from([0, 5, 13, 40]), crash=st.booleans(),
       corrupt=st.booleans())
def test_rebuild_from_checkpoint_property_equals_full_fold(
        ops: list[tuple[str, object]], every: int, crash: bool, corrupt: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "j"
        s = Scenario(root, every)
        for op, arg in ops:
            if op == "frames":
                s.frames(int(arg))  # type: ignore[call-overload]
            elif op == "tick":
                s.tick(int(arg))  # type: ignore[call-overload]
            elif op == "accept":
                s.accept()
            elif op == "day":
                s.next_day()
            else:
                s.stop()
                s.start(DETECT_ONLY if arg else EngineConfig())
        final = None if crash else s.engine_hash()
        if crash:
            s.crash_cutting_decisions(300_000)
        else:
            s.stop()
        ckpts = _checkpoints(root)
        if corrupt and ckpts:  # the newest checkpoint's hash no longer matches its state
            _tamper(root, *ckpts[-1], bytes(ckpts[-1][1].state), "0" * 64)

        got, want = rebuild(root, from_checkpoint=True), rebuild(root, from_checkpoint=False)

        _assert_same(got, want)
        usable = ckpts[:-1] if corrupt else ckpts
        assert got.checkpoint_seq == (usable[-1][0] if usable else None)
        if final is not None:
            assert got.engine is not None and got.engine.state_hash() == final


def test_loop_checkpoint_over_the_size_bound_is_not_journaled_with_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: a bound smaller than any state (the real one is half the 256 MB line limit)
    monkeypatch.setattr(loop_module, "MAX_CHECKPOINT_BYTES", 10)
    root = tmp_path / "j"

    with caplog.at_level(logging.WARNING, logger="polyarb.runtime.loop"):
        _two_days(root, every=10)

    assert _checkpoints(root) == []
    assert "not journaled" in caplog.text
    assert verify_journal(root).ok and replay_journal(root).ok
    _assert_same(rebuild(root, from_checkpoint=True), rebuild(root, from_checkpoint=False))


def test_chaos_checks_pass_on_a_journal_with_mid_day_checkpoints(tmp_path: Path) -> None:
    from polyarb.chaos.checks import run_checks

    _two_days(tmp_path / "j", every=10)

    results = run_checks(tmp_path / "j")

    assert [(c.name, c.details) for c in results if not c.ok] == []
    assert any(c.at_seq == seq - 1 for seq, c in _checkpoints(tmp_path / "j"))


@pytest.mark.parametrize("chunk", [1, 50, 97, 4096])
def test_backward_scan_finds_the_same_records_whatever_the_window(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    # Arrange: windows smaller than a line, and not aligned with anything
    root = tmp_path / "j"
    _two_days(root, every=9)
    want = rebuild(root, from_checkpoint=True)
    monkeypatch.setattr(rebuild_module, "_CHUNK", chunk)

    got = rebuild(root, from_checkpoint=True)

    assert got.checkpoint_seq == want.checkpoint_seq == _checkpoints(root)[-1][0]
    _assert_same(got, want)
    runs = [r.seq for r in iter_records(root) if type(r.event) is RunStarted]
    found = last_run_started(root, runs[-1])
    assert found is not None and found.run_id == f"r{len(runs) - 1}"
