# Crash recovery on open: the leftovers a crash produces by design are repaired and reported;
# the writer continues after the last good record without reusing a seq.
#
# Rules: crashes are real (a child process dies without closing, see conftest.write_then_crash);
# the leftovers that need a crash at a precise instant are then made by hand, exactly as the
# writer's ordering (manifest before file, fsync before close) would leave them.
from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import pytest

from polyarb.events import DayOpened, JournalRecovered, StateCheckpoint
from polyarb.journal import JournalWriter, iter_records, layout, verify_journal


def _newest_segment(root: Path) -> Path:
    day = layout.list_days(root)[-1]
    return root / day / layout.read_manifest(root / day).segments[-1].name


def _crash(root: Path, kit: ModuleType, count: int = 20) -> None:
    kit.write_then_crash(root, count, kit.MIDNIGHT_NS)


def test_recovery_after_clean_crash_continues_seq_with_nothing_to_repair(
    journal_root: Path, kit: ModuleType
) -> None:
    _crash(journal_root, kit)
    with JournalWriter.open(journal_root) as w:
        assert w.recovered is None
        assert w.next_seq == 22 and w.durable_seq == 21  # day_opened + 20 records
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
    assert verify_journal(journal_root).ok


def test_recovery_torn_tail_is_truncated_and_journaled(journal_root: Path, kit: ModuleType) -> None:
    _crash(journal_root, kit)
    seg = _newest_segment(journal_root)
    good_size = seg.stat().st_size
    torn = b'{"seq":22,"v":1,"kind":"order_rejected","ts_rec'  # a record cut by the crash
    with open(seg, "ab") as f:
        f.write(torn)
    with JournalWriter.open(journal_root) as w:
        report = w.recovered
        assert report is not None
        assert report.bytes_dropped == len(torn) and not report.zero_filled
        assert report.last_good_seq == 21
        assert report.file == f"{seg.parent.name}/{seg.name}"
        assert seg.stat().st_size > good_size  # truncated, then the note was appended
    records = list(iter_records(journal_root))
    note = records[21].event
    assert records[21].seq == 22 and isinstance(note, JournalRecovered)
    assert (note.bytes_dropped, note.last_good_seq, note.file) == (len(torn), 21, report.file)
    assert note.ts_recv_ns == records[20].event.ts_recv_ns  # stays in the same day
    assert b"ts_rec\n" not in seg.read_bytes()
    assert verify_journal(journal_root).ok


def test_recovery_zero_filled_tail_is_truncated(journal_root: Path, kit: ModuleType) -> None:
    _crash(journal_root, kit)
    with open(_newest_segment(journal_root), "ab") as f:
        f.write(b"\0" * 4096)  # power loss: the size grew, the data never landed
    with JournalWriter.open(journal_root) as w:
        assert w.recovered is not None
        assert w.recovered.zero_filled and w.recovered.bytes_dropped == 4096
    assert verify_journal(journal_root).ok


def test_recovery_missing_open_segment_is_created(journal_root: Path, kit: ModuleType) -> None:
    # A crash right after a roll: the manifest lists the new segment, the file was never created.
    _crash(journal_root, kit)
    day_dir = journal_root / "2025-12-27"
    m = layout.read_manifest(day_dir)
    JournalWriter.open(journal_root).close()  # closes the open segment cleanly
    m = layout.read_manifest(day_dir)
    m.closed, m.digest = False, None
    m.segments.append(layout.SegmentInfo(name=layout.segment_name(22), first_seq=22))
    layout.write_manifest(day_dir, m)
    with JournalWriter.open(journal_root) as w:
        assert w.recovered is not None
        assert any("created" in a for a in w.recovered.actions)
        assert w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS)) == 22
    assert verify_journal(journal_root).ok


def test_recovery_leftover_manifest_tmp_is_removed(journal_root: Path, kit: ModuleType) -> None:
    _crash(journal_root, kit)
    tmp = journal_root / "2025-12-27" / "manifest.json.tmp"
    tmp.write_bytes(b'{"half a manif')
    assert verify_journal(journal_root).ok  # verify ignores it
    with JournalWriter.open(journal_root) as w:
        assert w.recovered is not None and w.recovered.bytes_dropped == 0
    assert not tmp.exists()


def test_recovery_day_directory_without_manifest_is_removed(
    journal_root: Path, kit: ModuleType
) -> None:
    _crash(journal_root, kit)
    JournalWriter.open(journal_root).close()
    (journal_root / "2025-12-28").mkdir(mode=0o700)  # a day roll cut right after mkdir
    assert not verify_journal(journal_root).ok
    with JournalWriter.open(journal_root) as w:
        assert w.recovered is not None and w.next_seq == 22
    assert layout.list_days(journal_root) == ["2025-12-27"]
    assert verify_journal(journal_root).ok


def test_recovery_day_cut_before_its_first_record_gets_day_opened(
    journal_root: Path, kit: ModuleType
) -> None:
    # The day roll listed and created the segment, and the crash tore day_opened itself.
    _crash(journal_root, kit)
    JournalWriter.open(journal_root).close()
    prev = layout.read_manifest(journal_root / "2025-12-27")
    day_dir = journal_root / "2025-12-28"
    layout.make_dir(day_dir)
    name = layout.segment_name(22)
    segment = layout.SegmentInfo(name=name, first_seq=22)
    m = layout.Manifest(day="2025-12-28", first_seq=22, prev_digest=prev.digest, segments=[segment])
    layout.write_manifest(day_dir, m)
    (day_dir / name).write_bytes(b'{"seq":22,"v":1,"kind":"day_op')
    hook_calls: list[int] = []

    def hook(at_seq: int) -> StateCheckpoint:
        hook_calls.append(at_seq)
        return StateCheckpoint(ts_recv_ns=kit.MIDNIGHT_NS, at_seq=at_seq, state_hash="h")

    with JournalWriter.open(journal_root, checkpoint_hook=hook) as w:
        assert w.recovered is not None and w.recovered.last_good_seq == 21
    first, checkpoint, note = list(iter_records(journal_root, day="2025-12-28"))
    assert isinstance(first.event, DayOpened) and first.seq == 22
    assert first.event.prev_digest == prev.digest and first.event.prev_last_seq == 21
    assert isinstance(checkpoint.event, StateCheckpoint) and hook_calls == [21]
    assert isinstance(note.event, JournalRecovered) and note.seq == 24
    assert verify_journal(journal_root).ok


def test_recovery_twice_in_a_row_never_reuses_a_seq(journal_root: Path, kit: ModuleType) -> None:
    _crash(journal_root, kit)
    seg = _newest_segment(journal_root)
    with open(seg, "ab") as f:
        f.write(b'{"seq":22')
    kit.write_then_crash(journal_root, 5, kit.MIDNIGHT_NS + 100 * kit.SECOND_NS)
    with open(_newest_segment(journal_root), "ab") as f:
        f.write(b'{"seq":28,"v"')
    with JournalWriter.open(journal_root) as w:
        assert w.recovered is not None and w.recovered.last_good_seq == 27
        assert w.next_seq == 29
    seqs = [r.seq for r in iter_records(journal_root)]
    assert seqs == list(range(1, 29))
    assert verify_journal(journal_root).ok


def test_recovery_open_segment_is_fsynced_and_appended_to(
    journal_root: Path, kit: ModuleType
) -> None:
    _crash(journal_root, kit)
    seg = _newest_segment(journal_root)
    before = os.stat(seg).st_size
    with JournalWriter.open(journal_root) as w:
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + 1))
        w.sync()
        assert os.stat(seg).st_size > before  # same file: no new segment after a crash


@pytest.mark.parametrize("cut", ["inside the checkpoint line", "at the line boundary"])
def test_recovery_checkpoint_cut_after_day_opened_is_journaled(
    journal_root: Path, kit: ModuleType, cut: str
) -> None:
    # day_opened and its checkpoint go to disk in one write; a power loss can still cut between.
    kit.write_then_crash(
        journal_root, 4, kit.MIDNIGHT_NS - 2 * kit.SECOND_NS, seg=1 << 20, hook=True
    )
    seg = kit.segment_paths(journal_root)[-1]
    lines = seg.read_bytes().splitlines(keepends=True)
    assert b'"kind":"day_opened"' in lines[0] and b'"kind":"state_checkpoint"' in lines[1]
    kept = lines[0] + (lines[1][:20] if cut.startswith("inside") else b"")
    seg.write_bytes(kept)
    assert not verify_journal(journal_root).ok
    with JournalWriter.open(journal_root) as w:
        assert w.recovered is not None and w.recovered.bytes_dropped == len(kept) - len(lines[0])
    records = list(iter_records(journal_root, day="2025-12-27"))
    opened, note = records[0].event, records[1].event
    assert isinstance(opened, DayOpened) and opened.checkpoint_seq == records[1].seq
    assert isinstance(note, JournalRecovered) and note.last_good_seq == records[0].seq
    assert verify_journal(journal_root).ok
