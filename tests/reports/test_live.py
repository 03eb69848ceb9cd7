# Reading a journal while a writer appends: a torn last line is ignored, complete lines are all
# seen (also lines completed after the views were opened), and nothing else is skipped.
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import duckdb
import pytest

from polyarb.events import encode_record
from polyarb.journal import Durability, JournalWriter, layout
from polyarb.reports import open_journal_db


def open_segment(root: Path) -> Path:
    day = layout.list_days(root)[-1]
    manifest = layout.read_manifest(root / day)
    assert not manifest.segments[-1].closed
    return root / day / manifest.segments[-1].name


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


def test_events_view_torn_last_line_is_ignored_then_seen_once_complete(
    tmp_path: Path, kit: Any
) -> None:
    # Arrange: an open day whose open segment ends in half a record
    root = tmp_path / "j"
    records = kit.write_synthetic(root, kit.trades(50, random.Random(3)), segment_records=20,
                                open_last_day=True)  # fmt: skip
    late = kit.trades(1, random.Random(4), ts0=kit.DAY0_NS + 10**9)[0]
    line = encode_record(len(records) + 1, late)
    seg = open_segment(root)
    append(seg, line[: len(line) // 2])
    # Act
    con = open_journal_db(root)
    torn = con.execute("SELECT count(*), max(seq) FROM events").fetchone()
    append(seg, line[len(line) // 2 :])
    completed = con.execute("SELECT count(*), max(seq) FROM events").fetchone()
    row = con.execute("SELECT price_micros, size_micros FROM trade_updated WHERE seq = 51")
    # Assert
    assert torn == (50, 50)
    assert completed == (51, 51)
    assert row.fetchone() == (late.price_micros, late.size_micros)


def test_events_view_torn_tail_of_a_crashed_writer_closed_segments_intact(
    tmp_path: Path, kit: Any
) -> None:
    root = tmp_path / "j"
    kit.write_synthetic(root, kit.frames(45), segment_records=20, open_last_day=True)
    append(open_segment(root), b'{"seq":46,"v":1,"kind":"raw_fr')
    con = open_journal_db(root)
    assert con.execute("SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM events"
                       ).fetchone() == (45, 45, 1, 45)  # fmt: skip


def test_events_view_open_segment_listed_but_not_created_yet(tmp_path: Path, kit: Any) -> None:
    # The writer lists a segment in the manifest before creating the file.
    root = tmp_path / "j"
    kit.write_synthetic(root, kit.frames(5), open_last_day=True)
    day_dir = root / "2025-12-27"
    manifest = layout.read_manifest(day_dir)
    manifest.segments.append(layout.SegmentInfo(name=layout.segment_name(6), first_seq=6))
    layout.write_manifest(day_dir, manifest)
    assert open_journal_db(root).execute("SELECT count(*) FROM events").fetchone() == (5,)


def test_events_view_bad_line_inside_open_segment_raises(tmp_path: Path, kit: Any) -> None:
    # Only a torn LAST line is tolerated: a bad line followed by good ones is corruption.
    root = tmp_path / "j"
    kit.write_synthetic(root, kit.frames(5), open_last_day=True)
    seg = open_segment(root)
    lines = seg.read_bytes().splitlines(keepends=True)
    seg.write_bytes(b"".join([*lines[:2], b'{"seq":3,"v":1,"ki\n', *lines[3:]]))
    con = open_journal_db(root)
    with pytest.raises(duckdb.Error, match="unreadable line before its end"):
        con.execute("SELECT count(*) FROM events").fetchall()


def test_events_view_bad_line_in_closed_segment_raises(tmp_path: Path, kit: Any) -> None:
    root = tmp_path / "j"
    kit.write_synthetic(root, kit.frames(5))
    seg = root / "2025-12-27" / layout.segment_name(1)
    append(seg, b'{"seq":6,"v":1,"kind":"raw_fr')
    con = open_journal_db(root)
    with pytest.raises(duckdb.Error, match="Malformed JSON"):
        con.execute("SELECT count(*) FROM events").fetchall()


def test_events_view_next_to_a_running_writer_sees_each_synced_record(
    tmp_path: Path, kit: Any
) -> None:
    # Arrange: a real writer, left open (its day and segment stay open)
    root = tmp_path / "j"
    writer = JournalWriter.open(root, durability=Durability(policy="none"))
    try:
        for event in kit.frames(30):
            writer.append(event)
        writer.sync()
        # Act
        con = open_journal_db(root)
        first = con.execute("SELECT count(*), max(seq) FROM events").fetchone()
        for event in kit.frames(5, ts0=kit.DAY0_NS + 10**9):
            writer.append(event)
        writer.sync()
        second = con.execute("SELECT count(*), max(seq) FROM events").fetchone()
    finally:
        writer.close()
    # Assert: day_opened + 30 frames, then the same views see the 5 appended afterwards
    assert first == (31, 31)
    assert second == (36, 36)
    closed = open_journal_db(root)  # after close(): the day is closed, read strictly
    assert closed.execute("SELECT count(*), max(seq) FROM events").fetchone() == (36, 36)
