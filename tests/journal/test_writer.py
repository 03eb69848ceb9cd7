# JournalWriter: seq, segments, days, manifests, hash chains, durability policies, permissions.
#
# Rules: every test reads the journal back through the public reader/verify, never by trusting
# the writer's own counters; no timing assertions (durability tests use batch_ms 0 or huge).
from __future__ import annotations

import errno
import hashlib
import stat
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest

from polyarb.events import (
    ALL_KINDS,
    DayOpened,
    Event,
    MalformedRecord,
    OrderRejected,
    RawFrame,
    RunStarted,
    StateCheckpoint,
)
from polyarb.journal import (
    Durability,
    JournalClosed,
    JournalWriter,
    iter_records,
    layout,
    verify_journal,
)
from polyarb.journal.segment import SegmentFile

USER_KINDS = sorted(k for k in ALL_KINDS if k != "day_opened")
PLAIN_KINDS = [k for k in USER_KINDS if ALL_KINDS[k].ROLE != "journal"]
FRAME = '[{"event_type":"price_change","asset_id":"1234","price":"0.55","size":"10"}]'


def _write_mixed(
    root: Path, kit: ModuleType, count: int, kinds: list[str] = USER_KINDS, **open_kw: Any
) -> list[tuple[int, Any]]:
    """Append `count` records (`kinds` in turn, and raw frames) across two midnights."""
    start = kit.MIDNIGHT_NS - 2 * kit.SECOND_NS
    step = (2 * 86_400 - 3600) * kit.SECOND_NS // count  # crosses two UTC midnights
    written: list[tuple[int, Any]] = []
    with JournalWriter.open(root, **open_kw) as w:
        for i in range(count):
            ts = start + i * step
            if i % 3 == 0:
                seq = w.append_raw_frame(ts, "market-0", FRAME)
                written.append((seq, ("frame", ts, FRAME)))
            else:
                event = kit.sample_event(kinds[i % len(kinds)], ts, i)
                written.append((w.append(event), event))
    return written


def _same(expected: Any, event: Event) -> bool:
    if isinstance(expected, tuple):
        _tag, ts, frame = expected
        return (
            isinstance(event, RawFrame)
            and event.ts_recv_ns == ts
            and bytes(event.frame) == frame.encode()
            and event.conn == "market-0"
        )
    return bool(msgspec.json.encode(expected) == msgspec.json.encode(event))


def test_writer_every_kind_across_segment_and_day_rolls_round_trips(
    journal_root: Path, kit: ModuleType
) -> None:
    # Arrange / Act
    small = Durability(batch_records=7)
    written = _write_mixed(journal_root, kit, 400, durability=small, segment_max_bytes=4096)
    # Assert
    records = list(iter_records(journal_root))
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    by_seq = {r.seq: r.event for r in records}
    assert all(_same(expected, by_seq[seq]) for seq, expected in written)
    notes = [r for r in records if r.seq not in dict(written)]
    assert all(isinstance(r.event, DayOpened) for r in notes)
    days = layout.list_days(journal_root)
    assert len(days) == 3 and len(notes) == 3
    assert len(layout.read_manifest(journal_root / days[1]).segments) > 3  # a full day rolls
    assert verify_journal(journal_root).ok


def test_writer_each_day_starts_with_day_opened_linking_the_previous_day(
    journal_root: Path, kit: ModuleType
) -> None:
    _write_mixed(journal_root, kit, 90, segment_max_bytes=2048)
    prev: layout.Manifest | None = None
    for day in layout.list_days(journal_root):
        m = layout.read_manifest(journal_root / day)
        first = next(iter_records(journal_root, day=day))
        assert isinstance(first.event, DayOpened)
        assert first.seq == m.first_seq
        assert first.event.day == day
        assert first.event.prev_day == (prev.day if prev else None)
        assert first.event.prev_digest == (prev.digest if prev else None) == m.prev_digest
        assert first.event.prev_last_seq == (prev.last_seq if prev else None)
        prev = m


def test_writer_manifest_digest_is_the_hash_chain_of_the_segment_files(
    journal_root: Path, kit: ModuleType
) -> None:
    _write_mixed(journal_root, kit, 120, segment_max_bytes=2048)
    for day in layout.list_days(journal_root):
        m = layout.read_manifest(journal_root / day)
        chain = layout.chain_start(day, m.prev_digest)
        for seg in m.segments:
            data = (journal_root / day / seg.name).read_bytes()
            assert seg.closed and seg.bytes == len(data)
            assert seg.records == data.count(b"\n") == seg.last_seq - seg.first_seq + 1  # type: ignore[operator]
            assert seg.sha256 == hashlib.sha256(data).hexdigest()
            chain = layout.chain_step(chain, seg.sha256)
        assert m.closed and m.digest == chain
        assert m.records == sum(s.records for s in m.segments)


def test_writer_checkpoint_hook_record_follows_day_opened(
    journal_root: Path, kit: ModuleType
) -> None:
    calls: list[int] = []

    def hook(at_seq: int) -> StateCheckpoint:
        calls.append(at_seq)
        return StateCheckpoint(ts_recv_ns=kit.MIDNIGHT_NS, at_seq=at_seq, state_hash=f"h{at_seq}")

    _write_mixed(journal_root, kit, 60, PLAIN_KINDS, checkpoint_hook=hook)
    records = list(iter_records(journal_root))
    opened = [i for i, r in enumerate(records) if isinstance(r.event, DayOpened)]
    assert len(opened) == len(calls) == 3
    for i, at_seq in zip(opened, calls, strict=True):
        day_opened, checkpoint = records[i], records[i + 1]
        assert isinstance(day_opened.event, DayOpened)
        assert day_opened.event.checkpoint_seq == checkpoint.seq == day_opened.seq + 1
        assert isinstance(checkpoint.event, StateCheckpoint)
        assert checkpoint.event.at_seq == at_seq == day_opened.seq - 1
    assert verify_journal(journal_root).ok


def test_writer_checkpoint_hook_returning_none_writes_no_checkpoint(
    journal_root: Path, kit: ModuleType
) -> None:
    _write_mixed(journal_root, kit, 30, PLAIN_KINDS, checkpoint_hook=lambda _seq: None)
    records = list(iter_records(journal_root))
    assert not any(isinstance(r.event, StateCheckpoint) for r in records)
    assert all(r.event.checkpoint_seq is None for r in records if isinstance(r.event, DayOpened))


def test_writer_files_are_0600_and_directories_0700(journal_root: Path, kit: ModuleType) -> None:
    _write_mixed(journal_root, kit, 40, segment_max_bytes=2048)
    paths = [journal_root, *journal_root.rglob("*")]
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_writer_record_older_than_the_current_day_stays_in_it(
    journal_root: Path, kit: ModuleType
) -> None:
    with JournalWriter.open(journal_root) as w:
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + kit.SECOND_NS))
        seq = w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS - 3600 * kit.SECOND_NS))
    assert layout.list_days(journal_root) == ["2025-12-27"]
    assert [r.seq for r in iter_records(journal_root, day="2025-12-27")][-1] == seq


def test_writer_durability_none_is_durable_only_after_sync(
    journal_root: Path, kit: ModuleType
) -> None:
    with JournalWriter.open(journal_root, durability=Durability(policy="none")) as w:
        seq = w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
        assert w.durable_seq == 0
        assert w.sync() == seq == w.durable_seq


def test_writer_durability_always_is_durable_on_return(journal_root: Path, kit: ModuleType) -> None:
    with JournalWriter.open(journal_root, durability=Durability(policy="always")) as w:
        for i in range(5):
            seq = w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + i))
            assert w.durable_seq == seq


def test_writer_durability_batch_commits_at_batch_records(
    journal_root: Path, kit: ModuleType
) -> None:
    policy = Durability(policy="batch", batch_ms=3_600_000, batch_records=4)
    with JournalWriter.open(journal_root, durability=policy) as w:
        for i in range(2):  # day_opened + 2 ticks: 3 pending records
            w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + i))
        w.poll()  # the deadline is an hour away: nothing to do yet
        assert w.durable_seq == 0
        fourth = w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + 4))
        assert fourth == 4 and w.durable_seq == fourth


def test_writer_durability_batch_poll_commits_after_batch_ms(
    journal_root: Path, kit: ModuleType
) -> None:
    policy = Durability(policy="batch", batch_ms=0, batch_records=1000)
    with JournalWriter.open(journal_root, durability=policy) as w:
        # batch_ms=0: the deadline has passed by the time the next record or poll comes.
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
        w.poll()  # writes and starts the fsync in the background
        assert w.settle() == w.durable_seq == w.next_seq - 1


def test_writer_append_durable_returns_after_fsync_under_any_policy(
    journal_root: Path, kit: ModuleType
) -> None:
    with JournalWriter.open(journal_root, durability=Durability(policy="none")) as w:
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
        seq = w.append_durable(kit.sample_event("place_orders", kit.MIDNIGHT_NS + 1))
        assert w.durable_seq == seq


def test_writer_reopen_on_same_day_adds_a_segment_and_continues_seq(
    journal_root: Path, kit: ModuleType
) -> None:
    with JournalWriter.open(journal_root) as w:
        first = w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
    digest_before = layout.read_manifest(journal_root / "2025-12-27").digest
    with JournalWriter.open(journal_root) as w:
        assert w.recovered is None
        assert w.next_seq == first + 1
        second = w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + 5))
    m = layout.read_manifest(journal_root / "2025-12-27")
    assert [s.first_seq for s in m.segments] == [1, second]
    assert m.closed and m.digest not in (None, digest_before)
    assert verify_journal(journal_root).ok


def test_writer_reopen_on_a_later_day_rolls_from_the_closed_day(
    journal_root: Path, kit: ModuleType
) -> None:
    with JournalWriter.open(journal_root) as w:
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
    day1 = layout.read_manifest(journal_root / "2025-12-27")
    with JournalWriter.open(journal_root) as w:
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + 86_400 * kit.SECOND_NS))
    assert layout.read_manifest(journal_root / "2025-12-27") == day1
    opened = next(iter_records(journal_root, day="2025-12-28")).event
    assert isinstance(opened, DayOpened) and opened.prev_digest == day1.digest
    assert verify_journal(journal_root).ok


def test_writer_reopening_a_sealed_day_discards_the_stale_seal(
    journal_root: Path, kit: ModuleType
) -> None:
    with JournalWriter.open(journal_root) as w:
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
    day_dir = journal_root / "2025-12-27"
    m = layout.read_manifest(day_dir)
    m.sealed = layout.SealInfo(
        file=layout.SEALED_NAME, first_seq=1, last_seq=2, records=2, sha256="0" * 64
    )
    layout.write_manifest(day_dir, m)
    (day_dir / layout.SEALED_NAME).write_bytes(b"PAR1")
    with JournalWriter.open(journal_root) as w:
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + 1))
    assert layout.read_manifest(day_dir).sealed is None
    assert not (day_dir / layout.SEALED_NAME).exists()


def test_writer_run_ids_come_from_run_started_records(journal_root: Path, kit: ModuleType) -> None:
    with JournalWriter.open(journal_root) as w:
        for run_id in ["r-1", "r-2", "r-1"]:
            event = kit.build_struct(RunStarted, 0, ts_recv_ns=kit.MIDNIGHT_NS, run_id=run_id)
            w.append(event)
    assert layout.read_manifest(journal_root / "2025-12-27").run_ids == ["r-1", "r-2"]


def test_writer_event_that_cannot_be_encoded_consumes_no_seq(
    journal_root: Path, kit: ModuleType
) -> None:
    bad = RawFrame(ts_recv_ns=kit.MIDNIGHT_NS, conn="c", frame=msgspec.Raw(b"not json"))
    with JournalWriter.open(journal_root) as w:
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
        before = w.next_seq
        with pytest.raises(MalformedRecord):
            w.append(bad)
        assert w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS)) == before
    assert verify_journal(journal_root).ok


def test_writer_raw_frames_are_kept_verbatim(journal_root: Path, kit: ModuleType) -> None:
    frames: list[str | bytes] = [FRAME, "PONG", "", '{"a":\n1}', b"\x00\xffbinary"]
    with JournalWriter.open(journal_root) as w:
        seqs = [w.append_raw_frame(kit.MIDNIGHT_NS, "user-0", f, channel="user") for f in frames]
    got = {r.seq: r.event for r in iter_records(journal_root)}
    for seq, frame in zip(seqs, frames, strict=True):
        event = got[seq]
        assert isinstance(event, RawFrame) and event.channel == "user"
        if frame == FRAME:
            assert bytes(event.frame) == FRAME.encode()
        elif isinstance(frame, bytes):
            assert event.binary and event.text is not None
        else:
            assert event.text == frame


def test_writer_raw_frame_with_unknown_channel_is_refused(
    journal_root: Path, kit: ModuleType
) -> None:
    with JournalWriter.open(journal_root) as w:
        with pytest.raises(ValueError, match="channel"):
            w.append_raw_frame(kit.MIDNIGHT_NS, "x-0", "{}", channel="sports")
        assert w.next_seq == 1
    assert verify_journal(journal_root).ok


def test_writer_close_is_idempotent_and_later_appends_raise(
    journal_root: Path, kit: ModuleType
) -> None:
    w = JournalWriter.open(journal_root)
    w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
    w.close()
    w.close()
    with pytest.raises(JournalClosed):
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
    with pytest.raises(JournalClosed):
        w.sync()


def test_writer_open_and_close_without_records_creates_no_day(journal_root: Path) -> None:
    JournalWriter.open(journal_root).close()
    assert layout.list_days(journal_root) == []
    report = verify_journal(journal_root)
    assert report.ok and report.records == 0


def test_writer_failed_write_refuses_further_appends(
    journal_root: Path, kit: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = JournalWriter.open(journal_root, durability=Durability(policy="none"))
    w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
    w.sync()

    def disk_full(self: SegmentFile, data: bytes, records: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SegmentFile, "write", disk_full)
    w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
    with pytest.raises(OSError, match="No space"):
        w.sync()
    with pytest.raises(JournalClosed, match="failed earlier"):
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
    with pytest.raises(JournalClosed):
        w.sync()
    w.close()  # releases the lock without touching the manifest: the journal looks crashed
    monkeypatch.undo()
    with JournalWriter.open(journal_root) as again:
        assert again.next_seq == 3  # the record that never reached the disk was not durable


def test_writer_failed_day_roll_refuses_further_appends(
    journal_root: Path, kit: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = JournalWriter.open(journal_root)
    w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))

    def read_only_fs(day_dir: Path, manifest: layout.Manifest) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(layout, "write_manifest", read_only_fs)
    tomorrow = kit.MIDNIGHT_NS + 86_400 * kit.SECOND_NS
    with pytest.raises(OSError, match="Read-only"):
        w.append(kit.sample_event("clock_tick", tomorrow))
    with pytest.raises(JournalClosed):
        w.append(kit.sample_event("clock_tick", tomorrow))
    w.close()
    monkeypatch.undo()
    with JournalWriter.open(journal_root) as again:  # the first day was fsynced before the roll
        assert again.next_seq == 3
        again.append(kit.sample_event("clock_tick", tomorrow))
    assert verify_journal(journal_root).ok


def test_writer_orders_rejected_example_matches_the_documented_line(journal_root: Path) -> None:
    event = OrderRejected(
        ts_recv_ns=1766793600123456789, client_order_id="r1-7", reason="not enough balance"
    )
    with JournalWriter.open(journal_root) as w:
        seq = w.append(event)
    data = (journal_root / "2025-12-27" / layout.segment_name(1)).read_bytes()
    line = data.splitlines()[seq - 1]
    assert line.startswith(
        b'{"seq":2,"v":2,"kind":"order_rejected","ts_recv_ns":1766793600123456789'
    )
