# Readers: seq order across days and segments, from_seq and day selection, a live writer's
# half-written last line, corruption raised with its location, and journal_stats.
from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from polyarb.events import OrderRejected, RunStarted
from polyarb.journal import (
    Durability,
    JournalCorrupt,
    JournalUnreadable,
    JournalWriter,
    iter_lines,
    iter_records,
    journal_stats,
    layout,
)


@pytest.fixture
def two_days(journal_root: Path, kit: ModuleType) -> Path:
    """60 order_rejected records, 30 on each side of a midnight, small segments; closed."""
    start = kit.MIDNIGHT_NS - 30 * kit.SECOND_NS
    small = Durability(batch_records=4)
    with JournalWriter.open(journal_root, durability=small, segment_max_bytes=1024) as w:
        w.append(kit.build_struct(RunStarted, 0, ts_recv_ns=start, run_id="run-a"))
        for i in range(60):
            w.append(
                OrderRejected(
                    ts_recv_ns=start + i * kit.SECOND_NS, client_order_id=f"c{i}", reason="r"
                )
            )
    return journal_root


def test_reader_yields_every_record_in_seq_order(two_days: Path) -> None:
    seqs = [r.seq for r in iter_records(two_days)]
    assert seqs == list(range(1, 64))  # 2 day_opened + run_started + 60


def test_reader_from_seq_skips_earlier_records(two_days: Path) -> None:
    assert [r.seq for r in iter_records(two_days, 40)] == list(range(40, 64))
    assert [seq for _p, seq, _l in iter_lines(two_days, 63)] == [63]
    assert list(iter_records(two_days, 64)) == []


def test_reader_day_selects_one_day(two_days: Path) -> None:
    day2 = [r.seq for r in iter_records(two_days, day="2025-12-27")]
    assert day2[0] == layout.read_manifest(two_days / "2025-12-27").first_seq
    assert day2[-1] == 63


def test_reader_accepts_a_day_directory(two_days: Path) -> None:
    day1 = list(iter_records(two_days / "2025-12-26"))
    assert [r.seq for r in day1] == list(range(1, len(day1) + 1))
    assert all(p.parent.name == "2025-12-26" for p, _s, _l in iter_lines(two_days / "2025-12-26"))


def test_reader_lines_are_the_stored_bytes(two_days: Path) -> None:
    path, seq, line = next(iter_lines(two_days, 5))
    assert seq == 5 and line.endswith(b"\n") and line in path.read_bytes()


def test_reader_unknown_day_or_path_is_unreadable(two_days: Path, tmp_path: Path) -> None:
    with pytest.raises(JournalUnreadable):
        list(iter_records(two_days, day="2030-01-01"))
    with pytest.raises(JournalUnreadable):
        list(iter_records(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(JournalUnreadable):
        list(iter_records(tmp_path / "empty"))


def test_reader_on_a_live_writer_stops_before_a_half_written_line(
    journal_root: Path, kit: ModuleType
) -> None:
    with JournalWriter.open(journal_root, durability=Durability(policy="none")) as w:
        for i in range(10):
            w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + i))
        w.sync()
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + 99))  # still in the buffer
        segment = journal_root / "2025-12-27" / layout.segment_name(1)
        complete = segment.read_bytes()
        with open(segment, "ab") as f:  # what a reader sees in the middle of the writer's write()
            f.write(b'{"seq":12,"v":1,"kind":"clock_tick","ts_re')
        assert [r.seq for r in iter_records(journal_root)] == list(range(1, 12))
        assert [s for _p, s, _l in iter_lines(journal_root)] == list(range(1, 12))
        segment.write_bytes(complete)  # let the writer finish as if its write had completed
        w.sync()
        assert [r.seq for r in iter_records(journal_root)] == list(range(1, 13))


def test_reader_tolerates_the_open_segment_not_created_yet(two_days: Path) -> None:
    day_dir = two_days / "2025-12-27"
    m = layout.read_manifest(day_dir)
    m.closed, m.digest = False, None  # a writer that just listed segment 64 and not created it
    m.segments.append(layout.SegmentInfo(name=layout.segment_name(64), first_seq=64))
    layout.write_manifest(day_dir, m)
    assert [r.seq for r in iter_records(two_days)] == list(range(1, 64))


def test_reader_raises_on_a_bad_line_naming_file_line_and_seq(two_days: Path) -> None:
    m = layout.read_manifest(two_days / "2025-12-27")
    path = two_days / "2025-12-27" / m.segments[1].name
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"reason":"r"', b'"reason":"s"')
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalCorrupt) as caught:
        list(iter_records(two_days))
    problem = caught.value.problems[0]
    assert problem.file == f"2025-12-27/{path.name}" and problem.line == 2
    assert problem.seq == m.segments[1].first_seq + 1
    with pytest.raises(JournalCorrupt):
        list(iter_lines(two_days))


def test_reader_raises_on_an_incomplete_line_in_a_closed_segment(two_days: Path) -> None:
    path = two_days / "2025-12-26" / layout.read_manifest(two_days / "2025-12-26").segments[0].name
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(JournalCorrupt, match="incomplete line"):
        list(iter_records(two_days))


def test_reader_raises_on_an_unlisted_segment(two_days: Path) -> None:
    (two_days / "2025-12-27" / layout.segment_name(500)).write_bytes(b"")
    with pytest.raises(JournalCorrupt, match="not listed"):
        list(iter_records(two_days))


def test_reader_empty_journal_yields_nothing(journal_root: Path) -> None:
    JournalWriter.open(journal_root).close()
    assert list(iter_records(journal_root)) == []


def test_stats_count_days_kinds_seqs_and_runs(two_days: Path, kit: ModuleType) -> None:
    stats = journal_stats(two_days)
    assert [d.day for d in stats.days] == ["2025-12-26", "2025-12-27"]
    assert stats.records == 63 and sum(d.records for d in stats.days) == 63
    assert stats.records_per_kind == {"day_opened": 2, "order_rejected": 60, "run_started": 1}
    assert (stats.first_seq, stats.last_seq) == (1, 63)
    assert stats.first_ts_ns == kit.MIDNIGHT_NS - 30 * kit.SECOND_NS
    assert stats.last_ts_ns == kit.MIDNIGHT_NS + 29 * kit.SECOND_NS
    assert stats.run_ids == ["run-a"]
    assert stats.bytes == sum(p.stat().st_size for p in kit.segment_paths(two_days))
    text = stats.render()
    assert "63 records" in text and "order_rejected" in text and "run-a" in text
