# The journal writer: assigns seq, buffers lines, group-commits them, rolls segments and days.
#
# Rules:
# 1. One writer per journal (writer.lock); it opens through crash recovery (recovery.py), so a
#    clean start and a restart after a crash are the same code path.
# 2. Hot path (append / append_raw_frame): encode one line, append it to an in-memory buffer, one
#    int comparison for the day roll. No syscall, hashing or time formatting per record: lines
#    are written with one write() per batch and hashed per batch. The `batch` policy reads
#    time.monotonic_ns() (this is shell code) to bound how long a record waits for its write.
# 2a. Group commit: the caller's thread writes and hashes each batch (page cache, cheap). Under
#    "batch" a time-based commit (deadline reached in append, or poll) hands only the fsync to
#    one worker thread (syncer.py) and returns: at most one fsync in flight, later batches
#    coalesce into the next; durable_seq advances when an fsync returns. Every other fsync
#    (sync/append_durable, batch_records reached, "always", segment or day roll, close) runs in
#    the caller's thread after draining the worker. (An earlier flusher thread that also wrote
#    and hashed was dropped: a GIL convoy after every write; fsync alone releases the GIL.)
# 3. Files: days.py creates and closes days and segments in a crash-safe order; this module only
#    decides when (a record's day, a segment's size) and fsyncs a segment before it is closed.
# 4. Crash-only: when a write, fsync or file operation fails the writer refuses every further
#    call (halt rather than drop); the next open recovers from whatever reached the disk.
# 5. Cold parts live in writer_setup.py: Durability and CheckpointHook (re-exported here), root
#    creation, lock plus recovery on open, and the day_opened / journal_recovered builders.
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from polyarb.events import Event, RunStarted
from polyarb.events.codec import EmbeddedFrame, encode_raw_frame, encode_record
from polyarb.journal import layout
from polyarb.journal.days import DayFiles
from polyarb.journal.errors import JournalClosed
from polyarb.journal.lock import WriterLock
from polyarb.journal.recovery import RecoveryReport, Resume
from polyarb.journal.segment import SegmentFile
from polyarb.journal.syncer import Syncer
from polyarb.journal.writer_setup import (
    DEFAULT_DURABILITY,
    CheckpointHook,
    Durability,
    day_opened,
    locked_recovery,
    recovery_note,
)

_PREPARE = -(1 << 127)  # as `_day_end`: every ts is >= it, so the next append takes the slow path
_mono = time.monotonic_ns


class JournalWriter:
    """The single writer of a journal root. Create it with `JournalWriter.open(root)`.

    Attributes:
        recovered: what crash recovery repaired on open (None when there was nothing to repair).
        durable_seq: the highest seq known to be fsynced (0 when none).
    """

    def __init__(
        self,
        root: Path,
        lock: WriterLock,
        resume: Resume,
        durability: Durability,
        segment_max_bytes: int,
        checkpoint_hook: CheckpointHook | None,
    ) -> None:
        self.root = root
        self._lock: WriterLock | None = lock
        self._hook = checkpoint_hook
        self._seg_max = segment_max_bytes
        self._batch_ns = durability.batch_ms * 1_000_000
        self._timed = durability.policy == "batch"
        self._fsync_batches = durability.policy != "none"
        self._flush_at = 1 if durability.policy == "always" else max(1, durability.batch_records)
        self._buf: list[bytes] = []
        self._deadline = 0
        self._failed: BaseException | None = None
        self._next_seq = resume.next_seq
        self._written_seq = resume.next_seq - 1
        self._requested_seq = resume.next_seq - 1  # highest seq handed to the syncer
        self._syncer = Syncer(resume.next_seq - 1)
        self.recovered: RecoveryReport | None = resume.report
        segment = None if resume.segment is None else SegmentFile.resume(resume.segment)
        self._files = DayFiles(root, resume.manifest, segment)
        self._day_end = _PREPARE if segment is None else self._files.day_end

    # ----------------------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        root: Path | str,
        *,
        durability: Durability = DEFAULT_DURABILITY,
        segment_max_bytes: int = 64 * 2**20,
        checkpoint_hook: CheckpointHook | None = None,
        full_check: bool = False,
    ) -> JournalWriter:
        """Open (or create) the journal at `root` for writing.

        Takes the writer lock, runs crash recovery and resumes seq after the last record. When
        recovery truncated a torn tail, a `journal_recovered` record is appended (and fsynced).

        Args:
            root: the journal root directory (created 0700 if missing).
            durability: the fsync policy (see Durability).
            segment_max_bytes: roll to a new segment once a segment reaches this size (checked
                after each batch write, so a segment may exceed it by at most one batch).
            checkpoint_hook: called at each day open with the seq of the last record written
                before it (0 for none); a StateCheckpoint it returns is written right after the
                day's `day_opened`, which names its seq. It must not call the writer.
            full_check: also rehash every older day's segments (slow on big journals).

        Raises:
            JournalLocked: another writer holds the journal.
            JournalCorrupt: corruption that is not a crash leftover (nothing is modified).
            JournalUnreadable: the root cannot be created or opened.
        """
        path, lock, resume = locked_recovery(root, full_check=full_check)
        try:
            writer = cls(path, lock, resume, durability, segment_max_bytes, checkpoint_hook)
        except BaseException:
            lock.release()
            raise
        try:
            writer._finish_recovery(resume)
        except BaseException as exc:
            writer._failed = exc
            writer.close()  # after a failure: closes files, releases the lock, touches nothing
            raise
        return writer

    def _finish_recovery(self, resume: Resume) -> None:
        m = self._files.manifest
        if m is None or self._files.segment is None:
            return
        ts = resume.last_ts_ns if resume.last_ts_ns is not None else layout.day_start_ns(m.day)
        if resume.day_records == 0:  # the crash came before the day's first record
            self._write_day_opened(resume.prev, ts)
        note = recovery_note(resume, ts)
        if note is not None:
            self._push(encode_record(self._take_seq(), note))
        self.sync()

    # ----------------------------------------------------------------------------- hot path

    @property
    def durable_seq(self) -> int:
        """The highest seq known to be fsynced (0 when none)."""
        return self._syncer.durable_seq

    @property
    def next_seq(self) -> int:
        """The seq the next appended record gets."""
        return self._next_seq

    def append(self, event: Event) -> int:
        """Journal one event under the durability policy. Returns its seq."""
        ts = event.ts_recv_ns
        if ts >= self._day_end:
            self._prepare(ts)
        seq = self._next_seq
        line = encode_record(seq, event)
        self._next_seq = seq + 1
        if event.__class__ is RunStarted:
            self._files.note_run(event.run_id)
        self._push(line)
        return seq

    def append_raw_frame(
        self,
        ts_recv_ns: int,
        conn: str,
        data: str | bytes | EmbeddedFrame,
        *,
        channel: str = "market",
        embeddable: bool | None = None,
    ) -> int:
        """Journal one websocket frame verbatim (see codec.encode_raw_frame). Returns its seq.

        An EmbeddedFrame (codec.embed_text_frame) is spliced as classified, without a re-check.

        Raises:
            ValueError: `channel` is not "market" or "user" (the record would not read back).
        """
        if channel != "market" and channel != "user":
            raise ValueError(f"channel must be 'market' or 'user', not {channel!r}")
        if ts_recv_ns >= self._day_end:
            self._prepare(ts_recv_ns)
        seq = self._next_seq
        line = encode_raw_frame(seq, ts_recv_ns, conn, data, channel=channel, embeddable=embeddable)
        self._next_seq = seq + 1
        self._push(line)
        return seq

    def _push(self, line: bytes) -> None:
        buf = self._buf
        buf.append(line)
        n = len(buf)
        if n >= self._flush_at:
            self._commit() if self._fsync_batches else self._flush()
        elif self._timed:
            now = _mono()
            if n == 1:
                self._deadline = now + self._batch_ns
            if now >= self._deadline:
                self._commit_async()

    def append_durable(self, event: Event) -> int:
        """Journal one event and return its seq only once it (and all before it) is fsynced."""
        seq = self.append(event)
        if self.durable_seq < seq:
            self.sync()
        return seq

    def sync(self) -> int:
        """Write and fsync every buffered record. Returns `durable_seq`."""
        self._check_usable()
        self._commit()
        return self.durable_seq

    def poll(self) -> None:
        """Time-based group commit: call on a timer (every `batch_ms`) from the runtime.

        Under "batch" it writes the due batch and starts its fsync in the background
        (durable_seq advances when that returns); it never waits for an fsync.
        """
        if not self._buf or self._failed is not None:
            return
        if not self._fsync_batches:
            self._flush()
        elif not self._timed:
            self._commit()
        elif _mono() >= self._deadline:
            self._commit_async()

    def settle(self) -> int:
        """Wait for the background fsync in flight or queued (starts none). Returns durable_seq."""
        self._check_usable()
        self._guard(self._syncer.drain)
        return self.durable_seq

    # ----------------------------------------------------------------------------- batches

    def _take_seq(self) -> int:
        seq = self._next_seq
        self._next_seq = seq + 1
        return seq

    def _flush(self) -> None:
        """Write the buffer without fsync (policy "none"); roll the segment when it is full."""
        self._write_buffer()
        self._maybe_roll()

    def _commit(self) -> None:
        """Write the buffer and fsync (durable_seq advances); roll the segment when it is full."""
        self._sync_segment()
        self._maybe_roll()

    def _commit_async(self) -> None:
        """Write the buffer and hand its fsync to the syncer (rule 2a); roll when full."""
        self._write_buffer()
        seq = self._written_seq
        if seq > self._requested_seq:
            self._guard(self._syncer.request, self._files.segment, seq)
            self._requested_seq = seq
        self._maybe_roll()

    def _write_buffer(self) -> None:
        buf = self._buf
        if not buf:
            return
        seg = self._files.segment
        assert seg is not None
        data = b"".join(buf)
        count = len(buf)
        buf.clear()
        self._guard(seg.write, data, count)
        self._written_seq = self._next_seq - 1

    def _sync_segment(self) -> None:
        """Write the buffer, wait for the background fsync, fsync here what it did not cover."""
        self._write_buffer()
        syncer = self._syncer
        self._guard(syncer.drain)
        seg = self._files.segment
        if syncer.durable_seq < self._written_seq and seg is not None:
            self._guard(seg.sync)
            syncer.publish(self._written_seq)
        self._requested_seq = max(self._requested_seq, self._written_seq)

    def _maybe_roll(self) -> None:
        seg = self._files.segment
        if seg is not None and seg.size >= self._seg_max:
            self._sync_segment()  # under "none" too: a closed segment's sha256 is of disk bytes
            self._guard(self._files.roll_segment, self._next_seq)

    def _guard(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except BaseException as exc:
            self._failed = exc
            self._day_end = _PREPARE
            raise

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise JournalClosed(f"journal writer failed earlier: {self._failed!r}")
        if self._lock is None:
            raise JournalClosed("journal writer is closed")

    # ----------------------------------------------------------------------------- days

    def _prepare(self, ts: int) -> None:
        """Slow path before a record: start, roll or reopen the day so a segment is open."""
        self._check_usable()
        self._guard(self._prepare_files, ts)
        self._day_end = self._files.day_end

    def _prepare_files(self, ts: int) -> None:
        files = self._files
        if files.manifest is None:
            self._begin_day(layout.day_of_ns(ts), ts)
        elif ts >= files.day_end:
            self._sync_segment()  # a closed segment's sha256 must describe bytes on disk
            files.close_day()
            self._begin_day(layout.day_of_ns(ts), ts)
        elif files.segment is None:
            files.reopen_day(self._next_seq)

    def _begin_day(self, day: str, ts: int) -> None:
        prev = self._files.begin_day(day, self._next_seq)
        self._day_end = self._files.day_end
        self._write_day_opened(prev, ts)

    def _write_day_opened(self, prev: layout.Manifest | None, ts: int) -> None:
        m = self._files.manifest
        assert m is not None
        checkpoint = None if self._hook is None else self._hook(self._next_seq - 1)
        seq = self._take_seq()
        opened = day_opened(m.day, prev, ts, None if checkpoint is None else seq + 1)
        lines = [encode_record(seq, opened)]
        if checkpoint is not None:
            lines.append(encode_record(self._take_seq(), checkpoint))
        self._push_lines(lines)

    def _push_lines(self, lines: list[bytes]) -> None:
        """Buffer lines that go to disk in the same write (day_opened and its checkpoint)."""
        if not self._buf:
            self._deadline = _mono() + self._batch_ns
        self._buf.extend(lines[:-1])
        self._push(lines[-1])

    # ----------------------------------------------------------------------------- closing

    def close(self) -> None:
        """Fsync everything, close the segment and the day (digest), release the lock.

        After a failure it only releases the lock: the next open recovers from the disk.
        """
        lock = self._lock
        if lock is None:
            return
        try:
            if self._failed is None:
                self._sync_segment()
                self._guard(self._files.close_day)
        finally:
            self._syncer.stop()  # after a failure: lets an fsync in flight end before its fd closes
            self._files.abandon()
            self._lock = None
            self._day_end = _PREPARE
            lock.release()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()



__all__ = ["DEFAULT_DURABILITY", "CheckpointHook", "Durability", "JournalWriter"]
