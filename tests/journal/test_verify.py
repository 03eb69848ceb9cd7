# verify_journal: clean journals pass; unreadable paths raise; every problem is located; garbage
# never hangs it; it never modifies anything.
from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from types import ModuleType

import pytest

from polyarb.events import ClockTick, DayOpened, Event, encode_record
from polyarb.journal import (
    Durability,
    JournalUnreadable,
    JournalWriter,
    layout,
    scan,
    verify,
    verify_journal,
)

DAY = "2025-12-27"


@pytest.fixture
def one_day(journal_root: Path, kit: ModuleType) -> Path:
    """A closed single-day journal: day_opened + 30 clock ticks over several segments."""
    small = Durability(batch_records=3)
    with JournalWriter.open(journal_root, durability=small, segment_max_bytes=600) as w:
        for i in range(30):
            w.append(ClockTick(ts_recv_ns=kit.MIDNIGHT_NS + i))
    return journal_root


def _replace_line(root: Path, seq: int, line: bytes) -> tuple[str, int]:
    """Put `line` in place of record `seq` and re-seal the manifest so only the content is off."""
    m = layout.read_manifest(root / DAY)
    seg = next(s for s in m.segments if s.first_seq <= seq <= (s.last_seq or seq))
    path = root / DAY / seg.name
    lines = path.read_bytes().splitlines(keepends=True)
    lines[seq - seg.first_seq] = line
    data = b"".join(lines)
    path.write_bytes(data)
    seg.bytes, seg.sha256 = len(data), hashlib.sha256(data).hexdigest()
    m.digest = layout.day_digest(m)
    layout.write_manifest(root / DAY, m)
    return f"{DAY}/{seg.name}", seq - seg.first_seq + 1


def _replace(root: Path, seq: int, event: Event) -> tuple[str, int]:
    return _replace_line(root, seq, encode_record(seq, event))


def _messages(root: Path) -> list[str]:
    return [str(p) for p in verify_journal(root).problems]


def test_verify_clean_journal_is_ok(one_day: Path, kit: ModuleType) -> None:
    report = verify_journal(one_day)
    assert report.ok and report.problems == [] and report.torn_tail is None
    assert report.records == 31 and report.days == [DAY]
    assert report.segments == len(layout.read_manifest(one_day / DAY).segments) > 1
    assert report.bytes == sum(p.stat().st_size for p in kit.segment_paths(one_day))


def test_verify_unreadable_paths_raise(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    for path in [tmp_path / "missing", tmp_path / "file", tmp_path / "empty"]:
        with pytest.raises(JournalUnreadable):
            verify_journal(path)


def test_verify_accepts_a_day_directory(one_day: Path, kit: ModuleType) -> None:
    with JournalWriter.open(one_day) as w:
        w.append(ClockTick(ts_recv_ns=kit.MIDNIGHT_NS + 86_400 * kit.SECOND_NS))
    report = verify_journal(one_day / "2025-12-28")
    assert report.ok and report.days == ["2025-12-28"] and report.records == 2


def test_verify_reports_a_torn_tail_with_a_hint(journal_root: Path, kit: ModuleType) -> None:
    kit.write_then_crash(journal_root, 5, kit.MIDNIGHT_NS)
    seg = kit.segment_paths(journal_root)[-1]
    with open(seg, "ab") as f:
        f.write(b'{"seq":7,"v"')
    report = verify_journal(journal_root)
    assert not report.ok and report.problems == [report.torn_tail] == report.repairable
    assert report.torn_tail is not None and "opening the journal for writing" in str(
        report.torn_tail
    )
    assert report.torn_tail.offset == seg.stat().st_size - 12


def test_verify_never_modifies_anything(journal_root: Path, kit: ModuleType) -> None:
    kit.write_then_crash(journal_root, 5, kit.MIDNIGHT_NS)
    with open(kit.segment_paths(journal_root)[-1], "ab") as f:
        f.write(b"\0" * 100)
    (journal_root / DAY / "manifest.json.tmp").write_bytes(b"{")
    before = kit.snapshot(journal_root)
    verify_journal(journal_root)
    assert kit.snapshot(journal_root) == before


def test_verify_garbage_without_newline_is_read_in_bounded_chunks(
    journal_root: Path, kit: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan, "MAX_LINE", 1 << 20)  # stands for the real 256 MiB limit
    kit.write_then_crash(journal_root, 5, kit.MIDNIGHT_NS)
    seg = kit.segment_paths(journal_root)[-1]
    with open(seg, "ab") as f:
        f.write(b"x" * (8 << 20))
    report = verify_journal(journal_root)
    assert report.torn_tail is not None and "8388608 bytes" in report.torn_tail.message
    with open(seg, "ab") as f:
        f.write(b"\n")
    assert any("line too long" in m for m in _messages(journal_root))


def test_verify_caps_the_problem_list(
    one_day: Path, kit: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify, "MAX_PROBLEMS", 5)
    for seq in range(2, 20):
        _replace_line(one_day, seq, b"garbage\n")
    report = verify_journal(one_day)
    assert len(report.problems) == 5 and report.omitted > 0 and not report.ok


def test_verify_first_record_must_be_day_opened(one_day: Path, kit: ModuleType) -> None:
    file, line = _replace(one_day, 1, ClockTick(ts_recv_ns=kit.MIDNIGHT_NS))
    assert f"{file}, line {line}, seq 1: the first record of a day is not day_opened" in _messages(
        one_day
    )


def test_verify_day_opened_inside_a_day_is_reported(one_day: Path, kit: ModuleType) -> None:
    file, line = _replace(one_day, 9, DayOpened(ts_recv_ns=kit.MIDNIGHT_NS, day=DAY))
    assert any(
        m.startswith(f"{file}, line {line}, seq 9: day_opened that is not the first")
        for m in _messages(one_day)
    )


def test_verify_missing_promised_checkpoint_is_reported(one_day: Path, kit: ModuleType) -> None:
    _replace(one_day, 1, DayOpened(ts_recv_ns=kit.MIDNIGHT_NS, day=DAY, checkpoint_seq=2))
    assert any(
        "seq 2: day_opened names this seq as its checkpoint" in m for m in _messages(one_day)
    )


def test_verify_day_opened_with_wrong_links_is_reported(one_day: Path, kit: ModuleType) -> None:
    _replace(one_day, 1, DayOpened(ts_recv_ns=kit.MIDNIGHT_NS, day=DAY, prev_day="2025-12-26"))
    assert any("day_opened links to" in m for m in _messages(one_day))


def test_verify_run_ids_must_match_run_started_records(one_day: Path) -> None:
    m = layout.read_manifest(one_day / DAY)
    m.run_ids = ["ghost"]
    layout.write_manifest(one_day / DAY, m)
    assert any("run_ids ['ghost']" in msg for msg in _messages(one_day))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"seq":5,"v":1,"kind":"from_the_future","ts_recv_ns":1', "unknown event kind"),
        (b'{"seq":5,"v":99,"kind":"clock_tick","ts_recv_ns":1', "newer than this polyarb reads"),
        (b'{"seq":5,"v":1,"kind":"clock_tick","ts_recv_ns":"x"', "clock_tick"),
    ],
)
def test_verify_undecodable_records_are_reported(one_day: Path, body: bytes, expected: str) -> None:
    line = body + b',"crc":"%08x"}\n' % zlib.crc32(body)  # a valid checksum: only decoding fails
    file, line_no = _replace_line(one_day, 5, line)
    problems = verify_journal(one_day).problems
    assert any(
        p.file == file and p.line == line_no and p.seq == 5 and expected in p.message
        for p in problems
    ), problems


def test_verify_a_modified_parquet_copy_is_reported(one_day: Path) -> None:
    day_dir = one_day / DAY
    (day_dir / layout.SEALED_NAME).write_bytes(b"PAR1 pretend parquet")
    m = layout.read_manifest(day_dir)
    digest = hashlib.sha256(b"PAR1 pretend parquet").hexdigest()
    m.sealed = layout.SealInfo(
        file=layout.SEALED_NAME, first_seq=1, last_seq=31, records=31, sha256=digest
    )
    layout.write_manifest(day_dir, m)
    assert verify_journal(one_day).ok
    (day_dir / layout.SEALED_NAME).write_bytes(b"PAR1 other bytes")
    assert any("Parquet copy was modified" in msg for msg in _messages(one_day))
