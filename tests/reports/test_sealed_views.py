# Sealed days are read from Parquet, the others from NDJSON, each record exactly once: the same
# rows and sums before and after sealing, with any mix of sealed, unsealed and open days.
from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from polyarb.journal import layout
from polyarb.journal.seal import seal_day
from polyarb.reports import JournalQueryError, open_journal_db

ALL_ROWS = "SELECT * EXCLUDE (shard) FROM events ORDER BY seq"
SUMS = (
    "SELECT kind, count(*), sum(CAST(size_micros AS HUGEINT) * price_micros), "
    "sum(fee_micros), min(seq), max(seq) FROM events GROUP BY kind ORDER BY kind"
)


def four_days(root: Path, kit: Any, *, open_last_day: bool = False) -> list[str]:
    rng = random.Random(11)
    events = kit.interleave(
        kit.trades(400, rng, step_ns=kit.DAY_NS // 100),
        kit.frames(300, step_ns=kit.DAY_NS // 75),
    )
    if open_last_day:  # exact control of the open day's tail
        kit.write_synthetic(root, events, segment_records=60, open_last_day=True)
    else:
        kit.write_journal(root, events, segment_bytes=8_000)
    days: list[str] = layout.list_days(root)
    assert len(days) == 4
    return days


def snapshot(root: Path | list[Path], **kwargs: Any) -> tuple[list[Any], list[Any]]:
    con = open_journal_db(root, **kwargs)
    return con.execute(ALL_ROWS).fetchall(), con.execute(SUMS).fetchall()


def sources(root: Path) -> dict[str, str]:
    con = open_journal_db(root)
    return dict(con.execute("SELECT day, source FROM journal_sources").fetchall())


def test_events_view_sealing_every_day_changes_nothing(tmp_path: Path, kit: Any) -> None:
    # Arrange
    root = tmp_path / "j"
    days = four_days(root, kit)
    before = snapshot(root)
    # Act
    for day in days:
        seal_day(root / day)
    # Assert
    assert sources(root) == dict.fromkeys(days, "parquet")
    assert snapshot(root) == before
    assert snapshot(root, use_sealed=False) == before


def test_events_view_mixed_sealed_unsealed_and_open_days_counts_each_once(
    tmp_path: Path, kit: Any
) -> None:
    # Arrange: days 1 and 3 sealed, day 2 not, day 4 open with a torn tail
    root = tmp_path / "j"
    days = four_days(root, kit, open_last_day=True)
    manifest = layout.read_manifest(root / days[-1])
    with (root / days[-1] / manifest.segments[-1].name).open("ab") as f:
        f.write(b'{"seq":701,"v":1,"kind":"trade_upd')
    before = snapshot(root)
    # Act
    seal_day(root / days[0])
    seal_day(root / days[2])
    # Assert
    assert sources(root) == {days[0]: "parquet", days[1]: "ndjson", days[2]: "parquet",
                             days[3]: "ndjson"}  # fmt: skip
    rows, sums = snapshot(root)
    assert (rows, sums) == before
    assert [r[0] for r in rows] == list(range(1, 701))


def test_events_view_sealed_copy_deleted_reads_segments(tmp_path: Path, kit: Any) -> None:
    root = tmp_path / "j"
    days = four_days(root, kit)
    before = snapshot(root)
    seal_day(root / days[1])
    (root / days[1] / layout.SEALED_NAME).unlink()
    assert sources(root)[days[1]] == "ndjson"
    assert snapshot(root) == before


def test_events_view_parquet_without_seal_record_is_ignored(tmp_path: Path, kit: Any) -> None:
    # A crash after the rename but before the manifest update leaves an unvouched copy.
    root = tmp_path / "j"
    days = four_days(root, kit)
    before = snapshot(root)
    seal_day(root / days[1])
    manifest = layout.read_manifest(root / days[1])
    manifest.sealed = None
    layout.write_manifest(root / days[1], manifest)
    assert sources(root)[days[1]] == "ndjson"
    assert snapshot(root) == before


def test_open_journal_db_parquet_row_count_disagrees_with_seal_raises(
    tmp_path: Path, kit: Any
) -> None:
    root = tmp_path / "j"
    days = four_days(root, kit)
    seal_day(root / days[0])
    seal_day(root / days[1])
    shutil.copyfile(root / days[0] / layout.SEALED_NAME, root / days[1] / layout.SEALED_NAME)
    with pytest.raises(JournalQueryError, match="but the seal record says"):
        open_journal_db(root)


def test_events_view_parquet_from_older_schema_reads_missing_column_as_null(
    tmp_path: Path, kit: Any
) -> None:
    # Arrange: a copy written before `fee_micros` existed (column dropped, same rows)
    root = tmp_path / "j"
    days = four_days(root, kit)
    seal_day(root / days[0])
    path = root / days[0] / layout.SEALED_NAME
    old = tmp_path / "old.parquet"
    duckdb.execute(
        f"COPY (SELECT * EXCLUDE (fee_micros) FROM '{path}') TO '{old}' (FORMAT PARQUET)"
    )
    shutil.copyfile(old, path)
    # Act
    con = open_journal_db(root, days=[days[0]])
    # Assert
    rows, with_fee = con.execute("SELECT count(*), count(fee_micros) FROM events").fetchall()[0]
    assert rows > 0
    assert with_fee == 0
    assert con.execute("SELECT DISTINCT fee_micros FROM trade_updated").fetchall() == [(0,)]


def test_events_view_sealed_shards_union(tmp_path: Path, kit: Any) -> None:
    # Two shards, one sealed: (shard, seq) stays unique and totals add up.
    days_a = four_days(tmp_path / "a", kit)
    four_days(tmp_path / "b", kit)
    seal_day(tmp_path / "a" / days_a[0])
    con = open_journal_db([tmp_path / "a", tmp_path / "b"])
    got = con.execute("SELECT count(*), count(DISTINCT (shard, seq)) FROM events").fetchone()
    assert got == (1408, 1408)  # 2 x (700 events + 4 day_opened)


def test_events_view_writer_reopening_the_sealed_newest_day_reads_its_segments(
    tmp_path: Path, kit: Any
) -> None:
    # Arrange: seal the newest day, then a writer restarts within the same UTC day
    root = tmp_path / "j"
    kit.write_journal(root, kit.frames(10))
    seal_day(root / "2025-12-27")
    records = kit.write_journal(root, kit.frames(3, ts0=kit.DAY0_NS + 10**9))
    # Act
    con = open_journal_db(root)
    # Assert: the writer dropped the seal; every record is read once, from the segments
    assert sources(root) == {"2025-12-27": "ndjson"}
    assert con.execute("SELECT count(*), max(seq) FROM events").fetchone() == (
        len(records),
        records[-1][0],
    )
