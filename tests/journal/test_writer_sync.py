# The writer's background fsync (journal/syncer.py and the "batch" policy of writer.py).
#
# Rules: fsyncs are made observable by wrapping SegmentFile.sync (monkeypatch) with a gate the
# test opens, so what runs while an fsync is in flight is checked without timing assertions.
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from polyarb.journal import Durability, JournalWriter, iter_records
from polyarb.journal.errors import JournalClosed
from polyarb.journal.segment import SegmentFile
from polyarb.journal.syncer import Syncer

BATCH_NOW = Durability(policy="batch", batch_ms=0, batch_records=1000)  # every poll commits


class GatedFile:
    """A Syncable whose fsync waits for `gate`; records the calls."""

    def __init__(self, fail: bool = False) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.calls = 0
        self.fail = fail

    def sync(self) -> None:
        self.calls += 1
        self.started.set()
        self.gate.wait()
        if self.fail:
            raise OSError(5, "simulated EIO")


class FsyncLog:
    """Wraps SegmentFile.sync and .close: logs ("sync", name, size) and ("close", name)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.gate.set()
        self.in_flight = threading.Event()
        self.fail = False

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        sync, close = SegmentFile.sync, SegmentFile.close

        def logged_sync(seg: SegmentFile) -> None:
            size = seg.size
            self.in_flight.set()
            self.gate.wait()
            if self.fail:
                raise OSError(5, "simulated EIO")
            sync(seg)
            with self.lock:
                self.events.append(("sync", seg.path.name, size))
            self.in_flight.clear()

        def logged_close(seg: SegmentFile) -> None:
            with self.lock:
                self.events.append(("close", seg.path.name, seg.size))
            close(seg)

        monkeypatch.setattr(SegmentFile, "sync", logged_sync)
        monkeypatch.setattr(SegmentFile, "close", logged_close)


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> Iterator[FsyncLog]:
    fsyncs = FsyncLog()
    fsyncs.install(monkeypatch)
    yield fsyncs
    fsyncs.gate.set()


# --------------------------------------------------------------------------------- Syncer


def test_syncer_durable_seq_advances_only_after_the_fsync_returns() -> None:
    syncer, seg = Syncer(3), GatedFile()
    syncer.request(seg, 9)
    seg.started.wait()
    assert syncer.durable_seq == 3
    seg.gate.set()
    syncer.drain()
    assert syncer.durable_seq == 9
    syncer.stop()


def test_syncer_requests_during_an_fsync_coalesce_into_one_more() -> None:
    syncer, seg = Syncer(0), GatedFile()
    syncer.request(seg, 1)
    seg.started.wait()
    for seq in (2, 3, 4):
        syncer.request(seg, seq)
    seg.gate.set()
    syncer.drain()
    assert seg.calls == 2 and syncer.durable_seq == 4
    syncer.stop()


def test_syncer_failed_fsync_is_raised_and_publishes_nothing() -> None:
    syncer, seg = Syncer(5), GatedFile(fail=True)
    syncer.request(seg, 6)
    seg.gate.set()
    with pytest.raises(OSError, match="simulated"):
        syncer.drain()
    with pytest.raises(OSError, match="simulated"):
        syncer.request(seg, 7)
    assert syncer.durable_seq == 5
    syncer.stop()


def test_syncer_stop_waits_for_the_fsync_in_flight() -> None:
    syncer, seg = Syncer(0), GatedFile()
    syncer.request(seg, 1)
    seg.started.wait()
    threading.Timer(0.01, seg.gate.set).start()
    syncer.stop()
    assert seg.gate.is_set() and seg.calls == 1


# --------------------------------------------------------------------------------- writer


def test_writer_sync_batch_commit_returns_before_its_fsync(
    journal_root: Path, kit: ModuleType, log: FsyncLog
) -> None:
    with JournalWriter.open(journal_root, durability=BATCH_NOW) as w:
        log.gate.clear()
        seq = w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + 1))
        w.poll()
        log.in_flight.wait()
        assert w.durable_seq < seq  # written, fsync in flight: not reported durable
        log.gate.set()
        assert w.settle() == seq == w.durable_seq


def test_writer_sync_waits_for_the_background_fsync_then_covers_the_rest(
    journal_root: Path, kit: ModuleType, log: FsyncLog
) -> None:
    with JournalWriter.open(journal_root, durability=BATCH_NOW) as w:
        log.gate.clear()
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + 1))
        w.poll()
        log.in_flight.wait()
        seq = w.append(kit.sample_event("place_orders", kit.MIDNIGHT_NS + 2))
        threading.Timer(0.01, log.gate.set).start()
        assert w.sync() == seq == w.durable_seq
        sizes = [size for kind, _name, size in log.events if kind == "sync"]
        assert sizes[-2] < sizes[-1]  # the background fsync, then one for the later record


def test_writer_sync_failed_background_fsync_halts_the_writer(
    journal_root: Path, kit: ModuleType, log: FsyncLog
) -> None:
    w = JournalWriter.open(journal_root, durability=BATCH_NOW)
    durable = w.durable_seq
    log.fail = True
    with pytest.raises(OSError, match="simulated"):  # raised by the first call after it
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + 1))  # starts the day: fsync
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + 2))
        w.settle()
    with pytest.raises(JournalClosed):
        w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + 3))
    assert w.durable_seq == durable
    w.close()


def test_writer_sync_segment_roll_and_close_wait_for_every_fsync(
    journal_root: Path, kit: ModuleType, log: FsyncLog
) -> None:
    with JournalWriter.open(journal_root, durability=BATCH_NOW, segment_max_bytes=2000) as w:
        for i in range(200):
            w.append(kit.sample_event("clock_tick", kit.MIDNIGHT_NS + i))
            if i % 3 == 0:
                w.poll()
        last = w.next_seq - 1
    closed: dict[str, int] = {}
    for kind, name, size in log.events:
        assert name not in closed  # no fsync of a segment after its close
        if kind == "close":
            closed[name] = size
    synced = {name: size for kind, name, size in log.events if kind == "sync"}
    assert len(closed) > 3 and synced == closed  # each closed only once fsynced to its end
    assert [r.seq for r in iter_records(journal_root)] == list(range(1, last + 1))
