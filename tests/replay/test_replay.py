# `polyarb replay` on journals written the way the runtime writes them (journal_builder.py):
# identical replays, every kind of divergence (tampered, missing and extra decisions, a state
# checkpoint that disagrees), standalone days, the walk back to earlier days, unreadable
# journals, and the same output in fresh processes under two PYTHONHASHSEED values.
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.events import Event, decode_record, encode_record
from polyarb.events.base import Decision
from polyarb.events.decisions import ContinuityBroken, PlaceOrders
from polyarb.replay import replay_journal
from polyarb.replay_plan import ReplayError
from tests.replay.journal_builder import standard_journal

runner = CliRunner()
DAY1, DAY2 = "2025-12-27", "2025-12-28"


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("replay") / "journal"
    standard_journal(root)
    return root


def _copy(journal: Path, tmp_path: Path) -> Path:
    target = tmp_path / "journal"
    shutil.copytree(journal, target)
    return target


def _rewrite(root: Path, seq: int, change: Callable[[Event], Event]) -> None:
    """Replace the record at seq with a changed event (a valid line: new CRC, same seq)."""
    for seg in sorted(root.glob("*/seg-*.ndjson")):
        lines = seg.read_bytes().splitlines(keepends=True)
        for i, line in enumerate(lines):
            record = decode_record(line)
            if record.seq == seq:
                lines[i] = encode_record(seq, change(record.event))
                seg.write_bytes(b"".join(lines))
                return
    raise AssertionError(f"no seq {seq}")


def _seq_of(root: Path, kind: str, nth: int = 0) -> int:
    result = replay_journal(root)
    assert result.ok
    from polyarb.journal import iter_records

    seqs = [r.seq for r in iter_records(root) if type(r.event).__struct_config__.tag == kind]
    return seqs[nth]


# ---- identical -----------------------------------------------------------------------------


def test_replay_engine_written_journal_exits_0_with_summary(journal: Path) -> None:
    # Act
    result = runner.invoke(app, ["replay", str(journal)])

    # Assert
    assert result.exit_code == 0, result.output
    out = result.output
    assert "replay ok: 22 decisions identical" in out
    assert f"({DAY1}..{DAY2}), seq 3..71" in out
    assert "checkpoints 2 verified" in out
    assert ("updates 12 | opps 4 | executed 2 | failed 1 | blocked 1 | partial 0 | pnl $18.70 | "
            "loss $0.00/$100.00 | positions 0/3") in out
    assert "realized    $17.80" in out
    assert "events/s" in out


def test_replay_day_standalone_starts_from_its_checkpoint(journal: Path) -> None:
    # Act
    result = runner.invoke(app, ["replay", str(journal / DAY2)])

    # Assert
    assert result.exit_code == 0, result.output
    assert "replay ok: 18 decisions identical" in result.output
    assert "started at  state_checkpoint seq 32 of 2025-12-28" in result.output
    assert "seq 33..71" in result.output


def test_replay_day_without_checkpoint_replays_the_earlier_days_first(tmp_path: Path) -> None:
    # Arrange
    root = tmp_path / "journal"
    standard_journal(root, checkpoints=False)

    # Act
    result = replay_journal(root / DAY2)

    # Assert
    assert result.ok, result.divergence
    assert result.days == [DAY1, DAY2]
    assert "earlier days replayed first: 2025-12-27" in result.start
    assert result.decisions == 22


def test_replay_day_without_checkpoint_and_missing_earlier_day_exits_2(tmp_path: Path) -> None:
    # Arrange
    root = tmp_path / "journal"
    standard_journal(root, checkpoints=False)
    shutil.rmtree(root / DAY1)

    # Act
    result = runner.invoke(app, ["replay", str(root / DAY2)])

    # Assert
    assert result.exit_code == 2
    assert "error:" in result.output
    assert f"day {DAY1} is not in" in result.output
    with pytest.raises(ReplayError):
        replay_journal(root)


# ---- divergences -----------------------------------------------------------------------------


def test_replay_tampered_decision_exits_1_naming_its_seq_and_field(journal: Path,
                                                                    tmp_path: Path) -> None:
    # Arrange: the first batch's YES order price, 0.45 -> 0.46, in a copy
    root = _copy(journal, tmp_path)
    seq = _seq_of(root, "place_orders")

    def bump(ev: Event) -> Event:
        assert isinstance(ev, PlaceOrders)
        first = msgspec.structs.replace(ev.orders[0], price_micros=460_000)
        return msgspec.structs.replace(ev, orders=(first, *ev.orders[1:]))

    _rewrite(root, seq, bump)

    # Act
    result = runner.invoke(app, ["replay", str(root)])

    # Assert
    assert result.exit_code == 1, result.output
    out = result.output
    assert f"replay DIVERGED at seq {seq} (mismatch)" in out
    assert f"caused by input seq {seq - 2}, raw_frame" in out
    assert "orders[0].price_micros  460000   450000" in out
    assert "field" in out and "journal" in out and "replay" in out


def test_replay_deleted_decision_exits_1_naming_the_input_that_caused_it(tmp_path: Path) -> None:
    # Arrange: a runtime that lost the first place_orders
    def drop(seq: int, out: list[Decision]) -> list[Decision]:
        return [d for d in out if not (type(d) is PlaceOrders and d.batch_id == "run-b1")]

    root = tmp_path / "journal"
    run = standard_journal(root, journal_filter=drop)
    cause = next(d.cause_seq for d in run.decisions if type(d) is PlaceOrders)

    # Act
    result = runner.invoke(app, ["replay", str(root)])

    # Assert
    assert result.exit_code == 1, result.output
    assert "(missing)" in result.output
    assert (f"input seq {cause} (raw_frame) made the replay produce a place_orders that the "
            "journal lacks") in result.output
    assert "batch_id" in result.output and '"run-b1"' in result.output


def test_replay_decision_the_engine_does_not_make_exits_1(tmp_path: Path) -> None:
    # Arrange: a runtime that journaled one decision too many after the garbage frame
    def add(seq: int, out: list[Decision]) -> list[Decision]:
        if out and type(out[0]).__struct_config__.tag == "frame_rejected":
            return [*out, ContinuityBroken(ts_recv_ns=out[0].ts_recv_ns, cause_seq=seq,
                                           token_id="Y1", epoch=9, reason="invented")]
        return out

    root = tmp_path / "journal"
    standard_journal(root, journal_filter=add)

    # Act
    result = replay_journal(root)

    # Assert
    d = result.divergence
    assert d is not None and d.kind == "extra"
    assert "continuity_broken" in d.message and "did not produce" in d.message
    assert [f.path for f in d.diffs][:2] == ["cause_seq", "epoch"]


def test_replay_checkpoint_that_disagrees_with_the_state_is_a_divergence(journal: Path,
                                                                         tmp_path: Path) -> None:
    # Arrange: day 2's checkpoint claims one more opportunity than the engine counted
    root = _copy(journal, tmp_path)

    def fudge(ev: Event) -> Event:
        import hashlib

        state = msgspec.json.decode(bytes(ev.state))  # type: ignore[attr-defined]
        state["opp_no"] += 1
        data = msgspec.json.encode(state, order="sorted")
        return msgspec.structs.replace(ev, state=msgspec.Raw(data),  # type: ignore[type-var]
                                       state_hash=hashlib.sha256(data).hexdigest())

    _rewrite(root, 32, fudge)

    # Act
    whole = runner.invoke(app, ["replay", str(root)])
    day = replay_journal(root / DAY2)

    # Assert: met on the way it diverges; as the start, the day replays (it is self-consistent)
    assert whole.exit_code == 1, whole.output
    assert "replay DIVERGED at seq 32 (state_hash)" in whole.output
    assert "opp_no  3        2" in whole.output
    assert day.checkpoints == 1


def test_replay_checkpoint_whose_state_does_not_match_its_hash_exits_2(journal: Path,
                                                                       tmp_path: Path) -> None:
    root = _copy(journal, tmp_path)
    _rewrite(root, 32, lambda ev: msgspec.structs.replace(ev, state_hash="0" * 64))  # type: ignore[type-var]

    result = runner.invoke(app, ["replay", str(root / DAY2)])

    assert result.exit_code == 2
    assert "does not hash to its state_hash" in result.output


# ---- unreadable ----------------------------------------------------------------------------


@pytest.mark.parametrize("make", ["missing", "file", "empty"])
def test_replay_unreadable_directory_exits_2(tmp_path: Path, make: str) -> None:
    target = tmp_path / "nope"
    if make == "file":
        target.write_text("not a journal")
    elif make == "empty":
        target.mkdir()

    result = runner.invoke(app, ["replay", str(target)])

    assert result.exit_code == 2, result.output
    assert "error:" in result.output


def test_replay_corrupt_line_exits_2_naming_file_line_and_seq(journal: Path,
                                                              tmp_path: Path) -> None:
    root = _copy(journal, tmp_path)
    seg = sorted(root.glob(f"{DAY1}/seg-*.ndjson"))[0]
    data = bytearray(seg.read_bytes())
    data[data.index(b'"trade_id":"t-y1"') + 13] ^= 0x01
    seg.write_bytes(bytes(data))

    result = runner.invoke(app, ["replay", str(root)])

    assert result.exit_code == 2
    assert "journal is corrupt" in result.output
    assert f"{DAY1}/{seg.name}, line 13, seq 13: checksum mismatch" in result.output


# ---- determinism across processes -------------------------------------------------------------


def _replay_in_child(root: Path, seed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-m", "polyarb", "replay", str(root)], env=env,
                          capture_output=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    # The speed line is a wall-clock measurement; everything else must be identical.
    return [x for x in done.stdout.decode().splitlines() if "events/s" not in x]


def test_replay_in_two_processes_with_different_hash_seeds_prints_the_same(journal: Path) -> None:
    first = _replay_in_child(journal, "0")
    second = _replay_in_child(journal, "4242")

    assert first == second
    assert first[0] == "replay ok: 22 decisions identical"


def test_replay_decisions_journaled_after_a_crash_recovery_note_are_identical(
        tmp_path: Path) -> None:
    # Arrange: a crash cut the place_orders after its opportunity_detected; the restart wrote
    # journal_recovered and then the missing decision (polyarb/runtime/rebuild.py rule 3)
    from polyarb.events import JournalRecovered
    from tests.core.engine_helpers import USD, book_msg, market, raw_frame
    from tests.replay.journal_builder import JournalRun

    run = JournalRun(tmp_path / "journal")
    run.run_started()
    run.load(market("0xm1", "Y1", "N1"))
    run.book("Y1", [(400_000, 100 * USD)], [(450_000, 40 * USD)])
    frame = raw_frame(book_msg("N1", [(400_000, 100 * USD)], [(500_000, 40 * USD)]),
                      run.next_ts())
    seq = run.writer.append(frame)
    detected, placed = run.engine.apply(seq, frame)
    run.writer.append(detected)
    run.writer.append(JournalRecovered(ts_recv_ns=frame.ts_recv_ns, file="seg", bytes_dropped=9,
                                       last_good_seq=seq + 1))
    run.writer.append(placed)
    run.clock()
    run.close()

    # Act
    result = replay_journal(tmp_path / "journal")

    # Assert
    assert result.ok, result.divergence
    assert (result.decisions, result.notes) == (2, 1)


def test_replay_progress_bar_on_a_terminal_reports_every_record(
        journal: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange: a terminal on stderr and no size threshold
    import io

    from polyarb.cli import replay as cli_replay

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Tty())
    monkeypatch.setattr(cli_replay, "PROGRESS_MIN_RECORDS", 1)
    seen: list[int] = []

    # Act
    with cli_replay._progress(journal) as tick:
        assert tick is not None
        result = replay_journal(journal, on_progress=lambda n: (seen.append(n), tick(n)))

    # Assert
    assert result.ok and seen[-1] == result.records
