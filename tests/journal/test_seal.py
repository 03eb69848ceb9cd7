# Sealing a closed day to Parquet: only closed days, verified against the manifest, published
# atomically and owner-only, idempotent, and never over bad segment bytes.
from __future__ import annotations

import os
import random
from pathlib import Path

import duckdb
import msgspec
import pytest

from polyarb.events import Event, RawFrame, TradeUpdated
from polyarb.journal import Durability, JournalWriter, layout
from polyarb.journal.seal import SealError, file_sha256, seal_day
from polyarb.reports import journal_schema

DAY = "2025-12-27"
DAY0_NS = 1_766_793_600 * 1_000_000_000
DAY_NS = 86_400 * 1_000_000_000


def sample_events(n: int, ts0: int = DAY0_NS) -> list[Event]:
    rng = random.Random(5)
    out: list[Event] = []
    for i in range(n):
        ts = ts0 + i * 1_000
        if i % 3 == 0:
            trade = TradeUpdated(ts_recv_ns=ts, trade_id=f"t{i}", venue_order_id="o",
                                 token_id=rng.choice("ab"), side="BUY",
                                 price_micros=rng.randrange(10**6),
                                 size_micros=rng.randrange(10**12), status="MATCHED")  # fmt: skip
            out.append(trade)
        else:
            out.append(RawFrame(ts_recv_ns=ts, conn="market-0",
                                frame=msgspec.Raw(b'{"i":%d}' % i)))  # fmt: skip
    return out


def open_writer(root: Path) -> JournalWriter:
    return JournalWriter.open(
        root, durability=Durability(policy="none", batch_records=1), segment_max_bytes=600
    )


def write_day(root: Path, n: int) -> Path:
    """A closed day of n events (plus the writer's day_opened) in several segments, followed
    by one record of the next day so it is not the newest day."""
    with open_writer(root) as writer:
        for event in [*sample_events(n), *sample_events(1, DAY0_NS + DAY_NS)]:
            writer.append(event)
    return root / DAY


def ndjson_rows(day_dir: Path) -> list[tuple[object, ...]]:
    files = sorted(str(p) for p in day_dir.glob("seg-*.ndjson"))
    cols = ", ".join(f"'{n}': '{t}'" for n, t in journal_schema().columns)
    return duckdb.execute(
        f"SELECT * FROM read_json({files}, format='newline_delimited', columns={{{cols}}})"
    ).fetchall()


def test_seal_day_closed_day_writes_verified_parquet_and_records_it(tmp_path: Path) -> None:
    # Arrange
    day_dir = write_day(tmp_path, 30)
    segments = sorted(p.name for p in day_dir.glob("seg-*.ndjson"))
    # Act
    info = seal_day(day_dir)
    # Assert: 30 events and the writer's day_opened
    path = day_dir / layout.SEALED_NAME
    assert info == layout.SealInfo(file=layout.SEALED_NAME, first_seq=1, last_seq=31, records=31,
                                   sha256=file_sha256(path))  # fmt: skip
    assert layout.read_manifest(day_dir).sealed == info
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert len(segments) > 3
    assert sorted(p.name for p in day_dir.iterdir()) == sorted(
        [layout.MANIFEST_NAME, layout.SEALED_NAME, *segments]
    )  # the segments stay, no temp file is left


def test_seal_day_parquet_has_events_columns_and_the_segments_rows(tmp_path: Path) -> None:
    day_dir = write_day(tmp_path, 30)
    seal_day(day_dir)
    parquet = str(day_dir / layout.SEALED_NAME)
    described = duckdb.execute(f"DESCRIBE SELECT * FROM '{parquet}'").fetchall()
    assert [(r[0], r[1]) for r in described] == list(journal_schema().columns)
    assert duckdb.execute(f"SELECT * FROM '{parquet}'").fetchall() == ndjson_rows(day_dir)


def test_seal_day_open_day_raises(tmp_path: Path) -> None:
    # A crashed writer leaves its day open (and no lock held).
    day_dir = write_day(tmp_path, 5)
    manifest = layout.read_manifest(day_dir)
    manifest.closed = False
    layout.write_manifest(day_dir, manifest)
    with pytest.raises(SealError, match="is not closed"):
        seal_day(day_dir)
    assert not (day_dir / layout.SEALED_NAME).exists()


def test_seal_day_newest_day_while_a_writer_runs_raises(tmp_path: Path) -> None:
    with open_writer(tmp_path) as writer:
        for event in sample_events(5):
            writer.append(event)
        writer.sync()
        with pytest.raises(SealError, match=r"newest day and journal .* is locked"):
            seal_day(tmp_path / DAY)
    assert seal_day(tmp_path / DAY).records == 6  # closed by close(), no writer: sealable


def test_seal_day_older_day_while_a_writer_runs_succeeds(tmp_path: Path) -> None:
    with open_writer(tmp_path) as writer:
        for event in [*sample_events(5), *sample_events(5, DAY0_NS + DAY_NS)]:
            writer.append(event)
        writer.sync()
        info = seal_day(tmp_path / DAY)
        writer.append(sample_events(1, DAY0_NS + DAY_NS + 10**9)[0])
    assert (info.first_seq, info.last_seq) == (1, 6)


def test_seal_day_twice_returns_the_recorded_seal_untouched(tmp_path: Path) -> None:
    day_dir = write_day(tmp_path, 10)
    first = seal_day(day_dir)
    mtime = os.stat(day_dir / layout.SEALED_NAME).st_mtime_ns
    assert seal_day(day_dir) == first
    assert os.stat(day_dir / layout.SEALED_NAME).st_mtime_ns == mtime


def test_seal_day_copy_changed_after_sealing_raises(tmp_path: Path) -> None:
    day_dir = write_day(tmp_path, 10)
    seal_day(day_dir)
    with (day_dir / layout.SEALED_NAME).open("ab") as f:
        f.write(b"x")
    with pytest.raises(SealError, match="does not match the manifest's seal record"):
        seal_day(day_dir)


def test_seal_day_copy_deleted_is_rebuilt_identically(tmp_path: Path) -> None:
    day_dir = write_day(tmp_path, 10)
    first = seal_day(day_dir)
    (day_dir / layout.SEALED_NAME).unlink()
    again = seal_day(day_dir)
    assert (again.records, again.first_seq, again.last_seq) == (11, 1, 11)
    assert layout.read_manifest(day_dir).sealed == again
    assert first.file == again.file


def test_seal_day_segment_bytes_differ_from_manifest_raises(tmp_path: Path) -> None:
    # Arrange: flip one byte of a closed segment (same size: only the sha256 can tell)
    day_dir = write_day(tmp_path, 10)
    seg = sorted(day_dir.glob("seg-*.ndjson"))[1]
    data = bytearray(seg.read_bytes())
    data[20] ^= 1
    seg.write_bytes(bytes(data))
    manifest_before = (day_dir / layout.MANIFEST_NAME).read_bytes()
    # Act / Assert
    with pytest.raises(SealError, match="does not match the manifest"):
        seal_day(day_dir)
    assert not (day_dir / layout.SEALED_NAME).exists()
    assert (day_dir / layout.MANIFEST_NAME).read_bytes() == manifest_before


def test_seal_day_manifest_counts_disagree_with_lines_raises(tmp_path: Path) -> None:
    # The segments hash fine but the manifest claims a record that is not there.
    day_dir = write_day(tmp_path, 10)
    manifest = layout.read_manifest(day_dir)
    manifest.records, manifest.last_seq = 12, 12
    layout.write_manifest(day_dir, manifest)
    with pytest.raises(SealError, match="the Parquet copy has 11 rows"):
        seal_day(day_dir)
    assert sorted(p.name for p in day_dir.iterdir() if "parquet" in p.name) == []
